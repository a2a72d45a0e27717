//! blocking-read: what "blocking" means, shown on a file, a pipe and a socket.
//!
//! Notes: "Asynchronous (non-blocking) I/O" → "blocking IO", and "Asynchronous
//! (non-blocking) I/O for Socket" → "1. blocking IO (Normal)".
//!
//! Run it:   just run blocking-read            (or: cargo demo blocking-read)
//!           just run blocking-read /etc/hostname
//!           just run blocking-read --json
//!
//! Watch for: the file read returns in well under a millisecond; the pipe and socket
//! reads each sit for about a second, and the CPU used during that second is close to
//! zero. The thread was asleep, which is cheap, but it could not do anything else.
//!
//! Differs from the notes: the notes read a file only; a file never makes read() wait
//! for a peer, so the pipe and the socket are what actually show blocking.

use blocking_read::{read_after_delay, read_file, read_opened_file};
use clap::Parser;
use common::{Context, Narrator, Result};
use offline::TempFile;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "blocking-read",
    about = "Blocking read() on a regular file, a pipe and a socket: the thread sleeps until data comes",
    after_help = "Examples:\n  blocking-read                  file, pipe and socket, narrated\n  blocking-read /etc/hostname    read that file instead of a temporary one\n  blocking-read --json           JSON Lines for a checker\n\nExit status: 0 on success, 1 when a call fails (the error line names it and the errno), 2 for bad usage."
)]
struct Cli {
    #[command(flatten)]
    common: common::cli::CommonArgs,

    /// Read this file in step 1 instead of a generated temporary one
    path: Option<PathBuf>,

    /// How long the peer waits before writing to the pipe and the socket (at most 60000)
    #[arg(long, default_value_t = 1000, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=60_000))]
    delay_ms: u64,
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let n: Narrator = cli.common.narrator();
    let delay = Duration::from_millis(cli.delay_ms);
    n.title("blocking-read", "read() waits until there is data; a waiting thread uses no CPU", "blocking IO");

    n.say("\n1. A regular file");
    match &cli.path {
        Some(path) => {
            refuse_endless_files(path)?;
            read_file(&n, path, "the file you named")?
        }
        None => {
            // Opened, then unlinked at once: the open fd keeps the file alive while it is
            // read, and a Ctrl-C at any moment leaves nothing in the temp directory.
            let temp = TempFile::with_contents("example.txt", b"hello from a regular file\n")?;
            let shown = temp.path().display().to_string();
            let file = std::fs::File::open(temp.path()).with_context(|| format!("open {shown}"))?;
            drop(temp);
            read_opened_file(&n, file.into(), &shown, "a temporary file, already unlinked")?
        }
    };

    n.say("\n2. A pipe whose writer waits before writing");
    let (pipe_r, pipe_w) = common::fd::pipe()?;
    n.event(
        "pipe",
        serde_json::json!({"read_fd": pipe_r.as_raw_fd(), "write_fd": pipe_w.as_raw_fd()}),
        format!(
            "pipe() = [fd {} (read end), fd {} (write end, given to the writer thread)]",
            pipe_r.as_raw_fd(),
            pipe_w.as_raw_fd()
        ),
    );
    let pipe =
        read_after_delay(&n, "pipe", &pipe_r, std::fs::File::from(pipe_w), delay, b"hello through a pipe\n")?;

    n.say("\n3. A socket whose peer waits before writing");
    let (sock_r, sock_w) = common::fd::socketpair()?;
    n.event(
        "socketpair",
        serde_json::json!({"read_fd": sock_r.as_raw_fd(), "write_fd": sock_w.as_raw_fd()}),
        format!(
            "socketpair(AF_UNIX, SOCK_STREAM) = [fd {} (ours), fd {} (the peer's)]",
            sock_r.as_raw_fd(),
            sock_w.as_raw_fd()
        ),
    );
    let sock = read_after_delay(&n, "socket", &sock_r, sock_w, delay, b"hello through a socket\n")?;

    n.event(
        "done",
        serde_json::json!({"pipe_blocked_ms": blocking_read::ms(pipe.blocked), "socket_blocked_ms": blocking_read::ms(sock.blocked),
                            "pipe_cpu_ms": blocking_read::ms(pipe.cpu), "socket_cpu_ms": blocking_read::ms(sock.cpu)}),
        format!(
            "done: the pipe read blocked {:.2} s using {:.2} ms of CPU; the socket read blocked {:.2} s using {:.2} ms.",
            pipe.blocked.as_secs_f64(),
            blocking_read::ms(pipe.cpu),
            sock.blocked.as_secs_f64(),
            blocking_read::ms(sock.cpu)
        ),
    );
    n.explain("Blocking is cheap for the CPU but costly for the program: while one read waits,");
    n.explain("nothing else runs. Next: nonblocking-read (never wait), then select (wait on many fds).");
    Ok(())
}

/// Step 1 reads a file to its end. A device like /dev/zero has no end (the loop would
/// read for ever) and a FIFO with no writer blocks in open(): neither is the regular
/// file this step is about, so they are refused before any I/O. A directory is let
/// through, to show read() failing with EISDIR; a missing path fails in open().
fn refuse_endless_files(path: &std::path::Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => Err(common::Error::msg(
            format!("read {}", path.display()),
            "not a regular file (a device may never end, a FIFO blocks in open(); steps 2 and 3 show pipes and sockets)",
        )),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    common::error::main_wrapper(run)
}
