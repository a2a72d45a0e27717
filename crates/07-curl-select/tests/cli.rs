//! Runs the curl-select binary for real against the local HTTP server and checks its
//! `--json` events.

use std::time::Duration;
use test_harness::demo::run_json;
use test_harness::transfer_checks as support;

const BIN: &str = env!("CARGO_BIN_EXE_curl-select");

#[test]
fn default_run_overlaps_its_transfers_and_reports_each() {
    let run = run_json(BIN, &[]);
    support::check_default_run(&run, "select");
    let fdsets = run.all("multi_fdset");
    let selects = run.all("select");
    assert_eq!(fdsets.len(), selects.len());
    assert!(!selects.is_empty() && selects.len() < 60, "{} iterations", selects.len());
    // Every iteration: nfds is maxfd + 1, and the ready fds were in the sets given.
    for (fdset, select) in fdsets.iter().zip(&selects) {
        let maxfd = fdset["maxfd"].as_i64().unwrap();
        assert_eq!(select["nfds"].as_i64(), Some(maxfd + 1), "{fdset} {select}");
        for (ready, asked) in [("readable", "read"), ("writable", "write")] {
            for fd in select[ready].as_array().unwrap() {
                assert!(fdset[asked].as_array().unwrap().contains(fd), "{fdset} {select}");
            }
        }
        assert!(select["timeout_ms"].as_f64().unwrap() <= 1000.0, "{select}");
        let reason = select["reason"].as_str().unwrap();
        assert!(["timer_due", "curl_timer", "cap", "no_fds", "deadline"].contains(&reason), "{select}");
    }
    // The first select sees all seven connects finish (writable); later ones see the
    // answers arrive (readable), one transfer at a time.
    assert_eq!(selects[0]["writable"].as_array().unwrap().len(), 7, "{}", selects[0]);
    assert!(selects.iter().filter(|s| s["readable"].as_array().is_some_and(|r| !r.is_empty())).count() >= 5);
    // The select ready count matches the fds it reported.
    for s in &selects {
        if s["reason"] != "timer_due" {
            let n = s["readable"].as_array().unwrap().len() + s["writable"].as_array().unwrap().len();
            assert!(s["ready"].as_u64().unwrap() as usize >= n.min(1), "{s}");
        }
    }
    // The sockets curl opened are the fds select watched.
    let sockets: Vec<i64> = run.all("socket_opened").iter().map(|s| s["fd"].as_i64().unwrap()).collect();
    assert_eq!(sockets.len(), 7);
    for fd in &sockets {
        assert!(fdsets.iter().any(|f| f["write"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_i64() == Some(*fd))));
    }
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
fn a_socket_past_fd_setsize_stops_the_run_instead_of_hanging() {
    let run = run_json(BIN, &["--fd-floor", "1100"]);
    assert_eq!(run.code, 1);
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("error: socket fd 11"), "{}", run.stderr);
    assert!(run.stderr.contains("FD_SETSIZE") && run.stderr.contains("curl_multi_fdset"), "{}", run.stderr);
    let too_large = run.one("fd_too_large");
    assert!(too_large["fd"].as_i64() >= Some(1100));
    assert_eq!(too_large["fd_setsize"], 1024);
    // curl_multi_fdset left every one of those sockets out, silently...
    let fdset = run.one("multi_fdset");
    assert!(fdset["maxfd"].as_i64() < Some(1024), "{fdset}");
    assert_eq!(too_large["maxfd"], fdset["maxfd"]);
    // ...and the demo stopped before calling select() on sets that miss them.
    assert!(run.all("select").is_empty());
}
