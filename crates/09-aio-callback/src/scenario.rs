//! The demo around the technique: where the inputs come from, main's thread and signal
//! mask, and the timeline and summary once every input has ended.

use crate::Mode;
use common::aio::{FileInput, Inputs};
use common::narrate::{plural, Style};
use common::timeline::Timeline;
use common::{Narrator, Result};
use offline::slow::SlowDevice;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Config {
    /// Files to read; empty: the simulated slow device.
    pub paths: Vec<PathBuf>,
    /// SIGEV_THREAD callbacks or SIGEV_SIGNAL.
    pub mode: Mode,
    /// Simulated device: latency per 4 KiB chunk.
    pub chunk: Duration,
}

/// The default inputs' sizes: 1, 3 and 2 chunks, so they finish out of order.
const DEVICE_SIZES: [usize; 3] = [4 * 1024, 12 * 1024, 8 * 1024];

/// The simulated slow device (default) or the files named on the command line.
pub fn inputs(config: &Config, n: &Narrator) -> Result<Arc<dyn Inputs + Send + Sync>> {
    if !config.paths.is_empty() {
        return Ok(Arc::new(FileInput::check_and_announce(n, &config.paths)?));
    }
    let data = DEVICE_SIZES.iter().enumerate().map(|(i, &size)| common::aio::sample_text(i, size)).collect();
    let dev = SlowDevice::new(data, config.chunk)?;
    let latencies: Vec<u128> = (0..dev.len()).map(|i| dev.latency(i).as_millis()).collect();
    let shown = latencies.iter().map(u128::to_string).collect::<Vec<_>>().join(", ");
    let text = format!(
        "simulated slow device (not a real disk): {}, ready after {shown} ms",
        plural(dev.len() as u64, "input", "inputs")
    );
    n.event(
        "source",
        json!({"kind": "simulated_device", "inputs": dev.len(), "latency_ms": latencies}),
        text,
    );
    Ok(Arc::new(dev))
}

/// The whole demo. In `Signal` mode, [`crate::prepare_signal_mode`] comes first, before
/// the simulated device starts its thread.
pub fn run(config: &Config, n: &Narrator) -> Result<()> {
    let mode = config.mode;
    if mode == Mode::Signal {
        crate::prepare_signal_mode()?;
    }
    let (summary, section) = match mode {
        Mode::Thread => ("aio_read on several inputs at once; glibc calls us back on its own threads (SIGEV_THREAD)", "Asynchronous I/O with AIO: example: callback"),
        Mode::Signal => ("aio_read on several inputs at once; each completion queues a signal main takes with sigwaitinfo (SIGEV_SIGNAL)", "Asynchronous I/O with AIO: struct sigevent"),
    };
    n.title("aio-callback", summary, section);
    let main_tid = nix::unistd::gettid().as_raw();
    n.event("main_thread", json!({"tid": main_tid}), format!("main is thread {main_tid}"));
    if mode == Mode::Signal {
        narrate_sigmask(n);
    }
    let inputs = inputs(config, n)?;
    let started = Instant::now();
    let completions = crate::run(n, Arc::clone(&inputs), mode)?;
    n.say("");
    n.timeline(&timeline(n, &*inputs, &completions, started, main_tid));
    narrate_done(n, mode, &completions, main_tid);
    Ok(())
}

/// One bar per input, in the order they were named (the completions came in the order
/// the reads finished), from the start until the input's last read was collected.
pub fn timeline(
    n: &Narrator,
    inputs: &dyn Inputs,
    completions: &[crate::Completion],
    started: Instant,
    main_tid: i32,
) -> Timeline {
    let mut in_order: Vec<&crate::Completion> = completions.iter().collect();
    in_order.sort_by_key(|c| c.input);
    let mut timeline = Timeline::new("timeline");
    for c in in_order {
        let who = if c.tid == main_tid { "main".to_string() } else { format!("thread {}", c.tid) };
        timeline.add(
            format!("read {}", inputs.label(c.input)),
            n.ms_at(started),
            n.ms_at(c.at),
            format!("done on {who}"),
        );
    }
    timeline
}

fn narrate_sigmask(n: &Narrator) {
    let signo = crate::completion_signal();
    let text = format!("pthread_sigmask(SIG_BLOCK, SIGRTMIN = {signo}) before any thread started");
    n.event("sigmask", json!({"blocked": "SIGRTMIN", "signo": signo}), text);
}

fn narrate_done(n: &Narrator, mode: Mode, completions: &[crate::Completion], main_tid: i32) {
    let mut tids: Vec<i32> = completions.iter().map(|c| c.tid).collect();
    tids.sort_unstable();
    tids.dedup();
    let inputs = plural(completions.len() as u64, "input", "inputs");
    let (name, text) = match mode {
        Mode::Thread => ("thread", format!("{inputs} read, each reported once, by callbacks on {} glibc made, none of them main ({main_tid})",
            plural(tids.len() as u64, "thread", "threads"))),
        Mode::Signal => ("signal", format!("{inputs} read, each collected on main ({main_tid}) after sigwaitinfo")),
    };
    let fields = json!({"mode": name, "completions": completions.len(), "main_tid": main_tid, "tids": tids});
    n.event_styled("done", fields, Style::Good, text);
}
