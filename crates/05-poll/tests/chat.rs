//! The poll chat server, run as a real binary against real TCP clients.

use fixtures::chat_clients::checks;
use fixtures::demo::{run_json, strace};

const BIN: &str = env!("CARGO_BIN_EXE_poll");
const CALL: &str = "poll";

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

/// No FD_SETSIZE wall: 2000 clients (fds far past 1023) are all served.
#[test]
fn two_thousand_clients_are_all_served() {
    let out = run_json(BIN, &["--clients", "2000"]);
    let stderr = &out.stderr;
    assert_eq!(out.code, 0, "stderr: {stderr}");
    let events = &out.events;
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
    let Some(trace) = strace(BIN, &[], "poll,ppoll") else { return };
    // poll([{fd=3, events=POLLIN}, {fd=4, events=POLLIN}], 2, 400) = 1 ([{fd=3, revents=POLLIN}])
    let server_calls: Vec<&str> =
        trace.lines().filter(|l| l.contains("poll([{fd=3, events=POLLIN}, {fd=4, events=POLLIN}")).collect();
    assert!(!server_calls.is_empty(), "{trace}");
    // (A call strace shows as "<unfinished ...>" has its arguments, not its result.)
    assert!(server_calls.iter().all(|l| l.contains(", 400")), "timeout is not 400 ms: {server_calls:?}");
    assert!(trace.contains("events=POLLIN|POLLOUT"), "no POLLOUT interest: {trace}");
    assert!(!trace.contains("pselect6("), "{trace}");
}
