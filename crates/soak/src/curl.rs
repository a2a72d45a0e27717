//! One curl demo, run again and again against the local HTTP fixture server.
//!
//! Each run fetches the same handful of URLs (delays, bodies of several sizes, a 404,
//! a body dripped a byte at a time) and must exit 0 with every transfer done and
//! exactly the status and byte count the server sent. Each run reports its own fds
//! (`open_fds`: before and after); a difference is a leak in that run.

use crate::{update, Shared};
use offline::http::{delay_body, status_body, Server};
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest one run may take before it counts as a hang and is killed.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// The paths each run fetches, with the status and body size each must come back with.
pub fn paths() -> Vec<(String, u16, u64)> {
    vec![
        ("/delay/30".into(), 200, delay_body(30).len() as u64),
        ("/bytes/65536".into(), 200, 65536),
        ("/bytes/1".into(), 200, 1),
        ("/status/404".into(), 404, status_body(404).len() as u64),
        ("/drip/4/5".into(), 200, 4),
        ("/delay/5".into(), 200, delay_body(5).len() as u64),
    ]
}

/// Runs the demo at `bin` against `server` until `deadline`, recording into `report`.
pub fn soak(bin: &Path, server: &Server, deadline: Instant, report: &Shared) {
    let expected = paths();
    let urls: Vec<String> = expected.iter().map(|(path, _, _)| server.url(path)).collect();
    let mut fds_seen = (None, None);
    while Instant::now() < deadline {
        let run = update(report, |r| r.runs);
        match run_once(bin, &urls) {
            Err(e) => {
                update(report, |r| {
                    r.runs += 1;
                    r.lost += urls.len() as u64;
                    r.error(format!("run {run}: {e}"));
                });
                // A demo that cannot run at all will not start working: stop.
                break;
            }
            Ok((code, events, stderr)) => {
                let check = check_run(&events, &urls, &expected);
                if fds_seen.0.is_none() {
                    fds_seen.0 = check.fds;
                }
                fds_seen.1 = check.fds;
                update(report, |r| {
                    r.runs += 1;
                    r.messages += check.transfers;
                    r.lost += check.lost;
                    r.fd_growth += check.fd_growth;
                    if code != Some(0) {
                        r.error(format!("run {run}: exit code {code:?}; stderr: {}", stderr.trim_end()));
                    } else if !stderr.is_empty() {
                        r.error(format!("run {run}: stderr: {}", stderr.trim_end()));
                    }
                    for problem in check.problems {
                        r.error(format!("run {run}: {problem}"));
                    }
                });
            }
        }
    }
    update(report, |r| {
        r.detail = serde_json::json!({
            "urls_per_run": urls.len(),
            "first_run_fds": fds_seen.0.map(|(b, a)| [b, a]),
            "last_run_fds": fds_seen.1.map(|(b, a)| [b, a]),
        });
    });
}

/// What one run's events said.
#[derive(Debug, Default)]
struct RunCheck {
    transfers: u64,
    lost: u64,
    fd_growth: i64,
    fds: Option<(i64, i64)>,
    problems: Vec<String>,
}

fn check_run(events: &[Value], urls: &[String], expected: &[(String, u16, u64)]) -> RunCheck {
    let mut check = RunCheck::default();
    let done: Vec<&Value> = events.iter().filter(|e| e["event"] == "transfer_done").collect();
    for (url, (path, status, bytes)) in urls.iter().zip(expected) {
        let mine: Vec<&&Value> = done.iter().filter(|e| e["url"] == url.as_str()).collect();
        match mine.as_slice() {
            [] => {
                check.lost += 1;
                check.problems.push(format!("{path}: no transfer_done"));
            }
            [one] => {
                check.transfers += 1;
                let got = (one["ok"].as_bool(), one["http_status"].as_u64(), one["bytes"].as_u64());
                if got != (Some(true), Some(u64::from(*status)), Some(*bytes)) {
                    check.problems.push(format!(
                        "{path}: got (ok, status, bytes) {got:?}, expected {status} with {bytes} bytes; error {}",
                        one["error"]
                    ));
                }
            }
            many => check.problems.push(format!("{path}: {} transfer_done events", many.len())),
        }
    }
    match events.iter().find(|e| e["event"] == "open_fds") {
        Some(fds) => {
            let (before, after) = (fds["before"].as_i64().unwrap_or(-1), fds["after"].as_i64().unwrap_or(-1));
            check.fds = Some((before, after));
            check.fd_growth = after - before;
        }
        None => check.problems.push("no open_fds event".into()),
    }
    check
}

/// Runs `bin --json URLS...` once, killing it after [`RUN_LIMIT`]; returns its exit
/// code, its events and its stderr.
fn run_once(bin: &Path, urls: &[String]) -> common::Result<(Option<i32>, Vec<Value>, String)> {
    let mut child = Command::new(bin)
        .arg("--json")
        .args(urls)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| common::Error::io(format!("spawn {}", bin.display()), &e))?;
    // Both pipes are read on threads, so a chatty child can never fill one and stall.
    let mut stdout = child.stdout.take().ok_or_else(|| common::Error::msg("spawn", "no stdout"))?;
    let mut stderr = child.stderr.take().ok_or_else(|| common::Error::msg("spawn", "no stderr"))?;
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(common::Error::msg(
                    bin.display().to_string(),
                    format!("still running after {RUN_LIMIT:?}: killed"),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(common::Error::io("waitpid", &e)),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let mut events = Vec::new();
    for line in stdout.lines() {
        match serde_json::from_str::<Value>(line) {
            Ok(event) => events.push(event),
            Err(e) => return Err(common::Error::msg("stdout", format!("not JSON ({e}): {line}"))),
        }
    }
    Ok((status.code(), events, stderr))
}
