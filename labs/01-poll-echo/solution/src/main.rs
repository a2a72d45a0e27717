//! poll-echo-solution: lab 1's reference. An echo server for many clients at once, on
//! one thread, with `poll()` (notes: "4. poll()").
//!
//! Run it: `cargo run -q -p poll-echo-solution -- --listen 127.0.0.1:7000` and `nc
//! 127.0.0.1 7000` from several terminals; mark it: `just lab poll-echo --solution`.
//! The same program in C is `c/poll_echo.c`.
//!
//! The shape: every socket is non-blocking, and the only place the program waits is
//! `poll()`. Each client has a queue of bytes read but not yet echoed. A client is
//! asked for POLLIN while its queue has room and for POLLOUT only while the queue has
//! something in it (an idle socket is always writable: asking anyway would make poll()
//! return at once, forever). A client that never reads its echoes fills its queue, is
//! then not read either, and holds up nobody but itself.

use clap::Parser;
use common::sys::signal::{install_flag_handler, is_pending};
use common::{Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};

/// Most bytes queued for one client before the server stops reading from it.
const MAX_QUEUED: usize = 64 * 1024;

/// An echo server for many clients: one thread, one poll() loop.
#[derive(Parser, Debug)]
#[command(
    name = "poll-echo-solution",
    about = "Lab 1 reference: an echo server for many clients, one thread, poll()",
    after_help = "Examples:\n  poll-echo-solution --listen 127.0.0.1:7000\n      then, in several other terminals: nc 127.0.0.1 7000\n  poll-echo-solution --listen 127.0.0.1:0\n      any free port; the first line says which"
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
    /// read() returned 0: the client will send nothing more. It stays until its last
    /// echo is written (`printf 'hi\n' | nc -N` closes its sending side at once).
    eof: bool,
}

/// What happened to a client during one wake-up: still here, or gone and why.
enum Outcome {
    Stays,
    Gone(String),
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let listener = TcpListener::bind(cli.listen).with_context(|| format!("bind {}", cli.listen))?;
    // Non-blocking: poll() may report the listener readable for a connection that is
    // reset before accept() runs; a blocking accept() would then wait for the next one.
    listener.set_nonblocking(true).context("set O_NONBLOCK on the listener")?;
    let addr = listener.local_addr().context("getsockname")?;
    println!("listening on {addr}");

    // SIGINT and SIGTERM set a flag instead of killing the process, so the loop can
    // close its clients and exit 0. poll() fails with EINTR when a signal arrives while
    // it sleeps; a signal that lands just before poll() is seen at the next timeout
    // (ppoll() closes that gap; the pselect demo shows the race).
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        install_flag_handler(signal).with_context(|| format!("sigaction({signal})"))?;
    }

    let mut clients: Vec<Client> = Vec::new();
    // Set when accept() fails with EMFILE: the listener stays readable, so polling it
    // would spin until a client leaves and frees an fd.
    let mut accept_paused = false;
    loop {
        if let Some(signal) = [Signal::SIGINT, Signal::SIGTERM].into_iter().find(|&s| is_pending(s)) {
            println!("{signal}: closing {} clients, exiting", clients.len());
            return Ok(()); // dropping `clients` closes every socket
        }

        // The pollfd array, rebuilt each time from the clients: entry 0 is the
        // listener, entry i + 1 is clients[i]. PollFd borrows each fd, so no fd can be
        // closed while poll() is looking at it.
        let mut pollfds = Vec::with_capacity(clients.len() + 1);
        let listen_for = if accept_paused { PollFlags::empty() } else { PollFlags::POLLIN };
        pollfds.push(PollFd::new(listener.as_fd(), listen_for));
        for client in &clients {
            let mut events = PollFlags::empty();
            if client.queued.len() < MAX_QUEUED && !client.eof {
                events |= PollFlags::POLLIN;
            }
            if !client.queued.is_empty() {
                events |= PollFlags::POLLOUT;
            }
            pollfds.push(PollFd::new(client.stream.as_fd(), events));
        }

        match poll(&mut pollfds, PollTimeout::from(1000u16)) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue, // a signal: the flag check at the top decides
            Err(e) => return Err(common::Error::os("poll", e)),
        }
        // Copy the results out, ending the borrows, so clients can be changed below.
        let revents: Vec<PollFlags> =
            pollfds.iter().map(|p| p.revents().unwrap_or(PollFlags::empty())).collect();
        drop(pollfds);

        // Clients first, from the last to the first: removing clients[i] then leaves
        // the indexes of the ones still to be handled unchanged.
        for i in (0..clients.len()).rev() {
            let flags = revents[i + 1];
            if flags.is_empty() {
                continue;
            }
            if let Outcome::Gone(why) = service(&mut clients[i], flags) {
                let client = clients.remove(i); // dropping its TcpStream closes the fd
                println!("{} left: {why} ({} clients)", client.peer, clients.len());
                accept_paused = false;
            }
        }

        if revents[0].contains(PollFlags::POLLIN) {
            // Several connections may be waiting: accept until EAGAIN says none are.
            loop {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        if let Err(e) = stream.set_nonblocking(true) {
                            println!("{peer}: cannot set O_NONBLOCK ({e}); closed");
                            continue;
                        }
                        println!(
                            "{peer} connected on fd {} ({} clients)",
                            stream.as_raw_fd(),
                            clients.len() + 1
                        );
                        clients.push(Client { stream, peer, queued: Vec::new(), eof: false });
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e)
                        if e.raw_os_error()
                            .map(Errno::from_raw)
                            .is_some_and(|n| n == Errno::EMFILE || n == Errno::ENFILE) =>
                    {
                        println!("accept: {e}: no fds left; not accepting until a client leaves");
                        accept_paused = true;
                        break;
                    }
                    // ECONNABORTED and friends: that one connection is gone; carry on.
                    Err(e) => {
                        println!("accept: {e}");
                        break;
                    }
                }
            }
        }
    }
}

/// Handles one client's `revents`: at most one write and one read, so that no client
/// can keep the others waiting.
fn service(client: &mut Client, flags: PollFlags) -> Outcome {
    if flags.contains(PollFlags::POLLNVAL) {
        return Outcome::Gone("POLLNVAL: not an open fd (a bug: it was closed but kept in the array)".into());
    }
    // Write before reading, so that echoes already queued go out even if this read
    // finds the end of the stream.
    if flags.contains(PollFlags::POLLOUT) && !client.queued.is_empty() {
        // Non-blocking write: takes what fits in the socket buffer, maybe less than
        // all. The rest stays queued until the next POLLOUT.
        match client.stream.write(&client.queued) {
            Ok(n) => {
                client.queued.drain(..n);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            // EPIPE or ECONNRESET: the peer is gone. (Rust ignores SIGPIPE, so this is
            // an error, not a dead server; in C, ignore SIGPIPE yourself.)
            Err(e) => return Outcome::Gone(format!("write: {e}")),
        }
    }
    // POLLHUP and POLLERR arrive whether asked for or not. Reading is the way to find
    // out what they mean: the bytes still buffered, then 0 (EOF) or the error itself.
    if !client.eof && flags.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
        let mut buf = [0u8; 4096];
        match client.stream.read(&mut buf) {
            Ok(0) => client.eof = true,
            Ok(n) => client.queued.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(e) => return Outcome::Gone(format!("read: {e}")), // ECONNRESET after a peer's RST
        }
    }
    if client.eof && client.queued.is_empty() {
        return Outcome::Gone("closed".into());
    }
    Outcome::Stays
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
