//! The demo around the technique: where the inputs come from, the overlapped run next
//! to the blocking baseline, the timeline, and the speed-up measured against the ideal.

use crate::{Options, RunResult, WaitStyle};
use common::aio::{sample_text, FileInput, Inputs};
use common::narrate::{ms, plural, Style};
use common::timeline::Timeline;
use common::{Narrator, Result};
use offline::slow::SlowDevice;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// Bytes in each simulated input: four 4 KiB chunks.
pub const DEVICE_INPUT: usize = 16 * 1024;

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Config {
    /// Files to read; empty: the simulated slow device.
    pub paths: Vec<PathBuf>,
    /// Simulated device: how many inputs, and the latency of each 4 KiB chunk.
    pub inputs: usize,
    /// See `inputs`.
    pub chunk: Duration,
    /// `--no-overlap`: only the blocking baseline.
    pub no_overlap: bool,
    /// `--list`: lio_listio instead of the double-buffering loop.
    pub list: bool,
    /// How to wait, and how long processing takes.
    pub options: Options,
}

// ANCHOR: main_source
/// The simulated slow device (default) or the files named on the command line.
pub fn source(config: &Config, n: &Narrator) -> Result<Box<dyn Inputs>> {
    if !config.paths.is_empty() {
        return Ok(Box::new(FileInput::check_and_announce(n, &config.paths)?));
    }
    let inputs: Vec<Vec<u8>> = (0..config.inputs).map(|i| sample_text(i, DEVICE_INPUT)).collect();
    let dev = SlowDevice::new(inputs, config.chunk)?;
    let (count, chunk_ms, latency_ms) = (config.inputs, config.chunk.as_millis(), dev.latency(0).as_millis());
    let fields = json!({"kind": "simulated_device", "inputs": count, "bytes_each": DEVICE_INPUT,
                        "chunk": offline::slow::CHUNK, "latency_per_chunk_ms": chunk_ms, "latency_ms": latency_ms});
    let text = format!("simulated slow device (not a real disk): {} of {} KiB, {chunk_ms} ms per 4 KiB chunk = {latency_ms} ms per read",
        plural(count as u64, "input", "inputs"), DEVICE_INPUT / 1024);
    n.event("source", fields, text);
    n.explain("Each read is a request: the device answers through a pipe once the latency has passed.");
    Ok(Box::new(dev))
}
// ANCHOR_END: main_source

/// The whole demo, as the command line asked.
pub fn run(config: &Config, n: &Narrator) -> Result<()> {
    let summary = "double-buffering: aio_read the next input while processing this one";
    n.title("aio-poll-loop", summary, "Asynchronous I/O with AIO: example: normal");
    let source = source(config, n)?;
    let count = plural(source.count() as u64, "input", "inputs");
    let o = &config.options;

    if config.list {
        forget_cache(n, &*source)?;
        let (summaries, timeline) = crate::run_list(n, &*source, o)?;
        n.say("");
        n.timeline(&timeline);
        let text =
            format!("{count} read twice with lio_listio (LIO_WAIT, then LIO_NOWAIT + one notification)");
        n.event_styled("done", json!({"mode": "list", "processed": summaries.len()}), Style::Good, text);
        return Ok(());
    }

    if config.no_overlap {
        n.explain("--no-overlap: the blocking baseline, read then process, one input at a time.");
        forget_cache(n, &*source)?;
        let base = crate::run_sequential(n, &*source, o)?;
        n.say("");
        n.timeline(&timeline(n, &base, "timeline (--no-overlap)"));
        let text = format!("{count}, no overlap: {:.2} s", base.wall.as_secs_f64());
        n.event_styled("done", json!({"mode": "baseline", "wall_ms": ms(base.wall)}), Style::Good, text);
        return Ok(());
    }

    // ANCHOR: compare
    n.say(n.paint(Style::Bold, "Overlapped (the notes' example):"));
    forget_cache(n, &*source)?;
    let overlapped = crate::run_overlapped(n, &*source, o)?;
    n.say("");
    n.say(n.paint(Style::Bold, "The same inputs without overlap (--no-overlap), to measure the difference:"));
    forget_cache(n, &*source)?;
    let base = crate::run_sequential(n, &*source, o)?;
    n.say("");
    n.timeline(&timeline(n, &overlapped, "timeline (overlapped)"));
    narrate_speedup(n, &speedup(&overlapped, &base), &overlapped, &base, o.wait);
    // ANCHOR_END: compare
    Ok(())
}

/// Files only: posix_fadvise(DONTNEED) before each run, so that the second run does
/// not read from the page cache what the first one just brought in.
fn forget_cache(n: &Narrator, source: &dyn Inputs) -> Result<()> {
    let dropped = source.drop_cache()?;
    if dropped > 0 {
        let files = plural(dropped as u64, "file", "files");
        let text = format!("posix_fadvise(POSIX_FADV_DONTNEED) on {files}: out of the page cache, so this run reads from the disk, not from what the last run cached");
        n.event("cache_dropped", json!({"files": dropped, "advice": "POSIX_FADV_DONTNEED"}), text);
    }
    Ok(())
}

/// The timeline of a run: a read bar and a process bar per block, each read drawn
/// until glibc's worker finished it (not until the loop next looked).
pub fn timeline(n: &Narrator, result: &RunResult, title: &str) -> Timeline {
    let mut t = Timeline::new(title);
    for s in &result.steps {
        let label = crate::blocks::short_label(s);
        let note = match (s.polls, s.bytes) {
            (_, 0) => "end of file".to_string(),
            (0, _) => String::new(),
            (polls, _) => plural(polls.into(), "poll", "polls"),
        };
        t.add(format!("read {label}"), n.ms_at(s.read.0), n.ms_at(s.read.1), note);
        if s.bytes > 0 {
            t.add(format!("process {label}"), n.ms_at(s.process.0), n.ms_at(s.process.1), "");
        }
    }
    t
}

/// The speed-up figures: measured, and the ideal for these R and P.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speedup {
    /// Mean read time R and process time P, from the blocking baseline.
    pub r: Duration,
    /// See `r`.
    pub p: Duration,
    /// baseline wall / overlapped wall.
    pub measured: f64,
    /// (R+P)/max(R,P): the steady-state best, per block.
    pub ideal: f64,
    /// n(R+P) / (R + (n-1)max(R,P) + P): the best for this many blocks (the first read
    /// and the last process cannot overlap anything).
    pub ideal_n: f64,
}

// ANCHOR: speedup
/// Compares the two runs.
pub fn speedup(overlapped: &RunResult, baseline: &RunResult) -> Speedup {
    let (r, p) = (baseline.mean_read().as_secs_f64(), baseline.mean_process().as_secs_f64());
    let count = baseline.blocks().max(1) as f64;
    let longer = r.max(p).max(1e-9);
    Speedup {
        r: baseline.mean_read(),
        p: baseline.mean_process(),
        measured: baseline.wall.as_secs_f64() / overlapped.wall.as_secs_f64().max(1e-9),
        ideal: (r + p) / longer,
        ideal_n: count * (r + p) / (r + (count - 1.0) * longer + p).max(1e-9),
    }
}
// ANCHOR_END: speedup

fn narrate_speedup(n: &Narrator, s: &Speedup, overlapped: &RunResult, base: &RunResult, wait: WaitStyle) {
    let (inputs, blocks, polls) = (overlapped.inputs.len(), base.blocks(), overlapped.total_polls());
    let what = match plural(inputs as u64, "input", "inputs") {
        each if blocks == inputs => each,
        inputs => format!("{inputs} in {}", plural(blocks as u64, "block", "blocks")),
    };
    let wait = if wait == WaitStyle::Poll { "poll" } else { "suspend" };
    let fields = json!({"inputs": inputs, "blocks": blocks, "overlap_ms": ms(overlapped.wall), "baseline_ms": ms(base.wall),
        "measured": s.measured, "ideal": s.ideal, "ideal_n": s.ideal_n, "r_ms": ms(s.r), "p_ms": ms(s.p), "polls": polls, "wait": wait});
    if blocks == 0 {
        let text =
            format!("{what}, every one empty: nothing was processed, so there was no overlap to measure");
        n.event_styled("speedup", fields, Style::Good, text);
        return;
    }
    let text = format!("{what}: overlapped {:.2} s, --no-overlap {:.2} s: measured {:.2}x; ideal (R+P)/max(R,P) = ({:.0}+{:.0})/{:.0} = {:.2}x, at best {:.2}x for {what}",
        overlapped.wall.as_secs_f64(), base.wall.as_secs_f64(), s.measured, ms(s.r), ms(s.p), ms(s.r.max(s.p)), s.ideal, s.ideal_n);
    n.event_styled("speedup", fields, Style::Good, text);
    n.explain(format!("R = mean read time, P = mean process time (from the baseline). The first read and the\nlast process overlap nothing, hence the lower best for {what}. {} said EINPROGRESS.",
        plural(polls.into(), "aio_error poll", "aio_error polls")));
    if s.r < Duration::from_millis(1) {
        n.explain("These reads came from the page cache in microseconds: there was nothing to overlap,\nso AIO's bookkeeping only costs time. That is why the default input is a slow device.");
    }
}
