//! read-ahead, the reference solution: hash each file block by block, reading block
//! k+1 while block k is processed (notes: "Asynchronous I/O with AIO").
//!
//! Two buffers take turns. One is in glibc's hands, being filled by an `aio_read` on
//! the AIO worker thread; the other holds the block this thread is processing. When
//! processing ends, `aio_suspend` sleeps until the read is done (usually it already
//! is), `aio_return` collects it, the next read is started into the buffer just freed,
//! and the block that arrived is processed. At most two buffers ever exist per file.
//!
//! It uses `common::sys::aio::AioRead` rather than nix's `AioRead`: the request owns its
//! buffer and hands it back from `aio_return`, so "glibc owns this buffer until the read
//! is collected" is enforced by the compiler, and an error while a read is in flight
//! (a failed read of the other block) cancels and waits instead of panicking.

use common::sys::aio::{aio_suspend, AioRead, Finished, Status};
use common::{Context, Error, Narrator, Result};
use nix::errno::Errno;
use serde_json::json;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the command line asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Bytes asked for in each read (`--block KIB` x 1024).
    pub block: usize,
    /// Simulated computation per block (`--work-ms`).
    pub work: Duration,
}

// ANCHOR: fnv
/// FNV-1a, 64 bits, over every byte of a file. It works one byte at a time, so hashing
/// block by block gives exactly the hash of the whole file: keep one `Fnv1a` per file
/// and feed it every block in order.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Fnv1a {
    /// The offset basis: also the hash of an empty file.
    pub const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    /// The 64-bit FNV prime.
    pub const PRIME: u64 = 0x0100_0000_01b3;

    /// A hash of nothing yet.
    pub fn new() -> Self {
        Fnv1a(Self::OFFSET_BASIS)
    }

    /// Feeds `bytes`: for each byte, XOR it in, then multiply by the prime (mod 2^64).
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
    }

    /// The hash so far.
    pub fn value(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}
// ANCHOR_END: fnv

// ANCHOR: process
/// Processing one block: hash it, then keep this thread busy until `work` has passed
/// since processing began. The busy loop stands for real computation (decompressing,
/// parsing...). Reads that are in flight meanwhile proceed on another thread, which is
/// the whole point.
pub fn process(events: &Events, file: usize, block: u64, bytes: &[u8], hash: &mut Fnv1a, work: Duration) {
    events.process_start(file, block, bytes.len());
    let started = Instant::now();
    hash.update(bytes);
    while started.elapsed() < work {
        std::hint::spin_loop();
    }
    events.process_end(file, block);
}
// ANCHOR_END: process

// ANCHOR: events
/// The `--json` events the checker reads (one JSON object per stdout line). In text
/// mode they print nothing, so stdout holds only the hash lines.
///
/// Blocks are numbered from 0 within each file; `file` is the file's position on the
/// command line, from 0.
#[derive(Debug)]
pub struct Events {
    narrator: Narrator,
}

impl Events {
    /// Events on `narrator` (JSON Lines with `--json`, silent otherwise).
    pub fn new(narrator: Narrator) -> Self {
        Events { narrator }
    }

    /// A read of `bytes` bytes at `offset` was started (just before read()/aio_read).
    pub fn read_start(&self, file: usize, block: u64, offset: u64, bytes: usize) {
        self.narrator
            .data("read_start", json!({"file": file, "block": block, "offset": offset, "bytes": bytes}));
    }

    /// That read finished with `bytes` bytes (0: end of file).
    pub fn read_done(&self, file: usize, block: u64, bytes: usize) {
        self.narrator.data("read_done", json!({"file": file, "block": block, "bytes": bytes}));
    }

    /// Processing of a block began.
    pub fn process_start(&self, file: usize, block: u64, bytes: usize) {
        self.narrator.data("process_start", json!({"file": file, "block": block, "bytes": bytes}));
    }

    /// Processing of a block ended: its buffer is free again.
    pub fn process_end(&self, file: usize, block: u64) {
        self.narrator.data("process_end", json!({"file": file, "block": block}));
    }

    /// A file is done: the `HASH  PATH` line in text mode, a `hash` event with `--json`.
    pub fn hash(&self, file: usize, path: &Path, hash: u64) {
        let hex = format!("{hash:016x}");
        self.narrator.data("hash", json!({"file": file, "path": path.display().to_string(), "hash": hex}));
        self.narrator.say(format!("{hex}  {}", path.display()));
    }
}
// ANCHOR_END: events

/// How long one read may take before the program gives up on it (a FIFO whose writer
/// went quiet, say): every wait has a deadline.
pub const READ_DEADLINE: Duration = Duration::from_secs(60);

// ANCHOR: start_read
/// Starts reading block `block` (`buf.len()` bytes at `offset`) and returns at once:
/// the read proceeds on glibc's AIO worker thread. From here until `aio_return`, the
/// buffer belongs to glibc, and the type says so: `AioRead` owns it, and gives it back
/// only through [`wait_for`].
fn start_read(
    events: &Events,
    fd: &Arc<OwnedFd>,
    (file, block): (usize, u64),
    offset: u64,
    buf: Vec<u8>,
    path: &Path,
) -> Result<AioRead> {
    events.read_start(file, block, offset, buf.len());
    // On a FIFO glibc's pread gives ESPIPE and the worker falls back to read(), which
    // ignores the offset: the same code serves files and FIFOs.
    let mut req = AioRead::new(Arc::clone(fd), offset, buf);
    req.aio_read().with_context(|| format!("aio_read {} block {block}", path.display()))?;
    Ok(req)
}
// ANCHOR_END: start_read

// ANCHOR: wait_for
/// Sleeps in aio_suspend until the read has finished, then collects it with
/// aio_return (exactly once: `aio_return` takes the request by value). A read that
/// failed becomes an error naming the file and the errno.
fn wait_for(mut req: AioRead, path: &Path) -> Result<Finished> {
    let deadline = Instant::now() + READ_DEADLINE;
    loop {
        // aio_return hands the request back (Err) while it is still in flight.
        req = match req.aio_return() {
            Ok(done) => {
                return match done.status {
                    Status::Failed(errno) => Err(Error::os(format!("read {}", path.display()), errno)),
                    _ => Ok(done),
                }
            }
            Err(still_running) => still_running,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // Dropping `req` cancels it and waits for glibc to let go of the buffer.
            return Err(Error::msg(
                format!("read {}", path.display()),
                format!("no data for {} s: gave up", READ_DEADLINE.as_secs()),
            ));
        }
        // Sleeps until the read finishes; EAGAIN (timed out) and EINTR (a signal) just
        // mean "look again". The timeout only bounds each sleep.
        match aio_suspend(&[&req], left.min(Duration::from_secs(1))) {
            Ok(()) | Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(e) => return Err(Error::os(format!("aio_suspend on {}", path.display()), e)),
        }
    }
}
// ANCHOR_END: wait_for

// ANCHOR: hash_file
/// Hashes one file, block by block, with the next block's read always in flight while
/// the current block is processed (double buffering). Returns its FNV-1a hash.
///
/// Reads until a read returns 0 bytes (end of file) rather than trusting the file's
/// size: a FIFO has no size, and a read of a pipe may return less than a full block.
pub fn hash_file(events: &Events, file_index: usize, path: &Path, opts: &Options) -> Result<u64> {
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    // Shared with every AioRead, which keeps it open while glibc may read from it.
    let fd = Arc::new(OwnedFd::from(file));
    let mut hash = Fnv1a::new();
    let mut offset = 0u64;
    // Two buffers: one in flight from the start, one spare.
    let mut in_flight = start_read(events, &fd, (file_index, 0), 0, vec![0u8; opts.block], path)?;
    let mut spare = vec![0u8; opts.block];
    for block in 0u64.. {
        let done = wait_for(in_flight, path)?;
        let got = done.bytes().len();
        events.read_done(file_index, block, got);
        if got == 0 {
            break;
        }
        offset += got as u64;
        // The heart of it: the next read starts *before* this block is processed, into
        // the spare buffer, so that glibc's worker waits for the disk (or pipe) while
        // this thread computes.
        in_flight = start_read(events, &fd, (file_index, block + 1), offset, spare, path)?;
        process(events, file_index, block, done.bytes(), &mut hash, opts.work);
        // This block's buffer is free again: it becomes the spare for the next read.
        spare = done.buf;
    }
    Ok(hash.value())
}
// ANCHOR_END: hash_file

/// Hashes every file in order and prints one line per file. Stops at the first error
/// (a missing file, say), which `main` prints as one line.
pub fn run(events: &Events, paths: &[std::path::PathBuf], opts: &Options) -> Result<()> {
    for (i, path) in paths.iter().enumerate() {
        let hash = hash_file(events, i, path, opts)?;
        events.hash(i, path, hash);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_test_vectors_and_blockwise_equals_whole() {
        let mut h = Fnv1a::new();
        assert_eq!(h.value(), 0xcbf2_9ce4_8422_2325);
        h.update(b"a");
        assert_eq!(h.value(), 0xaf63_dc4c_8601_ec8c);
        let mut whole = Fnv1a::new();
        whole.update(b"foobar");
        assert_eq!(whole.value(), 0x8594_4171_f739_67e8);
        let mut parts = Fnv1a::new();
        parts.update(b"foo");
        parts.update(b"");
        parts.update(b"bar");
        assert_eq!(parts.value(), whole.value());
    }
}
