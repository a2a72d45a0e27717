//! Non-blocking reads, in the order the notes teach them (notes: "Asynchronous
//! (non-blocking) I/O" → "Non blocking"; "2. non-blocking IO + polling" →
//! "fcntl() + O_NONBLOCK").
//!
//! 1. [`regular_file`]: O_NONBLOCK on a regular file. The notes say the read "returns
//!    instantly"; on Linux it does nothing at all: a read of data that is not in the page
//!    cache waits for the disk and never says EAGAIN. `preadv2(RWF_NOWAIT)` is the one
//!    call that does refuse to wait on a file.
//! 2. [`pipe_polling`]: O_NONBLOCK on a pipe does what the notes say: with nothing to
//!    read, `read()` fails at once with EAGAIN. Polling until data comes means calling it
//!    millions of times and burning a whole core, where a blocking read used none. That
//!    waste is why select() and poll() exist.
//! 3. [`nonblocking_accept`]: the same for `accept()` on a listening socket, and the
//!    trap that an accepted socket does not inherit O_NONBLOCK from its listener.

use common::cpu::Stopwatch;
use common::fd::{is_nonblocking, set_nonblocking, would_block};
use common::narrate::{show_bytes, Style};
use common::sys::file::pread_nowait;
use common::{Context, Error, Narrator, Result};
use nix::errno::Errno;
use nix::fcntl::{open, posix_fadvise, OFlag, PosixFadviseAdvice};
use nix::sys::stat::Mode;
use serde_json::json;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

/// Milliseconds as a float, for narration and JSON.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// "EAGAIN" or "12 bytes", for one read's result.
fn outcome(result: &nix::Result<usize>) -> (serde_json::Value, String) {
    match result {
        Ok(n) => (json!({"bytes": n, "errno": null}), format!("{n} bytes")),
        Err(e) => {
            (json!({"bytes": -1, "errno": format!("{e:?}")}), format!("-1, errno = {e:?} ({})", e.desc()))
        }
    }
}

/// What reading a regular file with O_NONBLOCK showed.
#[derive(Debug, Clone, Copy)]
pub struct FileOutcome {
    /// read() calls made.
    pub reads: u64,
    /// How many of them failed with EAGAIN (always 0 on Linux).
    pub eagain: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Whether `preadv2(RWF_NOWAIT)` said EAGAIN on the evicted file.
    pub nowait_eagain: bool,
}

// ANCHOR: regular_file
/// Writes a `size`-byte file, pushes it out of the page cache, then reads it with
/// O_NONBLOCK, counting EAGAINs (there are none).
pub fn regular_file(n: &Narrator, size: usize) -> Result<FileOutcome> {
    let contents: Vec<u8> = (0..size).map(|i| b"0123456789abcdef\n"[i % 17]).collect();
    let (writer, fd, path) = scratch_file()?;
    let raw = fd.as_raw_fd();
    use std::io::Write;
    (&writer).write_all(&contents).with_context(|| format!("write {path}"))?;
    evict_from_page_cache(&writer, &path)?;
    n.event(
        "file_evicted",
        json!({"path": path, "size": size}),
        format!(
            "wrote {} KiB to {path}, then fsync + posix_fadvise(DONTNEED): not in the page cache now",
            size / 1024
        ),
    );
    n.explain("(created, opened and unlinked before it was written: it lives on through its fds, so Ctrl-C leaves nothing behind)");

    n.event(
        "open",
        json!({"fd": raw, "nonblocking": is_nonblocking(&fd)?}),
        format!("open(.., O_RDONLY | O_NONBLOCK) = fd {raw}; fcntl(F_GETFL) confirms O_NONBLOCK is set"),
    );

    // preadv2 with RWF_NOWAIT: "only if it is in the page cache". It is not.
    let mut buf = vec![0u8; 64 * 1024];
    let first = pread_nowait(&fd, &mut buf, 0);
    let (fields, text) = outcome(&first);
    n.event_styled(
        "nowait_read",
        json!({"fd": raw, "when": "uncached", "result": fields}),
        Style::Warn,
        format!("preadv2(fd {raw}, 64 KiB, offset 0, RWF_NOWAIT) = {text}"),
    );
    n.explain("RWF_NOWAIT refuses to wait for the disk; this is the EAGAIN O_NONBLOCK never gives a file.");
    // Make sure the plain reads below really go to the disk, whatever preadv2 started.
    evict_from_page_cache(&writer, &path)?;

    let (mut reads, mut eagain, mut bytes) = (0u64, 0u64, 0u64);
    let watch = Stopwatch::start()?;
    loop {
        match nix::unistd::read(&fd, &mut buf) {
            Ok(0) => break,
            Ok(got) => bytes += got as u64,
            Err(e) if would_block(e) => eagain += 1, // never happens for a regular file
            Err(e) => return Err(Error::os(format!("read {path}"), e)),
        }
        reads += 1;
    }
    let spent = watch.stop()?;
    n.event_styled(
        "polling_summary",
        json!({"source": "file", "reads": reads, "eagain_count": eagain, "bytes": bytes, "elapsed_ms": ms(spent.wall)}),
        Style::Bold,
        format!(
            "read() x {reads} with O_NONBLOCK: {bytes} bytes, {eagain} EAGAIN, {:.2} ms (the disk was waited for)",
            ms(spent.wall)
        ),
    );
    n.explain("O_NONBLOCK has no effect on regular files: the kernel treats a disk read as");
    n.explain("\"fast\" and always waits for it. The notes' \"returns instantly\" is not true here.");

    let after = pread_nowait(&fd, &mut buf, 0);
    let (fields, text) = outcome(&after);
    n.event(
        "nowait_read",
        json!({"fd": raw, "when": "cached", "result": fields}),
        format!("preadv2(fd {raw}, 64 KiB, offset 0, RWF_NOWAIT) = {text} (cached now, so no wait needed)"),
    );
    Ok(FileOutcome { reads, eagain, bytes, nowait_eagain: first == Err(Errno::EAGAIN) })
}

/// A new, empty file in the temp directory, opened twice (a writer, and the
/// `O_RDONLY | O_NONBLOCK` fd the demo reads) and unlinked at once. A file that exists
/// only through its fds cannot be left behind, whenever a Ctrl-C comes.
fn scratch_file() -> Result<(std::fs::File, std::os::fd::OwnedFd, String)> {
    let path = std::env::temp_dir().join(format!("aio-lab-{}-uncached.bin", std::process::id()));
    let shown = path.display().to_string();
    // The reader first (O_CREAT | O_EXCL creates it), so it is the fd a student expects.
    let reader = open(
        &path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_CREAT | OFlag::O_EXCL,
        Mode::from_bits_truncate(0o600),
    )
    .with_context(|| format!("create {shown}"))?;
    let writer = std::fs::OpenOptions::new().write(true).open(&path).with_context(|| format!("open {shown}"));
    // Unlink before anything else can fail, so an error leaves nothing behind either.
    std::fs::remove_file(&path).with_context(|| format!("unlink {shown}"))?;
    Ok((writer?, reader, shown))
}

/// Flushes the file to disk and asks the kernel to drop its cached pages.
fn evict_from_page_cache(file: &std::fs::File, path: &str) -> Result<()> {
    // Dirty pages cannot be dropped: write them out first.
    file.sync_all().with_context(|| format!("fsync {path}"))?;
    posix_fadvise(file.as_fd(), 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED)
        .with_context(|| format!("posix_fadvise {path} DONTNEED"))
}
// ANCHOR_END: regular_file

/// What polling a pipe cost, next to what a blocking read cost.
#[derive(Debug, Clone, Copy)]
pub struct PipeOutcome {
    /// read() calls that failed with EAGAIN before the data came.
    pub eagain: u64,
    /// Wall and CPU time of the polling loop.
    pub polling: common::cpu::Spent,
    /// Wall and CPU time of a blocking read of the same pipe, for comparison.
    pub blocking: common::cpu::Spent,
}

// ANCHOR: pipe_polling
/// Reads a pipe whose writer writes after `delay`, first blocking (the baseline), then
/// with O_NONBLOCK in a loop that retries on every EAGAIN.
pub fn pipe_polling(n: &Narrator, delay: Duration) -> Result<PipeOutcome> {
    let mut buf = [0u8; 4096];

    // The baseline, as in the blocking-read demo: one read() that sleeps.
    let (r, w) = common::fd::pipe()?;
    let peer = offline::write_after(delay, std::fs::File::from(w), b"data, at last\n".to_vec());
    let watch = Stopwatch::start()?;
    common::fd::retry_eintr(|| nix::unistd::read(&r, &mut buf)).context("read pipe")?;
    let blocking = watch.stop()?;
    peer.join()?;
    n.event(
        "blocking_baseline",
        json!({"source": "pipe", "blocked_ms": ms(blocking.wall), "cpu_ms": ms(blocking.cpu), "cpu_share": blocking.cpu_share()}),
        format!(
            "baseline: a blocking read() on a pipe waited {:.2} s using {:.2} ms of CPU ({:.1}% of a core)",
            blocking.wall.as_secs_f64(),
            ms(blocking.cpu),
            blocking.cpu_share() * 100.0
        ),
    );

    // Now the same wait, with O_NONBLOCK and a loop.
    let (r, w) = common::fd::pipe()?;
    set_nonblocking(&r, true)?;
    let raw = r.as_raw_fd();
    n.event(
        "set_nonblocking",
        json!({"fd": raw, "nonblocking": is_nonblocking(&r)?}),
        format!("pipe() = fd {raw} (read end); fcntl(fd {raw}, F_SETFL, flags | O_NONBLOCK)"),
    );
    let peer = offline::write_after(delay, std::fs::File::from(w), b"data, at last\n".to_vec());
    let deadline = Instant::now() + delay + Duration::from_secs(5);
    let mut next_report = Instant::now() + Duration::from_millis(250);
    let mut eagain = 0u64;
    let watch = Stopwatch::start()?;
    let got = loop {
        match nix::unistd::read(&r, &mut buf) {
            Ok(got) => break got,
            Err(e) if would_block(e) => {
                eagain += 1;
                if eagain == 1 {
                    n.event_styled(
                        "read_returned",
                        json!({"source": "pipe", "fd": raw, "bytes": -1, "errno": "EAGAIN"}),
                        Style::Warn,
                        format!("read(fd {raw}) = -1, errno = EAGAIN (nothing yet; try again)  ... and again, and again:"),
                    );
                }
                let now = Instant::now();
                if now >= next_report {
                    n.event(
                        "still_polling",
                        json!({"source": "pipe", "eagain_so_far": eagain}),
                        format!("  still EAGAIN: {eagain} failed read() calls so far"),
                    );
                    next_report = now + Duration::from_millis(250);
                }
                if now >= deadline {
                    return Err(Error::msg("read pipe", "no data before the deadline"));
                }
            }
            Err(e) => return Err(Error::os(format!("read pipe fd {raw}"), e)),
        }
    };
    let polling = watch.stop()?;
    peer.join()?;
    n.event_styled(
        "polling_summary",
        json!({"source": "pipe", "eagain_count": eagain, "bytes": got, "elapsed_ms": ms(polling.wall),
               "cpu_ms": ms(polling.cpu), "cpu_share": polling.cpu_share(), "data": String::from_utf8_lossy(&buf[..got])}),
        Style::Bold,
        format!(
            "read(fd {raw}) = {got} bytes {} after {eagain} EAGAINs; the loop used {:.0} ms of CPU in {:.2} s ({:.0}% of a core)",
            show_bytes(&buf[..got], 20),
            ms(polling.cpu),
            polling.wall.as_secs_f64(),
            polling.cpu_share() * 100.0
        ),
    );
    n.explain(format!(
        "Same wait, same data: blocking used {:.2} ms of CPU, polling used {:.0} ms. A program that",
        ms(blocking.cpu),
        ms(polling.cpu)
    ));
    n.explain("must watch many fds needs a way to sleep until any of them is ready: select, poll.");
    Ok(PipeOutcome { eagain, polling, blocking })
}
// ANCHOR_END: pipe_polling

// ANCHOR: nonblocking_accept
/// accept() on a non-blocking listener with nothing pending, then with a client
/// waiting, then recv() on the accepted socket.
///
/// Returns the errno the first accept gave (EAGAIN).
pub fn nonblocking_accept(n: &Narrator) -> Result<Option<Errno>> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    let addr = listener.local_addr().context("getsockname")?;
    set_nonblocking(&listener, true)?;
    let lfd = listener.as_raw_fd();
    n.event(
        "listening",
        json!({"fd": lfd, "addr": addr.to_string()}),
        format!("socket + bind + listen on {addr} = fd {lfd}; fcntl(fd {lfd}, F_SETFL, O_NONBLOCK)"),
    );

    let first = nix::sys::socket::accept(&listener).map(|fd| fd.as_raw_fd());
    let first_errno = first.err();
    n.event_styled(
        "accept_returned",
        json!({"fd": lfd, "result": first.ok(), "errno": first_errno.map(|e| format!("{e:?}"))}),
        Style::Warn,
        match first {
            Ok(fd) => format!("accept(fd {lfd}) = fd {fd} (unexpected: someone connected)"),
            Err(e) => {
                format!("accept(fd {lfd}) = -1, errno = {e:?}: nobody is connecting, and accept did not wait")
            }
        },
    );

    let mut client = std::net::TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
    // On loopback the connection is queued by the time connect() returns; still, give
    // the kernel a moment rather than assuming (deadline: one second).
    let deadline = Instant::now() + Duration::from_secs(1);
    let conn = loop {
        match nix::sys::socket::accept(&listener) {
            Ok(fd) => break fd,
            Err(e) if would_block(e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => return Err(Error::os(format!("accept on {addr}"), e)),
        }
    };
    let cfd = conn.as_raw_fd();
    let inherited = is_nonblocking(&conn)?;
    n.event(
        "accept_returned",
        json!({"fd": lfd, "result": cfd, "errno": null, "nonblocking": inherited}),
        format!("a client connected; accept(fd {lfd}) = fd {cfd}. Is fd {cfd} non-blocking? {inherited}"),
    );
    n.explain("On Linux a socket returned by accept() does not inherit O_NONBLOCK from the");
    n.explain("listener (use accept4(SOCK_NONBLOCK) or fcntl it yourself).");

    set_nonblocking(&conn, true)?;
    let mut buf = [0u8; 64];
    let quiet = nix::sys::socket::recv(cfd, &mut buf, nix::sys::socket::MsgFlags::empty());
    let (fields, text) = outcome(&quiet);
    n.event_styled(
        "recv_returned",
        json!({"fd": cfd, "result": fields}),
        Style::Warn,
        format!("recv(fd {cfd}) = {text}"),
    );
    std::io::Write::write_all(&mut client, b"hi!\n").context("write to client socket")?;
    let deadline = Instant::now() + Duration::from_secs(1);
    let got = loop {
        match nix::sys::socket::recv(cfd, &mut buf, nix::sys::socket::MsgFlags::empty()) {
            Err(e) if would_block(e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1))
            }
            other => break other,
        }
    };
    let got = got.with_context(|| format!("recv fd {cfd}"))?;
    n.event(
        "recv_returned",
        json!({"fd": cfd, "result": {"bytes": got, "errno": null}}),
        format!("the client wrote \"hi!\\n\"; recv(fd {cfd}) = {got} bytes: {}", show_bytes(&buf[..got], 20)),
    );
    Ok(first_errno)
}
// ANCHOR_END: nonblocking_accept
