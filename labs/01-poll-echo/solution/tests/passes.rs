//! The reference solutions, Rust and C, pass every check of the lab's checker.
#![allow(clippy::unwrap_used)] // test helpers: a failure here is a failed test

use std::process::Command;

fn marked(program: &str) -> (Option<i32>, String) {
    let checker = fixtures::bins::binary("poll-echo-check");
    let out = Command::new(checker).arg("--").arg(program).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_rust_solution_passes_every_check() {
    let (code, report) = marked(env!("CARGO_BIN_EXE_poll-echo-solution"));
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("score: 14/14 - every check passed"), "{report}");
}

#[test]
fn the_c_solution_passes_every_check() {
    if Command::new("make").arg("--version").output().is_err()
        || Command::new("cc").arg("--version").output().is_err()
    {
        eprintln!("SKIPPED: make or cc not installed");
        return;
    }
    let out = fixtures::bins::target_profile_dir().join("poll_echo_c");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/c");
    let status =
        Command::new("make").args(["-s", "-C", dir]).arg(format!("OUT={}", out.display())).status().unwrap();
    assert!(status.success(), "make failed");
    let (code, report) = marked(out.to_str().unwrap());
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("score: 14/14 - every check passed"), "{report}");
}
