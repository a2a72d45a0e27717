//! tokio-chat: the chat server in async Rust (beyond the notes; compare `just run epoll`).
//!
//! Run it: `just run tokio-chat` (the same scripted chat as the other chat servers),
//! `just run tokio-chat --listen 127.0.0.1:7000` and chat with `nc 127.0.0.1 7000`, or
//! `just run tokio-chat --clients 2000`; `just trace tokio-chat` shows the system calls
//! underneath.
//!
//! What to watch for:
//! * `[guest1 task] poll #N of read(fd 9): ... -> Pending`: an `.await` that could not
//!   finish; the task sleeps until the reactor's epoll_wait reports the socket;
//! * `woken: its socket is readable -> Ready`: the same future, polled again after the
//!   wake-up, with the data;
//! * `polled without a wake-up of its own`: a task is one future; when its queue is
//!   woken, its read is polled too (and says Pending again);
//! * no wait call in the program: the runtime makes it (epoll_wait, under strace).
//!
//! Where it differs from the notes: the notes wait explicitly (select, poll); here the
//! waiting is the runtime's, and each `.await` is one turn of the epoll demo's loop.

use clap::Parser;
use std::net::SocketAddr;

/// The chat server in async Rust: tokio's current-thread runtime, a task per client.
#[derive(Parser, Debug)]
#[command(
    name = "tokio-chat",
    version,
    about = "The chat server in async Rust: a task per client, a bounded queue each, tokio's epoll underneath.",
    long_about = "The same chat protocol as the select, poll and epoll servers, written with tokio on one thread: \
                  the main task awaits accept(), each client's task awaits read() and drains its own bounded \
                  output queue; a client whose queue stays full is cut off. The first clients' polls are \
                  narrated: when a task's future returned Pending, and which readiness woke it. With no arguments \
                  it runs the scripted chat over real TCP and checks what every client received.",
    after_help = "Examples:\n  tokio-chat\n      the scripted chat, narrated, with the first two clients' task polls\n  tokio-chat --listen 127.0.0.1:7000\n      a real server; then, in two other terminals: nc 127.0.0.1 7000 (Ctrl-C: goodbye to all)\n  tokio-chat --clients 2000\n      2000 clients at once, one thread\n\nExit status: 0 when the run did what it set out to do (no arguments: every client got\nexactly its script; --listen: stopped by Ctrl-C or SIGTERM; --clients: every client\nserved and given the broadcast line); 1 when a call failed, a client got something else,\nor a signal stopped the run early (the error line says which); 2 for bad usage."
)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    /// Serve for real on ADDR (e.g. 127.0.0.1:7000; port 0 picks one) until SIGINT/SIGTERM
    #[arg(long, value_name = "ADDR", value_parser = common::cli::parse_listen_addr, conflicts_with = "clients")]
    listen: Option<SocketAddr>,

    /// Connect N scripted clients at once (raises RLIMIT_NOFILE)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=8000))]
    clients: Option<u32>,
}

fn run() -> common::Result<()> {
    let cli = Cli::parse();
    let n = cli.common.narrator();
    match (cli.listen, cli.clients) {
        (Some(addr), _) => tokio_chat::listen(&n, addr),
        (None, Some(count)) => tokio_chat::crowd(&n, count as usize),
        (None, None) => tokio_chat::scenario(&n),
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
