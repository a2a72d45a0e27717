//! The poll chat server, run as a real binary against real TCP clients.

use test_harness::chat_checks as checks;
use test_harness::demo::run_json;

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

#[test]
fn telnet_negotiation_never_reaches_another_client() {
    checks::telnet_negotiation_is_removed(BIN).unwrap();
}

#[test]
fn the_sender_of_an_overlong_line_is_told_it_was_cut() {
    checks::overlong_line_sender_is_told(BIN).unwrap();
}
