//! The checker against the starter: it keeps the base protocol (so `chat-basics`
//! passes) and fails each moderation check with the line it got instead.
#![allow(clippy::unwrap_used)] // test helpers: a failure here is a failed test

use serde_json::Value;
use std::process::Command;

#[test]
fn the_starter_fails_each_moderation_check_and_says_what_it_got() {
    let starter = test_harness::bins::binary("moderation");
    let out = Command::new(env!("CARGO_BIN_EXE_moderation-check"))
        .args(["--json", "--"])
        .arg(starter)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let checks: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "check")
        .collect();
    let failed: Vec<&str> =
        checks.iter().filter(|c| c["passed"] == false).map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(failed, ["private-messages", "kick", "ban", "operator-only"], "{checks:#?}");
    for check in &checks[2..] {
        let detail = check["detail"].as_str().unwrap();
        assert!(detail.contains("* unknown command /"), "{detail}");
    }
}

#[test]
fn a_program_that_exits_at_once_is_failed_at_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_moderation-check")).args(["--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report
            .contains("FAIL starts (0/1): it exited (exit status 0) without printing `listening on IP:PORT`"),
        "{report}"
    );
    assert!(report.contains("FAIL ban (0/4): not run: the server did not start"), "{report}");
}
