//! The soak binary itself: a short run over all eight targets must come back clean, and
//! its usage errors must be one line each.

use serde_json::Value;
use std::process::Command;
use test_harness::bins::binary;

const BIN: &str = env!("CARGO_BIN_EXE_soak");

#[test]
fn a_short_soak_finds_nothing_lost_leaked_or_failed() {
    let mut dir = None;
    for name in
        ["select", "pselect", "poll", "epoll", "tokio-chat", "curl-multi", "curl-select", "curl-socket"]
    {
        dir = binary(name).parent().map(std::path::Path::to_path_buf);
    }
    let dir = dir.unwrap();
    let out = Command::new(BIN).args(["--duration", "3s", "--json", "--bin-dir"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let events: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let targets: Vec<&Value> = events.iter().filter(|e| e["event"] == "target").collect();
    let names: Vec<&str> = targets.iter().map(|t| t["target"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["select", "pselect", "poll", "epoll", "tokio-chat", "curl-multi", "curl-select", "curl-socket"]
    );
    for t in &targets {
        assert_eq!(t["ok"], true, "{t}");
        assert!(t["runs"].as_u64().unwrap() > 0, "{t}");
        assert!(t["messages"].as_u64().unwrap() > 0, "{t}");
        for field in ["errors", "lost", "duplicated", "fd_growth"] {
            assert_eq!(t[field], 0, "{field}: {t}");
        }
    }
    let done = events.iter().find(|e| e["event"] == "soak_done").unwrap();
    assert_eq!(done["ok"], true, "{done}");
}

#[test]
fn usage_errors_are_one_line() {
    let out = Command::new(BIN).args(["--duration", "soon"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).args(["--duration", "1s", "--bin-dir", "/nonexistent"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: find /nonexistent/select: not built"), "{stderr}");
}
