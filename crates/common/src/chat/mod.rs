//! The chat room shared by the select, pselect and poll demos.
//!
//! Everything a chat server does *except waiting* lives here, so that the three demos
//! differ only in how they wait (notes: "using select()", "pselect()", "poll()"). The
//! shape follows the notes' chat-server walkthrough and their several-services example:
//!
//! * two listening sockets: the chat port, and a stats port that answers every
//!   connection with one line of counters and closes it;
//! * clients keyed by their fd, named `guest<N>` until `/nick NAME`; `/who`, `/quit`;
//!   `* nick joined` / `* nick left` notices and `<nick> text` relays;
//! * every socket non-blocking. Nothing here ever waits: a demo asks [`ChatRoom::watch_list`]
//!   which fds want reading or writing, waits on them its own way, then calls
//!   [`ChatRoom::on_readable`], [`ChatRoom::on_writable`], [`ChatRoom::on_hangup`] or
//!   [`ChatRoom::on_error`] for each ready fd. Each returns [`Happening`]s that the demo
//!   narrates with [`tell::happenings`].
//!
//! Where the notes stop short: a relayed message is not written straight to the other
//! sockets. A blocking `write()` to a client that stopped reading would stall the whole
//! server (and every other client) once that client's socket buffer fills. So each
//! client has an output queue, flushed only when the wait call says its socket is
//! writable, and bounded: a client more than [`OUTPUT_LIMIT`] bytes behind is
//! disconnected, with a notice, and nobody else notices a thing.
//!
//! A queue can also grow because of a burst, not a dead reader: one wake-up may read
//! 4 KiB from each of ten talkers and queue all of it for every listener at once,
//! before any listener has had a turn to drain. Dropping a listener for that would be
//! wrong, so the room pushes back instead: while a client is more than [`BEHIND`]
//! bytes behind, nobody's input is read (the kernel holds it, and TCP slows the
//! talkers down), and the wait is cut short so the room looks again soon. A client
//! still that far behind after [`STALL`] has stopped reading: it no longer holds the
//! room up, and is dropped once its queue passes [`OUTPUT_LIMIT`].

pub mod line;
pub mod tell;

/// Re-exported for the scripted clients in `fixtures`, which narrate events too.
pub use serde_json::json;
pub use tell::Happening;

use crate::error::{Context, Result};
use crate::fd::would_block;
use line::{clean_line, LineBuffer};
use nix::errno::Errno;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

/// Most bytes queued for a client that has stopped reading (see [`STALL`]) before it
/// is dropped.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// A client with more than this queued holds up everyone's input until it catches up
/// (for at most [`STALL`]).
pub const BEHIND: usize = 16 * 1024;

/// How long a client may stay more than [`BEHIND`] bytes behind before it counts as
/// having stopped reading.
pub const STALL: Duration = Duration::from_secs(1);

/// Most bytes queued for any client, stalled or not: memory stays bounded whatever
/// the clients do.
pub const HARD_LIMIT: usize = 16 * OUTPUT_LIMIT;

/// Bytes asked for in one `read()`. One read per wake-up keeps every client's turn short.
const READ_CHUNK: usize = 4096;

/// What a new client is told, after its name.
pub const COMMANDS: &str = "commands: /nick NAME, /who, /quit";

/// Running totals, printed on the stats port, by SIGUSR1 (pselect) and at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Chat connections accepted into the room.
    pub accepted: u64,
    /// Chat connections refused (an fd the wait call cannot watch).
    pub refused: u64,
    /// Clients that left, for any reason.
    pub left: u64,
    /// Lines relayed to the room (`<nick> text`).
    pub lines: u64,
    /// Commands handled (`/nick`, `/who`, `/quit`, unknown ones).
    pub commands: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// Clients dropped because they stopped reading.
    pub slow_dropped: u64,
    /// Connections answered on the stats port.
    pub stats_served: u64,
    /// Wait calls made (select, pselect or poll).
    pub wait_calls: u64,
    /// Wait calls that returned 0: the timeout passed with nothing ready.
    pub timeouts: u64,
    /// The highest fd a client has had (select cannot go past FD_SETSIZE - 1).
    pub highest_fd: RawFd,
}

/// Why a client is no longer in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// It sent `/quit`.
    Quit,
    /// `read()` returned 0: the peer closed its end.
    Closed,
    /// A read or write failed (ECONNRESET after a peer's SO_LINGER 0 close, EPIPE...).
    Failed(Errno),
    /// The wait call reported a hang-up (POLLHUP) with nothing left to read.
    HungUp,
    /// Its output queue passed [`OUTPUT_LIMIT`]: it stopped reading.
    TooSlow,
    /// The server is shutting down.
    Shutdown,
}

impl Leave {
    fn words(self) -> String {
        match self {
            Leave::Quit => "sent /quit".into(),
            Leave::Closed => "read() = 0: the peer closed its end".into(),
            Leave::Failed(e) => format!("{} ({})", crate::error::errno_name(e), e.desc()),
            Leave::HungUp => "hang-up reported by the wait call".into(),
            Leave::TooSlow => format!(
                "stopped reading: over {} KiB queued, behind for {} s or more",
                OUTPUT_LIMIT / 1024,
                STALL.as_secs()
            ),
            Leave::Shutdown => "server shutting down".into(),
        }
    }
}

/// One connected chat client.
struct Client {
    stream: TcpStream,
    nick: String,
    peer: String,
    input: LineBuffer,
    /// Bytes waiting for the socket to become writable, oldest first.
    output: Vec<u8>,
    /// Set by `/quit`: read no more, close once `output` is flushed.
    leaving: bool,
    /// When `output` last grew past [`BEHIND`]; None while it is at or below.
    behind_since: Option<Instant>,
}

impl Client {
    /// More than [`BEHIND`] bytes behind for [`STALL`] or longer: it stopped reading.
    fn stalled(&self, now: Instant) -> bool {
        self.behind_since.is_some_and(|since| now.duration_since(since) >= STALL)
    }

    /// Behind, but not for long enough to count as stalled: the room waits for it.
    fn holding_up(&self, now: Instant) -> bool {
        self.behind_since.is_some() && !self.stalled(now)
    }
}

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

/// When the serving loop should end (besides a signal, which the pselect demo adds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRule {
    /// `--listen`: until the process is stopped.
    Never,
    /// The scripted scenario: once the stats port has been asked and the room is empty.
    WhenEmptyAfterStats,
}

/// The chat server's state: listeners, clients and counters; no waiting.
pub struct ChatRoom {
    chat: TcpListener,
    stats: TcpListener,
    clients: BTreeMap<RawFd, Client>,
    next_guest: u64,
    /// Counters, public so the demos can count their wait calls.
    pub counters: Counters,
    /// Accepted fds at or above this are refused (select's FD_SETSIZE).
    fd_ceiling: Option<RawFd>,
    /// Set after accept() failed with EMFILE/ENFILE, cleared when a client leaves:
    /// otherwise the listeners stay readable and the loop would spin. Both listeners
    /// pause: the stats port's accept() needs an fd just the same.
    accept_paused: bool,
    stop: StopRule,
    deadline: Option<Instant>,
    /// No join/leave notices (the `--clients` crowd: thousands of joins would mean
    /// millions of notices, as big chat rooms know).
    quiet: bool,
    /// Called with a client's fd just before the room closes it (see
    /// [`ChatRoom::before_close`]).
    before_close: Option<BeforeClose>,
}

/// What [`ChatRoom::before_close`] takes: a hook that may report what it did.
pub type BeforeClose = Box<dyn FnMut(BorrowedFd<'_>) -> Option<Happening>>;

impl std::fmt::Debug for ChatRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatRoom")
            .field("clients", &self.clients.len())
            .field("counters", &self.counters)
            .finish()
    }
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

    /// The chat and stats listeners, watched or not (a wait call that keeps an
    /// interest list must change theirs while accept() is paused).
    pub fn listeners(&self) -> [BorrowedFd<'_>; 2] {
        [self.chat.as_fd(), self.stats.as_fd()]
    }

    /// How many clients are connected (including ones still flushing a goodbye).
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// The `listening` event every demo prints first.
    pub fn listening(&self) -> Result<Happening> {
        let (chat, stats) = (self.chat_addr()?, self.stats_addr()?);
        Ok(Happening::new(
            "listening",
            self.chat.as_raw_fd(),
            json!({"chat": chat.to_string(), "chat_fd": self.chat.as_raw_fd(),
                   "stats": stats.to_string(), "stats_fd": self.stats.as_raw_fd()}),
            format!(
                "listening: chat on {chat} (fd {}), stats on {stats} (fd {})",
                self.chat.as_raw_fd(),
                self.stats.as_raw_fd()
            ),
        ))
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
        for client in self.clients.values() {
            list.push(Watch {
                fd: client.stream.as_fd(),
                read: !client.leaving && !holding,
                write: !client.output.is_empty(),
            });
        }
        list
    }
    // ANCHOR_END: watch_list

    // ANCHOR: hold
    /// True while some client is more than [`BEHIND`] bytes behind but has not yet
    /// stalled: new input waits in the kernel until it catches up.
    pub fn holding_input(&self) -> bool {
        let now = Instant::now();
        self.clients.values().any(|c| c.holding_up(now))
    }

    /// The wait call's timeout: `timeout`, cut short while the room holds input, so
    /// that a client that is behind is looked at again when it would count as
    /// stalled (its socket may never become writable to wake the wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Duration {
        let now = Instant::now();
        self.clients
            .values()
            .filter(|c| c.holding_up(now))
            .filter_map(|c| c.behind_since.map(|since| (since + STALL).saturating_duration_since(now)))
            .map(|left| left + Duration::from_millis(1))
            .fold(timeout, Duration::min)
    }
    // ANCHOR_END: hold

    /// Who owns `fd`, in words, for narrating a wake-up.
    pub fn owner(&self, fd: RawFd) -> String {
        if fd == self.chat.as_raw_fd() {
            "chat listener".into()
        } else if fd == self.stats.as_raw_fd() {
            "stats listener".into()
        } else {
            match self.clients.get(&fd) {
                Some(c) if c.leaving => format!("{}, leaving", c.nick),
                Some(c) => c.nick.clone(),
                None => "gone".into(),
            }
        }
    }

    /// The counters as one line (the stats port's answer). `open_fds` comes from
    /// /proc/self/fd, so a leak shows up as a number that only grows.
    pub fn stats_line(&self) -> String {
        let c = &self.counters;
        let fds = crate::fd::count_open_fds().map_or_else(|_| "?".to_string(), |n| n.to_string());
        format!(
            "clients={} accepted={} refused={} left={} lines={} commands={} bytes_in={} bytes_out={} \
             slow_dropped={} stats_served={} wait_calls={} timeouts={} open_fds={fds}",
            self.clients.len(),
            c.accepted,
            c.refused,
            c.left,
            c.lines,
            c.commands,
            c.bytes_in,
            c.bytes_out,
            c.slow_dropped,
            c.stats_served,
            c.wait_calls,
            c.timeouts
        )
    }

    // ANCHOR: on_readable
    /// `fd` is readable: a new connection on a listener, or data (or EOF) from a client.
    pub fn on_readable(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        if fd == self.chat.as_raw_fd() {
            self.accept_clients(&mut happened);
        } else if fd == self.stats.as_raw_fd() {
            self.serve_stats(&mut happened);
        } else if self.clients.contains_key(&fd) {
            self.read_client(fd, &mut happened);
        }
        happened
    }
    // ANCHOR_END: on_readable

    // ANCHOR: on_writable
    /// `fd` is writable: write as much of its queue as the socket takes, once.
    pub fn on_writable(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        let Some(client) = self.clients.get_mut(&fd) else { return happened };
        if client.output.is_empty() {
            return happened;
        }
        // A non-blocking write() takes what fits in the socket's send buffer and says
        // how much that was; a short count is normal, not an error. The rest stays
        // queued, and the demo keeps asking for writability until the queue is empty.
        match client.stream.write(&client.output) {
            Ok(n) => {
                client.output.drain(..n);
                let caught_up = client.output.len() <= BEHIND && client.behind_since.is_some();
                if caught_up {
                    client.behind_since = None; // no longer holding anyone up
                }
                self.counters.bytes_out += n as u64;
                let (nick, left) = (client.nick.clone(), client.output.len());
                if caught_up {
                    happened.push(Happening::new(
                        "caught_up",
                        fd,
                        json!({"nick": nick, "queued": left}),
                        format!("{nick} caught up ({left} bytes queued): reading everyone's input again"),
                    ));
                }
                happened.push(Happening::new(
                    "flushed",
                    fd,
                    json!({"nick": nick, "bytes": n, "queued": left}),
                    format!("write(fd {fd}, {nick}) = {n} bytes, {left} still queued"),
                ));
                if left == 0 && client.leaving {
                    self.remove(fd, Leave::Quit, &mut happened);
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => self.remove(fd, Leave::Failed(errno_of(&e)), &mut happened),
        }
        happened
    }
    // ANCHOR_END: on_writable

    /// The wait call reported a hang-up (poll's POLLHUP) for `fd`.
    ///
    /// Data may still be waiting behind the hang-up, so a caller that also saw
    /// "readable" should call [`ChatRoom::on_readable`] first; by the time a hang-up is
    /// handled here, there is nobody left to talk to.
    pub fn on_hangup(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        if self.clients.contains_key(&fd) {
            self.remove(fd, Leave::HungUp, &mut happened);
        }
        happened
    }

    /// The wait call reported an error condition (poll's POLLERR) for `fd`: fetch the
    /// socket's pending error (getsockopt SO_ERROR) and drop the client.
    pub fn on_error(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        if let Some(client) = self.clients.get(&fd) {
            let errno =
                match nix::sys::socket::getsockopt(&client.stream, nix::sys::socket::sockopt::SocketError) {
                    Ok(0) => Errno::EIO, // the condition was already cleared; say something
                    Ok(code) => Errno::from_raw(code),
                    Err(e) => e,
                };
            self.remove(fd, Leave::Failed(errno), &mut happened);
        }
        happened
    }

    /// The wait call says `fd` is not an open file (poll's POLLNVAL). That can only be
    /// our own bookkeeping bug: forget the entry without closing anything (closing an
    /// fd number that is not ours could close someone else's file).
    pub fn forget(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        if let Some(client) = self.clients.remove(&fd) {
            std::mem::forget(client.stream);
            happened.push(Happening::warn(
                "forgotten",
                fd,
                json!({"nick": client.nick}),
                format!("fd {fd} ({}) is not open: dropped from the room without close()", client.nick),
            ));
        }
        happened
    }

    // ANCHOR: shutdown
    /// Tells every client the server is going away, flushes what it can within a
    /// second, closes every connection politely, and returns what happened.
    ///
    /// Closing a socket whose receive queue still holds unread bytes makes the kernel
    /// send a reset instead of a FIN, and a reset can destroy data the client has not
    /// read yet (our goodbye). So: queue the goodbye, flush, `shutdown(SHUT_WR)` (FIN
    /// after the data), then read and discard until each client closes too, within the
    /// deadline. This runs after the loop has stopped waiting, so it polls on a clock.
    pub fn shutdown(&mut self, why: &str) -> Vec<Happening> {
        let mut happened = Vec::new();
        let goodbye = format!("* server shutting down ({why}); bye\n");
        for client in self.clients.values_mut() {
            client.output.extend_from_slice(goodbye.as_bytes());
        }
        let told = self.clients.len();
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut flushed = 0u64;
        let mut finished: Vec<RawFd> = Vec::new();
        while finished.len() < self.clients.len() && Instant::now() < deadline {
            let mut progress = false;
            for (&fd, client) in self.clients.iter_mut() {
                if finished.contains(&fd) {
                    continue;
                }
                if !client.output.is_empty() {
                    match client.stream.write(&client.output) {
                        Ok(n) => {
                            client.output.drain(..n);
                            flushed += n as u64;
                            progress = true;
                            if client.output.is_empty() {
                                let _ = client.stream.shutdown(Shutdown::Write);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => finished.push(fd),
                    }
                    continue;
                }
                let mut sink = [0u8; READ_CHUNK];
                match client.stream.read(&mut sink) {
                    Ok(0) => finished.push(fd),
                    Ok(_) => progress = true,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => finished.push(fd),
                }
            }
            if !progress {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.counters.bytes_out += flushed;
        let closed = self.clients.len();
        self.counters.left += closed as u64;
        self.clients.clear(); // dropping each TcpStream closes its fd
        happened.push(Happening::new(
            "shutdown",
            -1,
            json!({"why": why, "told": told, "flushed_bytes": flushed, "closed": closed, "closed_by_peer": finished.len()}),
            format!(
                "told {told} clients \"{}\", flushed {flushed} bytes, closed {closed} connections ({} had closed their end)",
                goodbye.trim_end(),
                finished.len()
            ),
        ));
        happened
    }
    // ANCHOR_END: shutdown
}

// The room's own work: accepting, reading, commands, relaying, leaving.
impl ChatRoom {
    fn accept_clients(&mut self, happened: &mut Vec<Happening>) {
        // Accept everything pending, not just one: under a burst of connections (the
        // --clients demo) one accept per wake-up would cost one wait call each. The
        // listener is non-blocking because "readable" is only a hint: a client that
        // connected and gave up before we got here leaves nothing to accept, and a
        // blocking accept() would then hang the whole server until someone else came.
        loop {
            let (stream, peer) = match self.chat.accept() {
                Ok(pair) => pair,
                Err(e) if would_block_io(&e) => return,
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
                Err(e) => {
                    let errno = errno_of(&e);
                    if errno == Errno::EMFILE || errno == Errno::ENFILE {
                        // The connection stays in the listen queue, so the listener
                        // stays readable: watching it now would wake the loop at once,
                        // again and again, at 100% CPU.
                        self.accept_paused = true;
                    }
                    happened.push(Happening::warn(
                        "accept_failed",
                        self.chat.as_raw_fd(),
                        json!({"errno": crate::error::errno_name(errno), "paused": self.accept_paused}),
                        format!(
                            "accept() failed: {} ({}); not accepting until a client leaves",
                            crate::error::errno_name(errno),
                            errno.desc()
                        ),
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
                happened.push(Happening::warn(
                    "accept_failed",
                    fd,
                    json!({"errno": crate::error::errno_name(errno_of(&e))}),
                    format!("fcntl(fd {fd}, O_NONBLOCK) failed: {e}; closed"),
                ));
                continue;
            }
            let nick = format!("guest{}", self.next_guest);
            self.next_guest += 1;
            self.counters.accepted += 1;
            self.counters.highest_fd = self.counters.highest_fd.max(fd);
            let client = Client {
                stream,
                nick: nick.clone(),
                peer: peer.to_string(),
                input: LineBuffer::default(),
                output: Vec::new(),
                leaving: false,
                behind_since: None,
            };
            self.clients.insert(fd, client);
            self.queue(fd, &format!("* you are {nick}; {COMMANDS}"));
            let to =
                if self.quiet { 0 } else { self.broadcast(Some(fd), &format!("* {nick} joined"), happened) };
            happened.push(Happening::new(
                "accepted",
                fd,
                json!({"nick": nick, "peer": peer.to_string(), "told": to}),
                format!(
                    "accept() = fd {fd} from {peer}: \"{nick}\" joined (welcome queued; {to} {} told)",
                    plural(to, "other")
                ),
            ));
        }
    }

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
        happened.push(Happening::warn(
            "refused",
            fd,
            json!({"peer": peer.to_string(), "fd_setsize": ceiling}),
            format!(
                "accept() = fd {fd} from {peer}: REFUSED, told and closed: an fd_set holds fds 0..{} only \
                 (FD_SETSIZE = {ceiling}); poll() has no such limit",
                ceiling - 1
            ),
        ));
    }

    fn serve_stats(&mut self, happened: &mut Vec<Happening>) {
        loop {
            let mut stream = match self.stats.accept() {
                Ok((stream, _)) => stream,
                Err(e) if would_block_io(&e) => return,
                Err(e) => {
                    let errno = errno_of(&e);
                    if errno == Errno::EMFILE || errno == Errno::ENFILE {
                        self.accept_paused = true; // as for the chat port: do not spin
                    }
                    happened.push(Happening::warn(
                        "accept_failed",
                        self.stats.as_raw_fd(),
                        json!({"errno": crate::error::errno_name(errno), "paused": self.accept_paused}),
                        format!("accept() on the stats port failed: {e}"),
                    ));
                    return;
                }
            };
            self.counters.stats_served += 1;
            let fd = stream.as_raw_fd();
            let line = self.stats_line();
            // One short line into an empty send buffer: this write does not block.
            let wrote = stream.write(format!("{line}\n").as_bytes()).unwrap_or(0);
            drop(stream);
            happened.push(Happening::new(
                "stats_served",
                fd,
                json!({"line": line, "bytes": wrote}),
                format!("stats: accept() = fd {fd}, wrote \"{line}\", closed"),
            ));
        }
    }

    // ANCHOR: read_client
    fn read_client(&mut self, fd: RawFd, happened: &mut Vec<Happening>) {
        let Some(client) = self.clients.get_mut(&fd) else { return };
        // One read() per wake-up. The wait calls are level-triggered: if more bytes are
        // waiting, the next wait reports this fd again at once. Reading until EAGAIN
        // instead would let one client that floods us keep everyone else waiting.
        let mut buf = [0u8; READ_CHUNK];
        let n = match client.stream.read(&mut buf) {
            Ok(0) => {
                let partial = client.input.unfinished();
                return self.remove_after_eof(fd, partial, happened);
            }
            Ok(n) => n,
            Err(e) if would_block_io(&e) || e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(e) => return self.remove(fd, Leave::Failed(errno_of(&e)), happened),
        };
        self.counters.bytes_in += n as u64;
        let lines = client.input.push(&buf[..n]);
        let nick = client.nick.clone();
        happened.push(Happening::new(
            "read",
            fd,
            json!({"nick": nick, "bytes": n, "data": String::from_utf8_lossy(&buf[..n.min(80)])}),
            format!("read(fd {fd}, {nick}) = {n} bytes: {}", crate::narrate::show_bytes(&buf[..n], 60)),
        ));
        for raw in lines {
            if raw.cut > 0 {
                happened.push(Happening::warn(
                    "line_cut",
                    fd,
                    json!({"nick": nick, "kept": raw.bytes.len(), "dropped": raw.cut}),
                    format!("line from {nick} over {} bytes: cut, {} bytes dropped", line::MAX_LINE, raw.cut),
                ));
            }
            let clean = clean_line(&raw.bytes);
            if clean.stripped > 0 || clean.lossy {
                happened.push(Happening::warn(
                    "sanitized",
                    fd,
                    json!({"nick": nick, "stripped": clean.stripped, "lossy": clean.lossy}),
                    format!(
                        "line from {nick}: {} control/escape characters stripped{}",
                        clean.stripped,
                        if clean.lossy { "; bytes that are not UTF-8 became U+FFFD" } else { "" }
                    ),
                ));
            }
            self.handle_line(fd, clean.text.trim(), happened);
            if self.clients.get(&fd).is_none_or(|c| c.leaving) {
                break; // it quit (or was dropped): the rest of its input is moot
            }
        }
    }
    // ANCHOR_END: read_client

    // ANCHOR: handle_line
    fn handle_line(&mut self, fd: RawFd, text: &str, happened: &mut Vec<Happening>) {
        let nick = self.owner(fd);
        if text.is_empty() {
            return;
        }
        if !text.starts_with('/') {
            let to = self.broadcast(Some(fd), &format!("<{nick}> {text}"), happened);
            self.counters.lines += 1;
            happened.push(Happening::new(
                "relayed",
                fd,
                json!({"nick": nick, "text": text, "to": to}),
                format!("<{nick}> {text}   (queued for {to} {})", plural(to, "client")),
            ));
            return;
        }
        self.counters.commands += 1;
        let (command, arg) = text.split_once(' ').map_or((text, ""), |(c, a)| (c, a.trim()));
        let reply = match command {
            "/nick" => match self.rename(fd, arg) {
                Ok(old) => {
                    let to = self.broadcast(None, &format!("* {old} is now {arg}"), happened);
                    happened.push(Happening::new(
                        "renamed",
                        fd,
                        json!({"old": old, "new": arg, "told": to}),
                        format!("{old} is now {arg} ({to} {} told)", plural(to, "client")),
                    ));
                    return;
                }
                Err(why) => format!("* nick {arg:?} refused: {why}"),
            },
            "/who" => {
                let names: Vec<&str> =
                    self.clients.values().filter(|c| !c.leaving).map(|c| c.nick.as_str()).collect();
                format!("* online ({}): {}", names.len(), names.join(", "))
            }
            "/quit" => {
                self.queue(fd, &format!("* bye {nick}"));
                if let Some(client) = self.clients.get_mut(&fd) {
                    client.leaving = true;
                }
                let to = self.broadcast(Some(fd), &format!("* {nick} left"), happened);
                happened.push(Happening::new(
                    "quit",
                    fd,
                    json!({"nick": nick, "told": to}),
                    format!(
                        "{nick} sent /quit: goodbye queued, {to} {} told; fd {fd} closes once flushed",
                        plural(to, "other")
                    ),
                ));
                return;
            }
            _ => format!("* unknown command {command}; {COMMANDS}"),
        };
        self.queue(fd, &reply);
        happened.push(Happening::new(
            "command",
            fd,
            json!({"nick": nick, "command": command, "reply": reply}),
            format!("{nick}: {text} -> {reply}"),
        ));
    }
    // ANCHOR_END: handle_line

    /// Renames `fd`'s client to `new`; returns the old name, or why not.
    fn rename(&mut self, fd: RawFd, new: &str) -> std::result::Result<String, &'static str> {
        let valid = (1..=16).contains(&new.len())
            && new.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err("use 1-16 letters, digits, _ or -");
        }
        if self.clients.iter().any(|(&other, c)| other != fd && c.nick == new) {
            return Err("taken");
        }
        let client = self.clients.get_mut(&fd).ok_or("gone")?;
        Ok(std::mem::replace(&mut client.nick, new.to_string()))
    }

    /// Queues `text` plus newline for one client. Returns false if the client must go:
    /// it has stalled (see [`STALL`]) and its queue passed [`OUTPUT_LIMIT`], or its
    /// queue passed [`HARD_LIMIT`]. The kernel's socket buffers absorb a few hundred
    /// KiB before this queue grows at all, so a stalled client has stopped reading for
    /// a good while, not just blinked.
    fn queue(&mut self, fd: RawFd, text: &str) -> bool {
        let Some(client) = self.clients.get_mut(&fd) else { return true };
        client.output.extend_from_slice(text.as_bytes());
        client.output.push(b'\n');
        let now = Instant::now();
        if client.output.len() > BEHIND && client.behind_since.is_none() {
            client.behind_since = Some(now);
        }
        let len = client.output.len();
        len <= HARD_LIMIT && (len <= OUTPUT_LIMIT || !client.stalled(now))
    }

    // ANCHOR: broadcast
    /// Queues `text` for every client in the room except `from`; returns how many got
    /// it. Nothing is written here: the wait call will report who is writable. A
    /// client whose queue overflows is dropped, which is itself a notice to the rest.
    fn broadcast(&mut self, from: Option<RawFd>, text: &str, happened: &mut Vec<Happening>) -> usize {
        let targets: Vec<RawFd> = self
            .clients
            .iter()
            .filter(|(&fd, c)| Some(fd) != from && !c.leaving)
            .map(|(&fd, _)| fd)
            .collect();
        let mut too_slow = Vec::new();
        for &fd in &targets {
            let was_behind = self.clients.get(&fd).is_some_and(|c| c.behind_since.is_some());
            if !self.queue(fd, text) {
                too_slow.push(fd);
            } else if let Some(client) =
                self.clients.get(&fd).filter(|c| !was_behind && c.behind_since.is_some())
            {
                happened.push(Happening::warn(
                    "held",
                    fd,
                    json!({"nick": client.nick, "queued": client.output.len(), "stall_ms": STALL.as_millis() as u64}),
                    format!(
                        "{} is {} bytes behind: nobody's input is read until it catches up (at most {} s)",
                        client.nick,
                        client.output.len(),
                        STALL.as_secs()
                    ),
                ));
            }
        }
        for fd in too_slow {
            self.remove(fd, Leave::TooSlow, happened);
        }
        targets.len()
    }
    // ANCHOR_END: broadcast

    fn remove_after_eof(&mut self, fd: RawFd, partial: usize, happened: &mut Vec<Happening>) {
        if partial > 0 {
            let nick = self.owner(fd);
            happened.push(Happening::warn(
                "partial_dropped",
                fd,
                json!({"nick": nick, "bytes": partial}),
                format!("{nick} closed mid-line: {partial} bytes of an unfinished line dropped"),
            ));
        }
        self.remove(fd, Leave::Closed, happened);
    }

    // ANCHOR: remove
    /// Takes a client out of the room and closes its socket (by dropping it), then
    /// tells the others. Clients that sent /quit told the others already.
    fn remove(&mut self, fd: RawFd, why: Leave, happened: &mut Vec<Happening>) {
        let Some(mut client) = self.clients.remove(&fd) else { return };
        self.counters.left += 1;
        self.accept_paused = false; // an fd is free again
        if why == Leave::TooSlow {
            self.counters.slow_dropped += 1;
            // Best effort: its socket buffer is probably full, so this may well fail.
            let _ = client.stream.write(b"\n* disconnected: you stopped reading\n");
        }
        let queued = client.output.len();
        if let Some(told) = self.before_close.as_mut().and_then(|hook| hook(client.stream.as_fd())) {
            happened.push(told);
        }
        // close(fd). The kernel still sends what is in the socket's send buffer, then a
        // FIN; what is in our queue (`queued`) is lost, which is the point for a client
        // that stopped reading.
        drop(client.stream);
        let told = if client.leaving || self.quiet {
            0
        } else {
            let notice = match why {
                Leave::TooSlow => format!("* {} was disconnected (not reading)", client.nick),
                _ => format!("* {} left", client.nick),
            };
            self.broadcast(None, &notice, happened)
        };
        let warn = matches!(why, Leave::TooSlow | Leave::Failed(_) | Leave::HungUp);
        let record = Happening {
            event: "left",
            fd,
            fields: json!({"nick": client.nick, "peer": client.peer, "reason": why.words(), "unsent": queued, "told": told}),
            text: format!(
                "close(fd {fd}): {} left: {}; {told} {} told",
                client.nick,
                why.words(),
                plural(told, "other")
            ),
            warn,
        };
        happened.push(record);
    }
    // ANCHOR_END: remove
}

/// "1 client", "2 clients": the word, pluralised for `count`.
fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

fn would_block_io(e: &std::io::Error) -> bool {
    e.raw_os_error().map(Errno::from_raw).is_some_and(would_block)
}

fn errno_of(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    /// A room on loopback with `count` accepted clients; returns their ends and fds.
    fn room_with(count: usize) -> (ChatRoom, Vec<(RawFd, std::io::BufReader<TcpStream>)>) {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let mut room = ChatRoom::bind(loopback, loopback).unwrap();
        let listener = room.chat.as_raw_fd();
        let mut peers = Vec::new();
        for _ in 0..count {
            let peer = TcpStream::connect(room.chat_addr().unwrap()).unwrap();
            peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let before = room.client_count();
            let deadline = Instant::now() + Duration::from_secs(5);
            while room.client_count() == before && Instant::now() < deadline {
                room.on_readable(listener);
            }
            let fd = *room.clients.keys().last().unwrap();
            peers.push((fd, std::io::BufReader::new(peer)));
        }
        (room, peers)
    }

    /// Says `line` as the client on `fd` and lets the room read it.
    fn say(
        room: &mut ChatRoom,
        peer: &mut std::io::BufReader<TcpStream>,
        fd: RawFd,
        line: &str,
    ) -> Vec<Happening> {
        peer.get_mut().write_all(format!("{line}\n").as_bytes()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let happened = room.on_readable(fd);
            if !happened.is_empty() || Instant::now() > deadline {
                return happened;
            }
        }
    }

    /// Flushes everything queued for `fd` and returns the lines its peer got.
    fn lines_for(room: &mut ChatRoom, peer: &mut std::io::BufReader<TcpStream>, fd: RawFd) -> Vec<String> {
        let mut got = Vec::new();
        while room.clients.get(&fd).is_some_and(|c| !c.output.is_empty()) {
            room.on_writable(fd);
        }
        peer.get_mut().set_nonblocking(true).unwrap();
        let mut line = String::new();
        while peer.read_line(&mut line).is_ok_and(|n| n > 0) {
            got.push(line.trim_end().to_string());
            line.clear();
        }
        peer.get_mut().set_nonblocking(false).unwrap();
        got
    }

    #[test]
    fn nicknames_must_be_valid_and_free() {
        let (mut room, mut peers) = room_with(2);
        let (fd1, fd2) = (peers[0].0, peers[1].0);
        say(&mut room, &mut peers[0].1, fd1, "/nick ann");
        say(&mut room, &mut peers[1].1, fd2, "/nick ann");
        say(&mut room, &mut peers[1].1, fd2, "/nick bad name!");
        say(&mut room, &mut peers[1].1, fd2, "/dance");
        say(&mut room, &mut peers[1].1, fd2, "/who");
        let got = lines_for(&mut room, &mut peers[1].1, fd2);
        assert_eq!(
            got,
            [
                "* you are guest2; commands: /nick NAME, /who, /quit",
                "* guest1 is now ann",
                "* nick \"ann\" refused: taken",
                "* nick \"bad name!\" refused: use 1-16 letters, digits, _ or -",
                "* unknown command /dance; commands: /nick NAME, /who, /quit",
                "* online (2): ann, guest2",
            ]
        );
        assert_eq!(room.counters.commands, 5);
    }

    #[test]
    fn a_queue_past_the_limit_drops_its_client_and_tells_the_rest() {
        let (mut room, mut peers) = room_with(3);
        let (talker, sloth, reader) = (peers[0].0, peers[1].0, peers[2].0);
        // Never flush the sloth: queue lines for it until it is over the limit.
        let line = "x".repeat(400);
        let mut dropped = Vec::new();
        let mut reader_got = Vec::new();
        for _ in 0..(OUTPUT_LIMIT / 400 + 2) {
            // As if a second had passed since it fell behind: it has stalled.
            if let Some(since) = room.clients.get_mut(&sloth).and_then(|c| c.behind_since.as_mut()) {
                *since = Instant::now() - STALL;
            }
            for h in say(&mut room, &mut peers[0].1, talker, &line) {
                if h.event == "left" {
                    dropped.push(h);
                }
            }
            reader_got.extend(lines_for(&mut room, &mut peers[2].1, reader));
        }
        assert!(reader_got.iter().any(|l| l == "* guest2 was disconnected (not reading)"), "{reader_got:?}");
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert_eq!(dropped[0].fd, sloth);
        assert!(!room.clients.contains_key(&sloth));
        assert_eq!(room.counters.slow_dropped, 1);
        // The room carries on for everyone else.
        say(&mut room, &mut peers[0].1, talker, "still here");
        let got = lines_for(&mut room, &mut peers[2].1, reader);
        assert_eq!(got.last().map(String::as_str), Some("<guest1> still here"));
    }

    #[test]
    fn a_client_behind_holds_input_until_it_stalls_then_is_dropped() {
        let (mut room, mut peers) = room_with(2);
        let (talker, behind) = (peers[0].0, peers[1].0);
        let line = "y".repeat(400);
        // Never flushed: past BEHIND, the room stops reading anyone's input.
        while room.clients[&behind].output.len() <= BEHIND {
            say(&mut room, &mut peers[0].1, talker, &line);
        }
        assert!(room.holding_input());
        assert!(room.watch_list().iter().all(|w| !w.read || w.fd.as_raw_fd() <= room.stats.as_raw_fd()));
        let cut = room.wait_timeout(Duration::from_secs(10));
        assert!(cut <= STALL + Duration::from_millis(1), "{cut:?}");
        // Behind but not stalled: past OUTPUT_LIMIT it is kept (a burst, not a dead reader).
        while room.clients[&behind].output.len() <= OUTPUT_LIMIT {
            say(&mut room, &mut peers[0].1, talker, &line);
        }
        assert!(room.clients.contains_key(&behind));
        // Once it has been behind for STALL, it holds nobody up, and the next line drops it.
        room.clients.get_mut(&behind).unwrap().behind_since = Some(Instant::now() - STALL);
        assert!(!room.holding_input());
        assert_eq!(room.wait_timeout(Duration::from_secs(10)), Duration::from_secs(10));
        let happened = say(&mut room, &mut peers[0].1, talker, &line);
        assert!(happened.iter().any(|h| h.event == "left" && h.fd == behind), "{happened:?}");
        assert_eq!(room.counters.slow_dropped, 1);
    }

    #[test]
    fn catching_up_ends_the_hold() {
        let (mut room, mut peers) = room_with(2);
        let (talker, reader) = (peers[0].0, peers[1].0);
        let line = "z".repeat(400);
        let mut held = Vec::new();
        while room.clients[&reader].output.len() <= BEHIND {
            held.extend(
                say(&mut room, &mut peers[0].1, talker, &line).into_iter().filter(|h| h.event == "held"),
            );
        }
        assert_eq!(held.len(), 1, "one held event when it falls behind: {held:?}");
        assert_eq!(held[0].fd, reader);
        assert!(room.holding_input());
        let mut caught_up = Vec::new();
        while room.clients[&reader].output.len() > BEHIND {
            caught_up.extend(room.on_writable(reader).into_iter().filter(|h| h.event == "caught_up"));
        }
        assert_eq!(caught_up.len(), 1, "{caught_up:?}");
        let got = lines_for(&mut room, &mut peers[1].1, reader);
        assert!(got.len() > BEHIND / 400, "{}", got.len());
        assert!(!room.holding_input());
        assert!(room.clients[&reader].behind_since.is_none());
    }
}
