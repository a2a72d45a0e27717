//! The tokio chat server, run as a real binary against real TCP clients: the same
//! checks as every chat server (test_harness' `chat_checks`), then what only tokio-chat has.

use offline::chat_clients::{ChatClient, ServerProcess};
use std::time::Duration;
use test_harness::chat_checks as checks;
use test_harness::demo::run_json;

const BIN: &str = env!("CARGO_BIN_EXE_tokio-chat");
const CALL: &str = "tokio";
const WAIT: Duration = Duration::from_secs(5);

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

#[test]
fn telnet_negotiation_never_reaches_another_client() {
    checks::telnet_negotiation_is_removed(BIN).unwrap();
}

#[test]
fn the_sender_of_an_overlong_line_is_told_it_was_cut() {
    checks::overlong_line_sender_is_told(BIN).unwrap();
}

/// The traced tasks: a read that returned Pending, then was woken by its socket's
/// readiness and returned Ready; and a poll without a wake-up of its own.
#[test]
fn traced_polls_show_pending_then_a_wake_up_then_ready() {
    let run = run_json(BIN, &[]);
    run.assert_clean_success();
    let polls = run.all("task_poll");
    let tasks: std::collections::BTreeSet<&str> = polls.iter().filter_map(|e| e["task"].as_str()).collect();
    assert_eq!(tasks.into_iter().collect::<Vec<_>>(), ["guest1", "guest2"]);
    let reads: Vec<_> =
        polls.iter().filter(|e| e["future"].as_str().unwrap().starts_with("read(fd ")).collect();
    assert!(reads.iter().any(|e| e["poll"] == 1 && e["result"] == "Pending"));
    assert!(reads.iter().any(|e| e["woken"] == true && e["result"] == "Ready"));
    assert!(reads
        .iter()
        .any(|e| e["woken"] == false && e["poll"].as_u64().unwrap() > 1 && e["result"] == "Pending"));
}

/// SIGINT: every client is told goodbye, exit 0.
#[test]
fn sigint_says_goodbye_and_exits_0() {
    let server = ServerProcess::start(BIN, &[]).unwrap();
    let ann = ChatClient::connect("ann", server.chat).unwrap();
    ann.wait_lines(1, WAIT).unwrap();
    server.signal(nix::sys::signal::Signal::SIGINT).unwrap();
    let got = ann.wait_closed(WAIT).unwrap();
    assert_eq!(got.last().map(String::as_str), Some("* server shutting down (SIGINT); bye"));
    let out = server.wait(WAIT).unwrap();
    assert!(out.status.success(), "{:?} {}", out.status, out.stderr);
    let shutdown = out.stdout.iter().find(|l| l.contains("\"event\":\"shutdown\"")).unwrap();
    assert!(shutdown.contains("\"told\":1"), "{shutdown}");
}

/// Two thousand clients on one thread, every one served.
#[test]
fn two_thousand_clients_are_all_served() {
    let out = run_json(BIN, &["--clients", "2000"]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let done = out.events.iter().find(|e| e["event"] == "crowd_done").unwrap();
    assert_eq!(done["served"], 2000, "{done}");
    assert_eq!(done["got_message"], 1999, "{done}");
}
