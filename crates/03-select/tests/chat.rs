//! The select chat server, run as a real binary against real TCP clients.

use fixtures::chat_clients::{checks, expected_transcripts, CLIENTS};
use serde_json::Value;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_select");
const CALL: &str = "select";

fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

#[test]
fn scripted_chat_delivers_exactly_the_script() {
    let out = Command::new(BIN).arg("--json").output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let events = events(&out.stdout);
    for e in &events {
        assert!(e["t_ms"].is_f64() && e["event"].is_string(), "{e}");
    }
    let expected = expected_transcripts();
    for (name, want) in CLIENTS.iter().zip(&expected) {
        let got = events
            .iter()
            .find(|e| e["event"] == "client_received" && e["client"] == *name)
            .unwrap_or_else(|| panic!("no client_received for {name}"));
        let lines: Vec<String> = serde_json::from_value(got["lines"].clone()).unwrap();
        assert_eq!(&lines, want, "{name}");
    }
    // The wait call is the one this demo is about, and its timeout branch ran.
    assert!(events.iter().filter(|e| e["event"] == "wait").all(|e| e["call"] == CALL));
    assert!(events.iter().any(|e| e["event"] == "still_waiting"));
    let fds = events.iter().find(|e| e["event"] == "fds").unwrap();
    assert_eq!(fds["before"], fds["after"], "fd leak: {fds}");
    let check = events.iter().find(|e| e["event"] == "scenario_check").unwrap();
    assert_eq!(check["ok"], true);
    // The escape sequence was stripped, and the half line was dropped, both narrated.
    assert!(events.iter().any(|e| e["event"] == "sanitized" && e["stripped"] == 14));
    assert!(events.iter().any(|e| e["event"] == "partial_dropped" && e["bytes"] == 9));
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
    let out = Command::new(BIN).args(["--clients", "1100", "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let events = events(&out.stdout);
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
    let Some(trace) = checks::strace(BIN, "pselect6,select", &[]).unwrap() else { return };
    let calls: Vec<&str> = trace.lines().filter(|l| l.contains("pselect6(")).collect();
    assert!(!calls.is_empty(), "{trace}");
    // pselect6(5, [3 4], [], NULL, {tv_sec=0, tv_nsec=400000000}, NULL) = 1 (...)
    for call in &calls {
        // (A call strace shows as "<unfinished ...>" has its arguments, not its result.)
        let args = call.split(") = ").next().unwrap().split(" <unfinished").next().unwrap();
        assert!(args.ends_with(", NULL"), "sigmask not NULL: {call}");
    }
}
