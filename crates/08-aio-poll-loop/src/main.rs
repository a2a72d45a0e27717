//! # aio-poll-loop: double-buffering with aio_read and an aio_error loop
//!
//! Demonstrates the notes' "normal" AIO example: read input i+1 with aio_read into a
//! spare buffer while processing input i, wait for it by polling aio_error (or with
//! aio_suspend), collect it with aio_return exactly once, swap the buffers. Then it
//! reads the same inputs again without overlap and prints the measured speed-up next to
//! the ideal one, (R+P)/max(R,P). `--list` enqueues every read at once with lio_listio.
//!
//! Notes: "Asynchronous I/O with AIO": "aio_read()", "aio_error()", "aio_return()",
//! "aio_suspend()", "lio_listio()", "example: normal".
//!
//! Run it: `just run aio-poll-loop` (files: `just run aio-poll-loop a.txt b.txt c.txt`;
//! `just trace aio-poll-loop` shows glibc's worker threads doing the reads).
//!
//! Watch for: each `aio_read` line followed by `process(...)` of the *previous* input;
//! `aio_error = EINPROGRESS N times` (the read was still going when processing ended);
//! the timeline, where every `read i+1` bar lies beside `process i`; and the speed-up
//! line at the end.
//!
//! By default the inputs come from a *simulated* slow device (offline::slow): files on
//! this machine are in the page cache and read in microseconds, which leaves nothing to
//! overlap. Positional paths read real files.
//!
//! Where it differs from the notes: the notes sleep a whole second between aio_error
//! calls (a read that ends just after a check costs up to a second); this sleeps
//! `--poll-ms` (5 ms). The notes ignore what aio_return says; here a short count is an
//! error (the file shrank). The notes' `process()` is a stub; here it checksums and
//! counts lines and words, and `--process-ms` adds simulated computation. The notes
//! say aio_error returns -1 on failure with errno set: for a failed read it returns the
//! errno value itself (EIO, EISDIR...), and -1 only when the aiocb itself is invalid.
//! aio_suspend's -1 on timeout comes with errno EAGAIN.

use clap::{Parser, ValueEnum};
use common::aio::{sample_text, FileInput};
use common::narrate::Style;
use common::{Error, Result};
use offline::slow::SlowDevice;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

use aio_poll_loop::{Options, WaitStyle};
use common::aio::Inputs;

const AFTER_HELP: &str = "\
What it shows:
  While process() works on one input, aio_read fetches the next into a second buffer on
  glibc's worker thread. The timeline shows the overlap; the last line compares the
  measured speed-up with --no-overlap against the ideal (R+P)/max(R,P).

Examples:
  aio-poll-loop                              simulated slow device, aio_error polling
  aio-poll-loop --wait suspend --process-ms 300   aio_suspend instead; slower processing
  aio-poll-loop --list /etc/passwd /etc/hostname  real files, enqueued with lio_listio";

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Wait {
    /// Call aio_error in a loop with a short sleep (the notes' way)
    Poll,
    /// Block in aio_suspend with a timeout
    Suspend,
}

/// POSIX AIO double-buffering: aio_read the next input while processing this one.
#[derive(Parser, Debug)]
#[command(name = "aio-poll-loop", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Files to read (default: inputs from a simulated slow device)
    paths: Vec<PathBuf>,
    /// How to wait for a read to finish
    #[arg(long, value_enum, default_value = "poll")]
    wait: Wait,
    /// Simulated computation added to each process() call, in milliseconds
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(0..=5000))]
    process_ms: u64,
    /// Sleep between two aio_error calls, in milliseconds
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    poll_ms: u64,
    /// Only the blocking baseline: read, process, read, process...
    #[arg(long, conflicts_with = "list")]
    no_overlap: bool,
    /// Enqueue all reads at once with lio_listio (LIO_WAIT, then LIO_NOWAIT)
    #[arg(long)]
    list: bool,
    /// Simulated device: number of inputs
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=16))]
    inputs: u64,
    /// Simulated device: latency per 4 KiB chunk, in milliseconds (inputs are 16 KiB)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=1000))]
    chunk_ms: u64,
    #[command(flatten)]
    common: common::cli::CommonArgs,
}

/// Bytes in each simulated input: four 4 KiB chunks.
const DEVICE_INPUT: usize = 16 * 1024;

// ANCHOR: main_source
fn source(cli: &Cli, n: &common::Narrator) -> Result<Box<dyn Inputs>> {
    if cli.paths.is_empty() {
        let count = usize::try_from(cli.inputs).unwrap_or(5);
        let inputs: Vec<Vec<u8>> = (0..count).map(|i| sample_text(i, DEVICE_INPUT)).collect();
        let dev = SlowDevice::new(inputs, Duration::from_millis(cli.chunk_ms))?;
        n.event(
            "source",
            json!({"kind": "simulated_device", "inputs": count, "bytes_each": DEVICE_INPUT,
                   "chunk": offline::slow::CHUNK, "latency_per_chunk_ms": cli.chunk_ms,
                   "latency_ms": dev.latency(0).as_millis()}),
            format!(
                "simulated slow device (not a real disk): {count} inputs of {} KiB, {} ms per 4 KiB chunk = {} ms per read",
                DEVICE_INPUT / 1024,
                cli.chunk_ms,
                dev.latency(0).as_millis()
            ),
        );
        n.explain("Each read is a request: the device answers through a pipe once the latency has passed.");
        Ok(Box::new(dev))
    } else {
        let files = FileInput::check_and_announce(n, &cli.paths)?;
        Ok(Box::new(files))
    }
}
// ANCHOR_END: main_source

fn run() -> Result<()> {
    let cli = Cli::parse();
    let n = cli.common.narrator();
    n.title(
        "aio-poll-loop",
        "double-buffering: aio_read the next input while processing this one",
        "Asynchronous I/O with AIO: example: normal",
    );
    let source = source(&cli, &n)?;
    let o = Options {
        wait: match cli.wait {
            Wait::Poll => WaitStyle::Poll,
            Wait::Suspend => WaitStyle::Suspend,
        },
        process_extra: Duration::from_millis(cli.process_ms),
        poll_sleep: Duration::from_millis(cli.poll_ms),
        suspend_timeout: Duration::from_millis(1000),
    };
    if source.count() == 0 {
        return Err(Error::usage("no inputs"));
    }

    if cli.list {
        let (summaries, timeline) = aio_poll_loop::run_list(&n, &*source, &o)?;
        n.say("");
        n.timeline(&timeline);
        n.event_styled(
            "done",
            json!({"mode": "list", "processed": summaries.len()}),
            Style::Good,
            format!(
                "{} inputs read twice with lio_listio (LIO_WAIT, then LIO_NOWAIT + one notification)",
                source.count()
            ),
        );
        return Ok(());
    }

    if cli.no_overlap {
        n.explain("--no-overlap: the blocking baseline, read then process, one input at a time.");
        let base = aio_poll_loop::run_sequential(&n, &*source, &o)?;
        n.say("");
        n.timeline(&aio_poll_loop::timeline(&n, &base, "timeline (--no-overlap)"));
        n.event_styled(
            "done",
            json!({"mode": "baseline", "wall_ms": base.wall.as_secs_f64() * 1000.0}),
            Style::Good,
            format!("{} inputs, no overlap: {:.2} s", source.count(), base.wall.as_secs_f64()),
        );
        return Ok(());
    }

    // ANCHOR: compare
    n.say(n.paint(Style::Bold, "Overlapped (the notes' example):"));
    let overlapped = aio_poll_loop::run_overlapped(&n, &*source, &o)?;
    n.say("");
    n.say(n.paint(Style::Bold, "The same inputs without overlap (--no-overlap), to measure the difference:"));
    let base = aio_poll_loop::run_sequential(&n, &*source, &o)?;
    n.say("");
    n.timeline(&aio_poll_loop::timeline(&n, &overlapped, "timeline (overlapped)"));
    let s = aio_poll_loop::speedup(&overlapped, &base);
    let polls = overlapped.total_polls();
    n.event_styled(
        "speedup",
        json!({"inputs": source.count(), "overlap_ms": overlapped.wall.as_secs_f64() * 1000.0,
               "baseline_ms": base.wall.as_secs_f64() * 1000.0, "measured": s.measured, "ideal": s.ideal,
               "ideal_n": s.ideal_n, "r_ms": s.r.as_secs_f64() * 1000.0, "p_ms": s.p.as_secs_f64() * 1000.0,
               "polls": polls, "wait": format!("{:?}", cli.wait).to_lowercase()}),
        Style::Good,
        format!(
            "{} inputs: overlapped {:.2} s, --no-overlap {:.2} s: measured {:.2}x; ideal (R+P)/max(R,P) = ({:.0}+{:.0})/{:.0} = {:.2}x, at best {:.2}x for {} inputs",
            source.count(),
            overlapped.wall.as_secs_f64(),
            base.wall.as_secs_f64(),
            s.measured,
            s.r.as_secs_f64() * 1000.0,
            s.p.as_secs_f64() * 1000.0,
            s.r.max(s.p).as_secs_f64() * 1000.0,
            s.ideal,
            s.ideal_n,
            source.count()
        ),
    );
    n.explain(format!(
        "R = mean read time, P = mean process time (from the baseline). The first read and the\nlast process overlap nothing, hence the lower best for {} inputs. {polls} aio_error polls said EINPROGRESS.",
        source.count()
    ));
    if s.r < Duration::from_millis(1) {
        n.explain("These reads came from the page cache in microseconds: there was nothing to overlap,\nso AIO's bookkeeping only costs time. That is why the default input is a slow device.");
    }
    // ANCHOR_END: compare
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
