//! The pselect chat server, run as a real binary against real TCP clients.

use nix::sys::signal::Signal;
use offline::chat_clients::{ChatClient, ServerProcess};
use std::io::Write;
use std::time::Duration;
use test_harness::chat_checks as checks;
use test_harness::demo::run_json;

const BIN: &str = env!("CARGO_BIN_EXE_pselect");
const CALL: &str = "pselect";

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

/// SIGTERM in the middle of a busy chat: every client gets the goodbye, the server
/// flushes, closes and exits 0.
#[test]
fn sigterm_during_a_busy_chat_says_goodbye_to_everyone_and_exits_0() {
    const GOODBYE: &str = "* server shutting down (SIGTERM); bye";
    let server = ServerProcess::start(BIN, &[]).unwrap();
    let mut clients = Vec::new();
    let mut writers = Vec::new();
    for i in 0..5 {
        let client = ChatClient::connect(&format!("c{i}"), server.chat).unwrap();
        client.wait_lines(1, Duration::from_secs(5)).unwrap();
        let mut stream = client.writer().unwrap();
        // Talk non-stop until the server stops taking it.
        writers.push(std::thread::spawn(move || {
            for k in 0..100_000 {
                if stream.write_all(format!("c{i} says {k}\n").as_bytes()).is_err() {
                    return k;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            100_000
        }));
        clients.push(client);
    }
    std::thread::sleep(Duration::from_millis(300));
    server.signal(Signal::SIGTERM).unwrap();
    for client in &clients {
        client.wait_for("the goodbye", Duration::from_secs(5), |l| l == GOODBYE).unwrap();
        client.wait_closed(Duration::from_secs(5)).unwrap();
    }
    let out = server.wait(Duration::from_secs(5)).unwrap();
    assert!(out.status.success(), "{:?} {}", out.status, out.stderr);
    let events: Vec<serde_json::Value> =
        out.stdout.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.iter().any(|e| e["event"] == "signal" && e["signal"] == "SIGTERM"));
    let shutdown = events.iter().find(|e| e["event"] == "shutdown").unwrap();
    assert_eq!(shutdown["told"], 5, "{shutdown}");
    for (client, writer) in clients.into_iter().zip(writers) {
        drop(client);
        let sent = writer.join().unwrap();
        assert!(sent > 10, "a client barely talked: {sent} lines");
    }
}

#[test]
fn sigusr1_prints_the_counters_and_the_server_carries_on() {
    let server = ServerProcess::start(BIN, &[]).unwrap();
    let client = ChatClient::connect("c", server.chat).unwrap();
    client.wait_lines(1, Duration::from_secs(5)).unwrap();
    server.signal(Signal::SIGUSR1).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.stdout_so_far().iter().any(|l| l.contains("\"event\":\"counters\"")) {
        assert!(std::time::Instant::now() < deadline, "no counters event");
        std::thread::sleep(Duration::from_millis(10));
    }
    let line = server.stdout_so_far().into_iter().find(|l| l.contains("\"event\":\"counters\"")).unwrap();
    assert!(line.contains("clients=1 accepted=1"), "{line}");
    drop(client);
    let out = server.stop().unwrap();
    assert!(out.status.success());
}

/// The lost wake-up, deterministically: select() sleeps its whole timeout through a
/// signal delivered just before it; pselect() returns EINTR at once.
#[test]
fn show_race_select_sleeps_through_the_signal_and_pselect_does_not() {
    let out = run_json(BIN, &["--show-race"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events = &out.events;
    let result = |variant: &str| {
        events.iter().find(|e| e["event"] == "race_result" && e["variant"] == variant).unwrap()
    };
    let (plain, atomic) = (result("select"), result("pselect"));
    assert_eq!(plain["result"], "returned 0", "{plain}");
    assert_eq!(plain["flag"], true);
    assert!(plain["slept_ms"].as_f64().unwrap() >= 1400.0, "{plain}");
    assert_eq!(atomic["result"], "failed with EINTR", "{atomic}");
    assert_eq!(atomic["flag"], true);
    assert!(atomic["slept_ms"].as_f64().unwrap() < 500.0, "{atomic}");
}

#[test]
fn telnet_negotiation_never_reaches_another_client() {
    checks::telnet_negotiation_is_removed(BIN).unwrap();
}

#[test]
fn the_sender_of_an_overlong_line_is_told_it_was_cut() {
    checks::overlong_line_sender_is_told(BIN).unwrap();
}
