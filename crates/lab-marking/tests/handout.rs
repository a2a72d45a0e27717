//! `just handout DIR` (labs/handout.sh): the student repository holds no solution, no
//! wrong program and no instructors' notes, in any file or any git object; it has one
//! commit; its workspace resolves without the solution crates; and there, the starter
//! builds and is marked (failing, as a starter does).
#![allow(clippy::unwrap_used)] // a test: a failure here should stop it loudly

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_handout_has_no_solution_anywhere_and_marks_its_starter() {
    let root = test_harness::bins::workspace_root();
    if !root.join("labs/handout.sh").is_file() || !root.join(".git").exists() {
        eprintln!("SKIPPED: not in the instructors' repository (this is a handout)");
        return;
    }
    // The same folder every time for this checkout: cargo judges the handout's crates
    // fresh or stale by their paths' mtimes, and a path it has never seen before (or one
    // removed since) can leave it reusing a binary built from another copy.
    let tag = root
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let scratch = std::env::temp_dir().join(format!("aio-lab-handout-test-{tag:016x}"));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let out = Command::new(root.join("labs/handout.sh")).arg(&scratch).arg("class").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = scratch.join("class");
    assert!(String::from_utf8_lossy(&out.stdout).contains("one commit, no solutions"));

    // No solution, variant or mutant in the files, nor in any object git holds.
    let files = git(&dir, &["ls-files"]);
    assert!(files.lines().any(|f| f == "labs/01-poll-echo/starter/src/main.rs"), "{files}");
    assert!(files.lines().any(|f| f == "labs/01-poll-echo/check/src/main.rs"), "the checkers stay");
    // Lab 6's checks are lab 1's, shared in lab-marking, plus its own: all handed out.
    assert!(files.lines().any(|f| f == "labs/06-epoll-edge/starter/src/main.rs"), "{files}");
    assert!(files.lines().any(|f| f == "labs/06-epoll-edge/check/src/edge.rs"), "{files}");
    assert!(files.lines().any(|f| f == "crates/lab-marking/src/echo/checks.rs"), "{files}");
    assert!(!dir.join("labs/06-epoll-edge/solution").exists());
    for f in files.lines() {
        assert!(!f.contains("/solution/") && !f.contains("mutants"), "{f} was handed out");
        assert!(f != "labs/INSTRUCTORS.md" && f != "labs/verify.sh", "{f} was handed out");
    }
    assert!(!dir.join("labs/01-poll-echo/solution").exists());
    assert_eq!(git(&dir, &["rev-list", "--all"]).lines().count(), 1, "one commit");
    let objects = git(&dir, &["rev-list", "--objects", "--all"]);
    assert!(!objects.contains("solution/") && !objects.contains("mutants"), "{objects}");
    // Not even under another name: the C reference's blob is not among the objects.
    let blob = git(&root, &["hash-object", "labs/01-poll-echo/solution/c/poll_echo.c"]);
    assert!(!objects.contains(blob.trim()), "the C reference's content was handed out");

    // The recipes that need solutions only say so, and `ci` no longer runs them.
    let justfile = std::fs::read_to_string(dir.join("justfile")).unwrap();
    assert!(!justfile.contains("labs/verify.sh") && !justfile.contains("labs/handout.sh"), "{justfile}");
    assert!(justfile.contains("labs-verify needs the instructors' repository"), "{justfile}");
    let ci = justfile.lines().find(|l| l.starts_with("ci:")).unwrap();
    assert!(!ci.contains("labs-verify"), "{ci}");
    assert!(justfile.contains("\nlab NAME") && justfile.contains("\ngrade LAB"), "{justfile}");
    assert_eq!(git(&dir, &["status", "--porcelain"]), "", "the handout's tree is its one commit");

    // The workspace resolves without the solution crates.
    let meta = Command::new(env!("CARGO"))
        .current_dir(&dir)
        .args(["metadata", "--no-deps", "--format-version", "1", "-q"])
        .output()
        .unwrap();
    assert!(meta.status.success(), "{}", String::from_utf8_lossy(&meta.stderr));
    let meta = String::from_utf8_lossy(&meta.stdout);
    assert!(
        meta.contains("\"name\":\"poll-echo-check\"") && !meta.contains("-solution\""),
        "solutions listed"
    );

    // There, the starter builds and is marked (it fails the checks the lab is about).
    let target = test_harness::bins::target_profile_dir().parent().unwrap().join("handout-test");
    let mark = Command::new(env!("CARGO"))
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .args(["run", "-q", "-p", "poll-echo-check", "--", "--only", "starts,echo,many-clients"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&mark.stdout);
    assert_eq!(mark.status.code(), Some(1), "{report}\n{}", String::from_utf8_lossy(&mark.stderr));
    assert!(report.contains("marking: ") && report.contains("handout-test/debug/poll-echo"), "{report}");
    assert!(report.contains("score: 3/6 - failed: many-clients"), "{report}");
}
