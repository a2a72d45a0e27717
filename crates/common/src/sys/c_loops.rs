//! Safe wrappers over the bench's C readiness loops (`crates/bench/c/readiness.c`,
//! compiled and linked by the bench's build.rs; feature `c-loops`, which only the bench
//! turns on, since only its binary has the symbols).
//!
//! Calling a C function is unsafe because Rust cannot check what it does with the
//! pointers it is given. Each call below says why it is sound.

use crate::{Error, Result};
use nix::errno::Errno;
use std::os::fd::RawFd;
use std::os::raw::{c_int, c_long};

extern "C" {
    fn aiolab_select_once(fds: *const c_int, n: c_int, iters: c_long) -> c_long;
    fn aiolab_pselect_once(fds: *const c_int, n: c_int, iters: c_long) -> c_long;
    fn aiolab_poll_once(fds: *const c_int, n: c_int, iters: c_long) -> c_long;
    fn aiolab_epoll_once(epfd: c_int, iters: c_long) -> c_long;
    fn aiolab_select_chain(rfds: *const c_int, wfds: *const c_int, n: c_int, hops: c_long) -> c_long;
    fn aiolab_pselect_chain(rfds: *const c_int, wfds: *const c_int, n: c_int, hops: c_long) -> c_long;
    fn aiolab_poll_chain(rfds: *const c_int, wfds: *const c_int, n: c_int, hops: c_long) -> c_long;
    fn aiolab_epoll_chain(
        epfd: c_int,
        rfds: *const c_int,
        wfds: *const c_int,
        n: c_int,
        hops: c_long,
    ) -> c_long;
}

/// Which readiness call a C loop uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CCall {
    /// select(2)
    Select,
    /// pselect(2)
    Pselect,
    /// poll(2)
    Poll,
    /// epoll_wait(2) on the given epoll fd
    Epoll(RawFd),
}

/// Turns the C convention (count, or -errno) into a Result.
fn checked(what: &str, got: c_long) -> Result<u64> {
    if got >= 0 {
        Ok(got as u64)
    } else {
        let errno = Errno::from_raw(-got as i32);
        if errno == Errno::EPROTO {
            Err(Error::msg(what, "the token went missing (no fd ready)"))
        } else {
            Err(Error::os(what, errno))
        }
    }
}

fn fits(fds: &[RawFd], iters: u64) -> Result<(c_int, c_long)> {
    let n = c_int::try_from(fds.len()).map_err(|_| Error::msg("C loop", "too many fds"))?;
    let iters = c_long::try_from(iters).map_err(|_| Error::msg("C loop", "too many iterations"))?;
    if n == 0 {
        return Err(Error::msg("C loop", "no fds to watch"));
    }
    Ok((n, iters))
}

/// `iters` zero-timeout waits on `fds` in C; returns how many ready fds were seen.
/// The fds must be open (and below 1024 for select and pselect: FD_SET does not check).
pub fn once(call: CCall, fds: &[RawFd], iters: u64) -> Result<u64> {
    let (n, iters) = fits(fds, iters)?;
    if matches!(call, CCall::Select | CCall::Pselect) && fds.iter().any(|&fd| !(0..1024).contains(&fd)) {
        return Err(Error::msg("C select loop", "an fd is outside 0..1024 (FD_SETSIZE)"));
    }
    let ptr = fds.as_ptr();
    // SAFETY: `ptr` points at `n` initialised c_ints that live for the whole call (the
    // slice is borrowed); the C side only reads them. Select/pselect fds were checked
    // to be below FD_SETSIZE just above, so FD_SET stays inside its fd_set. An fd that
    // is closed only makes the call fail with EBADF, which is returned as -errno.
    let got = unsafe {
        match call {
            CCall::Select => aiolab_select_once(ptr, n, iters),
            CCall::Pselect => aiolab_pselect_once(ptr, n, iters),
            CCall::Poll => aiolab_poll_once(ptr, n, iters),
            CCall::Epoll(epfd) => aiolab_epoll_once(epfd, iters),
        }
    };
    checked("C readiness loop", got)
}

/// `hops` token passes around the pipes `read_fds[k]` -> `write_fds[k]` in C.
/// For epoll, the instance's entries must carry each pipe's index in `data.u64`.
pub fn chain(call: CCall, read_fds: &[RawFd], write_fds: &[RawFd], hops: u64) -> Result<u64> {
    let (n, hops) = fits(read_fds, hops)?;
    if write_fds.len() != read_fds.len() {
        return Err(Error::msg("C chain loop", "read and write fd lists differ in length"));
    }
    if matches!(call, CCall::Select | CCall::Pselect) && read_fds.iter().any(|&fd| !(0..1024).contains(&fd)) {
        return Err(Error::msg("C select chain", "an fd is outside 0..1024 (FD_SETSIZE)"));
    }
    let (r, w) = (read_fds.as_ptr(), write_fds.as_ptr());
    // SAFETY: both pointers address `n` initialised c_ints (lengths checked equal
    // above) borrowed for the whole call and only read by C; select fds are below
    // FD_SETSIZE (checked). The epoll variant indexes the arrays with data.u64 only
    // after checking it is below n.
    let got = unsafe {
        match call {
            CCall::Select => aiolab_select_chain(r, w, n, hops),
            CCall::Pselect => aiolab_pselect_chain(r, w, n, hops),
            CCall::Poll => aiolab_poll_chain(r, w, n, hops),
            CCall::Epoll(epfd) => aiolab_epoll_chain(epfd, r, w, n, hops),
        }
    };
    checked("C chain loop", got)
}
