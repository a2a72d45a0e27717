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
//! - `curl_multi_wait` wakes only when something happened (`numfds`), so the loop
//!   does not spin here; under `just trace curl-multi` the wait is a `poll` on the
//!   sockets (the system libcurl, or curl-sys's bundled copy, which .cargo/config.toml
//!   builds with HAVE_POLL).
//!
//! Where it differs from the notes: results are read (`curl_multi_info_read`) inside
//! the loop after every `curl_multi_perform`, including the last one that reports 0
//! running, rather than once at the end; waits are capped at 1 s instead of 30 s so the
//! loop can keep a deadline; only http and https are allowed (`CURLOPT_PROTOCOLS`); and
//! `curl_global_cleanup` is left to process exit (the Rust curl crate never calls it).

use clap::Parser;
use common::transfer::Config;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Examples:
  curl-multi                     five local delays, a 404 and a refused port, at once
  curl-multi --sequential        the same, one at a time: compare the total time
  curl-multi --parallel 2 http://example.com/ https://www.rust-lang.org/

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::error::main_wrapper(|| curl_multi::run(&cli.config, &cli.common.narrator()).map(|_| ()))
}
