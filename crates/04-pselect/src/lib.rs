//! The chat server on pselect() (notes: "4. pselect()").
//!
//! The same server as the select demo, plus signals. A server must stop cleanly on
//! SIGINT (Ctrl-C) or SIGTERM: tell its clients, flush, close. A signal handler can only
//! set a flag; the loop must notice the flag. With select() there is a window: if the
//! signal lands after the loop checked the flag but before select() starts sleeping,
//! select() sleeps on, for its whole timeout or forever. pselect() closes the window:
//! the signals stay blocked everywhere, and pselect() unblocks them only while it
//! waits, atomically, in the kernel. A signal that came early is pending and ends the
//! wait at once (EINTR). `--show-race` shows both, deterministically.
//!
//! The chat room itself (nicknames, relaying, output queues, framing) is in
//! `common::chat`; this file is only the waiting. Compare it with the pselect and poll
//! demos: the loop is the same, the wait call is not.

use common::chat::tell::{self, ReadyFd};
use common::chat::{json, ChatRoom, Happening};
use common::sys::signal::{install_flag_handler, take_pending};
use common::{Error, Narrator, Result};
use nix::errno::Errno;
use nix::sys::select::{pselect, select, FdSet};
use nix::sys::signal::{raise, SigSet, SigmaskHow, Signal};
use nix::sys::time::{TimeSpec, TimeVal, TimeValLike};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;
use std::time::Instant;

/// The demo's name, one-line summary and notes section, for its title line.
pub const TITLE: (&str, &str, &str) =
    ("pselect", "the chat server, stopping cleanly on SIGINT/SIGTERM without a race", "4. pselect()");

/// The wait call's timeout in the scripted scenario: short, so the scenario's idle gap
/// shows the timeout branch.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_millis(400);

/// The timeout with `--listen`: long enough to be quiet, short enough to show up.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// An `fd_set` is a fixed-size bitmap: bits 0..FD_SETSIZE-1 and no more. glibc's
/// FD_SET on a larger fd writes past the end of it; nix's `FdSet::insert` panics.
pub const FD_SETSIZE: RawFd = libc::FD_SETSIZE as RawFd;

/// The signals this server handles: the two that mean "stop", and one for counters.
pub const HANDLED: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGUSR1];

// ANCHOR: setup
/// What pselect() needs from the room: the same as select(), whose fd_set it shares.
pub fn prepare(room: &mut ChatRoom) {
    room.refuse_fds_from(FD_SETSIZE);
}

/// Installs the flag-setting handlers and blocks the signals, returning the mask for
/// pselect() to wait with: today's mask without them.
///
/// Call it before any thread starts: threads inherit the mask, and a process-directed
/// signal goes to any thread that does not block it. A helper thread with the signals
/// unblocked would run the handler itself, and pselect() in this thread would never
/// wake up.
pub fn block_signals(n: &Narrator) -> Result<SigSet> {
    let mut blocked = SigSet::empty();
    for signal in HANDLED {
        install_flag_handler(signal).map_err(|e| Error::os(format!("sigaction({signal})"), e))?;
        blocked.add(signal);
    }
    let mut wait_mask = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut wait_mask))
        .map_err(|e| Error::os("pthread_sigmask(SIG_BLOCK)", e))?;
    for signal in HANDLED {
        wait_mask.remove(signal);
    }
    n.event(
        "signals_blocked",
        json!({"handled": HANDLED.iter().map(|s| s.as_str()).collect::<Vec<_>>()}),
        "sigaction(SIGINT, SIGTERM, SIGUSR1: set a flag), then pthread_sigmask(SIG_BLOCK, those three)",
    );
    n.explain("from here on they stay pending until pselect() unblocks them, atomically, while it waits");
    Ok(wait_mask)
}
// ANCHOR_END: setup

// ANCHOR: wait_loop
/// The server loop: check the flags, wait, see who is ready, let the room handle each
/// ready fd. Checking the flags here is safe only because the signals are blocked
/// until pselect() itself unblocks them.
pub fn serve(room: &mut ChatRoom, n: &Narrator, timeout: Duration, wait_mask: &SigSet) -> Result<()> {
    while room.keep_going()? {
        if take_pending(Signal::SIGUSR1) {
            n.event(
                "counters",
                json!({"line": room.stats_line()}),
                format!("SIGUSR1: {}", room.stats_line()),
            );
        }
        if let Some(signal) = [Signal::SIGINT, Signal::SIGTERM].into_iter().find(|&s| take_pending(s)) {
            return stop(room, n, signal);
        }
        let Some(ready) = wait_once(room, n, timeout, wait_mask)? else { continue };
        let mut happened = Vec::new();
        for one in ready {
            happened.extend(dispatch(room, one));
        }
        tell::happenings(n, &happened);
    }
    Ok(())
}
// ANCHOR_END: wait_loop

// ANCHOR: stop
/// SIGINT or SIGTERM arrived: say goodbye to every client, flush, close, report.
fn stop(room: &mut ChatRoom, n: &Narrator, signal: Signal) -> Result<()> {
    STOPPED_BY.store(signal as i32, std::sync::atomic::Ordering::Relaxed);
    n.event_styled(
        "signal",
        json!({"signal": signal.as_str()}),
        common::narrate::Style::Bold,
        format!("{signal} arrived: shutting down"),
    );
    let happened = room.shutdown(signal.as_str());
    tell::happenings(n, &happened);
    n.event("counters", json!({"line": room.stats_line()}), format!("final counters: {}", room.stats_line()));
    Ok(())
}
// ANCHOR_END: stop

/// A ready fd as pselect() reports it: (fd, readable, writable).
type Ready = (RawFd, bool, bool);

/// One pselect() call. Returns the ready fds, or None when the timeout passed (or a
/// signal interrupted it) with nothing ready.
fn wait_once(
    room: &mut ChatRoom,
    n: &Narrator,
    timeout: Duration,
    wait_mask: &SigSet,
) -> Result<Option<Vec<Ready>>> {
    // ANCHOR: build_sets
    // pselect() overwrites its sets with the answer, so they are built afresh on every
    // turn. Its timeout is a timespec (nanoseconds) that it leaves alone, unlike
    // select's timeval.
    let watch = room.watch_list();
    // Shorter while the room holds input for a client that is behind (common::chat):
    // the room must look again once that client would count as stalled.
    let timeout = room.wait_timeout(timeout);
    let mut read_set = FdSet::new();
    let mut write_set = FdSet::new();
    let (mut reading, mut writing) = (Vec::new(), Vec::new());
    for w in &watch {
        let fd = w.fd.as_raw_fd();
        if fd >= FD_SETSIZE {
            // The room refuses such clients at accept(); this is for a listener that
            // somehow got a high fd. An error, never nix's panic.
            return Err(Error::msg("pselect", format!("fd {fd} is past FD_SETSIZE ({FD_SETSIZE})")));
        }
        if w.read {
            read_set.insert(w.fd);
            reading.push(fd);
        }
        if w.write {
            write_set.insert(w.fd);
            writing.push(fd);
        }
    }
    // nfds is the highest fd plus one, not the number of fds: the kernel scans bits
    // 0..nfds of each set.
    let nfds = watch.iter().map(|w| w.fd.as_raw_fd()).max().map_or(0, |fd| fd + 1);
    let timespec = TimeSpec::milliseconds(timeout.as_millis() as i64);
    // ANCHOR_END: build_sets
    n.event(
        "wait",
        json!({"call": "pselect", "nfds": nfds, "read": tell::fd_json(&reading), "write": tell::fd_json(&writing),
               "timeout_ms": timeout.as_millis() as u64, "unblocks": ["SIGINT", "SIGTERM", "SIGUSR1"]}),
        format!(
            "pselect(nfds={nfds}, read={}, write={}, except=NULL, timeout={:.3}s, sigmask=without INT,TERM,USR1) ...",
            tell::fd_set_text(&reading),
            tell::fd_set_text(&writing),
            timeout.as_secs_f64()
        ),
    );
    // ANCHOR: pselect
    // For the length of this call only, the thread's signal mask is `wait_mask`: a
    // pending SIGINT/SIGTERM/SIGUSR1 is delivered the moment the call starts waiting,
    // and ends it with EINTR. Before and after, they stay blocked.
    let result = pselect(nfds, &mut read_set, &mut write_set, None, &timespec, wait_mask);
    // ANCHOR_END: pselect
    let returned = match result {
        Ok(count) => count,
        Err(Errno::EINTR) => {
            room.counters.wait_calls += 1;
            n.event(
                "interrupted",
                json!({"call": "pselect"}),
                "  -> pselect failed with EINTR: a signal was delivered while it waited; checking the flags",
            );
            return Ok(None);
        }
        Err(e) => return Err(Error::os("pselect", e)),
    };
    // ANCHOR: find_ready
    // The sets now hold only the ready fds: test each fd we asked about.
    let ready: Vec<Ready> = watch
        .iter()
        .map(|w| (w.fd.as_raw_fd(), w.read && read_set.contains(w.fd), w.write && write_set.contains(w.fd)))
        .filter(|&(_, readable, writable)| readable || writable)
        .collect();
    // ANCHOR_END: find_ready
    room.counters.wait_calls += 1;
    if returned == 0 {
        room.counters.timeouts += 1;
        tell::still_waiting(n, "pselect", timeout.as_millis() as u64);
        return Ok(None);
    }
    let described: Vec<ReadyFd> = ready
        .iter()
        .map(|&(fd, r, w)| ReadyFd {
            fd,
            flags: [(r, "readable"), (w, "writable")].iter().filter(|f| f.0).map(|f| f.1).collect(),
        })
        .collect();
    tell::ready(n, room, "pselect", returned, &described);
    Ok(Some(ready))
}

// ANCHOR: handle_ready
/// Hands one ready fd to the room. Reading first: it may find the peer gone, and then
/// there is nothing to write. Every socket is non-blocking, so even a readiness report
/// that went stale meanwhile (the fd was closed and reused during this turn) costs at
/// most an EAGAIN, never a stalled server.
fn dispatch(room: &mut ChatRoom, (fd, readable, writable): Ready) -> Vec<Happening> {
    let mut happened = Vec::new();
    if readable {
        happened.extend(room.on_readable(fd));
    }
    if writable {
        happened.extend(room.on_writable(fd));
    }
    happened
}
// ANCHOR_END: handle_ready

/// `--listen ADDR`: serve for real until SIGINT or SIGTERM, then stop cleanly.
pub fn listen(n: &Narrator, addr: SocketAddr) -> Result<()> {
    let mut room = ChatRoom::bind(addr, SocketAddr::new(addr.ip(), 0))?;
    prepare(&mut room);
    tell::announce(n, &room, TITLE)?;
    let wait_mask = block_signals(n)?;
    n.explain(format!(
        "Ctrl-C (or kill -TERM {pid}) says goodbye to every client and exits 0; kill -USR1 {pid} prints the counters",
        pid = std::process::id()
    ));
    serve(&mut room, n, LISTEN_TIMEOUT, &wait_mask)
}

/// No arguments: the scripted chat, narrated and checked.
///
/// Ctrl-C during the script stops the server cleanly (every client is told); the
/// script is then cut short, and that, not a client's complaint, is the error shown.
pub fn scenario(n: &Narrator) -> Result<()> {
    n.title(TITLE.0, TITLE.1, TITLE.2);
    let wait_mask = block_signals(n)?; // before the script's threads start
    let result =
        offline::chat_clients::scenario(n, prepare, |room| serve(room, n, SCENARIO_TIMEOUT, &wait_mask));
    blame_the_signal("scripted chat", result)
}

/// A client's error after SIGINT/SIGTERM stopped the server (ECONNRESET, EOF) is not the
/// client's fault: say which signal stopped the run instead.
fn blame_the_signal<T>(what: &str, result: Result<T>) -> Result<T> {
    match (result, stopped_by_signal()) {
        (Err(_), Some(signal)) => Err(Error::msg(
            what,
            format!(
                "stopped by {} before the script finished (every client was told goodbye)",
                signal.as_str()
            ),
        )),
        (result, _) => result,
    }
}

/// The signal [`stop`] handled last, if any.
fn stopped_by_signal() -> Option<Signal> {
    match STOPPED_BY.load(std::sync::atomic::Ordering::Relaxed) {
        0 => None,
        signo => Signal::try_from(signo).ok(),
    }
}

/// Set by [`stop`]: which signal ended the serve loop (0: none).
static STOPPED_BY: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// `--clients N`: N clients at once; as with select, fds past 1023 are refused.
pub fn crowd(n: &Narrator, count: usize) -> Result<()> {
    n.title(TITLE.0, TITLE.1, TITLE.2);
    let wait_mask = block_signals(n)?;
    let result =
        offline::chat_clients::crowd(n, count, prepare, |room| serve(room, n, SCENARIO_TIMEOUT, &wait_mask));
    let report = blame_the_signal("crowd", result)?;
    if report.refused > 0 {
        n.explain(format!(
            "{} clients were refused: pselect() takes the same fd_set as select(), FD_SETSIZE = {FD_SETSIZE}",
            report.refused
        ));
    }
    Ok(())
}

// ANCHOR: race
/// How long each half of `--show-race` lets its wait call sleep.
pub const RACE_TIMEOUT: Duration = Duration::from_millis(1500);

/// `--show-race`: the lost wake-up, made to happen on purpose.
///
/// The signal is raised by the program itself at the worst possible moment, so the
/// race is not a matter of luck. The select() half is exactly the notes' "same as":
/// unblock the signal with pthread_sigmask, then call select(). A signal pending at the
/// unblock is delivered right then, before select() starts; select() then sleeps the
/// whole timeout with the flag already set. pselect() unblocks inside the kernel, as
/// part of starting to wait, so the same early signal ends the wait at once.
pub fn show_race(n: &Narrator) -> Result<()> {
    n.title(TITLE.0, "the lost wake-up that pselect() closes, made to happen on purpose", TITLE.2);
    install_flag_handler(Signal::SIGINT).map_err(|e| Error::os("sigaction(SIGINT)", e))?;
    let mut sigint = SigSet::empty();
    sigint.add(Signal::SIGINT);
    let mut timeline = common::timeline::Timeline::new("wait call");

    // Half 1: check the flag, unblock, select(): the notes' "equivalent" of pselect.
    n.explain("half 1, the notes' \"equivalent\": the loop runs with SIGINT blocked, unblocks it, then calls select()");
    sigint.thread_block().map_err(|e| Error::os("pthread_sigmask(SIG_BLOCK, SIGINT)", e))?;
    n.event(
        "race_step",
        json!({"variant": "select", "step": "block"}),
        "select: SIGINT blocked while the loop works",
    );
    raise(Signal::SIGINT).map_err(|e| Error::os("raise(SIGINT)", e))?;
    n.event(
        "race_step",
        json!({"variant": "select", "step": "raise"}),
        "select: SIGINT arrives (raise): pending, since blocked",
    );
    let flag = take_pending(Signal::SIGINT);
    n.event(
        "race_step",
        json!({"variant": "select", "step": "check", "flag": flag}),
        format!("select: flag checked: {flag}, so go to sleep"),
    );
    sigint.thread_unblock().map_err(|e| Error::os("pthread_sigmask(SIG_UNBLOCK, SIGINT)", e))?;
    n.event(
        "race_step",
        json!({"variant": "select", "step": "unblock", "flag": sigint_flag()}),
        "select: pthread_sigmask(SIG_UNBLOCK): the pending SIGINT is delivered NOW, before select() starts",
    );
    let mut timeval = TimeVal::milliseconds(RACE_TIMEOUT.as_millis() as i64);
    let started = Instant::now();
    let t0 = n.t_ms();
    n.event(
        "wait",
        json!({"call": "select", "nfds": 0, "timeout_ms": RACE_TIMEOUT.as_millis() as u64}),
        format!("select(nfds=0, timeout={:.3}s) ...", RACE_TIMEOUT.as_secs_f64()),
    );
    let result = select(0, None::<&mut FdSet>, None, None, &mut timeval);
    let slept = started.elapsed();
    let flag = take_pending(Signal::SIGINT);
    n.event_styled(
        "race_result",
        json!({"variant": "select", "result": outcome(result), "slept_ms": ms(slept), "flag": flag}),
        common::narrate::Style::Warn,
        format!(
            "  -> select {} after {:.3} s: it slept through the signal; the flag was {flag} all along",
            outcome(result),
            slept.as_secs_f64()
        ),
    );
    timeline.add("select (racy)", t0, n.t_ms(), "slept the whole timeout");

    // Half 2: the same early signal, with pselect().
    n.explain("half 2: the same early signal, but pselect() unblocks SIGINT itself, inside the wait");
    sigint.thread_block().map_err(|e| Error::os("pthread_sigmask(SIG_BLOCK, SIGINT)", e))?;
    let mut wait_mask = SigSet::thread_get_mask().map_err(|e| Error::os("pthread_sigmask", e))?;
    wait_mask.remove(Signal::SIGINT);
    n.event(
        "race_step",
        json!({"variant": "pselect", "step": "block"}),
        "pselect: SIGINT blocked while the loop works",
    );
    raise(Signal::SIGINT).map_err(|e| Error::os("raise(SIGINT)", e))?;
    n.event(
        "race_step",
        json!({"variant": "pselect", "step": "raise"}),
        "pselect: SIGINT arrives (raise): pending, since blocked",
    );
    let flag = take_pending(Signal::SIGINT);
    n.event(
        "race_step",
        json!({"variant": "pselect", "step": "check", "flag": flag}),
        format!("pselect: flag checked: {flag}, so go to sleep"),
    );
    let timespec = TimeSpec::milliseconds(RACE_TIMEOUT.as_millis() as i64);
    let started = Instant::now();
    let t0 = n.t_ms();
    n.event(
        "wait",
        json!({"call": "pselect", "nfds": 0, "timeout_ms": RACE_TIMEOUT.as_millis() as u64}),
        format!("pselect(nfds=0, timeout={:.3}s, sigmask=without SIGINT) ...", RACE_TIMEOUT.as_secs_f64()),
    );
    let result = pselect(0, None::<&mut FdSet>, None, None, &timespec, &wait_mask);
    let slept = started.elapsed();
    let flag = take_pending(Signal::SIGINT);
    n.event_styled(
        "race_result",
        json!({"variant": "pselect", "result": outcome(result), "slept_ms": ms(slept), "flag": flag}),
        common::narrate::Style::Good,
        format!(
            "  -> pselect {} after {:.3} s: the pending signal ended the wait at once; flag {flag}",
            outcome(result),
            slept.as_secs_f64()
        ),
    );
    timeline.add("pselect", t0, n.t_ms(), "woke at once (EINTR)");
    sigint.thread_unblock().map_err(|e| Error::os("pthread_sigmask(SIG_UNBLOCK, SIGINT)", e))?;
    n.timeline(&timeline);
    n.explain("the notes call pselect() \"the same as\" pthread_sigmask + select() + pthread_sigmask; it is not: the gap between the calls is the race");
    Ok(())
}
// ANCHOR_END: race

/// The SIGINT flag's state, without clearing it (for narrating the unblock step).
fn sigint_flag() -> bool {
    common::sys::signal::is_pending(Signal::SIGINT)
}

/// `returned 0` or `failed with EINTR`.
fn outcome(result: nix::Result<i32>) -> String {
    match result {
        Ok(count) => format!("returned {count}"),
        Err(e) => format!("failed with {}", common::error::errno_name(e)),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
