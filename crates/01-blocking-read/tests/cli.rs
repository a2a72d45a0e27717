//! Runs the blocking-read binary and checks what it reports.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use serde_json::Value;
use std::process::{Command, Output};

fn json(args: &[&str]) -> test_harness::demo::DemoRun {
    let run = test_harness::demo::run_json(env!("CARGO_BIN_EXE_blocking-read"), args);
    run.assert_clean_success();
    run
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blocking-read")).args(args).output().unwrap()
}

fn find<'a>(events: &'a [Value], name: &str, source: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name && e["source"] == source).collect()
}

#[test]
fn json_events_show_file_at_once_and_pipe_and_socket_blocking() {
    let out = json(&[]);
    let events = &out.events;
    assert_eq!(events[0]["event"], "demo");

    let file_reads = find(events, "read_returned", "file");
    assert_eq!(file_reads.len(), 2);
    assert_eq!(file_reads[0]["bytes"], 26);
    assert_eq!(file_reads[1]["bytes"], 0);

    for source in ["pipe", "socket"] {
        let reads = find(events, "read_returned", source);
        assert_eq!(reads.len(), 2, "{source}");
        let blocked = reads[0]["blocked_ms"].as_f64().unwrap();
        assert!(blocked >= 800.0, "{source} read blocked only {blocked} ms");
        assert!(reads[0]["data"].as_str().unwrap().starts_with("hello through a"), "{source}");
        // A sleeping thread uses next to no CPU: allow a generous 30% of the wait.
        let cpu = reads[0]["cpu_ms"].as_f64().unwrap();
        assert!(cpu < blocked * 0.3, "{source}: {cpu} ms CPU while blocked {blocked} ms");
        assert_eq!(reads[1]["eof"], true, "{source}");
    }
    assert_eq!(events.last().unwrap()["event"], "done");
}

#[test]
fn a_named_file_is_read_exactly() {
    let path = std::env::temp_dir().join(format!("blocking-read-test-{}", std::process::id()));
    let contents: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &contents).unwrap();
    let out = json(&["--delay-ms", "10", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    let events = &out.events;
    let done = find(events, "file_done", "file");
    assert_eq!(done[0]["bytes"], 10_000);
    // 10 000 bytes with a 4096-byte buffer: 4096 + 4096 + 1808, then 0.
    assert_eq!(done[0]["calls"], 4);
}

#[test]
fn missing_file_is_one_error_line_with_enoent_and_exit_1() {
    let missing = std::env::temp_dir().join(format!("no-such-file-{}", std::process::id()));
    let out = run(&[missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, format!("error: open {}: ENOENT (No such file or directory)\n", missing.display()));
}

#[test]
fn a_directory_fails_in_read_with_eisdir() {
    let out = run(&["/"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: read /: EISDIR (Is a directory)\n");
}

#[test]
fn bad_usage_exits_2() {
    let out = run(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--delay-ms", "soon"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Runs the demo on a pseudo-terminal with `script`, so stdout is a terminal.
fn run_on_terminal(no_color: bool) -> Option<String> {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{} --delay-ms 10", env!("CARGO_BIN_EXE_blocking-read")), "/dev/null"]);
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    let Some(coloured) = run_on_terminal(false) else {
        eprintln!("SKIPPED: `script` (util-linux) is not installed, cannot make a terminal");
        return;
    };
    assert!(coloured.contains("\x1b["), "expected colour on a terminal: {coloured}");
    let plain = run_on_terminal(true).unwrap();
    assert!(!plain.contains("\x1b["), "NO_COLOR must turn colour off: {plain}");
    // And a pipe (the other tests) never gets colour.
    assert!(!String::from_utf8_lossy(&run(&["--delay-ms", "10"]).stdout).contains('\x1b'));
}
