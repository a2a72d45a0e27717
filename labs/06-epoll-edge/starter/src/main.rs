//! epoll-edge: lab 6's starter. An echo server that serves ONE client at a time.
//!
//! The assignment is in `labs/06-epoll-edge/README.md`; hints in `hints.md` next to it.
//! Run it: `cargo run -q -p epoll-edge -- --listen 127.0.0.1:7000`, then `nc 127.0.0.1
//! 7000` in two other terminals: the first is echoed, the second waits until the first
//! leaves. Mark it: `just lab epoll-edge`.
//!
//! It works, for one client: it blocks in `accept()`, then in `read()` on that one
//! client until it leaves. Your job: one thread that waits in `epoll_wait()` with the
//! listener and every client registered edge-triggered (`EPOLLET`), as the epoll demo
//! does with `--edge` (`just run epoll --edge`; the book's epoll chapter). If you did
//! lab 1, your poll() server is a fine place to start from instead. Each `// TODO`
//! below marks a place that has to change.

use clap::Parser;
use common::{Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// An echo server: every byte a client sends comes back to that client.
#[derive(Parser, Debug)]
#[command(
    name = "epoll-edge",
    about = "Lab 6: an echo server (the starter serves one client at a time; make it serve many with edge-triggered epoll)",
    after_help = "Examples:\n  epoll-edge --listen 127.0.0.1:7000\n      then, in two other terminals: nc 127.0.0.1 7000\n  epoll-edge --listen 127.0.0.1:0\n      any free port; the first line says which"
)]
struct Cli {
    /// Address to listen on (port 0: the kernel picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7000")]
    listen: SocketAddr,
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let listener = TcpListener::bind(cli.listen).with_context(|| format!("bind {}", cli.listen))?;
    // With port 0 the kernel chose the port: ask it which (getsockname), because the
    // checker reads this line to know where to connect. It must be the first line.
    let addr = listener.local_addr().context("getsockname")?;
    println!("listening on {addr}");

    // TODO: make the listener non-blocking; create an epoll instance
    // (nix::sys::epoll::Epoll::new) and register the listener with EPOLLIN | EPOLLET.
    // Then, instead of this loop, loop around one epoll_wait():
    //   - the listener reported: accept() until it fails with EAGAIN (WouldBlock);
    //     register each new client, non-blocking, with EPOLLET;
    //   - a client reported: write what is queued, read, again, until EAGAIN;
    //   - read() = 0, or an error: take it off the interest list and close it.
    loop {
        // TODO: accept() blocks until a client connects. Call it only when epoll says
        // the listener is ready, and then until EAGAIN: one report may stand for many
        // connections.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        println!("{peer} connected");
        // TODO: this serves one client until it leaves; everyone else waits in the
        // listen queue. Each client needs its own state instead (its socket and the
        // bytes read but not yet echoed), found from the data epoll hands back.
        match serve(stream) {
            Ok(bytes) => println!("{peer} left after {bytes} bytes"),
            Err(e) => println!("{peer} left: {e}"),
        }
    }
}

/// Echoes everything `stream` sends until it closes; returns how many bytes.
fn serve(mut stream: TcpStream) -> std::io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        // TODO: read() blocks until *this* client sends something. On a non-blocking
        // socket it fails with EAGAIN instead: edge-triggered, read until it does, or
        // the bytes left behind wait for an edge that may never come.
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total); // the client closed its end
        }
        total += n as u64;
        // TODO: write_all() blocks while the client is not reading its echoes. Write
        // what the socket takes, keep the rest, and carry on when EPOLLOUT's edge says
        // there is room again (then read on: bytes already waiting bring no new edge).
        stream.write_all(&buf[..n])?;
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
