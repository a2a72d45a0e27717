//! # aio-callback: POSIX AIO completion callbacks (SIGEV_THREAD) and signals
//!
//! Demonstrates the notes' "callback" AIO example on several inputs at once: each
//! aio_read asks for SIGEV_THREAD, and when it finishes glibc calls our function on a
//! thread it creates, passing the context we put in `sigev_value.sival_ptr`. The
//! callback collects the result (aio_return, once) and processes the bytes. `--signal`
//! shows the alternative: SIGEV_SIGNAL, collected by main with sigwaitinfo.
//!
//! Notes: "Asynchronous I/O with AIO": "struct sigevent", "struct sigval",
//! "example: callback".
//!
//! Run it: `just run aio-callback` (or `just run aio-callback --signal`; real files:
//! `just run aio-callback a.txt b.txt`; `just trace aio-callback` shows the threads).
//!
//! Watch for: `callback on thread T (main is M)`: T differs from M and from one callback
//! to the next; the callbacks arrive in the order the reads finish, not the order they
//! were started; main says when it has received each result.
//!
//! By default the inputs come from a *simulated* slow device (offline::slow) whose
//! inputs take 100, 300 and 200 ms, so the completions arrive at different times.
//!
//! Where it differs from the notes: the notes end main with `pthread_exit(NULL)` so the
//! process outlives main until the callback has run. Here main waits on a channel for
//! every callback, with a deadline: it learns each result, cannot hang forever, and
//! returns normally (Rust's cleanup runs). The notes' callback frees the buffer it was
//! handed; here the context is a Rust value the callback takes back exactly once, and
//! the buffer is returned with the request after aio_return. The notes declare the
//! callback as returning `void*`; glibc's type is `void (*)(union sigval)`.

use aio_callback::scenario::Config;
use aio_callback::Mode;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
What it shows:
  Three reads started at once, each with SIGEV_THREAD. As each finishes, glibc runs our
  callback on a new thread; it takes back its context, calls aio_return, and sends the
  result to main, which waits for all of them (with a deadline) instead of pthread_exit.

Files: any size, all read at once. Each is read in blocks of up to 16 MiB until a read
returns 0 (end of file): when a file has more, its callback starts the next read
itself, so a big file takes several callbacks and a /proc file (whose size says 0) is
read all the same.

Examples:
  aio-callback                     simulated slow device, SIGEV_THREAD callbacks
  aio-callback --signal            SIGEV_SIGNAL (SIGRTMIN) taken with sigwaitinfo
  aio-callback /etc/hostname /proc/self/status   real files

Exit status: 0 when every input was read and processed; 1 when a call fails or an input
cannot be read whole (the error line names it and the errno: a missing file, a
directory, a file that shrank while being read); 2 for bad usage. An empty file is
read like any other: one read, which returns 0.";

/// POSIX AIO with completion callbacks (SIGEV_THREAD) or signals (--signal).
#[derive(Parser, Debug)]
#[command(name = "aio-callback", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Files to read, all at once, any size (default: three inputs from a simulated slow device)
    paths: Vec<PathBuf>,
    /// Notify with SIGEV_SIGNAL (SIGRTMIN) and collect with sigwaitinfo instead
    #[arg(long)]
    signal: bool,
    /// Simulated device: latency per 4 KiB chunk, in milliseconds
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=2000))]
    chunk_ms: u64,
    #[command(flatten)]
    common: common::cli::CommonArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = Config {
        paths: cli.paths,
        mode: if cli.signal { Mode::Signal } else { Mode::Thread },
        chunk: Duration::from_millis(cli.chunk_ms),
    };
    common::error::main_wrapper(|| aio_callback::scenario::run(&config, &cli.common.narrator()))
}
