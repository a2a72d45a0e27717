//! POSIX AIO double-buffering (notes: "Asynchronous I/O with AIO", "example: normal").
//!
//! Two buffers. The first block is read the ordinary, blocking way. Then, for every
//! next block: aio_read it into the spare buffer, process the current buffer while
//! that read proceeds on glibc's worker thread, wait until aio_error stops saying
//! EINPROGRESS, collect the result with aio_return (once), and swap the buffers. The
//! read of block k+1 overlaps the processing of block k, which is the whole point.
//!
//! A block is what one read brings: the whole input when it fits in the buffer, else
//! the next piece of it. Each input is read until a read returns 0 (end of file) or
//! its known size has been read ([`common::aio::input_ended`]), so a 50 MiB file takes
//! four reads and a `/proc` file, whose size says 0, is read anyway.
//!
//! The same inputs are then read again without overlap (read, process, read, ...), so
//! the speed-up printed at the end is measured, not assumed ([`scenario`]).

use blocks::{Block, Blocks};
use common::aio::{Inputs, Summary};
use common::narrate::{ms, plural};
use common::sys::aio::{aio_suspend, lio_listio, AioRead, ListMode, Notify, Status};
use common::timeline::Timeline;
use common::{Context, Error, Narrator, Result};
use serde_json::json;
use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

mod blocks;
pub mod scenario;
pub use scenario::{speedup, timeline, Speedup};

/// Longest any one wait may take before the demo gives up with an error.
const DEADLINE: Duration = Duration::from_secs(10);

/// How the program waits for an aio_read to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStyle {
    /// The notes' way: call aio_error until it stops saying EINPROGRESS, sleeping between.
    Poll,
    /// aio_suspend with a timeout: sleep in glibc until the request finishes.
    Suspend,
}

/// The knobs the CLI exposes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// aio_error polling or aio_suspend.
    pub wait: WaitStyle,
    /// Simulated computation added to every process() call.
    pub process_extra: Duration,
    /// Sleep between two aio_error polls.
    pub poll_sleep: Duration,
    /// The timeout of each aio_suspend call.
    pub suspend_timeout: Duration,
}

/// One block's life in a run: one read, then process() on what it brought.
#[derive(Debug, Clone)]
pub struct Step {
    /// 0-based input number.
    pub input: usize,
    /// 0-based number of this read within the input.
    pub block: usize,
    /// Where in the input the read started.
    pub offset: u64,
    /// What the read returned (0: end of file).
    pub bytes: usize,
    /// This read was the input's last.
    pub ends_input: bool,
    /// From the request until the read finished.
    pub read: (Instant, Instant),
    /// process() on it (zero length for an end-of-file read: nothing to process).
    pub process: (Instant, Instant),
    /// aio_error calls that said EINPROGRESS (0 for a blocking read).
    pub polls: u32,
    /// aio_suspend calls (with --wait suspend).
    pub suspends: u32,
    /// What process() found in this block.
    pub summary: Summary,
}

/// A whole run: every step, each input's summary, and the wall time.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// One per read, in order.
    pub steps: Vec<Step>,
    /// Each whole input, block by block.
    pub inputs: Vec<Summary>,
    /// First request to last process end.
    pub wall: Duration,
}

impl RunResult {
    /// The reads that brought data (end-of-file reads bring nothing to overlap).
    fn data_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.bytes > 0)
    }

    fn mean(&self, f: impl Fn(&Step) -> Duration) -> Duration {
        let n = u32::try_from(self.data_steps().count().max(1)).unwrap_or(1);
        self.data_steps().map(f).sum::<Duration>() / n
    }

    /// Mean time from request to data (R).
    pub fn mean_read(&self) -> Duration {
        self.mean(|s| s.read.1.saturating_duration_since(s.read.0))
    }

    /// Mean process() time (P).
    pub fn mean_process(&self) -> Duration {
        self.mean(|s| s.process.1.saturating_duration_since(s.process.0))
    }

    /// aio_error polls that said EINPROGRESS, over all reads.
    pub fn total_polls(&self) -> u32 {
        self.steps.iter().map(|s| s.polls).sum()
    }

    /// Reads that brought data: the blocks that were processed.
    pub fn blocks(&self) -> usize {
        self.data_steps().count()
    }
}

// ANCHOR: double_buffer
/// The notes' "normal" example: double-buffering with aio_read.
pub fn run_overlapped(n: &Narrator, source: &dyn Inputs, o: &Options) -> Result<RunResult> {
    let mut blocks = Blocks::new(n, source, "overlap");
    // Two buffers of MAX_SIZE; `current` holds data being processed, `spare` receives.
    let (mut current, mut spare) = (vec![0u8; source.buffer_size()], vec![0u8; source.buffer_size()]);

    // The first block: nothing to overlap with yet, so an ordinary blocking read.
    let mut block = blocks.open(0)?;
    blocks.read_blocking(&mut block, &mut current)?;

    while let Some(mut next) = blocks.after(&block)? {
        // Start reading the next block into the spare buffer...
        let mut req = AioRead::new(Arc::clone(&next.fd), next.step.offset, std::mem::take(&mut spare));
        let finish_time = FinishTime::noted_by(&mut req);
        req.aio_read().with_context(|| format!("aio_read {}", next.name()))?;
        narrate_aio_read(n, &next, req.nbytes());

        // ...process the current one meanwhile (if this fails, `req` is dropped in
        // flight: its Drop cancels it and waits before freeing the buffer)...
        blocks.process(block, &current, o)?;

        // ...then wait for the read, collect it exactly once, and swap.
        (next.step.polls, next.step.suspends) = wait_for(n, &req, &next, o)?;
        let seen = Instant::now();
        let done = req
            .aio_return()
            .map_err(|_| Error::msg(format!("aio_return {}", next.name()), "not finished"))?;
        if let Status::Failed(errno) = done.status {
            return Err(Error::os(format!("read {}", next.name()), errno));
        }
        let got = usize::try_from(done.ret).unwrap_or(0);
        blocks.finish_read(&mut next, got, finish_time.or(seen));
        narrate_aio_return(n, "overlap", &next);
        spare = std::mem::replace(&mut current, done.buf);
        block = next;
    }

    // The last block has nothing after it to overlap with.
    blocks.process(block, &current, o)?;
    Ok(blocks.result())
}
// ANCHOR_END: double_buffer

// ANCHOR: wait_loop
/// Waits for `req` to finish: the notes' aio_error loop (counting the polls that said
/// EINPROGRESS, sleeping a little between them) or aio_suspend with a timeout. Returns
/// (polls, aio_suspend calls).
fn wait_for(n: &Narrator, req: &AioRead, b: &Block, o: &Options) -> Result<(u32, u32)> {
    let label = b.name();
    let deadline = Instant::now() + DEADLINE;
    let (mut polls, mut suspends) = (0u32, 0u32);
    while !req.aio_error().is_finished() {
        if Instant::now() >= deadline {
            return Err(Error::msg(format!("wait for {label}"), "still EINPROGRESS after 10 s"));
        }
        match o.wait {
            WaitStyle::Poll => {
                polls += 1;
                std::thread::sleep(o.poll_sleep);
            }
            WaitStyle::Suspend => {
                suspends += 1;
                match aio_suspend(&[req], o.suspend_timeout) {
                    Ok(()) | Err(nix::errno::Errno::EINTR) => {}
                    Err(nix::errno::Errno::EAGAIN) => narrate_suspend_timeout(n, &label, o.suspend_timeout),
                    Err(e) => return Err(Error::os(format!("aio_suspend({label})"), e)),
                }
            }
        }
    }
    narrate_wait(n, b, o, polls, suspends);
    Ok((polls, suspends))
}
// ANCHOR_END: wait_loop

// ANCHOR: baseline
/// The blocking baseline (--no-overlap): read, process, read, process...
pub fn run_sequential(n: &Narrator, source: &dyn Inputs, o: &Options) -> Result<RunResult> {
    let mut blocks = Blocks::new(n, source, "baseline");
    let mut buf = vec![0u8; source.buffer_size()];
    let mut next = Some(blocks.open(0)?);
    while let Some(mut block) = next {
        blocks.read_blocking(&mut block, &mut buf)?;
        let (rest, input) = (blocks.rest_of(&block), block.step.input);
        blocks.process(block, &buf, o)?;
        // Only now ask for the next input: asking is what starts the device's wait.
        next = match rest {
            Some(rest) => Some(rest),
            None => blocks.next_input(input)?,
        };
    }
    Ok(blocks.result())
}
// ANCHOR_END: baseline

// ANCHOR: list
/// `--list`: every input's next block enqueued at once with lio_listio, first LIO_WAIT
/// (the call returns when all are done), then LIO_NOWAIT with one SIGEV_THREAD
/// notification for the whole list; again for inputs that have more, until all have
/// ended. Returns each input's summary from both rounds.
pub fn run_list(n: &Narrator, source: &dyn Inputs, o: &Options) -> Result<(Vec<Summary>, Timeline)> {
    let mut timeline = Timeline::new("timeline (--list)");
    let mut summaries = Vec::new();
    for mode in [ListMode::Wait, ListMode::NoWait] {
        let name = if mode == ListMode::Wait { "LIO_WAIT" } else { "LIO_NOWAIT" };
        let mut blocks = Blocks::new(n, source, name);
        let mut pending = (0..source.count()).map(|i| blocks.open(i)).collect::<Result<Vec<_>>>()?;
        while !pending.is_empty() {
            let asked = Instant::now();
            let mut reqs: Vec<AioRead> = pending
                .iter()
                .map(|b| AioRead::new(Arc::clone(&b.fd), b.step.offset, vec![0; source.buffer_size()]))
                .collect();
            let (tx, rx) = std::sync::mpsc::channel();
            let notify = Notify::thread(move || {
                let _ = tx.send((nix::unistd::gettid().as_raw(), Instant::now()));
            });
            lio_listio(mode, &mut reqs.iter_mut().collect::<Vec<_>>(), notify)
                .with_context(|| format!("lio_listio({name})"))?;
            narrate_lio_listio(n, name, reqs.len(), asked.elapsed());
            let all_done = if mode == ListMode::Wait {
                n.explain("LIO_WAIT returned only when every read had finished; glibc ran them at once,\none worker thread per fd, so this took about one read's time, not the sum.");
                Instant::now()
            } else {
                n.explain("LIO_NOWAIT returned at once; the reads go on, and one notification (a\nSIGEV_THREAD callback) will say the whole list is done. main waits for it.");
                let (tid, at) = rx.recv_timeout(DEADLINE).map_err(|_| {
                    Error::msg("lio_listio(LIO_NOWAIT)", "no completion notification within 10 s")
                })?;
                narrate_list_notification(n, tid, at, asked);
                at
            };
            let mut more = Vec::new();
            for (mut block, req) in pending.into_iter().zip(reqs) {
                let done = req
                    .aio_return()
                    .map_err(|_| Error::msg(format!("aio_return {}", block.name()), "not finished"))?;
                if let Status::Failed(errno) = done.status {
                    return Err(Error::os(format!("read {}", block.name()), errno));
                }
                blocks.finish_read(&mut block, usize::try_from(done.ret).unwrap_or(0), all_done);
                narrate_aio_return(n, name, &block);
                timeline.add(format!("{name} read {}", block.short()), n.ms_at(asked), n.ms_at(all_done), "");
                more.extend(blocks.rest_of(&block));
                blocks.process(block, &done.buf, o)?;
            }
            pending = more;
        }
        summaries.extend(blocks.result().inputs);
    }
    Ok((summaries, timeline))
}
// ANCHOR_END: list

/// When glibc's worker finished a read, for the timeline. The loop itself learns it
/// only at its next aio_error, which for a cached file comes a whole process() later:
/// drawn from that, a read of microseconds looked as long as the processing. So each
/// request also carries a SIGEV_THREAD notification whose only job is to note the time.
struct FinishTime(Arc<OnceLock<Instant>>);

impl FinishTime {
    fn noted_by(req: &mut AioRead) -> Self {
        let cell = Arc::new(OnceLock::new());
        let noted = Arc::clone(&cell);
        req.set_notify(Notify::thread(move || {
            let _ = noted.set(Instant::now());
        }));
        FinishTime(cell)
    }

    /// The noted time, or `seen` (when the loop saw it finished) if that came first or
    /// the notification has not run yet.
    fn or(&self, seen: Instant) -> Instant {
        self.0.get().map_or(seen, |&at| at.min(seen))
    }
}

// Narration: one function per call, each building its text from the event's fields.

fn narrate_aio_read(n: &Narrator, b: &Block, nbytes: usize) {
    let (s, fd) = (&b.step, b.fd.as_raw_fd());
    let fields = json!({"run": "overlap", "input": s.input, "label": b.label, "block": s.block, "offset": s.offset, "fd": fd, "nbytes": nbytes, "ret": 0});
    let text = format!(
        "aio_read(fd {fd}, {}, {} into the spare buffer) = 0: glibc's worker reads it",
        b.name(),
        plural(nbytes as u64, "byte", "bytes")
    );
    n.event("aio_read", fields, text);
}

fn narrate_suspend_timeout(n: &Narrator, label: &str, timeout: Duration) {
    let text = format!("aio_suspend = -1 EAGAIN: {label} not done within {:.0} ms; again", ms(timeout));
    n.event("aio_suspend_timeout", json!({"label": label, "timeout_ms": ms(timeout)}), text);
}

fn narrate_wait(n: &Narrator, b: &Block, o: &Options, polls: u32, suspends: u32) {
    let label = b.name();
    let (method, text) = match o.wait {
        WaitStyle::Poll if polls == 0 => {
            ("aio_error", format!("aio_error({label}) = 0 at the first look: it finished while we processed"))
        }
        WaitStyle::Poll => {
            ("aio_error", format!("aio_error({label}) = EINPROGRESS {}, then 0", times(polls, o.poll_sleep)))
        }
        WaitStyle::Suspend => (
            "aio_suspend",
            format!(
                "aio_suspend({label}) returned after {}; aio_error = 0",
                plural(suspends.into(), "call", "calls")
            ),
        ),
    };
    let fields = json!({"input": b.step.input, "label": b.label, "block": b.step.block, "offset": b.step.offset, "method": method, "polls": polls, "suspends": suspends});
    n.event("wait_done", fields, text);
}

/// `once (a 5 ms sleep)`, `15 times (5 ms sleeps)`.
fn times(polls: u32, sleep: Duration) -> String {
    match polls {
        1 => format!("once ({:.0} ms sleep)", ms(sleep)),
        n => format!("{n} times ({:.0} ms sleeps)", ms(sleep)),
    }
}

fn narrate_aio_return(n: &Narrator, run: &str, b: &Block) {
    let s = &b.step;
    let then = match (s.bytes, run) {
        (0, _) => "; end of file",
        (_, "overlap") => "; swap buffers",
        _ => "",
    };
    let fields = json!({"run": run, "input": s.input, "label": b.label, "block": s.block, "offset": s.offset, "ret": s.bytes});
    n.event("aio_return", fields, format!("aio_return({}) = {}{then}", b.name(), s.bytes));
}

fn narrate_lio_listio(n: &Narrator, mode: &str, requests: usize, took: Duration) {
    let text = format!(
        "lio_listio({mode}, {}, one per fd) = 0 after {:.0} ms",
        plural(requests as u64, "read", "reads"),
        ms(took)
    );
    n.event("lio_listio", json!({"mode": mode, "requests": requests, "ret": 0, "ms": ms(took)}), text);
}

fn narrate_list_notification(n: &Narrator, tid: i32, at: Instant, asked: Instant) {
    let main = nix::unistd::gettid().as_raw();
    let text = format!("list notification: callback on thread {tid} (main is {main}): all reads done");
    n.event_at(at, "list_notification", json!({"tid": tid, "main_tid": main, "ms": ms(at - asked)}), text);
}
