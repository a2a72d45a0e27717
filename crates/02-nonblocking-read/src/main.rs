//! nonblocking-read: what O_NONBLOCK does, and what it does not.
//!
//! Notes: "Asynchronous (non-blocking) I/O" → "Non blocking", and
//! "2. non-blocking IO + polling" → "fcntl() + O_NONBLOCK".
//!
//! Run it:   just run nonblocking-read          (or: cargo demo nonblocking-read)
//!           just run nonblocking-read --json
//!           just run nonblocking-read --delay-ms 3000
//!
//! Watch for: 0 EAGAIN on the regular file (O_NONBLOCK is ignored there, and only
//! preadv2(RWF_NOWAIT) refuses to wait); millions of EAGAINs on the pipe, with the CPU
//! at about 100% while a blocking read used almost none; accept() giving EAGAIN at once.
//!
//! Differs from the notes: the notes' file example claims the read "returns
//! instantly". On Linux O_NONBLOCK has no effect on regular files; part 1 proves it.

use clap::Parser;
use common::{Error, Narrator, Result};
use nix::errno::Errno;
use nonblocking_read::{FileOutcome, PipeOutcome};
use serde_json::json;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "nonblocking-read",
    version,
    about = "O_NONBLOCK on a regular file (no effect), a pipe (EAGAIN, a busy CPU) and a listening socket",
    after_help = "Examples:\n  nonblocking-read                   all three parts, narrated\n  nonblocking-read --delay-ms 3000   poll the pipe for three seconds\n  nonblocking-read --json            JSON Lines for a checker\n\nExit status: 0 on success, 1 when a call fails (the error line names it and the errno), 2 for bad usage."
)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    /// How long the pipe's writer waits before writing (the polling loop spins meanwhile)
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    delay_ms: u64,

    /// Size of the file read in part 1, in KiB
    #[arg(long, default_value_t = 8192, value_name = "KIB")]
    file_kib: usize,
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    if cli.delay_ms > 60_000 {
        return Err(Error::usage("--delay-ms must be at most 60000"));
    }
    if cli.file_kib == 0 || cli.file_kib > 1024 * 1024 {
        return Err(Error::usage("--file-kib must be between 1 and 1048576"));
    }
    let n: Narrator = cli.common.narrator();
    n.title(
        "nonblocking-read",
        "O_NONBLOCK makes reads fail with EAGAIN instead of waiting (but not on files)",
        "fcntl() + O_NONBLOCK",
    );

    n.say("\n1. A regular file opened with O_NONBLOCK");
    let file = nonblocking_read::regular_file(&n, cli.file_kib * 1024)?;

    n.say("\n2. A pipe: blocking read, then O_NONBLOCK and a polling loop");
    let pipe = nonblocking_read::pipe_polling(&n, Duration::from_millis(cli.delay_ms))?;

    n.say("\n3. accept() and recv() on non-blocking sockets");
    let accept = nonblocking_read::nonblocking_accept(&n)?;

    narrate_done(&n, &file, &pipe, accept);
    Ok(())
}

fn narrate_done(n: &Narrator, file: &FileOutcome, pipe: &PipeOutcome, accept: Option<Errno>) {
    let accept = accept.map(|e| format!("{e:?}"));
    let fields = json!({"file_eagain": file.eagain, "file_nowait_eagain": file.nowait_eagain, "pipe_eagain": pipe.eagain,
                        "pipe_cpu_share": pipe.polling.cpu_share(), "blocking_cpu_share": pipe.blocking.cpu_share(), "accept_errno": accept});
    let text = format!(
        "done: file {} EAGAIN, pipe {} EAGAIN ({:.0}% CPU polling vs {:.1}% blocking), accept {}",
        file.eagain,
        pipe.eagain,
        pipe.polling.cpu_share() * 100.0,
        pipe.blocking.cpu_share() * 100.0,
        accept.as_deref().unwrap_or("returned a connection")
    );
    n.event("done", fields, text);
}

fn main() -> ExitCode {
    common::error::main_wrapper(run)
}
