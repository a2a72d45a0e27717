//! Runs the built aio-poll-loop binary: bytes, polls, overlap, lio_listio, bad inputs.

#![allow(clippy::unwrap_used)] // tests may unwrap: a failure here is a test failure

use common::aio::{checksum, sample_text};
use serde_json::Value;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aio-poll-loop"));
    c.env("NO_COLOR", "1");
    c
}

fn json_ok(args: &[&str]) -> Vec<Value> {
    let run = test_harness::demo::run_json(env!("CARGO_BIN_EXE_aio-poll-loop"), args);
    run.assert_clean_success();
    run.events
}

fn events<'a>(all: &'a [Value], name: &str, run: &str) -> Vec<&'a Value> {
    all.iter().filter(|e| e["event"] == name && (run.is_empty() || e["run"] == run)).collect()
}

/// Temporary files, removed on drop.
struct Files(Vec<PathBuf>);
impl Files {
    fn new(tag: &str, contents: &[Vec<u8>]) -> Self {
        let dir = std::env::temp_dir();
        let paths: Vec<PathBuf> = contents
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = dir.join(format!("aio-poll-loop-test-{}-{tag}-{i}.txt", std::process::id()));
                std::fs::write(&p, c).unwrap();
                p
            })
            .collect();
        Files(paths)
    }
    fn args(&self) -> Vec<&str> {
        self.0.iter().map(|p| p.to_str().unwrap()).collect()
    }
}
impl Drop for Files {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[test]
fn slow_device_bytes_match_polls_happen_and_reads_overlap_processing() {
    let all = json_ok(&["--inputs", "3", "--chunk-ms", "30", "--process-ms", "40"]);
    assert_eq!(all[0]["event"], "demo");
    assert_eq!(all[1]["kind"], "simulated_device");
    for run in ["overlap", "baseline"] {
        let processed = events(&all, "process", run);
        assert_eq!(processed.len(), 3, "{run}");
        for (i, p) in processed.iter().enumerate() {
            assert_eq!(p["input"], i);
            let want = sample_text(i, 16 * 1024);
            assert_eq!(p["bytes"], want.len());
            assert_eq!(p["checksum"], format!("{:016x}", checksum(&want)), "{run} input {i}");
        }
    }
    // The read of input i+1 was submitted before input i was processed.
    let pos = |name: &str, input: usize| {
        all.iter().position(|e| e["event"] == name && e["run"] == "overlap" && e["input"] == input).unwrap()
    };
    assert!(pos("aio_read", 1) < pos("process", 0));
    assert!(pos("aio_read", 2) < pos("process", 1));
    // Reads (120 ms) outlast processing (40 ms): aio_error said EINPROGRESS.
    let polls: u64 = events(&all, "wait_done", "").iter().map(|e| e["polls"].as_u64().unwrap()).sum();
    assert!(polls > 0, "polls counted above 0");
    // Each aio_return once per asynchronous read.
    assert_eq!(events(&all, "aio_return", "overlap").len(), 2);
    // The timeline: read 2 lies beside process 1.
    let tl = all.iter().find(|e| e["event"] == "timeline").unwrap();
    let bar =
        |label: &str| tl["bars"].as_array().unwrap().iter().find(|b| b["label"] == label).unwrap().clone();
    let (read2, process1) = (bar("read 2"), bar("process 1"));
    assert!(read2["start_ms"].as_f64().unwrap() < process1["end_ms"].as_f64().unwrap());
    let s = all.iter().find(|e| e["event"] == "speedup").unwrap();
    assert!(s["measured"].as_f64().unwrap() > 1.0, "overlap beats the baseline: {s}");
    assert!(s["ideal"].as_f64().unwrap() >= s["ideal_n"].as_f64().unwrap());
    assert!(s["baseline_ms"].as_f64().unwrap() > s["overlap_ms"].as_f64().unwrap());
}

#[test]
fn real_files_are_read_exactly() {
    let contents: Vec<Vec<u8>> =
        vec![b"one\n".to_vec(), sample_text(7, 100_000), vec![0xff, 0, 1, 2, b'\n'], b"no newline".to_vec()];
    let files = Files::new("exact", &contents);
    let all = json_ok(&[&["--process-ms", "0"][..], &files.args()].concat());
    let processed = events(&all, "process", "overlap");
    assert_eq!(processed.len(), contents.len());
    for (p, c) in processed.iter().zip(&contents) {
        assert_eq!(p["bytes"], c.len());
        assert_eq!(p["checksum"], format!("{:016x}", checksum(c)));
    }
    assert_eq!(processed[0]["lines"], 1);
    assert_eq!(processed[3]["words"], 2);
}

#[test]
fn wait_suspend_uses_aio_suspend() {
    let all = json_ok(&["--wait", "suspend", "--inputs", "2", "--chunk-ms", "30", "--process-ms", "0"]);
    let waits = events(&all, "wait_done", "");
    assert!(!waits.is_empty());
    for w in waits {
        assert_eq!(w["method"], "aio_suspend");
        assert!(w["suspends"].as_u64().unwrap() >= 1, "the read was still running: {w}");
    }
}

#[test]
fn list_mode_uses_lio_listio_wait_and_nowait_with_one_notification() {
    let all = json_ok(&["--list", "--inputs", "3", "--chunk-ms", "20", "--process-ms", "0"]);
    let lio = events(&all, "lio_listio", "");
    let modes: Vec<&str> = lio.iter().map(|e| e["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["LIO_WAIT", "LIO_NOWAIT"]);
    // LIO_WAIT blocks until the reads are done (about one read: 80 ms), LIO_NOWAIT does not.
    assert!(lio[0]["ms"].as_f64().unwrap() >= 60.0, "{}", lio[0]);
    assert!(lio[1]["ms"].as_f64().unwrap() < 60.0, "{}", lio[1]);
    let notes = events(&all, "list_notification", "");
    assert_eq!(notes.len(), 1, "one notification for the whole list");
    assert_ne!(notes[0]["tid"], notes[0]["main_tid"]);
    for mode in ["LIO_WAIT", "LIO_NOWAIT"] {
        let processed = events(&all, "process", mode);
        assert_eq!(processed.len(), 3);
        for (i, p) in processed.iter().enumerate() {
            assert_eq!(p["checksum"], format!("{:016x}", checksum(&sample_text(i, 16 * 1024))));
        }
    }
}

fn fails_with(args: &[&str], needle: &str) {
    let out = bin().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one error line: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
}

#[test]
fn bad_inputs_give_one_error_line() {
    let ok = Files::new("bad", &[b"fine\n".to_vec(), Vec::new()]);
    let dir = std::env::temp_dir();
    fails_with(&[ok.args()[0], "/definitely/not/here"], "ENOENT");
    fails_with(&[ok.args()[0], dir.to_str().unwrap()], "EISDIR");
    fails_with(&[ok.args()[0], ok.args()[1]], "file is empty");
    let out = bin().args(["--wait", "sometimes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_file_that_shrinks_before_its_read_is_an_error_with_a_read_in_flight() {
    let contents: Vec<Vec<u8>> = (0..4).map(|i| sample_text(i, 50_000)).collect();
    let files = Files::new("shrink", &contents);
    let mut child = bin()
        .args(["--json", "--process-ms", "400"])
        .args(files.args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until every file has been checked (the "source" event), then shrink the third:
    // its aio_read comes after input 1 has been processed (400 ms later).
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("\"event\":\"source\"") {
            break;
        }
    }
    std::fs::write(&files.0[2], b"short\n").unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("shrank") && err.contains("got 6 of 50000 bytes"), "{err}");
    assert!(!err.contains("panicked"));
    // Input 4's read was in flight when the error came (submitted, never returned).
    assert!(rest.iter().any(|l| l.contains("\"event\":\"aio_read\"") && l.contains("\"input\":3")));
}

#[test]
fn help_has_examples() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Examples:") && help.contains("--wait") && help.contains("--list"));
}
