//! `just run NAME` and `cargo demo NAME` as a student types them: a typo gets a
//! suggestion, a first build says so before anything else, and Ctrl-C reaches the demo
//! alone, whose own exit status comes back (the shell's prompt returns only after the
//! demo's last line).
#![allow(clippy::unwrap_used)]

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_demo() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_run-demo"));
    cmd.current_dir(root());
    cmd
}

#[test]
fn a_typo_gets_the_nearest_demo_and_exit_2() {
    let out = run_demo().arg("selct").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: no demo named \"selct\"; did you mean \"select\"?"), "{err}");
    let out = run_demo().arg("qqqqqqqqq").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: no demo named \"qqqqqqqqq\"; the demos are:"), "{err}");
}

#[test]
fn the_list_comes_from_demos_toml() {
    let out = run_demo().arg("--list").output().unwrap();
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    let want: Vec<&str> = demo_list::all().iter().map(|d| d.name).collect();
    assert_eq!(names, want);
    let out = run_demo().args(["--get", "poll", "trace"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), demo_list::find("poll").unwrap().trace);
}

/// A build that has something to compile says so, naming the demo, before any of the
/// demo's own output; a build with nothing to compile prints nothing of cargo's.
#[test]
fn a_build_with_work_to_do_says_so_first() {
    // Make aio-cancel's binary out of date without changing its source.
    let main = root().join("crates/10-aio-cancel/src/main.rs");
    let file = std::fs::File::options().append(true).open(&main).unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    let out = run_demo().args(["aio-cancel", "--version"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // First, but for a line saying it waits for another cargo's lock, if one is running.
    let first = err.lines().find(|l| !l.trim_start().starts_with("Blocking waiting")).unwrap_or("");
    assert!(first.starts_with("building aio-cancel (the first run compiles it"), "{err}");
    assert!(err.contains("Compiling aio-cancel"), "{err}");
    let again = run_demo().args(["aio-cancel", "--version"]).output().unwrap();
    let again_err = String::from_utf8_lossy(&again.stderr);
    // Quiet but for a line saying it waits for another cargo's lock, if one is running.
    assert!(again_err.lines().all(|l| l.trim_start().starts_with("Blocking waiting")), "{again_err}");
    assert_eq!(again.stdout, out.stdout);
}

/// Ctrl-C in a terminal signals the whole foreground process group: just, and the demo
/// that run-demo became. pselect says goodbye and exits 0; just must report that 0 and
/// return only once the demo is gone (nothing may print after the prompt is back).
#[test]
fn ctrl_c_through_just_run_gives_the_demos_exit_status() {
    if Command::new("just").arg("--version").output().is_err() {
        println!("SKIPPED: just is not installed");
        return;
    }
    for launcher in [&["just", "run"][..], &["cargo", "demo"][..]] {
        let mut child = Command::new(launcher[0])
            .args(&launcher[1..])
            .args(["pselect", "--listen", "127.0.0.1:0", "--json"])
            .current_dir(root())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = Pid::from_raw(child.id() as i32);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        // Ctrl-C once the server waits (signals blocked, pselect about to unblock them).
        let mut seen = String::new();
        while !seen.contains("\"event\":\"wait\"") {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                panic!("{launcher:?}: ended before its first wait:\n{seen}");
            }
            seen.push_str(&line);
        }
        assert!(seen.starts_with("{\"t_ms\":") && seen.contains("\"event\":\"listening\""), "{seen}");
        killpg(pgid, Signal::SIGINT).unwrap();
        // Everything after the first line, read on a thread: the read ends when the last
        // holder of the pipe (the demo) is gone.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = out.read_to_string(&mut rest);
            let _ = tx.send(rest);
        });
        let status = wait_within(&mut child, Duration::from_secs(20));
        // The launcher has exited: the demo must have too, so the pipe is at its end now.
        let rest = rx.recv_timeout(Duration::from_secs(2)).unwrap_or_else(|_| {
            let _ = killpg(pgid, Signal::SIGKILL);
            panic!("{launcher:?}: the demo still held stdout after the launcher exited")
        });
        assert_eq!(status, Some(0), "{launcher:?} exit status; output:\n{rest}");
        assert!(
            rest.contains("\"signal\":\"SIGINT\""),
            "{launcher:?}: the demo never told of the signal:\n{rest}"
        );
    }
}

fn wait_within(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            panic!("still running {limit:?} after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh clone has nothing built: before cargo's silent first steps, `just run` says
/// that it is compiling, so the first run never looks hung.
#[test]
fn a_fresh_clone_says_it_is_compiling_first() {
    if Command::new("just").arg("--version").output().is_err() {
        println!("SKIPPED: just is not installed");
        return;
    }
    let empty = std::env::temp_dir().join(format!("aio-lab-fresh-target-{}", std::process::id()));
    let mut child = Command::new("just")
        .args(["run", "select"])
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &empty)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap();
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&empty);
    assert!(first.starts_with("first run: compiling"), "{first:?}");
}
