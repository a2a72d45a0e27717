//! curl-select: the curl-multi transfers, with the program doing the waiting itself:
//! `curl_multi_fdset` gives it curl's sockets, `curl_multi_timeout` how long it may
//! sleep, and it calls `select()` (notes: "Using cURL Asynchronously", the part
//! "Asynchronous +curl + select()").
//!
//! Run it: `just run curl-select` (no network needed: a local HTTP server, five URLs
//! answering after 0.2 to 1.0 s, a 404 and a refused port). Then
//! `just run curl-select --fd-floor 1100` to see the FD_SETSIZE trap caught, and
//! `just trace curl-select` to see each wait as a `pselect6` system call.
//!
//! What to watch for:
//! - every iteration: the fds curl hands over (which transfer each belongs to), `maxfd`,
//!   curl's timer, the select() timeout chosen and why, and how many fds were ready;
//! - a select() that times out is not a failure: curl_multi_perform still runs, since
//!   curl's timers only fire inside it;
//! - the same overlap as curl-multi, in the timeline and the summary line.
//!
//! Where it differs from the notes: the fd_sets are zeroed and refilled every time
//! round, as the notes say (their fragments show one pass, not the loop); `maxfd == -1`
//! gets a short 100 ms wait, where the notes' `select(maxfd + 1, ...)` would become
//! `select(0, ...)` and sleep the whole timeout; curl's timer is capped at 1 s so the
//! loop keeps a deadline (the notes wait as long as curl says); and a socket numbered
//! 1024 (FD_SETSIZE) or more stops the demo with an explanation, because
//! curl_multi_fdset silently leaves such fds out and select() would never see their data.

use clap::Parser;
use common::transfer::Config;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Examples:
  curl-select                    five local delays, a 404 and a refused port, at once
  curl-select --fd-floor 1100    curl's sockets above FD_SETSIZE: caught, not a hang
  curl-select --parallel 2 http://example.com/ http://neverssl.com/
  curl-select --max-speed 500000 http://127.0.0.1:8080/bytes/2000000
                                 (after `just serve 127.0.0.1:8080`): maxfd -1 between
                                 bursts, when curl has no socket to offer

Exit status: 0 when the run completed, even if some transfers failed (each failure is
reported as that transfer's result; a 404 or 500 is a completed transfer); 1 when every
transfer failed, or the demo itself failed (for example a socket fd at or above
FD_SETSIZE, which select() cannot watch); 2 for bad command-line usage.

https needs a libcurl with TLS: on Debian/Ubuntu install libcurl4-openssl-dev and
pkg-config before building (otherwise curl-sys builds its own copy without TLS).";

/// Fetch many URLs at once on one thread with libcurl's multi interface, waiting in
/// select(): each time round, curl_multi_fdset gives the sockets to watch and
/// curl_multi_timeout how long to wait. With no URLs, fetches from a local HTTP server.
#[derive(Parser, Debug)]
#[command(name = "curl-select", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    #[command(flatten)]
    config: Config,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::error::main_wrapper(|| curl_select::run(&cli.config, &cli.common.narrator()).map(|_| ()))
}
