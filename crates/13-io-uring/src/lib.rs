//! The AIO demos' lessons, with io_uring: the program writes requests into a
//! submission queue, one `io_uring_enter` hands them all to the kernel, and results
//! come back in a completion queue in whatever order they finish (beyond the notes,
//! which teach POSIX AIO: "Asynchronous I/O with AIO").
//!
//! The parts, in the order this file reads:
//!
//! 1. [`setup`]: `io_uring_setup`, or the one line that says why io_uring is not
//!    allowed here;
//! 2. [`read_all`]: several reads in flight at once (up to `--depth`), every file read
//!    to its end, completions reaped in the order they finish;
//! 3. [`double_buffer`]: aio-poll-loop's scenario: read the next input while
//!    processing this one, against the same simulated slow device;
//! 4. [`cancel_three_ways`]: `IORING_OP_ASYNC_CANCEL` on a read that waits (cancelled),
//!    one that finished (ENOENT) and one running in the kernel's worker (EALREADY);
//! 5. [`linked_timeouts`]: a read linked to a timeout, which cancels it if it is late.
//!
//! Where glibc's POSIX AIO starts a thread per file and blocks it in `pread`, nothing
//! here starts a thread: the kernel completes the reads (a read that must block runs
//! on the kernel's own io-wq worker, not a thread of the program's).

pub mod scenario;
pub mod sources;

use common::narrate::Style;
use common::sys::uring::{Completion, ReadOptions, Ring};
use common::timeline::Timeline;
use common::{Context, Error, Narrator, Result};
use nix::errno::Errno;
use offline::slow::SlowDevice;
use serde_json::json;
use sources::{Source, Tally};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

/// The longest one wait for a completion may take before the demo gives up.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Completions narrated one by one before the rest are only counted.
const SHOWN: usize = 40;

// ANCHOR: setup
/// `io_uring_setup`: a submission queue and a completion queue of `entries` slots,
/// shared with the kernel through mmap. Fails with one line saying why when io_uring
/// is not available here.
pub fn setup(narrator: &Narrator, entries: u32) -> Result<Ring> {
    let ring = Ring::new(entries).map_err(unavailable)?;
    narrator.event(
        "io_uring_setup",
        json!({"entries": ring.entries(), "ring_fd": ring.fd()}),
        format!(
            "io_uring_setup({entries}) = fd {}: a submission queue and a completion queue of {} entries, \
             shared with the kernel",
            ring.fd(),
            ring.entries()
        ),
    );
    Ok(ring)
}
// ANCHOR_END: setup

/// The error for a failed `io_uring_setup`, saying which of the known causes it is.
pub fn unavailable(errno: Errno) -> Error {
    let why = match errno {
        Errno::EPERM => match std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled") {
            Ok(v) if v.trim() == "2" => {
                "io_uring is switched off on this machine (sysctl kernel.io_uring_disabled = 2)".to_string()
            }
            Ok(v) if v.trim() == "1" => "io_uring is allowed only to root and the io_uring group here \
                                         (sysctl kernel.io_uring_disabled = 1)"
                .to_string(),
            _ => "a seccomp filter forbids io_uring here (a container's default profile does): \
                  run on the host, or with a profile that allows io_uring_setup"
                .to_string(),
        },
        Errno::ENOSYS => {
            "this kernel has no io_uring (it came in Linux 5.1; this demo needs 5.11)".to_string()
        }
        Errno::ENOMEM => "the kernel could not lock memory for the queues (ulimit -l)".to_string(),
        _ => return Error::os("io_uring_setup", errno),
    };
    Error { what: "io_uring_setup".into(), errno: Some(errno), detail: Some(why), usage: false }
}

/// One source's result from [`read_all`].
#[derive(Debug)]
pub struct FileResult {
    /// The source's label.
    pub label: String,
    /// Bytes, lines and checksum of everything read, in file order.
    pub tally: Tally,
    /// Reads it took (the last one returned 0: end of file).
    pub reads: u64,
    /// When its end-of-file read came back.
    pub done: Instant,
}

/// Counts from a [`read_all`] run.
#[derive(Debug, Default, Clone)]
pub struct ReadStats {
    /// `io_uring_enter` calls.
    pub enters: u64,
    /// Completions reaped.
    pub completions: u64,
    /// Most reads in flight at once.
    pub most_in_flight: usize,
    /// The source index of each first data completion, in the order they came back.
    pub first_order: Vec<usize>,
}

/// Where one source is in its reading.
struct Progress {
    source: Source,
    next_offset: u64,
    in_flight: usize,
    eof: bool,
    reads: u64,
    tally: Tally,
    done: Option<Instant>,
}

impl Progress {
    /// May another read of this source be queued now? A file whose size is known is
    /// read ahead, block after block, up to its size; then, like a source of unknown
    /// size (a pipe, a /proc file), one read at a time until one returns 0.
    fn wants_read(&self) -> bool {
        if self.eof {
            return false;
        }
        match self.source.size_hint {
            Some(size) if self.next_offset < size => true,
            _ => self.in_flight == 0,
        }
    }
}

/// The tag of read number `seq` of source `index`: `user_data`, which comes back in
/// the completion, is the only way to tell which request a completion ends.
fn tag(index: usize, seq: u64) -> u64 {
    ((index as u64) << 32) | (seq & 0xffff_ffff)
}

// ANCHOR: read_all
/// Reads every source to its end, with up to `depth` reads of `block` bytes in flight,
/// in the style of liburing's io_uring-cp: keep the submission queue full, hand it
/// over with one `io_uring_enter` that also waits for at least one completion, reap
/// whatever completed, refill.
pub fn read_all(
    narrator: &Narrator,
    ring: &mut Ring,
    sources: Vec<Source>,
    depth: usize,
    block: usize,
) -> Result<(Vec<FileResult>, ReadStats)> {
    let mut progress: Vec<Progress> = sources
        .into_iter()
        .map(|source| Progress {
            source,
            next_offset: 0,
            in_flight: 0,
            eof: false,
            reads: 0,
            tally: Tally::default(),
            done: None,
        })
        .collect();
    let mut stats = ReadStats::default();
    let mut in_flight = 0usize;
    // What each tag asked for: (source index, offset, length), to make sense of its completion.
    let mut asked: std::collections::HashMap<u64, (usize, u64, usize)> = Default::default();
    loop {
        // Fill the submission queue: each source in turn, until `depth` are in flight.
        let mut queued = Vec::new();
        let mut turn = true;
        while turn && in_flight < depth {
            turn = false;
            for (index, p) in progress.iter_mut().enumerate() {
                if in_flight >= depth || !p.wants_read() {
                    continue;
                }
                let (offset, seq) = (p.next_offset, p.reads);
                ring.queue_read(
                    p.source.fd.as_fd(),
                    vec![0; block],
                    offset,
                    tag(index, seq),
                    ReadOptions::default(),
                )
                .map_err(|e| Error::os(format!("queue a read of {}", p.source.label), e))?;
                asked.insert(tag(index, seq), (index, offset, block));
                p.next_offset += block as u64;
                (p.reads, p.in_flight) = (p.reads + 1, p.in_flight + 1);
                in_flight += 1;
                queued.push((index, offset, tag(index, seq)));
                turn = true;
            }
        }
        stats.most_in_flight = stats.most_in_flight.max(in_flight);
        if in_flight == 0 {
            break; // every source read to its end
        }

        // io_uring_enter: submit everything queued, and wait for at least one completion.
        let waited = Instant::now();
        let submitted = match ring.submit_and_wait(1, WAIT_LIMIT) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0, // a signal: the reads go on; reap and wait again
            Err(e) => return Err(Error::os("io_uring_enter", e)),
        };
        stats.enters += 1;
        let completions = ring.completions();
        if stats.completions < SHOWN as u64 {
            narrate_enter(
                narrator,
                &progress_labels(&progress),
                &queued,
                submitted,
                in_flight,
                waited.elapsed(),
            );
        }
        if completions.is_empty() && waited.elapsed() >= WAIT_LIMIT {
            return Err(Error::msg(
                "io_uring_enter",
                format!("no read completed in {} s", WAIT_LIMIT.as_secs()),
            ));
        }

        // Reap: each completion names its read by tag, in the order the reads finished.
        for done in completions {
            let Some((index, offset, len)) = asked.remove(&done.user_data) else { continue };
            let p = &mut progress[index];
            (p.in_flight, in_flight) = (p.in_flight - 1, in_flight - 1);
            stats.completions += 1;
            let got = match done.result {
                Ok(n) => n as usize,
                Err(e) => return Err(Error::os(format!("read {} at offset {offset}", p.source.label), e)),
            };
            if got > 0 && p.tally.in_order == 0 && !stats.first_order.contains(&index) {
                stats.first_order.push(index);
            }
            if let Some(buf) = &done.buf {
                p.tally.add(offset, &buf[..got.min(buf.len())]);
            }
            if got == 0 {
                // End of file: later reads queued past it also return 0.
                p.eof = true;
                p.done.get_or_insert_with(Instant::now);
            } else if p.source.size_hint.is_none() || got < len {
                // A pipe or /proc file, or a file that ended early: go on from here.
                p.next_offset = offset + got as u64;
                if p.source.size_hint.is_some() {
                    p.source.size_hint = Some(offset + got as u64);
                }
            }
            if stats.completions <= SHOWN as u64 {
                narrate_completion(narrator, &p.source.label, &done, offset, narrator.ms_at(Instant::now()));
            } else if stats.completions == SHOWN as u64 + 1 {
                narrator.say(format!("{:10} (more completions: counted, not shown)", ""));
            }
        }
    }
    // ANCHOR_END: read_all

    let mut results = Vec::new();
    for p in progress {
        if p.tally.stranded() > 0 {
            return Err(Error::msg(
                format!("read {}", p.source.label),
                "the file changed while it was read (a block came back after a short read)",
            ));
        }
        if let Some(expected) = &p.source.expected {
            common::aio::check_complete(&p.source.label, expected.len(), p.tally.in_order as isize)?;
            if p.tally.checksum() != common::aio::checksum(expected) {
                return Err(Error::msg(
                    format!("read {}", p.source.label),
                    "the bytes read are not the input's",
                ));
            }
        }
        let done = p.done.unwrap_or_else(Instant::now);
        results.push(FileResult { label: p.source.label, tally: p.tally, reads: p.reads, done });
    }
    Ok((results, stats))
}

fn progress_labels(progress: &[Progress]) -> Vec<String> {
    progress.iter().map(|p| p.source.label.clone()).collect()
}

fn narrate_enter(
    narrator: &Narrator,
    labels: &[String],
    queued: &[(usize, u64, u64)],
    submitted: usize,
    in_flight: usize,
    waited: Duration,
) {
    let names: Vec<String> = queued.iter().map(|(i, off, _)| format!("{} @{off}", labels[*i])).collect();
    let requests: Vec<_> = queued
        .iter()
        .map(|(i, off, user_data)| json!({"label": labels[*i], "offset": off, "user_data": user_data}))
        .collect();
    narrator.event(
        "io_uring_enter",
        json!({"to_submit": queued.len(), "submitted": submitted, "min_complete": 1,
               "in_flight": in_flight, "waited_ms": ms(waited), "requests": requests}),
        format!(
            "io_uring_enter(to_submit {}, min_complete 1) = {submitted} submitted{}; {in_flight} in flight; \
             woke after {:.3} s",
            queued.len(),
            if names.is_empty() { String::new() } else { format!(" [{}]", names.join(", ")) },
            waited.as_secs_f64()
        ),
    );
}

fn narrate_completion(narrator: &Narrator, label: &str, done: &Completion, offset: u64, at_ms: f64) {
    let res = match done.result {
        Ok(n) => n as i64,
        Err(e) => -(e as i64),
    };
    let what = match done.result {
        Ok(0) => "0: end of file".to_string(),
        Ok(n) => format!("{n} bytes"),
        Err(e) => format!("-{} ({})", common::error::errno_name(e), e.desc()),
    };
    narrator.event(
        "completion",
        json!({"user_data": done.user_data, "label": label, "offset": offset, "res": res, "at_ms": round(at_ms)}),
        format!("  completion: {label} @{offset}, user_data {:#x}: res = {what}", done.user_data),
    );
}

// ANCHOR: double_buffer
/// One input's life in a double-buffering run.
#[derive(Debug, Clone)]
pub struct Step {
    /// When it was asked for, and when the program had its bytes.
    pub read: (Instant, Instant),
    /// process() on it.
    pub process: (Instant, Instant),
}

/// A whole run: every step, and the wall time from the first request to the last
/// process() end.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// One per input.
    pub steps: Vec<Step>,
    /// First request to last process end.
    pub wall: Duration,
}

/// aio-poll-loop's double buffering with io_uring: read the first input and wait for
/// it; then for each next one, queue its read into the spare buffer and submit it
/// (`io_uring_enter` with min_complete 0: it returns at once), process the current
/// buffer meanwhile, then wait for the read (min_complete 1) and swap.
pub fn double_buffer(
    narrator: &Narrator,
    ring: &mut Ring,
    device: &SlowDevice,
    inputs: std::ops::Range<usize>,
    extra: Duration,
) -> Result<RunResult> {
    let size = inputs.clone().filter_map(|i| device.input(i).map(<[u8]>::len)).max().unwrap_or(0);
    let started = Instant::now();
    let mut steps = Vec::new();
    let first = inputs.start;
    let asked = Instant::now();
    let fd = device.open(first)?;
    ring.queue_read(fd.as_fd(), vec![0; size], 0, first as u64, ReadOptions::default())
        .map_err(|e| Error::os("queue a read", e))?;
    let mut current = wait_for_read(narrator, ring, device, first)?;
    let mut current_read = (asked, Instant::now());
    drop(fd);
    for next in inputs.clone().skip(1) {
        let asked = Instant::now();
        let fd = device.open(next)?; // the request: the device's latency starts now
        ring.queue_read(fd.as_fd(), vec![0; size], 0, next as u64, ReadOptions::default())
            .map_err(|e| Error::os("queue a read", e))?;
        let submitted = ring.submit().map_err(|e| Error::os("io_uring_enter", e))?;
        narrator.event(
            "submit",
            json!({"input": next, "fd": fd.as_raw_fd(), "submitted": submitted}),
            format!(
                "io_uring_enter(to_submit 1, min_complete 0) = {submitted}: input {} is being read into the spare buffer",
                next + 1
            ),
        );
        steps.push(process_step(narrator, device, first, current_read, &current, extra, steps.len())?);
        let bytes = wait_for_read(narrator, ring, device, next)?;
        drop(fd);
        (current, current_read) = (bytes, (asked, Instant::now()));
    }
    steps.push(process_step(narrator, device, first, current_read, &current, extra, steps.len())?);
    Ok(RunResult { steps, wall: started.elapsed() })
}
// ANCHOR_END: double_buffer

/// `io_uring_enter(min_complete 1)` until input `index`'s read completes; returns its
/// bytes, checked against what the device holds.
fn wait_for_read(narrator: &Narrator, ring: &mut Ring, device: &SlowDevice, index: usize) -> Result<Vec<u8>> {
    let waited = Instant::now();
    let deadline = waited + WAIT_LIMIT;
    loop {
        match ring.submit_and_wait(1, deadline.saturating_duration_since(Instant::now())) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::os("io_uring_enter", e)),
        }
        if let Some(done) = ring.completions().into_iter().find(|c| c.user_data == index as u64) {
            let label = format!("input {}", index + 1);
            let n = done.result.map_err(|e| Error::os(format!("read {label}"), e))? as usize;
            let mut bytes = done.buf.unwrap_or_default();
            bytes.truncate(n);
            let expected = device.input(index).map_or(0, <[u8]>::len);
            common::aio::check_complete(&label, expected, n as isize)?;
            narrator.event(
                "reaped",
                json!({"input": index, "res": n, "waited_ms": ms(waited.elapsed())}),
                format!(
                    "io_uring_enter(min_complete 1) waited {:.0} ms; completion: {label}, res = {n} bytes; swap buffers",
                    ms(waited.elapsed())
                ),
            );
            return Ok(bytes);
        }
        if Instant::now() >= deadline {
            return Err(Error::msg(format!("read input {}", index + 1), "no completion within 10 s"));
        }
    }
}

fn process_step(
    narrator: &Narrator,
    device: &SlowDevice,
    first: usize,
    read: (Instant, Instant),
    bytes: &[u8],
    extra: Duration,
    done_so_far: usize,
) -> Result<Step> {
    let index = first + done_so_far;
    let started = Instant::now();
    let summary = common::aio::process(bytes, extra);
    let ended = Instant::now();
    if device.input(index).map(common::aio::checksum) != Some(summary.checksum) {
        return Err(Error::msg(format!("process input {}", index + 1), "the bytes are not the input's"));
    }
    narrator.event(
        "process",
        json!({"input": index, "bytes": summary.bytes, "checksum": summary.checksum_hex(), "ms": ms(ended - started)}),
        format!(
            "process(input {}): {} bytes, checksum {} ({:.0} ms)",
            index + 1,
            summary.bytes,
            summary.checksum_hex(),
            ms(ended - started)
        ),
    );
    Ok(Step { read, process: (started, ended) })
}

/// The blocking baseline: read (the thread sleeps until the device answers), process,
/// read, process...
pub fn sequential(
    narrator: &Narrator,
    device: &SlowDevice,
    inputs: std::ops::Range<usize>,
    extra: Duration,
) -> Result<RunResult> {
    let started = Instant::now();
    let mut steps = Vec::new();
    let first = inputs.start;
    for index in inputs {
        let asked = Instant::now();
        let fd = device.open(index)?;
        let mut buf = vec![0; device.input(index).map_or(0, <[u8]>::len).max(1)];
        let n = common::fd::retry_eintr(|| nix::unistd::read(fd.as_fd(), &mut buf))
            .with_context(|| format!("read input {}", index + 1))?;
        buf.truncate(n);
        let read = (asked, Instant::now());
        steps.push(process_step(&Narrator::quiet(), device, first, read, &buf, extra, steps.len())?);
    }
    narrator.data("baseline", json!({"inputs": steps.len(), "wall_ms": ms(started.elapsed())}));
    Ok(RunResult { steps, wall: started.elapsed() })
}

/// The speed-up, measured and ideal, as aio-poll-loop reports it.
#[derive(Debug, Clone, Copy)]
pub struct Speedup {
    /// Mean read (R) and process (P) time, from the baseline.
    pub r: Duration,
    /// See `r`.
    pub p: Duration,
    /// baseline wall / overlapped wall.
    pub measured: f64,
    /// n(R+P) / (R + (n-1)max(R,P) + P): the best for this many inputs.
    pub ideal: f64,
}

/// Compares an overlapped run with the baseline.
pub fn speedup(overlapped: &RunResult, baseline: &RunResult) -> Speedup {
    let n = baseline.steps.len().max(1) as f64;
    let mean =
        |f: &dyn Fn(&Step) -> Duration| baseline.steps.iter().map(f).sum::<Duration>().as_secs_f64() / n;
    let r = mean(&|s| s.read.1.saturating_duration_since(s.read.0));
    let p = mean(&|s| s.process.1.saturating_duration_since(s.process.0));
    Speedup {
        r: Duration::from_secs_f64(r),
        p: Duration::from_secs_f64(p),
        measured: baseline.wall.as_secs_f64() / overlapped.wall.as_secs_f64().max(1e-9),
        ideal: n * (r + p) / (r + (n - 1.0) * r.max(p) + p).max(1e-9),
    }
}

/// The overlapped run as a chart: each input's read beside the processing of the one
/// before it.
pub fn timeline(narrator: &Narrator, run: &RunResult, first: usize) -> Timeline {
    let mut t = Timeline::new("timeline (io_uring double buffering)");
    for (i, s) in run.steps.iter().enumerate() {
        t.add(format!("read {}", first + i + 1), narrator.ms_at(s.read.0), narrator.ms_at(s.read.1), "");
        t.add(
            format!("process {}", first + i + 1),
            narrator.ms_at(s.process.0),
            narrator.ms_at(s.process.1),
            "",
        );
    }
    t
}

// ANCHOR: cancel
/// What one `IORING_OP_ASYNC_CANCEL` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// 0: the read was still waiting; it completes with -ECANCELED.
    Cancelled,
    /// -ENOENT: nothing in flight has that tag; the read had finished.
    NotFound,
    /// -EALREADY: the read is running in the kernel's worker; it was told to stop,
    /// and completes by itself (with its bytes, or -EINTR).
    AlreadyRunning,
}

impl CancelOutcome {
    fn from_result(result: std::result::Result<u32, Errno>) -> Option<CancelOutcome> {
        match result {
            Ok(_) => Some(CancelOutcome::Cancelled),
            Err(Errno::ENOENT) => Some(CancelOutcome::NotFound),
            Err(Errno::EALREADY) => Some(CancelOutcome::AlreadyRunning),
            Err(_) => None,
        }
    }

    /// `cancelled`, `not_found`, `already_running` (the JSON field).
    pub fn name(self) -> &'static str {
        match self {
            CancelOutcome::Cancelled => "cancelled",
            CancelOutcome::NotFound => "not_found",
            CancelOutcome::AlreadyRunning => "already_running",
        }
    }
}

/// The three outcomes of a cancel, each on a read set up to meet it: a read of a
/// device input that has not answered yet; a read of a pipe that already had its
/// data; and a big read forced into the kernel's worker (`IOSQE_ASYNC`), cancelled
/// once that worker is seen running it.
pub fn cancel_three_ways(
    narrator: &Narrator,
    ring: &mut Ring,
    device: &SlowDevice,
    input: usize,
    big: &std::fs::File,
) -> Result<Vec<CancelOutcome>> {
    let mut outcomes = Vec::new();

    // 1. Waiting: the device answers in 200 ms; the cancel arrives first.
    let fd = device.open(input)?;
    ring.queue_read(fd.as_fd(), vec![0; 64 * 1024], 0, 1, ReadOptions::default())
        .map_err(|e| Error::os("queue a read", e))?;
    ring.submit().map_err(|e| Error::os("io_uring_enter", e))?;
    outcomes.push(cancel(narrator, ring, 1, "a read of the slow device, still waiting for it")?);

    // 2. Finished: the pipe had its bytes, so the read completed at once.
    let (reader, writer) = common::fd::pipe()?;
    nix::unistd::write(&writer, b"ready\n").context("write to a pipe")?;
    ring.queue_read(reader.as_fd(), vec![0; 64], 0, 3, ReadOptions::default())
        .map_err(|e| Error::os("queue a read", e))?;
    ring.submit_and_wait(1, WAIT_LIMIT).map_err(|e| Error::os("io_uring_enter", e))?;
    let early = ring.completions();
    narrator.event(
        "completion",
        json!({"user_data": 3, "label": "pipe", "res": early.first().map(|c| c.result.map_or(-1, i64::from))}),
        "  completion: the pipe read, user_data 0x3: res = 6 bytes (done before any cancel)",
    );
    outcomes.push(cancel(narrator, ring, 3, "the pipe read, already completed")?);

    // 3. Running: IOSQE_ASYNC sends the read straight to an io-wq worker, a kernel
    // thread; once /proc shows it running, the cancel can only ask it to stop.
    let size = big.metadata().context("fstat")?.len() as usize;
    let options = ReadOptions { in_worker: true, timeout: None };
    ring.queue_read(big.as_fd(), vec![0; size], 0, 5, options).map_err(|e| Error::os("queue a read", e))?;
    ring.submit().map_err(|e| Error::os("io_uring_enter", e))?;
    let running = worker_running(Duration::from_secs(2));
    narrator.event(
        "worker",
        json!({"running": running}),
        match running {
            Some(name) => format!("  /proc/self/task: kernel worker {name} is running the {size}-byte read"),
            None => {
                "  /proc/self/task: no io-wq worker seen running (it may have finished already)".to_string()
            }
        },
    );
    outcomes.push(cancel(narrator, ring, 5, "a big read running in the kernel's worker")?);
    // ANCHOR_END: cancel
    drop(fd);
    Ok(outcomes)
}

/// Submits `IORING_OP_ASYNC_CANCEL` for `target` and reaps until both the cancel's
/// completion and the target's have come back; narrates both.
fn cancel(narrator: &Narrator, ring: &mut Ring, target: u64, what: &str) -> Result<CancelOutcome> {
    let me = target + 1;
    ring.queue_cancel(target, me).map_err(|e| Error::os("queue a cancel", e))?;
    let deadline = Instant::now() + WAIT_LIMIT;
    let mut outcome = None;
    while ring.is_pending(me) || ring.is_pending(target) {
        if Instant::now() >= deadline {
            return Err(Error::msg("io_uring_enter", "the cancel did not complete within 10 s"));
        }
        match ring.submit_and_wait(1, deadline.saturating_duration_since(Instant::now())) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::os("io_uring_enter", e)),
        }
        for done in ring.completions() {
            if done.user_data == me {
                outcome = CancelOutcome::from_result(done.result);
                narrate_cancel(narrator, target, what, &done, outcome);
            } else {
                narrate_completion(narrator, &format!("the read {target:#x}"), &done, 0, narrator.t_ms());
            }
        }
    }
    outcome.ok_or_else(|| Error::msg("IORING_OP_ASYNC_CANCEL", "an unexpected result"))
}

fn narrate_cancel(
    narrator: &Narrator,
    target: u64,
    what: &str,
    done: &Completion,
    outcome: Option<CancelOutcome>,
) {
    let res = done.result.map_or_else(|e| -(e as i64), i64::from);
    let meaning = match outcome {
        Some(CancelOutcome::Cancelled) => "0: cancelled; the read completes with -ECANCELED",
        Some(CancelOutcome::NotFound) => {
            "-ENOENT: not found, nothing in flight has that tag (it had finished)"
        }
        Some(CancelOutcome::AlreadyRunning) => {
            "-EALREADY: already running in a worker; told to stop, it completes by itself"
        }
        None => "unexpected",
    };
    narrator.event_styled(
        "cancel",
        json!({"target": target, "res": res, "outcome": outcome.map(CancelOutcome::name), "what": what}),
        Style::Bold,
        format!("IORING_OP_ASYNC_CANCEL(user_data {target:#x}: {what}) -> {meaning}"),
    );
}

/// The name of an io-wq worker of this process that is running (state R) or in an
/// uninterruptible wait (D), looked for until `within` passes.
fn worker_running(within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let tasks = std::fs::read_dir("/proc/self/task").ok()?;
        for task in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
            // pid (comm) state ...: comm may hold spaces, so split at the last ')'.
            let Some((head, tail)) = stat.rsplit_once(')') else { continue };
            let comm = head.split_once('(').map_or("", |(_, c)| c);
            let state = tail.split_whitespace().next().unwrap_or("");
            if comm.starts_with("iou-wrk") && (state == "R" || state == "D") {
                return Some(comm.to_string());
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    None
}

// ANCHOR: linked_timeout
/// A read linked to a timeout (`IOSQE_IO_LINK` on the read, then
/// `IORING_OP_LINK_TIMEOUT`): whichever ends first cancels the other. Two device reads
/// of 200 ms: one with a 50 ms timeout (the read is cancelled, the timeout says
/// -ETIME), one with 1 s (the read completes, the timeout is cancelled). Returns each
/// read's result.
pub fn linked_timeouts(
    narrator: &Narrator,
    ring: &mut Ring,
    device: &SlowDevice,
    inputs: [usize; 2],
    timeouts: [Duration; 2],
) -> Result<Vec<std::result::Result<u32, Errno>>> {
    let mut results = Vec::new();
    for (n, (input, after)) in inputs.into_iter().zip(timeouts).enumerate() {
        let (read_tag, timer_tag) = (10 + 2 * n as u64, 11 + 2 * n as u64);
        let fd = device.open(input)?;
        let options = ReadOptions { in_worker: false, timeout: Some((after, timer_tag)) };
        ring.queue_read(fd.as_fd(), vec![0; 64 * 1024], 0, read_tag, options)
            .map_err(|e| Error::os("queue a read", e))?;
        let asked = Instant::now();
        ring.submit_and_wait(2, WAIT_LIMIT).map_err(|e| Error::os("io_uring_enter", e))?;
        // ANCHOR_END: linked_timeout
        let mut read = None;
        for done in ring.completions() {
            let is_read = done.user_data == read_tag;
            let res = done.result.map_or_else(|e| -(e as i64), i64::from);
            let text = match (is_read, done.result) {
                (true, Ok(bytes)) => format!("the read: {bytes} bytes, in time"),
                (true, Err(Errno::ECANCELED)) => "the read: -ECANCELED, cancelled by its timeout".to_string(),
                (false, Err(Errno::ETIME)) => "the timeout: -ETIME, it expired first".to_string(),
                (false, Err(Errno::ECANCELED)) => {
                    "the timeout: -ECANCELED, the read finished first".to_string()
                }
                (_, r) => format!("user_data {}: {r:?}", done.user_data),
            };
            narrator.event(
                "linked_completion",
                json!({"input": input, "timeout_ms": ms(after), "user_data": done.user_data,
                       "is_read": is_read, "res": res, "after_ms": ms(asked.elapsed())}),
                format!("  completion after {:.0} ms: {text}", ms(asked.elapsed())),
            );
            if is_read {
                read = Some(done.result);
            }
        }
        drop(fd);
        results.push(
            read.ok_or_else(|| Error::msg("linked timeout", "the read's completion did not come back"))?,
        );
    }
    Ok(results)
}

/// Milliseconds, to a tenth.
pub fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0)
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}
