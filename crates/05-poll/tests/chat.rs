//! The poll chat server, run as a real binary against real TCP clients.

use fixtures::chat_clients::{checks, expected_transcripts, CLIENTS};
use serde_json::Value;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_poll");
const CALL: &str = "poll";

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

/// No FD_SETSIZE wall: 2000 clients (fds far past 1023) are all served.
#[test]
fn two_thousand_clients_are_all_served() {
    let out = Command::new(BIN).args(["--clients", "2000", "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let events = events(&out.stdout);
    let done = events.iter().find(|e| e["event"] == "crowd_done").unwrap();
    assert_eq!(done["served"], 2000, "{done}");
    assert_eq!(done["refused"], 0, "{done}");
    assert_eq!(done["got_message"], 1999, "{done}");
    assert!(done["highest_fd"].as_i64().unwrap() > 1024, "{done}");
}

/// glibc's poll() is the poll system call, with the events asked for in each entry.
/// Every Rust program also makes one poll() at startup on fds 0-2 with events=0, so
/// the check looks for the server's calls by their shape, not by name alone.
#[test]
fn strace_shows_poll_with_pollin_events() {
    let Some(trace) = checks::strace(BIN, "poll,ppoll", &[]).unwrap() else { return };
    // poll([{fd=3, events=POLLIN}, {fd=4, events=POLLIN}], 2, 400) = 1 ([{fd=3, revents=POLLIN}])
    let server_calls: Vec<&str> =
        trace.lines().filter(|l| l.contains("poll([{fd=3, events=POLLIN}, {fd=4, events=POLLIN}")).collect();
    assert!(!server_calls.is_empty(), "{trace}");
    // (A call strace shows as "<unfinished ...>" has its arguments, not its result.)
    assert!(server_calls.iter().all(|l| l.contains(", 400")), "timeout is not 400 ms: {server_calls:?}");
    assert!(trace.contains("events=POLLIN|POLLOUT"), "no POLLOUT interest: {trace}");
    assert!(!trace.contains("pselect6("), "{trace}");
}
