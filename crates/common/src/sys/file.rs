//! Regular-file calls that nix does not wrap.

use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd};

/// `preadv2(fd, buf, offset, RWF_NOWAIT)`: read only if the data is already in the page
/// cache, otherwise fail with EAGAIN instead of waiting for the disk.
///
/// This is what a student expects O_NONBLOCK to do on a regular file, and it does not
/// (see the nonblocking-read demo). Kernels before 4.14, and some file systems, answer
/// EOPNOTSUPP instead.
pub fn pread_nowait(fd: impl AsFd, buf: &mut [u8], offset: i64) -> nix::Result<usize> {
    let iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: `iov` describes `buf`, which is valid and exclusively borrowed for the
    // whole call; the count 1 matches the single iovec; the fd is borrowed, so it stays
    // open until the call returns.
    let n = unsafe { libc::preadv2(fd.as_fd().as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
    Errno::result(n).map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn cached_data_reads_without_waiting() {
        let mut file = tempfile_with(b"cached bytes");
        file.flush().unwrap();
        let mut buf = [0u8; 32];
        match pread_nowait(&file, &mut buf, 0) {
            Ok(n) => assert_eq!(&buf[..n], b"cached bytes"),
            // Some file systems (old overlayfs, tmpfs on old kernels) refuse the flag.
            Err(e) => assert!(e == Errno::EOPNOTSUPP || e == Errno::EAGAIN, "{e}"),
        }
    }

    fn tempfile_with(bytes: &[u8]) -> std::fs::File {
        let path = std::env::temp_dir().join(format!("aio-lab-sys-{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        f.write_all(bytes).unwrap();
        let _ = std::fs::remove_file(&path);
        f
    }
}
