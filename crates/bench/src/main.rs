//! bench: what each asynchronous-I/O technique costs and buys, measured side by side.
//!
//! Notes: every section, from "blocking IO" to "Asynchronous I/O with AIO"; this program
//! puts numbers on the claims the demos make one at a time.
//!
//! Run it:   just bench                  (the full run: a few minutes, writes docs/src/img/*.svg)
//!           just bench --quick          (tiny sizes, a few seconds: what CI runs)
//!           just bench --only readiness --json
//!
//! Watch for: select and poll growing linearly with the number of watched fds while
//! epoll_wait stays flat; the Rust/C column near 1; a blocking read using no CPU while a
//! spin uses a whole core; 50 slow transfers taking 25 s one at a time and 0.5 s with
//! curl-multi or curl-select; curl's sockets past fd 1023 missing from the fd_set;
//! aio_read costing ~300x a pread on cached data, yet double-buffering reaching ~0.97 of
//! its ideal speed-up on a slow device; the chat servers delivering every line exactly
//! once. Beyond the notes: io_uring at depth 32 near pread's cost and hiding a slow
//! device's latency; a thousand transfers with socket_action in little more than one
//! delay, its turn flat while curl_multi_wait's grows; epoll's and tokio-chat's server
//! CPU per wake-up flat from 10 to 10,000 idle clients, poll's linear. Every table ends with the load average it was taken under: on a shared machine
//! a "HIGH" there means the figures above it are noisy. Read docs/src/bench.md for what
//! the figures mean.
//!
//! Differs from the notes: the notes compare the calls by their interfaces only; here
//! they are timed, and epoll (not in the notes) is the yardstick.

use bench::report::Bench;
use clap::Parser;
use common::narrate::Style;
use common::{Error, Result};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "bench",
    about = "Measures what each technique costs and buys: tables with medians, p10/p90, ratios and targets; SVG plots",
    after_help = "Examples:\n  just bench                         everything, full sizes; plots into docs/src/img/\n  just bench --quick                 tiny sizes in a few seconds (CI); plots into a temp dir\n  just bench --only readiness,waiting --json   two parts, JSON Lines\n\nParts: readiness (1), waiting (2), curl (3), aio (4), chat (5).\nEvery run records /proc/loadavg; runs taken under high load are flagged HIGH.\nExit status: 0 when every part ran (targets missed are reported, not failed), 1 when a part failed, 2 for bad usage."
)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    /// Tiny sizes and few rounds: proves the tool works in seconds; the figures mean little
    #[arg(long)]
    quick: bool,

    /// Run only these parts (comma-separated): readiness, waiting, curl, aio, chat
    #[arg(long, value_delimiter = ',', value_name = "PARTS")]
    only: Vec<String>,

    /// Where to write the SVG plots [default: docs/src/img, or a temp dir with --quick]
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,

    /// Draw no plots
    #[arg(long, conflicts_with = "plots")]
    no_plots: bool,

    /// Internal: run one chat server (select, pselect, poll, epoll, epoll-edge, tokio-chat) for part 5 and exit
    #[arg(long, hide = true, value_name = "CALL")]
    chat_server: Option<String>,
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    if let Some(call) = &cli.chat_server {
        return bench::chat::serve_child(call);
    }
    for part in &cli.only {
        if !bench::PARTS.iter().any(|(name, _)| name == part) {
            return Err(Error::usage(format!(
                "unknown part {part:?} in --only (parts: readiness, waiting, curl, aio, chat)"
            )));
        }
    }
    let plots = if cli.no_plots {
        None
    } else if let Some(dir) = cli.plots {
        Some(dir)
    } else if cli.quick {
        Some(std::env::temp_dir().join("aio-lab-bench-quick"))
    } else {
        // The book's images, at the workspace root (found from this crate's folder).
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Some(manifest.parent().and_then(|p| p.parent()).unwrap_or(&manifest).join("docs/src/img"))
    };
    let started = Instant::now();
    let n = cli.common.narrator();
    let cores = bench::harness::cores();
    let load = bench::harness::loadavg()?;
    n.event(
        "bench_start",
        json!({"quick": cli.quick, "cores": cores, "load": load.one, "running": load.running,
               "load_limit": bench::harness::load_limit(cores),
               "plots": plots.as_ref().map(|p| p.display().to_string())}),
        format!(
            "{}: what each technique costs and buys, on {cores} cores, load average {:.2} now{}",
            n.paint(Style::Bold, "bench"),
            load.one,
            if cli.quick { " (--quick: tiny sizes)" } else { "" }
        ),
    );
    n.explain("Medians over many interleaved batches, p10-p90 spread; runs under load > 0.75 x cores are flagged HIGH.");
    let mut bench =
        Bench { n, cores, quick: cli.quick, plots, verdicts: Vec::new(), load: Default::default() };

    for (part, _) in bench::PARTS {
        if !cli.only.is_empty() && !cli.only.iter().any(|p| p == part) {
            continue;
        }
        match part {
            "readiness" => bench::readiness::run(&mut bench)?,
            "waiting" => bench::waiting::run(&mut bench)?,
            "curl" => bench::curl_bench::run(&mut bench)?,
            "aio" => bench::aio::run(&mut bench)?,
            "chat" => bench::chat::run(&mut bench)?,
            _ => {}
        }
    }
    bench.summary();
    let seconds = started.elapsed().as_secs_f64();
    let met = bench.verdicts.iter().filter(|v| v.met() == Some(true)).count();
    let targets = bench.verdicts.iter().filter(|v| v.met().is_some()).count();
    bench.n.event(
        "bench_done",
        json!({"seconds": seconds, "targets": targets, "targets_met": met,
               "load_max": bench.load.max, "load_high": bench.load.high(cores)}),
        format!("done in {seconds:.1} s"),
    );
    Ok(())
}

fn main() -> ExitCode {
    common::error::main_wrapper(run)
}
