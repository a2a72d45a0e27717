//! Blocking reads, in the order the notes teach them (notes: "Asynchronous
//! (non-blocking) I/O", "blocking IO"; and "Asynchronous (non-blocking) I/O for
//! Socket", "1. blocking IO (Normal)").
//!
//! 1. [`read_file`]: a regular file. The data is on disk (usually already in the page
//!    cache), so `read()` returns at once.
//! 2. [`read_after_delay`] on a pipe: nothing is there yet, so `read()` puts the thread
//!    to sleep until the writer writes. The process uses (almost) no CPU meanwhile,
//!    which [`common::cpu::Stopwatch`] proves with getrusage.
//! 3. [`read_after_delay`] on a socket: exactly the same story.
//!
//! The catch, and the reason the rest of the course exists: while a thread is blocked
//! in `read()` it can do nothing else, not even notice that another fd has data.

use common::cpu::Stopwatch;
use common::narrate::show_bytes;
use common::{Context, Narrator, Result};
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use serde_json::json;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

/// The buffer size every read uses, like the `num_bytes` of the notes' example.
pub const BUF_SIZE: usize = 4096;

/// What one blocking read returned, and what waiting for it cost.
#[derive(Debug, Clone, Copy)]
pub struct ReadOutcome {
    /// Bytes returned by the first `read()`.
    pub bytes: usize,
    /// Wall time spent inside `read()`.
    pub blocked: Duration,
    /// CPU time the whole process used meanwhile.
    pub cpu: Duration,
}

// ANCHOR: read_file
/// Opens `path`, reads it to the end with blocking `read()` calls, and closes it.
///
/// For a regular file `read()` never waits for another process: the bytes are on the
/// disk already. It may wait for the disk itself, but that wait is short and the
/// kernel does not count it as "blocking" (see the nonblocking-read demo).
pub fn read_file(n: &Narrator, path: &Path, label: &str) -> Result<u64> {
    let shown = path.display().to_string();
    let fd: OwnedFd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("open {shown}"))?;
    read_opened_file(n, fd, &shown, label)
}

/// [`read_file`] for a file already opened (the demo's own temporary file, opened and
/// unlinked at once so that a Ctrl-C at any moment leaves nothing behind).
pub fn read_opened_file(n: &Narrator, fd: OwnedFd, shown: &str, label: &str) -> Result<u64> {
    let raw = fd.as_raw_fd();
    n.event(
        "open",
        json!({"source": "file", "path": shown, "fd": raw}),
        format!("open({shown:?}, O_RDONLY) = fd {raw}  ({label})"),
    );

    let mut buf = vec![0u8; BUF_SIZE];
    let (mut total, mut calls) = (0u64, 0u32);
    loop {
        let watch = Stopwatch::start()?;
        let got = nix::unistd::read(&fd, &mut buf).with_context(|| format!("read {shown}"))?;
        let spent = watch.stop()?;
        calls += 1;
        total += got as u64;
        // Narrate the first few calls and the last one; a big file makes thousands.
        if calls <= 3 || got == 0 {
            let what = if got == 0 {
                "0 = end of file".to_string()
            } else {
                format!("{got} bytes: {}", show_bytes(&buf[..got], 40))
            };
            n.event(
                "read_returned",
                json!({"source": "file", "fd": raw, "call": calls, "bytes": got,
                       "blocked_ms": ms(spent.wall), "cpu_ms": ms(spent.cpu)}),
                format!("read(fd {raw}, buf, {BUF_SIZE}) = {what}  [took {:.3} ms]", ms(spent.wall)),
            );
        } else if calls == 4 {
            n.explain("... (more reads, not shown one by one)");
        }
        if got == 0 {
            break;
        }
    }
    n.event(
        "file_done",
        json!({"source": "file", "fd": raw, "bytes": total, "calls": calls}),
        format!("read {total} bytes in {calls} read() calls; close(fd {raw})"),
    );
    n.explain("A regular file never makes read() wait for another process: the data is already there.");
    Ok(total)
}
// ANCHOR_END: read_file

// ANCHOR: read_after_delay
/// Reads from `reader` (a pipe's read end or a socket) while a peer writes `message`
/// into `writer` only after `delay`. Returns what the read returned and what the wait
/// cost.
///
/// The interesting numbers: `blocked` is about `delay` (the thread slept inside read)
/// and `cpu` is about zero (a sleeping thread is not scheduled at all).
pub fn read_after_delay<W>(
    n: &Narrator,
    source: &str,
    reader: impl AsFd,
    writer: W,
    delay: Duration,
    message: &[u8],
) -> Result<ReadOutcome>
where
    W: std::io::Write + Send + 'static,
{
    let raw = reader.as_fd().as_raw_fd();
    let peer = offline::write_after(delay, writer, message.to_vec());
    n.event(
        "peer_scheduled",
        json!({"source": source, "fd": raw, "delay_ms": ms(delay), "bytes": message.len()}),
        format!(
            "a writer thread will write {} bytes to the {source} in {:.3} s",
            message.len(),
            delay.as_secs_f64()
        ),
    );

    n.event(
        "read_start",
        json!({"source": source, "fd": raw}),
        format!("read(fd {raw}, buf, {BUF_SIZE}) on the {source} ... (nothing there yet: the thread sleeps)"),
    );
    let mut buf = vec![0u8; BUF_SIZE];
    let watch = Stopwatch::start()?;
    // The blocking call. A signal handler could interrupt it with EINTR; retry then.
    let got = common::fd::retry_eintr(|| nix::unistd::read(reader.as_fd(), &mut buf))
        .with_context(|| format!("read {source} fd {raw}"))?;
    let spent = watch.stop()?;
    let wrote_at = peer.join()?;

    n.event(
        "read_returned",
        json!({"source": source, "fd": raw, "bytes": got, "blocked_ms": ms(spent.wall),
               "cpu_ms": ms(spent.cpu), "cpu_share": spent.cpu_share(),
               "data": String::from_utf8_lossy(&buf[..got])}),
        format!(
            "  -> {got} bytes: {}  [blocked {:.3} s, CPU used meanwhile {:.3} ms = {:.1}% of one core]",
            show_bytes(&buf[..got], 40),
            spent.wall.as_secs_f64(),
            ms(spent.cpu),
            spent.cpu_share() * 100.0
        ),
    );
    let woke_after = n.t_ms() - n.ms_at(wrote_at);
    n.explain(format!(
        "The writer wrote at {:.3} s and read() returned {woke_after:.2} ms after that. Until then the",
        n.ms_at(wrote_at) / 1000.0
    ));
    n.explain("kernel kept this thread off the CPU (getrusage shows the CPU time it did not use).");

    // The writer closes its end after writing, so the next read reports end of file. It
    // can still wait (the writer may not have closed it yet), so EINTR is retried here too.
    let eof = common::fd::retry_eintr(|| nix::unistd::read(reader.as_fd(), &mut buf))
        .with_context(|| format!("read {source} fd {raw}"))?;
    n.event(
        "read_returned",
        json!({"source": source, "fd": raw, "bytes": eof, "eof": eof == 0}),
        format!(
            "read(fd {raw}, buf, {BUF_SIZE}) = {eof}{}",
            if eof == 0 { " = end of file (the writer closed its end)" } else { "" }
        ),
    );
    Ok(ReadOutcome { bytes: got, blocked: spent.wall, cpu: spent.cpu })
}
// ANCHOR_END: read_after_delay

/// Milliseconds as a float, for narration and JSON.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
