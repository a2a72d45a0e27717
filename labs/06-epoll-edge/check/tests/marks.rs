//! The checker against the starter, against a level-triggered epoll server (right in
//! every way but the trigger), and against programs that misbehave before they even
//! serve: each is marked down with a reason that says what is wrong.
#![allow(clippy::unwrap_used)] // test helpers: a failure here is a failed test

use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the checker with `--json` (and `extra` flags) on `program args...`; returns
/// (exit code, checks, time).
fn mark(extra: &[&str], program: &str, args: &[&str]) -> (Option<i32>, Vec<Value>, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_epoll-edge-check"))
        .arg("--json")
        .args(extra)
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
fn the_starter_fails_the_concurrency_checks_and_has_no_epoll_instance() {
    let starter = test_harness::bins::binary("epoll-edge");
    let (code, checks, took) = mark(&[], starter.to_str().unwrap(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        failed(&checks),
        [
            "many-clients",
            "one-thread",
            "no-busy-wait",
            "slow-client",
            "non-reader",
            "no-fd-leak",
            "edge-triggered",
            "drains-accept"
        ],
        "{checks:#?}"
    );
    assert!(detail(&checks, "many-clients").contains("serves one client at a time"), "{checks:#?}");
    let et = detail(&checks, "edge-triggered");
    assert!(et.starts_with("while 1 client was connected (and echoed), none of the server's"), "{et}");
    assert!(et.contains("anon_inode:[eventpoll]"), "{et}");
    let accept = detail(&checks, "drains-accept");
    assert!(accept.contains("5 connections still waited in the listen queue, not accepted"), "{accept}");
    // Not asleep in epoll_wait: no word about EPOLLET, which this server does not use.
    assert!(!accept.contains("EPOLLET"), "{accept}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// A correct echo server on level-triggered epoll (one read and one accept per report
/// are right when level-triggered): only the trigger is wrong.
const LEVEL_TRIGGERED: &str = r#"
import select, socket, sys
host, port = sys.argv[sys.argv.index("--listen") + 1].rsplit(":", 1)
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((host, int(port))); l.listen(128); l.setblocking(False)
print("listening on %s:%d" % l.getsockname(), flush=True)
ep = select.epoll(); ep.register(l.fileno(), select.EPOLLIN)
clients = {}
while True:
    for fd, ev in ep.poll():
        if fd == l.fileno():
            try: s, _ = l.accept()
            except BlockingIOError: continue
            s.setblocking(False); clients[s.fileno()] = [s, b""]
            ep.register(s.fileno(), select.EPOLLIN)
            continue
        s, q = clients[fd]
        try:
            if q and ev & select.EPOLLOUT: clients[fd][1] = q = q[s.send(q):]
            if ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                data = s.recv(4096)
                if not data: raise ConnectionResetError
                clients[fd][1] = q = q + data
            ep.modify(fd, select.EPOLLIN | (select.EPOLLOUT if q else 0))
        except BlockingIOError: pass
        except OSError:
            del clients[fd]; ep.unregister(fd); s.close()
"#;

#[test]
fn a_level_triggered_server_is_failed_by_the_kernels_own_interest_list() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED: python3 not installed");
        return;
    }
    let only = ["--only", "edge-triggered,one-thread,drains-reads,drains-accept"];
    let (code, checks, _) = mark(&only, "python3", &["-c", LEVEL_TRIGGERED]);
    assert_eq!(code, Some(1));
    assert_eq!(failed(&checks), ["edge-triggered"], "{checks:#?}");
    let et = detail(&checks, "edge-triggered");
    assert!(
        et.starts_with("the listening socket (fd ")
            && et.contains(
                "is registered with EPOLLIN|EPOLLERR|EPOLLHUP (0x19), without EPOLLET (0x80000000)"
            ),
        "{et}"
    );
    assert!(detail(&checks, "one-thread").contains("asleep in epoll_wait()"), "{checks:#?}");
    assert!(detail(&checks, "drains-accept").starts_with("10 rounds of 6 clients"), "{checks:#?}");
}

#[test]
fn a_program_that_exits_at_once_is_failed_at_once() {
    let (code, checks, took) = mark(&[], "sh", &["-c", "echo oops >&2; exit 3"]);
    assert_eq!(code, Some(1));
    assert_eq!(failed(&checks).len(), 14);
    let why = detail(&checks, "starts");
    assert!(why.contains("exited (exit status 3)") && why.contains("oops"), "{why}");
    assert!(detail(&checks, "drains-reads").starts_with("not run"));
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn gradescope_results_hold_every_check_with_its_points() {
    let results = std::env::temp_dir().join(format!("epoll-edge-results-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_epoll-edge-check"))
        .arg("--gradescope")
        .arg(&results)
        .args(["--", "sh", "-c", "echo listening on nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let _ = std::fs::remove_file(&results);
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
            "signals",
            "edge-triggered",
            "drains-reads",
            "drains-accept",
            "drains-writes"
        ]
    );
    assert_eq!(json["max_score"], 30);
    assert_eq!(json["score"], 0);
}
