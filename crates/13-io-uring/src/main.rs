//! io-uring: asynchronous reads the way Linux does them today: requests go into a
//! submission queue, one `io_uring_enter` hands them to the kernel, results come back
//! in a completion queue in the order they finish (beyond the notes, which teach POSIX
//! AIO: "Asynchronous I/O with AIO").
//!
//! Run it: `just run io-uring` (no files needed: four parts against a simulated slow
//! device, as aio-poll-loop uses). `just run io-uring FILE...` reads real files to
//! their end, any size, /proc files too; `--part cancel` runs one part; `just trace
//! io-uring` shows each `io_uring_enter`, and no `clone`.
//!
//! What to watch for:
//! - part 1: four reads submitted by one `io_uring_enter`; their completions come back
//!   2, 4, 3, 1: the order the device answered, not the order they were asked;
//! - part 2: the same double buffering as aio-poll-loop, and the same speed-up, with no
//!   worker thread and no polling: the wait for a read is `io_uring_enter` with
//!   min_complete 1;
//! - part 3: `IORING_OP_ASYNC_CANCEL` answers as `aio_cancel` does, in its own words:
//!   0 (cancelled), -ENOENT (it had finished), -EALREADY (it is running: it finishes);
//! - part 4: a linked timeout cancels a read that is late (-ECANCELED, -ETIME);
//! - the last line: the threads of the process, before and after: io_uring starts none
//!   (blocking work runs on the kernel's own iou-wrk workers).
//!
//! Where it differs from AIO: one request queue for all files, completions instead of
//! polling aio_error or waiting for a signal or a thread callback, and cancellation
//! that is itself a request. Where io_uring is not allowed (a container's seccomp
//! profile, `kernel.io_uring_disabled`) or missing (a kernel before 5.1), the demo says
//! which in one line and exits 1.

use clap::Parser;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Examples:
  io-uring                          the four parts, against a simulated slow device
  io-uring --part cancel            only the cancellation part
  io-uring /proc/self/status big.iso --depth 32
                                    read files to their end, 32 reads in flight

Exit status: 0 when every part (or every file) was read and checked; 1 when a read
failed, or io_uring is not available here (the error line says why); 2 for bad
command-line usage.";

/// Read files asynchronously with io_uring: queue many reads, submit them with one
/// io_uring_enter, and reap their completions as they finish. With no files, four
/// parts against a simulated slow device: reads in flight, double buffering,
/// cancellation, linked timeouts.
#[derive(Parser, Debug)]
#[command(name = "io-uring", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    #[command(flatten)]
    config: io_uring_demo::scenario::Config,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::error::main_wrapper(|| io_uring_demo::scenario::run(&cli.config, &cli.common.narrator()))
}
