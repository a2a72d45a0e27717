//! io_uring, made safe to use from a demo: a submission queue the program fills and
//! one `io_uring_enter` hands to the kernel, and a completion queue it reaps.
//!
//! What makes raw io_uring unsafe is that the kernel writes into the program's memory
//! *later*: a read's buffer must stay where it is until that read's completion comes
//! back, whatever the program does meanwhile. So a [`Ring`] takes ownership of each
//! read's buffer when the read is queued and hands it back only in the [`Completion`]
//! that ends it; a linked timeout's time is kept until the kernel has copied it. On
//! drop, the ring cancels whatever is still in flight and waits for it (a buffer the
//! kernel never let go of is leaked, never freed under it).
//!
//! Every `unsafe` block of the io-uring crate's interface is in this file.

use io_uring::{opcode, squeue, types, IoUring};
use nix::errno::Errno;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

/// How one operation ended: its `user_data`, the kernel's result (bytes for a read, 0
/// for a cancel that worked, or an errno), and for a read, its buffer back.
#[derive(Debug)]
pub struct Completion {
    /// The tag given when it was queued.
    pub user_data: u64,
    /// `cqe.res`: a count (bytes read) or 0, or the errno the kernel returned.
    pub result: std::result::Result<u32, Errno>,
    /// A read's buffer, now the program's again (None for other operations).
    pub buf: Option<Vec<u8>>,
}

/// What to do with a read besides reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `IOSQE_ASYNC`: skip the non-blocking first try and hand the read straight to
    /// the kernel's worker (io-wq), where it runs blocking.
    pub in_worker: bool,
    /// A linked timeout (`IOSQE_IO_LINK` + `IORING_OP_LINK_TIMEOUT`): if the read has
    /// not finished after this long, the kernel cancels it. The timeout's own
    /// completion carries the second tag.
    pub timeout: Option<(Duration, u64)>,
}

/// Tags are the program's own numbers, not an attacker's: hashing them as they are
/// keeps the bookkeeping cheap next to a read of cached data (a few hundred ns).
#[derive(Default)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Tags = BuildHasherDefault<TagHasher>;

/// An io_uring instance: its two queues, and the buffers the kernel may still write.
pub struct Ring {
    ring: IoUring,
    /// Reads in flight: their buffers, which nothing may touch until they complete.
    buffers: HashMap<u64, Vec<u8>, Tags>,
    /// Every operation queued or in flight, by tag.
    pending: HashSet<u64, Tags>,
    /// Linked timeouts' times, alive until the `io_uring_enter` that submits them.
    /// Boxed: the Vec may grow and move its items, a box's contents stay put.
    #[allow(clippy::vec_box)]
    timespecs: Vec<Box<types::Timespec>>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").field("fd", &self.fd()).field("pending", &self.pending.len()).finish()
    }
}

fn errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

impl Ring {
    /// `io_uring_setup` with room for `entries` submissions. Fails with EPERM where a
    /// seccomp profile or `kernel.io_uring_disabled` forbids io_uring, ENOSYS on a
    /// kernel without it.
    pub fn new(entries: u32) -> std::result::Result<Ring, Errno> {
        let ring = IoUring::new(entries).map_err(|e| errno(&e))?;
        Ok(Ring { ring, buffers: HashMap::default(), pending: HashSet::default(), timespecs: Vec::new() })
    }

    /// The ring's own fd (what `io_uring_enter` is called on).
    pub fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// How many submissions fit in the submission queue.
    pub fn entries(&self) -> u32 {
        self.ring.params().sq_entries()
    }

    /// Operations queued or in flight, not yet reaped.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// True when `user_data` is queued or in flight.
    pub fn is_pending(&self, user_data: u64) -> bool {
        self.pending.contains(&user_data)
    }

    fn push(&mut self, entries: &[squeue::Entry]) -> std::result::Result<(), Errno> {
        let mut queue = self.ring.submission();
        if queue.capacity() - queue.len() < entries.len() {
            return Err(Errno::EBUSY);
        }
        // SAFETY: every pointer in these entries stays valid until the kernel is done
        // with it: read buffers are owned by `self.buffers` until their completion is
        // reaped (and leaked, never freed, if the ring is dropped before that);
        // timespecs by `self.timespecs` until the next submit, when the kernel copies
        // them. Fds are only numbers to the kernel: a closed one gives EBADF.
        unsafe { queue.push_multiple(entries) }.map_err(|_| Errno::EBUSY)
    }

    fn claim(&mut self, tags: &[u64]) -> std::result::Result<(), Errno> {
        if tags.iter().any(|t| self.pending.contains(t)) || (tags.len() == 2 && tags[0] == tags[1]) {
            return Err(Errno::EEXIST);
        }
        Ok(())
    }

    /// Queues `IORING_OP_READ` of `buf.len()` bytes (at most 4 GiB - 1) from `fd` at
    /// `offset` (ignored for pipes and sockets), tagged `user_data`, which must not be
    /// in use. Nothing reaches the kernel until [`Ring::submit`]. EBUSY: the queue is full.
    pub fn queue_read(
        &mut self,
        fd: BorrowedFd<'_>,
        mut buf: Vec<u8>,
        offset: u64,
        user_data: u64,
        options: ReadOptions,
    ) -> std::result::Result<(), Errno> {
        let timer_tag = options.timeout.map(|(_, t)| t);
        match timer_tag {
            Some(t) => self.claim(&[user_data, t])?,
            None => self.claim(&[user_data])?,
        }
        let len = u32::try_from(buf.len()).map_err(|_| Errno::EINVAL)?;
        let mut flags = squeue::Flags::empty();
        if options.in_worker {
            flags |= squeue::Flags::ASYNC;
        }
        if options.timeout.is_some() {
            flags |= squeue::Flags::IO_LINK;
        }
        let read = opcode::Read::new(types::Fd(fd.as_raw_fd()), buf.as_mut_ptr(), len)
            .offset(offset)
            .build()
            .flags(flags)
            .user_data(user_data);
        match options.timeout {
            Some((after, tag)) => {
                let spec = Box::new(types::Timespec::from(after));
                let timeout = opcode::LinkTimeout::new(&*spec).build().user_data(tag);
                self.push(&[read, timeout])?;
                self.timespecs.push(spec);
                self.pending.insert(tag);
            }
            None => self.push(&[read])?,
        }
        // The Vec's heap block does not move when the Vec itself is moved here.
        self.buffers.insert(user_data, buf);
        self.pending.insert(user_data);
        Ok(())
    }

    /// Queues `IORING_OP_ASYNC_CANCEL` for the operation tagged `target`; its own
    /// completion, tagged `user_data`, says 0 (cancelled), ENOENT (no such operation in
    /// flight: already finished), or EALREADY (running in a worker: it was told to
    /// stop, and completes on its own).
    pub fn queue_cancel(&mut self, target: u64, user_data: u64) -> std::result::Result<(), Errno> {
        self.claim(&[user_data])?;
        self.push(&[opcode::AsyncCancel::new(target).build().user_data(user_data)])?;
        self.pending.insert(user_data);
        Ok(())
    }

    /// `io_uring_enter(to_submit = everything queued, min_complete = 0)`: hands the
    /// queued operations to the kernel without waiting. Returns how many it took.
    pub fn submit(&mut self) -> std::result::Result<usize, Errno> {
        let n = self.ring.submit().map_err(|e| errno(&e))?;
        self.timespecs.clear(); // the kernel copied them while preparing the timeouts
        Ok(n)
    }

    /// `io_uring_enter(to_submit = everything queued, min_complete = want)`, waiting at
    /// most `timeout` (`IORING_ENTER_EXT_ARG`). Returns how many it submitted; a wait
    /// that timed out is not an error (the completion queue then has fewer than
    /// `want`). EINTR: a signal arrived.
    pub fn submit_and_wait(&mut self, want: usize, timeout: Duration) -> std::result::Result<usize, Errno> {
        let spec = types::Timespec::from(timeout);
        let args = types::SubmitArgs::new().timespec(&spec);
        let queued = self.ring.submission().len();
        let result = self.ring.submitter().submit_with_args(want, &args);
        self.timespecs.clear();
        match result {
            Ok(n) => Ok(n),
            Err(e) if errno(&e) == Errno::ETIME => Ok(queued),
            Err(e) => Err(errno(&e)),
        }
    }

    /// Reaps every completion waiting in the completion queue, in the order the kernel
    /// posted them (which is the order they finished, not the order they were queued).
    pub fn completions(&mut self) -> Vec<Completion> {
        let mut done = Vec::new();
        for cqe in self.ring.completion() {
            let user_data = cqe.user_data();
            let res = cqe.result();
            let result = if res < 0 { Err(Errno::from_raw(-res)) } else { Ok(res as u32) };
            self.pending.remove(&user_data);
            done.push(Completion { user_data, result, buf: self.buffers.remove(&user_data) });
        }
        done
    }
}

/// The barest io_uring read loop the io-uring crate allows, for the bench's floor: a
/// ring of its own; `iters` times, one read of `len` bytes at offset 0 pushed, handed
/// over by one `io_uring_enter` that waits for it (at most `timeout`), its completion
/// popped. None of [`Ring`]'s bookkeeping: what io_uring itself costs at queue depth 1.
pub fn bare_reads(
    fd: BorrowedFd<'_>,
    len: usize,
    iters: u64,
    timeout: Duration,
) -> std::result::Result<(), Errno> {
    let mut ring = IoUring::new(8).map_err(|e| errno(&e))?;
    let spec = types::Timespec::from(timeout);
    let args = types::SubmitArgs::new().timespec(&spec);
    let mut buf = vec![0u8; len];
    for _ in 0..iters {
        let read =
            opcode::Read::new(types::Fd(fd.as_raw_fd()), buf.as_mut_ptr(), len as u32).offset(0).build();
        // SAFETY: `buf` lives until the end of this function, and is leaked instead of
        // freed on every way out while this read may still be in flight (below).
        unsafe { ring.submission().push(&read) }.map_err(|_| Errno::EBUSY)?;
        let waited = ring.submitter().submit_with_args(1, &args);
        let Some(done) = ring.completion().next() else {
            std::mem::forget(buf); // still in flight (a timeout or an error): the kernel may write it later
            return Err(waited.err().map_or(Errno::ETIME, |e| errno(&e)));
        };
        match done.result() {
            n if n == len as i32 => {}
            n if n < 0 => return Err(Errno::from_raw(-n)),
            _ => return Err(Errno::EIO), // a short read: the file is shorter than `len`
        }
    }
    Ok(())
}

impl Drop for Ring {
    /// Closing the ring would make the kernel cancel what is in flight, but in the
    /// background, after this process may have freed the buffers. So: cancel each
    /// read and wait (at most 2 s) for its completion; leak any buffer still held.
    fn drop(&mut self) {
        if self.buffers.is_empty() {
            return;
        }
        let reads: Vec<u64> = self.buffers.keys().copied().collect();
        let mut tag = u64::MAX - 1_000_000;
        for target in reads {
            while self.pending.contains(&tag) {
                tag += 1;
            }
            if self.queue_cancel(target, tag).is_err() {
                break;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.buffers.is_empty() && Instant::now() < deadline {
            let _ = self.submit_and_wait(1, Duration::from_millis(100));
            let _ = self.completions();
        }
        for (_, buf) in self.buffers.drain() {
            std::mem::forget(buf);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    /// A ring, or None (and a SKIPPED line) where io_uring is not allowed.
    fn ring() -> Option<Ring> {
        match Ring::new(8) {
            Ok(ring) => Some(ring),
            Err(e @ (Errno::EPERM | Errno::ENOSYS)) => {
                eprintln!("SKIPPED: io_uring_setup: {e}");
                None
            }
            Err(e) => panic!("io_uring_setup: {e}"),
        }
    }

    #[test]
    fn a_read_comes_back_with_its_buffer_and_bytes() {
        let Some(mut ring) = ring() else { return };
        let (r, w) = crate::fd::pipe().unwrap();
        std::fs::File::from(w).write_all(b"hi!").unwrap();
        ring.queue_read(r.as_fd(), vec![0; 16], 0, 7, ReadOptions::default()).unwrap();
        assert_eq!(ring.queue_read(r.as_fd(), vec![0; 16], 0, 7, ReadOptions::default()), Err(Errno::EEXIST));
        assert_eq!(ring.submit_and_wait(1, Duration::from_secs(5)), Ok(1));
        let done = ring.completions();
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].user_data, done[0].result), (7, Ok(3)));
        assert_eq!(&done[0].buf.as_ref().unwrap()[..3], b"hi!");
        assert_eq!(ring.pending(), 0);
    }

    #[test]
    fn cancel_finds_a_waiting_read_and_not_a_finished_one() {
        let Some(mut ring) = ring() else { return };
        let (r, _w) = crate::fd::pipe().unwrap();
        ring.queue_read(r.as_fd(), vec![0; 16], 0, 1, ReadOptions::default()).unwrap();
        ring.submit().unwrap();
        ring.queue_cancel(1, 2).unwrap();
        ring.queue_cancel(99, 3).unwrap();
        ring.submit_and_wait(3, Duration::from_secs(5)).unwrap();
        let mut done: Vec<(u64, std::result::Result<u32, Errno>)> =
            ring.completions().into_iter().map(|c| (c.user_data, c.result)).collect();
        done.sort_by_key(|d| d.0);
        assert_eq!(done, vec![(1, Err(Errno::ECANCELED)), (2, Ok(0)), (3, Err(Errno::ENOENT))]);
    }

    #[test]
    fn a_linked_timeout_cancels_a_read_that_takes_too_long() {
        let Some(mut ring) = ring() else { return };
        let (r, _w) = crate::fd::pipe().unwrap();
        let options = ReadOptions { in_worker: false, timeout: Some((Duration::from_millis(20), 2)) };
        ring.queue_read(r.as_fd(), vec![0; 16], 0, 1, options).unwrap();
        assert_eq!(ring.submit_and_wait(2, Duration::from_secs(5)), Ok(2));
        let mut done: Vec<(u64, std::result::Result<u32, Errno>)> =
            ring.completions().into_iter().map(|c| (c.user_data, c.result)).collect();
        done.sort_by_key(|d| d.0);
        assert_eq!(done, vec![(1, Err(Errno::ECANCELED)), (2, Err(Errno::ETIME))]);
    }

    #[test]
    fn dropping_a_ring_with_a_read_in_flight_waits_for_it() {
        let Some(mut ring) = ring() else { return };
        let (r, _w) = crate::fd::pipe().unwrap();
        ring.queue_read(r.as_fd(), vec![0; 16], 0, 1, ReadOptions::default()).unwrap();
        ring.submit().unwrap();
        drop(ring); // must not free the buffer while the kernel may write it
    }
}
