//! File-descriptor helpers the demos share.
//!
//! Everything here is safe Rust over nix; the few raw calls live in [`crate::sys`].

use crate::error::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Turns O_NONBLOCK on or off (notes: "fcntl() + O_NONBLOCK").
///
/// Reads F_GETFL first and changes only that one bit: `F_SETFL, O_NONBLOCK` as the notes
/// write it would also clear every other status flag (O_APPEND, for example).
pub fn set_nonblocking(fd: impl AsFd, on: bool) -> Result<()> {
    let fd = fd.as_fd();
    let raw = fd.as_raw_fd();
    let flags = fcntl(fd, FcntlArg::F_GETFL).with_context(|| format!("fcntl(fd {raw}, F_GETFL)"))?;
    let mut flags = OFlag::from_bits_truncate(flags);
    flags.set(OFlag::O_NONBLOCK, on);
    fcntl(fd, FcntlArg::F_SETFL(flags)).with_context(|| format!("fcntl(fd {raw}, F_SETFL)"))?;
    Ok(())
}

/// Whether O_NONBLOCK is set on `fd`.
pub fn is_nonblocking(fd: impl AsFd) -> Result<bool> {
    let fd = fd.as_fd();
    let raw = fd.as_raw_fd();
    let flags = fcntl(fd, FcntlArg::F_GETFL).with_context(|| format!("fcntl(fd {raw}, F_GETFL)"))?;
    Ok(OFlag::from_bits_truncate(flags).contains(OFlag::O_NONBLOCK))
}

/// A pipe: `(read end, write end)`, both close-on-exec.
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe2")
}

/// A connected pair of Unix stream sockets (a socket with a peer, without the network).
pub fn socketpair() -> Result<(UnixStream, UnixStream)> {
    UnixStream::pair().context("socketpair(AF_UNIX, SOCK_STREAM)")
}

/// True for EAGAIN (also spelled EWOULDBLOCK): "nothing there yet, try later".
pub fn would_block(errno: Errno) -> bool {
    errno == Errno::EAGAIN || errno == Errno::EWOULDBLOCK
}

/// True for EINTR: a signal handler ran while the call was waiting.
pub fn interrupted(errno: Errno) -> bool {
    errno == Errno::EINTR
}

/// Calls `op` again for as long as it fails with EINTR.
///
/// A blocking call interrupted by a signal handler returns EINTR without doing anything;
/// the right answer is usually to call it again.
pub fn retry_eintr<T>(mut op: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    loop {
        match op() {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// Raises the soft RLIMIT_NOFILE to `want` (capped at the hard limit) and returns the
/// soft limit now in force. Lowering is never done.
pub fn raise_nofile_limit(want: u64) -> Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    let target = want.min(hard);
    if target > soft {
        setrlimit(Resource::RLIMIT_NOFILE, target, hard).context("setrlimit(RLIMIT_NOFILE)")?;
        return Ok(target);
    }
    Ok(soft)
}

/// The fds this process has open, from `/proc/self/fd` (without the one used to list it).
pub fn open_fds() -> Result<Vec<i32>> {
    let dir = std::fs::read_dir("/proc/self/fd").context("read_dir /proc/self/fd")?;
    let mut fds: Vec<i32> = dir
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse().ok()))
        .collect();
    // The directory listing itself held one fd; it is closed again by now.
    fds.retain(|fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok());
    fds.sort_unstable();
    Ok(fds)
}

/// How many fds this process has open (for leak checks: compare before and after).
pub fn count_open_fds() -> Result<usize> {
    Ok(open_fds()?.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn nonblocking_flag_round_trips_and_keeps_other_flags() {
        let (r, w) = pipe().unwrap();
        assert!(!is_nonblocking(&r).unwrap());
        set_nonblocking(&r, true).unwrap();
        assert!(is_nonblocking(&r).unwrap());
        set_nonblocking(&r, false).unwrap();
        assert!(!is_nonblocking(&r).unwrap());
        // The write end was never touched.
        assert!(!is_nonblocking(&w).unwrap());
    }

    #[test]
    fn empty_nonblocking_pipe_gives_eagain_then_data() {
        let (r, w) = pipe().unwrap();
        set_nonblocking(&r, true).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(nix::unistd::read(&r, &mut buf), Err(Errno::EAGAIN));
        nix::unistd::write(&w, b"hi!").unwrap();
        assert_eq!(nix::unistd::read(&r, &mut buf), Ok(3));
        assert_eq!(&buf[..3], b"hi!");
    }

    #[test]
    fn socketpair_carries_bytes_both_ways() {
        let (mut a, mut b) = socketpair().unwrap();
        a.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        b.write_all(b"pong").unwrap();
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
    }

    #[test]
    fn retry_eintr_retries_only_eintr() {
        let mut calls = 0;
        let got = retry_eintr(|| {
            calls += 1;
            if calls < 3 {
                Err(Errno::EINTR)
            } else {
                Ok(calls)
            }
        });
        assert_eq!(got, Ok(3));
        let mut calls = 0;
        let got: nix::Result<()> = retry_eintr(|| {
            calls += 1;
            Err(Errno::EAGAIN)
        });
        assert_eq!((got, calls), (Err(Errno::EAGAIN), 1));
    }

    #[test]
    fn open_fd_count_sees_a_new_pipe_and_its_close() {
        // Other tests in this binary run on other threads and open fds too, so look
        // for these exact fd numbers rather than comparing counts.
        let (r, w) = pipe().unwrap();
        let fds = open_fds().unwrap();
        assert!(fds.contains(&r.as_raw_fd()) && fds.contains(&w.as_raw_fd()));
        assert!(fds.contains(&0) || fds.contains(&1) || fds.contains(&2));
    }

    #[test]
    fn nofile_limit_never_goes_down() {
        let now = raise_nofile_limit(0).unwrap();
        assert!(now >= 1);
        let raised = raise_nofile_limit(now + 1).unwrap();
        assert!(raised >= now);
    }
}
