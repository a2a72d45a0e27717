//! The chat server on epoll (beyond the notes: what real Linux servers wait with).
//!
//! One thread, many sockets, as with poll(). What changes is who holds the list of fds.
//! poll() is handed the whole array on every call, and the kernel walks all of it, so
//! one wake-up costs time in proportion to the number of clients, idle or not. epoll
//! keeps the list in the kernel (the *interest list*): an fd is registered once with
//! `epoll_ctl(EPOLL_CTL_ADD)`, changed with `EPOLL_CTL_MOD` only when what we want
//! from it changes, removed with `EPOLL_CTL_DEL`. Each socket's own wake-up puts it on
//! a *ready list*, and `epoll_wait()` just hands that list over: its cost follows the
//! number of ready fds, not the number watched.
//!
//! The chat room itself (nicknames, relaying, output queues, framing) is in
//! `common::chat`, exactly as poll uses it; `diff crates/05-poll/src/lib.rs
//! crates/11-epoll/src/lib.rs` shows the difference. Beyond poll: `--edge`
//! (edge-triggered, EPOLLET), `--show-et-bug` (the classic mistake it invites),
//! EPOLLRDHUP, and a signalfd that makes SIGINT/SIGTERM one more readable fd.

pub mod crowd;
pub mod et_bug;
pub mod interest;

use common::chat::tell::{self, ReadyFd};
use common::chat::{json, ChatRoom, Happening};
use common::{Error, Narrator, Result};
use interest::{flag_names, Interest, Trigger};
use nix::errno::Errno;
use nix::sys::epoll::{EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The demo's name, one-line summary and section, for its title line.
pub const TITLE: (&str, &str, &str) = (
    "epoll",
    "one thread serves a chat room from an interest list kept in the kernel",
    "beyond the notes: epoll(7)",
);

/// The wait call's timeout in the scripted scenario: short, so the scenario's idle gap
/// shows the timeout branch.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_millis(400);

/// The timeout with `--listen`: long enough to be quiet, short enough to show up.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Most events one epoll_wait hands back. More ready fds than this stay on the ready
/// list for the next call: nothing is lost, it only takes another call.
pub const MAX_EVENTS: usize = 256;

/// Edge-triggered: most reads from one client per turn. Draining a flooding client
/// until EAGAIN could take all day while everyone else waits; past this many reads its
/// fd goes to the back of the line and is finished next turn (see [`serve`]).
pub const MAX_DRAIN_READS: usize = 16;

/// The signals that stop the server, read from a signalfd.
pub const STOP_SIGNALS: [Signal; 2] = [Signal::SIGINT, Signal::SIGTERM];

/// How the server waits: the trigger mode and the timeout.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Level- or edge-triggered.
    pub trigger: Trigger,
    /// epoll_wait's timeout.
    pub timeout: Duration,
}

// ANCHOR: setup
/// What epoll needs from the room: nothing. Any open fd can be registered, so no client
/// is ever refused for its fd number (compare select's `prepare`).
pub fn prepare(_room: &mut ChatRoom) {}

/// Blocks SIGINT and SIGTERM and returns a signalfd that becomes readable when one is
/// pending. Compare pselect: no handler, no flag, no mask swapped in for the length of
/// each wait; the signal is one more fd in the interest list, read like a socket.
///
/// Call it before any thread starts: threads inherit the mask, and a process-directed
/// signal goes to any thread that does not block it (and then kills the process).
fn block_signals() -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    for signal in STOP_SIGNALS {
        mask.add(signal);
    }
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
        .map_err(|e| Error::os("pthread_sigmask(SIG_BLOCK)", e))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::os("signalfd", e))
}

/// What the server waits with: the signalfd, and the epoll instance it is registered in.
/// Made before the server says it is listening (so the fds open then are the server's
/// for its whole life: a test counts from them), and narrated after.
pub struct Waits {
    signals: SignalFd,
    /// Shared with the room's before-close hook, which deletes each client from it.
    interest: Rc<RefCell<Interest>>,
    signal_added: Happening,
    made_at: Instant,
}

/// Blocks the stop signals, opens their signalfd and the epoll instance, and adds the
/// signalfd to it. Call it before any thread starts (see [`block_signals`]).
pub fn open_waits(trigger: Trigger) -> Result<Waits> {
    let signals = block_signals()?;
    let mut interest = Interest::create(trigger)?;
    let signal_added = interest.add_own(signals.as_fd())?;
    let interest = Rc::new(RefCell::new(interest));
    Ok(Waits { signals, interest, signal_added, made_at: Instant::now() })
}

impl Waits {
    /// Narrates what [`open_waits`] did, at the time it did it.
    pub fn tell(&self, n: &Narrator) {
        let (sfd, epfd) = (self.signals.as_raw_fd(), self.interest.borrow().epfd());
        n.event_at(
            self.made_at,
            "signals_blocked",
            json!({"signals": ["SIGINT", "SIGTERM"], "signalfd": sfd}),
            format!("pthread_sigmask(SIG_BLOCK, SIGINT|SIGTERM); signalfd(SIGINT|SIGTERM) = fd {sfd}"),
        );
        let edge = self.interest.borrow().trigger() == Trigger::Edge;
        n.event_at(
            self.made_at,
            "epoll_created",
            json!({"epfd": epfd, "edge": edge}),
            format!("epoll_create1(EPOLL_CLOEXEC) = fd {epfd}"),
        );
        tell::happenings(n, std::slice::from_ref(&self.signal_added));
    }
}
// ANCHOR_END: setup

// ANCHOR: wait_loop
/// The server loop: bring the interest list up to date, wait, let the room handle
/// each ready fd.
pub fn serve(room: &mut ChatRoom, n: &Narrator, setup: Setup, waits: &Waits) -> Result<()> {
    let (signals, interest) = (&waits.signals, &waits.interest);
    // The room closes clients itself; this runs EPOLL_CTL_DEL just before each close().
    let forget = Rc::clone(interest);
    room.before_close(Box::new(move |fd| forget.borrow_mut().forget(fd)));
    let mut events = vec![EpollEvent::empty(); MAX_EVENTS];
    // Edge-triggered only: clients whose drain was cut short. No new edge will come for
    // what they have left, so they are served next turn without waiting.
    let mut unfinished: Vec<RawFd> = Vec::new();
    while room.keep_going()? {
        let changes = interest.borrow_mut().sync(room)?;
        tell::happenings(n, &changes);
        let mut ready =
            wait_once(&interest.borrow(), room, n, setup.timeout, &mut events, !unfinished.is_empty())?;
        ready.extend(unfinished.drain(..).map(|fd| (fd, EpollFlags::EPOLLIN)));
        let mut happened = Vec::new();
        for one in ready {
            if one.0 == signals.as_raw_fd() {
                return stop(room, n, signals);
            }
            happened.extend(dispatch(room, interest, one, setup.trigger, &mut unfinished));
        }
        tell::happenings(n, &happened);
    }
    Ok(())
}
// ANCHOR_END: wait_loop

// ANCHOR: stop
/// The signalfd is readable: read which signal it was, say goodbye to every client,
/// flush, close, report.
fn stop(room: &mut ChatRoom, n: &Narrator, signals: &SignalFd) -> Result<()> {
    let info = signals.read_signal().map_err(|e| Error::os("read(signalfd)", e))?;
    let signal =
        info.and_then(|info| Signal::try_from(info.ssi_signo as i32).ok()).unwrap_or(Signal::SIGTERM);
    STOPPED_BY.store(signal as i32, std::sync::atomic::Ordering::Relaxed);
    n.event_styled(
        "signal",
        json!({"signal": signal.as_str(), "via": "signalfd"}),
        common::narrate::Style::Bold,
        format!("read(signalfd) = {signal}: shutting down"),
    );
    let happened = room.shutdown(signal.as_str());
    tell::happenings(n, &happened);
    n.event("counters", json!({"line": room.stats_line()}), format!("final counters: {}", room.stats_line()));
    Ok(())
}
// ANCHOR_END: stop

/// A ready fd as epoll_wait reports it: (fd, events).
type Ready = (RawFd, EpollFlags);

/// One epoll_wait call. Returns the ready fds: none when the timeout passed or a
/// signal handler interrupted it. `hurry`: work is left over from last turn, so only
/// collect what is ready now (timeout 0).
fn wait_once(
    interest: &Interest,
    room: &mut ChatRoom,
    n: &Narrator,
    timeout: Duration,
    events: &mut [EpollEvent],
    hurry: bool,
) -> Result<Vec<Ready>> {
    // Shorter while the room holds input for a client that is behind (common::chat).
    let timeout = if hurry { Duration::ZERO } else { room.wait_timeout(timeout) };
    let epoll_timeout = EpollTimeout::try_from(timeout).unwrap_or(EpollTimeout::MAX);
    n.event(
        "wait",
        json!({"call": "epoll_wait", "epfd": interest.epfd(), "maxevents": events.len(),
               "registered": interest.len(), "timeout_ms": timeout.as_millis() as u64}),
        format!(
            "epoll_wait(epfd={}, maxevents={}, timeout={}ms) ...   ({} fds in the interest list)",
            interest.epfd(),
            events.len(),
            timeout.as_millis(),
            interest.len()
        ),
    );
    // ANCHOR: epoll_wait
    // No list goes in: the kernel already has it. Out comes the ready list, at most
    // `events.len()` entries, each with the fd we stored in it at EPOLL_CTL_ADD.
    let result = interest.epoll().wait(events, epoll_timeout);
    // ANCHOR_END: epoll_wait
    let count = match result {
        Ok(count) => count,
        Err(Errno::EINTR) => {
            n.event(
                "interrupted",
                json!({"call": "epoll_wait"}),
                "  -> epoll_wait failed with EINTR: interrupted; waiting again",
            );
            return Ok(Vec::new());
        }
        Err(e) => return Err(Error::os("epoll_wait", e)),
    };
    room.counters.wait_calls += 1;
    if count == 0 {
        if !hurry {
            room.counters.timeouts += 1;
            tell::still_waiting(n, "epoll_wait", timeout.as_millis() as u64);
        }
        return Ok(Vec::new());
    }
    // ANCHOR: find_ready
    // Every entry handed back is ready: nothing to scan, unlike poll's array.
    let ready: Vec<Ready> = events[..count].iter().map(|e| (e.data() as RawFd, e.events())).collect();
    // ANCHOR_END: find_ready
    let described: Vec<ReadyFd> =
        ready.iter().map(|&(fd, flags)| ReadyFd { fd, flags: flag_names(flags) }).collect();
    tell::ready(n, room, "epoll_wait", count as i32, &described);
    Ok(ready)
}

// ANCHOR: handle_ready
/// Hands one ready fd to the room, flag by flag, as poll's dispatch does. Edge-triggered,
/// each fd is drained: read until EAGAIN (the listeners accept until EAGAIN anyway),
/// write until the queue is empty or EAGAIN, because no second report will come for
/// what is left.
fn dispatch(
    room: &mut ChatRoom,
    interest: &RefCell<Interest>,
    (fd, events): Ready,
    trigger: Trigger,
    unfinished: &mut Vec<RawFd>,
) -> Vec<Happening> {
    let mut happened = Vec::new();
    // EPOLLIN: data, a connection or EOF. EPOLLRDHUP: the peer shut down its writing
    // half (or closed); what it sent before is still to be read, then read() says 0.
    let readable = events.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP);
    if readable {
        match trigger {
            Trigger::Level => happened.extend(room.on_readable(fd)),
            Trigger::Edge => happened.extend(drain_input(room, fd, unfinished)),
        }
    }
    // EPOLLERR: a pending socket error, reported whether asked for or not.
    if events.contains(EpollFlags::EPOLLERR) {
        happened.extend(room.on_error(fd));
    }
    // EPOLLHUP: gone both ways. With input to read, reading finds the end first.
    if events.contains(EpollFlags::EPOLLHUP) && !readable {
        happened.extend(room.on_hangup(fd));
    }
    // EPOLLOUT: room in the send buffer for this client's queued output.
    if events.contains(EpollFlags::EPOLLOUT) {
        match trigger {
            Trigger::Level => happened.extend(room.on_writable(fd)),
            Trigger::Edge => {
                let (written, emptied) = drain_output(room, fd);
                happened.extend(written);
                if emptied {
                    interest.borrow_mut().spent(fd); // re-armed by the next sync if needed
                }
            }
        }
    }
    happened
}
// ANCHOR_END: handle_ready

// ANCHOR: drain
/// Edge-triggered reading: read until EAGAIN, the client leaves, or
/// [`MAX_DRAIN_READS`] (then the fd is finished next turn, after everyone else: the
/// fairness that one read per wake-up gave level-triggered for free).
fn drain_input(room: &mut ChatRoom, fd: RawFd, unfinished: &mut Vec<RawFd>) -> Vec<Happening> {
    let mut happened = Vec::new();
    let mut reads = 0;
    let until = loop {
        let got = room.on_readable(fd);
        if got.is_empty() {
            break "EAGAIN"; // nothing more: the next edge will come with new data
        }
        reads += got.iter().filter(|h| h.event == "read" && h.fd == fd).count();
        let gone = got.iter().any(|h| h.fd == fd && matches!(h.event, "left" | "quit" | "forgotten"));
        happened.extend(got);
        if gone || reads == 0 {
            break "left"; // it left, or it was a listener (which accepts until EAGAIN)
        }
        if reads >= MAX_DRAIN_READS {
            unfinished.push(fd);
            break "cap";
        }
    };
    if reads > 0 {
        happened.push(drained(fd, reads, until));
    }
    happened
}
// ANCHOR_END: drain

/// Edge-triggered writing: write until the queue is empty or the socket says EAGAIN
/// (then EPOLLOUT's next edge comes when the peer has read some). Also returns whether
/// the queue was emptied.
fn drain_output(room: &mut ChatRoom, fd: RawFd) -> (Vec<Happening>, bool) {
    let mut happened = Vec::new();
    loop {
        let got = room.on_writable(fd);
        let flushed = got.iter().find(|h| h.fd == fd && h.event == "flushed");
        let emptied = flushed.is_some_and(|h| h.fields["queued"] == 0);
        let more = flushed.is_some() && !emptied && !got.iter().any(|h| h.fd == fd && h.event == "left");
        happened.extend(got);
        if !more {
            return (happened, emptied);
        }
    }
}

/// The `drained` event: how many reads one edge took, and why it stopped.
fn drained(fd: RawFd, reads: usize, until: &str) -> Happening {
    let why = match until {
        "EAGAIN" => "until EAGAIN",
        "cap" => "cap reached: the rest next turn, after the others",
        _ => "until it left",
    };
    Happening::new(
        "drained",
        fd,
        json!({"reads": reads, "until": until}),
        format!(
            "edge-triggered: fd {fd} drained with {}, {why}",
            common::narrate::plural(reads as u64, "read", "reads")
        ),
    )
}

/// `--listen ADDR`: serve for real until SIGINT or SIGTERM, then stop cleanly.
pub fn listen(n: &Narrator, addr: SocketAddr, trigger: Trigger) -> Result<()> {
    let mut room = ChatRoom::bind(addr, SocketAddr::new(addr.ip(), 0))?;
    prepare(&mut room);
    let waits = open_waits(trigger)?;
    tell::announce(n, &room, TITLE)?;
    waits.tell(n);
    n.explain(format!(
        "Ctrl-C (or kill -TERM {}) says goodbye to every client and exits 0: the signal arrives as a readable signalfd",
        std::process::id()
    ));
    serve(&mut room, n, Setup { trigger, timeout: LISTEN_TIMEOUT }, &waits)
}

/// No arguments: the scripted chat, narrated and checked.
pub fn scenario(n: &Narrator, trigger: Trigger) -> Result<()> {
    n.title(TITLE.0, TITLE.1, TITLE.2);
    if trigger == Trigger::Edge {
        n.explain("edge-triggered (EPOLLET): each fd is reported when it becomes ready, so each is drained until EAGAIN");
    }
    let waits = open_waits(trigger)?; // before the script's threads start
    waits.tell(n);
    let setup = Setup { trigger, timeout: SCENARIO_TIMEOUT };
    let result = offline::chat_clients::scenario(n, prepare, |room| serve(room, n, setup, &waits));
    blame_the_signal("scripted chat", result)
}

/// A client's error after SIGINT/SIGTERM stopped the server (ECONNRESET, EOF) is not the
/// client's fault: say which signal stopped the run instead.
pub fn blame_the_signal<T>(what: &str, result: Result<T>) -> Result<T> {
    match (result, stopped_by()) {
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

/// Which signal, if any, ended the serve loop.
pub fn stopped_by() -> Option<Signal> {
    Signal::try_from(STOPPED_BY.load(std::sync::atomic::Ordering::Relaxed)).ok()
}

/// Set by [`stop`]: which signal ended the serve loop (0: none).
static STOPPED_BY: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    /// A room with one accepted client; returns (room, client fd, the client's end).
    fn room_with_a_client() -> (ChatRoom, RawFd, TcpStream) {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let mut room = ChatRoom::bind(loopback, loopback).unwrap();
        let peer = TcpStream::connect(room.chat_addr().unwrap()).unwrap();
        let listener = room.listeners()[0].as_raw_fd();
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

    #[test]
    fn the_interest_list_changes_only_when_a_wish_changes() {
        let (mut room, fd, _peer) = room_with_a_client();
        let mut interest = Interest::create(Trigger::Level).unwrap();
        // First sync: both listeners and the client are added; the client has its
        // welcome queued, so it wants EPOLLOUT too.
        let first = interest.sync(&mut room).unwrap();
        let ops: Vec<_> =
            first.iter().map(|h| (h.fd, h.fields["op"].as_str().unwrap().to_string())).collect();
        assert_eq!(ops.len(), 3, "{ops:?}");
        assert!(ops.iter().all(|(_, op)| op == "EPOLL_CTL_ADD"));
        assert_eq!(first[2].fields["events"], json!(["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP"]));
        // Nothing changed: no epoll_ctl at all.
        assert!(interest.sync(&mut room).unwrap().is_empty());
        // The queue empties: one MOD, dropping EPOLLOUT.
        assert_eq!(events(&room.on_writable(fd)), ["flushed"]);
        let second = interest.sync(&mut room).unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!((second[0].fd, second[0].fields["op"].as_str()), (fd, Some("EPOLL_CTL_MOD")));
        assert_eq!(second[0].fields["events"], json!(["EPOLLIN", "EPOLLRDHUP"]));
    }

    #[test]
    fn an_edge_triggered_drain_reads_until_eagain() {
        let (mut room, fd, mut peer) = room_with_a_client();
        let line = format!("{}\n", "x".repeat(499));
        for _ in 0..20 {
            std::io::Write::write_all(&mut peer, line.as_bytes()).unwrap(); // 10,000 bytes
        }
        // Wait until all of it is in the server's receive buffer.
        let mut peek = [0u8; 16384];
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let server_end = room.watch_list()[2].fd;
        while nix::sys::socket::recv(server_end.as_raw_fd(), &mut peek, nix::sys::socket::MsgFlags::MSG_PEEK)
            .unwrap_or(0)
            < 10_000
            && std::time::Instant::now() < deadline
        {}
        let mut unfinished = Vec::new();
        let happened = drain_input(&mut room, fd, &mut unfinished);
        let last = happened.last().unwrap();
        assert_eq!(last.event, "drained");
        assert_eq!(last.fields["reads"], 3, "4096 + 4096 + 1808 bytes");
        assert_eq!(last.fields["until"], "EAGAIN");
        assert!(unfinished.is_empty());
    }
}
