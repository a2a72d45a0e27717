//! # aio-poll-loop: double-buffering with aio_read and an aio_error loop
//!
//! Demonstrates the notes' "normal" AIO example: read block k+1 with aio_read into a
//! spare buffer while processing block k, wait for it by polling aio_error (or with
//! aio_suspend), collect it with aio_return exactly once, swap the buffers. Then it
//! reads the same inputs again without overlap and prints the measured speed-up next to
//! the ideal one, (R+P)/max(R,P). `--list` enqueues every read at once with lio_listio.
//!
//! Notes: "Asynchronous I/O with AIO": "aio_read()", "aio_error()", "aio_return()",
//! "aio_suspend()", "lio_listio()", "example: normal".
//!
//! Run it: `just run aio-poll-loop` (files: `just run aio-poll-loop a.txt b.txt c.txt`;
//! `just trace aio-poll-loop` shows glibc's worker threads doing the reads).
//!
//! Watch for: each `aio_read` line followed by `process(...)` of the *previous* block;
//! `aio_error = EINPROGRESS N times` (the read was still going when processing ended);
//! the timeline, where every `read i+1` bar lies beside `process i`; and the speed-up
//! line at the end.
//!
//! By default the inputs come from a *simulated* slow device (offline::slow): files on
//! this machine are in the page cache and read in microseconds, which leaves nothing to
//! overlap. Positional paths read real files, of any size, in blocks of up to 16 MiB
//! until a read returns 0 (so `/proc` files, whose size says 0, work too); before each
//! run they are dropped from the page cache with posix_fadvise(POSIX_FADV_DONTNEED).
//!
//! Where it differs from the notes: the notes read one MAX_SIZE buffer per file; here
//! a file is read until it ends. The notes sleep a whole second between aio_error
//! calls (a read that ends just after a check costs up to a second); this sleeps
//! `--poll-ms` (5 ms). The notes ignore what aio_return says; here it decides where the
//! next read starts, and a file that shrank is an error. The notes' `process()` is a
//! stub; here it checksums and counts lines and words, and `--process-ms` adds
//! simulated computation. The notes say aio_error returns -1 on failure with errno set:
//! for a failed read it returns the errno value itself (EIO, EISDIR...), and -1 only
//! when the aiocb itself is invalid. aio_suspend's -1 on timeout comes with errno
//! EAGAIN. Each request also carries a SIGEV_THREAD notification that only notes when
//! the read finished, so the timeline draws reads as long as they really took.

use aio_poll_loop::scenario::Config;
use aio_poll_loop::{Options, WaitStyle};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
What it shows:
  While process() works on one block, aio_read fetches the next into a second buffer on
  glibc's worker thread. The timeline shows the overlap; the last line compares the
  measured speed-up with --no-overlap against the ideal (R+P)/max(R,P).

Files: any size. Each is read in blocks of up to 16 MiB until a read returns 0 (end of
file), so a big file takes several reads and a /proc file (whose size says 0) is read
all the same. Before each run the files are dropped from the page cache
(posix_fadvise DONTNEED), so the baseline does not read what the first run cached.

Examples:
  aio-poll-loop                              simulated slow device, aio_error polling
  aio-poll-loop --wait suspend --process-ms 300   aio_suspend instead; slower processing
  aio-poll-loop --list /etc/passwd /proc/self/status  real files, enqueued with lio_listio

Exit status: 0 when every input was read and processed; 1 when a call fails or an input
cannot be read whole (the error line names it and the errno: a missing file, a
directory, a file that shrank while being read); 2 for bad usage. An empty file is
read like any other: one read, which returns 0.";

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Wait {
    /// Call aio_error in a loop with a short sleep (the notes' way)
    Poll,
    /// Block in aio_suspend with a timeout
    Suspend,
}

/// POSIX AIO double-buffering: aio_read the next block while processing this one.
#[derive(Parser, Debug)]
#[command(name = "aio-poll-loop", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Files to read, any size (default: inputs from a simulated slow device)
    paths: Vec<PathBuf>,
    /// How to wait for a read to finish
    #[arg(long, value_enum, default_value = "poll")]
    wait: Wait,
    /// Simulated computation added to each process() call, in milliseconds
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(0..=5000))]
    process_ms: u64,
    /// Sleep between two aio_error calls, in milliseconds
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    poll_ms: u64,
    /// Only the blocking baseline: read, process, read, process...
    #[arg(long, conflicts_with = "list")]
    no_overlap: bool,
    /// Enqueue all reads at once with lio_listio (LIO_WAIT, then LIO_NOWAIT)
    #[arg(long)]
    list: bool,
    /// Simulated device: number of inputs
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=16))]
    inputs: u64,
    /// Simulated device: latency per 4 KiB chunk, in milliseconds (inputs are 16 KiB)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=1000))]
    chunk_ms: u64,
    #[command(flatten)]
    common: common::cli::CommonArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = Config {
        paths: cli.paths,
        inputs: usize::try_from(cli.inputs).unwrap_or(5),
        chunk: Duration::from_millis(cli.chunk_ms),
        no_overlap: cli.no_overlap,
        list: cli.list,
        options: Options {
            wait: match cli.wait {
                Wait::Poll => WaitStyle::Poll,
                Wait::Suspend => WaitStyle::Suspend,
            },
            process_extra: Duration::from_millis(cli.process_ms),
            poll_sleep: Duration::from_millis(cli.poll_ms),
            suspend_timeout: Duration::from_millis(1000),
        },
    };
    common::error::main_wrapper(|| aio_poll_loop::scenario::run(&config, &cli.common.narrator()))
}
