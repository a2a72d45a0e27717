//! # read-ahead-solution (lab 4 reference): hash files block by block, reading ahead
//!
//! Prints one line per file, `HASH  PATH`, where HASH is the FNV-1a 64-bit hash of the
//! file's bytes in 16 lowercase hex digits. Each block read is "processed" (hashed,
//! plus `--work-ms` of simulated computation).
//!
//! While a block is processed, the next block's aio_read is already in flight; the
//! program waits for it with aio_suspend (notes: "Asynchronous I/O with AIO",
//! "aio_suspend()"). The assignment is labs/04-read-ahead/README.md.
//!
//! Run it: `cargo run -q -p read-ahead-solution -- --work-ms 20 Cargo.toml README.md`;
//! mark it: `just lab read-ahead --solution`.

use clap::Parser;
use common::cli::CommonArgs;
use read_ahead_solution::{run, Events, Options};
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Output: one line per file, `HASH  PATH` (FNV-1a 64, 16 hex digits). With --json, stdout
is JSON Lines instead: read_start, read_done, process_start, process_end and hash events.

Examples:
  read-ahead-solution Cargo.toml README.md                 hash two files
  read-ahead-solution --block 4 --work-ms 50 Cargo.toml    4 KiB blocks, 50 ms of work per block
  read-ahead-solution --json --work-ms 5 Cargo.toml        the events the lab checker reads";

/// Hash files block by block, reading the next block while processing this one (lab 4 reference).
#[derive(Parser, Debug)]
#[command(name = "read-ahead-solution", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Files to hash, in order (regular files or FIFOs)
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Block size in KiB: the bytes asked for in each read
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=16384))]
    block: u64,
    /// Simulated computation per block, in milliseconds
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10000))]
    work_ms: u64,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    common::error::main_wrapper(|| {
        // The range above keeps this well inside usize.
        let block = usize::try_from(cli.block * 1024).unwrap_or(64 * 1024);
        let opts = Options { block, work: Duration::from_millis(cli.work_ms) };
        run(&Events::new(cli.common.narrator()), &cli.files, &opts)
    })
}
