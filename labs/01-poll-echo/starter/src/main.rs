//! poll-echo: lab 1's starter. An echo server that serves ONE client at a time.
//!
//! The assignment is in `labs/01-poll-echo/README.md`; hints in `hints.md` next to it.
//! Run it: `cargo run -q -p poll-echo -- --listen 127.0.0.1:7000`, then `nc 127.0.0.1
//! 7000` in two other terminals: the first is echoed, the second waits until the first
//! leaves. Mark it: `just lab poll-echo`.
//!
//! It works, for one client. It blocks in `accept()` until someone connects, then in
//! `read()` until *that* client sends something, and it only goes back to `accept()`
//! when that client leaves. Your job: one thread that waits on every socket at once
//! with `poll()` (notes: "4. poll()"), so that no client can hold up another. Each
//! `// TODO` below marks a place that has to change.

use clap::Parser;
use common::{Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// An echo server: every byte a client sends comes back to that client.
#[derive(Parser, Debug)]
#[command(
    name = "poll-echo",
    about = "Lab 1: an echo server (the starter serves one client at a time; make it serve many with poll())",
    after_help = "Examples:\n  poll-echo --listen 127.0.0.1:7000\n      then, in two other terminals: nc 127.0.0.1 7000\n  poll-echo --listen 127.0.0.1:0\n      any free port; the first line says which"
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

    // TODO: make the listener non-blocking and keep a list of clients; then, instead of
    // this loop, loop around one poll() over the listener and every client socket:
    //   - the listener readable: accept() the new client and add it to the list;
    //   - a client readable: read() once, queue what came for writing back;
    //   - a client writable (ask for POLLOUT only while it has something queued): write;
    //   - read() = 0, or an error, or POLLHUP/POLLERR: close it and take it off the list.
    loop {
        // TODO: accept() blocks until a client connects. With poll(), call it only when
        // poll() says the listener is readable, so it returns at once.
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
        // bytes read but not yet echoed), kept in the list that poll() watches.
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
        // TODO: read() blocks until *this* client sends something (a client that sends
        // half a line and stalls stalls the whole server). Read only when poll() said
        // the socket is readable, and only once per wake-up.
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total); // the client closed its end
        }
        total += n as u64;
        // TODO: write_all() blocks while the client is not reading its echoes. Keep the
        // bytes in the client's queue and write them when poll() reports POLLOUT.
        stream.write_all(&buf[..n])?;
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
