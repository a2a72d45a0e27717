//! Runs the nonblocking-read binary and checks what it reports.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use serde_json::Value;
use std::process::{Command, Output};

fn json(args: &[&str]) -> test_harness::demo::DemoRun {
    let run = test_harness::demo::run_json(env!("CARGO_BIN_EXE_nonblocking-read"), args);
    run.assert_clean_success();
    run
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nonblocking-read")).args(args).output().unwrap()
}

fn one<'a>(events: &'a [Value], name: &str, key: &str, value: &str) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| e["event"] == name && e[key] == value).collect();
    assert_eq!(found.len(), 1, "expected one {name} with {key}={value}");
    found[0]
}

#[test]
fn file_never_eagain_pipe_eagain_and_accept_eagain() {
    let out = json(&["--delay-ms", "500", "--file-kib", "2048"]);
    let events = &out.events;

    // 1. O_NONBLOCK was set on the file and no read gave EAGAIN; every byte came back.
    let open = events.iter().find(|e| e["event"] == "open").unwrap();
    assert_eq!(open["nonblocking"], true);
    let file = one(events, "polling_summary", "source", "file");
    assert_eq!(file["eagain_count"], 0);
    assert_eq!(file["bytes"], 2048 * 1024);
    // Once the file has been read it is cached, so RWF_NOWAIT succeeds. (Before, on an
    // evicted file, it says EAGAIN on most file systems; that is not asserted.)
    let cached = one(events, "nowait_read", "when", "cached");
    assert!(cached["result"]["bytes"].as_i64().unwrap() > 0 || cached["result"]["errno"] == "EOPNOTSUPP");

    // 2. The pipe: EAGAIN many times, then the data.
    let pipe = one(events, "polling_summary", "source", "pipe");
    assert!(pipe["eagain_count"].as_u64().unwrap() > 0);
    assert_eq!(pipe["data"], "data, at last\n");
    let first = one(events, "read_returned", "source", "pipe");
    assert_eq!(first["errno"], "EAGAIN");
    let baseline = events.iter().find(|e| e["event"] == "blocking_baseline").unwrap();
    assert!(baseline["blocked_ms"].as_f64().unwrap() >= 400.0);

    // 3. accept with nothing pending: EAGAIN; then a real connection, not non-blocking.
    let accepts: Vec<&Value> = events.iter().filter(|e| e["event"] == "accept_returned").collect();
    assert_eq!(accepts.len(), 2);
    assert_eq!(accepts[0]["errno"], "EAGAIN");
    assert!(accepts[1]["result"].as_i64().unwrap() > 2);
    assert_eq!(accepts[1]["nonblocking"], false);
    let recvs: Vec<&Value> = events.iter().filter(|e| e["event"] == "recv_returned").collect();
    assert_eq!(recvs[0]["result"]["errno"], "EAGAIN");
    assert_eq!(recvs[1]["result"]["bytes"], 4);
    assert_eq!(events.last().unwrap()["event"], "done");
}

#[test]
fn text_output_tells_the_story() {
    let out = run(&["--delay-ms", "200", "--file-kib", "64"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("O_NONBLOCK has no effect on regular files"), "{text}");
    assert!(text.contains("errno = EAGAIN"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when stdout is not a terminal");
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    let out = run(&["--delay-ms", "999999"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: usage: --delay-ms must be at most 60000\n");
    assert_eq!(run(&["extra-arg"]).status.code(), Some(2));
}
