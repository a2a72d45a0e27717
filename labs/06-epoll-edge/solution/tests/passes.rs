//! The reference solutions, Rust and C, pass every check of the lab's checker.

use lab_marking::marking::{build_c_solution, mark_with};
use std::path::Path;

const CHECKER: &str = "epoll-edge-check";
const FULL_MARKS: &str = "score: 30/30 - every check passed";

#[test]
fn the_rust_solution_passes_every_check() {
    let (code, report) = mark_with(CHECKER, Path::new(env!("CARGO_BIN_EXE_epoll-edge-solution")));
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains(FULL_MARKS), "{report}");
}

#[test]
fn the_c_solution_passes_every_check() {
    let Some(program) = build_c_solution(concat!(env!("CARGO_MANIFEST_DIR"), "/c"), "epoll_echo_c") else {
        return;
    };
    let (code, report) = mark_with(CHECKER, &program);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains(FULL_MARKS), "{report}");
}
