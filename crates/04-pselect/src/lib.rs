//! The chat server on pselect() (notes: "4. pselect()").
//!
//! The same server as the select demo, plus signals. A server must stop cleanly on
//! SIGINT (Ctrl-C) or SIGTERM: tell its clients, flush, close. A signal handler can only
//! set a flag; the loop must notice the flag. With select() there is a window: if the
//! signal lands after the loop checked the flag but before select() starts sleeping,
//! select() sleeps on, for its whole timeout or forever. pselect() closes the window:
//! the signals stay blocked everywhere, and pselect() unblocks them only while it
//! waits, atomically, in the kernel. A signal that came early is pending and ends the
//! wait at once (EINTR). `--show-race` shows both, deterministically (`race.rs`).
//!
//! Read [`serve`] first: the flags, the wait, then one ready fd at a time in `handle`:
//! accept, read, relay, write, close. Each step is a call on the room, in
//! `common/src/chat/room.rs`, which is the rest of one turn of the loop. Only the
//! signals and the wait differ from the select demo's `lib.rs`.

use common::chat::happening;
use common::chat::tell::{self, ReadyFd, Title};
use common::chat::{json, ChatRoom, Happening, Input, Kind};
use common::narrate::Style;
use common::sys::signal::{install_flag_handler, take_pending};
use common::{Error, Narrator, Result};
use nix::errno::Errno;
use nix::sys::select::{pselect, FdSet};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::time::{TimeSpec, TimeValLike};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

mod race;
pub use race::{show_race, RACE_TIMEOUT};

/// The demo's title line.
pub const TITLE: Title = Title {
    name: "pselect",
    summary: "the chat server, stopping cleanly on SIGINT/SIGTERM without a race",
    notes: "4. pselect()",
};

/// The wait call's timeout in the scripted scenario: short, so the scenario's idle gap
/// shows the timeout branch.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_millis(400);

/// The timeout with `--listen`: long enough to be quiet, short enough to show up.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The signals this server handles: the two that mean "stop", and one for counters.
pub const HANDLED: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGUSR1];

/// An `fd_set` is a fixed-size bitmap: bits 0..FD_SETSIZE-1 and no more. glibc's
/// FD_SET on a larger fd writes past the end of it; nix's `FdSet::insert` panics.
pub const FD_SETSIZE: RawFd = libc::FD_SETSIZE as RawFd;

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
    narrate_blocked(n);
    Ok(wait_mask)
}
// ANCHOR_END: setup

// ANCHOR: wait_loop
/// The server loop: check the flags, wait, then handle each ready fd, then tell what
/// happened. Checking the flags here is safe only because the signals are blocked
/// until pselect() itself unblocks them.
pub fn serve(room: &mut ChatRoom, n: &Narrator, timeout: Duration, wait_mask: &SigSet) -> Result<()> {
    while room.keep_going()? {
        if take_pending(Signal::SIGUSR1) {
            narrate_counters(n, room, "SIGUSR1");
        }
        if let Some(signal) = [Signal::SIGINT, Signal::SIGTERM].into_iter().find(|&s| take_pending(s)) {
            return stop(room, n, signal);
        }
        let Some(ready) = wait(room, n, timeout, wait_mask)? else { continue };
        let mut happened = Vec::new();
        for one in ready {
            handle(room, one, &mut happened);
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
    narrate_signal(n, signal);
    let happened = room.shutdown(signal.as_str());
    tell::happenings(n, &happened);
    narrate_counters(n, room, "final counters");
    Ok(())
}
// ANCHOR_END: stop

/// A ready fd as pselect() reports it: in the read set, the write set, or both.
#[derive(Debug, Clone, Copy)]
struct Ready {
    fd: RawFd,
    readable: bool,
    writable: bool,
}

/// One pselect() call. Returns the ready fds, or None when the timeout passed (or a
/// signal interrupted it) with nothing ready.
fn wait(
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
    let (mut read_set, mut write_set) = (FdSet::new(), FdSet::new());
    for w in &watch {
        fits_in_fd_set(w.fd.as_raw_fd())?;
        if w.read {
            read_set.insert(w.fd);
        }
        if w.write {
            write_set.insert(w.fd);
        }
    }
    // nfds is the highest fd plus one, not the number of fds: the kernel scans bits
    // 0..nfds of each set.
    let nfds = watch.iter().map(|w| w.fd.as_raw_fd()).max().map_or(0, |fd| fd + 1);
    let timespec = TimeSpec::milliseconds(timeout.as_millis() as i64);
    // ANCHOR_END: build_sets
    narrate_wait(n, nfds, &read_set, &write_set, timeout);
    // ANCHOR: pselect
    // For the length of this call only, the thread's signal mask is `wait_mask`: a
    // pending SIGINT/SIGTERM/SIGUSR1 is delivered the moment the call starts waiting,
    // and ends it with EINTR. Before and after, they stay blocked.
    let result = pselect(nfds, &mut read_set, &mut write_set, None, &timespec, wait_mask);
    // ANCHOR_END: pselect
    let returned = match result {
        Ok(count) => count,
        Err(Errno::EINTR) => return Ok(narrate_interrupted(n, room)),
        Err(e) => return Err(Error::os("pselect", e)),
    };
    // ANCHOR: find_ready
    // The sets now hold only the ready fds: test each fd we asked about.
    let ready: Vec<Ready> = watch
        .iter()
        .map(|w| Ready {
            fd: w.fd.as_raw_fd(),
            readable: w.read && read_set.contains(w.fd),
            writable: w.write && write_set.contains(w.fd),
        })
        .filter(|r| r.readable || r.writable)
        .collect();
    // ANCHOR_END: find_ready
    room.counters.wait_calls += 1;
    if returned == 0 {
        room.counters.timeouts += 1;
        tell::still_waiting(n, "pselect", timeout.as_millis() as u64);
        return Ok(None);
    }
    narrate_ready(n, room, returned, &ready);
    Ok(Some(ready))
}

// ANCHOR: handle_ready
/// One ready fd, step by step. Reading first: it may find the peer gone, and then
/// there is nothing to write. Every socket is non-blocking, so even a readiness report
/// that went stale meanwhile (the fd was closed and reused during this turn) costs at
/// most an EAGAIN, never a stalled server.
fn handle(room: &mut ChatRoom, ready: Ready, happened: &mut Vec<Happening>) {
    let fd = ready.fd;
    if ready.readable {
        match room.kind(fd) {
            Some(Kind::ChatListener) => room.accept(happened),
            Some(Kind::StatsListener) => room.serve_stats(happened),
            Some(Kind::Client) => match room.read(fd, happened) {
                Input::Lines(lines) => {
                    for line in lines {
                        if line.starts_with('/') {
                            room.command(fd, &line, happened);
                        } else {
                            room.relay(fd, &line, happened);
                        }
                    }
                }
                Input::Closed(why) => room.close(fd, why, happened),
            },
            None => {} // closed earlier in this turn
        }
    }
    if ready.writable {
        if let Some(why) = room.write(fd, happened) {
            room.close(fd, why, happened);
        }
    }
}
// ANCHOR_END: handle_ready

/// An fd past FD_SETSIZE cannot go in an fd_set. The room refuses such clients at
/// accept(); this is for a listener that somehow got a high fd: an error, never nix's
/// panic.
fn fits_in_fd_set(fd: RawFd) -> Result<()> {
    if fd >= FD_SETSIZE {
        return Err(Error::msg("pselect", format!("fd {fd} is past FD_SETSIZE ({FD_SETSIZE})")));
    }
    Ok(())
}

/// The `wait` event: the sets, timeout and mask pselect() is about to be given.
fn narrate_wait(n: &Narrator, nfds: RawFd, read_set: &FdSet, write_set: &FdSet, timeout: Duration) {
    let (read, write) = (members(read_set), members(write_set));
    n.event(
        "wait",
        json!({"call": "pselect", "nfds": nfds, "read": tell::fd_json(&read), "write": tell::fd_json(&write),
               "timeout_ms": timeout.as_millis() as u64, "unblocks": ["SIGINT", "SIGTERM", "SIGUSR1"]}),
        format!(
            "pselect(nfds={nfds}, read={}, write={}, except=NULL, timeout={:.3}s, sigmask=without INT,TERM,USR1) ...",
            tell::fd_set_text(&read),
            tell::fd_set_text(&write),
            timeout.as_secs_f64()
        ),
    );
}

/// The fds in a set, lowest first.
fn members(set: &FdSet) -> Vec<RawFd> {
    set.fds(None).map(|fd| fd.as_raw_fd()).collect()
}

/// The `interrupted` event: a signal was delivered while pselect() waited. Nothing is
/// ready; the loop checks its flags next. (Counted as a wait call, unlike select's.)
fn narrate_interrupted(n: &Narrator, room: &mut ChatRoom) -> Option<Vec<Ready>> {
    room.counters.wait_calls += 1;
    n.event(
        "interrupted",
        json!({"call": "pselect"}),
        "  -> pselect failed with EINTR: a signal was delivered while it waited; checking the flags",
    );
    None
}

/// The `ready` event: what pselect() returned, and whose fds woke it.
fn narrate_ready(n: &Narrator, room: &ChatRoom, returned: i32, ready: &[Ready]) {
    let described: Vec<ReadyFd> = ready
        .iter()
        .map(|r| ReadyFd {
            fd: r.fd,
            flags: [(r.readable, "readable"), (r.writable, "writable")]
                .into_iter()
                .filter(|&(set, _)| set)
                .map(|(_, name)| name)
                .collect(),
        })
        .collect();
    tell::ready(n, room, "pselect", returned, &described);
}

/// The `signals_blocked` event, and what it means.
fn narrate_blocked(n: &Narrator) {
    n.event(
        "signals_blocked",
        json!({"handled": HANDLED.iter().map(|s| s.as_str()).collect::<Vec<_>>()}),
        "sigaction(SIGINT, SIGTERM, SIGUSR1: set a flag), then pthread_sigmask(SIG_BLOCK, those three)",
    );
    n.explain("from here on they stay pending until pselect() unblocks them, atomically, while it waits");
}

/// The `counters` event: the stats line, after `why` (SIGUSR1, or the end).
fn narrate_counters(n: &Narrator, room: &ChatRoom, why: &str) {
    let line = room.stats_line();
    n.event("counters", json!({"line": line}), format!("{why}: {line}"));
}

/// The `signal` event: SIGINT or SIGTERM ends the loop.
fn narrate_signal(n: &Narrator, signal: Signal) {
    let fields = json!({"signal": signal.as_str()});
    n.event_styled("signal", fields, Style::Bold, format!("{signal} arrived: shutting down"));
}

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
    TITLE.show(n);
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
    TITLE.show(n);
    let wait_mask = block_signals(n)?;
    let result =
        offline::chat_clients::crowd(n, count, prepare, |room| serve(room, n, SCENARIO_TIMEOUT, &wait_mask));
    let report = blame_the_signal("crowd", result)?;
    if report.refused > 0 {
        n.explain(format!(
            "{} refused: pselect() takes the same fd_set as select(), FD_SETSIZE = {FD_SETSIZE}",
            happening::count(report.refused as u64, "client")
        ));
    }
    Ok(())
}
