//! The raw calls the curl demos need and neither nix nor the curl crate offers safely.
//!
//! * [`FdSet`] and [`select`]: `curl_multi_fdset` fills a C `fd_set` (the curl crate's
//!   `Multi::fdset2` takes `&mut libc::fd_set`), so the curl-select demo waits with
//!   `libc::select` on that same type rather than nix's `FdSet`. FD_ZERO / FD_ISSET /
//!   FD_SET are C macros that libc exposes as `unsafe fn`s; the wrappers here check the
//!   fd is below `FD_SETSIZE` first, because past it they write out of bounds.
//! * [`open_socket`]: the socket curl asks for when it connects, opened here so the
//!   demos learn each transfer's fd (and can spot one at or above `FD_SETSIZE`).
//! * [`restrict_to_http`]: `CURLOPT_PROTOCOLS`, which the curl crate does not wrap.
//! * [`dup_at_least`]: a copy of an fd numbered at least N, to probe whether libcurl
//!   can wait on an fd past FD_SETSIZE.
//! * [`epoll_watch`] and [`epoll_forget`]: `epoll_ctl` on a socket curl owns. curl's
//!   socket callback names its sockets by number only, and nix's `Epoll` wants a
//!   borrowed fd, which a bare number cannot honestly be.

use nix::errno::Errno;
use std::os::raw::c_int;
#[cfg(feature = "curl")]
use std::os::raw::{c_long, c_void};
use std::time::Duration;

/// `FD_SETSIZE` (1024 on Linux): the first fd an `fd_set` cannot hold.
pub const FD_SETSIZE: i32 = libc::FD_SETSIZE as i32;

/// A C `fd_set`, always initialised with FD_ZERO.
pub struct FdSet {
    set: libc::fd_set,
}

impl std::fmt::Debug for FdSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.fds(FD_SETSIZE)).finish()
    }
}

impl Default for FdSet {
    fn default() -> Self {
        Self::new()
    }
}

impl FdSet {
    /// An empty set. curl_multi_fdset only adds fds and never clears any, so every
    /// loop iteration starts from a fresh one.
    pub fn new() -> Self {
        let mut set = std::mem::MaybeUninit::<libc::fd_set>::uninit();
        // SAFETY: FD_ZERO writes every byte of the fd_set it is given, and the pointer
        // is to a properly aligned, writable fd_set; after it the value is initialised.
        let set = unsafe {
            libc::FD_ZERO(set.as_mut_ptr());
            set.assume_init()
        };
        FdSet { set }
    }

    /// The C struct, for `Multi::fdset2` to fill in.
    pub fn as_raw_mut(&mut self) -> &mut libc::fd_set {
        &mut self.set
    }

    /// Adds `fd`. Returns false (and adds nothing) for an fd outside 0..FD_SETSIZE,
    /// where FD_SET would write past the end of the set.
    pub fn insert(&mut self, fd: i32) -> bool {
        if !(0..FD_SETSIZE).contains(&fd) {
            return false;
        }
        // SAFETY: fd is within 0..FD_SETSIZE, so FD_SET stays inside the set.
        unsafe { libc::FD_SET(fd, &mut self.set) };
        true
    }

    /// Whether `fd` is in the set (always false outside 0..FD_SETSIZE).
    pub fn contains(&self, fd: i32) -> bool {
        // SAFETY: fd is within 0..FD_SETSIZE (checked first), so FD_ISSET reads inside
        // the set.
        (0..FD_SETSIZE).contains(&fd) && unsafe { libc::FD_ISSET(fd, &self.set) }
    }

    /// The fds in the set that are below `limit`, lowest first.
    pub fn fds(&self, limit: i32) -> Vec<i32> {
        (0..limit.clamp(0, FD_SETSIZE)).filter(|&fd| self.contains(fd)).collect()
    }
}

/// `select(nfds, read, write, except, timeout)`: waits until an fd in the sets is
/// ready or `timeout` passes, and returns how many fds are ready. The sets are
/// rewritten in place to hold only the ready fds, which is why callers rebuild them
/// before every call. With `nfds` 0 and empty sets this is simply a sleep.
///
/// glibc implements select() with the `pselect6` system call (sixth argument NULL),
/// which is what strace shows.
pub fn select(
    nfds: i32,
    read: &mut FdSet,
    write: &mut FdSet,
    except: &mut FdSet,
    timeout: Duration,
) -> nix::Result<i32> {
    if !(0..=FD_SETSIZE).contains(&nfds) {
        return Err(Errno::EINVAL);
    }
    let mut tv = libc::timeval {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: the three sets are valid, initialised fd_sets borrowed mutably for the
    // call; nfds is at most FD_SETSIZE, so the kernel reads and writes only within
    // them; tv is a valid timeval the call may overwrite.
    let n = unsafe { libc::select(nfds, &mut read.set, &mut write.set, &mut except.set, &mut tv) };
    Errno::result(n)
}

/// Opens a close-on-exec socket for curl (its `CURLOPT_OPENSOCKETFUNCTION`). Returns
/// the raw fd, which curl then owns and closes; None if socket() failed (curl then
/// reports that transfer as CURLE_COULDNT_CONNECT).
pub fn open_socket(family: c_int, socktype: c_int, protocol: c_int) -> Option<i32> {
    // SAFETY: socket() takes plain integers and returns a new fd or -1; no memory is
    // shared with it.
    let fd = unsafe { libc::socket(family, socktype | libc::SOCK_CLOEXEC, protocol) };
    (fd >= 0).then_some(fd)
}

/// A close-on-exec copy of `fd` numbered `min` or more (`fcntl(F_DUPFD_CLOEXEC)`).
pub fn dup_at_least(fd: impl std::os::fd::AsFd, min: c_int) -> nix::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes two integers and returns a new fd or -1.
    let copy = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    let copy = Errno::result(copy)?;
    // SAFETY: `copy` was just returned by fcntl, is open, and nothing else owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(copy) })
}

/// Which `epoll_ctl` operation [`epoll_watch`] made: the first request for an fd adds
/// it to the interest list, later ones change what it is watched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpollOp {
    /// `EPOLL_CTL_ADD`.
    Add,
    /// `EPOLL_CTL_MOD`.
    Mod,
    /// `EPOLL_CTL_DEL`.
    Del,
}

impl EpollOp {
    /// `ADD`, `MOD` or `DEL`, as the constants are named.
    pub fn name(self) -> &'static str {
        match self {
            EpollOp::Add => "ADD",
            EpollOp::Mod => "MOD",
            EpollOp::Del => "DEL",
        }
    }
}

fn epoll_ctl(epoll: &nix::sys::epoll::Epoll, op: c_int, fd: c_int, events: u32) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    let mut event = libc::epoll_event { events, u64: fd as u64 };
    // SAFETY: epoll_ctl reads `event` during the call only; the epoll fd is borrowed
    // from a live Epoll; `fd` is a plain number to the kernel, which answers EBADF if
    // it is not open. No memory outlives the call.
    let n = unsafe { libc::epoll_ctl(epoll.0.as_raw_fd(), op, fd, &mut event) };
    Errno::result(n).map(drop)
}

/// Watches socket `fd` for reading and/or writing on `epoll`, its number as the
/// event's data: `EPOLL_CTL_ADD` the first time, `EPOLL_CTL_MOD` when it is already
/// there (curl asks again whenever the direction changes). Level-triggered, as curl
/// expects: it reads or writes only what it needs and is asked again next time.
pub fn epoll_watch(
    epoll: &nix::sys::epoll::Epoll,
    fd: c_int,
    read: bool,
    write: bool,
) -> nix::Result<EpollOp> {
    let mut events = 0u32;
    if read {
        events |= libc::EPOLLIN as u32;
    }
    if write {
        events |= libc::EPOLLOUT as u32;
    }
    match epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, events) {
        Err(Errno::EEXIST) => epoll_ctl(epoll, libc::EPOLL_CTL_MOD, fd, events).map(|()| EpollOp::Mod),
        other => other.map(|()| EpollOp::Add),
    }
}

/// Takes socket `fd` off `epoll`'s interest list (`EPOLL_CTL_DEL`).
pub fn epoll_forget(epoll: &nix::sys::epoll::Epoll, fd: c_int) -> nix::Result<EpollOp> {
    epoll_ctl(epoll, libc::EPOLL_CTL_DEL, fd, 0).map(|()| EpollOp::Del)
}

#[cfg(feature = "curl")]
extern "C" {
    // The real declaration is `CURLcode curl_easy_setopt(CURL *, CURLoption, ...)`;
    // both enums are C ints. The symbol comes from the libcurl curl-sys links in.
    fn curl_easy_setopt(curl: *mut c_void, option: c_int, ...) -> c_int;
}

/// `CURLOPT_PROTOCOLS` (a long option, number 181 in curl.h).
#[cfg(feature = "curl")]
const CURLOPT_PROTOCOLS: c_int = 181;
/// `CURLPROTO_HTTP | CURLPROTO_HTTPS`.
#[cfg(feature = "curl")]
const CURLPROTO_HTTP_HTTPS: c_long = 1 | 2;

/// Allows only http:// and https:// on this handle (`CURLOPT_PROTOCOLS`), so a URL
/// from the command line cannot make the demo read `file:///etc/passwd`, or speak
/// FTP, or anything else libcurl was built with. Returns curl's CURLcode on failure.
///
/// (curl 7.85 added `CURLOPT_PROTOCOLS_STR` and deprecated this one; it still works,
/// and it is the one every libcurl a student may have understands.)
#[cfg(feature = "curl")]
pub fn restrict_to_http<H>(easy: &mut curl::easy::Easy2<H>) -> Result<(), c_int> {
    // SAFETY: easy.raw() is the live CURL handle owned by `easy`, borrowed mutably for
    // the call; CURLOPT_PROTOCOLS takes exactly one `long` vararg, which we pass.
    let code = unsafe { curl_easy_setopt(easy.raw().cast(), CURLOPT_PROTOCOLS, CURLPROTO_HTTP_HTTPS) };
    if code == 0 {
        Ok(())
    } else {
        Err(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn fd_sets_hold_only_what_fits() {
        let mut set = FdSet::new();
        assert!(set.fds(FD_SETSIZE).is_empty());
        assert!(set.insert(3) && set.insert(1023));
        assert!(!set.insert(1024) && !set.insert(-1));
        assert!(set.contains(3) && set.contains(1023) && !set.contains(4) && !set.contains(5000));
        assert_eq!(set.fds(FD_SETSIZE), vec![3, 1023]);
        assert_eq!(set.fds(10), vec![3]);
    }

    #[test]
    fn select_sees_a_readable_pipe_and_times_out_on_an_empty_one() {
        let (r, w) = crate::fd::pipe().unwrap();
        let fd = r.as_raw_fd();
        let (mut read, mut write, mut except) = (FdSet::new(), FdSet::new(), FdSet::new());
        read.insert(fd);
        let n = select(fd + 1, &mut read, &mut write, &mut except, Duration::from_millis(50)).unwrap();
        assert_eq!(n, 0);
        assert!(!read.contains(fd), "select clears fds that are not ready");

        std::fs::File::from(w).write_all(b"hi!").unwrap();
        let mut read = FdSet::new();
        read.insert(fd);
        let n = select(fd + 1, &mut read, &mut write, &mut except, Duration::from_secs(5)).unwrap();
        assert_eq!(n, 1);
        assert_eq!(read.fds(FD_SETSIZE), vec![fd]);
    }

    #[test]
    fn select_with_no_fds_sleeps() {
        let (mut a, mut b, mut c) = (FdSet::new(), FdSet::new(), FdSet::new());
        let started = std::time::Instant::now();
        assert_eq!(select(0, &mut a, &mut b, &mut c, Duration::from_millis(100)), Ok(0));
        assert!(started.elapsed() >= Duration::from_millis(90));
        assert_eq!(select(FD_SETSIZE + 1, &mut a, &mut b, &mut c, Duration::ZERO), Err(Errno::EINVAL));
    }

    #[test]
    fn epoll_watches_a_raw_fd_then_changes_then_forgets_it() {
        use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollTimeout};
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
        let (r, w) = crate::fd::pipe().unwrap();
        let fd = r.as_raw_fd();
        assert_eq!(epoll_watch(&epoll, fd, false, true), Ok(EpollOp::Add));
        assert_eq!(epoll_watch(&epoll, fd, true, false), Ok(EpollOp::Mod));
        std::fs::File::from(w).write_all(b"hi!").unwrap();
        let mut events = [EpollEvent::empty(); 4];
        assert_eq!(epoll.wait(&mut events, EpollTimeout::from(1000u16)), Ok(1));
        assert_eq!(events[0].data(), fd as u64);
        assert!(events[0].events().contains(nix::sys::epoll::EpollFlags::EPOLLIN));
        assert_eq!(epoll_forget(&epoll, fd), Ok(EpollOp::Del));
        assert_eq!(epoll.wait(&mut events, EpollTimeout::ZERO), Ok(0));
        assert_eq!(epoll_forget(&epoll, fd), Err(Errno::ENOENT));
        assert_eq!(epoll_watch(&epoll, 1 << 20, true, false), Err(Errno::EBADF));
    }

    #[test]
    fn sockets_for_curl_are_close_on_exec() {
        let fd = open_socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
        // SAFETY (test): fd was just opened above and is owned here.
        let owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let flags = nix::fcntl::fcntl(&owned, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }
}
