//! The chat server on poll() (notes: "4. poll()").
//!
//! One thread, many sockets, as with select(): the server sleeps in `poll()` until at
//! least one socket is ready (or the timeout passes), then handles only what is ready.
//! What changes is the question: instead of three fixed-size bitmaps, poll() takes an
//! array of `struct pollfd {fd, events, revents}`. The kernel writes its answer into
//! `revents` and leaves `events` alone, there is no FD_SETSIZE limit, and the answer
//! can say more than "readable": POLLHUP (hang-up), POLLERR (error), POLLNVAL (not an
//! open fd).
//!
//! The chat room itself (nicknames, relaying, output queues, framing) is in
//! `common::chat`; this file is only the waiting. Compare it with the pselect and poll
//! demos: the loop is the same, the wait call is not.

use common::chat::tell::{self, ReadyFd};
use common::chat::{json, ChatRoom, Happening};
use common::{Error, Narrator, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// The demo's name, one-line summary and notes section, for its title line.
pub const TITLE: (&str, &str, &str) =
    ("poll", "one thread serves a chat room with an array of pollfds, no FD_SETSIZE limit", "4. poll()");

/// The wait call's timeout in the scripted scenario: short, so the scenario's idle gap
/// shows the timeout branch.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_millis(400);

/// The timeout with `--listen`: long enough to be quiet, short enough to show up.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

// ANCHOR: setup
/// What poll() needs from the room: nothing. Any open fd can go in a pollfd, so no
/// client is ever refused for its fd number (compare select's `prepare`).
pub fn prepare(_room: &mut ChatRoom) {}
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

/// A ready fd as poll() reports it: (fd, revents).
type Ready = (RawFd, PollFlags);

/// One poll() call. Returns the ready fds, or None when the timeout passed (or a
/// signal interrupted it) with nothing ready.
fn wait_once(room: &mut ChatRoom, n: &Narrator, timeout: Duration) -> Result<Option<Vec<Ready>>> {
    // ANCHOR: build_pollfds
    // One pollfd per fd, asking for POLLIN and, for clients with queued output, POLLOUT.
    // poll() writes only `revents`, so a long-lived server could keep this array and
    // patch it; it is rebuilt from the room each turn here, as select's sets are,
    // because the POLLOUT interest changes every turn anyway.
    let watch = room.watch_list();
    // Shorter while the room holds input for a client that is behind (common::chat):
    // the room must look again once that client would count as stalled.
    let timeout = room.wait_timeout(timeout);
    let mut pollfds: Vec<PollFd> = watch
        .iter()
        .map(|w| {
            let mut events = PollFlags::empty();
            events.set(PollFlags::POLLIN, w.read);
            events.set(PollFlags::POLLOUT, w.write);
            PollFd::new(w.fd, events)
        })
        .collect();
    let (mut reading, mut writing) = (Vec::new(), Vec::new());
    for w in &watch {
        if w.read {
            reading.push(w.fd.as_raw_fd());
        }
        if w.write {
            writing.push(w.fd.as_raw_fd());
        }
    }
    // nfds is the array's length here, not the highest fd plus one as for select().
    let nfds = pollfds.len();
    let poll_timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    // ANCHOR_END: build_pollfds
    n.event(
        "wait",
        json!({"call": "poll", "nfds": nfds, "read": tell::fd_json(&reading), "write": tell::fd_json(&writing),
               "timeout_ms": timeout.as_millis() as u64}),
        format!(
            "poll(fds: POLLIN on {}, POLLOUT on {}; nfds={nfds}, timeout={}ms) ...",
            tell::fd_set_text(&reading),
            tell::fd_set_text(&writing),
            timeout.as_millis()
        ),
    );
    // ANCHOR: poll
    let result = poll(&mut pollfds, poll_timeout);
    // ANCHOR_END: poll
    let returned = match result {
        Ok(count) => count,
        Err(Errno::EINTR) => {
            n.event(
                "interrupted",
                json!({"call": "poll"}),
                "  -> poll failed with EINTR: a signal handler ran",
            );
            return Ok(None);
        }
        Err(e) => return Err(Error::os("poll", e)),
    };
    // ANCHOR: find_ready
    // poll() returns how many entries have a non-zero revents (not a bitmask, whatever
    // the notes say): walk the array and keep those.
    let ready: Vec<Ready> = pollfds
        .iter()
        .zip(&watch)
        .filter_map(|(p, w)| p.revents().filter(|r| !r.is_empty()).map(|r| (w.fd.as_raw_fd(), r)))
        .collect();
    // ANCHOR_END: find_ready
    room.counters.wait_calls += 1;
    if returned == 0 {
        room.counters.timeouts += 1;
        tell::still_waiting(n, "poll", timeout.as_millis() as u64);
        return Ok(None);
    }
    let described: Vec<ReadyFd> =
        ready.iter().map(|&(fd, revents)| ReadyFd { fd, flags: flag_names(revents) }).collect();
    tell::ready(n, room, "poll", returned, &described);
    Ok(Some(ready))
}

// ANCHOR: handle_ready
/// Hands one ready fd to the room, flag by flag. The results were copied out of the
/// pollfd array before any of this runs, so a client removed here cannot shift the
/// array under a loop index and make it skip the next entry (the classic bug of
/// removing from the array while walking it). Every socket is non-blocking, so even a
/// report that went stale meanwhile costs at most an EAGAIN.
fn dispatch(room: &mut ChatRoom, (fd, revents): Ready) -> Vec<Happening> {
    let mut happened = Vec::new();
    // POLLNVAL: the fd is not open. Only a bookkeeping bug can cause it; forget the
    // entry, or poll() would report it again at once, forever.
    if revents.contains(PollFlags::POLLNVAL) {
        return room.forget(fd);
    }
    // POLLIN: data, a new connection, or EOF (read() = 0) to read.
    let readable = revents.contains(PollFlags::POLLIN);
    if readable {
        happened.extend(room.on_readable(fd));
    }
    // POLLERR: a pending socket error (SO_ERROR), reported even though never asked for.
    if revents.contains(PollFlags::POLLERR) {
        happened.extend(room.on_error(fd));
    }
    // POLLHUP: the connection is gone both ways. With POLLIN too, unread data may still
    // be waiting: keep reading on later turns until read() says 0. Without it, leave now.
    if revents.contains(PollFlags::POLLHUP) && !readable {
        happened.extend(room.on_hangup(fd));
    }
    // POLLOUT: room in the socket's send buffer for this client's queued output.
    if revents.contains(PollFlags::POLLOUT) {
        happened.extend(room.on_writable(fd));
    }
    happened
}
// ANCHOR_END: handle_ready

/// The names of the flags set in `revents`, for the narration.
fn flag_names(revents: PollFlags) -> Vec<&'static str> {
    [
        (PollFlags::POLLIN, "POLLIN"),
        (PollFlags::POLLPRI, "POLLPRI"),
        (PollFlags::POLLOUT, "POLLOUT"),
        (PollFlags::POLLERR, "POLLERR"),
        (PollFlags::POLLHUP, "POLLHUP"),
        (PollFlags::POLLNVAL, "POLLNVAL"),
    ]
    .into_iter()
    .filter(|(flag, _)| revents.contains(*flag))
    .map(|(_, name)| name)
    .collect()
}

/// `--listen ADDR`: serve for real until the process is killed (Ctrl-C).
pub fn listen(n: &Narrator, addr: SocketAddr) -> Result<()> {
    let mut room = ChatRoom::bind(addr, SocketAddr::new(addr.ip(), 0))?;
    prepare(&mut room);
    tell::announce(n, &room, TITLE)?;
    n.explain("Ctrl-C ends this server on the spot: poll() has no safe way to also wait for a signal (ppoll and pselect do)");
    serve(&mut room, n, LISTEN_TIMEOUT)
}

/// No arguments: the scripted chat, narrated and checked.
pub fn scenario(n: &Narrator) -> Result<()> {
    n.title(TITLE.0, TITLE.1, TITLE.2);
    offline::chat_clients::scenario(n, prepare, |room| serve(room, n, SCENARIO_TIMEOUT))
}

/// `--clients N`: N clients at once, every one served: a pollfd array has no size limit
/// but RLIMIT_NOFILE, which the crowd raises first.
pub fn crowd(n: &Narrator, count: usize) -> Result<()> {
    n.title(TITLE.0, TITLE.1, TITLE.2);
    let report = offline::chat_clients::crowd(n, count, prepare, |room| serve(room, n, SCENARIO_TIMEOUT))?;
    if report.refused == 0 && count > 1024 {
        n.explain(format!(
            "all {count} served, fds well past 1023: select() would have refused every client from fd 1024 up \
             (`just run select --clients {count}`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    /// A room with one accepted client; returns (room, client fd, the client's end).
    fn room_with_a_client() -> (ChatRoom, RawFd, TcpStream) {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let mut room = ChatRoom::bind(loopback, loopback).unwrap();
        let peer = TcpStream::connect(room.chat_addr().unwrap()).unwrap();
        let listener = room.watch_list()[0].fd.as_raw_fd();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while room.client_count() == 0 && std::time::Instant::now() < deadline {
            room.on_readable(listener);
        }
        let fd = room.watch_list()[2].fd.as_raw_fd();
        (room, fd, peer)
    }

    fn events(happened: &[Happening]) -> Vec<&str> {
        happened.iter().map(|h| h.event).collect()
    }

    // Each revents flag reaches its handler. The flags are given directly: POLLNVAL
    // cannot be had for real without closing an fd the room still holds.

    #[test]
    fn pollnval_forgets_the_entry() {
        let (mut room, fd, _peer) = room_with_a_client();
        assert_eq!(events(&dispatch(&mut room, (fd, PollFlags::POLLNVAL))), ["forgotten"]);
        assert_eq!(room.client_count(), 0);
    }

    #[test]
    fn pollhup_alone_drops_the_client_but_not_with_pollin() {
        let (mut room, fd, _peer) = room_with_a_client();
        // With POLLIN and nothing to read yet (EAGAIN): the client stays for now.
        assert!(dispatch(&mut room, (fd, PollFlags::POLLIN | PollFlags::POLLHUP)).is_empty());
        assert_eq!(room.client_count(), 1);
        let happened = dispatch(&mut room, (fd, PollFlags::POLLHUP));
        assert_eq!(events(&happened), ["left"]);
        assert!(happened[0].text.contains("hang-up"), "{}", happened[0].text);
    }

    #[test]
    fn pollerr_reads_so_error_and_drops_the_client() {
        let (mut room, fd, _peer) = room_with_a_client();
        let happened = dispatch(&mut room, (fd, PollFlags::POLLERR));
        assert_eq!(events(&happened), ["left"]);
        assert_eq!(room.client_count(), 0);
    }

    #[test]
    fn pollin_and_pollout_read_and_flush() {
        let (mut room, fd, mut peer) = room_with_a_client();
        // The welcome line is queued: POLLOUT writes it.
        assert_eq!(events(&dispatch(&mut room, (fd, PollFlags::POLLOUT))), ["flushed"]);
        std::io::Write::write_all(&mut peer, b"/who\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut happened = Vec::new();
        while happened.is_empty() && std::time::Instant::now() < deadline {
            happened = dispatch(&mut room, (fd, PollFlags::POLLIN));
        }
        assert_eq!(events(&happened), ["read", "command"]);
    }
}
