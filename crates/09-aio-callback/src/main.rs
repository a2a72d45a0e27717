//! # aio-callback: POSIX AIO completion callbacks (SIGEV_THREAD) and signals
//!
//! Demonstrates the notes' "callback" AIO example on several inputs at once: each
//! aio_read asks for SIGEV_THREAD, and when it finishes glibc calls our function on a
//! thread it creates, passing the context we put in `sigev_value.sival_ptr`. The
//! callback collects the result (aio_return, once) and processes the bytes. `--signal`
//! shows the alternative: SIGEV_SIGNAL, collected by main with sigwaitinfo.
//!
//! Notes: "Asynchronous I/O with AIO": "struct sigevent", "struct sigval",
//! "example: callback".
//!
//! Run it: `just run aio-callback` (or `just run aio-callback --signal`; real files:
//! `just run aio-callback a.txt b.txt`; `just trace aio-callback` shows the threads).
//!
//! Watch for: `callback on thread T (main is M)`: T differs from M and from one callback
//! to the next; the callbacks arrive in the order the reads finish, not the order they
//! were started; main says when it has received each result.
//!
//! By default the inputs come from a *simulated* slow device (offline::slow) whose
//! inputs take 100, 300 and 200 ms, so the completions arrive at different times.
//!
//! Where it differs from the notes: the notes end main with `pthread_exit(NULL)` so the
//! process outlives main until the callback has run. Here main waits on a channel for
//! every callback, with a deadline: it learns each result, cannot hang forever, and
//! returns normally (Rust's cleanup runs). The notes' callback frees the buffer it was
//! handed; here the context is a Rust value the callback takes back exactly once, and
//! the buffer is returned with the request after aio_return. The notes declare the
//! callback as returning `void*`; glibc's type is `void (*)(union sigval)`.

use clap::Parser;
use common::aio::{FileInput, Inputs};
use common::narrate::Style;
use common::timeline::Timeline;
use common::Result;
use offline::slow::SlowDevice;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aio_callback::Mode;

const AFTER_HELP: &str = "\
What it shows:
  Three reads started at once, each with SIGEV_THREAD. As each finishes, glibc runs our
  callback on a new thread; it takes back its context, calls aio_return, and sends the
  result to main, which waits for all of them (with a deadline) instead of pthread_exit.

Examples:
  aio-callback                     simulated slow device, SIGEV_THREAD callbacks
  aio-callback --signal            SIGEV_SIGNAL (SIGRTMIN) taken with sigwaitinfo
  aio-callback /etc/hostname /etc/passwd   real files";

/// POSIX AIO with completion callbacks (SIGEV_THREAD) or signals (--signal).
#[derive(Parser, Debug)]
#[command(name = "aio-callback", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Files to read, all at once (default: three inputs from a simulated slow device)
    paths: Vec<PathBuf>,
    /// Notify with SIGEV_SIGNAL (SIGRTMIN) and collect with sigwaitinfo instead
    #[arg(long)]
    signal: bool,
    /// Simulated device: latency per 4 KiB chunk, in milliseconds
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=2000))]
    chunk_ms: u64,
    #[command(flatten)]
    common: common::cli::CommonArgs,
}

/// The default inputs' sizes: 1, 3 and 2 chunks, so they finish out of order.
const DEVICE_SIZES: [usize; 3] = [4 * 1024, 12 * 1024, 8 * 1024];

fn inputs(cli: &Cli, n: &common::Narrator) -> Result<Arc<dyn Inputs + Send + Sync>> {
    if cli.paths.is_empty() {
        let data =
            DEVICE_SIZES.iter().enumerate().map(|(i, &size)| common::aio::sample_text(i, size)).collect();
        let dev = SlowDevice::new(data, Duration::from_millis(cli.chunk_ms))?;
        let latencies: Vec<u128> = (0..dev.len()).map(|i| dev.latency(i).as_millis()).collect();
        n.event(
            "source",
            json!({"kind": "simulated_device", "inputs": dev.len(), "latency_ms": latencies}),
            format!(
                "simulated slow device (not a real disk): {} inputs, ready after {} ms",
                dev.len(),
                latencies.iter().map(u128::to_string).collect::<Vec<_>>().join(", ")
            ),
        );
        Ok(Arc::new(dev))
    } else {
        let files = FileInput::check_and_announce(n, &cli.paths)?;
        Ok(Arc::new(files))
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let mode = if cli.signal { Mode::Signal } else { Mode::Thread };
    // Before any thread exists (the simulated device starts one): see prepare_signal_mode.
    if mode == Mode::Signal {
        aio_callback::prepare_signal_mode()?;
    }
    let n = cli.common.narrator();
    let (summary, section) = match mode {
        Mode::Thread => ("aio_read on several inputs at once; glibc calls us back on its own threads (SIGEV_THREAD)", "Asynchronous I/O with AIO: example: callback"),
        Mode::Signal => ("aio_read on several inputs at once; each completion queues a signal main takes with sigwaitinfo (SIGEV_SIGNAL)", "Asynchronous I/O with AIO: struct sigevent"),
    };
    n.title("aio-callback", summary, section);
    let main_tid = nix::unistd::gettid().as_raw();
    n.event("main_thread", json!({"tid": main_tid}), format!("main is thread {main_tid}"));
    if mode == Mode::Signal {
        n.event(
            "sigmask",
            json!({"blocked": "SIGRTMIN", "signo": aio_callback::completion_signal()}),
            format!(
                "pthread_sigmask(SIG_BLOCK, SIGRTMIN = {}) before any thread started",
                aio_callback::completion_signal()
            ),
        );
    }
    let inputs = inputs(&cli, &n)?;
    let started = Instant::now();
    let completions = aio_callback::run(&n, Arc::clone(&inputs), mode)?;

    n.say("");
    let mut timeline = Timeline::new("timeline");
    for c in &completions {
        let who = if c.tid == main_tid { "main".to_string() } else { format!("thread {}", c.tid) };
        timeline.add(
            format!("read {}", inputs.label(c.input)),
            n.ms_at(started),
            n.ms_at(c.at),
            format!("done on {who}"),
        );
    }
    timeline.bars.sort_by(|a, b| a.label.cmp(&b.label));
    n.timeline(&timeline);
    let mut tids: Vec<i32> = completions.iter().map(|c| c.tid).collect();
    tids.sort_unstable();
    tids.dedup();
    let text = match mode {
        Mode::Thread => format!(
            "{} reads, {} callbacks, each ran once, on {} thread(s) glibc made, none of them main ({main_tid})",
            inputs.count(),
            completions.len(),
            tids.len()
        ),
        Mode::Signal => format!("{} reads, {} signals, all collected on main ({main_tid})", inputs.count(), completions.len()),
    };
    n.event_styled(
        "done",
        json!({"mode": if mode == Mode::Thread { "thread" } else { "signal" }, "completions": completions.len(),
               "main_tid": main_tid, "tids": tids}),
        Style::Good,
        text,
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
