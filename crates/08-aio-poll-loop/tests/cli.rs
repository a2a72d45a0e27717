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
    let out = bin().args(["--wait", "sometimes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_empty_file_is_read_to_its_end_like_any_other() {
    let files = Files::new("empty", &[Vec::new(), b"after it\n".to_vec()]);
    let all = json_ok(&files.args());
    // Its one read returned 0 (in both runs), and the file after it was read and
    // processed whole.
    let ended: Vec<_> = all.iter().filter(|e| e["event"] == "input_done" && e["input"] == 0).collect();
    assert_eq!(ended.len(), 2, "{all:?}");
    assert!(ended.iter().all(|e| e["bytes"] == 0 && e["reads"] == 1), "{ended:?}");
    let processed: Vec<_> = all.iter().filter(|e| e["event"] == "process").collect();
    assert!(processed.iter().all(|p| p["bytes"] == 9), "{processed:?}");
    assert!(!processed.is_empty());
    // Nothing but empty files: nothing to process, and no speed-up figure made up.
    let only = Files::new("only-empty", &[Vec::new()]);
    let all = json_ok(&only.args());
    assert!(all.iter().all(|e| e["event"] != "process"), "{all:?}");
    assert_eq!(
        all.iter().filter(|e| e["event"] == "speedup").map(|e| e["blocks"].clone()).next(),
        Some(0.into())
    );
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

/// 50 MiB of text-like bytes, different in every block.
fn big_contents() -> Vec<u8> {
    (0..50u64 << 20)
        .map(|i| match (i.wrapping_mul(2_654_435_761) >> 13) % 20 {
            0 => b'\n',
            1 | 2 => b' ',
            x => b'a' + u8::try_from(x).unwrap(),
        })
        .collect()
}

fn input_done<'a>(all: &'a [Value], run: &str, input: usize) -> &'a Value {
    all.iter().find(|e| e["event"] == "input_done" && e["run"] == run && e["input"] == input).unwrap()
}

/// A 50 MiB file (three buffers and a bit) and /proc files, whose st_size is 0: every
/// byte is read, in blocks until the end, in both runs.
#[test]
fn big_and_special_files_are_read_to_the_end() {
    let big = big_contents();
    let files = Files::new("big", std::slice::from_ref(&big));
    let version = std::fs::read("/proc/version").unwrap();
    let status_lines = std::fs::read("/proc/self/status").unwrap().iter().filter(|&&b| b == b'\n').count();
    let all = json_ok(&["--process-ms", "0", files.args()[0], "/proc/self/status", "/proc/version"]);
    for run in ["overlap", "baseline"] {
        let b = input_done(&all, run, 0);
        assert_eq!(b["bytes"], 50 << 20, "{run}");
        assert_eq!(b["checksum"], format!("{:016x}", checksum(&big)), "{run}");
        assert_eq!(b["reads"], 4, "{run}: 16 + 16 + 16 + 2 MiB, the size known, no read for EOF");
        let status = input_done(&all, run, 1);
        assert_eq!(status["lines"], status_lines, "{run}: /proc/self/status, every line");
        assert_eq!(status["reads"], 2, "{run}: the content, then 0 = end of file");
        let v = input_done(&all, run, 2);
        assert_eq!(v["checksum"], format!("{:016x}", checksum(&version)), "{run}");
    }
    let processed: u64 =
        events(&all, "process", "overlap").iter().map(|p| p["bytes"].as_u64().unwrap()).sum();
    assert_eq!(
        processed,
        (50 << 20) + version.len() as u64 + input_done(&all, "overlap", 1)["bytes"].as_u64().unwrap()
    );
    // The same through lio_listio.
    let list = json_ok(&["--list", "--process-ms", "0", files.args()[0], "/proc/version"]);
    for mode in ["LIO_WAIT", "LIO_NOWAIT"] {
        assert_eq!(input_done(&list, mode, 0)["checksum"], format!("{:016x}", checksum(&big)));
        assert_eq!(input_done(&list, mode, 1)["checksum"], format!("{:016x}", checksum(&version)));
    }
}

/// A cached file reads in microseconds; the timeline must not draw that read as long
/// as the processing the loop was busy with when it finished.
#[test]
fn a_fast_read_is_drawn_short_on_the_timeline() {
    let files = Files::new("fast", &[b"first\n".to_vec(), b"second\n".to_vec()]);
    let all = json_ok(&[&["--process-ms", "300"][..], &files.args()].concat());
    let tl = all.iter().find(|e| e["event"] == "timeline").unwrap();
    let bar =
        |label: &str| tl["bars"].as_array().unwrap().iter().find(|b| b["label"] == label).unwrap().clone();
    let len = |b: &Value| b["end_ms"].as_f64().unwrap() - b["start_ms"].as_f64().unwrap();
    let (read2, process1) = (bar("read 2"), bar("process 1"));
    assert!(len(&process1) >= 300.0, "{process1}");
    assert!(len(&read2) < 100.0, "a cached read is not 300 ms long: {read2}");
}

/// With files, both runs start from the disk: the cache is dropped before each.
#[test]
fn files_are_dropped_from_the_page_cache_before_each_run() {
    let files = Files::new("cache", &[b"one\n".to_vec(), b"two\n".to_vec()]);
    let all = json_ok(&[&["--process-ms", "0"][..], &files.args()].concat());
    let names: Vec<&str> = all
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .filter(|e| ["cache_dropped", "read_blocking"].contains(e))
        .collect();
    assert_eq!(names, ["cache_dropped", "read_blocking", "cache_dropped", "read_blocking", "read_blocking"]);
    assert_eq!(events(&all, "cache_dropped", "")[0]["files"], 2);
    let device = json_ok(&["--inputs", "1", "--chunk-ms", "0", "--process-ms", "0"]);
    assert!(events(&device, "cache_dropped", "").is_empty(), "nothing to drop for the simulated device");
}

#[test]
fn one_of_everything_is_singular() {
    let out = bin().args(["--inputs", "1", "--chunk-ms", "0", "--process-ms", "0"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 input:") && text.contains("1 input of 16 KiB"), "{text}");
    for wrong in ["1 inputs", "1 polls", "1 blocks", "1 lines", "1 words", "1 times"] {
        assert!(!text.contains(wrong), "{wrong:?} in {text}");
    }
    let files = Files::new("one-byte", &[b"x".to_vec(), b"y".to_vec()]);
    let out = bin().args(["--process-ms", "0"]).args(files.args()).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("1 byte into the spare buffer") && text.contains(": 1 byte, 0 lines, 1 word,"),
        "{text}"
    );
    assert!(!text.contains("1 bytes") && !text.contains("1 words"), "{text}");
}

#[test]
fn version_and_exit_status_are_documented() {
    let out = bin().arg("-V").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("aio-poll-loop {}", env!("CARGO_PKG_VERSION"))
    );
    let help = String::from_utf8(bin().arg("--help").output().unwrap().stdout).unwrap();
    assert!(help.contains("Exit status: 0 when every input was read") && help.contains("any size"), "{help}");
}
