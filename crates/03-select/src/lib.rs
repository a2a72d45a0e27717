//! The chat server on select() (notes: "3. using select()").
//!
//! One thread, many sockets: instead of blocking in `read()` on one client while the
//! others wait, the server hands the kernel *sets* of fds and sleeps in `select()` until
//! at least one of them is ready (or the timeout passes). Then it reads, accepts or
//! writes only what is ready, so no call in the loop ever blocks.
//!
//! The chat room itself (nicknames, relaying, output queues, framing) is in
//! `common::chat`; this file is only the waiting. Compare it with the pselect and poll
//! demos: the loop is the same, the wait call is not.

use common::chat::tell::{self, ReadyFd};
use common::chat::{json, ChatRoom, Happening};
use common::{Error, Narrator, Result};
use nix::errno::Errno;
use nix::sys::select::{select, FdSet};
use nix::sys::time::{TimeVal, TimeValLike};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// The demo's name, one-line summary and notes section, for its title line.
pub const TITLE: (&str, &str, &str) =
    ("select", "one thread serves a chat room by waiting on every socket at once", "3. using select()");

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
/// The server loop: wait, see who is ready, let the room handle each ready fd.
pub fn serve(room: &mut ChatRoom, n: &Narrator, timeout: Duration) -> Result<()> {
    while room.keep_going()? {
        let Some(ready) = wait_once(room, n, timeout)? else { continue };
        let mut happened = Vec::new();
        for one in ready {
            happened.extend(dispatch(room, one));
        }
        tell::happenings(n, &happened);
    }
    Ok(())
}
// ANCHOR_END: wait_loop

/// A ready fd as select() reports it: (fd, readable, writable).
type Ready = (RawFd, bool, bool);

/// One select() call. Returns the ready fds, or None when the timeout passed (or a
/// signal interrupted it) with nothing ready.
fn wait_once(room: &mut ChatRoom, n: &Narrator, timeout: Duration) -> Result<Option<Vec<Ready>>> {
    // ANCHOR: build_sets
    // select() overwrites its sets with the answer (and, on Linux, the timeout with the
    // time left), so both are built afresh on every turn: reusing last turn's sets would
    // watch only the fds that happened to be ready last time.
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
            return Err(Error::msg("select", format!("fd {fd} is past FD_SETSIZE ({FD_SETSIZE})")));
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
    let mut time_left = TimeVal::milliseconds(timeout.as_millis() as i64);
    // ANCHOR_END: build_sets
    n.event(
        "wait",
        json!({"call": "select", "nfds": nfds, "read": tell::fd_json(&reading), "write": tell::fd_json(&writing),
               "timeout_ms": timeout.as_millis() as u64}),
        format!(
            "select(nfds={nfds}, read={}, write={}, except=NULL, timeout={:.3}s) ...",
            tell::fd_set_text(&reading),
            tell::fd_set_text(&writing),
            timeout.as_secs_f64()
        ),
    );
    // ANCHOR: select
    let result = select(nfds, &mut read_set, &mut write_set, None, &mut time_left);
    // ANCHOR_END: select
    let returned = match result {
        Ok(count) => count,
        Err(Errno::EINTR) => {
            n.event(
                "interrupted",
                json!({"call": "select"}),
                "  -> select failed with EINTR: a signal handler ran",
            );
            return Ok(None);
        }
        Err(e) => return Err(Error::os("select", e)),
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
        tell::still_waiting(n, "select", timeout.as_millis() as u64);
        return Ok(None);
    }
    let described: Vec<ReadyFd> = ready
        .iter()
        .map(|&(fd, r, w)| ReadyFd {
            fd,
            flags: [(r, "readable"), (w, "writable")].iter().filter(|f| f.0).map(|f| f.1).collect(),
        })
        .collect();
    tell::ready(n, room, "select", returned, &described);
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
    n.title(TITLE.0, TITLE.1, TITLE.2);
    offline::chat_clients::scenario(n, prepare, |room| serve(room, n, SCENARIO_TIMEOUT))
}

/// `--clients N`: N clients at once. Past fd 1023 select() cannot follow, so those are refused.
pub fn crowd(n: &Narrator, count: usize) -> Result<()> {
    n.title(TITLE.0, TITLE.1, TITLE.2);
    let report = offline::chat_clients::crowd(n, count, prepare, |room| serve(room, n, SCENARIO_TIMEOUT))?;
    if report.refused > 0 {
        n.explain(format!(
            "{} clients were refused because their fds were past FD_SETSIZE - 1 = {}: an fd_set cannot hold them. \
             poll() takes an array instead: `just run poll --clients {count}` serves them all.",
            report.refused,
            FD_SETSIZE - 1
        ));
    }
    Ok(())
}
