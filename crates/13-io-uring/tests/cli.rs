//! Runs the io-uring binary for real (the simulated device, real files, /proc files)
//! and checks its `--json` events. Where io_uring is not allowed on this machine, each
//! test says SKIPPED and why, and checks the one-line error instead.

#![allow(clippy::unwrap_used)]

use common::aio::{checksum, sample_text};
use common::sys::uring::Ring;
use nix::errno::Errno;
use serde_json::Value;
use std::process::Command;
use test_harness::demo::run_json;

const BIN: &str = env!("CARGO_BIN_EXE_io-uring");

/// True when io_uring works here; otherwise says SKIPPED (EPERM or ENOSYS only: any
/// other failure of io_uring_setup is a failure of the test).
fn available(test: &str) -> bool {
    match Ring::new(4) {
        Ok(_) => true,
        Err(e @ (Errno::EPERM | Errno::ENOSYS)) => {
            eprintln!("SKIPPED {test}: io_uring_setup fails with {e} here (seccomp, kernel.io_uring_disabled or an old kernel)");
            let out = Command::new(BIN).output().unwrap();
            assert_eq!(out.status.code(), Some(1));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.starts_with("error: io_uring_setup: ") && err.lines().count() == 1, "{err}");
            false
        }
        Err(e) => panic!("io_uring_setup failed with {e}"),
    }
}

fn file_done<'a>(events: &'a [&'a Value], label: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["label"] == label)
        .unwrap_or_else(|| panic!("no file_done for {label}: {events:?}"))
}

#[test]
fn default_run_shows_all_four_parts_and_checks_itself() {
    if !available("default run") {
        return;
    }
    let run = run_json(BIN, &[]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(run.took.as_secs() < 10, "took {:?}", run.took);

    // 1. Four reads in flight; first data back in the order the device answered:
    // input 2 (4 KiB), 4 (8 KiB), 3 (12 KiB), 1 (16 KiB).
    let reads = run.one("reads_done");
    assert_eq!(reads["first_data_order"], serde_json::json!([1, 3, 2, 0]), "{reads}");
    assert_eq!(reads["most_in_flight"], 4);
    let done = run.all("file_done");
    for (i, size) in [16384usize, 4096, 12288, 8192].into_iter().enumerate() {
        let d = file_done(&done, &format!("input {}", i + 1));
        assert_eq!(d["bytes"], size as u64, "{d}");
        assert_eq!(d["checksum"], format!("{:016x}", checksum(&sample_text(i, size))), "{d}");
        assert_eq!(d["reads"], 2, "one read of the data, one of the end of file: {d}");
    }
    // Every read's completion names its tag, and each input's last read returned 0.
    let completions = run.all("completion");
    assert_eq!(completions.iter().filter(|c| c["res"] == 0).count(), 4);
    // ...and that tag is one an earlier io_uring_enter submitted, for the same input
    // and offset: the JSON names every request it hands over.
    let enters = run.all("io_uring_enter");
    let part_1_ends = run.one("reads_done")["t_ms"].as_f64();
    for c in completions.iter().filter(|c| c["t_ms"].as_f64() <= part_1_ends) {
        let asked = enters
            .iter()
            .filter(|e| e["t_ms"].as_f64() <= c["t_ms"].as_f64())
            .flat_map(|e| e["requests"].as_array().unwrap())
            .find(|r| r["user_data"] == c["user_data"]);
        let asked = asked.unwrap_or_else(|| panic!("no io_uring_enter submitted {c}"));
        assert_eq!((&asked["label"], &asked["offset"]), (&c["label"], &c["offset"]), "{c}");
    }
    let submitted: usize = enters.iter().map(|e| e["requests"].as_array().unwrap().len()).sum();
    assert_eq!(submitted, 8, "4 inputs, a read of the data and a read of the end of file each");

    // 2. Double buffering: every input processed in order, faster than without overlap.
    let processed: Vec<u64> = run.all("process").iter().map(|p| p["input"].as_u64().unwrap()).collect();
    assert_eq!(processed, vec![4, 5, 6, 7, 8]);
    let speedup = run.one("speedup");
    assert!(speedup["measured"].as_f64().unwrap() > 1.15, "{speedup}");
    assert!(speedup["of_ideal"].as_f64().unwrap() > 0.8, "{speedup}");

    // 3. The three outcomes of IORING_OP_ASYNC_CANCEL, in order.
    let outcomes: Vec<&str> = run.all("cancel").iter().map(|c| c["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["cancelled", "not_found", "already_running"]);
    let res: Vec<i64> = run.all("cancel").iter().map(|c| c["res"].as_i64().unwrap()).collect();
    assert_eq!(res, [0, -(Errno::ENOENT as i64), -(Errno::EALREADY as i64)]);
    assert!(run.one("worker")["running"].as_str().is_some_and(|w| w.starts_with("iou-wrk")));

    // 4. Linked timeouts: the late read cancelled (-ETIME for its timeout), the other in time.
    let linked = run.all("linked_completion");
    let read = |input: u64| {
        linked.iter().find(|c| c["input"] == input && c["is_read"] == true).unwrap()["res"].clone()
    };
    let timer = |input: u64| {
        linked.iter().find(|c| c["input"] == input && c["is_read"] == false).unwrap()["res"].clone()
    };
    assert_eq!(
        (read(10), timer(10)),
        (Value::from(-(Errno::ECANCELED as i64)), Value::from(-(Errno::ETIME as i64)))
    );
    assert_eq!((read(11), timer(11)), (Value::from(16384), Value::from(-(Errno::ECANCELED as i64))));

    // No thread started by io_uring: the same threads before and after.
    let threads = run.one("threads");
    assert_eq!(threads["user_before"], threads["user_after"], "{threads}");
}

#[test]
fn real_files_are_read_to_their_end_whatever_their_size_says() {
    if !available("real files") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("io-uring-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = sample_text(3, 200_000);
    let big = dir.join("big.txt");
    std::fs::write(&big, &text).unwrap();
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let (big_s, empty_s) = (big.display().to_string(), empty.display().to_string());
    let run = run_json(BIN, &[&big_s, "/proc/self/status", &empty_s, "--depth", "3", "--block-kib", "16"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let done = run.all("file_done");
    let b = file_done(&done, &big_s);
    assert_eq!(b["bytes"], 200_000);
    assert_eq!(b["checksum"], format!("{:016x}", checksum(&text)));
    // 13 blocks of 16 KiB (the last one short), then the read that returns 0.
    assert_eq!(b["reads"], 14, "{b}");
    // /proc/self/status says size 0, yet has lines: read one block at a time to EOF.
    let status = file_done(&done, "/proc/self/status");
    assert!(status["bytes"].as_u64() > Some(100) && status["lines"].as_u64() > Some(10), "{status}");
    let e = file_done(&done, &empty_s);
    assert_eq!((e["bytes"].as_u64(), e["reads"].as_u64()), (Some(0), Some(1)));
    // Never more than --depth reads in flight, and the queue was kept full.
    assert_eq!(run.one("reads_done")["most_in_flight"], 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_paths_and_usage_fail_with_one_line() {
    if !available("bad paths") {
        return;
    }
    for (path, want) in [
        ("/definitely/not/here", "error: open /definitely/not/here: ENOENT"),
        ("/", "error: read /: EISDIR"),
        ("/dev/zero", "error: read /dev/zero: not a regular file"),
    ] {
        let out = Command::new(BIN).arg(path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{path}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(want) && err.lines().count() == 1, "{path}: {err}");
    }
    for args in [
        &["--depth", "0"][..],
        &["--part", "cancel", "/etc/hostname"],
        &["--part", "nope"],
        &["--block-kib", "1"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("Examples:") && text.contains("Exit status:"), "{text}");
}

#[test]
fn where_io_uring_is_forbidden_the_error_says_which_and_why() {
    // strace's fault injection makes io_uring_setup fail as a container's seccomp
    // profile (EPERM) or an old kernel (ENOSYS) would.
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("SKIPPED: strace is not installed (CI installs it)");
        return;
    }
    for (errno, words) in [("EPERM", "io_uring"), ("ENOSYS", "this kernel has no io_uring")] {
        let out = Command::new("strace")
            .args([
                "-f",
                "-qq",
                "-o",
                "/dev/null",
                "-e",
                &format!("inject=io_uring_setup:error={errno}"),
                BIN,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{errno}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{errno}: {err}");
        assert!(err.starts_with(&format!("error: io_uring_setup: {errno} (")), "{err}");
        assert!(err.contains(words), "{err}");
    }
}
