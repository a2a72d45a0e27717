//! The select chat server, run as a real binary against real TCP clients.

use test_harness::chat_checks as checks;
use test_harness::demo::run_json;

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

#[test]
fn telnet_negotiation_never_reaches_another_client() {
    checks::telnet_negotiation_is_removed(BIN).unwrap();
}

#[test]
fn the_sender_of_an_overlong_line_is_told_it_was_cut() {
    checks::overlong_line_sender_is_told(BIN).unwrap();
}
