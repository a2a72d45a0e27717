//! POSIX AIO completion callbacks (notes: "Asynchronous I/O with AIO", "struct
//! sigevent", "struct sigval", "example: callback").
//!
//! Several aio_reads at once, each asking for SIGEV_THREAD: when a read finishes, glibc
//! starts a new thread and calls our function there with the `sigev_value` we gave it.
//! That value is a pointer to the request's *context*, and the context has exactly one
//! owner at a time: ours until aio_read accepts the request, then glibc's, then the
//! callback's, which takes it back (`Box::from_raw`, in `common::sys::aio`) and drops it.
//! Here the context carries the request itself, so the callback collects the result
//! with aio_return and processes the bytes, like the notes' worker printing its buffer.
//!
//! main does not end with `pthread_exit(NULL)` as in the notes: it waits on a channel
//! until every callback has reported, with a deadline (see [`wait_for_callbacks`]).
//!
//! `--signal` shows the other notification: SIGEV_SIGNAL queues a real-time signal per
//! completion, which main (having blocked it) takes with sigwaitinfo, on its own thread.

use common::aio::{check_complete, process, Inputs, Summary};
use common::sys::aio::{block_signal, rt_signal, wait_signal, AioRead, Notify, Status, SI_ASYNCIO};
use common::{Context, Error, Narrator, Result};
use serde_json::json;
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long main waits for all completions before giving up with an error.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// What one completion reported.
#[derive(Debug, Clone)]
pub struct Completion {
    /// 0-based input number.
    pub input: usize,
    /// The thread that handled it: glibc's callback thread, or main with --signal.
    pub tid: i32,
    /// When it was handled.
    pub at: Instant,
    /// aio_return's value.
    pub ret: isize,
    /// process() on the bytes.
    pub summary: Summary,
}

/// A request shared between main (which submits it) and its callback (which collects
/// it). `Option`, so that exactly one of them takes it out.
type Slot = Arc<Mutex<Option<AioRead>>>;

/// aio_return + checks + process(), wherever the completion is handled.
fn collect(inputs: &dyn Inputs, i: usize, req: AioRead) -> Result<(isize, Summary)> {
    let label = inputs.label(i);
    let done = req.aio_return().map_err(|_| Error::msg(format!("aio_return {label}"), "not finished"))?;
    if let Status::Failed(errno) = done.status {
        return Err(Error::os(format!("read {label}"), errno));
    }
    check_complete(&label, inputs.expected_len(i), done.ret)?;
    Ok((done.ret, process(done.bytes(), Duration::ZERO)))
}

// ANCHOR: callback
/// The body of input `i`'s SIGEV_THREAD callback. It runs on a thread glibc created for
/// this one notification; everything it needs came in through its context.
fn on_complete(
    n: &Narrator,
    inputs: &dyn Inputs,
    i: usize,
    slot: &Slot,
    main_tid: i32,
) -> Result<Completion> {
    let tid = nix::unistd::gettid().as_raw();
    let at = Instant::now();
    // The read has finished (glibc notifies only then), so taking the request out and
    // calling aio_return here is the one and only collection.
    let req = slot.lock().ok().and_then(|mut guard| guard.take());
    let req =
        req.ok_or_else(|| Error::msg(format!("callback for {}", inputs.label(i)), "request already taken"))?;
    let (ret, summary) = collect(inputs, i, req)?;
    n.event(
        "callback",
        json!({"input": i, "label": inputs.label(i), "tid": tid, "main_tid": main_tid, "ret": ret,
               "checksum": summary.checksum_hex(), "bytes": summary.bytes, "lines": summary.lines, "words": summary.words}),
        format!(
            "callback on thread {tid} (main is {main_tid}): {}: aio_return = {ret}; {} lines, {} words, checksum {}",
            inputs.label(i),
            summary.lines,
            summary.words,
            summary.checksum_hex()
        ),
    );
    Ok(Completion { input: i, tid, at, ret, summary })
}
// ANCHOR_END: callback

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

// ANCHOR: submit
/// aio_read on every input at once, each with its notification; narrated.
fn submit_all(n: &Narrator, inputs: &Arc<dyn Inputs + Send + Sync>, mode: Mode) -> Result<Submitted> {
    let main_tid = nix::unistd::gettid().as_raw();
    let (tx, rx) = mpsc::channel();
    let mut slots = Vec::new();
    for i in 0..inputs.count() {
        let label = inputs.label(i);
        let fd = inputs.open(i)?;
        let raw = fd.as_raw_fd();
        let size = inputs.expected_len(i);
        let mut req = AioRead::new(fd, 0, vec![0; size]);
        let slot: Slot = Arc::new(Mutex::new(None));
        let how = match mode {
            Mode::Thread => {
                // The context: everything the callback needs, moved into a closure that
                // glibc will call once. Nothing here is shared with main except the slot.
                let (n, inputs, slot, tx) = (n.clone(), Arc::clone(inputs), Arc::clone(&slot), tx.clone());
                req.set_notify(Notify::thread(move || {
                    let _ = tx.send(on_complete(&n, &*inputs, i, &slot, main_tid));
                }));
                format!("SIGEV_THREAD, sival_ptr = context of {label}")
            }
            Mode::Signal => {
                req.set_notify(Notify::Signal { signo: completion_signal(), value: i });
                format!("SIGEV_SIGNAL SIGRTMIN, sigev_value = {i}")
            }
        };
        // Into the slot first, then submit under the lock: the callback cannot take the
        // request before aio_read has returned.
        let mut guard = slot.lock().map_err(|_| Error::msg("slot", "poisoned"))?;
        let req = guard.insert(req);
        req.aio_read().with_context(|| format!("aio_read {label}"))?;
        drop(guard);
        n.event(
            "aio_read",
            json!({"input": i, "label": label, "fd": raw, "nbytes": size, "ret": 0,
                   "notify": if mode == Mode::Thread { "SIGEV_THREAD" } else { "SIGEV_SIGNAL" }}),
            format!("aio_read(fd {raw}, {label}, {size} bytes; {how}) = 0"),
        );
        slots.push(slot);
    }
    Ok(Submitted { rx, slots, main_tid })
}
// ANCHOR_END: submit

struct Submitted {
    rx: mpsc::Receiver<Result<Completion>>,
    slots: Vec<Slot>,
    main_tid: i32,
}

// ANCHOR: wait_for_callbacks
/// main's side: wait until every callback has reported, with a deadline.
///
/// Why not the notes' `pthread_exit(NULL)`: returning from main ends the process, and
/// every callback not yet run with it, so main must wait; but pthread_exit waits with no
/// limit (a read that never completes hangs the program), tells main nothing, and in
/// Rust skips the destructors that close files and flush output. A channel gives main
/// each result and lets it stop waiting at a deadline.
fn wait_for_callbacks(n: &Narrator, inputs: &dyn Inputs, sub: &Submitted) -> Result<Vec<Completion>> {
    let deadline = Instant::now() + DEADLINE;
    let mut done = Vec::new();
    while done.len() < sub.slots.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let report = sub.rx.recv_timeout(left).map_err(|_| {
            Error::msg(
                "wait for callbacks",
                format!("{} of {} arrived within 10 s", done.len(), sub.slots.len()),
            )
        })?;
        let c = report?;
        n.event(
            "main_received",
            json!({"input": c.input, "tid": sub.main_tid, "remaining": sub.slots.len() - done.len() - 1}),
            format!(
                "main (thread {}) got {} from the channel; {} to go",
                sub.main_tid,
                inputs.label(c.input),
                sub.slots.len() - done.len() - 1
            ),
        );
        if done.is_empty() {
            n.explain("The callback ran on a thread glibc created just for this notification (not the\nworker that did the read, and not main), and the result reached main by channel.");
        }
        done.push(c);
    }
    Ok(done)
}
// ANCHOR_END: wait_for_callbacks

// ANCHOR: sigwaitinfo
/// `--signal`: take one queued SIGRTMIN per completion with sigwaitinfo (with a
/// deadline), and collect that request on main's own thread.
fn wait_for_signals(n: &Narrator, inputs: &dyn Inputs, sub: &Submitted) -> Result<Vec<Completion>> {
    let deadline = Instant::now() + DEADLINE;
    let signo = completion_signal();
    let mut done = Vec::new();
    while done.len() < sub.slots.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let info = wait_signal(signo, left).context("sigtimedwait(SIGRTMIN)")?.ok_or_else(|| {
            Error::msg("wait for signals", format!("{} of {} within 10 s", done.len(), sub.slots.len()))
        })?;
        let i = info.value;
        let label = inputs.label(i);
        n.event(
            "signal",
            json!({"signo": info.signo, "si_code": info.code, "si_asyncio": info.code == SI_ASYNCIO, "value": i,
                   "tid": nix::unistd::gettid().as_raw()}),
            format!(
                "sigwaitinfo = SIGRTMIN ({}), si_code {} ({}), si_value {i}: {label} is done",
                info.signo,
                info.code,
                if info.code == SI_ASYNCIO { "SI_ASYNCIO" } else { "?" }
            ),
        );
        let slot =
            sub.slots.get(i).ok_or_else(|| Error::msg("signal", format!("si_value {i} names no request")))?;
        let req = slot.lock().ok().and_then(|mut g| g.take());
        let req =
            req.ok_or_else(|| Error::msg(format!("signal for {label}"), "request already collected"))?;
        let (ret, summary) = collect(inputs, i, req)?;
        let tid = nix::unistd::gettid().as_raw();
        n.event(
            "collected",
            json!({"input": i, "label": label, "tid": tid, "ret": ret, "checksum": summary.checksum_hex(),
                   "bytes": summary.bytes, "lines": summary.lines, "words": summary.words}),
            format!(
                "main (thread {tid}): aio_return({label}) = {ret}; {} lines, {} words, checksum {}",
                summary.lines,
                summary.words,
                summary.checksum_hex()
            ),
        );
        done.push(Completion { input: i, tid, at: Instant::now(), ret, summary });
    }
    Ok(done)
}
// ANCHOR_END: sigwaitinfo

/// Submits every read and waits for every completion. In `Signal` mode the caller must
/// have called [`prepare_signal_mode`] before starting any thread.
pub fn run(n: &Narrator, inputs: Arc<dyn Inputs + Send + Sync>, mode: Mode) -> Result<Vec<Completion>> {
    let sub = submit_all(n, &inputs, mode)?;
    match mode {
        Mode::Thread => {
            n.explain("main now waits on a channel (deadline 10 s) instead of pthread_exit(NULL):\nit must not return before every callback has run, and it wants their results.");
            wait_for_callbacks(n, &*inputs, &sub)
        }
        Mode::Signal => {
            n.explain("SIGRTMIN is blocked in every thread, so each completion's signal stays queued\nuntil main takes it with sigwaitinfo; no handler runs. (strace calls glibc's SIGRTMIN\nSIGRT_2: glibc keeps the first two real-time signals for itself.)");
            wait_for_signals(n, &*inputs, &sub)
        }
    }
}
