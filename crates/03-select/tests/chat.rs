//! The select chat server, run as a real binary against real TCP clients.

use fixtures::chat_clients::checks;
use fixtures::demo::{run_json, strace};

const BIN: &str = env!("CARGO_BIN_EXE_select");
const CALL: &str = "select";

#[test]
fn scripted_chat_delivers_exactly_the_script() {
    checks::scripted_chat(BIN, CALL);
}

#[test]
fn abrupt_disconnects_half_line_and_reset() {
    checks::abrupt_disconnects(BIN).unwrap();
}

#[test]
fn a_client_that_never_reads_is_dropped_and_others_keep_receiving() {
    checks::slow_reader_dropped(BIN).unwrap();
}

#[test]
fn garbage_invalid_utf8_and_overlong_lines_are_cleaned() {
    checks::garbage_is_cleaned(BIN).unwrap();
}

#[test]
fn open_fds_return_to_baseline_after_everyone_leaves() {
    checks::fds_return_to_baseline(BIN).unwrap();
}

#[test]
fn listen_on_a_port_in_use_is_one_error_line_and_exit_1() {
    checks::port_in_use(BIN).unwrap();
}

/// An fd of 1024 or more cannot go in an fd_set. The demo raises its own fd limit for
/// `--clients`, runs as a child process, and must refuse those clients, not panic.
#[test]
fn fds_past_fd_setsize_are_refused_not_a_panic() {
    let out = run_json(BIN, &["--clients", "1100"]);
    let stderr = &out.stderr;
    assert_eq!(out.code, 0, "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let events = &out.events;
    let done = events.iter().find(|e| e["event"] == "crowd_done").unwrap();
    let (served, refused) = (done["served"].as_u64().unwrap(), done["refused"].as_u64().unwrap());
    assert_eq!(served + refused, 1100, "{done}");
    assert!(refused > 0, "{done}");
    assert!(done["highest_fd"].as_i64().unwrap() < 1024, "{done}");
    assert_eq!(done["got_message"].as_u64().unwrap(), served - 1, "{done}");
    // Every wait call's sets stayed below FD_SETSIZE.
    assert!(events.iter().filter(|e| e["event"] == "wait").all(|e| e["nfds"].as_i64().unwrap() <= 1024));
}

/// glibc's select() is the pselect6 system call with a NULL sixth argument (no
/// signal mask): the same kernel entry point as pselect, without the mask.
#[test]
fn strace_shows_pselect6_with_a_null_sigmask() {
    let Some(trace) = strace(BIN, &[], "pselect6,select") else { return };
    let calls: Vec<&str> = trace.lines().filter(|l| l.contains("pselect6(")).collect();
    assert!(!calls.is_empty(), "{trace}");
    // pselect6(5, [3 4], [], NULL, {tv_sec=0, tv_nsec=400000000}, NULL) = 1 (...)
    for call in &calls {
        // (A call strace shows as "<unfinished ...>" has its arguments, not its result.)
        let args = call.split(") = ").next().unwrap().split(" <unfinished").next().unwrap();
        assert!(args.ends_with(", NULL"), "sigmask not NULL: {call}");
    }
}
