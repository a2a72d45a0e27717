//! Runs the built aio-callback binary: callbacks on other threads, once each; signals;
//! bytes; bad inputs.

#![allow(clippy::unwrap_used)] // tests may unwrap: a failure here is a test failure

use common::aio::{checksum, sample_text};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aio-callback"));
    c.env("NO_COLOR", "1");
    c
}

fn json_ok(args: &[&str]) -> Vec<Value> {
    let run = test_harness::demo::run_json(env!("CARGO_BIN_EXE_aio-callback"), args);
    run.assert_clean_success();
    run.events
}

fn named<'a>(all: &'a [Value], name: &str) -> Vec<&'a Value> {
    all.iter().filter(|e| e["event"] == name).collect()
}

const SIZES: [usize; 3] = [4096, 12288, 8192];

#[test]
fn every_callback_runs_once_on_a_thread_that_is_not_main() {
    let all = json_ok(&["--chunk-ms", "40"]);
    let main_tid = named(&all, "main_thread")[0]["tid"].as_i64().unwrap();
    let callbacks = named(&all, "callback");
    assert_eq!(callbacks.len(), 3);
    for (i, &size) in SIZES.iter().enumerate() {
        let mine: Vec<_> = callbacks.iter().filter(|c| c["input"] == i).collect();
        assert_eq!(mine.len(), 1, "input {i}: exactly one callback");
        let c = mine[0];
        assert_ne!(c["tid"].as_i64().unwrap(), main_tid, "callback thread differs from main's");
        assert_eq!(c["main_tid"].as_i64().unwrap(), main_tid);
        let want = sample_text(i, size);
        assert_eq!(c["ret"], want.len());
        assert_eq!(c["checksum"], format!("{:016x}", checksum(&want)));
    }
    // Completion order follows latency (1, 3, 2 chunks), not submission order.
    let order: Vec<u64> = callbacks.iter().map(|c| c["input"].as_u64().unwrap()).collect();
    assert_eq!(order, [0, 2, 1]);
    assert_eq!(named(&all, "main_received").len(), 3);
    let done = named(&all, "done")[0];
    assert_eq!(done["completions"], 3);
}

#[test]
fn signal_mode_collects_each_completion_on_main_with_sigwaitinfo() {
    let all = json_ok(&["--signal", "--chunk-ms", "40"]);
    let main_tid = named(&all, "main_thread")[0]["tid"].as_i64().unwrap();
    let signals = named(&all, "signal");
    assert_eq!(signals.len(), 3);
    let mut values: Vec<u64> = signals.iter().map(|s| s["value"].as_u64().unwrap()).collect();
    values.sort_unstable();
    assert_eq!(values, [0, 1, 2], "one queued signal per completion");
    for s in &signals {
        assert_eq!(s["si_code"], -4, "SI_ASYNCIO");
        assert_eq!(s["tid"].as_i64().unwrap(), main_tid);
    }
    let collected = named(&all, "collected");
    assert_eq!(collected.len(), 3);
    for c in collected {
        let i = usize::try_from(c["input"].as_u64().unwrap()).unwrap();
        assert_eq!(c["checksum"], format!("{:016x}", checksum(&sample_text(i, SIZES[i]))));
        assert_eq!(c["tid"].as_i64().unwrap(), main_tid);
    }
    assert!(named(&all, "callback").is_empty());
}

struct Files(Vec<PathBuf>);
impl Files {
    fn new(tag: &str, contents: &[Vec<u8>]) -> Self {
        Files(
            contents
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let p = std::env::temp_dir()
                        .join(format!("aio-callback-test-{}-{tag}-{i}", std::process::id()));
                    std::fs::write(&p, c).unwrap();
                    p
                })
                .collect(),
        )
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
fn real_files_are_read_exactly_in_both_modes() {
    let contents = vec![b"alpha\n".to_vec(), sample_text(9, 300_000), vec![0, 1, 2, 255]];
    let files = Files::new("exact", &contents);
    for (mode, event) in [(None, "callback"), (Some("--signal"), "collected")] {
        let mut args = files.args();
        if let Some(m) = mode {
            args.push(m);
        }
        let all = json_ok(&args);
        let got = named(&all, event);
        assert_eq!(got.len(), contents.len());
        for g in got {
            let i = usize::try_from(g["input"].as_u64().unwrap()).unwrap();
            assert_eq!(g["bytes"], contents[i].len());
            assert_eq!(g["checksum"], format!("{:016x}", checksum(&contents[i])));
        }
    }
}

#[test]
fn bad_inputs_give_one_error_line() {
    let ok = Files::new("bad", &[b"fine\n".to_vec(), Vec::new()]);
    let dir = std::env::temp_dir();
    let cases: [(&str, &str); 3] = [
        ("/definitely/not/here", "ENOENT"),
        (dir.to_str().unwrap(), "EISDIR"),
        (ok.args()[1], "file is empty"),
    ];
    for signal in [false, true] {
        for (path, needle) in cases {
            let mut cmd = bin();
            cmd.args([ok.args()[0], path]);
            if signal {
                cmd.arg("--signal");
            }
            let out = cmd.output().unwrap();
            assert_eq!(out.status.code(), Some(1));
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
        }
    }
    assert_eq!(bin().arg("--bogus").output().unwrap().status.code(), Some(2));
}

/// A file that delivers fewer bytes than its size said: the read comes back short
/// and the demo stops with one error line instead of using a half-filled buffer.
/// A sysfs attribute does this every time (stat says 4096 bytes, a read gives a few
/// dozen), which makes the shrinking file deterministic.
#[test]
fn a_file_shorter_than_its_size_is_one_error_line() {
    let short = "/sys/kernel/mm/transparent_hugepage/enabled";
    if !std::path::Path::new(short).exists() {
        eprintln!("SKIPPED: {short} is not here to stand in for a file that shrinks");
        return;
    }
    let ok = Files::new("shrink", &[b"fine\n".to_vec()]);
    for signal in [false, true] {
        let mut cmd = bin();
        cmd.args([ok.args()[0], short]);
        if signal {
            cmd.arg("--signal");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: read enabled: got ") && err.contains("the input shrank"), "{err}");
    }
}

#[test]
fn help_has_examples() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Examples:") && help.contains("--signal") && help.contains("SIGEV_THREAD"));
}
