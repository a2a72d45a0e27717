//! soak: the chat servers and the curl demos under continuous load, for a bounded time.
//!
//! Run it: `just soak` (two minutes), `just soak --duration 30s`, `just soak --json`.
//! It needs the eight demos built next to it (the recipe builds them).
//!
//! What it does: starts `select`, `pselect`, `poll`, `epoll` and `tokio-chat` as servers (`--listen
//! 127.0.0.1:0`) and keeps a room of talking clients busy on each, with others joining
//! and leaving rudely, every line checked at every receiver; meanwhile it runs
//! `curl-multi`, `curl-select` and `curl-socket` again and again against a local HTTP
//! server, every transfer checked. All eight at once, each on its own thread.
//!
//! What to watch for: a progress line every ten seconds, then one line per target:
//! rounds or runs, lines or transfers checked, errors, lost, duplicated, fd growth.
//! All of the last four should be 0; if any is not, the exit code is 1.

use clap::Parser;
use common::narrate::Style;
use serde_json::json;
use soak::{update, Report, Shared};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const AFTER_HELP: &str = "\
Examples:
  soak                       two minutes, all eight targets
  soak --duration 30s        a shorter run
  soak --duration 10m --json one JSON line per target at the end (and progress lines)

Exit status: 0 when every target ran with no error, no lost or duplicated line, and no
fd growth; 1 otherwise; 2 for bad command-line usage.";

/// Runs the five chat servers under continuous client load and the three curl demos
/// repeatedly against a local HTTP server, then reports errors, lost or duplicated
/// lines and fd growth per target (all expected to be zero).
#[derive(Parser, Debug)]
#[command(name = "soak", after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    /// How long to run: 30s, 2m, 1m30s, or a number of seconds
    #[arg(long, value_name = "TIME", default_value = "2m", value_parser = soak::parse_duration)]
    duration: Duration,

    /// Where the demo binaries are (default: the folder this program is in)
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
}

/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How long after the deadline a target may take to finish its round and stop.
const GRACE: Duration = Duration::from_secs(45);

fn run() -> common::Result<()> {
    let cli = Cli::parse();
    let n = cli.common.narrator();
    let dir = match cli.bin_dir {
        Some(dir) => dir,
        None => std::env::current_exe()
            .map_err(|e| common::Error::io("current_exe", &e))?
            .parent()
            .map(PathBuf::from)
            .ok_or_else(|| common::Error::msg("current_exe", "no parent folder"))?,
    };
    // Every chat server and every curl demo in demos.toml.
    let chat = demo_list::names_of_kind(demo_list::Kind::Chat);
    let curl = demo_list::names_of_kind(demo_list::Kind::Curl);
    let mut bins = Vec::new();
    for name in chat.iter().chain(&curl) {
        bins.push((*name, soak::find_binary(&dir, name)?));
    }
    let http = Arc::new(offline::http::Server::start()?);
    n.event(
        "soak_started",
        json!({"duration_s": cli.duration.as_secs_f64(), "targets": bins.iter().map(|b| b.0).collect::<Vec<_>>(),
               "http": http.addr().to_string(), "talkers": soak::chat::TALKERS}),
        format!(
            "soak: {:.0} s of load: {} talkers per chat server (a newcomer joins and leaves every {} rounds); curl demos against {} ({} URLs a run)",
            cli.duration.as_secs_f64(),
            soak::chat::TALKERS,
            soak::chat::CHURN_EVERY,
            http.addr(),
            soak::curl::paths().len()
        ),
    );
    let started = Instant::now();
    let deadline = started + cli.duration;
    let mut reports: Vec<Shared> = Vec::new();
    let mut threads = Vec::new();
    for (name, path) in bins {
        let kind = if chat.contains(&name) { "chat" } else { "curl" };
        let report: Shared = Arc::new(Mutex::new(Report::new(name, kind)));
        reports.push(Arc::clone(&report));
        let http = Arc::clone(&http);
        threads.push(std::thread::spawn(move || {
            if kind == "chat" {
                soak::chat::soak(&path, deadline, &report);
            } else {
                soak::curl::soak(&path, &http, deadline, &report);
            }
        }));
    }
    // Progress while they run; then wait for each to finish its last round.
    let mut next_progress = started + PROGRESS_EVERY;
    while threads.iter().any(|t| !t.is_finished()) {
        if Instant::now() > deadline + GRACE {
            break;
        }
        if Instant::now() >= next_progress && Instant::now() < deadline {
            next_progress += PROGRESS_EVERY;
            let snapshot: Vec<Report> = reports.iter().map(|r| update(r, |r| r.clone())).collect();
            let words: Vec<String> = snapshot.iter().map(|r| format!("{} {}", r.target, r.runs)).collect();
            n.event(
                "progress",
                json!({"elapsed_s": started.elapsed().as_secs(), "runs": snapshot.iter().map(|r| (r.target.clone(), r.runs)).collect::<std::collections::BTreeMap<_, _>>(),
                       "errors": snapshot.iter().map(|r| r.errors).sum::<u64>()}),
                format!("{:>4} s: rounds/runs so far: {}", started.elapsed().as_secs(), words.join(", ")),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for (thread, report) in threads.into_iter().zip(&reports) {
        if thread.is_finished() {
            if thread.join().is_err() {
                update(report, |r| r.error("the target's thread panicked"));
            }
        } else {
            update(report, |r| r.error(format!("still running {GRACE:?} after the deadline")));
        }
    }
    let leftover = http.open_connections();
    let mut all_ok = leftover == 0;
    for report in &reports {
        let r = update(report, |r| r.clone());
        all_ok &= r.ok();
        let what = if r.kind == "chat" { ("rounds", "lines") } else { ("runs", "transfers") };
        n.event_styled(
            "target",
            r.to_json(),
            if r.ok() { Style::Good } else { Style::Bad },
            format!(
                "{:<12} {:>7} {}  {:>9} {} checked  errors {}  lost {}  duplicated {}  fd growth {}{}",
                r.target,
                r.runs,
                what.0,
                r.messages,
                what.1,
                r.errors,
                r.lost,
                r.duplicated,
                r.fd_growth,
                if r.kind == "chat" {
                    format!("  ({} clients came and went)", r.churned)
                } else {
                    String::new()
                }
            ),
        );
        for e in &r.first_errors {
            n.explain(format!("{}: {e}", r.target));
        }
    }
    n.event_styled(
        "soak_done",
        json!({"ok": all_ok, "elapsed_s": started.elapsed().as_secs_f64(), "http_connections_left": leftover}),
        if all_ok { Style::Good } else { Style::Bad },
        format!(
            "{} after {:.1} s; the HTTP server has {leftover} connections left open",
            if all_ok { "everything kept working: nothing lost, leaked or failed" } else { "FAILED: see above" },
            started.elapsed().as_secs_f64()
        ),
    );
    if all_ok {
        Ok(())
    } else {
        Err(common::Error::msg("soak", "something was lost, leaked or failed"))
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
