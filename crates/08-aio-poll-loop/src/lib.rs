//! POSIX AIO double-buffering (notes: "Asynchronous I/O with AIO", "example: normal").
//!
//! Two buffers. The first input is read the ordinary, blocking way. Then, for every
//! next input: aio_read it into the spare buffer, process the current buffer while
//! that read proceeds on glibc's worker thread, wait until aio_error stops saying
//! EINPROGRESS, collect the result with aio_return (once), and swap the buffers. The
//! read of input i+1 overlaps the processing of input i, which is the whole point.
//!
//! The same inputs are then read again without overlap (read, process, read, ...), so
//! the speed-up printed at the end is measured, not assumed.

use common::aio::{check_complete, process, Inputs, Summary};
use common::sys::aio::{aio_suspend, lio_listio, AioRead, ListMode, Notify, Status};
use common::timeline::Timeline;
use common::{Context, Error, Narrator, Result};
use serde_json::json;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

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

/// One input's life in a run.
#[derive(Debug, Clone)]
pub struct Step {
    /// 0-based input number.
    pub input: usize,
    /// From open (the request) until the program saw the read finished.
    pub read: (Instant, Instant),
    /// process() on it.
    pub process: (Instant, Instant),
    /// aio_error calls that said EINPROGRESS (0 for a blocking read).
    pub polls: u32,
    /// aio_suspend calls (with --wait suspend).
    pub suspends: u32,
    /// What process() found.
    pub summary: Summary,
}

/// A whole run: every step, and the wall time from the first open to the last process.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// One per input, in order.
    pub steps: Vec<Step>,
    /// First open to last process end.
    pub wall: Duration,
}

impl RunResult {
    fn mean(&self, f: impl Fn(&Step) -> Duration) -> Duration {
        let n = u32::try_from(self.steps.len().max(1)).unwrap_or(1);
        self.steps.iter().map(f).sum::<Duration>() / n
    }

    /// Mean time from request to data (R).
    pub fn mean_read(&self) -> Duration {
        self.mean(|s| s.read.1.saturating_duration_since(s.read.0))
    }

    /// Mean process() time (P).
    pub fn mean_process(&self) -> Duration {
        self.mean(|s| s.process.1.saturating_duration_since(s.process.0))
    }

    /// aio_error polls that said EINPROGRESS, over all inputs.
    pub fn total_polls(&self) -> u32 {
        self.steps.iter().map(|s| s.polls).sum()
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

/// Runs process() on input `i`'s bytes, after checking it has all of them; narrated.
fn process_input(
    n: &Narrator,
    source: &dyn Inputs,
    run: &str,
    i: usize,
    bytes: &[u8],
    o: &Options,
) -> Result<Step> {
    let label = source.label(i);
    check_complete(&label, source.expected_len(i), isize::try_from(bytes.len()).unwrap_or(-1))?;
    let started = Instant::now();
    let summary = process(bytes, o.process_extra);
    let ended = Instant::now();
    n.event(
        "process",
        json!({"run": run, "input": i, "label": label, "bytes": summary.bytes, "checksum": summary.checksum_hex(),
               "lines": summary.lines, "words": summary.words, "ms": ms(ended - started)}),
        format!(
            "process({label}): {} bytes, {} lines, {} words, checksum {}  ({:.0} ms)",
            summary.bytes,
            summary.lines,
            summary.words,
            summary.checksum_hex(),
            ms(ended - started)
        ),
    );
    Ok(Step { input: i, read: (started, started), process: (started, ended), polls: 0, suspends: 0, summary })
}

// ANCHOR: blocking_read
/// An ordinary read() of input `i` into `buf`: the thread sleeps until the data is
/// there. Returns the byte count and when the read was requested.
fn blocking_read(
    n: &Narrator,
    source: &dyn Inputs,
    run: &str,
    i: usize,
    buf: &mut [u8],
) -> Result<(usize, Instant)> {
    let asked = Instant::now();
    let fd = source.open(i)?;
    let label = source.label(i);
    let got = common::fd::retry_eintr(|| nix::unistd::read(fd.as_fd(), buf))
        .with_context(|| format!("read {label}"))?;
    n.event(
        "read_blocking",
        json!({"run": run, "input": i, "label": label, "fd": fd.as_raw_fd(), "ret": got, "ms": ms(asked.elapsed())}),
        format!("read(fd {}, {label}) = {got} bytes, blocking for {:.0} ms", fd.as_raw_fd(), ms(asked.elapsed())),
    );
    Ok((got, asked))
}
// ANCHOR_END: blocking_read

// ANCHOR: wait_loop
/// Waits for `req` to finish: the notes' aio_error loop (counting the polls that said
/// EINPROGRESS, sleeping a little between them) or aio_suspend with a timeout. Returns
/// (polls, aio_suspend calls).
fn wait_for(n: &Narrator, req: &AioRead, input: usize, label: &str, o: &Options) -> Result<(u32, u32)> {
    let deadline = Instant::now() + DEADLINE;
    let (mut polls, mut suspends) = (0u32, 0u32);
    loop {
        let status = req.aio_error();
        if status.is_finished() {
            break;
        }
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
                    Ok(()) => {}
                    Err(nix::errno::Errno::EAGAIN) => n.event(
                        "aio_suspend_timeout",
                        json!({"label": label, "timeout_ms": ms(o.suspend_timeout)}),
                        format!(
                            "aio_suspend = -1 EAGAIN: {label} not done within {:.0} ms; again",
                            ms(o.suspend_timeout)
                        ),
                    ),
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(Error::os(format!("aio_suspend({label})"), e)),
                }
            }
        }
    }
    let text = match o.wait {
        WaitStyle::Poll if polls == 0 => {
            format!("aio_error({label}) = 0 at the first look: it finished while we processed")
        }
        WaitStyle::Poll => {
            format!(
                "aio_error({label}) = EINPROGRESS {polls} times ({:.0} ms sleeps), then 0",
                ms(o.poll_sleep)
            )
        }
        WaitStyle::Suspend => {
            format!("aio_suspend({label}) returned after {suspends} call(s); aio_error = 0")
        }
    };
    n.event(
        "wait_done",
        json!({"input": input, "label": label, "method": style_name(o.wait), "polls": polls, "suspends": suspends}),
        text,
    );
    Ok((polls, suspends))
}
// ANCHOR_END: wait_loop

fn style_name(w: WaitStyle) -> &'static str {
    match w {
        WaitStyle::Poll => "aio_error",
        WaitStyle::Suspend => "aio_suspend",
    }
}

// ANCHOR: double_buffer
/// The notes' "normal" example: double-buffering with aio_read.
pub fn run_overlapped(n: &Narrator, source: &dyn Inputs, o: &Options) -> Result<RunResult> {
    let run = "overlap";
    let size = source.buffer_size();
    // Two buffers of MAX_SIZE; `current` holds data being processed, `spare` receives.
    let mut current = vec![0u8; size];
    let mut spare = vec![0u8; size];
    let started = Instant::now();

    // The first input: nothing to overlap with yet, so an ordinary blocking read.
    let (mut current_len, mut current_asked) = blocking_read(n, source, run, 0, &mut current)?;
    let mut current_read_done = Instant::now();
    let (mut current_polls, mut current_suspends) = (0, 0);
    let mut steps = Vec::new();

    for next in 1..source.count() {
        // Start reading the next input into the spare buffer...
        let label = source.label(next);
        let asked = Instant::now();
        let fd = source.open(next)?;
        let raw = fd.as_raw_fd();
        let mut req = AioRead::new(fd, 0, std::mem::take(&mut spare));
        req.aio_read().with_context(|| format!("aio_read {label}"))?;
        n.event(
            "aio_read",
            json!({"run": run, "input": next, "label": label, "fd": raw, "nbytes": size, "ret": 0}),
            format!("aio_read(fd {raw}, {label}, {size} bytes into the spare buffer) = 0: glibc's worker reads it"),
        );

        // ...process the current one meanwhile (if this fails, `req` is dropped in
        // flight: its Drop cancels it and waits before freeing the buffer)...
        let mut step = process_input(n, source, run, next - 1, &current[..current_len], o)?;
        step.read = (current_asked, current_read_done);
        (step.polls, step.suspends) = (current_polls, current_suspends);
        steps.push(step);

        // ...then wait for the read, collect it exactly once, and swap.
        let (polls, suspends) = wait_for(n, &req, next, &label, o)?;
        let read_done = Instant::now();
        let done = req.aio_return().map_err(|_| Error::msg(format!("aio_return {label}"), "not finished"))?;
        if let Status::Failed(errno) = done.status {
            return Err(Error::os(format!("read {label}"), errno));
        }
        n.event(
            "aio_return",
            json!({"run": run, "input": next, "label": label, "ret": done.ret}),
            format!("aio_return({label}) = {}; swap buffers", done.ret),
        );
        current_len = usize::try_from(done.ret).unwrap_or(0);
        spare = std::mem::replace(&mut current, done.buf);
        (current_asked, current_read_done, current_polls, current_suspends) =
            (asked, read_done, polls, suspends);
    }

    // The last input has nothing after it to overlap with.
    let mut step = process_input(n, source, run, source.count() - 1, &current[..current_len], o)?;
    step.read = (current_asked, current_read_done);
    (step.polls, step.suspends) = (current_polls, current_suspends);
    steps.push(step);
    Ok(RunResult { steps, wall: started.elapsed() })
}
// ANCHOR_END: double_buffer

// ANCHOR: baseline
/// The blocking baseline (--no-overlap): read, process, read, process...
pub fn run_sequential(n: &Narrator, source: &dyn Inputs, o: &Options) -> Result<RunResult> {
    let run = "baseline";
    let mut buf = vec![0u8; source.buffer_size()];
    let started = Instant::now();
    let mut steps = Vec::new();
    for i in 0..source.count() {
        let (len, asked) = blocking_read(n, source, run, i, &mut buf)?;
        let read_done = Instant::now();
        let mut step = process_input(n, source, run, i, &buf[..len], o)?;
        step.read = (asked, read_done);
        steps.push(step);
    }
    Ok(RunResult { steps, wall: started.elapsed() })
}
// ANCHOR_END: baseline

/// The timeline of a run: a read bar and a process bar per input.
pub fn timeline(n: &Narrator, result: &RunResult, title: &str) -> Timeline {
    let mut t = Timeline::new(title);
    for s in &result.steps {
        let note = if s.polls > 0 { format!("{} polls", s.polls) } else { String::new() };
        t.add(format!("read {}", s.input + 1), n.ms_at(s.read.0), n.ms_at(s.read.1), note);
        t.add(format!("process {}", s.input + 1), n.ms_at(s.process.0), n.ms_at(s.process.1), "");
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
    /// (R+P)/max(R,P): the steady-state best, per input.
    pub ideal: f64,
    /// n(R+P) / (R + (n-1)max(R,P) + P): the best for this many inputs (the first read
    /// and the last process cannot overlap anything).
    pub ideal_n: f64,
}

// ANCHOR: speedup
/// Compares the two runs.
pub fn speedup(overlapped: &RunResult, baseline: &RunResult) -> Speedup {
    let (r, p) = (baseline.mean_read().as_secs_f64(), baseline.mean_process().as_secs_f64());
    let count = baseline.steps.len().max(1) as f64;
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

// ANCHOR: list
/// `--list`: every read enqueued at once with lio_listio, first LIO_WAIT (the call
/// returns when all are done), then LIO_NOWAIT with one SIGEV_THREAD notification for
/// the whole list. Returns each input's summary from both rounds.
pub fn run_list(n: &Narrator, source: &dyn Inputs, o: &Options) -> Result<(Vec<Summary>, Timeline)> {
    let size = source.buffer_size();
    let mut timeline = Timeline::new("timeline (--list)");
    let mut summaries = Vec::new();
    for mode in [ListMode::Wait, ListMode::NoWait] {
        let mode_name = if mode == ListMode::Wait { "LIO_WAIT" } else { "LIO_NOWAIT" };
        let asked = Instant::now();
        let mut reqs = Vec::new();
        for i in 0..source.count() {
            reqs.push(AioRead::new(source.open(i)?, 0, vec![0; size]));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let notify = Notify::thread(move || {
            let _ = tx.send((nix::unistd::gettid().as_raw(), Instant::now()));
        });
        {
            let mut refs: Vec<&mut AioRead> = reqs.iter_mut().collect();
            lio_listio(mode, &mut refs, notify).with_context(|| format!("lio_listio({mode_name})"))?;
        }
        let returned = Instant::now();
        n.event(
            "lio_listio",
            json!({"mode": mode_name, "requests": reqs.len(), "ret": 0, "ms": ms(returned - asked)}),
            format!(
                "lio_listio({mode_name}, {} reads, one per fd) = 0 after {:.0} ms",
                reqs.len(),
                ms(returned - asked)
            ),
        );
        let all_done = if mode == ListMode::Wait {
            n.explain("LIO_WAIT returned only when every read had finished; glibc ran them at once,\none worker thread per fd, so this took about one read's time, not the sum.");
            returned
        } else {
            n.explain("LIO_NOWAIT returned at once; the reads go on, and one notification (a\nSIGEV_THREAD callback) will say the whole list is done. main waits for it.");
            let (tid, at) = rx.recv_timeout(DEADLINE).map_err(|_| {
                Error::msg("lio_listio(LIO_NOWAIT)", "no completion notification within 10 s")
            })?;
            n.event_at(
                at,
                "list_notification",
                json!({"tid": tid, "main_tid": nix::unistd::gettid().as_raw(), "ms": ms(at - asked)}),
                format!(
                    "list notification: callback on thread {tid} (main is {}): all reads done",
                    nix::unistd::gettid()
                ),
            );
            at
        };
        for (i, req) in reqs.into_iter().enumerate() {
            let label = source.label(i);
            let done =
                req.aio_return().map_err(|_| Error::msg(format!("aio_return {label}"), "not finished"))?;
            if let Status::Failed(errno) = done.status {
                return Err(Error::os(format!("read {label}"), errno));
            }
            n.event(
                "aio_return",
                json!({"run": mode_name, "input": i, "label": label, "ret": done.ret}),
                format!("aio_return({label}) = {}", done.ret),
            );
            let step = process_input(n, source, mode_name, i, done.bytes(), o)?;
            timeline.add(format!("{mode_name} read {}", i + 1), n.ms_at(asked), n.ms_at(all_done), "");
            summaries.push(step.summary);
        }
    }
    Ok((summaries, timeline))
}
// ANCHOR_END: list
