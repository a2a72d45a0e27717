//! Part 4's io_uring side: the same reads as pread and aio_read, through a submission
//! queue and a completion queue, one at a time (queue depth 1) or many in flight.

use common::sys::uring::{ReadOptions, Ring};
use common::{Error, Result};
use nix::errno::Errno;
use offline::slow::SlowDevice;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

/// The longest one wait for completions may take.
const DEADLINE: Duration = Duration::from_secs(5);

/// A ring of `entries`, or why io_uring cannot be measured here (the bench then
/// reports it and goes on without it).
pub fn ring(entries: u32) -> std::result::Result<Ring, String> {
    Ring::new(entries).map_err(|e| match e {
        Errno::EPERM => "io_uring_setup: EPERM (a seccomp filter or kernel.io_uring_disabled)".to_string(),
        Errno::ENOSYS => "io_uring_setup: ENOSYS (this kernel has no io_uring)".to_string(),
        e => format!("io_uring_setup: {e}"),
    })
}

/// Submits what is queued and reaps exactly `want` completions, checking each read
/// returned `len` bytes; hands each buffer to `keep`.
fn reap(ring: &mut Ring, want: usize, len: usize, mut keep: impl FnMut(Vec<u8>)) -> Result<()> {
    let mut got = 0;
    while got < want {
        match ring.submit_and_wait(want - got, DEADLINE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::os("io_uring_enter", e)),
        }
        let done = ring.completions();
        if done.is_empty() {
            return Err(Error::msg("io_uring", "no completion within 5 s"));
        }
        for c in done {
            match c.result {
                Ok(n) if n as usize == len => {}
                Ok(n) => return Err(Error::msg("io_uring read", format!("short read: {n} of {len} bytes"))),
                Err(e) => return Err(Error::os("io_uring read", e)),
            }
            keep(c.buf.unwrap_or_default());
            got += 1;
        }
    }
    Ok(())
}

// ANCHOR: uring_cost
/// `iters` reads of `block` bytes from `fd`, `depth` at a time: queue `depth` reads
/// (at offsets 0, block, 2 block...: the file must be that long), submit them with one
/// io_uring_enter that waits for all, reap. Buffers are reused, as pread's is.
pub fn reads(ring: &mut Ring, fd: BorrowedFd<'_>, block: usize, depth: usize, iters: u64) -> Result<()> {
    let mut buffers: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; block]).collect();
    let mut left = iters;
    while left > 0 {
        let batch = depth.min(left as usize);
        for k in 0..batch {
            let buf = buffers.pop().unwrap_or_else(|| vec![0u8; block]);
            ring.queue_read(fd, buf, (k * block) as u64, k as u64, ReadOptions::default())
                .map_err(|e| Error::os("queue a read", e))?;
        }
        reap(ring, batch, block, |buf| buffers.push(buf))?;
        left -= batch as u64;
    }
    Ok(())
}
// ANCHOR_END: uring_cost

/// One read of each of the device's inputs in `inputs` (each one chunk, `len` bytes),
/// at most `depth` in flight: the requests go out together, and the device's latency
/// overlaps.
pub fn device_reads(
    ring: &mut Ring,
    device: &SlowDevice,
    inputs: std::ops::Range<usize>,
    len: usize,
    depth: usize,
) -> Result<()> {
    let all: Vec<usize> = inputs.collect();
    for batch in all.chunks(depth.max(1)) {
        let fds = batch.iter().map(|&i| device.open(i)).collect::<Result<Vec<_>>>()?;
        for (k, fd) in fds.iter().enumerate() {
            ring.queue_read(fd.as_fd(), vec![0u8; len], 0, k as u64, ReadOptions::default())
                .map_err(|e| Error::os("queue a read", e))?;
        }
        reap(ring, batch.len(), len, drop)?;
    }
    Ok(())
}
