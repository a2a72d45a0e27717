//! # read-ahead (lab 4 starter): hash files block by block
//!
//! Prints one line per file, `HASH  PATH`, where HASH is the FNV-1a 64-bit hash of the
//! file's bytes in 16 lowercase hex digits. Each block read is "processed" (hashed,
//! plus `--work-ms` of simulated computation).
//!
//! As given, it reads, then processes, then reads: the lab (labs/04-read-ahead/README.md)
//! asks you to overlap them with POSIX AIO (notes: "Asynchronous I/O with AIO").
//!
//! Run it: `cargo run -q -p read-ahead -- --work-ms 20 Cargo.toml README.md`;
//! mark it: `just lab read-ahead`.

use clap::Parser;
use common::cli::CommonArgs;
use read_ahead::{run, Events, Options};
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Output: one line per file, `HASH  PATH` (FNV-1a 64, 16 hex digits). With --json, stdout
is JSON Lines instead: read_start, read_done, process_start, process_end and hash events.

Examples:
  read-ahead Cargo.toml README.md                 hash two files
  read-ahead --block 4 --work-ms 50 Cargo.toml    4 KiB blocks, 50 ms of work per block
  read-ahead --json --work-ms 5 Cargo.toml        the events the lab checker reads";

/// Hash files block by block (lab 4: make reading and processing overlap).
#[derive(Parser, Debug)]
#[command(name = "read-ahead", version, about, after_help = AFTER_HELP)]
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
