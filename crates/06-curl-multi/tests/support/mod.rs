//! Runs the demo binary with `--json` and reads its events. (The curl-multi and
//! curl-select tests share this file's contents: the two demos keep the same events.)
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of the demo produced.
pub struct Run {
    pub events: Vec<Value>,
    pub stderr: String,
    pub code: i32,
    pub took: Duration,
}

impl Run {
    /// Every event with this name, in order.
    pub fn all(&self, name: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == name).collect()
    }

    /// The one event with this name.
    pub fn one(&self, name: &str) -> &Value {
        let all = self.all(name);
        assert_eq!(all.len(), 1, "expected one {name:?} event, got {}: {:#?}", all.len(), self.events);
        all[0]
    }

    /// The `transfer_done` event of the transfer whose label or URL ends with `tail`.
    pub fn done(&self, tail: &str) -> &Value {
        let found: Vec<&Value> = self
            .all("transfer_done")
            .into_iter()
            .filter(|e| e["url"].as_str().is_some_and(|u| u.ends_with(tail)))
            .collect();
        assert_eq!(found.len(), 1, "expected one transfer_done for {tail:?}: {:#?}", self.events);
        found[0]
    }
}

/// Runs `bin args... --json` with a hard 60 s limit (a hang fails the test instead of
/// stalling it), and parses every stdout line as JSON.
pub fn run(bin: &str, args: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the demo");
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{bin} {args:?} ran for over 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let events = stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect::<Vec<_>>();
    for e in &events {
        assert!(e["t_ms"].is_f64() && e["event"].is_string(), "{e}");
    }
    Run {
        events,
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        code: out.status.code().unwrap_or(-1),
        took,
    }
}

/// Checks the contract both demos keep for the default run: seven transfers started
/// together, each result right, the overlap visible, fds back to where they were.
pub fn check_default_run(run: &Run, mode: &str) {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
    assert_eq!(run.all("demo").len(), 1);
    let started = run.all("transfer_started");
    let done = run.all("transfer_done");
    assert_eq!((started.len(), done.len()), (7, 7));
    // Started together: every transfer was added before the first one finished.
    let last_start = started.iter().map(|e| e["t_ms"].as_f64().unwrap()).fold(0.0, f64::max);
    let first_done = done.iter().map(|e| e["t_ms"].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
    assert!(last_start <= first_done, "{last_start} > {first_done}");
    // Each delay answered 200 with its body, "delayed {ms} ms\n".
    for ms in common::transfer::DEFAULT_DELAYS_MS {
        let d = run.done(&format!("/delay/{ms}"));
        assert_eq!(d["ok"], true, "{d}");
        assert_eq!(d["http_status"], 200, "{d}");
        assert_eq!(d["bytes"], fixtures::http::delay_body(ms).len() as u64, "{d}");
        assert!(d["time_ms"].as_f64().unwrap() >= ms as f64, "{d}");
    }
    let missing = run.done("/status/404");
    assert_eq!((missing["ok"].as_bool(), missing["http_status"].as_u64()), (Some(true), Some(404)));
    assert_eq!(missing["bytes"], fixtures::http::status_body(404).len() as u64);
    let refused = run.done("/refused");
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["curl_error"], "CURLE_COULDNT_CONNECT");
    assert_eq!(refused["curl_code"], 7);
    assert!(refused["http_status"].is_null());
    // The 200 ms transfer finishes before the 1000 ms one, and the run takes far less
    // than the sum of its transfers (generous bounds: about 1.0 s against 3.0 s).
    let end = |tail: &str| run.done(tail)["end_ms"].as_f64().unwrap();
    assert!(end("/delay/200") < end("/delay/1000"));
    let summary = run.one("summary");
    assert_eq!(summary["mode"], mode);
    assert_eq!((summary["transfers"].as_u64(), summary["completed"].as_u64()), (Some(7), Some(6)));
    let (work, span) = (summary["work_ms"].as_f64().unwrap(), summary["span_ms"].as_f64().unwrap());
    assert!(work >= 3000.0, "{summary}");
    assert!(span >= 1000.0 && span < work / 2.0, "{summary}");
    let timeline = run.one("timeline");
    assert_eq!(timeline["bars"].as_array().unwrap().len(), 7);
    assert!(timeline["max_overlap"].as_u64().unwrap() >= 5, "{timeline}");
    // Every handle removed, and no fd left open.
    assert_eq!(run.all("handle_removed").len(), 7);
    let fds = run.one("open_fds");
    assert_eq!(fds["before"], fds["after"], "{fds}");
}

/// The bad-input run: each URL ends with its own outcome and the rest go on.
pub fn check_bad_input(bin: &str) {
    let server = fixtures::http::Server::start().unwrap();
    let refused = format!("http://127.0.0.1:{}/", fixtures::http::refused_port().unwrap());
    let urls = [
        "http://[malformed".to_string(),
        "http://nonexistent.invalid/".to_string(),
        refused,
        server.url("/status/404"),
        server.url("/status/500"),
        server.url("/hang"),
        server.url("/cut"),
        "file:///etc/hostname".to_string(),
        server.url("/delay/100"),
    ];
    let mut args: Vec<&str> = urls.iter().map(String::as_str).collect();
    args.extend(["--timeout", "1"]);
    let run = run(bin, &args);
    // Some transfers completed, so the run as a whole succeeded.
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
    let code = |tail: &str| run.done(tail)["curl_code"].as_i64().unwrap();
    assert_eq!(code("[malformed"), 3); // CURLE_URL_MALFORMAT
    assert_eq!(code("nonexistent.invalid/"), 6); // CURLE_COULDNT_RESOLVE_HOST
    assert_eq!(code(&format!("{}/", urls[2].trim_end_matches('/'))), 7); // CURLE_COULDNT_CONNECT
    assert_eq!(code("/hang"), 28); // CURLE_OPERATION_TIMEDOUT
    assert_eq!(code("/cut"), 18); // CURLE_PARTIAL_FILE
    assert_eq!(code("file:///etc/hostname"), 1); // CURLE_UNSUPPORTED_PROTOCOL
    assert_eq!(run.done("file:///etc/hostname")["bytes"], 0);
    for (tail, status) in [("/status/404", 404), ("/status/500", 500), ("/delay/100", 200)] {
        let d = run.done(tail);
        assert_eq!((d["ok"].as_bool(), d["http_status"].as_u64()), (Some(true), Some(status)), "{d}");
    }
    assert_eq!(run.done("/cut")["bytes"], fixtures::http::CUT_SENT);
    // The timeout cut the hung transfer at about 1 s; the quick ones were not held up.
    let hang = run.done("/hang")["time_ms"].as_f64().unwrap();
    assert!((900.0..5000.0).contains(&hang), "{hang}");
    assert!(run.done("/delay/100")["time_ms"].as_f64().unwrap() < 900.0);
    let fds = run.one("open_fds");
    assert_eq!(fds["before"], fds["after"], "{fds}");
    let summary = run.one("summary");
    assert_eq!((summary["transfers"].as_u64(), summary["completed"].as_u64()), (Some(9), Some(3)));
}

/// Each transfer's status and byte count match what the server says it sent.
pub fn check_results_match_the_server(bin: &str) {
    let server = fixtures::http::Server::start().unwrap();
    let paths =
        ["/bytes/0", "/bytes/1", "/bytes/300000", "/drip/5/50", "/status/500", "/status/204", "/delay/50"];
    let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
    let args: Vec<&str> = urls.iter().map(String::as_str).collect();
    let run = run(bin, &args);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.one("summary")["completed"], 7);
    let served = server.served();
    for path in paths {
        let sent = served.iter().find(|s| s.path == path).unwrap_or_else(|| panic!("{path} not served"));
        let got = run.done(path);
        assert_eq!(got["ok"], true, "{got}");
        assert_eq!(got["http_status"].as_u64(), sent.status.map(u64::from), "{path}");
        assert_eq!(got["bytes"].as_u64(), Some(sent.body_bytes), "{path}");
        assert!(sent.complete, "{path}");
    }
}

/// With `--parallel 2`, never more than two transfers in flight, and the next one
/// starts as soon as one finishes.
pub fn check_parallel_two(bin: &str) {
    let run = run(bin, &["--parallel", "2"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let mut in_flight: i64 = 0;
    let mut most = 0;
    for e in &run.events {
        match e["event"].as_str() {
            Some("transfer_started") => {
                in_flight += 1;
                assert_eq!(e["in_flight"].as_i64(), Some(in_flight), "{e}");
            }
            Some("transfer_done") => in_flight -= 1,
            _ => {}
        }
        most = most.max(in_flight);
        assert!(in_flight <= 2, "{in_flight} in flight at {e}");
    }
    assert_eq!(most, 2);
    assert_eq!(run.one("summary")["most_in_flight"], 2);
    assert_eq!(run.one("timeline")["max_overlap"], 2);
    // The third transfer starts right when the first one to finish (/delay/200) does.
    let first_done = run.all("transfer_done")[0]["t_ms"].as_f64().unwrap();
    let third_start = run.all("transfer_started")[2]["t_ms"].as_f64().unwrap();
    assert!(third_start >= first_done && third_start - first_done < 500.0, "{first_done} {third_start}");
}

/// Every transfer failing is exit code 1 with one error line.
pub fn check_all_failed_exits_1(bin: &str) {
    let refused = format!("http://127.0.0.1:{}/", fixtures::http::refused_port().unwrap());
    let run = run(bin, &[&refused, "http://nonexistent.invalid/"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("error: transfers: every one of the 2 failed"), "{}", run.stderr);
    assert_eq!(run.all("transfer_done").len(), 2);
}

/// Usage errors exit 2, before anything runs.
pub fn check_usage_errors(bin: &str) {
    for args in [
        &["--parallel", "0"][..],
        &["--timeout", "soon"],
        &["--timeout", "0"],
        &["--sequential", "--parallel", "2"],
    ] {
        let out = Command::new(bin).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let help = Command::new(bin).arg("--help").output().unwrap();
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("Exit status: 0 when the run completed"), "{text}");
    assert!(
        text.contains("Examples:") && text.contains("--parallel") && text.contains("--sequential"),
        "{text}"
    );
}

/// The lines of an strace log for one system call, e.g. `pselect6(`.
pub fn strace(bin: &str, args: &[&str], calls: &str) -> Option<String> {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("SKIPPED: strace not installed");
        return None;
    }
    let log = std::env::temp_dir().join(format!("aio-lab-strace-{}-{}", std::process::id(), calls.len()));
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", &format!("trace={calls}"), "-o"])
        .arg(&log)
        .arg(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("ptrace") {
        eprintln!("SKIPPED: strace cannot trace here: {}", stderr.trim());
        return None;
    }
    assert!(out.status.success(), "strace {bin}: {}\n{stderr}\n{text}", out.status);
    Some(text)
}

/// True for a `poll` line shaped like curl_multi_wait's: plain POLLIN/POLLOUT per
/// socket, and a timeout above zero. (libcurl's internal checks ask for
/// POLLRDNORM/POLLWRNORM with timeout 0; Rust's startup poll has events=0.)
pub fn is_wait_poll(line: &str) -> bool {
    let Some(at) = line.find(" poll([") else { return false };
    let call = &line[at..];
    let Some(close) = call.find("], ") else { return false };
    // After the array: "NFDS, TIMEOUT) = ...".
    let args = call[close + 3..].split(')').next().unwrap_or("");
    let timeout: i64 = args.split(',').nth(1).and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    let fds = &call[..close];
    timeout > 0 && !fds.contains("NORM") && !fds.contains("events=0") && fds.contains("events=POLL")
}

/// True for a `pselect6` line as glibc's select() makes it: sixth argument NULL.
pub fn is_select(line: &str) -> bool {
    line.contains(" pselect6(") && line.contains(", NULL)")
}
