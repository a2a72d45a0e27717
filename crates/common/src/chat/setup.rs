//! Setting the room up: the two listening sockets, the options a demo sets, and when a
//! run ends (notes: "3. using select()", socket, bind, listen before the loop).

use super::happening::{self as event, Happening};
use super::room::BeforeClose;
use super::stats::Counters;
use super::ChatRoom;
use crate::error::{Context, Result};
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

/// When the serving loop should end (besides a signal, which the pselect demo adds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRule {
    /// `--listen`: until the process is stopped.
    Never,
    /// The scripted scenario: once the stats port has been asked and the room is empty.
    WhenEmptyAfterStats,
}

// ANCHOR: setup
impl ChatRoom {
    /// Binds the chat port at `chat_addr` and the stats port at `stats_addr` (port 0:
    /// any free port), both non-blocking, so accept() can never stall the loop.
    pub fn bind(chat_addr: SocketAddr, stats_addr: SocketAddr) -> Result<Self> {
        let chat = TcpListener::bind(chat_addr).with_context(|| format!("bind {chat_addr}"))?;
        let stats =
            TcpListener::bind(stats_addr).with_context(|| format!("bind {stats_addr} (stats port)"))?;
        chat.set_nonblocking(true).context("set O_NONBLOCK on the chat listener")?;
        stats.set_nonblocking(true).context("set O_NONBLOCK on the stats listener")?;
        Ok(ChatRoom {
            chat,
            stats,
            clients: BTreeMap::new(),
            next_guest: 1,
            counters: Counters::default(),
            fd_ceiling: None,
            accept_paused: false,
            stop: StopRule::Never,
            deadline: None,
            quiet: false,
            before_close: None,
            touched: Default::default(),
            behind: Default::default(),
            handed_out: None,
        })
    }

    /// Refuses every accepted fd >= `ceiling`: select() cannot watch it (FD_SETSIZE).
    pub fn refuse_fds_from(&mut self, ceiling: RawFd) {
        self.fd_ceiling = Some(ceiling);
    }

    /// Runs `hook` with each client's fd just before the room closes it. A wait call
    /// that keeps state in the kernel (epoll's interest list) must forget the fd while
    /// it is still open: afterwards the number may already belong to someone else.
    pub fn before_close(&mut self, hook: BeforeClose) {
        self.before_close = Some(hook);
    }

    /// Stops announcing joins and departures (for a crowd of thousands).
    pub fn set_quiet(&mut self, quiet: bool) {
        self.quiet = quiet;
    }

    /// Sets when [`ChatRoom::keep_going`] says stop, and a deadline after which it
    /// fails instead (no loop may wait forever in a scripted run).
    pub fn stop_when(&mut self, rule: StopRule, deadline: Option<Instant>) {
        self.stop = rule;
        self.deadline = deadline;
    }
}
// ANCHOR_END: setup

impl ChatRoom {
    /// The chat port's address (the real port when bound to port 0).
    pub fn chat_addr(&self) -> Result<SocketAddr> {
        self.chat.local_addr().context("getsockname (chat listener)")
    }

    /// The stats port's address.
    pub fn stats_addr(&self) -> Result<SocketAddr> {
        self.stats.local_addr().context("getsockname (stats listener)")
    }

    /// How many clients are connected (including ones still flushing a goodbye).
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// The `listening` event every demo prints first.
    pub fn listening(&self) -> Result<Happening> {
        let (chat, stats) = (self.chat_addr()?, self.stats_addr()?);
        Ok(event::listening(chat, self.chat.as_raw_fd(), stats, self.stats.as_raw_fd()))
    }

    /// False once the stop rule is met; an error once the deadline has passed.
    pub fn keep_going(&self) -> Result<bool> {
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(crate::Error::msg("chat scenario", "deadline passed before everyone left"));
        }
        Ok(match self.stop {
            StopRule::Never => true,
            StopRule::WhenEmptyAfterStats => !(self.counters.stats_served > 0 && self.clients.is_empty()),
        })
    }
}

impl std::fmt::Debug for ChatRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatRoom")
            .field("clients", &self.clients.len())
            .field("counters", &self.counters)
            .finish()
    }
}
