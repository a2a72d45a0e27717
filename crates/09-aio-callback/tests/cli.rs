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
    let cases: [(&str, &str); 2] = [("/definitely/not/here", "ENOENT"), (dir.to_str().unwrap(), "EISDIR")];
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
    // An empty file is no error: its callback reports aio_return = 0, in both modes.
    for signal in [false, true] {
        let mut args = vec![ok.args()[0], ok.args()[1]];
        if signal {
            args.push("--signal");
        }
        let all = json_ok(&args);
        let empty = all.iter().find(|e| e["bytes"] == 0 && e["input"] == 1);
        assert!(empty.is_some(), "no 0-byte result for the empty file: {all:?}");
    }
}

/// A file that delivers fewer bytes than its size said, and still says so afterwards: a
/// sysfs attribute (stat says 4096 bytes, a read gives a few dozen). Its size was only a
/// guess, as /proc's 0 is: it is read to its end, not refused as a file that shrank
/// (that one is `common::aio`'s a_file_ends_short_of_its_size_only_if_it_shrank).
#[test]
fn a_file_shorter_than_its_size_is_read_to_its_end() {
    let short = "/sys/kernel/mm/transparent_hugepage/enabled";
    if !std::path::Path::new(short).exists() {
        eprintln!("SKIPPED: {short} is not here to stand in for a file whose size says too much");
        return;
    }
    let want = std::fs::read(short).unwrap();
    for (mode, event) in [(None, "callback"), (Some("--signal"), "collected")] {
        let all = json_ok(&[&[short][..], mode.as_slice()].concat());
        let last = named(&all, event).into_iter().next_back().unwrap();
        assert_eq!(last["bytes"], want.len(), "{mode:?}");
        assert_eq!(last["checksum"], format!("{:016x}", checksum(&want)), "{mode:?}");
    }
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

/// A 50 MiB file (four 16 MiB reads, each callback starting the next) and /proc files
/// whose st_size is 0, in both modes: every byte, exit 0.
#[test]
fn big_and_special_files_are_read_to_the_end_in_both_modes() {
    let big = big_contents();
    let files = Files::new("big", std::slice::from_ref(&big));
    let version = std::fs::read("/proc/version").unwrap();
    let status_lines = std::fs::read("/proc/self/status").unwrap().iter().filter(|&&b| b == b'\n').count();
    for (mode, event) in [(None, "callback"), (Some("--signal"), "collected")] {
        let all = json_ok(
            &[&[files.args()[0], "/proc/self/status", "/proc/version"][..], mode.as_slice()].concat(),
        );
        let last =
            |input: usize| named(&all, event).into_iter().rfind(|e| e["input"] == input).unwrap().clone();
        let b = last(0);
        assert_eq!(
            (b["bytes"].as_u64(), b["reads"].as_u64(), b["ended"].as_bool()),
            (Some(50 << 20), Some(4), Some(true))
        );
        assert_eq!(b["checksum"], format!("{:016x}", checksum(&big)), "{mode:?}");
        assert_eq!(
            named(&all, event).iter().filter(|e| e["input"] == 0).count(),
            4,
            "one completion per block"
        );
        assert_eq!(last(1)["lines"], status_lines, "{mode:?}: /proc/self/status, every line");
        assert_eq!(last(1)["reads"], 2, "{mode:?}: its content, then 0 = end of file");
        assert_eq!(last(2)["checksum"], format!("{:016x}", checksum(&version)), "{mode:?}");
        assert_eq!(named(&all, "done")[0]["completions"], 3);
    }
}

/// The timeline lists the inputs in the order they were given, not by name and not in
/// the order they finished.
#[test]
fn the_timeline_keeps_the_input_order() {
    let files = Files::new("order", &[b"zulu\n".to_vec(), b"alpha\n".to_vec(), b"mike\n".to_vec()]);
    let renamed: Vec<PathBuf> = ["c-zulu", "a-alpha", "b-mike"]
        .iter()
        .zip(&files.0)
        .map(|(name, p)| {
            let to = p.with_file_name(format!("aio-callback-order-{}-{name}", std::process::id()));
            std::fs::rename(p, &to).unwrap();
            to
        })
        .collect();
    let renamed = Files(renamed);
    let all = json_ok(&renamed.args());
    let tl = all.iter().find(|e| e["event"] == "timeline").unwrap();
    let labels: Vec<String> =
        tl["bars"].as_array().unwrap().iter().map(|b| b["label"].as_str().unwrap().to_string()).collect();
    let want: Vec<String> =
        renamed.0.iter().map(|p| format!("read {}", p.file_name().unwrap().to_str().unwrap())).collect();
    assert_eq!(labels, want);
}

#[test]
fn one_input_is_singular_and_help_has_version_and_exit_status() {
    let files = Files::new("one", &[b"just one\n".to_vec()]);
    let out = bin().args(files.args()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("1 file, checked")
            && text.contains("1 input read")
            && text.contains("1 thread glibc made"),
        "{text}"
    );
    for wrong in ["1 inputs", "1 threads", "thread(s)", "1 lines", "1 words"] {
        assert!(!text.contains(wrong), "{wrong:?} in {text}");
    }
    let out = bin().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("aio-callback {}", env!("CARGO_PKG_VERSION"))
    );
    let help = String::from_utf8(bin().arg("--help").output().unwrap().stdout).unwrap();
    assert!(help.contains("Exit status: 0 when every input was read") && help.contains("any size"), "{help}");
}

#[test]
fn help_has_examples() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Examples:") && help.contains("--signal") && help.contains("SIGEV_THREAD"));
}
