//! Runs the built aio-cancel binary and checks every row of the truth table.

#![allow(clippy::unwrap_used)] // tests may unwrap: a failure here is a test failure

use serde_json::Value;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aio-cancel"))
}

fn json_run() -> Vec<Value> {
    json_run_pid().0
}

/// The events, and the process id (= main's thread id).
fn json_run_pid() -> (Vec<Value>, u32) {
    let mut cmd = bin();
    cmd.arg("--json").stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect(), pid)
}

fn find<'a>(events: &'a [Value], event: &str, req: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == event && e["req"] == req).collect()
}

#[test]
fn every_cancel_outcome_matches_glibc() {
    let events = json_run();
    assert_eq!(events[0]["event"], "demo");
    let cancel = |req: &str, state: &str| -> String {
        let e = events
            .iter()
            .find(|e| e["event"] == "aio_cancel" && e["req"] == req && e["state"] == state)
            .unwrap_or_else(|| panic!("no aio_cancel for {req} ({state})"));
        e["name"].as_str().unwrap().to_string()
    };
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert_eq!(cancel("B", "queued"), "AIO_CANCELED");
        assert_eq!(cancel("A", "running"), "AIO_NOTCANCELED");
        assert_eq!(cancel("NULL", "C running, D and E queued"), "AIO_NOTCANCELED");
        assert_eq!(cancel("F", "finished"), "AIO_ALLDONE");
        assert_eq!(cancel("NULL", "nothing outstanding"), "AIO_ALLDONE");
        assert_eq!(cancel("NULL", "fd not open"), "-1 EBADF");
        let done = events.iter().find(|e| e["event"] == "done").unwrap();
        assert_eq!(done["as_glibc"], true, "{done}");
        // aio_error after the cancels.
        let errors = |req: &str| -> Vec<String> {
            find(&events, "aio_error", req).iter().map(|e| e["value"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(errors("B"), ["EINPROGRESS", "ECANCELED"]);
        assert_eq!(errors("A"), ["EINPROGRESS", "EINPROGRESS"], "A keeps running after AIO_NOTCANCELED");
        assert_eq!(errors("D"), ["ECANCELED"]);
        assert_eq!(errors("E"), ["ECANCELED"]);
        assert_eq!(errors("F"), ["0"]);
    } else {
        for e in events.iter().filter(|e| e["event"] == "aio_cancel") {
            let name = e["name"].as_str().unwrap();
            assert!(
                ["AIO_CANCELED", "AIO_NOTCANCELED", "AIO_ALLDONE"].contains(&name) || name.starts_with("-1")
            );
        }
    }
}

#[test]
fn every_request_is_collected_exactly_once_with_the_right_bytes() {
    let (events, pid) = json_run_pid();
    let expect: [(&str, i64, &str); 6] = [
        ("A", 6, "hello\n"),
        ("B", -1, ""),
        ("C", 6, "world\n"),
        ("D", -1, ""),
        ("E", -1, ""),
        ("F", 5, "done\n"),
    ];
    for (req, ret, data) in expect {
        let returns = find(&events, "aio_return", req);
        assert_eq!(returns.len(), 1, "aio_return for {req} exactly once");
        assert_eq!(returns[0]["ret"], ret, "{req}");
        assert_eq!(returns[0]["data"], data, "{req}");
    }
    // The running read completed only after the write that fed it.
    let pos = |pred: &dyn Fn(&Value) -> bool| events.iter().position(pred).unwrap();
    let cancel_a = pos(&|e| e["event"] == "aio_cancel" && e["req"] == "A");
    let write_hello = pos(&|e| e["event"] == "pipe_write" && e["data"] == "hello\n");
    let return_a = pos(&|e| e["event"] == "aio_return" && e["req"] == "A");
    assert!(cancel_a < write_hello && write_hello < return_a);
    // A worker thread, not main, was seen blocked in read().
    for w in events.iter().filter(|e| e["event"] == "worker_running") {
        assert!(w["tid"].is_i64(), "worker seen in /proc: {w}");
        assert_ne!(w["tid"], i64::from(pid), "glibc's worker is not the main thread");
    }
}

#[test]
fn text_output_shows_the_table() {
    let out = bin().env("NO_COLOR", "1").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("aio_cancel returned"), "{text}");
    assert!(
        text.contains("0 AIO_CANCELED")
            && text.contains("1 AIO_NOTCANCELED")
            && text.contains("2 AIO_ALLDONE")
    );
    assert!(!text.contains('\x1b'), "no colour with NO_COLOR");
}

#[test]
fn help_and_usage_errors() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Examples:") && help.contains("AIO_NOTCANCELED"));
    let out = bin().arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().arg("/no/such/file").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "aio-cancel takes no paths");
}

#[test]
fn version_and_exit_status_are_documented() {
    let out = bin().arg("-V").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("aio-cancel {}", env!("CARGO_PKG_VERSION"))
    );
    let help = String::from_utf8(bin().arg("--help").output().unwrap().stdout).unwrap();
    assert!(help.contains("Exit status: 0 when the table is complete"), "{help}");
}
