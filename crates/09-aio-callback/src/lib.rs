//! POSIX AIO completion callbacks (notes: "Asynchronous I/O with AIO", "struct
//! sigevent", "struct sigval", "example: callback").
//!
//! Several aio_reads at once, each asking for SIGEV_THREAD: when a read finishes, glibc
//! starts a new thread and calls our function there with the `sigev_value` we gave it.
//! That value is a pointer to the request's *context*, and the context has exactly one
//! owner at a time: ours until aio_read accepts the request, then glibc's, then the
//! callback's, which takes it back (`Box::from_raw`, in `common::sys::aio`) and drops it.
//! Here the context carries the input's [`Reading`], so the callback collects the result
//! with aio_return and processes the bytes, like the notes' worker printing its buffer;
//! if the input has more (a file bigger than the buffer, or a `/proc` file whose size
//! says 0), the callback starts the read of the next block itself.
//!
//! main does not end with `pthread_exit(NULL)` as in the notes: it waits on a channel
//! until every input has reported, with a deadline (see [`wait_for_callbacks`]).
//!
//! `--signal` shows the other notification: SIGEV_SIGNAL queues a real-time signal per
//! completion, which main (having blocked it) takes with sigwaitinfo, on its own thread.

use common::aio::{input_ended, Inputs, Summary, Tally};
use common::narrate::plural;
use common::sys::aio::{block_signal, rt_signal, wait_signal, AioRead, Notify, SigInfo, Status, SI_ASYNCIO};
use common::{Context, Error, Narrator, Result};
use serde_json::json;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod scenario;

/// How long main waits for all completions before giving up with an error.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// What one input's reads came to, once it has ended.
#[derive(Debug, Clone)]
pub struct Completion {
    /// 0-based input number.
    pub input: usize,
    /// The thread that handled its last read: glibc's callback thread, or main with --signal.
    pub tid: i32,
    /// When that was.
    pub at: Instant,
    /// The last aio_return's value (0 when the input ended at end of file).
    pub ret: isize,
    /// process() on all of its bytes.
    pub summary: Summary,
}

/// One input on its way: its fd, where its next block starts, and what it held so far.
/// In SIGEV_THREAD mode it travels inside each request's context, from callback to
/// callback; with `--signal` main keeps it.
#[derive(Debug)]
pub struct Reading {
    input: usize,
    fd: Arc<OwnedFd>,
    offset: u64,
    reads: u32,
    tally: Tally,
}

impl Reading {
    /// The next block's request: the buffer, and the notification to send when done.
    fn request(&self, size: usize, notify: Notify) -> AioRead {
        let mut req = AioRead::new(Arc::clone(&self.fd), self.offset, vec![0; size]);
        req.set_notify(notify);
        req
    }

    /// (input, offset, fd): where the next read goes, for narration.
    fn at(&self) -> (usize, u64, i32) {
        (self.input, self.offset, self.fd.as_raw_fd())
    }

    /// Counts a block that came back; true when it was the input's last.
    fn add(&mut self, bytes: &[u8], expected_len: usize) -> bool {
        self.tally.add(bytes);
        self.offset += bytes.len() as u64;
        self.reads += 1;
        input_ended(bytes.len(), self.offset, expected_len)
    }
}

/// The request of each input, shared between main (which submits the first) and the
/// completion (which collects it). `Option`, so that exactly one of them takes it out.
type Slot = Arc<Mutex<Option<AioRead>>>;

/// What every callback needs, shared by all of them.
struct Shared {
    n: Narrator,
    inputs: Arc<dyn Inputs + Send + Sync>,
    tx: mpsc::Sender<Result<Completion>>,
    main_tid: i32,
}

/// How completions are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// SIGEV_THREAD: a callback on a new thread per completion.
    Thread,
    /// SIGEV_SIGNAL: a queued real-time signal, taken with sigwaitinfo.
    Signal,
}

/// The signal `--signal` uses: SIGRTMIN. Real-time signals queue (one per completion,
/// each with its own si_value); SIGUSR1 could merge two completions into one delivery.
pub fn completion_signal() -> i32 {
    rt_signal(0)
}

/// `--signal` must block the signal before any thread exists (threads inherit the mask;
/// an unblocked thread would take the signal and, by default, die of it).
pub fn prepare_signal_mode() -> Result<()> {
    block_signal(completion_signal()).context("pthread_sigmask(SIG_BLOCK, SIGRTMIN)")
}

/// Submits every input's first read and waits until every input has ended. In
/// `Signal` mode the caller must have called [`prepare_signal_mode`] before starting
/// any thread.
pub fn run(n: &Narrator, inputs: Arc<dyn Inputs + Send + Sync>, mode: Mode) -> Result<Vec<Completion>> {
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared { n: n.clone(), inputs, tx, main_tid: nix::unistd::gettid().as_raw() });
    let (slots, readings) = submit_all(&shared, mode)?;
    match mode {
        Mode::Thread => {
            n.explain("main now waits on a channel (deadline 10 s) instead of pthread_exit(NULL):\nit must not return before every callback has run, and it wants their results.");
            wait_for_callbacks(&shared, &rx, slots.len())
        }
        Mode::Signal => {
            n.explain("SIGRTMIN is blocked in every thread, so each completion's signal stays queued\nuntil main takes it with sigwaitinfo; no handler runs. (strace calls glibc's SIGRTMIN\nSIGRT_2: glibc keeps the first two real-time signals for itself.)");
            wait_for_signals(&shared, &slots, readings)
        }
    }
}

// ANCHOR: submit
/// aio_read on every input at once, each with its notification; narrated.
fn submit_all(shared: &Arc<Shared>, mode: Mode) -> Result<(Vec<Slot>, Vec<Reading>)> {
    let (mut slots, mut readings) = (Vec::new(), Vec::new());
    for i in 0..shared.inputs.count() {
        let fd = shared.inputs.open(i)?;
        let reading = Reading { input: i, fd, offset: 0, reads: 0, tally: Tally::default() };
        let slot: Slot = Arc::new(Mutex::new(None));
        match mode {
            // The context: the input's Reading and what every callback shares, moved
            // into a closure that glibc will call once.
            Mode::Thread => submit_with_callback(shared, reading, &slot)?,
            Mode::Signal => {
                let notify = Notify::Signal { signo: completion_signal(), value: i };
                let req = reading.request(buffer(shared, i), notify);
                submit(&shared.n, &*shared.inputs, reading.at(), (req, Mode::Signal), &slot)?;
                readings.push(reading);
            }
        }
        slots.push(slot);
    }
    Ok((slots, readings))
}

/// The next block of `reading`, with a SIGEV_THREAD callback that carries it.
fn submit_with_callback(shared: &Arc<Shared>, reading: Reading, slot: &Slot) -> Result<()> {
    let at = reading.at();
    let mut req =
        AioRead::new(Arc::clone(&reading.fd), reading.offset, vec![0; buffer(shared, reading.input)]);
    let (context, for_callback) = (Arc::clone(shared), Arc::clone(slot));
    req.set_notify(Notify::thread(move || on_complete(&context, reading, &for_callback)));
    submit(&shared.n, &*shared.inputs, at, (req, Mode::Thread), slot)
}

/// Puts `req` in its slot and submits it under the slot's lock, so the completion cannot
/// take the request before aio_read has returned; narrated.
fn submit(
    n: &Narrator,
    inputs: &dyn Inputs,
    at: (usize, u64, i32),
    (req, mode): (AioRead, Mode),
    slot: &Slot,
) -> Result<()> {
    let mut guard = slot.lock().map_err(|_| Error::msg("slot", "poisoned"))?;
    let req = guard.insert(req);
    req.aio_read().with_context(|| format!("aio_read {}", inputs.label(at.0)))?;
    narrate_aio_read(n, inputs, at, req.nbytes(), mode);
    Ok(())
}
// ANCHOR_END: submit

// ANCHOR: callback
/// The body of a SIGEV_THREAD callback. It runs on a thread glibc created for this one
/// notification; everything it needs came in through its context. It collects the
/// read (aio_return, the one and only time), counts the bytes, and either starts the
/// input's next read or, at the input's end, reports to main.
fn on_complete(shared: &Arc<Shared>, mut reading: Reading, slot: &Slot) {
    let outcome = collect(&*shared.inputs, slot, &mut reading).and_then(|(ret, ended)| {
        narrate_completion(&shared.n, "callback", &*shared.inputs, &reading, (ret, ended), shared.main_tid);
        match ended {
            true => finish(&*shared.inputs, &reading, ret).map(Some),
            false => submit_with_callback(shared, reading, slot).map(|()| None),
        }
    });
    if let Some(report) = outcome.transpose() {
        let _ = shared.tx.send(report);
    }
}
// ANCHOR_END: callback

/// aio_return on the slot's request (the read has finished: the completion came), and
/// the block counted into `reading`. Returns (aio_return's value, the input ended).
fn collect(inputs: &dyn Inputs, slot: &Slot, reading: &mut Reading) -> Result<(isize, bool)> {
    let label = inputs.label(reading.input);
    let req = slot.lock().ok().and_then(|mut guard| guard.take());
    let req = req.ok_or_else(|| Error::msg(format!("completion for {label}"), "request already taken"))?;
    let done = req.aio_return().map_err(|_| Error::msg(format!("aio_return {label}"), "not finished"))?;
    if let Status::Failed(errno) = done.status {
        return Err(Error::os(format!("read {label}"), errno));
    }
    let ended = reading.add(done.bytes(), inputs.expected_len(reading.input));
    Ok((done.ret, ended))
}

/// An input has ended: check that it was all there, and say what it held.
fn finish(inputs: &dyn Inputs, r: &Reading, ret: isize) -> Result<Completion> {
    inputs.check_end(r.input, r.fd.as_fd(), r.offset)?;
    let tid = nix::unistd::gettid().as_raw();
    Ok(Completion { input: r.input, tid, at: Instant::now(), ret, summary: r.tally.summary() })
}

// ANCHOR: wait_for_callbacks
/// main's side: wait until every input has reported, with a deadline.
///
/// Why not the notes' `pthread_exit(NULL)`: returning from main ends the process, and
/// every callback not yet run with it, so main must wait; but pthread_exit waits with no
/// limit (a read that never completes hangs the program), tells main nothing, and in
/// Rust skips the destructors that close files and flush output. A channel gives main
/// each result and lets it stop waiting at a deadline.
fn wait_for_callbacks(
    shared: &Shared,
    rx: &mpsc::Receiver<Result<Completion>>,
    count: usize,
) -> Result<Vec<Completion>> {
    let deadline = Instant::now() + DEADLINE;
    let mut done = Vec::new();
    while done.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        let report = rx.recv_timeout(left).map_err(|_| {
            Error::msg("wait for callbacks", format!("{} of {count} arrived within 10 s", done.len()))
        })?;
        let c = report?;
        narrate_received(&shared.n, &*shared.inputs, &c, shared.main_tid, count - done.len() - 1);
        if done.is_empty() {
            shared.n.explain("The callback ran on a thread glibc created just for this notification (not the\nworker that did the read, and not main), and the result reached main by channel.");
        }
        done.push(c);
    }
    Ok(done)
}
// ANCHOR_END: wait_for_callbacks

// ANCHOR: sigwaitinfo
/// `--signal`: take one queued SIGRTMIN per completion with sigwaitinfo (with a
/// deadline), collect that request on main's own thread, and start the input's next
/// read if it has more.
fn wait_for_signals(shared: &Shared, slots: &[Slot], mut readings: Vec<Reading>) -> Result<Vec<Completion>> {
    let (n, inputs) = (&shared.n, &*shared.inputs);
    let deadline = Instant::now() + DEADLINE;
    let mut done = Vec::new();
    while done.len() < slots.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let info =
            wait_signal(completion_signal(), left).context("sigtimedwait(SIGRTMIN)")?.ok_or_else(|| {
                Error::msg("wait for signals", format!("{} of {} within 10 s", done.len(), slots.len()))
            })?;
        narrate_signal(n, inputs, &info);
        let (slot, reading) = match (slots.get(info.value), readings.get_mut(info.value)) {
            (Some(slot), Some(reading)) => (slot, reading),
            _ => return Err(Error::msg("signal", format!("si_value {} names no request", info.value))),
        };
        let (ret, ended) = collect(inputs, slot, reading)?;
        narrate_completion(n, "collected", inputs, reading, (ret, ended), shared.main_tid);
        if ended {
            done.push(finish(inputs, reading, ret)?);
        } else {
            let notify = Notify::Signal { signo: completion_signal(), value: info.value };
            let req = reading.request(buffer(shared, info.value), notify);
            submit(n, inputs, reading.at(), (req, Mode::Signal), slot)?;
        }
    }
    Ok(done)
}
// ANCHOR_END: sigwaitinfo

/// The buffer for each read of input `i`: all of it at once, up to 16 MiB.
fn buffer(shared: &Shared, i: usize) -> usize {
    common::aio::block_size(shared.inputs.expected_len(i))
}

// Narration: one function per event, each building its text from the event's fields.

fn narrate_aio_read(
    n: &Narrator,
    inputs: &dyn Inputs,
    (i, offset, fd): (usize, u64, i32),
    size: usize,
    mode: Mode,
) {
    let label = inputs.label(i);
    let (kind, how) = match mode {
        Mode::Thread => ("SIGEV_THREAD", format!("SIGEV_THREAD, sival_ptr = context of {label}")),
        Mode::Signal => ("SIGEV_SIGNAL", format!("SIGEV_SIGNAL SIGRTMIN, sigev_value = {i}")),
    };
    let at = if offset == 0 { String::new() } else { format!(" at offset {offset}") };
    let fields = json!({"input": i, "label": label, "fd": fd, "offset": offset, "nbytes": size, "ret": 0, "notify": kind});
    n.event(
        "aio_read",
        fields,
        format!("aio_read(fd {fd}, {label}{at}, {}; {how}) = 0", plural(size as u64, "byte", "bytes")),
    );
}

/// `callback` (SIGEV_THREAD) or `collected` (main, after sigwaitinfo): one read's result
/// and, so far, the input's totals.
fn narrate_completion(
    n: &Narrator,
    event: &str,
    inputs: &dyn Inputs,
    r: &Reading,
    (ret, ended): (isize, bool),
    main_tid: i32,
) {
    let (tid, label, sum) = (nix::unistd::gettid().as_raw(), inputs.label(r.input), r.tally.summary());
    let fields = json!({"input": r.input, "label": label, "tid": tid, "main_tid": main_tid, "ret": ret, "reads": r.reads, "ended": ended,
                        "checksum": sum.checksum_hex(), "bytes": sum.bytes, "lines": sum.lines, "words": sum.words});
    let who = match event {
        "callback" => format!("callback on thread {tid} (main is {main_tid})"),
        _ => format!("main (thread {tid})"),
    };
    let then = match (ended, r.reads) {
        (false, _) => format!("more to read: next aio_read at offset {}", r.offset),
        (true, 1) => format!(
            "{}, {}, checksum {}",
            plural(sum.lines as u64, "line", "lines"),
            plural(sum.words as u64, "word", "words"),
            sum.checksum_hex()
        ),
        (true, reads) => format!(
            "done: {} in {}, {}, checksum {}",
            plural(sum.bytes as u64, "byte", "bytes"),
            plural(reads.into(), "read", "reads"),
            plural(sum.lines as u64, "line", "lines"),
            sum.checksum_hex()
        ),
    };
    n.event(event, fields, format!("{who}: {label}: aio_return = {ret}; {then}"));
}

fn narrate_received(n: &Narrator, inputs: &dyn Inputs, c: &Completion, main_tid: i32, remaining: usize) {
    let text =
        format!("main (thread {main_tid}) got {} from the channel; {remaining} to go", inputs.label(c.input));
    n.event("main_received", json!({"input": c.input, "tid": main_tid, "remaining": remaining}), text);
}

fn narrate_signal(n: &Narrator, inputs: &dyn Inputs, info: &SigInfo) {
    let (i, asyncio) = (info.value, info.code == SI_ASYNCIO);
    let fields = json!({"signo": info.signo, "si_code": info.code, "si_asyncio": asyncio, "value": i, "tid": nix::unistd::gettid().as_raw()});
    let code = if asyncio { "SI_ASYNCIO" } else { "?" };
    let text = format!(
        "sigwaitinfo = SIGRTMIN ({}), si_code {} ({code}), si_value {i}: {} is done",
        info.signo,
        info.code,
        inputs.label(i)
    );
    n.event("signal", fields, text);
}
