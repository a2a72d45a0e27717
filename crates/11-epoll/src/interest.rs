//! The epoll instance's interest list, kept in step with the room.
//!
//! select() and poll() are handed the whole list of fds on every call. epoll keeps the
//! list in the kernel: each fd is registered once (`EPOLL_CTL_ADD`), changed only when
//! what we want from it changes (`EPOLL_CTL_MOD`), and removed before it is closed
//! (`EPOLL_CTL_DEL`). This file remembers what the kernel holds, so that each turn
//! makes a system call only for an fd whose wish changed: a client's queue turned
//! non-empty (add EPOLLOUT) or empty (drop it), a client is leaving (drop EPOLLIN), the
//! room is holding input, accept() is paused.

use common::chat::{json, Changes, ChatRoom, Happening, Watch};
use common::{Error, Result};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// Level-triggered (the default, poll's semantics) or edge-triggered (`EPOLLET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Reported on every epoll_wait while the fd is ready.
    Level,
    /// Reported when the fd *becomes* ready (new data, new room); then not again until
    /// the next change, however much is left unread.
    Edge,
}

/// The epoll fd and what we have told it.
#[derive(Debug)]
pub struct Interest {
    epoll: Epoll,
    trigger: Trigger,
    /// What the kernel's interest list holds for each room fd, as we last set it.
    registered: HashMap<RawFd, EpollFlags>,
    /// Fds that are not the room's (the signalfd): registered once, never synced.
    own: Vec<RawFd>,
}

impl Interest {
    /// `epoll_create1(EPOLL_CLOEXEC)`: an empty interest list (and ready list) in the
    /// kernel, reached through one new fd.
    pub fn create(trigger: Trigger) -> Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| Error::os("epoll_create1", e))?;
        Ok(Interest { epoll, trigger, registered: HashMap::new(), own: Vec::new() })
    }

    /// The epoll instance's own fd.
    pub fn epfd(&self) -> RawFd {
        self.epoll.0.as_raw_fd()
    }

    /// Level- or edge-triggered.
    pub fn trigger(&self) -> Trigger {
        self.trigger
    }

    /// How many fds the kernel's interest list holds.
    pub fn len(&self) -> usize {
        self.registered.len() + self.own.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The epoll instance, for epoll_wait.
    pub fn epoll(&self) -> &Epoll {
        &self.epoll
    }

    /// Registers an fd that is not the room's (the signalfd), for reading, for good.
    pub fn add_own(&mut self, fd: BorrowedFd<'_>) -> Result<Happening> {
        let raw = fd.as_raw_fd();
        self.epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, raw as u64))
            .map_err(|e| Error::os(format!("epoll_ctl(EPOLL_CTL_ADD, fd {raw})"), e))?;
        self.own.push(raw);
        Ok(ctl_happening("EPOLL_CTL_ADD", raw, "signalfd", EpollFlags::EPOLLIN))
    }

    /// What to ask the kernel for `w`. EPOLLRDHUP: tell us when the peer shuts down
    /// its writing half (or closes), as its own flag. EPOLLET in edge mode.
    fn wanted(&self, w: &Watch<'_>, client: bool) -> EpollFlags {
        let mut flags = EpollFlags::empty();
        flags.set(EpollFlags::EPOLLIN, w.read);
        flags.set(EpollFlags::EPOLLOUT, w.write);
        flags.set(EpollFlags::EPOLLRDHUP, client);
        flags.set(EpollFlags::EPOLLET, self.trigger == Trigger::Edge);
        flags
    }

    // ANCHOR: sync
    /// Brings the kernel's interest list in line with the room's wishes: ADD for an fd
    /// not seen before, MOD for one whose wish changed, nothing for the rest (the
    /// common case: one wait after another with no epoll_ctl at all). The room says
    /// which clients this turn touched, so only those are looked at: with 10,000 idle
    /// clients and one talking, a turn looks at one. Returns one happening per
    /// epoll_ctl call, for the narration.
    pub fn sync(&mut self, room: &mut ChatRoom) -> Result<Vec<Happening>> {
        let changes = room.take_changes();
        let watch = match &changes {
            Changes::All => room.watch_list(),
            Changes::Only(fds) => fds.iter().filter_map(|&fd| room.watch_of(fd)).collect(),
        };
        let listeners = room.listeners();
        let mut changed = Vec::new();
        for w in &watch {
            let fd = w.fd.as_raw_fd();
            let client = !listeners.iter().any(|l| l.as_raw_fd() == fd);
            let want = self.wanted(w, client);
            let op = match self.registered.get(&fd) {
                None => "EPOLL_CTL_ADD",
                Some(&had) if had != want => "EPOLL_CTL_MOD",
                Some(_) => continue,
            };
            let mut event = EpollEvent::new(want, fd as u64);
            let done = if op == "EPOLL_CTL_ADD" {
                self.epoll.add(w.fd, event)
            } else {
                self.epoll.modify(w.fd, &mut event)
            };
            done.map_err(|e| Error::os(format!("epoll_ctl({op}, fd {fd})"), e))?;
            self.registered.insert(fd, want);
            changed.push(ctl_happening(op, fd, &room.owner(fd), want));
        }
        if changes == Changes::All {
            // A listener missing from the whole list: accept() failed with EMFILE and
            // the room paused accepting. It is still open and still readable, and a
            // level-triggered epoll would report it on every call (a busy loop): take
            // it out of the interest list until the room watches it again.
            for listener in listeners {
                let fd = listener.as_raw_fd();
                if !watch.iter().any(|w| w.fd.as_raw_fd() == fd) && self.registered.remove(&fd).is_some() {
                    self.epoll
                        .delete(listener)
                        .map_err(|e| Error::os(format!("epoll_ctl(EPOLL_CTL_DEL, fd {fd})"), e))?;
                    changed.push(ctl_happening("EPOLL_CTL_DEL", fd, &room.owner(fd), EpollFlags::empty()));
                }
            }
        }
        Ok(changed)
    }
    // ANCHOR_END: sync

    // ANCHOR: spent
    /// Edge-triggered: `fd`'s queue was written out completely on this EPOLLOUT edge.
    /// The socket stays writable, so no new EPOLLOUT edge will come: if more output is
    /// queued before the next turn (another client spoke), the kernel would never say
    /// so. Forgetting that EPOLLOUT is registered makes the next [`Interest::sync`]
    /// issue an EPOLL_CTL_MOD, which re-arms it: MOD checks readiness and reports a
    /// ready fd at once.
    pub fn spent(&mut self, fd: RawFd) {
        if let Some(flags) = self.registered.get_mut(&fd) {
            flags.remove(EpollFlags::EPOLLOUT);
        }
    }
    // ANCHOR_END: spent

    // ANCHOR: forget
    /// The room is about to close `fd`: take it out of the interest list first.
    ///
    /// The kernel does drop an fd from every interest list when it is closed, but only
    /// when the *last* fd referring to that open socket is closed. A duplicate made by
    /// dup(), fork() or SCM_RIGHTS keeps the registration alive, and epoll_wait goes on
    /// reporting events for an fd number we no longer have (or that now names a new
    /// client). EPOLL_CTL_DEL while the fd is still open is the only sure way.
    pub fn forget(&mut self, fd: BorrowedFd<'_>) -> Option<Happening> {
        let raw = fd.as_fd().as_raw_fd();
        self.registered.remove(&raw)?;
        Some(match self.epoll.delete(fd) {
            Ok(()) => ctl_happening("EPOLL_CTL_DEL", raw, "closing", EpollFlags::empty()),
            Err(e) => Happening::warn(
                "interest_failed",
                raw,
                json!({"op": "EPOLL_CTL_DEL", "errno": common::error::errno_name(e)}),
                format!("epoll_ctl(EPOLL_CTL_DEL, fd {raw}) failed: {}", common::error::errno_name(e)),
            ),
        })
    }
    // ANCHOR_END: forget
}

/// The names of the flags in `flags`, for the narration.
pub fn flag_names(flags: EpollFlags) -> Vec<&'static str> {
    [
        (EpollFlags::EPOLLIN, "EPOLLIN"),
        (EpollFlags::EPOLLPRI, "EPOLLPRI"),
        (EpollFlags::EPOLLOUT, "EPOLLOUT"),
        (EpollFlags::EPOLLRDHUP, "EPOLLRDHUP"),
        (EpollFlags::EPOLLERR, "EPOLLERR"),
        (EpollFlags::EPOLLHUP, "EPOLLHUP"),
        (EpollFlags::EPOLLET, "EPOLLET"),
    ]
    .into_iter()
    .filter(|(flag, _)| flags.contains(*flag))
    .map(|(_, name)| name)
    .collect()
}

/// One `interest` event: an epoll_ctl call and what it set.
fn ctl_happening(op: &'static str, fd: RawFd, owner: &str, flags: EpollFlags) -> Happening {
    let names = flag_names(flags);
    let shown = if names.is_empty() { "-".to_string() } else { names.join("|") };
    let events = if op == "EPOLL_CTL_DEL" { String::new() } else { format!(", {shown}") };
    Happening::new(
        "interest",
        fd,
        json!({"op": op, "owner": owner, "events": names}),
        format!("epoll_ctl({op}, fd {fd}{events})   ({owner})"),
    )
}
