//! pselect: the notes' chat server on `pselect()`, stopping cleanly on a signal
//! (notes: "4. pselect()").
//!
//! Run it: `just run pselect` (the scripted chat), `just run pselect --listen
//! 127.0.0.1:7000` (chat with `nc 127.0.0.1 7000`, then Ctrl-C: every client gets a
//! goodbye), or `just run pselect --show-race` (the lost wake-up pselect prevents).
//!
//! What to watch for:
//! * `pthread_sigmask(SIG_BLOCK, ...)` at the start: SIGINT, SIGTERM and SIGUSR1 stay
//!   blocked everywhere except inside pselect(), whose sigmask argument unblocks them;
//! * `pselect failed with EINTR`: a signal arrived while waiting; the loop then checks
//!   its flags (SIGUSR1 prints the counters, SIGINT/SIGTERM shut down);
//! * `--show-race`: select() sleeps its whole timeout through a signal that arrived
//!   just before it, pselect() wakes at once.
//!
//! Where it differs from the notes: the notes say pselect() "is the same as" setting
//! the mask, calling select(), and restoring the mask. It is not: a signal delivered
//! between the mask change and select() is missed until select() returns on its own.
//! pselect() makes the two steps one, in the kernel. `--show-race` shows the gap.

use clap::Parser;
use std::net::SocketAddr;

/// A chat server on pselect(): signals without the race.
#[derive(Parser, Debug)]
#[command(
    name = "pselect",
    version,
    about = "The notes' chat server on pselect(): SIGINT/SIGTERM end it cleanly, without the select() race.",
    long_about = "The notes' chat server on pselect(). SIGINT, SIGTERM and SIGUSR1 are blocked everywhere \
                  except inside pselect(), which unblocks them atomically while it waits: a signal can never \
                  slip in between checking the flag and going to sleep. SIGINT/SIGTERM tell every client \
                  goodbye, flush, close and exit 0; SIGUSR1 prints the counters. With no arguments it runs a \
                  scripted chat over real TCP and checks what every client received.",
    after_help = "Examples:\n  pselect\n      the scripted chat, narrated (exits 0 when every client got exactly its lines)\n  pselect --listen 127.0.0.1:7000\n      a real server (nc 127.0.0.1 7000 to join); Ctrl-C says goodbye and exits 0\n  pselect --show-race\n      the lost wake-up: select() sleeps through a signal, pselect() does not\n\nExit status: 0 when the run did what it set out to do (no arguments: every client got\nexactly its script; --listen: stopped by Ctrl-C or SIGTERM; --show-race: the race\nshown); 1 when a call failed, a client got something else, or a signal stopped the run\nearly (the error line says which); 2 for bad usage."
)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    /// Serve for real on ADDR (e.g. 127.0.0.1:7000; port 0 picks one) until SIGINT/SIGTERM
    #[arg(long, value_name = "ADDR", value_parser = common::cli::parse_listen_addr, conflicts_with_all = ["clients", "show_race"])]
    listen: Option<SocketAddr>,

    /// Connect N scripted clients at once (pselect shares select's FD_SETSIZE limit)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=8000), conflicts_with = "show_race")]
    clients: Option<u32>,

    /// Show the lost wake-up: a signal just before select() vs just before pselect()
    #[arg(long)]
    show_race: bool,
}

fn run() -> common::Result<()> {
    let cli = Cli::parse();
    let n = cli.common.narrator();
    if cli.show_race {
        return pselect::show_race(&n);
    }
    match (cli.listen, cli.clients) {
        (Some(addr), _) => pselect::listen(&n, addr),
        (None, Some(count)) => pselect::crowd(&n, count as usize),
        (None, None) => pselect::scenario(&n),
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
