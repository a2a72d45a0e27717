//! epoll: the chat server on `epoll` (beyond the notes; compare `just run poll`).
//!
//! Run it: `just run epoll` (the same scripted chat as select and poll), `just run epoll
//! --edge` (edge-triggered), `just run epoll --show-et-bug`, `just run epoll --listen
//! 127.0.0.1:7000` and chat with `nc 127.0.0.1 7000`, or `just run epoll --clients 10000`.
//!
//! What to watch for:
//! * `epoll_ctl(EPOLL_CTL_ADD, fd N, ...)` once per fd, `EPOLL_CTL_MOD` only when a
//!   client's queue turns non-empty (EPOLLOUT on) or empty (off), `EPOLL_CTL_DEL` just
//!   before a close; most turns make no epoll_ctl call at all;
//! * `epoll_wait(epfd=.., maxevents=..)`: no list goes in, only ready fds come out;
//! * `--edge`: `drained with N read(s), until EAGAIN`: the rule edge-triggering brings;
//! * `--show-et-bug`: bytes stranded in a socket with no report, until the peer speaks;
//! * Ctrl-C with `--listen`: `read(signalfd) = SIGINT`, then a goodbye to every client.
//!
//! Where it differs from the notes: the notes end with poll(); epoll is Linux's own
//! answer to poll's cost per call (the whole array, every time). See the book chapter
//! "epoll".

use clap::Parser;
use epoll::interest::Trigger;
use std::net::SocketAddr;

/// A chat server on epoll: one thread, an interest list kept in the kernel.
#[derive(Parser, Debug)]
#[command(
    name = "epoll",
    version,
    about = "The chat server on epoll: EPOLL_CTL_ADD/MOD/DEL, epoll_wait, edge-triggered mode, signalfd.",
    long_about = "The notes' chat server on Linux's epoll. The fds are registered once in the kernel's interest \
                  list (epoll_ctl ADD), changed only when a client's wish changes (MOD: EPOLLOUT on while its \
                  output queue is non-empty), removed before close (DEL); epoll_wait hands back only the ready \
                  fds. SIGINT/SIGTERM arrive through a signalfd in the same wait. With no arguments it runs a \
                  scripted chat over real TCP and checks what every client received.",
    after_help = "Examples:\n  epoll\n      the scripted chat, narrated (exits 0 when every client got exactly its lines)\n  epoll --edge\n      the same, edge-triggered: every fd drained until EAGAIN\n  epoll --show-et-bug\n      the classic edge-triggered mistake, then its fix\n  epoll --listen 127.0.0.1:7000\n      a real server; then, in two other terminals: nc 127.0.0.1 7000 (Ctrl-C: goodbye to all)\n  epoll --clients 10000\n      ten thousand clients on one thread (the clients run in a second process)\n\nExit status: 0 when the run did what it set out to do (no arguments: every client got\nexactly its script; --listen: stopped by Ctrl-C or SIGTERM; --clients: every client\nserved and given the broadcast line; --show-et-bug: the bug shown and fixed); 1 when a\ncall failed, a client got something else, or a signal stopped the run early (the error\nline says which); 2 for bad usage."
)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    /// Serve for real on ADDR (e.g. 127.0.0.1:7000; port 0 picks one) until SIGINT/SIGTERM
    #[arg(long, value_name = "ADDR", value_parser = common::cli::parse_listen_addr, conflicts_with_all = ["clients", "show_et_bug"])]
    listen: Option<SocketAddr>,

    /// Connect N scripted clients at once, from a second process (raises RLIMIT_NOFILE)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000), conflicts_with = "show_et_bug")]
    clients: Option<u32>,

    /// Edge-triggered (EPOLLET): each fd is reported when it becomes ready; drain until EAGAIN
    #[arg(long)]
    edge: bool,

    /// Show the edge-triggered bug (one read per wake-up strands input), then the fix
    #[arg(long, conflicts_with = "edge")]
    show_et_bug: bool,

    /// (internal) the --clients crowd's client side: CHAT STATS COUNT
    #[arg(long = "crowd-child", hide = true, num_args = 3, value_names = ["CHAT", "STATS", "COUNT"])]
    crowd_child: Option<Vec<String>>,
}

fn run() -> common::Result<()> {
    let cli = Cli::parse();
    let n = cli.common.narrator();
    let trigger = if cli.edge { Trigger::Edge } else { Trigger::Level };
    if let Some(args) = &cli.crowd_child {
        return epoll::crowd::child(args);
    }
    match (cli.listen, cli.clients, cli.show_et_bug) {
        (Some(addr), _, _) => epoll::listen(&n, addr, trigger),
        (None, Some(count), _) => epoll::crowd::crowd(&n, count as usize, trigger),
        (None, None, true) => epoll::et_bug::show(&n),
        (None, None, false) => epoll::scenario(&n, trigger),
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
