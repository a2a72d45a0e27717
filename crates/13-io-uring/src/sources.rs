//! What the io-uring demo reads, and how it puts blocks that finish in any order back
//! in order: files named on the command line (checked before any I/O), or inputs of
//! the simulated slow device; and [`Tally`], which hashes a source's bytes in file
//! order however the blocks arrive.

use common::aio::checksum;
use common::{Context, Error, Result};
use nix::sys::stat::{fstat, SFlag};
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;

/// One thing to read to its end.
#[derive(Debug)]
pub struct Source {
    /// How narration names it: the path, or `input N`.
    pub label: String,
    /// Open for reading.
    pub fd: OwnedFd,
    /// The size fstat gave, when it is worth trusting for reading ahead: a regular
    /// file with a non-zero size. /proc files say 0 and pipes have none: those are
    /// read one block at a time until a read returns 0.
    pub size_hint: Option<u64>,
    /// The bytes it must turn out to hold (device inputs), to check the reads.
    pub expected: Option<Vec<u8>>,
}

impl Source {
    /// Opens `path` for reading: refused before any I/O when it is a directory, or not
    /// a regular file (a device like /dev/zero never ends; opening a FIFO nobody writes
    /// to would block). /proc files are regular files, of size 0: they are read to EOF.
    pub fn open(path: &Path) -> Result<Source> {
        let shown = path.display();
        let meta = std::fs::metadata(path).with_context(|| format!("open {shown}"))?;
        if meta.is_dir() {
            return Err(Error::os(format!("read {shown}"), nix::errno::Errno::EISDIR));
        }
        if !meta.is_file() {
            return Err(Error::msg(
                format!("read {shown}"),
                "not a regular file (io_uring reads files here; a device or FIFO may never end)",
            ));
        }
        let file = std::fs::File::open(path).with_context(|| format!("open {shown}"))?;
        let fd = OwnedFd::from(file);
        let stat = fstat(&fd).with_context(|| format!("fstat {shown}"))?;
        let regular = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG;
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        Ok(Source {
            label: shown.to_string(),
            fd,
            size_hint: (regular && size > 0).then_some(size),
            expected: None,
        })
    }

    /// Input `index` of the simulated device: asking for it (opening it) starts its
    /// latency; its bytes arrive through a pipe, then EOF.
    pub fn device(device: &offline::slow::SlowDevice, index: usize) -> Result<Source> {
        Ok(Source {
            label: format!("input {}", index + 1),
            fd: device.open(index)?,
            size_hint: None,
            expected: device.input(index).map(<[u8]>::to_vec),
        })
    }
}

/// A source's bytes, counted and hashed in file order whatever order the blocks
/// complete in: a block that arrives early waits here until the ones before it have.
#[derive(Debug)]
pub struct Tally {
    /// FNV-1a over the bytes in order so far (common::aio's checksum, continued).
    hash: u64,
    /// Bytes hashed so far: the next offset in file order.
    pub in_order: u64,
    /// Newlines among them.
    pub lines: u64,
    /// Blocks that finished before an earlier one, by offset.
    early: BTreeMap<u64, Vec<u8>>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally { hash: checksum(b""), in_order: 0, lines: 0, early: BTreeMap::new() }
    }
}

impl Tally {
    /// Takes the `bytes` read at `offset`, and hashes every block now in order.
    pub fn add(&mut self, offset: u64, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.early.insert(offset, bytes.to_vec());
        while let Some(block) = self.early.remove(&self.in_order) {
            for &b in &block {
                self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            self.lines += block.iter().filter(|&&b| b == b'\n').count() as u64;
            self.in_order += block.len() as u64;
        }
    }

    /// Blocks that never joined the rest: a gap before them (the file shrank while
    /// being read). Zero when the bytes read are the file, in order.
    pub fn stranded(&self) -> usize {
        self.early.len()
    }

    /// The checksum as 16 hex digits, as the AIO demos print it.
    pub fn checksum_hex(&self) -> String {
        format!("{:016x}", self.hash)
    }

    /// The checksum.
    pub fn checksum(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_in_any_order_hash_as_the_whole() {
        let text = b"one\ntwo\nthree\nfour\n";
        let mut tally = Tally::default();
        tally.add(8, &text[8..14]);
        tally.add(14, &text[14..]);
        assert_eq!(tally.in_order, 0);
        tally.add(0, &text[..8]);
        assert_eq!((tally.in_order, tally.lines, tally.stranded()), (text.len() as u64, 4, 0));
        assert_eq!(tally.checksum(), checksum(text));
        let mut gap = Tally::default();
        gap.add(4, b"x");
        assert_eq!(gap.stranded(), 1);
    }
}
