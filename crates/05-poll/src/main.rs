//! poll: the notes' chat server on `poll()` (notes: "4. poll()").
//!
//! Run it: `just run poll` (the same scripted chat as `just run select`), `just run poll
//! --listen 127.0.0.1:7000` and chat with `nc 127.0.0.1 7000` from two other terminals,
//! or `just run poll --clients 2000`.
//!
//! What to watch for:
//! * `poll(fds: POLLIN on {..}, POLLOUT on {..}; nfds=N)`: nfds is the array's length,
//!   not select's highest-fd-plus-one;
//! * `-> poll returned N`: the fds whose `revents` is non-zero, with the flags the
//!   kernel set (POLLIN, POLLOUT, POLLHUP, POLLERR, POLLNVAL);
//! * `returned 0 ... still waiting`: the timeout branch, during the script's idle gap;
//! * `--clients 2000`: every client served, fds far past 1023.
//!
//! Where it differs from the notes: poll() returns the *number* of ready entries, not
//! "a bitwise OR" of flags (the flags are in each entry's `revents`), and its array is
//! passed as `pollfds`, not `&pollfds`. POLLERR, POLLHUP and POLLNVAL arrive whether
//! or not they were asked for, and each is handled here.

use clap::Parser;
use std::net::SocketAddr;

/// A chat server on poll(): one thread, an array of pollfds.
#[derive(Parser, Debug)]
#[command(
    name = "poll",
    version,
    about = "The notes' chat server on poll(): a pollfd array, revents flags, no FD_SETSIZE limit.",
    long_about = "The notes' chat server on poll(). One thread serves every client: it fills an array of \
                  pollfds (POLLIN for every socket, POLLOUT for clients with queued output), sleeps in poll() \
                  until something is ready or the timeout passes, then handles each entry's revents: POLLIN, \
                  POLLOUT, POLLHUP, POLLERR, POLLNVAL. With no arguments it runs a scripted chat over real \
                  TCP and checks what every client received.",
    after_help = "Examples:\n  poll\n      the scripted chat, narrated (exits 0 when every client got exactly its lines)\n  poll --listen 127.0.0.1:7000\n      a real server; then, in two other terminals: nc 127.0.0.1 7000\n  poll --clients 2000\n      2000 clients at once, all served (select refuses fds from 1024 up)\n\nExit status: 0 when the run did what it set out to do (no arguments: every client got\nexactly its script; --clients: every client served); 1 when a call failed or a client\ngot something else (the error line says which); 2 for bad usage. --listen runs until\nCtrl-C, which ends it."
)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    /// Serve for real on ADDR (e.g. 127.0.0.1:7000; port 0 picks one) until Ctrl-C
    #[arg(long, value_name = "ADDR", value_parser = common::cli::parse_listen_addr, conflicts_with = "clients")]
    listen: Option<SocketAddr>,

    /// Connect N scripted clients at once (raises RLIMIT_NOFILE; no FD_SETSIZE limit)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=8000))]
    clients: Option<u32>,
}

fn run() -> common::Result<()> {
    let cli = Cli::parse();
    let n = cli.common.narrator();
    match (cli.listen, cli.clients) {
        (Some(addr), _) => poll::listen(&n, addr),
        (None, Some(count)) => poll::crowd(&n, count as usize),
        (None, None) => poll::scenario(&n),
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
