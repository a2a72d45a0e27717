//! Runs the curl-multi binary for real against the local HTTP server and checks its
//! `--json` events.

use std::time::Duration;
use test_harness::demo::run_json;
use test_harness::transfer_checks as support;

const BIN: &str = env!("CARGO_BIN_EXE_curl-multi");

#[test]
fn default_run_overlaps_its_transfers_and_reports_each() {
    let run = run_json(BIN, &[]);
    support::check_default_run(&run, "multi");
    assert!(!run.all("multi_wait").is_empty());
    // The first perform started all seven; the waits then woke on events, not a spin.
    assert_eq!(run.all("multi_perform")[0]["running"], 7);
    let waits = run.all("multi_wait");
    assert!(waits.len() < 50, "{} waits for 7 transfers", waits.len());
    assert!(waits.iter().any(|w| w["numfds"].as_u64() >= Some(1)));
    // The last wait's perform reported 0 running, and the last result was still read.
    assert_eq!(waits.last().unwrap()["running"], 0);
    assert_eq!(run.one("multi_cleanup")["event"], "multi_cleanup");
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
}

#[test]
fn sequential_runs_one_at_a_time() {
    let run = run_json(BIN, &["--sequential"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(run.all("multi_wait").is_empty() && run.all("multi_init").is_empty());
    let started = run.all("transfer_started");
    let done = run.all("transfer_done");
    assert_eq!((started.len(), done.len()), (7, 7));
    // Each transfer starts only after the one before it ended.
    for (next, prev) in started.iter().skip(1).zip(&done) {
        assert_eq!(next["how"], "easy");
        assert!(next["t_ms"].as_f64() >= prev["t_ms"].as_f64(), "{next} before {prev}");
    }
    let summary = run.one("summary");
    assert_eq!(summary["mode"], "sequential");
    assert_eq!(summary["most_in_flight"], 1);
    // One at a time, the run takes the sum (generous bound).
    assert!(summary["span_ms"].as_f64().unwrap() >= 0.9 * summary["work_ms"].as_f64().unwrap(), "{summary}");
    assert!(run.took >= Duration::from_secs(3));
}

#[test]
fn sockets_past_fd_setsize_work_with_a_poll_based_libcurl() {
    let run = run_json(BIN, &["--fd-floor", "1100"]);
    let sockets = run.all("socket_opened");
    assert!(!sockets.is_empty() && sockets.iter().all(|s| s["fd"].as_i64() >= Some(1100)), "{sockets:?}");
    // poll() inside curl_multi_wait does not mind fd numbers: the system libcurl and the
    // bundled one (built with HAVE_POLL by .cargo/config.toml) alike.
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.one("summary")["completed"], 6);
}
