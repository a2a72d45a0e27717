//! read-ahead, the starting point: hash each file block by block, one step at a time.
//!
//! The loop in [`hash_file`] reads a block, then processes it, then reads the next one.
//! While a block is being processed nothing is being read, and while a read waits for
//! the disk (or a slow pipe) nothing is being processed. Your job (see the lab's
//! README.md) is to keep one read in flight while the previous block is processed:
//! two buffers, `aio_read` for the next block, `aio_suspend` to wait for it.
//!
//! Everything except the loop is finished and correct: the hash, the simulated work,
//! the events the checker reads, the output line. Each place to change is marked TODO.

use common::{Context, Narrator, Result};
use serde_json::json;
use std::fs::File;
use std::io::Read;
use std::path::Path;
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

/// One blocking read into `buf`: returns how many bytes arrived (0 at end of file).
/// On a regular file it fills the buffer unless the file ends first; on a pipe or
/// FIFO it returns what has arrived so far, which may be less.
fn read_block(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

// ANCHOR: hash_file
/// Hashes one file, block by block, and returns its FNV-1a hash.
///
/// Reads until a read returns 0 bytes (end of file) rather than trusting the file's
/// size: a FIFO has no size, and a read of a pipe may return less than a full block.
pub fn hash_file(events: &Events, file_index: usize, path: &Path, opts: &Options) -> Result<u64> {
    // TODO: with AIO, open the file into an `Arc<OwnedFd>` instead (an AioRead keeps the
    // fd open for as long as glibc may read from it): `Arc::new(OwnedFd::from(file))`.
    let mut file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    // TODO: two buffers, not one: while one is being processed the other is being read.
    let mut buf = vec![0u8; opts.block];
    let mut hash = Fnv1a::new();
    let mut offset = 0u64;
    let mut block = 0u64;
    loop {
        // TODO: start this read (aio_read) *before* processing the previous block, and
        // only wait for it (aio_suspend, then aio_return) when that processing is done.
        events.read_start(file_index, block, offset, buf.len());
        let got = read_block(&mut file, &mut buf).with_context(|| format!("read {}", path.display()))?;
        events.read_done(file_index, block, got);
        if got == 0 {
            break;
        }
        // TODO: right here, before processing block k, block k+1's read should already
        // be in flight. As written, the program waits for each read and only then
        // processes: reads and processing take turns.
        process(events, file_index, block, &buf[..got], &mut hash, opts.work);
        offset += got as u64;
        block += 1;
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
