//! The room: accept, read, relay, write, close (notes: "3. using select()", the chat
//! server's loop body).
//!
//! After each wait, a demo calls these for every ready fd, in this order:
//!
//! 1. the chat listener is readable: [`ChatRoom::accept`] takes every pending
//!    connection, names it `guest<N>`, queues its welcome and tells the others;
//! 2. a client is readable: [`ChatRoom::read`] makes one `read()` and returns the
//!    lines it completed (or why the client is gone);
//! 3. each line: [`ChatRoom::relay`] queues `<nick> text` for every other client (or
//!    [`ChatRoom::command`], in `commands.rs`, for `/nick`, `/who`, `/quit`);
//! 4. a client is writable: [`ChatRoom::write`] sends as much of its queue as the socket
//!    takes;
//! 5. [`ChatRoom::close`] takes a client out and closes its socket.
//!
//! Nothing here waits: every socket is non-blocking, so a readiness report that went
//! stale during the turn costs at most an EAGAIN, never a stalled server. Where the
//! notes write a message straight to the other sockets, [`ChatRoom::relay`] queues it
//! instead (`backpressure.rs` says why).

use super::backpressure::{Queued, STALL};
use super::commands::COMMANDS;
use super::happening::{self as event, Happening};
use super::leave::Leave;
use super::line::{clean_line, LineBuffer, MAX_LINE};
use super::setup::StopRule;
use super::stats::Counters;
use super::telnet::Telnet;
use nix::errno::Errno;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Instant;

/// Bytes asked for in one `read()`. One read per wake-up keeps every client's turn short.
pub(super) const READ_CHUNK: usize = 4096;

/// The chat server's state: listeners, clients and counters; no waiting.
pub struct ChatRoom {
    pub(super) chat: TcpListener,
    pub(super) stats: TcpListener,
    /// The clients, by fd: the fd is what the wait call reports.
    pub(super) clients: BTreeMap<RawFd, Client>,
    pub(super) next_guest: u64,
    /// Counters, public so the demos can count their wait calls.
    pub counters: Counters,
    /// Accepted fds at or above this are refused (select's FD_SETSIZE).
    pub(super) fd_ceiling: Option<RawFd>,
    /// Set after accept() failed with EMFILE/ENFILE, cleared when a client leaves:
    /// otherwise the listeners stay readable and the loop would spin. Both listeners
    /// pause: the stats port's accept() needs an fd just the same.
    pub(super) accept_paused: bool,
    pub(super) stop: StopRule,
    pub(super) deadline: Option<Instant>,
    /// No join/leave notices (the `--clients` crowd: thousands of joins would mean
    /// millions of notices, as big chat rooms know).
    pub(super) quiet: bool,
    /// Called with a client's fd just before the room closes it (see
    /// [`ChatRoom::before_close`]).
    pub(super) before_close: Option<BeforeClose>,
    /// Clients whose watch may have changed since [`ChatRoom::take_changes`] last ran:
    /// queued or wrote output, joined, began to leave.
    pub(super) touched: BTreeSet<RawFd>,
    /// Clients more than `BEHIND` bytes behind (`behind_since` set): the only ones
    /// [`ChatRoom::holding_input`] and [`ChatRoom::wait_timeout`] need to look at.
    pub(super) behind: BTreeSet<RawFd>,
    /// (accept paused, input held) when [`ChatRoom::take_changes`] last ran; None before
    /// its first call.
    pub(super) handed_out: Option<(bool, bool)>,
}

/// What [`ChatRoom::before_close`] takes: a hook that may report what it did.
pub type BeforeClose = Box<dyn FnMut(BorrowedFd<'_>) -> Option<Happening>>;

/// One connected chat client.
pub(super) struct Client {
    pub(super) stream: TcpStream,
    pub(super) nick: String,
    pub(super) peer: String,
    pub(super) telnet: Telnet,
    pub(super) input: LineBuffer,
    /// Bytes waiting for the socket to become writable, oldest first.
    pub(super) output: Vec<u8>,
    /// Set by `/quit`: read no more, close once `output` is flushed.
    pub(super) leaving: bool,
    /// When `output` last grew past `BEHIND`; None while it is at or below.
    pub(super) behind_since: Option<Instant>,
}

/// What one `read()` from a client gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The lines it completed, cleaned, without empty ones (maybe none yet).
    Lines(Vec<String>),
    /// The client is gone: close it, for this reason.
    Closed(Leave),
}

impl ChatRoom {
    // ANCHOR: accept
    /// The chat listener is readable: accept every pending connection.
    ///
    /// Every one, not just one: under a burst of connections (the `--clients` demo) one
    /// accept per wake-up would cost one wait call each. The listener is non-blocking
    /// because "readable" is only a hint: a client that connected and gave up before
    /// we got here leaves nothing to accept, and a blocking accept() would then hang
    /// the whole server until someone else came.
    pub fn accept(&mut self, happened: &mut Vec<Happening>) {
        loop {
            let (stream, peer) = match self.chat.accept() {
                Ok(pair) => pair,
                Err(e) if would_block_io(&e) => return,
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
                Err(e) => {
                    let errno = errno_of(&e);
                    // Out of fds, the connection stays in the listen queue and the
                    // listener stays readable: watching it now would wake the loop at
                    // once, again and again, at 100% CPU. Pause until a client leaves.
                    self.accept_paused = errno == Errno::EMFILE || errno == Errno::ENFILE;
                    happened.push(event::accept_failed(
                        self.chat.as_raw_fd(),
                        "chat",
                        errno,
                        self.accept_paused,
                    ));
                    return;
                }
            };
            let fd = stream.as_raw_fd();
            if self.fd_ceiling.is_some_and(|ceiling| fd >= ceiling) {
                self.refuse(stream, peer, happened);
                continue;
            }
            if let Err(e) = stream.set_nonblocking(true) {
                happened.push(event::nonblock_failed(fd, errno_of(&e)));
                continue;
            }
            // TCP_NODELAY: a client often gets lines in several small writes, a turn
            // apart; with Nagle's algorithm each waits for the ACK of the one before,
            // which the peer may delay by up to 40 ms. (Failing only costs latency.)
            let _ = stream.set_nodelay(true);
            let nick = format!("guest{}", self.next_guest);
            self.next_guest += 1;
            self.counters.accepted += 1;
            self.counters.highest_fd = self.counters.highest_fd.max(fd);
            self.clients.insert(fd, Client::new(stream, &nick, peer));
            self.touched.insert(fd);
            self.queue(fd, &format!("* you are {nick}; {COMMANDS}"));
            let told =
                if self.quiet { 0 } else { self.broadcast(Some(fd), &format!("* {nick} joined"), happened) };
            happened.push(event::accepted(fd, &nick, &peer, told));
        }
    }
    // ANCHOR_END: accept

    /// An fd the wait call cannot watch: say so to the client and close it.
    fn refuse(&mut self, mut stream: TcpStream, peer: SocketAddr, happened: &mut Vec<Happening>) {
        let fd = stream.as_raw_fd();
        let ceiling = self.fd_ceiling.unwrap_or(fd);
        // Best effort, straight away: a fresh socket's send buffer is empty, and this fd
        // can never be waited on for writability.
        let _ = stream.write(
            format!("* sorry, server full: fd {fd} is past select()'s limit of {ceiling}\n").as_bytes(),
        );
        drop(stream);
        self.counters.refused += 1;
        happened.push(event::refused(fd, &peer, ceiling));
    }

    // ANCHOR: read
    /// A client is readable: one `read()`, and the lines it completed.
    ///
    /// One read per wake-up. The wait calls are level-triggered: if more bytes are
    /// waiting, the next wait reports this fd again at once. Reading until EAGAIN
    /// instead would let one client that floods us keep everyone else waiting. The
    /// bytes go through telnet's filter, then framing (a line may arrive in pieces),
    /// then cleaning (no terminal escapes reach anyone's screen).
    pub fn read(&mut self, fd: RawFd, happened: &mut Vec<Happening>) -> Input {
        let Some(client) = self.clients.get_mut(&fd) else { return Input::Lines(Vec::new()) };
        let mut buf = [0u8; READ_CHUNK];
        let n = match client.stream.read(&mut buf) {
            Ok(0) => {
                if client.input.unfinished() > 0 {
                    happened.push(event::partial_dropped(fd, &client.nick, client.input.unfinished()));
                }
                return Input::Closed(Leave::Closed);
            }
            Ok(n) => n,
            Err(e) if would_block_io(&e) || e.kind() == std::io::ErrorKind::Interrupted => {
                return Input::Lines(Vec::new())
            }
            Err(e) => return Input::Closed(Leave::Failed(errno_of(&e))),
        };
        self.counters.bytes_in += n as u64;
        happened.push(event::read(fd, &client.nick, &buf[..n]));
        let (data, negotiation) = client.telnet.filter(&buf[..n]);
        if negotiation > 0 {
            happened.push(event::telnet(fd, &client.nick, negotiation));
        }
        let nick = client.nick.clone();
        let mut lines = Vec::new();
        for raw in client.input.push(&data) {
            if raw.cut > 0 {
                happened.push(event::line_cut(fd, &nick, raw.bytes.len(), raw.cut));
                let notice = format!(
                    "* your line was too long and was cut at {MAX_LINE} bytes: the others got its first {}",
                    raw.bytes.len()
                );
                self.queue(fd, &notice);
            }
            let clean = clean_line(&raw.bytes);
            if clean.stripped > 0 || clean.lossy {
                happened.push(event::sanitized(fd, &nick, clean.stripped, clean.lossy));
            }
            let text = clean.text.trim();
            if !text.is_empty() {
                lines.push(text.to_string());
            }
        }
        Input::Lines(lines)
    }
    // ANCHOR_END: read

    // ANCHOR: relay
    /// Relays one line from `fd` to the room: `<nick> text`, queued for every other
    /// client. Nothing is written here; [`ChatRoom::write`] does that when the wait
    /// call says a client's socket can take it.
    pub fn relay(&mut self, fd: RawFd, text: &str, happened: &mut Vec<Happening>) {
        let Some(nick) = self.clients.get(&fd).filter(|c| !c.leaving).map(|c| c.nick.clone()) else {
            return; // it quit (or was dropped) earlier in this read: the rest is moot
        };
        let to = self.broadcast(Some(fd), &format!("<{nick}> {text}"), happened);
        self.counters.lines += 1;
        happened.push(event::relayed(fd, &nick, text, to));
    }
    // ANCHOR_END: relay

    // ANCHOR: broadcast
    /// Queues `text` for every client in the room except `from`; returns how many got
    /// it. A client whose queue overflows is closed, which is itself a notice to the
    /// rest; one that just fell behind holds the room's input until it catches up.
    pub(super) fn broadcast(
        &mut self,
        from: Option<RawFd>,
        text: &str,
        happened: &mut Vec<Happening>,
    ) -> usize {
        let targets: Vec<RawFd> = self
            .clients
            .iter()
            .filter(|(&fd, c)| Some(fd) != from && !c.leaving)
            .map(|(&fd, _)| fd)
            .collect();
        let mut too_slow = Vec::new();
        for &fd in &targets {
            match self.queue(fd, text) {
                Queued::Ok => {}
                Queued::NowBehind => happened.push(self.held(fd)),
                Queued::TooSlow => too_slow.push(fd),
            }
        }
        for fd in too_slow {
            self.close(fd, Leave::TooSlow, happened);
        }
        targets.len()
    }
    // ANCHOR_END: broadcast

    fn held(&self, fd: RawFd) -> Happening {
        let (nick, queued) = self.clients.get(&fd).map_or(("?", 0), |c| (c.nick.as_str(), c.output.len()));
        event::held(fd, nick, queued, STALL.as_millis() as u64)
    }

    // ANCHOR: write
    /// A client is writable: one `write()` of as much of its queue as the socket
    /// takes. Returns why to close it, if it must go: its write failed, or it sent
    /// `/quit` and its goodbye is now written.
    ///
    /// A non-blocking write() takes what fits in the socket's send buffer and says how
    /// much that was; a short count is normal, not an error. The rest stays queued, and
    /// the room keeps asking for writability until the queue is empty.
    pub fn write(&mut self, fd: RawFd, happened: &mut Vec<Happening>) -> Option<Leave> {
        let client = self.clients.get_mut(&fd).filter(|c| !c.output.is_empty())?;
        let n = match client.stream.write(&client.output) {
            Ok(n) => n,
            Err(e) if would_block_io(&e) || e.kind() == std::io::ErrorKind::Interrupted => return None,
            Err(e) => return Some(Leave::Failed(errno_of(&e))),
        };
        client.output.drain(..n);
        self.counters.bytes_out += n as u64;
        self.touched.insert(fd);
        if client.caught_up() {
            self.behind.remove(&fd);
            happened.push(event::caught_up(fd, &client.nick, client.output.len()));
        }
        happened.push(event::flushed(fd, &client.nick, n, client.output.len()));
        (client.leaving && client.output.is_empty()).then_some(Leave::Quit)
    }
    // ANCHOR_END: write

    // ANCHOR: close
    /// Takes a client out of the room and closes its socket (by dropping it), then
    /// tells the others. Clients that sent /quit told the others already.
    pub fn close(&mut self, fd: RawFd, why: Leave, happened: &mut Vec<Happening>) {
        let Some(mut client) = self.clients.remove(&fd) else { return };
        self.touched.remove(&fd);
        self.behind.remove(&fd);
        self.counters.left += 1;
        self.accept_paused = false; // an fd is free again
        if why == Leave::TooSlow {
            self.counters.slow_dropped += 1;
            // Best effort: its socket buffer is probably full, so this may well fail.
            let _ = client.stream.write(b"\n* disconnected: you stopped reading\n");
        }
        let unsent = client.output.len();
        if let Some(told) = self.before_close.as_mut().and_then(|hook| hook(client.stream.as_fd())) {
            happened.push(told);
        }
        // close(fd). The kernel still sends what is in the socket's send buffer, then a
        // FIN; what is in our queue (`unsent`) is lost, which is the point for a client
        // that stopped reading.
        drop(client.stream);
        let told = match why {
            _ if client.leaving || self.quiet => 0,
            Leave::TooSlow => {
                self.broadcast(None, &format!("* {} was disconnected (not reading)", client.nick), happened)
            }
            _ => self.broadcast(None, &format!("* {} left", client.nick), happened),
        };
        happened.push(event::left(fd, &client.nick, &client.peer, why, unsent, told));
    }
    // ANCHOR_END: close
}

impl Client {
    fn new(stream: TcpStream, nick: &str, peer: SocketAddr) -> Self {
        Client {
            stream,
            nick: nick.to_string(),
            peer: peer.to_string(),
            telnet: Telnet::default(),
            input: LineBuffer::default(),
            output: Vec::new(),
            leaving: false,
            behind_since: None,
        }
    }
}

pub(super) fn would_block_io(e: &std::io::Error) -> bool {
    e.raw_os_error().map(Errno::from_raw).is_some_and(crate::fd::would_block)
}

pub(super) fn errno_of(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}
