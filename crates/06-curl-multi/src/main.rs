//! curl-multi: many HTTP transfers at once on one thread, with libcurl's multi
//! interface and `curl_multi_wait` (notes: "Using cURL Asynchronously").
//!
//! Run it: `just run curl-multi` (no network needed: it starts a local HTTP server and
//! fetches five URLs that answer after 0.2 to 1.0 s, a 404, and a port that refuses
//! connections). Then `just run curl-multi --sequential` for the blocking baseline,
//! and `just run curl-multi --parallel 2` to see at most two in flight.
//!
//! What to watch for:
//! - every transfer is started before any finishes, and they finish in order of their
//!   delays, not in the order they were added;
//! - a refused connection and a 404 are just two more results: the others go on;
//! - the timeline's bars overlap, and the summary says the run took about as long as
//!   the slowest transfer, not the sum (compare `--sequential`);
//! - `curl_multi_wait` wakes when a socket had an event (`numfds`) or a timer is due;
//!   under `just trace curl-multi` the wait is a `poll` on the sockets (the system
//!   libcurl, or curl-sys's bundled copy, which .cargo/config.toml builds with
//!   HAVE_POLL);
//! - `--wait poll`: `curl_multi_poll`, and a second thread ending its wait early with
//!   `curl_multi_wakeup` to hand over the last transfer.
//!
//! Where it differs from the notes: results are read (`curl_multi_info_read`) inside
//! the loop as soon as a perform reports fewer running, rather than once at the end;
//! waits are capped at 1 s instead of 30 s so the loop can keep a deadline; when
//! `curl_multi_wait` returns at once because curl has no socket to offer, the loop
//! sleeps until curl's timer itself instead of spinning; only http and https are
//! allowed (`CURLOPT_PROTOCOLS`); and `curl_global_cleanup` is left to process exit
//! (the Rust curl crate never calls it).

use clap::Parser;
use common::transfer::Config;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Examples:
  curl-multi                     five local delays, a 404 and a refused port, at once
  curl-multi --sequential        the same, one at a time: compare the total time
  curl-multi --wait poll         curl_multi_poll, woken early by a second thread
  curl-multi --parallel 2 http://example.com/ http://neverssl.com/
  curl-multi --max-speed 500000 http://127.0.0.1:8080/bytes/2000000
                                 (after `just serve 127.0.0.1:8080`): between bursts
                                 curl has no socket to wait on

Exit status: 0 when the run completed, even if some transfers failed (each failure is
reported as that transfer's result; a 404 or 500 is a completed transfer); 1 when every
transfer failed, or the demo itself failed; 2 for bad command-line usage.

https needs a libcurl with TLS: on Debian/Ubuntu install libcurl4-openssl-dev and
pkg-config before building (otherwise curl-sys builds its own copy without TLS).";

/// Fetch many URLs at once on one thread with libcurl's multi interface: every
/// transfer is added to one multi handle, and curl_multi_wait sleeps until any of
/// their sockets has something to do. With no URLs, fetches from a local HTTP server.
#[derive(Parser, Debug)]
#[command(name = "curl-multi", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    #[command(flatten)]
    config: Config,

    /// Which call the loop waits in: curl_multi_wait (the notes' call) or
    /// curl_multi_poll (waits even when curl has no socket; shows curl_multi_wakeup)
    #[arg(long, value_enum, default_value = "wait", value_name = "CALL")]
    wait: curl_multi::Wait,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::error::main_wrapper(|| curl_multi::run(&cli.config, cli.wait, &cli.common.narrator()).map(|_| ()))
}
