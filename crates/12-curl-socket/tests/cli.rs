//! Runs the curl-socket binary for real against the local HTTP server and checks its
//! `--json` events: the same contract as curl-multi and curl-select (the shared
//! checks), then what is its own: the callbacks, the epoll waits, a thousand transfers.

use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;
use test_harness::demo::run_json;
use test_harness::transfer_checks as support;

const BIN: &str = env!("CARGO_BIN_EXE_curl-socket");

fn fd(v: &Value) -> i64 {
    v["fd"].as_i64().unwrap_or(-1)
}

#[test]
fn default_run_overlaps_its_transfers_and_reports_each() {
    let run = run_json(BIN, &[]);
    support::check_default_run(&run, "socket");
    assert_eq!(run.one("multi_cleanup")["event"], "multi_cleanup");
    // add_handle set curl's timer to "now"; its first firing started the connects.
    let first_timer = run.all("timer_callback")[0].clone();
    assert_eq!(first_timer["timeout_ms"], 0.0, "{first_timer}");
    let actions = run.all("socket_action");
    assert_eq!(actions[0]["timer"], true, "{}", actions[0]);
    // Every transfer's socket was watched for OUT (the connect), and every one that
    // connected then for IN (the answer), and every one forgotten in the end.
    let sockets: BTreeSet<i64> = run.all("socket_opened").iter().map(|s| fd(s)).collect();
    assert_eq!(sockets.len(), 7);
    let callbacks = run.all("socket_callback");
    let asked = |want: &str| -> BTreeSet<i64> {
        callbacks
            .iter()
            .filter(|c| c["want"] == want)
            .map(|c| fd(c))
            .filter(|f| sockets.contains(f))
            .collect()
    };
    assert_eq!(asked("out"), sockets);
    assert_eq!(asked("in").len(), 6, "the refused one never got to IN: {callbacks:?}");
    assert_eq!(asked("remove"), sockets);
    // Each watch was an epoll_ctl ADD the first time, MOD after; each forget a DEL.
    for c in &callbacks {
        let op = c["epoll_ctl"].as_str().unwrap();
        match c["want"].as_str().unwrap() {
            "remove" => assert!(op == "DEL" || c["epoll_ctl"].is_null(), "{c}"),
            _ => assert!(op == "ADD" || op == "MOD", "{c}"),
        }
    }
    // Every socket action names an fd epoll reported ready in the wait before it.
    let mut ready: Vec<i64> = Vec::new();
    for e in &run.events {
        match e["event"].as_str() {
            Some("epoll_wait") => {
                ready =
                    e["events"].as_array().unwrap().iter().map(|r| r["fd"].as_i64().unwrap_or(-1)).collect();
                assert_eq!(e["ready"].as_u64(), Some(ready.len() as u64), "{e}");
            }
            Some("socket_action") if e["timer"] == false => {
                assert!(ready.contains(&fd(e)), "{e} not in {ready:?}")
            }
            Some("socket_action") => assert!(ready.contains(&-1), "timer action without the timerfd: {e}"),
            _ => {}
        }
    }
    // The waits woke on events, not a spin; the last action left 0 running.
    let waits = run.all("epoll_wait");
    assert!(waits.len() >= 6 && waits.len() < 40, "{} waits", waits.len());
    assert_eq!(actions.last().unwrap()["running"], 0);
}

#[test]
fn results_match_what_the_server_sent() {
    support::check_results_match_the_server(BIN);
}

#[test]
fn bad_input_fails_one_transfer_at_a_time() {
    support::check_bad_input(BIN);
}

#[test]
fn parallel_two_keeps_at_most_two_in_flight() {
    support::check_parallel_two(BIN);
}

#[test]
fn every_transfer_failing_exits_1() {
    support::check_all_failed_exits_1(BIN);
}

#[test]
fn usage_errors_exit_2_and_help_gives_the_exit_rule() {
    support::check_usage_errors(BIN);
    for args in [
        &["--transfers", "0"][..],
        &["--transfers", "many"],
        &["--transfers", "10", "http://127.0.0.1:1/"],
        &["--transfers", "10", "--sequential"],
        &["--delay", "100"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn sockets_past_fd_setsize_are_watched_like_any_other() {
    let run = run_json(BIN, &["--fd-floor", "1100"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let sockets = run.all("socket_opened");
    assert!(!sockets.is_empty() && sockets.iter().all(|s| fd(s) >= 1100), "{sockets:?}");
    assert!(run.all("socket_callback").iter().any(|c| fd(c) >= 1100 && c["epoll_ctl"] == "ADD"));
    assert_eq!(run.one("summary")["completed"], 6);
}

#[test]
fn a_thousand_transfers_run_at_once_past_fd_1023() {
    let run = run_json(BIN, &["--transfers", "1000", "--delay", "300"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let summary = run.one("summary");
    assert_eq!(summary["transfers"], 1000, "{summary}");
    assert_eq!(summary["completed"], 1000, "{summary}");
    assert_eq!(summary["most_in_flight"], 1000, "{summary}");
    assert!(summary["highest_fd"].as_i64() > Some(1023), "{summary}");
    // All at once: about one delay, not a thousand (a generous bound).
    assert!(summary["span_ms"].as_f64().unwrap() < 10.0 * 300.0, "{summary}");
    // Each wait handled many sockets: far fewer waits than socket actions.
    let batches = run.all("batch");
    assert_eq!(batches.len() as u64, summary["epoll_waits"].as_u64().unwrap());
    assert!(summary["socket_actions"].as_u64().unwrap() >= 2000, "{summary}");
    assert!(batches.len() < 500, "{} waits", batches.len());
    // In batches, one line per wait: no per-transfer lines.
    assert!(run.all("transfer_done").is_empty() && run.all("socket_callback").is_empty());
    let fds = run.one("open_fds");
    assert_eq!(fds["before"], fds["after"], "{fds}");
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
}

#[test]
fn sequential_runs_one_at_a_time_without_epoll() {
    let run = run_json(BIN, &["--sequential", "--timeout", "2"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(run.all("epoll_wait").is_empty() && run.all("socket_callback").is_empty());
    assert_eq!(run.one("summary")["mode"], "sequential");
    assert_eq!(run.one("summary")["most_in_flight"], 1);
}
