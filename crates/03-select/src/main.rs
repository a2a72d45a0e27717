//! select: the notes' chat server on `select()` (notes: "3. using select()").
//!
//! Run it: `just run select` (a scripted chat: four clients join, talk, rename, send a
//! terminal escape, one vanishes mid-line, the rest quit), or `just run select --listen
//! 127.0.0.1:7000` and chat with `nc 127.0.0.1 7000` from two other terminals.
//!
//! What to watch for:
//! * every `select(nfds=.., read={..}, write={..})` line: the sets are rebuilt each
//!   turn, nfds is the highest fd plus one, and the write set holds only clients with
//!   queued output;
//! * `-> select returned N`: which fds woke it and whose they are;
//! * `returned 0 ... still waiting`: the timeout branch, during the script's idle gap;
//! * `--clients 2000`: fds from 1024 up are refused, because an fd_set cannot hold them.
//!
//! Where it differs from the notes: the notes write relayed messages straight to the
//! other sockets; here each client has a bounded output queue flushed when select()
//! says its socket is writable, so one client that stops reading cannot stall the
//! room. And the notes never mention FD_SETSIZE: an fd_set holds fds 0..1023 only.

use clap::Parser;
use std::net::SocketAddr;

/// A chat server on select(): one thread waits on every socket at once.
#[derive(Parser, Debug)]
#[command(
    name = "select",
    version,
    about = "The notes' chat server on select(): fd sets rebuilt every loop, the timeout branch, FD_SETSIZE.",
    long_about = "The notes' chat server on select(). One thread serves every client: it builds a read set \
                  (listeners, clients) and a write set (clients with queued output), sleeps in select() until \
                  something is ready or the timeout passes, then handles only what is ready. With no \
                  arguments it runs a scripted chat over real TCP and checks what every client received.",
    after_help = "Examples:\n  select\n      the scripted chat, narrated (exits 0 when every client got exactly its lines)\n  select --listen 127.0.0.1:7000\n      a real server; then, in two other terminals: nc 127.0.0.1 7000\n  select --clients 2000\n      2000 clients at once: fds from 1024 up are refused (try it with poll)\n\nExit status: 0 when the run did what it set out to do (no arguments: every client got\nexactly its script; --clients: the crowd ran, those past FD_SETSIZE refused and\ncounted); 1 when a call failed or a client got something else (the error line says\nwhich); 2 for bad usage. --listen runs until Ctrl-C, which ends it."
)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    /// Serve for real on ADDR (e.g. 127.0.0.1:7000; port 0 picks one) until Ctrl-C
    #[arg(long, value_name = "ADDR", value_parser = common::cli::parse_listen_addr, conflicts_with = "clients")]
    listen: Option<SocketAddr>,

    /// Connect N scripted clients at once (shows select's FD_SETSIZE limit)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=8000))]
    clients: Option<u32>,
}

fn run() -> common::Result<()> {
    let cli = Cli::parse();
    let n = cli.common.narrator();
    match (cli.listen, cli.clients) {
        (Some(addr), _) => select::listen(&n, addr),
        (None, Some(count)) => select::crowd(&n, count as usize),
        (None, None) => select::scenario(&n),
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
