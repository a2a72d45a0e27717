//! A signal that interrupts a wait is retried or handled, never fatal by accident.
//!
//! EINTR is injected with strace's fault injection (`-e inject=CALL:error=EINTR:when=..`)
//! into each demo's wait call, and each demo is stopped (SIGSTOP) in the middle of its
//! run and continued (SIGCONT). Either way it must exit 0 with the same results as an
//! undisturbed run: the same event names (apart from the ones that report the
//! interruption or depend on timing) and the same result fields.
//!
//! Where the injection goes, and why there:
//! - select, pselect, curl-select: `pselect6` (what glibc's select() and pselect() are);
//!   poll and curl-multi: `poll` (curl_multi_wait's, in the system libcurl or the bundled one).
//!   `when=2+3` spares each thread's first call (Rust's startup poll on fds 0-2) and then
//!   fails every third one (for curl-multi, only up to its 60th: see its test).
//! - blocking-read: the main thread's `read` on the pipe that waits for the writer, and
//!   the one after it that reports end of file. The dynamic loader also reads (libraries)
//!   before main(), so a dry run finds which of the main thread's reads is the pipe's.
//! - aio-poll-loop: its poll loop's sleeps (`clock_nanosleep`), and the glibc worker's
//!   third `pread64` (glibc retries it at once, so the request must still complete with
//!   the same bytes; failing every call from then on would make that retry loop spin).
//! - aio-callback --signal: `rt_sigtimedwait`, the demo's own wait for the completion
//!   signal. (Its default mode waits on a channel, which is a futex, and aio-cancel's
//!   aio_suspend is a futex too: injecting an error into futex skips the call, so a
//!   skipped FUTEX_WAKE would lose a wakeup, which no signal can do. Not meaningful.)
//! - aio-cancel: the worker's third `pread64` (the loader's two on the main thread are
//!   spared: strace counts calls per thread).
//! - nonblocking-read: its polling loop waits in no system call (that is its point: its
//!   O_NONBLOCK reads return at once, and cannot be interrupted), so only the blocking
//!   read it opens part 2 with, as a baseline, gets EINTR (twice).

#![allow(clippy::unwrap_used)] // tests may unwrap: a failure here is a test failure

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use test_harness::bins::binary;
use test_harness::demo::{parse_events, run_json, HARD_LIMIT};
use test_harness::strace::{self, Call, Traced};

/// A demo run, and what of its output must not change when it is interrupted.
struct Demo {
    name: &'static str,
    args: &'static [&'static str],
    /// The result events and the fields of each that must be the same in every run.
    results: &'static [(&'static str, &'static [&'static str])],
    /// The event after which it is stopped with SIGSTOP.
    stop_after: &'static str,
}

/// Events that report an interruption or whose number depends on timing.
const TIMING_EVENTS: [&str; 4] = ["interrupted", "still_waiting", "still_polling", "aio_suspend_timeout"];

const CHAT_RESULTS: &[(&str, &[&str])] = &[
    ("client_received", &["client", "exact", "lines"]),
    ("left", &["nick", "reason", "unsent"]),
    ("scenario_check", &["clients", "lines", "ok"]),
];
const CURL_RESULTS: &[(&str, &[&str])] = &[
    ("transfer_done", &["id", "http_status", "bytes", "ok", "curl_code"]),
    ("summary", &["completed", "failed", "transfers", "mode"]),
];

const BLOCKING_READ: Demo = Demo {
    name: "blocking-read",
    args: &[],
    results: &[("read_returned", &["source", "fd", "bytes", "data", "eof"])],
    stop_after: "read_start",
};
const NONBLOCKING_READ: Demo = Demo {
    name: "nonblocking-read",
    args: &[],
    results: &[
        ("nowait_read", &["when", "result"]),
        ("recv_returned", &["bytes", "errno", "data"]),
        ("done", &["accept_errno", "file_eagain", "file_nowait_eagain"]),
    ],
    stop_after: "set_nonblocking",
};
const SELECT: Demo = Demo { name: "select", args: &[], results: CHAT_RESULTS, stop_after: "accepted" };
const PSELECT: Demo = Demo { name: "pselect", args: &[], results: CHAT_RESULTS, stop_after: "accepted" };
const POLL: Demo = Demo { name: "poll", args: &[], results: CHAT_RESULTS, stop_after: "accepted" };
const CURL_MULTI: Demo =
    Demo { name: "curl-multi", args: &[], results: CURL_RESULTS, stop_after: "multi_wait" };
const CURL_SELECT: Demo =
    Demo { name: "curl-select", args: &[], results: CURL_RESULTS, stop_after: "select" };
const AIO_POLL_LOOP: Demo = Demo {
    name: "aio-poll-loop",
    args: &[],
    results: &[("aio_return", &["input", "label", "ret", "run"]), ("speedup", &["inputs", "wait"])],
    stop_after: "aio_read",
};
const AIO_CALLBACK: Demo = Demo {
    name: "aio-callback",
    args: &[],
    results: &[("main_received", &["input"]), ("done", &["completions", "mode"])],
    stop_after: "aio_read",
};
const AIO_CALLBACK_SIGNAL: Demo = Demo { args: &["--signal"], ..AIO_CALLBACK };
const AIO_CANCEL: Demo = Demo {
    name: "aio-cancel",
    args: &[],
    results: &[
        ("aio_return", &["req", "ret", "status", "data"]),
        ("truth_table", &["rows"]),
        ("done", &["as_glibc", "requests", "surprises"]),
    ],
    stop_after: "worker_running",
};

/// The values of a demo's result fields, one string per event, sorted (the order of
/// events on different threads may differ from run to run).
fn results(demo: &Demo, events: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, fields) in demo.results {
        for e in events.iter().filter(|e| e["event"] == *name) {
            let picked: Vec<String> = fields.iter().map(|f| format!("{f}={}", e[*f])).collect();
            out.push(format!("{name}: {}", picked.join(" ")));
        }
    }
    out.sort();
    out
}

/// Event names, without the ones that depend on timing or report an interruption.
fn names(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .filter_map(|e| e["event"].as_str())
        .filter(|n| !TIMING_EVENTS.contains(n))
        .map(str::to_string)
        .collect()
}

/// Asserts that a disturbed run reached the same results as the undisturbed one.
fn assert_same_results(demo: &Demo, how: &str, base: &[Value], got: &[Value]) {
    assert_eq!(names(base), names(got), "{} {how}: different events", demo.name);
    let (want, have) = (results(demo, base), results(demo, got));
    assert!(!want.is_empty(), "{}: no result events in the undisturbed run", demo.name);
    assert_eq!(want, have, "{} {how}: different results", demo.name);
}

/// The undisturbed run everything is compared with: its binary and events. Made once
/// per demo and arguments, for the EINTR test and the SIGSTOP test alike.
fn baseline(demo: &Demo) -> (PathBuf, Arc<Vec<Value>>) {
    type Cells = HashMap<String, Arc<OnceLock<Arc<Vec<Value>>>>>;
    static RUNS: Mutex<Option<Cells>> = Mutex::new(None);
    let bin = binary(demo.name);
    let key = format!("{} {:?}", demo.name, demo.args);
    let cell = RUNS.lock().unwrap().get_or_insert_with(HashMap::new).entry(key).or_default().clone();
    let events = cell.get_or_init(|| {
        let run = run_json(bin.to_str().unwrap(), demo.args);
        run.assert_clean_success();
        Arc::new(run.events)
    });
    (bin, events.clone())
}

/// Runs `demo` under strace with EINTR injected into `syscall` at `when` (more pairs
/// in `more`), checks it exits 0 with the baseline's results, and returns the trace
/// and the injected calls (None when strace is missing).
fn inject(demo: &Demo, injections: &[(&str, String)]) -> Option<(Traced, Vec<Call>)> {
    if !strace::available() {
        return None;
    }
    let (bin, base) = baseline(demo);
    let calls: Vec<&str> = injections.iter().map(|(call, _)| *call).collect();
    let mut extra = Vec::new();
    for (call, when) in injections {
        extra.push("-e".to_string());
        extra.push(format!("inject={call}:error=EINTR:when={when}"));
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let run = strace::run(&bin, demo.args, &calls.join(","), &extra)?;
    let injected: Vec<Call> = run.trace.calls.iter().filter(|c| c.injected()).cloned().collect();
    let how = format!("with EINTR injected ({injections:?})");
    assert_eq!(run.code, 0, "{} {how}: exit code {}; stderr: {}", demo.name, run.code, run.stderr);
    assert!(!injected.is_empty(), "{} {how}: strace injected nothing:\n{}", demo.name, run.trace.text);
    assert_same_results(demo, &how, &base, &run.events);
    Some((run, injected))
}

/// One report line for an injection test.
fn report(demo: &Demo, injected: &[Call], handled: &str) {
    let mut per_call: Vec<String> = Vec::new();
    for name in injected.iter().map(|c| c.name.as_str()).collect::<BTreeSet<_>>() {
        let n = injected.iter().filter(|c| c.name == name).count();
        per_call.push(format!("{name} x{n}"));
    }
    let label = format!("{} {}", demo.name, demo.args.join(" "));
    println!(
        "{:<22} EINTR injected: {}; {handled}; exit 0, same results  OK\n{:<22} e.g. {}",
        format!("{}:", label.trim()),
        per_call.join(", "),
        "",
        injected.iter().find(|c| waits(c)).unwrap_or(&injected[0]).text
    );
}

/// False for the zero-timeout checks libcurl makes of single sockets (they never wait).
fn waits(c: &Call) -> bool {
    match c.name.as_str() {
        "pselect6" => c.arg(4) != "{tv_sec=0, tv_nsec=0}",
        "poll" => c.arg(2) != "0",
        _ => true,
    }
}

/// For the chat servers: every injected EINTR on the server's wait call shows as one
/// `interrupted` event (the demo noticed it and went round its loop again).
fn chat_server_eintr(demo: &Demo, call: &str) {
    let Some((run, injected)) = inject(demo, &[(call, "2+3".into())]) else { return };
    let listening = &run.all("listening")[0];
    let chat_fd = listening["chat_fd"].as_i64().unwrap();
    // The server's calls watch the chat listener; the scripted clients' polls do not.
    let on_server = |c: &&Call| {
        c.arg(if call == "poll" { 0 } else { 1 }).contains(&chat_fd.to_string())
            && (call != "poll" || c.arg(0).contains(&format!("{{fd={chat_fd}, events=POLLIN}}")))
    };
    let server = injected.iter().filter(on_server).count();
    assert!(server >= 1, "{}: no EINTR reached the server's {call}", demo.name);
    let interrupted = run.all("interrupted").len();
    assert_eq!(
        interrupted, server,
        "{}: {server} EINTRs injected, {interrupted} interrupted events",
        demo.name
    );
    report(demo, &injected, &format!("{interrupted} interrupted events, the loop went on"));
}

#[test]
fn select_retries_pselect6_after_eintr() {
    chat_server_eintr(&SELECT, "pselect6");
}

#[test]
fn pselect_retries_pselect6_after_eintr() {
    chat_server_eintr(&PSELECT, "pselect6");
}

#[test]
fn poll_retries_poll_after_eintr() {
    chat_server_eintr(&POLL, "poll");
}

#[test]
fn curl_multi_survives_eintr_in_its_wait() {
    if !strace::available() {
        return;
    }
    // The system libcurl and the bundled one (built with HAVE_POLL, .cargo/config.toml)
    // both wait in poll().
    let call = "poll";
    // A bounded range: libcurl makes a fixed number of polls per round (its wait and one
    // check per socket), so "every third" for ever could hit every wait, and the loop
    // would only spin until the end (it still completes, but says little more).
    let Some((run, injected)) = inject(&CURL_MULTI, &[(call, "2..60+3".into())]) else { return };
    // At least one of them is curl_multi_wait's own wait (every socket, a timeout).
    let waits = injected.iter().filter(|c| c.pid == run.trace.main_pid && waits(c)).count();
    assert!(waits >= 1, "no EINTR reached curl_multi_wait's {call}: {injected:?}");
    report(&CURL_MULTI, &injected, "poll() in curl_multi_wait takes EINTR as \"nothing ready\"");
}

#[test]
fn curl_select_retries_pselect6_after_eintr() {
    let Some((run, injected)) = inject(&CURL_SELECT, &[("pselect6", "2+3".into())]) else { return };
    assert!(injected.iter().all(|c| c.pid == run.trace.main_pid && c.last_arg() == "NULL"));
    assert!(injected.iter().any(waits), "no EINTR reached the demo's own select(): {injected:?}");
    report(&CURL_SELECT, &injected, "select() = EINTR is taken as 0 ready and the loop goes on");
}

#[test]
fn blocking_read_retries_read_after_eintr() {
    if !strace::available() {
        return;
    }
    let demo = &BLOCKING_READ;
    // A dry run: which of the main thread's reads (counting from 1) is the pipe's?
    let Some(dry) = strace::run(&binary(demo.name), demo.args, "read", &[]) else { return };
    let main_reads: Vec<&Call> = dry.trace.named("read").filter(|c| c.pid == dry.trace.main_pid).collect();
    let nth = 1 + main_reads.iter().position(|c| c.arg(1) == "\"hello through a pipe\\n\"").unwrap();
    let pipe_fd = dry.all("pipe")[0]["read_fd"].as_i64().unwrap();
    // Fail the pipe's read, then (two calls on, after the retry that gets the bytes) the
    // read that reports end of file: "nth..nth+2+2" is calls nth and nth+2.
    let Some((run, injected)) = inject(demo, &[("read", format!("{nth}..{}+2", nth + 2))]) else { return };
    assert_eq!(injected.len(), 2, "{:?}", injected);
    assert!(
        injected.iter().all(|c| c.pid == run.trace.main_pid && c.fd() == Some(pipe_fd)),
        "the EINTRs missed the pipe's read({pipe_fd}): {injected:?}"
    );
    // After each EINTR the read is made again: the first retry waits and gets the bytes,
    // the second gets end of file.
    let main_reads: Vec<&Call> = run.trace.named("read").filter(|c| c.pid == run.trace.main_pid).collect();
    assert_eq!(main_reads[nth].arg(1), "\"hello through a pipe\\n\"", "{}", main_reads[nth].text);
    assert_eq!(main_reads[nth + 2].returned(), Some(0), "{}", main_reads[nth + 2].text);
    report(demo, &injected, "both reads were made again: the data read waited and got the bytes, then EOF");
}

/// nonblocking-read's baseline (part 2 opens with one blocking read on a pipe, to
/// compare its CPU time with the polling loop's) retries EINTR like blocking-read does.
#[test]
fn nonblocking_read_baseline_retries_read_after_eintr() {
    if !strace::available() {
        return;
    }
    let demo = &NONBLOCKING_READ;
    let data = "\"data, at last\\n\"";
    let Some(dry) = strace::run(&binary(demo.name), demo.args, "read", &[]) else { return };
    let main_reads: Vec<&Call> = dry.trace.named("read").filter(|c| c.pid == dry.trace.main_pid).collect();
    let nth = 1 + main_reads.iter().position(|c| c.arg(1) == data).unwrap();
    let Some((run, injected)) = inject(demo, &[("read", format!("{nth}..{}", nth + 1))]) else { return };
    assert_eq!(injected.len(), 2, "{:?}", injected);
    let main_reads: Vec<&Call> = run.trace.named("read").filter(|c| c.pid == run.trace.main_pid).collect();
    assert_eq!(main_reads[nth + 1].arg(1), data, "{}", main_reads[nth + 1].text);
    report(demo, &injected, "the blocking baseline read was made again and got the bytes");
}

#[test]
fn aio_poll_loop_survives_eintr_in_its_sleeps_and_the_workers_pread64() {
    let demo = &AIO_POLL_LOOP;
    let Some((run, injected)) = inject(demo, &[("clock_nanosleep", "2+3".into()), ("pread64", "3".into())])
    else {
        return;
    };
    let main = run.trace.main_pid;
    assert!(injected.iter().any(|c| c.name == "clock_nanosleep" && c.pid == main), "{injected:?}");
    // glibc's worker calls pread64 again after EINTR (then read, on a pipe).
    let worker_preads: Vec<&Call> = injected.iter().filter(|c| c.name == "pread64").collect();
    assert!(!worker_preads.is_empty() && worker_preads.iter().all(|c| c.pid != main), "{injected:?}");
    for p in &worker_preads {
        let again = run.trace.named("pread64").find(|c| c.pid == p.pid && c.started_at > p.started_at);
        assert!(again.is_some_and(|c| !c.injected()), "no retry after {}", p.text);
    }
    report(demo, &injected, "sleep() resumes; glibc's worker retries pread64");
}

#[test]
fn aio_callback_retries_sigtimedwait_after_eintr() {
    let demo = &AIO_CALLBACK_SIGNAL;
    let Some((run, injected)) = inject(demo, &[("rt_sigtimedwait", "1..2".into())]) else { return };
    assert!(injected.iter().all(|c| c.pid == run.trace.main_pid), "{injected:?}");
    report(demo, &injected, "wait_signal waited again until its deadline");
}

#[test]
fn aio_cancel_survives_eintr_in_the_workers_pread64() {
    let demo = &AIO_CANCEL;
    let Some((run, injected)) = inject(demo, &[("pread64", "3".into())]) else { return };
    assert!(injected.iter().all(|c| c.pid != run.trace.main_pid), "{injected:?}");
    report(demo, &injected, "glibc's worker retried pread64, the request completed");
}

/// Stops the demo with SIGSTOP right after its `stop_after` event, keeps it stopped for
/// 300 ms, continues it with SIGCONT, and checks it completes with the same results.
///
/// aio-cancel runs for about 15 ms, so now and then it has exited before the signal
/// lands; then the whole run is tried again (up to five times).
fn stop_and_continue(demo: &Demo) {
    let (bin, base) = baseline(demo);
    for attempt in 1..=5 {
        let Some((code, err, events)) = run_stopped_once(demo, &bin) else { continue };
        assert_eq!(code, Some(0), "{} after SIGSTOP/SIGCONT: exit {code:?}; stderr: {err}", demo.name);
        assert!(err.is_empty(), "{}: stderr: {err}", demo.name);
        assert_same_results(demo, "after SIGSTOP/SIGCONT", &base, &events);
        let label = format!("{} {}", demo.name, demo.args.join(" "));
        println!(
            "{:<22} SIGSTOP after {:?}, 300 ms stopped, SIGCONT: exit 0, same results  OK{}",
            format!("{}:", label.trim()),
            demo.stop_after,
            if attempt > 1 {
                format!(" (run {attempt}: it had finished before the signal in the others)")
            } else {
                String::new()
            }
        );
        return;
    }
    panic!("{}: five runs, and each ended before SIGSTOP after {:?} landed", demo.name, demo.stop_after);
}

/// One run, stopped and continued: its exit code, stderr and events, or None when it
/// was never seen stopped (it had finished already).
fn run_stopped_once(demo: &Demo, bin: &Path) -> Option<(Option<i32>, String, Vec<Value>)> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(demo.args)
        .arg("--json")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id() as i32);
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (seen_tx, seen_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let name =
                serde_json::from_str::<Value>(&line).map(|e| e["event"].to_string()).unwrap_or_default();
            let _ = seen_tx.send(name.trim_matches('"').to_string());
            lines.push(line);
        }
        lines
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).map(|_| text)
    });
    // Wait for the moment, stop it there, and check that it really is stopped.
    let mut stopped = false;
    while let Ok(name) = seen_rx.recv_timeout(Duration::from_secs(10)) {
        if name == demo.stop_after {
            kill(pid, Signal::SIGSTOP).unwrap();
            stopped = wait_for_state(pid, 'T');
            if stopped {
                std::thread::sleep(Duration::from_millis(300));
            }
            kill(pid, Signal::SIGCONT).unwrap();
            break;
        }
    }
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HARD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish after SIGSTOP/SIGCONT: a hang", demo.name);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let lines = reader.join().unwrap();
    let err = err_reader.join().unwrap().unwrap();
    stopped.then(|| (status.code(), err, parse_events(lines.join("\n").as_bytes())))
}

/// Waits (up to 2 s) until /proc says the process is in `state` (T: stopped); false
/// at once when it has exited (Z: a zombie, not yet reaped).
fn wait_for_state(pid: Pid, state: char) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
            .unwrap_or_default();
        // "PID (comm) S ...": the state follows the last ')'.
        let now = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
        if now == Some(state) {
            return true;
        }
        if now == Some('Z') || now.is_none() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn every_demo_completes_after_sigstop_and_sigcont() {
    // One thread per demo: they are independent processes, and together take about
    // as long as the slowest one (the machine has few cores, so two at a time).
    let demos = [
        &BLOCKING_READ,
        &NONBLOCKING_READ,
        &SELECT,
        &PSELECT,
        &POLL,
        &CURL_MULTI,
        &CURL_SELECT,
        &AIO_POLL_LOOP,
        &AIO_CALLBACK,
        &AIO_CALLBACK_SIGNAL,
        &AIO_CANCEL,
    ];
    // Build them all first, one cargo at a time.
    for demo in demos {
        binary(demo.name);
    }
    for pair in demos.chunks(3) {
        std::thread::scope(|s| {
            for demo in pair {
                s.spawn(|| stop_and_continue(demo));
            }
        });
    }
}

/// pselect's documented behaviour with a real signal: SIGUSR1 (blocked except inside
/// pselect) ends the wait at once with EINTR, before its timeout; the loop then sees the
/// handler's flag and prints the counters; and the server goes on serving.
#[test]
fn pselect_ends_its_wait_with_eintr_on_a_real_signal_and_checks_the_flag() {
    use offline::chat_clients::{ChatClient, ServerProcess};
    let bin = binary("pselect");
    let server = ServerProcess::start(bin.to_str().unwrap(), &[]).unwrap();
    let mut client = ChatClient::connect("c", server.chat).unwrap();
    client.wait_lines(1, Duration::from_secs(5)).unwrap();
    let events =
        |server: &ServerProcess| -> Vec<Value> { parse_events(server.stdout_so_far().join("\n").as_bytes()) };
    for sent in 1..=3 {
        server.signal(Signal::SIGUSR1).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while events(&server).iter().filter(|e| e["event"] == "counters").count() < sent {
            assert!(Instant::now() < deadline, "no counters event after SIGUSR1 number {sent}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let got = events(&server);
    let kinds: Vec<&str> = got.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|&&k| k == "interrupted").count(), 3, "{kinds:?}");
    for (at, _) in kinds.iter().enumerate().filter(|(_, &k)| k == "counters") {
        // The flag is looked at right after the wait that the signal ended...
        assert_eq!(kinds[at - 1], "interrupted", "{kinds:?}");
        // ...which ended before its timeout: the signal, not the clock, woke it.
        let wait = got[..at - 1].iter().rev().find(|e| e["event"] == "wait").unwrap();
        let waited = got[at - 1]["t_ms"].as_f64().unwrap() - wait["t_ms"].as_f64().unwrap();
        assert!(waited < wait["timeout_ms"].as_f64().unwrap(), "{waited} ms: {wait}");
    }
    // Still serving.
    client.say("/who").unwrap();
    client.wait_for("the /who answer", Duration::from_secs(5), |l| l.starts_with("* online (1)")).unwrap();
    let done = server.stop().unwrap();
    assert!(done.status.success(), "{:?} {}", done.status, done.stderr);
    println!("pselect --listen:      real SIGUSR1 x3: pselect6 = EINTR before its timeout, flag checked (counters), still serving  OK");
}
