//! The chat server in async Rust, on tokio's current-thread runtime (beyond the notes).
//!
//! One thread, like select, poll and epoll; but no wait call in sight. The main task
//! awaits `accept()`; each client gets a task that awaits `read()`, and a bounded
//! channel as its output queue that the same task drains with `write_all().await`.
//! Underneath, the runtime runs the epoll demo's loop: every socket is non-blocking
//! and registered with an epoll instance (tokio's reactor, via mio); an `.await` that
//! would block gets EAGAIN, parks its task and returns `Pending`; `epoll_wait` reports
//! the socket ready, which wakes the task, which is polled again. `just trace
//! tokio-chat` shows it: epoll_wait, accept4 and recvfrom returning EAGAIN.
//!
//! The room (names, commands, relaying, cutting off a client that stopped reading) is
//! in `room.rs`; the wrapper that narrates each poll of a task is in `traced.rs`.

pub mod room;
pub mod traced;

use common::chat::line::LineBuffer;
use common::chat::telnet::Telnet;
use common::chat::{json, Happening, StopRule};
use common::narrate::plural;
use common::{Context, Error, Narrator, Result};
use room::{leave, Kick, Leave, Line, Room, Shared};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use traced::Traced;

/// The demo's name, one-line summary and section, for its title line.
pub const TITLE: (&str, &str, &str) = (
    "tokio-chat",
    "the chat server in async Rust: a task per client, tokio's epoll underneath",
    "beyond the notes: async Rust",
);

/// How long with no activity before the main task says it is still waiting.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_millis(400);

/// The same with `--listen`.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// How many of the first clients have their polls narrated.
pub const TRACED_CLIENTS: u64 = 2;

/// Bytes asked for in one read, as the readiness servers do.
const READ_CHUNK: usize = 4096;

/// How long a shutdown waits for clients to take their goodbye and close.
const GOODBYE: Duration = Duration::from_secs(1);

/// Where the server listens and how it stops.
#[derive(Debug)]
pub struct Setup {
    /// The chat port (already bound).
    pub chat: std::net::TcpListener,
    /// The stats port (already bound).
    pub stats: std::net::TcpListener,
    /// "Still waiting" after this long with nothing happening.
    pub timeout: Duration,
    /// `--listen`: never; the script and the crowd: once the stats port was asked and
    /// the room is empty.
    pub stop: StopRule,
    /// Fail after this (scripted runs only).
    pub deadline: Option<Instant>,
    /// Narrate the first clients' polls.
    pub trace: bool,
    /// No join/leave notices.
    pub quiet: bool,
}

/// Binds the chat and stats ports (std listeners: a bind error is reported before any
/// runtime starts).
pub fn bind(chat: SocketAddr, stats: SocketAddr) -> Result<(std::net::TcpListener, std::net::TcpListener)> {
    let chat_l = std::net::TcpListener::bind(chat).with_context(|| format!("bind {chat}"))?;
    let stats_l = std::net::TcpListener::bind(stats).with_context(|| format!("bind {stats} (stats port)"))?;
    chat_l.set_nonblocking(true).context("set O_NONBLOCK on the chat listener")?;
    stats_l.set_nonblocking(true).context("set O_NONBLOCK on the stats listener")?;
    Ok((chat_l, stats_l))
}

/// What the run did, for the scenario's and the crowd's reports.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// The signal that stopped it, if one did.
    pub stopped_by: Option<&'static str>,
    /// The highest client fd.
    pub highest_fd: RawFd,
}

/// The runtime: tokio's current-thread flavour (one thread, as the readiness servers),
/// with its I/O driver (the reactor: an epoll instance) and timers, and a LocalSet so
/// tasks may share the room through `Rc` instead of locks.
pub struct Runtime {
    runtime: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
}

impl Runtime {
    /// Starts the runtime. Nothing runs until [`Runtime::serve`].
    pub fn new() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .context("start the tokio runtime")?;
        Ok(Runtime { runtime, local: tokio::task::LocalSet::new() })
    }

    /// Installs the SIGINT and SIGTERM handlers. tokio's signal handling keeps a socket
    /// pair open for the life of the process from the first call on (the handler
    /// writes a byte into it, the reactor sees it readable), so a scenario counts its
    /// fds after this.
    pub fn signals(&self) -> Result<Signals> {
        let _entered = self.runtime.enter();
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("install the SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("install the SIGTERM handler")?,
        })
    }

    /// Runs the server until its stop rule, a signal or the deadline.
    pub fn serve(&self, n: &Narrator, setup: Setup, signals: Signals) -> Result<Served> {
        self.local.block_on(&self.runtime, serve(n.clone(), setup, signals))
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runtime")
    }
}

/// The two signals that stop the server, as streams the main task awaits.
#[derive(Debug)]
pub struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

// ANCHOR: main_loop
/// The main task: accept chat clients (a task each), answer the stats port, stop on
/// SIGINT/SIGTERM. Each `.await` here is one of the epoll demo's wake-ups: the runtime
/// calls epoll_wait and polls this task again when one of these is ready.
async fn serve(n: Narrator, setup: Setup, signals: Signals) -> Result<Served> {
    let chat = TcpListener::from_std(setup.chat).context("register the chat listener")?;
    let stats = TcpListener::from_std(setup.stats).context("register the stats listener")?;
    let Signals { int: mut sigint, term: mut sigterm } = signals;
    let room = Room::new(n.clone(), setup.quiet);
    let changed = Rc::clone(&room.borrow().changed);
    let mut tasks = tokio::task::JoinSet::new();
    let stop = |room: &Shared| {
        setup.stop == StopRule::WhenEmptyAfterStats && {
            let room = room.borrow();
            room.counters.stats_served > 0 && room.is_empty()
        }
    };
    let stopped_by = loop {
        if stop(&room) {
            break None;
        }
        if setup.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(Error::msg("chat scenario", "deadline passed before everyone left"));
        }
        let quiet_until = room.borrow().last_activity + setup.timeout;
        room.borrow_mut().counters.wait_calls += 1;
        if !room::untold(&room, "wait") {
            narrate_wait(&n, &chat, &stats, setup.timeout);
        }
        tokio::select! {
            accepted = chat.accept() => match accepted {
                Ok((stream, peer)) => {
                    let task = welcome(&room, stream, peer, setup.trace).await;
                    tasks.spawn_local(task);
                }
                Err(e) => accept_failed(&n, &chat, &e).await,
            },
            accepted = stats.accept() => match accepted {
                Ok((stream, _)) => serve_stats(&room, stream).await,
                Err(e) => accept_failed(&n, &stats, &e).await,
            },
            _ = sigint.recv() => break Some("SIGINT"),
            _ = sigterm.recv() => break Some("SIGTERM"),
            _ = changed.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = tokio::time::sleep_until(quiet_until.into()) => still_waiting(&room, setup.timeout),
        }
    };
    if let Some(signal) = stopped_by {
        shutdown(&room, signal, &mut tasks).await;
    }
    room::tell_untold(&room);
    let highest_fd = room.borrow().counters.highest_fd;
    Ok(Served { stopped_by, highest_fd })
}
// ANCHOR_END: main_loop

/// A new chat client: into the room, welcome queued, others told; returns its task.
async fn welcome(
    room: &Shared,
    stream: TcpStream,
    peer: SocketAddr,
    trace: bool,
) -> impl std::future::Future<Output = ()> {
    let fd = stream.as_raw_fd();
    // Each task writes as soon as a line is queued, so one client gets several small
    // writes in a turn of talk; with Nagle's algorithm each waits for the ACK of the one
    // before, which the peer delays up to 40 ms. The poll servers write a turn's lines in
    // one go and never meet it. (Failing only costs latency.)
    let _ = stream.set_nodelay(true);
    let (id, nick, queue, kicked) = room.borrow_mut().join(fd);
    room.borrow_mut().last_activity = Instant::now();
    let quiet = room.borrow().quiet;
    let told = if quiet { 0 } else { room::broadcast(room, Some(id), &format!("* {nick} joined")).await };
    room::tell(
        room,
        Happening::new(
            "accepted",
            fd,
            json!({"nick": nick, "peer": peer.to_string(), "told": told}),
            format!(
                "accept4() = fd {fd} from {peer}: \"{nick}\" joined (welcome queued; {} told); task spawned",
                plural(told as u64, "other", "others")
            ),
        ),
    );
    let traced = trace && id <= TRACED_CLIENTS;
    let room = Rc::clone(room);
    async move {
        client(Rc::clone(&room), id, nick, stream, queue, kicked, traced).await;
        // The task's sockets are closed now: only then is the client gone.
        room.borrow_mut().open -= 1;
        let changed = Rc::clone(&room.borrow().changed);
        changed.notify_one();
    }
}

// ANCHOR: client_task
/// One client's task: read lines and act on them, and write its queue, both at once,
/// until it leaves, is cut off, or the server shuts down.
async fn client(
    room: Shared,
    id: u64,
    nick: String,
    stream: TcpStream,
    mut queue: mpsc::Receiver<Line>,
    mut kicked: watch::Receiver<Kick>,
    traced: bool,
) {
    let fd = stream.as_raw_fd();
    let n = room.borrow().n.clone();
    let trace = traced.then_some((&n, nick.as_str()));
    let (mut reader, mut writer) = stream.into_split();
    let mut reading = Box::pin(read_lines(&room, id, fd, &mut reader, trace));
    let mut writing = Box::pin(write_queue(&room, fd, &mut writer, &mut queue, trace));
    let why = tokio::select! {
        biased;
        _ = kicked.changed() => None,
        why = &mut reading => Some(why),
        written = &mut writing => Some(match written {
            Ok(()) => Leave::Closed, // its queue was closed: it has been taken out already
            Err(e) => Leave::Failed(errno_of(&e)),
        }),
    };
    drop(reading);
    match why {
        // /quit: out of the room, then flush the goodbye (briefly: it may not read).
        Some(Leave::Quit) => {
            leave(&room, id, Leave::Quit).await;
            let _ = tokio::time::timeout(GOODBYE, &mut writing).await;
        }
        Some(why) => leave(&room, id, why).await,
        None if *kicked.borrow() == Kick::Shutdown => {
            let _ = tokio::time::timeout(GOODBYE, &mut writing).await;
            drop(writing);
            goodbye(&room, &mut writer, &mut reader).await;
        }
        None => {
            // Cut off: best effort, as the room does; its buffer is probably full. A plain
            // write(2), not tokio's try_write: that one trusts the reactor's last word
            // ("not writable") and would not even try, while the kernel may still
            // append a few bytes to the last packet it holds.
            drop(writing);
            let _ = nix::unistd::write(writer.as_ref(), b"\n* disconnected: you stopped reading\n");
        }
    }
}
// ANCHOR_END: client_task

// ANCHOR: read_lines
/// Reads until EOF, an error or `/quit`, handling each complete line.
async fn read_lines(
    room: &Shared,
    id: u64,
    fd: RawFd,
    reader: &mut OwnedReadHalf,
    trace: Option<(&Narrator, &str)>,
) -> Leave {
    let mut input = LineBuffer::default();
    let mut telnet = Telnet::default();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        // Underneath: recvfrom(fd) = EAGAIN, the task parks until epoll_wait reports
        // fd readable, then recvfrom again.
        let got = match trace {
            Some((n, task)) => {
                let read = std::pin::pin!(reader.read(&mut buf));
                Traced::new(n, task, format!("read(fd {fd})"), "its socket is readable", read).await
            }
            None => reader.read(&mut buf).await,
        };
        let count = match got {
            Ok(0) => {
                let partial = input.unfinished();
                if partial > 0 {
                    partial_dropped(room, id, fd, partial);
                }
                return Leave::Closed;
            }
            Ok(count) => count,
            Err(e) => return Leave::Failed(errno_of(&e)),
        };
        narrate_read(room, id, fd, &buf[..count]);
        // telnet's option negotiation (IAC ...) is removed before framing, as the room does.
        let (data, negotiation) = telnet.filter(&buf[..count]);
        if negotiation > 0 {
            telnet_removed(room, id, fd, negotiation);
        }
        let lines = input.push(&data);
        {
            let mut room = room.borrow_mut();
            room.counters.bytes_in += count as u64;
            room.last_activity = Instant::now();
        }
        for raw in lines {
            if room::handle_line(room, id, fd, raw).await {
                return Leave::Quit;
            }
        }
    }
}
// ANCHOR_END: read_lines

// ANCHOR: write_queue
/// Writes the client's queue as lines arrive in it, until it is closed (the client
/// was taken out of the room) or a write fails. Lines waiting together go out in one
/// write.
async fn write_queue(
    room: &Shared,
    fd: RawFd,
    writer: &mut OwnedWriteHalf,
    queue: &mut mpsc::Receiver<Line>,
    trace: Option<(&Narrator, &str)>,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(READ_CHUNK);
    loop {
        let next = match trace {
            Some((n, task)) => {
                let recv = std::pin::pin!(queue.recv());
                Traced::new(n, task, format!("recv(queue of fd {fd})"), "another task queued a line", recv)
                    .await
            }
            None => queue.recv().await,
        };
        let Some(line) = next else { return Ok(()) };
        batch.clear();
        batch.extend_from_slice(line.as_bytes());
        while batch.len() < 64 * 1024 {
            match queue.try_recv() {
                Ok(line) => batch.extend_from_slice(line.as_bytes()),
                Err(_) => break,
            }
        }
        // Underneath: sendto(fd); on EAGAIN (send buffer full) the task parks until
        // epoll_wait reports fd writable.
        writer.write_all(&batch).await?;
        room.borrow_mut().counters.bytes_out += batch.len() as u64;
    }
}
// ANCHOR_END: write_queue

/// Shutdown, for one client: its goodbye is written; FIN after it, then read and
/// discard until the client closes too (closing with unread input would send a reset,
/// which can destroy the goodbye before the client reads it).
async fn goodbye(room: &Shared, writer: &mut OwnedWriteHalf, reader: &mut OwnedReadHalf) {
    let _ = writer.shutdown().await;
    let mut sink = [0u8; READ_CHUNK];
    let closed = tokio::time::timeout(GOODBYE, async {
        loop {
            match reader.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    if closed.is_ok() {
        room.borrow_mut().counters.closed_by_peer += 1;
    }
}

/// SIGINT or SIGTERM: goodbye to everyone, wait (briefly) for their tasks to finish.
async fn shutdown(room: &Shared, signal: &'static str, tasks: &mut tokio::task::JoinSet<()>) {
    let n = room.borrow().n.clone();
    n.event_styled(
        "signal",
        json!({"signal": signal, "via": "tokio::signal"}),
        common::narrate::Style::Bold,
        format!("{signal} arrived (tokio's handler woke the main task): shutting down"),
    );
    let out_before = room.borrow().counters.bytes_out;
    let told = room.borrow_mut().shutdown(signal);
    let _ = tokio::time::timeout(GOODBYE + Duration::from_millis(200), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    let flushed = room.borrow().counters.bytes_out - out_before;
    let by_peer = room.borrow().counters.closed_by_peer;
    room::tell(
        room,
        Happening::new(
            "shutdown",
            -1,
            json!({"why": signal, "told": told, "flushed_bytes": flushed, "closed": told, "closed_by_peer": by_peer}),
            format!(
                "told {told} clients \"* server shutting down ({signal}); bye\", flushed {flushed} bytes, closed {told} \
                 connections ({by_peer} had closed their end)"
            ),
        ),
    );
    let line = room.borrow().stats_line();
    n.event("counters", json!({"line": line}), format!("final counters: {line}"));
}

/// The stats port: one line of counters, then close.
async fn serve_stats(room: &Shared, stream: TcpStream) {
    room.borrow_mut().counters.stats_served += 1;
    let fd = stream.as_raw_fd();
    let line = room.borrow().stats_line();
    let wrote = stream.try_write(format!("{line}\n").as_bytes()).unwrap_or(0);
    drop(stream);
    room::tell(
        room,
        Happening::new(
            "stats_served",
            fd,
            json!({"line": line, "bytes": wrote}),
            format!("stats: accept4() = fd {fd}, wrote \"{line}\", closed"),
        ),
    );
}

/// accept() failed: EMFILE and the like. Wait a little before trying again, or the
/// still-pending connection would make the next accept fail at once, again and again.
async fn accept_failed(n: &Narrator, listener: &TcpListener, e: &std::io::Error) {
    let errno = errno_of(e);
    n.event_styled(
        "accept_failed",
        json!({"fd": listener.as_raw_fd(), "errno": common::error::errno_name(errno)}),
        common::narrate::Style::Warn,
        format!(
            "accept4() failed: {} ({}); trying again in 100 ms",
            common::error::errno_name(errno),
            errno.desc()
        ),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The `wait` event: what the main task is about to await.
fn narrate_wait(n: &Narrator, chat: &TcpListener, stats: &TcpListener, timeout: Duration) {
    let (chat_fd, stats_fd) = (chat.as_raw_fd(), stats.as_raw_fd());
    n.event(
        "wait",
        json!({"call": "tokio", "awaits": ["accept", "accept", "SIGINT", "SIGTERM", "timer"],
               "read": [chat_fd, stats_fd], "write": [], "timeout_ms": timeout.as_millis() as u64}),
        format!(
            "main task awaits accept(fd {chat_fd}), accept(fd {stats_fd}), SIGINT, SIGTERM or {} ms of quiet ...",
            timeout.as_millis()
        ),
    );
}

/// Nothing happened for a whole timeout: the timer woke the main task.
fn still_waiting(room: &Shared, timeout: Duration) {
    let mut r = room.borrow_mut();
    r.counters.timeouts += 1;
    r.last_activity = Instant::now();
    let n = r.n.clone();
    drop(r);
    n.event(
        "still_waiting",
        json!({"call": "tokio", "timeout_ms": timeout.as_millis() as u64}),
        format!(
            "  -> the timer woke the main task: nothing happened for {:.3} s, still waiting",
            timeout.as_secs_f64()
        ),
    );
}

/// The `read` event.
fn narrate_read(room: &Shared, id: u64, fd: RawFd, bytes: &[u8]) {
    let nick = room.borrow().nick(id);
    room::tell(
        room,
        Happening::new(
            "read",
            fd,
            json!({"nick": nick, "bytes": bytes.len(), "data": String::from_utf8_lossy(&bytes[..bytes.len().min(80)])}),
            format!(
                "read(fd {fd}, {nick}) = {} bytes: {}",
                bytes.len(),
                common::narrate::show_bytes(bytes, 60)
            ),
        ),
    );
}

/// The `telnet` event: negotiation bytes removed from a client's input.
fn telnet_removed(room: &Shared, id: u64, fd: RawFd, bytes: usize) {
    let nick = room.borrow().nick(id);
    room::tell(
        room,
        Happening::new(
            "telnet",
            fd,
            json!({"nick": nick, "bytes": bytes}),
            format!(
                "{nick}: {bytes} bytes of telnet negotiation (IAC ...) removed before anything is relayed"
            ),
        ),
    );
}

/// The `partial_dropped` event: EOF in the middle of a line.
fn partial_dropped(room: &Shared, id: u64, fd: RawFd, bytes: usize) {
    let nick = room.borrow().nick(id);
    room::tell(
        room,
        Happening::warn(
            "partial_dropped",
            fd,
            json!({"nick": nick, "bytes": bytes}),
            format!("{nick} closed mid-line: {bytes} bytes of an unfinished line dropped"),
        ),
    );
}

fn errno_of(e: &std::io::Error) -> nix::errno::Errno {
    e.raw_os_error().map_or(nix::errno::Errno::EIO, nix::errno::Errno::from_raw)
}

/// The `listening` event, with the readiness servers' fields.
fn listening(n: &Narrator, chat: &std::net::TcpListener, stats: &std::net::TcpListener) -> Result<()> {
    let (c, s) = (chat.local_addr().context("getsockname")?, stats.local_addr().context("getsockname")?);
    n.event(
        "listening",
        json!({"chat": c.to_string(), "chat_fd": chat.as_raw_fd(), "stats": s.to_string(), "stats_fd": stats.as_raw_fd()}),
        format!("listening: chat on {c} (fd {}), stats on {s} (fd {})", chat.as_raw_fd(), stats.as_raw_fd()),
    );
    Ok(())
}

/// `--listen ADDR`: serve for real until SIGINT or SIGTERM, then stop cleanly (exit 0).
pub fn listen(n: &Narrator, addr: SocketAddr) -> Result<()> {
    // The runtime's own fds (its epoll instance, its waker, the signal socket pair)
    // exist before the listening line: whoever reads it sees the server as it will stay.
    let runtime = Runtime::new()?;
    let signals = runtime.signals()?;
    let (chat, stats) = bind(addr, SocketAddr::new(addr.ip(), 0))?;
    let (c, s) = (chat.local_addr().context("getsockname")?, stats.local_addr().context("getsockname")?);
    if n.is_json() {
        listening(n, &chat, &stats)?;
        n.title(TITLE.0, TITLE.1, TITLE.2);
    } else {
        n.say(format!("listening on {c}"));
        n.say(format!(
            "join the chat from other terminals: nc {} {}   (counters: nc {} {})",
            c.ip(),
            c.port(),
            s.ip(),
            s.port()
        ));
        n.title(TITLE.0, TITLE.1, TITLE.2);
        listening(n, &chat, &stats)?;
    }
    n.explain(format!(
        "Ctrl-C (or kill -TERM {}) says goodbye to every client and exits 0",
        std::process::id()
    ));
    let setup = Setup {
        chat,
        stats,
        timeout: LISTEN_TIMEOUT,
        stop: StopRule::Never,
        deadline: None,
        trace: true,
        quiet: false,
    };
    runtime.serve(n, setup, signals).map(|_| ())
}

/// No arguments: the scripted chat (the same script as every chat server), narrated,
/// with the first two clients' polls shown, and checked.
pub fn scenario(n: &Narrator) -> Result<()> {
    n.title(TITLE.0, TITLE.1, TITLE.2);
    let runtime = Runtime::new()?;
    let signals = runtime.signals()?;
    let fds_before = common::fd::count_open_fds()?;
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let (chat, stats) = bind(loopback, loopback)?;
    listening(n, &chat, &stats)?;
    n.explain(format!(
        "scripted clients {} connect from another thread over real TCP; the polls of the first {TRACED_CLIENTS} \
         clients' tasks are narrated ([guestN task] lines)",
        offline::chat_clients::CLIENTS.join(", ")
    ));
    let (chat_addr, stats_addr) =
        (chat.local_addr().context("getsockname")?, stats.local_addr().context("getsockname")?);
    let script = std::thread::spawn(move || offline::chat_clients::run_script(chat_addr, stats_addr));
    let setup = Setup {
        chat,
        stats,
        timeout: SCENARIO_TIMEOUT,
        stop: StopRule::WhenEmptyAfterStats,
        deadline: Some(Instant::now() + Duration::from_secs(9)),
        trace: true,
        quiet: false,
    };
    let served = runtime.serve(n, setup, signals);
    let report = script.join().map_err(|_| Error::msg("chat script", "thread panicked"))?;
    let served = served?;
    if let Some(signal) = served.stopped_by {
        return Err(Error::msg(
            "scripted chat",
            format!("stopped by {signal} before the script finished (every client was told goodbye)"),
        ));
    }
    let report = report?;
    offline::chat_clients::judge_scenario(n, &report, fds_before)
}

/// `--clients N`: N clients at once (in this process, from another thread).
pub fn crowd(n: &Narrator, count: usize) -> Result<()> {
    n.title(TITLE.0, TITLE.1, TITLE.2);
    let want = 2 * count as u64 + 64;
    let limit = common::fd::raise_nofile_limit(want)?;
    if limit < want {
        return Err(Error::msg(
            format!("--clients {count}"),
            format!(
                "needs {want} fds (two per client, both ends in this process) but RLIMIT_NOFILE allows {limit}: \
                 try --clients {} or raise the hard limit (ulimit -Hn, as root)",
                limit.saturating_sub(64) / 2
            ),
        ));
    }
    n.event(
        "nofile_limit",
        json!({"wanted": want, "soft_limit": limit}),
        format!(
            "RLIMIT_NOFILE soft limit: {limit} (raised with setrlimit if below {want}: two fds per client)"
        ),
    );
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let (chat, stats) = bind(loopback, loopback)?;
    listening(n, &chat, &stats)?;
    let (chat_addr, stats_addr) =
        (chat.local_addr().context("getsockname")?, stats.local_addr().context("getsockname")?);
    let crowd = std::thread::spawn(move || offline::chat_clients::run_crowd(chat_addr, stats_addr, count));
    let setup = Setup {
        chat,
        stats,
        timeout: SCENARIO_TIMEOUT,
        stop: StopRule::WhenEmptyAfterStats,
        deadline: Some(Instant::now() + Duration::from_secs(60)),
        trace: false,
        quiet: true,
    };
    let runtime = Runtime::new()?;
    let signals = runtime.signals()?;
    let served = runtime.serve(n, setup, signals);
    let report = crowd.join().map_err(|_| Error::msg("crowd", "thread panicked"))?;
    let served = served?;
    if let Some(signal) = served.stopped_by {
        return Err(Error::msg("crowd", format!("stopped by {signal} before the crowd finished")));
    }
    let report = report?;
    let highest = served.highest_fd;
    n.event(
        "crowd_done",
        json!({"clients": count, "connected": report.connected, "served": report.served,
               "refused": report.refused, "got_message": report.got_message, "highest_fd": highest}),
        report.summary(highest),
    );
    Ok(())
}
