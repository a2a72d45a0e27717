//! What to wait on: which fds, for reading or writing, and whose they are (notes: "3.
//! using select()", building the sets before each call).
//!
//! The room never waits itself. A demo asks for [`ChatRoom::watch_list`], turns it into
//! its wait call's own form (fd_sets, a pollfd array, epoll registrations), waits, and
//! asks [`ChatRoom::kind`] what each ready fd is before acting on it.

use super::ChatRoom;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// One fd the demo should wait on, and for what.
#[derive(Debug, Clone, Copy)]
pub struct Watch<'a> {
    /// The fd, borrowed from the room (so it cannot be closed while waited on).
    pub fd: BorrowedFd<'a>,
    /// Wants to know when reading will not block (new connection, data, EOF).
    pub read: bool,
    /// Wants to know when writing will not block (it has queued output).
    pub write: bool,
}

/// What [`ChatRoom::take_changes`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// Anything may have changed: look at the whole [`ChatRoom::watch_list`].
    All,
    /// Only these clients' watches may have changed.
    Only(Vec<RawFd>),
}

impl super::room::Client {
    /// Read unless leaving or the room holds input; write while output is queued.
    fn watch(&self, holding: bool) -> Watch<'_> {
        Watch { fd: self.stream.as_fd(), read: !self.leaving && !holding, write: !self.output.is_empty() }
    }
}

/// What a ready fd is, which decides what "readable" means for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The chat port's listener: readable means a connection to accept.
    ChatListener,
    /// The stats port's listener: readable means someone wants the counters.
    StatsListener,
    /// A chat client: readable means bytes, or EOF, to read.
    Client,
}

impl ChatRoom {
    // ANCHOR: watch_list
    /// Every fd to wait on and what for, rebuilt on each call from the room's state:
    /// listeners for reading (unless out of fds); clients for reading (unless leaving,
    /// or the room is holding input for a client that is behind) and for writing only
    /// while they have queued output. Asking for writability with nothing to write
    /// would make every wait return at once: an idle socket is always writable.
    pub fn watch_list(&self) -> Vec<Watch<'_>> {
        let mut list = Vec::with_capacity(self.clients.len() + 2);
        if !self.accept_paused {
            list.push(Watch { fd: self.chat.as_fd(), read: true, write: false });
            list.push(Watch { fd: self.stats.as_fd(), read: true, write: false });
        }
        let holding = self.holding_input();
        list.extend(self.clients.values().map(|client| client.watch(holding)));
        list
    }
    // ANCHOR_END: watch_list

    // ANCHOR: take_changes
    /// For a wait call that keeps its own list (epoll's interest list): whose watch may
    /// have changed since the last call. `All` the first time, and after a change that
    /// concerns every fd (accept paused or resumed, input held or released); otherwise
    /// `Only` the clients this turn touched (output queued or written, joined, leaving).
    /// A turn then costs what happened in it, not one look at every client.
    pub fn take_changes(&mut self) -> Changes {
        let now = (self.accept_paused, self.holding_input());
        let touched = std::mem::take(&mut self.touched);
        if self.handed_out.replace(now) == Some(now) {
            Changes::Only(touched.into_iter().collect())
        } else {
            Changes::All
        }
    }

    /// One client's watch, as [`ChatRoom::watch_list`] gives it; None once it is gone.
    pub fn watch_of(&self, fd: RawFd) -> Option<Watch<'_>> {
        Some(self.clients.get(&fd)?.watch(self.holding_input()))
    }
    // ANCHOR_END: take_changes

    /// The chat and stats listeners, watched or not (a wait call that keeps an
    /// interest list must change theirs while accept() is paused).
    pub fn listeners(&self) -> [BorrowedFd<'_>; 2] {
        [self.chat.as_fd(), self.stats.as_fd()]
    }

    /// What `fd` is, or None if it is no longer the room's (closed earlier this turn).
    pub fn kind(&self, fd: RawFd) -> Option<Kind> {
        if fd == self.chat.as_raw_fd() {
            Some(Kind::ChatListener)
        } else if fd == self.stats.as_raw_fd() {
            Some(Kind::StatsListener)
        } else if self.clients.contains_key(&fd) {
            Some(Kind::Client)
        } else {
            None
        }
    }

    /// Who owns `fd`, in words, for narrating a wake-up.
    pub fn owner(&self, fd: RawFd) -> String {
        match self.kind(fd) {
            Some(Kind::ChatListener) => "chat listener".into(),
            Some(Kind::StatsListener) => "stats listener".into(),
            Some(Kind::Client) => match self.clients.get(&fd) {
                Some(c) if c.leaving => format!("{}, leaving", c.nick),
                Some(c) => c.nick.clone(),
                None => "gone".into(),
            },
            None => "gone".into(),
        }
    }
}
