//! Soak: the chat servers and the curl demos under continuous load for a bounded time.
//!
//! A test shows that a program works once; a soak shows that it keeps working: no line
//! lost after ten thousand rounds, no fd left behind by the hundredth client that
//! vanished rudely, no transfer that fails one run in a thousand. Each target runs on
//! its own thread until the deadline:
//!
//! * [`chat`]: a chat server (`select`, `pselect`, `poll`, `epoll`, `tokio-chat`) as a child process with
//!   `--listen`; a fixed group of clients talk in rounds, every line checked at every
//!   receiver, while other clients keep joining, talking and leaving (by `/quit`, by
//!   closing, by a reset). The server's fds are counted from `/proc` at the start and
//!   the end.
//! * [`curl`]: a curl demo run again and again against the local HTTP fixture server,
//!   every transfer's status and byte count checked, and each run's own fd report.
//!
//! Every wait has a deadline; a target that fails stops early and says why.

pub mod chat;
pub mod curl;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most error messages kept per target (the count goes on).
const ERRORS_KEPT: usize = 5;

/// What one target did, updated as it runs.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The demo's name.
    pub target: String,
    /// "chat" or "curl".
    pub kind: &'static str,
    /// Chat: rounds in which every client spoke once. Curl: runs of the demo.
    pub runs: u64,
    /// Chat: lines delivered and checked. Curl: transfers checked.
    pub messages: u64,
    /// Chat: clients that joined and left during the run. Curl: unused (0).
    pub churned: u64,
    /// Anything that went wrong, counted.
    pub errors: u64,
    /// The first few error messages.
    pub first_errors: Vec<String>,
    /// Lines (or transfers) that should have arrived and did not.
    pub lost: u64,
    /// Lines that arrived more than once.
    pub duplicated: u64,
    /// Chat: the server's open fds at the end minus at the start. Curl: the sum over
    /// runs of each run's own count (after minus before).
    pub fd_growth: i64,
    /// Extra figures for the curious (fds and memory at the start and end).
    pub detail: Value,
}

impl Report {
    /// A new, empty report for `target`.
    pub fn new(target: &str, kind: &'static str) -> Self {
        Report { target: target.into(), kind, detail: json!({}), ..Report::default() }
    }

    /// Counts an error, keeping its message if it is one of the first few.
    pub fn error(&mut self, message: impl Into<String>) {
        self.errors += 1;
        if self.first_errors.len() < ERRORS_KEPT {
            self.first_errors.push(message.into());
        }
    }

    /// Nothing lost, duplicated, leaked or failed, and at least one round ran.
    pub fn ok(&self) -> bool {
        self.errors == 0 && self.lost == 0 && self.duplicated == 0 && self.fd_growth == 0 && self.runs > 0
    }

    /// The report as JSON fields.
    pub fn to_json(&self) -> Value {
        json!({
            "target": self.target, "kind": self.kind, "ok": self.ok(), "runs": self.runs,
            "messages": self.messages, "churned": self.churned, "errors": self.errors,
            "first_errors": self.first_errors, "lost": self.lost, "duplicated": self.duplicated,
            "fd_growth": self.fd_growth, "detail": self.detail,
        })
    }
}

/// A report shared between a target's thread and the progress printer.
pub type Shared = Arc<Mutex<Report>>;

/// Runs `f` on the shared report (a poisoned lock still holds a usable report).
pub fn update<T>(report: &Shared, f: impl FnOnce(&mut Report) -> T) -> T {
    let mut guard = report.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

/// `--duration`: `30s`, `2m`, `1m30s`, `500ms`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like 30s, 2m, 1m30s or 90");
    if let Ok(secs) = text.parse::<u64>() {
        return if secs > 0 { Ok(Duration::from_secs(secs)) } else { Err(bad()) };
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let value: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        total += match &rest[..unit] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value * 60),
            "h" => Duration::from_secs(value * 3600),
            _ => return Err(bad()),
        };
        rest = &rest[unit..];
    }
    if total.is_zero() {
        return Err(bad());
    }
    Ok(total)
}

/// The path of demo `name` in `dir`, or an error that says how to build it.
pub fn find_binary(dir: &Path, name: &str) -> common::Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(common::Error::msg(
            format!("find {}", path.display()),
            "not built; build the demos first: cargo build -p select -p pselect -p poll -p epoll \
             -p tokio-chat -p curl-multi -p curl-select -p curl-socket (add --release for target/release), or point --bin-dir at them",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "0", "0s", "s", "2 m", "2x", "-3s", "1.5m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_report_is_ok_only_when_clean() {
        let mut r = Report::new("poll", "chat");
        assert!(!r.ok(), "no rounds yet");
        r.runs = 1;
        assert!(r.ok());
        r.fd_growth = 1;
        assert!(!r.ok());
        r.fd_growth = 0;
        for i in 0..10 {
            r.error(format!("e{i}"));
        }
        assert_eq!((r.errors, r.first_errors.len()), (10, ERRORS_KEPT));
        assert!(!r.ok());
    }
}
