//! epoll-edge-solution: lab 6's reference. Lab 1's echo server, on one thread, waiting
//! in `epoll_wait()` with every socket registered edge-triggered (`EPOLLET`).
//!
//! Run it: `cargo run -q -p epoll-edge-solution -- --listen 127.0.0.1:7000` and `nc
//! 127.0.0.1 7000` from several terminals; mark it: `just lab epoll-edge --solution`.
//! The same server in C is `c/epoll_echo.c` (which registers EPOLLOUT once, for good;
//! this one asks for it only while an echo waits: both are right). The technique is
//! narrated by `just run epoll --edge` (the book's epoll chapter, "Edge-triggered").
//!
//! Edge-triggered: epoll reports a socket when it *changes* (bytes arrived, a
//! connection came, room opened up to write), not while it stays ready. So each report
//! is worked off until the kernel says EAGAIN: accept until EAGAIN, read until EAGAIN,
//! write until EAGAIN or nothing is left. What is left behind waits for an edge that
//! may never come.

use clap::Parser;
use common::{Context, Result};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

/// The listener's token in the interest list; a client's is its fd (never 0 or below:
/// 0-2 are stdin, stdout and stderr, and the listener was opened first).
const LISTENER: u64 = u64::MAX;

/// Most reports one epoll_wait hands back (more wait for the next call, none lost).
const MAX_EVENTS: usize = 64;

/// An echo server for many clients: one thread, edge-triggered epoll.
#[derive(Parser, Debug)]
#[command(
    name = "epoll-edge-solution",
    about = "Lab 6 reference: an echo server for many clients, one thread, edge-triggered epoll",
    after_help = "Examples:\n  epoll-edge-solution --listen 127.0.0.1:7000\n      then, in several other terminals: nc 127.0.0.1 7000\n  epoll-edge-solution --listen 127.0.0.1:0\n      any free port; the first line says which"
)]
struct Cli {
    /// Address to listen on (port 0: the kernel picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7000")]
    listen: SocketAddr,
}

/// One connected client.
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    /// Read from the client, not yet written back.
    queued: Vec<u8>,
    /// EPOLLOUT is in its registration (an echo is waiting for room).
    wants_out: bool,
}

/// What one report left a client as: still here, or gone and why.
enum Outcome {
    Stays,
    Gone(String),
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let listener = TcpListener::bind(cli.listen).with_context(|| format!("bind {}", cli.listen))?;
    // Non-blocking everywhere: "until EAGAIN" needs a call that *can* say EAGAIN. On
    // a blocking socket the last read() (or accept()) of each drain would sleep.
    listener.set_nonblocking(true).context("set O_NONBLOCK on the listener")?;
    let addr = listener.local_addr().context("getsockname")?;
    println!("listening on {addr}");

    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1")?;
    epoll
        .add(&listener, EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, LISTENER))
        .context("epoll_ctl(EPOLL_CTL_ADD, listener)")?;

    // SIGINT and SIGTERM keep their default action: the process ends, the kernel
    // closes every socket. (A handler would make epoll_wait fail with EINTR.)
    let mut clients: HashMap<u64, Client> = HashMap::new();
    let mut events = [EpollEvent::empty(); MAX_EVENTS];
    loop {
        let ready = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(n) => n,
            // Also after SIGSTOP and SIGCONT, with no handler at all (signal(7)).
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(common::Error::os("epoll_wait", e)),
        };
        for event in &events[..ready] {
            let token = event.data();
            if token == LISTENER {
                accept_all(&listener, &epoll, &mut clients);
                continue;
            }
            let Some(client) = clients.get_mut(&token) else { continue };
            // EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP or EPOLLERR: whichever it was,
            // pump() finds out by trying (read() returns the bytes, 0, or the error).
            if let Outcome::Gone(why) = pump(client, &epoll) {
                if let Some(gone) = clients.remove(&token) {
                    // Off the interest list first, then closed (dropping the stream).
                    let _ = epoll.delete(&gone.stream);
                    println!("{} left: {why} ({} clients)", gone.peer, clients.len());
                }
            }
        }
    }
}

/// The listener's edge may stand for many connections that arrived together: accept
/// until EAGAIN, or the rest wait in the listen queue until some later connection
/// makes another edge.
fn accept_all(listener: &TcpListener, epoll: &Epoll, clients: &mut HashMap<u64, Client>) {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return, // drained
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // EMFILE and friends: the rest stay queued until a new connection's edge.
            Err(e) => {
                println!("accept: {e}");
                return;
            }
        };
        if let Err(e) = stream.set_nonblocking(true) {
            println!("{peer}: cannot set O_NONBLOCK ({e}); closed");
            continue;
        }
        let token = stream.as_raw_fd() as u64;
        // EPOLLRDHUP: told when the client shuts its sending side. Reading finds the
        // same thing (0), so it is here only to be woken for it.
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLET;
        if let Err(e) = epoll.add(&stream, EpollEvent::new(flags, token)) {
            println!("{peer}: epoll_ctl(EPOLL_CTL_ADD): {e}; closed");
            continue;
        }
        println!("{peer} connected on fd {token} ({} clients)", clients.len() + 1);
        // Bytes it sent before the ADD: ADD of a ready socket reports it at once.
        clients.insert(token, Client { stream, peer, queued: Vec::new(), wants_out: false });
    }
}

/// Everything one report allows, until the kernel says EAGAIN: write what is queued;
/// with the queue empty, read more; again. Stops when a write would block (then
/// EPOLLOUT is asked for, and its edge brings us back to write, and to read on:
/// bytes that were already waiting bring no new EPOLLIN edge), or a read would.
fn pump(client: &mut Client, epoll: &Epoll) -> Outcome {
    let mut buf = [0u8; 4096];
    loop {
        while !client.queued.is_empty() {
            match client.stream.write(&client.queued) {
                Ok(n) => {
                    client.queued.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return want_out(client, epoll, true),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // EPIPE or ECONNRESET: the peer is gone (Rust ignores SIGPIPE).
                Err(e) => return Outcome::Gone(format!("write: {e}")),
            }
        }
        match client.stream.read(&mut buf) {
            Ok(0) => return Outcome::Gone("closed".into()), // its every byte was echoed above
            Ok(n) => client.queued.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return want_out(client, epoll, false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Outcome::Gone(format!("read: {e}")), // ECONNRESET after a peer's RST
        }
    }
}

/// Asks for EPOLLOUT while an echo waits for room, and stops asking once it went.
/// EPOLL_CTL_MOD also re-arms the edge: a socket that is ready when modified is
/// reported at once.
fn want_out(client: &mut Client, epoll: &Epoll, out: bool) -> Outcome {
    if client.wants_out == out {
        return Outcome::Stays;
    }
    let mut flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLET;
    flags.set(EpollFlags::EPOLLOUT, out);
    let mut event = EpollEvent::new(flags, client.stream.as_raw_fd() as u64);
    match epoll.modify(&client.stream, &mut event) {
        Ok(()) => {
            client.wants_out = out;
            Outcome::Stays
        }
        Err(e) => Outcome::Gone(format!("epoll_ctl(EPOLL_CTL_MOD): {e}")),
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
