//! The io-uring demo's runs: with files, read them all to their end; without, the
//! four parts against the simulated slow device, each checked. Also the command line.

use crate::sources::Source;
use crate::{CancelOutcome, FileResult, ReadStats};
use common::narrate::{plural, Style};
use common::{Context, Error, Narrator, Result};
use offline::slow::SlowDevice;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// One part of the default run (`--part`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Several reads in flight, reaped in the order they finish
    Reads,
    /// Read the next input while processing this one (aio-poll-loop's scenario)
    DoubleBuffer,
    /// IORING_OP_ASYNC_CANCEL: cancelled, not found, already running
    Cancel,
    /// A read linked to a timeout
    Timeout,
}

/// The command line.
#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// Files to read to their end, any size (/proc files too). Default: the parts,
    /// against a simulated slow device
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Run only this part of the default run
    #[arg(long, value_enum, conflicts_with = "paths")]
    pub part: Option<Part>,

    /// Reads in flight at once (the queue depth)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub depth: u32,

    /// Bytes per read, in KiB
    #[arg(long, value_name = "KIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(4..=4096))]
    pub block_kib: u32,

    /// Simulated device: latency per 4 KiB chunk, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub chunk_ms: u64,

    /// Double buffering: simulated computation per input, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(0..=5000))]
    pub process_ms: u64,
}

/// The device's inputs: four of different sizes for the reads part (so they finish
/// out of order), five of 16 KiB for double buffering, one to cancel, two to time.
const READ_SIZES: [usize; 4] = [16 * 1024, 4 * 1024, 12 * 1024, 8 * 1024];
const DOUBLE: std::ops::Range<usize> = 4..9;
const TO_CANCEL: usize = 9;
const TIMED: [usize; 2] = [10, 11];
const INPUT: usize = 16 * 1024;

/// Runs what `config` asks for.
pub fn run(config: &Config, narrator: &Narrator) -> Result<()> {
    narrator.title(
        "io-uring",
        "asynchronous reads through a submission queue and a completion queue, no threads",
        "Asynchronous I/O with AIO",
    );
    if !config.paths.is_empty() {
        return read_files(config, narrator);
    }
    // The device's thread starts before the ring: under strace, no clone() after
    // io_uring_setup.
    let inputs: Vec<Vec<u8>> =
        (0..12).map(|i| common::aio::sample_text(i, if i < 4 { READ_SIZES[i] } else { INPUT })).collect();
    let device = SlowDevice::new(inputs, Duration::from_millis(config.chunk_ms))?;
    narrator.event(
        "device",
        json!({"inputs": device.len(), "latency_per_chunk_ms": config.chunk_ms, "chunk": offline::slow::CHUNK}),
        format!(
            "simulated slow device: {} ms per 4 KiB chunk after each request (a simulation: a thread and a pipe)",
            config.chunk_ms
        ),
    );
    let threads_before = threads();
    let mut ring = crate::setup(narrator, 64)?;
    let wanted = |part: Part| config.part.is_none_or(|p| p == part);

    if wanted(Part::Reads) {
        narrator.say("");
        narrator.say(narrator.paint(Style::Bold, "1. four reads in flight, reaped as they finish"));
        let sources = (0..4).map(|i| Source::device(&device, i)).collect::<Result<Vec<_>>>()?;
        let (results, stats) = crate::read_all(
            narrator,
            &mut ring,
            sources,
            config.depth as usize,
            config.block_kib as usize * 1024,
        )?;
        report_reads(narrator, &results, &stats);
    }
    if wanted(Part::DoubleBuffer) {
        narrator.say("");
        narrator.say(
            narrator.paint(Style::Bold, "2. double buffering: read the next input while processing this one"),
        );
        let extra = Duration::from_millis(config.process_ms);
        let overlapped = crate::double_buffer(narrator, &mut ring, &device, DOUBLE, extra)?;
        narrator.timeline(&crate::timeline(narrator, &overlapped, DOUBLE.start));
        narrator.say("the same inputs without overlap (read, process, read, ...), for comparison:");
        let baseline = crate::sequential(narrator, &device, DOUBLE, extra)?;
        report_speedup(narrator, &overlapped, &baseline);
    }
    if wanted(Part::Cancel) {
        narrator.say("");
        narrator.say(narrator.paint(Style::Bold, "3. IORING_OP_ASYNC_CANCEL: three reads, three outcomes"));
        // Sparse: reading it costs copying zeros, no disk; long enough to catch running.
        // Open, then unlinked at once (the TempFile's drop): a signal leaves nothing behind.
        let big = offline::TempFile::with_contents("io-uring-big", b"")?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(big.path())
            .with_context(|| format!("open {}", big.path().display()))?;
        drop(big);
        file.set_len(64 * 1024 * 1024).context("make a 64 MiB sparse file")?;
        let outcomes = crate::cancel_three_ways(narrator, &mut ring, &device, TO_CANCEL, &file)?;
        let names: Vec<&str> = outcomes.iter().map(|o| o.name()).collect();
        narrator.event(
            "cancel_outcomes",
            json!({"outcomes": names}),
            format!("outcomes: {}", names.join(", ").replace('_', " ")),
        );
        if outcomes.get(2) != Some(&CancelOutcome::AlreadyRunning) {
            narrator.explain(
                "the big read finished before the cancel arrived; on a slower machine it is caught running",
            );
        }
    }
    if wanted(Part::Timeout) {
        narrator.say("");
        narrator.say(narrator.paint(Style::Bold, "4. linked timeouts: a read that must finish in time"));
        let timeouts = [Duration::from_millis(50), Duration::from_millis(1000)];
        let results = crate::linked_timeouts(narrator, &mut ring, &device, TIMED, timeouts)?;
        if results[0] != Err(nix::errno::Errno::ECANCELED) || results[1].is_err() {
            return Err(Error::msg("linked timeouts", format!("unexpected results {results:?}")));
        }
    }
    drop(ring);
    let (user, workers) = threads_before;
    let (user_after, workers_after) = threads();
    narrator.event(
        "threads",
        json!({"user_before": user, "user_after": user_after, "kernel_workers_seen": workers_after.max(workers)}),
        format!(
            "threads of this process: {user} before the ring, {user_after} after (main and the simulated device): \
             io_uring started none; {} (iou-wrk) ran blocking work",
            plural(workers_after.max(workers) as u64, "kernel worker", "kernel workers")
        ),
    );
    drop(device);
    Ok(())
}

/// With paths: each file read to its end through the ring.
fn read_files(config: &Config, narrator: &Narrator) -> Result<()> {
    let sources = config.paths.iter().map(|p| Source::open(p)).collect::<Result<Vec<_>>>()?;
    let mut ring = crate::setup(narrator, (config.depth * 2).max(8))?;
    let (results, stats) = crate::read_all(
        narrator,
        &mut ring,
        sources,
        config.depth as usize,
        config.block_kib as usize * 1024,
    )?;
    report_reads(narrator, &results, &stats);
    Ok(())
}

fn report_reads(narrator: &Narrator, results: &[FileResult], stats: &ReadStats) {
    for r in results {
        narrator.event_styled(
            "file_done",
            json!({"label": r.label, "bytes": r.tally.in_order, "lines": r.tally.lines,
                   "checksum": r.tally.checksum_hex(), "reads": r.reads, "done_ms": crate::ms(r.done - narrator.start())}),
            Style::Good,
            format!(
                "{}: {} bytes, {} lines, checksum {}, in {} reads (the last returned 0: end of file)",
                r.label,
                r.tally.in_order,
                r.tally.lines,
                r.tally.checksum_hex(),
                r.reads
            ),
        );
    }
    let order: Vec<String> = stats.first_order.iter().map(|i| (i + 1).to_string()).collect();
    narrator.event(
        "reads_done",
        json!({"sources": results.len(), "enters": stats.enters, "completions": stats.completions,
               "most_in_flight": stats.most_in_flight, "first_data_order": stats.first_order}),
        format!(
            "{}: {} reaped in {}, up to {} in flight; \
             first data came back in the order {}",
            plural(results.len() as u64, "source", "sources"),
            plural(stats.completions, "completion", "completions"),
            plural(stats.enters, "io_uring_enter call", "io_uring_enter calls"),
            plural(stats.most_in_flight as u64, "read", "reads"),
            order.join(", ")
        ),
    );
}

fn report_speedup(narrator: &Narrator, overlapped: &crate::RunResult, baseline: &crate::RunResult) {
    let s = crate::speedup(overlapped, baseline);
    let of_ideal = s.measured / s.ideal.max(1e-9);
    narrator.event_styled(
        "speedup",
        json!({"overlapped_ms": crate::ms(overlapped.wall), "baseline_ms": crate::ms(baseline.wall),
               "measured": round2(s.measured), "ideal": round2(s.ideal), "of_ideal": round2(of_ideal),
               "r_ms": crate::ms(s.r), "p_ms": crate::ms(s.p)}),
        Style::Bold,
        format!(
            "{} inputs: overlapped {:.2} s, without overlap {:.2} s: measured {:.2}x; ideal for R = {:.0} ms, \
             P = {:.0} ms: {:.2}x ({:.0}% of it)",
            overlapped.steps.len(),
            overlapped.wall.as_secs_f64(),
            baseline.wall.as_secs_f64(),
            s.measured,
            crate::ms(s.r),
            crate::ms(s.p),
            s.ideal,
            of_ideal * 100.0
        ),
    );
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// This process's threads: (started by the program, io_uring's kernel workers).
fn threads() -> (usize, usize) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return (0, 0) };
    let mut counts = (0, 0);
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with("iou-") {
            counts.1 += 1;
        } else {
            counts.0 += 1;
        }
    }
    counts
}
