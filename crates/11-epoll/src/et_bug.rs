//! `--show-et-bug`: the classic edge-triggered mistake, made to happen on purpose.
//!
//! Edge-triggered epoll reports an fd when it *becomes* readable, not while it *is*
//! readable. A loop that reads once per report, as a level-triggered loop may, leaves
//! the rest of a burst in the socket, and no report comes for it until the peer sends
//! something new (epoll(7): "Level-triggered and edge-triggered"). Nothing here is luck:
//! a Unix socket pair delivers each write whole before write() returns, so the first
//! epoll_wait sees the whole burst, and a timeout stands for "no report ever came".

use common::{Error, Narrator, Result};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::socket::{recv, MsgFlags};
use serde_json::json;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long "nothing comes" is waited for: long enough to be believed.
pub const QUIET: Duration = Duration::from_millis(300);

/// The burst the peer sends: more than one read takes.
pub const BURST: usize = 6000;

/// Bytes asked for in one read(), as the chat room does.
pub const CHUNK: usize = 4096;

/// One half of the demonstration: a socket pair, an edge-triggered epoll.
struct Bench {
    epoll: Epoll,
    ours: UnixStream,
    peer: UnixStream,
}

impl Bench {
    fn new() -> Result<Self> {
        let (ours, peer) = UnixStream::pair().map_err(|e| Error::io("socketpair", &e))?;
        ours.set_nonblocking(true).map_err(|e| Error::io("set O_NONBLOCK", &e))?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| Error::os("epoll_create1", e))?;
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLET;
        epoll
            .add(&ours, EpollEvent::new(flags, ours.as_raw_fd() as u64))
            .map_err(|e| Error::os("epoll_ctl(EPOLL_CTL_ADD)", e))?;
        Ok(Bench { epoll, ours, peer })
    }

    fn send(&mut self, n: &Narrator, part: &str, bytes: &[u8]) -> Result<()> {
        self.peer.write_all(bytes).map_err(|e| Error::io("write (peer)", &e))?;
        n.event(
            "et_send",
            json!({"part": part, "bytes": bytes.len()}),
            format!("peer: write({} bytes)", bytes.len()),
        );
        Ok(())
    }

    /// One epoll_wait: how many reports came.
    fn wait(&self, n: &Narrator, part: &str, timeout: Duration) -> Result<usize> {
        let mut events = [EpollEvent::empty(); 4];
        let timeout =
            nix::sys::epoll::EpollTimeout::try_from(timeout).unwrap_or(nix::sys::epoll::EpollTimeout::MAX);
        let count = common::fd::retry_eintr(|| self.epoll.wait(&mut events, timeout))
            .map_err(|e| Error::os("epoll_wait", e))?;
        let text = if count == 0 {
            "epoll_wait -> 0: no report".to_string()
        } else {
            format!("epoll_wait -> {count}: fd {} EPOLLIN", self.ours.as_raw_fd())
        };
        n.event("et_wait", json!({"part": part, "returned": count}), text);
        Ok(count)
    }

    /// One read() of up to [`CHUNK`] bytes: the count, or None for EAGAIN.
    fn read_once(&mut self, n: &Narrator, part: &str) -> Result<Option<usize>> {
        let mut buf = [0u8; CHUNK];
        match self.ours.read(&mut buf) {
            Ok(got) => {
                n.event("et_read", json!({"part": part, "bytes": got}), format!("read() = {got} bytes"));
                Ok(Some(got))
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                n.event("et_read", json!({"part": part, "eagain": true}), "read() = -1 EAGAIN: drained");
                Ok(None)
            }
            Err(e) => Err(Error::io("read", &e)),
        }
    }

    /// Bytes waiting in our socket, unread (a peek that takes nothing).
    fn unread(&self, n: &Narrator, part: &str) -> Result<usize> {
        let mut buf = vec![0u8; 4 * BURST];
        let count = match recv(self.ours.as_raw_fd(), &mut buf, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT) {
            Ok(count) => count,
            Err(nix::errno::Errno::EAGAIN) => 0,
            Err(e) => return Err(Error::os("recv(MSG_PEEK)", e)),
        };
        n.event(
            "et_unread",
            json!({"part": part, "bytes": count}),
            format!("unread in the socket: {count} bytes"),
        );
        Ok(count)
    }
}

/// Runs both halves and checks each did what it should.
pub fn show(n: &Narrator) -> Result<()> {
    n.title("epoll --show-et-bug", "edge-triggered with one read per wake-up strands input", crate::TITLE.2);
    let burst = vec![b'x'; BURST];

    n.explain(format!("the bug: EPOLLIN|EPOLLET, and one read() of {CHUNK} bytes per report"));
    let mut bug = Bench::new()?;
    bug.send(n, "bug", &burst)?;
    let first = bug.wait(n, "bug", QUIET)?;
    bug.read_once(n, "bug")?;
    let stranded = bug.unread(n, "bug")?;
    let silent = bug.wait(n, "bug", QUIET)?;
    n.explain(format!(
        "{stranded} bytes sit in the socket, and epoll_wait said nothing for {} ms: the fd did not *become* \
         readable again, so there is no edge to report (level-triggered would report it at once)",
        QUIET.as_millis()
    ));
    bug.send(n, "bug", b"ping\n")?;
    let woken = bug.wait(n, "bug", QUIET)?;
    let late = bug.read_once(n, "bug")?.unwrap_or(0);
    n.explain(format!(
        "only the peer's next write made a new edge: the {stranded} stranded bytes came out with it, late"
    ));

    n.explain("the fix: on each report, read until read() says EAGAIN");
    let mut fix = Bench::new()?;
    fix.send(n, "fix", &burst)?;
    let fix_first = fix.wait(n, "fix", QUIET)?;
    let mut reads = Vec::new();
    while let Some(got) = fix.read_once(n, "fix")? {
        reads.push(got);
        if reads.len() > BURST / CHUNK + 2 {
            break; // cannot happen with a peer that sends nothing more; never loop forever
        }
    }
    let left = fix.unread(n, "fix")?;
    let fix_silent = fix.wait(n, "fix", QUIET)?;

    let ok = first == 1
        && stranded == BURST - CHUNK
        && silent == 0
        && woken == 1
        && late == stranded + 5
        && fix_first == 1
        && reads == [CHUNK, BURST - CHUNK]
        && left == 0
        && fix_silent == 0;
    n.event(
        "et_bug_check",
        json!({"ok": ok, "stranded": stranded, "late": late, "fix_reads": reads}),
        if ok {
            format!(
                "shown: one read per edge stranded {stranded} bytes until the peer spoke again; draining to EAGAIN \
                 left nothing behind. done."
            )
        } else {
            "the run did not go as described: see above".to_string()
        },
    );
    if ok {
        Ok(())
    } else {
        Err(Error::msg("--show-et-bug", "the edge-triggered runs did not behave as epoll(7) says"))
    }
}
