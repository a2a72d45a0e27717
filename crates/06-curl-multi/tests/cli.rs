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
    // The last perform reported 0 running, and the last result was still read after it.
    let performs = run.all("multi_perform");
    assert_eq!(performs.last().unwrap()["running"], 0);
    let last_done = run.all("transfer_done").last().unwrap()["t_ms"].as_f64();
    assert!(last_done >= performs.last().unwrap()["t_ms"].as_f64());
    // The steps come in the notes' order: add handle, perform, wait, info read (each
    // result), remove handle, and a wait ends before the results it brought are read.
    let order: Vec<&str> = run
        .events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .filter(|e| {
            ["transfer_started", "multi_perform", "multi_wait", "transfer_done", "handle_removed"].contains(e)
        })
        .collect();
    assert_eq!(
        order[..8],
        ["transfer_started"; 7].iter().copied().chain(["multi_perform"]).collect::<Vec<_>>()[..]
    );
    assert_eq!(order[8], "multi_wait");
    for (i, e) in order.iter().enumerate() {
        match *e {
            "multi_wait" => assert_eq!(order[i + 1], "multi_perform", "{order:?}"),
            "transfer_done" => assert_eq!(order[i + 1], "handle_removed", "{order:?}"),
            _ => {}
        }
    }
    // No wait starts while a result is waiting to be read: after a perform whose
    // running count fell below the transfers in flight, the results come first.
    let mut unread: i64 = 0;
    for e in &run.events {
        match e["event"].as_str() {
            Some("multi_perform") => {
                unread = e["in_flight"].as_i64().unwrap() - e["running"].as_i64().unwrap()
            }
            Some("transfer_done") => unread -= 1,
            Some("multi_wait") => assert_eq!(unread, 0, "a wait with a result unread: {e}"),
            _ => {}
        }
    }
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

/// True when the linked libcurl waits with select() instead of poll(): a bundled copy
/// built without HAVE_POLL (outside this workspace's .cargo/config.toml).
fn select_based_libcurl() -> bool {
    !common::transfer::waits_with_poll()
}

#[test]
fn sockets_past_fd_setsize_work_with_a_poll_based_libcurl() {
    let run = run_json(BIN, &["--fd-floor", "1100"]);
    let sockets = run.all("socket_opened");
    assert!(!sockets.is_empty() && sockets.iter().all(|s| s["fd"].as_i64() >= Some(1100)), "{sockets:?}");
    if select_based_libcurl() {
        // select() inside curl_multi_wait cannot take them: a clean error, not a hang.
        eprintln!("note: this libcurl waits with select(); checking the error instead");
        assert_eq!(run.code, 1);
        assert!(run.stderr.starts_with("error: curl_multi_wait: "), "{}", run.stderr);
        assert!(run.stderr.contains("FD_SETSIZE"), "{}", run.stderr);
        assert!(run.took < Duration::from_secs(5));
    } else {
        // poll() inside curl_multi_wait does not mind fd numbers.
        assert_eq!(run.code, 0, "stderr: {}", run.stderr);
        assert_eq!(run.one("summary")["completed"], 6);
    }
}

#[test]
fn wait_poll_waits_with_no_socket_until_curl_multi_wakeup() {
    // One URL: --wait poll keeps it back for the second thread, so the loop starts with
    // nothing in flight: curl_multi_wait would return at once, curl_multi_poll waits
    // until the second thread's curl_multi_wakeup.
    let server = offline::http::Server::start().unwrap();
    let url = server.url("/delay/10");
    let run = run_json(BIN, &["--wait", "poll", &url]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let held = run.one("held_back");
    assert_eq!((held["id"].as_u64(), held["after_ms"].as_u64()), (Some(1), Some(300)));
    let waits = run.all("multi_wait");
    assert!(waits.iter().all(|w| w["call"] == "curl_multi_poll"), "{waits:?}");
    let first = waits[0];
    assert_eq!((first["numfds"].as_u64(), first["woken"].as_bool()), (Some(0), Some(true)), "{first}");
    // It waited (no socket, yet no spin), and the wakeup ended it before its timeout.
    let waited = first["waited_ms"].as_f64().unwrap();
    assert!(waited >= 150.0 && waited < first["timeout_ms"].as_f64().unwrap(), "{first}");
    let wakeup = run.one("wakeup");
    assert!(wakeup["t_ms"].as_f64() <= first["t_ms"].as_f64(), "{wakeup} {first}");
    // The loop then added the handed-over transfer, and it completed.
    let started = run.one("transfer_started");
    assert!(started["t_ms"].as_f64() >= first["t_ms"].as_f64());
    assert_eq!(run.one("summary")["completed"], 1);
    assert!(waits.len() < 10, "{waits:?}");
}

#[test]
fn wait_poll_runs_the_default_scenario_with_the_last_transfer_handed_over() {
    let run = run_json(BIN, &["--wait", "poll"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!((run.all("transfer_started").len(), run.all("transfer_done").len()), (7, 7));
    assert_eq!(run.one("summary")["completed"], 6);
    // The second thread and the wakeup leave nothing open.
    let fds = run.one("open_fds");
    assert_eq!(fds["before"], fds["after"], "{fds}");
    assert_eq!(run.one("held_back")["id"], 7);
    let woken: Vec<_> = run.all("multi_wait").into_iter().filter(|w| w["woken"] == true).collect();
    assert_eq!(woken.len(), 1, "one wakeup, one woken wait");
    let seventh = run.all("transfer_started").into_iter().find(|s| s["id"] == 7).unwrap();
    assert!(seventh["t_ms"].as_f64() >= woken[0]["t_ms"].as_f64());
}

#[test]
fn a_rate_limited_transfer_never_makes_the_wait_loop_spin() {
    // Between bursts curl stops watching the socket: curl_multi_wait then has no fd and
    // (libcurl 7.88) returns at once, millions of times in a few seconds. The loop
    // sleeps until curl's timer itself, so it waits a few dozen times at most.
    let server = offline::http::Server::start().unwrap();
    // 2 MB: libcurl 8.x holds the limit from the start (2.0 s). 7.88 averages over
    // windows of several seconds and lets bursts through: the same run took 0.46 s to
    // 1.7 s, against 5 ms unlimited. Either way it pauses, and a pause is what we test.
    let url = server.url("/bytes/2000000");
    let run = run_json(BIN, &["--max-speed", "1000000", &url]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let done = run.one("transfer_done");
    assert_eq!((done["bytes"].as_u64(), done["http_status"].as_u64()), (Some(2_000_000), Some(200)));
    // The limit held the transfer back (unlimited, 2 MB take about 5 ms here)...
    assert!(done["time_ms"].as_f64().unwrap() > 200.0, "{done}");
    let waits = run.all("multi_wait");
    // ...and curl paused, watching no socket, at least once: the case under test.
    assert!(waits.iter().any(|w| w["numfds"] == 0), "no pause: {waits:?}");
    assert!(waits.len() < 200, "{} waits: the loop spun", waits.len());
    for w in &waits {
        // A wait that saw no fd and ended at once was made up for by a nap.
        if w["numfds"] == 0 && w["waited_ms"].as_f64().unwrap() < 1.0 {
            assert!(w["napped_ms"].as_f64().unwrap() > 0.0, "{w}");
        }
    }
}
