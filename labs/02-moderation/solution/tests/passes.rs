//! The reference solution passes every check of the lab's checker.
#![allow(clippy::unwrap_used)] // test helpers: a failure here is a failed test

use std::process::Command;

#[test]
fn the_solution_passes_every_check() {
    let checker = fixtures::bins::binary("moderation-check");
    let out =
        Command::new(checker).arg("--").arg(env!("CARGO_BIN_EXE_moderation-solution")).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report.contains("score: 16/16 - every check passed"), "{report}");
}
