//! What the three POSIX AIO demos share that is not `unsafe` (that part is
//! [`crate::sys::aio`]): the work done on each block once it has been read
//! ([`process`], [`Tally`]), checking the files named on the command line before any
//! I/O starts, reading every input in blocks until it ends, and noticing a file that
//! shrank between that check and its read.
//!
//! Why blocks, and why "until EOF": a size from `stat` is only a hint. `/proc` files
//! say 0 bytes and have content, sysfs files say 4096 and have a few dozen, and a file
//! may be far bigger than one buffer. So an input is read at offset 0, then where the
//! last read stopped, until a read returns 0 (end of file), or until a size that is
//! known to be exact has been read (saving the read that would return 0).

use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most one read asks for: the size of each buffer (the notes' `MAX_SIZE`). A
/// longer input is read in several blocks of this size.
pub const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// The buffer for an input whose size is not known (`st_size` 0, as in `/proc`).
pub const UNKNOWN_SIZE_BLOCK: usize = 64 * 1024;

/// What [`process`] found in one input: enough to check that the bytes read are exactly
/// the bytes in the file, and to give the processing step something real to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Bytes processed.
    pub bytes: usize,
    /// FNV-1a 64-bit hash of the bytes (tests compare it with the file's).
    pub checksum: u64,
    /// Newline count, as `wc -l` counts.
    pub lines: usize,
    /// Whitespace-separated words, as `wc -w` counts.
    pub words: usize,
}

impl Summary {
    /// The checksum as 16 hex digits, the way the demos print it.
    pub fn checksum_hex(&self) -> String {
        format!("{:016x}", self.checksum)
    }
}

/// FNV-1a, 64 bits: tiny, dependency-free, and good enough to tell two inputs apart.
pub fn checksum(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A [`Summary`] built block by block: the checksum, lines and words of a whole input
/// read in several pieces (a word cut in two by a block boundary counts once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    summary: Summary,
    in_word: bool,
}

impl Default for Tally {
    fn default() -> Self {
        Tally { summary: Summary { bytes: 0, checksum: checksum(b""), lines: 0, words: 0 }, in_word: false }
    }
}

impl Tally {
    /// Counts the next block of the input.
    pub fn add(&mut self, bytes: &[u8]) {
        let s = &mut self.summary;
        for &b in bytes {
            s.checksum = (s.checksum ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            let space = b.is_ascii_whitespace();
            if !space && !self.in_word {
                s.words += 1;
            }
            self.in_word = !space;
            s.lines += usize::from(b == b'\n');
        }
        s.bytes += bytes.len();
    }

    /// Everything added so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }
}

// ANCHOR: process
/// The notes' `process(buffer)`: a checksum plus line and word counts, then (if
/// `extra` is non-zero) simulated computation that keeps this thread busy until
/// `extra` has passed, so a student can make processing slower or faster than reading.
pub fn process(bytes: &[u8], extra: Duration) -> Summary {
    let started = Instant::now();
    let mut tally = Tally::default();
    tally.add(bytes);
    let summary = tally.summary();
    // Busy, not asleep: this stands for CPU work, and the point of the demo is that
    // the read of the next input proceeds on glibc's thread meanwhile.
    let mut spin = summary.checksum;
    while started.elapsed() < extra {
        spin = std::hint::black_box(checksum(&spin.to_le_bytes()));
    }
    summary
}
// ANCHOR_END: process

/// A file named on the command line, checked before any I/O starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInput {
    /// As the user typed it.
    pub path: PathBuf,
    /// Its size when checked (`st_size`): a hint, 0 for `/proc` files.
    pub size: u64,
}

impl FileInput {
    /// Refuses what cannot be read to an end: a missing or unreadable path (ENOENT,
    /// EACCES), a directory (EISDIR: open() would succeed, the read would fail), or
    /// something that is not a regular file (a FIFO would block in open(), a device may
    /// never end). Any size is fine, 0 included: `/proc` files say 0 and have content,
    /// so an empty file is only found out by reading it (see [`Inputs::check_end`]).
    pub fn check(path: &Path) -> Result<Self> {
        let what = || format!("read {}", path.display());
        let not_regular =
            || Error::msg(what(), "not a regular file (give a file; pipes use the built-in device)");
        // stat() before open(): opening a FIFO that nobody writes to blocks for ever.
        if std::fs::metadata(path).is_ok_and(|meta| !meta.is_file() && !meta.is_dir()) {
            return Err(not_regular());
        }
        let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        let meta = file.metadata().with_context(what)?;
        if meta.is_dir() {
            return Err(Error::os(what(), Errno::EISDIR));
        }
        if !meta.is_file() {
            return Err(not_regular());
        }
        Ok(FileInput { path: path.to_path_buf(), size: meta.len() })
    }

    /// Checks every path, stopping at the first bad one.
    pub fn check_all(paths: &[PathBuf]) -> Result<Vec<Self>> {
        paths.iter().map(|p| Self::check(p)).collect()
    }

    /// [`FileInput::check_all`], then the list narrated as a `source` event: every path
    /// is checked before any I/O, so a bad one stops the demo with one line.
    pub fn check_and_announce(n: &crate::Narrator, paths: &[PathBuf]) -> Result<Vec<Self>> {
        let files = Self::check_all(paths)?;
        let list: Vec<_> =
            files.iter().map(|f| serde_json::json!({"label": f.label(), "bytes": f.size})).collect();
        n.event(
            "source",
            serde_json::json!({"kind": "files", "inputs": list}),
            format!(
                "{} file{}, checked: {}",
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                files.iter().map(FileInput::described).collect::<Vec<_>>().join(", ")
            ),
        );
        Ok(files)
    }

    /// `status (size unknown)`, `big.bin (52428800 B, 4 blocks)`, `a.txt (12 B)`.
    fn described(&self) -> String {
        let blocks = self.size.div_ceil(MAX_INPUT);
        match self.size {
            0 => format!("{} (size unknown: read until EOF)", self.label()),
            _ if blocks > 1 => format!("{} ({} B, {blocks} blocks)", self.label(), self.size),
            size => format!("{} ({size} B)", self.label()),
        }
    }

    /// Opens it for reading (the fd the aiocb names).
    pub fn open(&self) -> Result<Arc<OwnedFd>> {
        let file =
            std::fs::File::open(&self.path).with_context(|| format!("open {}", self.path.display()))?;
        Ok(Arc::new(OwnedFd::from(file)))
    }

    /// The label used in narration and the timeline: the file name.
    pub fn label(&self) -> String {
        self.path.file_name().map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into())
    }
}

/// A numbered set of inputs the AIO demos read: files from the command line, or the
/// simulated slow device (`offline::slow::SlowDevice` implements this too).
pub trait Inputs {
    /// How many inputs.
    fn count(&self) -> usize;
    /// The name narration and timelines use for input `i`.
    fn label(&self, i: usize) -> String;
    /// How many bytes input `i` says it has: exact for the device, `st_size` for a file
    /// (0 when unknown). Reading stops once this much has been read, or at EOF.
    fn expected_len(&self, i: usize) -> usize;
    /// Opens input `i` (for the device, this is the request: its latency starts now).
    fn open(&self, i: usize) -> Result<Arc<OwnedFd>>;
    /// The buffer size (the notes' MAX_SIZE): big enough for the largest input in one
    /// read, at most [`MAX_INPUT`]; [`UNKNOWN_SIZE_BLOCK`] for an input of unknown size.
    fn buffer_size(&self) -> usize {
        (0..self.count()).map(|i| block_size(self.expected_len(i))).max().unwrap_or(UNKNOWN_SIZE_BLOCK)
    }
    /// Called when input `i` has ended after `total` bytes (read through `fd`): an
    /// error if that is not the whole input. The device knows its sizes exactly, so by
    /// default anything else than `expected_len` is an error.
    fn check_end(&self, i: usize, fd: BorrowedFd<'_>, total: u64) -> Result<()> {
        let _ = fd;
        check_complete(&self.label(i), self.expected_len(i), isize::try_from(total).unwrap_or(-1))
    }
    /// Drops the inputs from the page cache (posix_fadvise DONTNEED), so that a second
    /// run reads from the disk as the first did. Returns how many it dropped (0: not
    /// files, nothing to drop).
    fn drop_cache(&self) -> Result<usize> {
        Ok(0)
    }
}

/// The buffer one input needs: all of it in one read when its size is known and at
/// most [`MAX_INPUT`]; [`MAX_INPUT`] (several reads) when bigger; [`UNKNOWN_SIZE_BLOCK`]
/// when its size says 0.
pub fn block_size(expected_len: usize) -> usize {
    match expected_len {
        0 => UNKNOWN_SIZE_BLOCK,
        len => len.min(usize::try_from(MAX_INPUT).unwrap_or(usize::MAX)),
    }
}

/// True when a read that returned `got` bytes, bringing the input to `read_so_far`,
/// was the input's last: it returned 0 (EOF), or the input's known size is all read.
pub fn input_ended(got: usize, read_so_far: u64, expected_len: usize) -> bool {
    got == 0 || (expected_len > 0 && read_so_far >= expected_len as u64)
}

impl Inputs for Vec<FileInput> {
    fn count(&self) -> usize {
        self.len()
    }
    fn label(&self, i: usize) -> String {
        self.get(i).map_or_else(String::new, FileInput::label)
    }
    fn expected_len(&self, i: usize) -> usize {
        self.get(i).map_or(0, |f| usize::try_from(f.size).unwrap_or(usize::MAX))
    }
    fn open(&self, i: usize) -> Result<Arc<OwnedFd>> {
        self.get(i).ok_or_else(|| Error::msg("open", format!("no input {i}")))?.open()
    }
    /// Ended short of `st_size`: shrank (the size is smaller now: an error) or a size
    /// that was only a guess (sysfs says 4096 for a few bytes: fine). An empty file
    /// ends at once, at 0 bytes: read to its end like any other.
    fn check_end(&self, i: usize, fd: BorrowedFd<'_>, total: u64) -> Result<()> {
        let label = self.label(i);
        let claimed = self.get(i).map_or(0, |f| f.size);
        if total >= claimed {
            return Ok(());
        }
        let now = nix::sys::stat::fstat(fd.as_fd()).with_context(|| format!("fstat {label}"))?;
        if u64::try_from(now.st_size).unwrap_or(0) >= claimed {
            return Ok(());
        }
        let expected = usize::try_from(claimed).unwrap_or(usize::MAX);
        check_complete(&label, expected, isize::try_from(total).unwrap_or(-1))
    }
    fn drop_cache(&self) -> Result<usize> {
        for file in self {
            let fd = file.open()?;
            nix::fcntl::posix_fadvise(fd.as_fd(), 0, 0, nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED)
                .with_context(|| format!("posix_fadvise({}, POSIX_FADV_DONTNEED)", file.label()))?;
        }
        Ok(self.len())
    }
}

/// A read that returned fewer bytes than the input had when checked means the file
/// shrank in between (or the source closed early): an error, not silently short data.
pub fn check_complete(label: &str, expected: usize, got: isize) -> Result<()> {
    match usize::try_from(got) {
        Ok(n) if n == expected => Ok(()),
        Ok(n) if n < expected => Err(Error::msg(
            format!("read {label}"),
            format!("got {n} of {expected} bytes: the input shrank while being read"),
        )),
        Ok(n) => Err(Error::msg(
            format!("read {label}"),
            format!("got {n} bytes, expected {expected}: the input changed size while being read"),
        )),
        Err(_) => Err(Error::msg(format!("read {label}"), format!("aio_return gave {got}"))),
    }
}

/// Made-up text for an input from the simulated device: `bytes` long, lines of words,
/// different for every `index` (so every checksum differs).
pub fn sample_text(index: usize, bytes: usize) -> Vec<u8> {
    const WORDS: &[&str] =
        &["aiocb", "buffer", "worker", "thread", "queue", "offset", "signal", "callback", "read", "done"];
    let mut out = Vec::with_capacity(bytes + 16);
    let mut n = index.wrapping_mul(7919) + 1;
    let mut line = 0;
    while out.len() < bytes {
        line += 1;
        out.extend_from_slice(format!("input {index} line {line}:").as_bytes());
        for _ in 0..8 {
            n = n.wrapping_mul(1_103_515_245).wrapping_add(12345) % 2_147_483_648;
            out.push(b' ');
            out.extend_from_slice(WORDS[n % WORDS.len()].as_bytes());
        }
        out.push(b'\n');
    }
    out.truncate(bytes);
    if let Some(last) = out.last_mut() {
        *last = b'\n';
    }
    out
}

/// The id of a thread of this process that is blocked in read() or pread64() on `fd`
/// right now, if any: how a demo or test knows glibc's AIO worker is *running* a
/// request rather than holding it in its queue (aio_error says EINPROGRESS for both).
///
/// Reads `/proc/self/task/*/syscall`: the syscall number, then its arguments, fd first.
pub fn thread_blocked_in_read(fd: i32) -> Option<i32> {
    let wanted = [libc::SYS_read, libc::SYS_pread64];
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("syscall")) else { continue };
        let mut fields = text.split_whitespace();
        let nr = fields.next().and_then(|f| f.parse::<libc::c_long>().ok());
        let arg0 = fields.next().and_then(|f| i64::from_str_radix(f.trim_start_matches("0x"), 16).ok());
        if nr.is_some_and(|nr| wanted.contains(&nr)) && arg0 == Some(i64::from(fd)) {
            return task.file_name().to_str().and_then(|t| t.parse().ok());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_counts_like_wc() {
        let s = process(b"one two\nthree  four five\n\nsix", Duration::ZERO);
        assert_eq!((s.bytes, s.lines, s.words), (29, 3, 6));
        assert_eq!(s.checksum, checksum(b"one two\nthree  four five\n\nsix"));
        assert_eq!(checksum(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(checksum(b"a"), 0xaf63_dc4c_8601_ec8c, "FNV-1a test vector");
    }

    #[test]
    fn process_extra_time_is_spent() {
        let t = Instant::now();
        process(b"x", Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn bad_inputs_are_refused_with_the_right_errno() {
        let e = FileInput::check(Path::new("/definitely/not/here")).unwrap_err();
        assert_eq!(e.errno, Some(Errno::ENOENT));
        let e = FileInput::check(&std::env::temp_dir()).unwrap_err();
        assert_eq!(e.errno, Some(Errno::EISDIR));
        assert!(FileInput::check(Path::new("/dev/null"))
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        // Sizes are hints: /proc says 0, and an empty file is only found out at its end.
        assert_eq!(FileInput::check(Path::new("/proc/self/status")).unwrap().size, 0);
        let empty = std::env::temp_dir().join(format!("aio-lab-empty-{}", std::process::id()));
        std::fs::write(&empty, b"").unwrap();
        let files = vec![FileInput::check(&empty).unwrap()];
        let fd = files.open(0).unwrap();
        assert!(files.check_end(0, fd.as_fd(), 0).is_ok(), "an empty file ends at 0 bytes");
        std::fs::write(&empty, b"abc").unwrap();
        assert_eq!(FileInput::check(&empty).unwrap().size, 3);
        let _ = std::fs::remove_file(&empty);
    }

    #[test]
    fn a_file_ends_short_of_its_size_only_if_it_shrank() {
        let path = std::env::temp_dir().join(format!("aio-lab-shrink-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let files = vec![FileInput::check(&path).unwrap()];
        let fd = files.open(0).unwrap();
        assert!(files.check_end(0, fd.as_fd(), 10).is_ok());
        // Still 10 bytes on disk: the size was a guess (as sysfs's 4096 is), not a shrink.
        assert!(files.check_end(0, fd.as_fd(), 4).is_ok());
        std::fs::write(&path, b"0123").unwrap();
        let e = files.check_end(0, fd.as_fd(), 4).unwrap_err();
        assert!(e.to_string().contains("got 4 of 10 bytes: the input shrank"), "{e}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn inputs_end_at_eof_or_at_a_known_size() {
        assert!(input_ended(0, 10, 0), "EOF ends an input of unknown size");
        assert!(!input_ended(1400, 1400, 0), "unknown size: read on until EOF");
        assert!(input_ended(16, 16, 16), "known size reached: no EOF read needed");
        assert!(!input_ended(16, 16, 32));
    }

    #[test]
    fn a_tally_of_blocks_equals_one_pass() {
        let text = sample_text(3, 10_000);
        let whole = process(&text, Duration::ZERO);
        for cut in [1, 7, 4096, 9_999] {
            let mut tally = Tally::default();
            for block in text.chunks(cut) {
                tally.add(block);
            }
            assert_eq!(tally.summary(), whole, "blocks of {cut}");
        }
        assert_eq!(Tally::default().summary().checksum, checksum(b""));
    }

    #[test]
    fn short_reads_are_errors() {
        assert!(check_complete("a", 10, 10).is_ok());
        let e = check_complete("a", 10, 4).unwrap_err();
        assert!(e.to_string().contains("shrank"), "{e}");
        assert!(check_complete("a", 10, -1).is_err());
    }

    #[test]
    fn sample_text_is_sized_and_distinct() {
        let a = sample_text(0, 5000);
        let b = sample_text(1, 5000);
        assert_eq!((a.len(), b.len()), (5000, 5000));
        assert_ne!(checksum(&a), checksum(&b));
        assert_eq!(a.last(), Some(&b'\n'));
    }
}
