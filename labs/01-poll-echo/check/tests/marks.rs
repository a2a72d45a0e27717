//! The checker against the starter and against programs that misbehave before they
//! even serve: each is marked down fast, with a reason that says what is wrong.
#![allow(clippy::unwrap_used)] // test helpers: a failure here is a failed test

use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the checker with `--json` on `program args...`; returns (exit code, checks, time).
fn mark(program: &str, args: &[&str]) -> (Option<i32>, Vec<Value>, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_poll-echo-check"))
        .arg("--json")
        .arg("--")
        .arg(program)
        .args(args)
        .output()
        .unwrap();
    let checks = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "check")
        .collect();
    (out.status.code(), checks, started.elapsed())
}

fn failed(checks: &[Value]) -> Vec<&str> {
    checks.iter().filter(|c| c["passed"] == false).map(|c| c["name"].as_str().unwrap()).collect()
}

fn detail<'a>(checks: &'a [Value], name: &str) -> &'a str {
    checks.iter().find(|c| c["name"] == name).unwrap()["detail"].as_str().unwrap()
}

#[test]
fn the_starter_fails_exactly_the_concurrency_checks_and_says_why() {
    let starter = test_harness::bins::binary("poll-echo");
    let (code, checks, took) = mark(starter.to_str().unwrap(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        failed(&checks),
        ["many-clients", "one-thread", "no-busy-wait", "slow-client", "non-reader", "no-fd-leak"],
        "{checks:#?}"
    );
    assert!(detail(&checks, "many-clients").contains("client 2 got no echo"), "{checks:#?}");
    assert!(detail(&checks, "many-clients").contains("serves one client at a time"));
    assert!(detail(&checks, "one-thread").starts_with("not judged: client 2 got no echo"), "{checks:#?}");
    assert!(
        detail(&checks, "slow-client").contains("a blocking read on a client with nothing more to send (A)")
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn a_program_that_exits_at_once_is_failed_at_once() {
    let (code, checks, took) = mark("sh", &["-c", "echo oops >&2; exit 3"]);
    assert_eq!(code, Some(1));
    assert_eq!(failed(&checks).len(), 10);
    let why = detail(&checks, "starts");
    assert!(why.contains("exited (exit status 3)") && why.contains("oops"), "{why}");
    assert!(detail(&checks, "echo").starts_with("not run"));
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn garbage_or_nothing_on_stdout_is_named() {
    let (_, checks, _) = mark("sh", &["-c", "echo hello world; sleep 30"]);
    assert_eq!(
        detail(&checks, "starts"),
        "its first line was \"hello world\"; it must be `listening on IP:PORT`"
    );
    let (_, checks, _) = mark("sh", &["-c", "echo listening on 127.0.0.1:0; sleep 30"]);
    assert!(detail(&checks, "starts").contains("print the port the kernel chose"));
    let (_, checks, took) = mark("sh", &["-c", "sleep 30"]);
    assert!(detail(&checks, "starts").contains("fflush(stdout)"), "{checks:#?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn gradescope_results_hold_every_check_with_its_points() {
    let results = std::env::temp_dir().join(format!("poll-echo-results-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_poll-echo-check"))
        .arg("--gradescope")
        .arg(&results)
        .args(["--", "sh", "-c", "echo listening on nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let _ = std::fs::remove_file(&results);
    // Gradescope's format: a score, and tests[] each with name, score, max_score, output.
    assert_eq!(json["score"], 0);
    let tests = json["tests"].as_array().unwrap();
    let names: Vec<&str> = tests.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "starts",
            "echo",
            "many-clients",
            "one-thread",
            "no-busy-wait",
            "slow-client",
            "non-reader",
            "disconnects",
            "no-fd-leak",
            "signals"
        ]
    );
    let max: u64 = tests.iter().map(|t| t["max_score"].as_u64().unwrap()).sum();
    assert_eq!(max, 20);
    assert_eq!(json["max_score"], 20);
    for t in tests {
        assert_eq!(t["score"], 0, "{t}");
        assert_eq!(t["status"], "failed");
        assert!(t["output"].as_str().unwrap().starts_with("FAIL "), "{t}");
    }
    assert!(tests[0]["output"].as_str().unwrap().contains("\"listening on nowhere\""), "{json:#}");
}
