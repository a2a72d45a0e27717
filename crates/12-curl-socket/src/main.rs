//! curl-socket: the curl-multi transfers driven by events: libcurl's socket callback
//! says which socket to watch for what, its timer callback says when it next needs a
//! call, the program waits for all of it in one `epoll_wait` and hands every event back
//! with `curl_multi_socket_action` (beyond the notes: the successor to their
//! "Asynchronous +curl + select()").
//!
//! Run it: `just run curl-socket` (no network needed: a local HTTP server, five URLs
//! answering after 0.2 to 1.0 s, a 404 and a refused port, as in curl-multi). Then
//! `just run curl-socket --transfers 1000` for a thousand transfers at once on one
//! thread, and `just trace curl-socket` to see each wait as an `epoll_wait` call.
//!
//! What to watch for:
//! - curl calls the program, not the other way round: "socket callback: curl asks to
//!   watch fd 7 for OUT" while connecting, then IN once the request is sent, then
//!   "to forget" when the transfer ends; each becomes one `epoll_ctl`;
//! - the timer callback with 0 ms right after each `curl_multi_add_handle`: curl wants
//!   to be called at once, through the timerfd, to start the connect;
//! - every `epoll_wait` names only what is ready, and each ready fd gets its own
//!   `curl_multi_socket_action`, which answers with how many transfers are running;
//! - with `--transfers 1000`: all finish in little more than one delay, sockets well
//!   past fd 1023, and a few dozen waits for thousands of socket events.
//!
//! Where it differs from curl's ephiperfifo.c: the callbacks record what they did, and
//! the loop narrates it after each action returns; waits are capped at 1 s so the
//! loop keeps a deadline; and results are read (`curl_multi_info_read`) every time
//! round, as in curl-multi.

use clap::Parser;
use common::transfer::Config;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Examples:
  curl-socket                        five local delays, a 404 and a refused port, at once
  curl-socket --transfers 1000       a thousand 500 ms transfers at once, one thread
  curl-socket --parallel 2 http://example.com/ https://www.rust-lang.org/

Exit status: 0 when the run completed, even if some transfers failed (each failure is
reported as that transfer's result; a 404 or 500 is a completed transfer); with
--transfers, 0 only when every transfer came back 200. 1 when every transfer failed, or
the demo itself failed (for example RLIMIT_NOFILE too low for --transfers); 2 for bad
command-line usage.

https needs a libcurl with TLS: on Debian/Ubuntu install libcurl4-openssl-dev and
pkg-config before building (otherwise curl-sys builds its own copy without TLS).";

/// Fetch many URLs at once on one thread, the event-driven way: libcurl's socket and
/// timer callbacks say what to watch, epoll_wait waits for all of it, and
/// curl_multi_socket_action handles each event. With no URLs, fetches from a local
/// HTTP server.
#[derive(Parser, Debug)]
#[command(name = "curl-socket", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    #[command(flatten)]
    config: Config,

    #[command(flatten)]
    load: curl_socket::Load,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::error::main_wrapper(|| {
        curl_socket::run(&cli.config, &cli.load, &cli.common.narrator()).map(|_| ())
    })
}
