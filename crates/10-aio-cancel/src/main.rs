//! # aio-cancel: what aio_cancel really returns
//!
//! Demonstrates every outcome of `aio_cancel`, deterministically: AIO_CANCELED for a
//! request still queued, AIO_NOTCANCELED for one a worker is running (it finishes
//! later, when data comes), AIO_ALLDONE for one already finished, `aio_cancel(fd, NULL)`
//! for all of an fd's requests, and -1/EBADF. Every request, cancelled or not, is
//! collected with aio_return exactly once.
//!
//! Notes: "Asynchronous I/O with AIO", sections "Cancel()" and "example: cancel".
//!
//! Run it: `just run aio-cancel` (or `cargo demo aio-cancel`; `--json` for JSON Lines;
//! `just trace aio-cancel` to watch glibc's worker threads in strace).
//!
//! Watch for: the `/proc/self/task/...` line naming the worker thread blocked in read();
//! `aio_cancel(...) = 1 (AIO_NOTCANCELED)` followed by the read finishing only after
//! the `write`; `aio_return = -1` for the cancelled ones; the table at the end.
//!
//! Where it differs from the notes: the notes' example cancels and then frees the
//! buffer after `sleep(5)` without looking at what aio_cancel returned. If it says
//! AIO_NOTCANCELED, the read is still running and still owns the buffer (on a pipe it
//! could run forever). Here a buffer is released only after aio_error says the request
//! is finished, and aio_return is called for every request. Also, the constant is
//! spelled AIO_CANCELED (one L), and aio_error gives ECANCELED for a cancelled request.

use clap::Parser;
use common::narrate::{plural, Style};

const AFTER_HELP: &str = "\
What it shows:
  Two reads on one empty pipe: glibc's worker thread runs the first (blocked in read),
  the second waits in the fd's queue. Cancelling the queued one gives AIO_CANCELED,
  the running one AIO_NOTCANCELED (it completes once data is written), a finished one
  AIO_ALLDONE; aio_cancel(fd, NULL) cancels what is queued on the fd.

Examples:
  aio-cancel              narrate the whole table (about 0.1 s)
  aio-cancel --json       one JSON object per line (events: aio_read, aio_cancel, ...)
  strace -f -e trace=clone3,pread64,read aio-cancel   see the worker threads

Exit status: 0 when the table is complete, also when an outcome differs from glibc's
(the last line then names it); 1 when a call fails or a wait passes its 3 s deadline
(the error line names it and the errno); 2 for bad usage.";

/// aio_cancel, every outcome: queued, running, finished, fd-wide, bad fd.
#[derive(Parser, Debug)]
#[command(name = "aio-cancel", version, about, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,
}

fn run() -> common::Result<()> {
    let cli = Cli::parse();
    let n = cli.common.narrator();
    n.title(
        "aio-cancel",
        "cancel POSIX AIO reads that are queued, running and finished, and collect every result",
        "Asynchronous I/O with AIO: Cancel()",
    );
    n.explain("glibc's AIO is threads: one worker per fd runs that fd's requests one at a time.");
    let report = aio_cancel::run(&n)?;
    aio_cancel::print_table(&n, &report);
    let surprises = aio_cancel::surprises(&report);
    let collected = report.returns.len();
    n.say("");
    if surprises.is_empty() {
        n.event_styled(
            "done",
            serde_json::json!({"requests": collected, "as_glibc": true, "surprises": surprises}),
            Style::Good,
            format!(
                "every outcome is what glibc documents; {}, each collected with aio_return once",
                plural(collected as u64, "request", "requests")
            ),
        );
    } else {
        n.event_styled(
            "done",
            serde_json::json!({"requests": collected, "as_glibc": false, "surprises": surprises}),
            Style::Warn,
            format!(
                "{} collected; outcomes that differ from glibc's: {}",
                plural(collected as u64, "request", "requests"),
                surprises.join("; ")
            ),
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
