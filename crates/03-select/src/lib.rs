//! The chat server on select() (notes: "3. using select()").
//!
//! One thread, many sockets: instead of blocking in `read()` on one client while the
//! others wait, the server hands the kernel *sets* of fds and sleeps in `select()` until
//! at least one of them is ready (or the timeout passes). Then it reads, accepts or
//! writes only what is ready, so no call in the loop ever blocks.
//!
//! Read [`serve`] first: the wait, then one ready fd at a time in `handle`: accept,
//! read, relay, write, close. Each step is a call on the room, in
//! `common/src/chat/room.rs`, which is the rest of one turn of the loop.

use common::chat::happening;
use common::chat::tell::{self, ReadyFd, Title};
use common::chat::{json, ChatRoom, Happening, Input, Kind};
use common::{Error, Narrator, Result};
use nix::errno::Errno;
use nix::sys::select::{select, FdSet};
use nix::sys::time::{TimeVal, TimeValLike};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// The demo's title line.
pub const TITLE: Title = Title {
    name: "select",
    summary: "one thread serves a chat room by waiting on every socket at once",
    notes: "3. using select()",
};

/// The wait call's timeout in the scripted scenario: short, so the scenario's idle gap
/// shows the timeout branch.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_millis(400);

/// The timeout with `--listen`: long enough to be quiet, short enough to show up.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// An `fd_set` is a fixed-size bitmap: bits 0..FD_SETSIZE-1 and no more. glibc's
/// FD_SET on a larger fd writes past the end of it; nix's `FdSet::insert` panics.
pub const FD_SETSIZE: RawFd = libc::FD_SETSIZE as RawFd;

// ANCHOR: setup
/// What select() needs from the room: refuse any client whose fd it could not watch.
pub fn prepare(room: &mut ChatRoom) {
    room.refuse_fds_from(FD_SETSIZE);
}
// ANCHOR_END: setup

// ANCHOR: wait_loop
/// The server loop: wait, then handle each ready fd, then tell what happened.
pub fn serve(room: &mut ChatRoom, n: &Narrator, timeout: Duration) -> Result<()> {
    while room.keep_going()? {
        let Some(ready) = wait(room, n, timeout)? else { continue };
        let mut happened = Vec::new();
        for one in ready {
            handle(room, one, &mut happened);
        }
        tell::happenings(n, &happened);
    }
    Ok(())
}
// ANCHOR_END: wait_loop

/// A ready fd as select() reports it: in the read set, the write set, or both.
#[derive(Debug, Clone, Copy)]
struct Ready {
    fd: RawFd,
    readable: bool,
    writable: bool,
}

/// One select() call. Returns the ready fds, or None when the timeout passed (or a
/// signal interrupted it) with nothing ready.
fn wait(room: &mut ChatRoom, n: &Narrator, timeout: Duration) -> Result<Option<Vec<Ready>>> {
    // ANCHOR: build_sets
    // select() overwrites its sets with the answer (and, on Linux, the timeout with the
    // time left), so both are built afresh on every turn: reusing last turn's sets would
    // watch only the fds that happened to be ready last time.
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
    let mut time_left = TimeVal::milliseconds(timeout.as_millis() as i64);
    // ANCHOR_END: build_sets
    narrate_wait(n, nfds, &read_set, &write_set, timeout);
    // ANCHOR: select
    let result = select(nfds, &mut read_set, &mut write_set, None, &mut time_left);
    // ANCHOR_END: select
    let returned = match result {
        Ok(count) => count,
        Err(Errno::EINTR) => return Ok(narrate_interrupted(n)),
        Err(e) => return Err(Error::os("select", e)),
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
        tell::still_waiting(n, "select", timeout.as_millis() as u64);
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
        return Err(Error::msg("select", format!("fd {fd} is past FD_SETSIZE ({FD_SETSIZE})")));
    }
    Ok(())
}

/// The `wait` event: the sets and timeout select() is about to be given.
fn narrate_wait(n: &Narrator, nfds: RawFd, read_set: &FdSet, write_set: &FdSet, timeout: Duration) {
    let (read, write) = (members(read_set), members(write_set));
    n.event(
        "wait",
        json!({"call": "select", "nfds": nfds, "read": tell::fd_json(&read), "write": tell::fd_json(&write),
               "timeout_ms": timeout.as_millis() as u64}),
        format!(
            "select(nfds={nfds}, read={}, write={}, except=NULL, timeout={:.3}s) ...",
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

/// The `interrupted` event: a signal handler ran during select(). Nothing is ready.
fn narrate_interrupted(n: &Narrator) -> Option<Vec<Ready>> {
    n.event("interrupted", json!({"call": "select"}), "  -> select failed with EINTR: a signal handler ran");
    None
}

/// The `ready` event: what select() returned, and whose fds woke it.
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
    tell::ready(n, room, "select", returned, &described);
}

/// `--listen ADDR`: serve for real until the process is killed (Ctrl-C).
pub fn listen(n: &Narrator, addr: SocketAddr) -> Result<()> {
    let mut room = ChatRoom::bind(addr, SocketAddr::new(addr.ip(), 0))?;
    prepare(&mut room);
    tell::announce(n, &room, TITLE)?;
    n.explain("Ctrl-C ends this server on the spot: select() has no safe way to also wait for a signal (see pselect)");
    serve(&mut room, n, LISTEN_TIMEOUT)
}

/// No arguments: the scripted chat, narrated and checked.
pub fn scenario(n: &Narrator) -> Result<()> {
    TITLE.show(n);
    offline::chat_clients::scenario(n, prepare, |room| serve(room, n, SCENARIO_TIMEOUT))
}

/// `--clients N`: N clients at once. Past fd 1023 select() cannot follow, so those are refused.
pub fn crowd(n: &Narrator, count: usize) -> Result<()> {
    TITLE.show(n);
    let report = offline::chat_clients::crowd(n, count, prepare, |room| serve(room, n, SCENARIO_TIMEOUT))?;
    if report.refused > 0 {
        n.explain(format!(
            "{} refused: an fd_set holds fds 0..{} only (FD_SETSIZE = {FD_SETSIZE}). \
             poll() takes an array instead: `just run poll --clients {count}` serves them all.",
            happening::count(report.refused as u64, "client"),
            FD_SETSIZE - 1
        ));
    }
    Ok(())
}
