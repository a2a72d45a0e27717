//! POSIX AIO: aiocb, aio_read, aio_error, aio_return, aio_suspend, lio_listio, aio_cancel,
//! SIGEV_THREAD and SIGEV_SIGNAL (notes: "Asynchronous I/O with AIO").
//!
//! The one rule of POSIX AIO that C leaves to the programmer: **from aio_read until the
//! request has finished, the aiocb and the buffer belong to the C library.** glibc's worker
//! thread writes the bytes into the buffer and the result into the aiocb whenever it
//! likes; moving or freeing either meanwhile is a use-after-free in another thread.
//! [`AioRead`] makes that rule a property of the type:
//!
//! * the aiocb and the buffer are separate heap allocations held through raw pointers,
//!   so moving an `AioRead` never moves them, and Rust never claims unique access to
//!   memory another thread is writing;
//! * [`AioRead::aio_return`] takes the request by value: the result is collected exactly
//!   once, and only after aio_error has said the request is finished;
//! * dropping a request still in flight cancels it, waits for glibc to let go (with a
//!   deadline), calls aio_return, and only then frees. If glibc never lets go (a read on
//!   a pipe nobody writes to), it leaks the memory rather than free it under the worker.
//!
//! Facts about glibc this module relies on (glibc 2.36, `rt/aio_misc.c`, `aio_error.c`,
//! `aio_cancel.c`, `lio_listio-common.c`):
//!
//! * AIO is user-space threads, not kernel AIO: one worker thread per fd runs that fd's
//!   requests one at a time with `pread64` (falling back to `read` on ESPIPE, so pipes
//!   work); later requests for the same fd wait in a queue behind the running one.
//! * The worker stores the result and sends the notification while holding glibc's
//!   request mutex, and `aio_error` takes that mutex, so once `aio_error` says anything
//!   but EINPROGRESS the worker is done with the aiocb.
//! * A cancelled request still gets its notification (signal or SIGEV_THREAD call), so
//!   every request that was accepted is notified exactly once.
//! * `aio_error`/`aio_return` after a cancel: ECANCELED and -1 (errno untouched).

use nix::errno::Errno;
use std::ffi::c_void;
use std::mem::{self, ManuallyDrop};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ANCHOR: sigevent_mirror
/// glibc's `struct sigevent` as C sees it on 64-bit Linux.
///
/// `libc::sigevent` (0.2.x) exposes only `sigev_notify_thread_id` from the union that
/// also holds `sigev_notify_function` and `sigev_notify_attributes`, and nix has no
/// SIGEV_THREAD at all, so SIGEV_THREAD needs this mirror. The asserts below stop the
/// build if the layout ever differs from glibc's.
#[repr(C)]
struct GlibcSigevent {
    /// Handed to the callback (or put in `si_value` for a signal).
    sigev_value: libc::sigval,
    /// The signal for SIGEV_SIGNAL.
    sigev_signo: libc::c_int,
    /// SIGEV_NONE, SIGEV_SIGNAL or SIGEV_THREAD.
    sigev_notify: libc::c_int,
    /// SIGEV_THREAD: called on a new thread with `sigev_value`.
    sigev_notify_function: Option<unsafe extern "C" fn(libc::sigval)>,
    /// SIGEV_THREAD: attributes for that thread (NULL: glibc's defaults, detached).
    sigev_notify_attributes: *mut libc::pthread_attr_t,
    /// The rest of glibc's 64-byte union.
    _pad: [u8; 32],
}

#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
const _: () = {
    assert!(mem::size_of::<GlibcSigevent>() == 64);
    assert!(mem::size_of::<GlibcSigevent>() == mem::size_of::<libc::sigevent>());
    assert!(mem::align_of::<GlibcSigevent>() == mem::align_of::<libc::sigevent>());
    assert!(mem::offset_of!(GlibcSigevent, sigev_signo) == 8, "sigev_signo at offset 8");
    assert!(mem::offset_of!(GlibcSigevent, sigev_notify) == 12, "sigev_notify at offset 12");
    assert!(
        mem::offset_of!(GlibcSigevent, sigev_notify_function) == 16,
        "sigev_notify_function at offset 16"
    );
    assert!(
        mem::offset_of!(GlibcSigevent, sigev_notify_attributes) == 24,
        "sigev_notify_attributes at offset 24"
    );
};
// ANCHOR_END: sigevent_mirror

/// What glibc does when a request (or a whole lio_listio list) finishes.
pub enum Notify {
    /// Nothing: the program asks with aio_error or waits with aio_suspend (SIGEV_NONE).
    None,
    /// Queue signal `signo` with `value` in `si_value` (SIGEV_SIGNAL). Use a real-time
    /// signal: ordinary signals do not queue, so two completions could arrive as one.
    Signal {
        /// The signal number, e.g. [`rt_signal`]`(0)`.
        signo: libc::c_int,
        /// Comes back in the siginfo's `si_value`, to say which request finished.
        value: usize,
    },
    /// Run this closure on a new thread glibc creates (SIGEV_THREAD).
    Thread(Box<dyn FnOnce() + Send + 'static>),
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notify::None => write!(f, "SIGEV_NONE"),
            Notify::Signal { signo, value } => write!(f, "SIGEV_SIGNAL(signo {signo}, value {value})"),
            Notify::Thread(_) => write!(f, "SIGEV_THREAD"),
        }
    }
}

impl Notify {
    /// SIGEV_THREAD with a closure (the closure is the "context" C passes in sival_ptr).
    pub fn thread(callback: impl FnOnce() + Send + 'static) -> Self {
        Notify::Thread(Box::new(callback))
    }
}

/// The context handed to glibc through `sival_ptr` for SIGEV_THREAD: a thin pointer to
/// the boxed closure.
type ThreadContext = Box<dyn FnOnce() + Send + 'static>;

// ANCHOR: trampoline
/// The function glibc calls on its notification thread. It takes the context back from
/// `sival_ptr` (the one and only owner from here on) and runs it.
unsafe extern "C" fn thread_trampoline(value: libc::sigval) {
    // SAFETY: `sival_ptr` was made by `Box::into_raw` in `build_sigevent` from a
    // `Box<ThreadContext>`, and ownership was handed to glibc only when glibc accepted the
    // request. glibc notifies an accepted request exactly once (completed or cancelled),
    // so this is the only `from_raw` for that pointer.
    let context = unsafe { Box::from_raw(value.sival_ptr.cast::<ThreadContext>()) };
    // A panic must not unwind into glibc's C frames (that aborts the process).
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || (*context)()));
}
// ANCHOR_END: trampoline

/// A sigevent for `notify`, plus the raw context pointer if one was handed out (so the
/// caller can take it back if glibc refuses the request).
fn build_sigevent(notify: Notify) -> (GlibcSigevent, Option<NonNull<ThreadContext>>) {
    let mut ev = GlibcSigevent {
        sigev_value: libc::sigval { sival_ptr: ptr::null_mut() },
        sigev_signo: 0,
        sigev_notify: libc::SIGEV_NONE,
        sigev_notify_function: None,
        sigev_notify_attributes: ptr::null_mut(),
        _pad: [0; 32],
    };
    let mut context = None;
    match notify {
        Notify::None => {}
        Notify::Signal { signo, value } => {
            ev.sigev_notify = libc::SIGEV_SIGNAL;
            ev.sigev_signo = signo;
            ev.sigev_value.sival_ptr = value as *mut c_void;
        }
        Notify::Thread(callback) => {
            let raw = Box::into_raw(Box::new(callback));
            ev.sigev_notify = libc::SIGEV_THREAD;
            ev.sigev_notify_function = Some(thread_trampoline);
            ev.sigev_value.sival_ptr = raw.cast();
            context = NonNull::new(raw);
        }
    }
    (ev, context)
}

/// Takes back a context glibc never accepted (the request was refused, so no
/// notification will come).
fn reclaim_context(context: Option<NonNull<ThreadContext>>) {
    if let Some(raw) = context {
        // SAFETY: `raw` came from `Box::into_raw` in `build_sigevent` and glibc refused
        // the request that carried it, so nobody else holds or will free it.
        drop(unsafe { Box::from_raw(raw.as_ptr()) });
    }
}

/// What `aio_error` said about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not submitted yet (aio_error is not even called).
    Idle,
    /// EINPROGRESS: queued or running.
    InProgress,
    /// 0: finished; aio_return gives the byte count.
    Done,
    /// ECANCELED: aio_cancel removed it before it ran; aio_return gives -1.
    Canceled,
    /// Any other errno: the read failed; aio_return gives -1.
    Failed(Errno),
}

impl Status {
    fn from_code(code: libc::c_int) -> Self {
        match code {
            0 => Status::Done,
            libc::EINPROGRESS => Status::InProgress,
            libc::ECANCELED => Status::Canceled,
            -1 => Status::Failed(Errno::last()),
            other => Status::Failed(Errno::from_raw(other)),
        }
    }

    /// How C would print aio_error's value: `0`, `EINPROGRESS`, `ECANCELED`, `EBADF`...
    pub fn c_name(&self) -> String {
        match self {
            Status::Idle => "(not submitted)".into(),
            Status::InProgress => "EINPROGRESS".into(),
            Status::Done => "0".into(),
            Status::Canceled => "ECANCELED".into(),
            Status::Failed(e) => format!("{e:?}"),
        }
    }

    /// False while the request may still touch its aiocb and buffer.
    pub fn is_finished(&self) -> bool {
        !matches!(self, Status::InProgress)
    }
}

/// What `aio_cancel` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// AIO_CANCELED: every request named was removed before it ran.
    Canceled,
    /// AIO_NOTCANCELED: at least one was already running; it finishes later.
    NotCanceled,
    /// AIO_ALLDONE: nothing left to cancel; they had all finished.
    AllDone,
}

impl CancelOutcome {
    fn from_code(code: libc::c_int) -> Result<Self, Errno> {
        match code {
            libc::AIO_CANCELED => Ok(CancelOutcome::Canceled),
            libc::AIO_NOTCANCELED => Ok(CancelOutcome::NotCanceled),
            libc::AIO_ALLDONE => Ok(CancelOutcome::AllDone),
            _ => Err(Errno::last()),
        }
    }

    /// The C constant's name (note the spelling: one L, unlike some texts).
    pub fn c_name(&self) -> &'static str {
        match self {
            CancelOutcome::Canceled => "AIO_CANCELED",
            CancelOutcome::NotCanceled => "AIO_NOTCANCELED",
            CancelOutcome::AllDone => "AIO_ALLDONE",
        }
    }

    /// The C constant's value.
    pub fn code(&self) -> i32 {
        match self {
            CancelOutcome::Canceled => libc::AIO_CANCELED,
            CancelOutcome::NotCanceled => libc::AIO_NOTCANCELED,
            CancelOutcome::AllDone => libc::AIO_ALLDONE,
        }
    }
}

/// A finished request's result, collected by [`AioRead::aio_return`].
#[derive(Debug)]
pub struct Finished {
    /// aio_return's value: bytes read, or -1.
    pub ret: isize,
    /// aio_error's value just before: `Done`, `Canceled` or `Failed(errno)`.
    pub status: Status,
    /// The buffer, handed back (the first `ret` bytes are the data).
    pub buf: Vec<u8>,
}

impl Finished {
    /// The bytes read (empty if the read failed or was cancelled).
    pub fn bytes(&self) -> &[u8] {
        let n = usize::try_from(self.ret).unwrap_or(0).min(self.buf.len());
        &self.buf[..n]
    }
}

/// How long dropping an in-flight request waits for glibc before leaking it instead.
const DROP_WAIT: Duration = Duration::from_secs(3);

// ANCHOR: aio_read_type
/// One asynchronous read: an aiocb and its buffer, owned so that neither can move or be
/// freed while glibc may still write to them.
pub struct AioRead {
    /// The aiocb, from `Box::into_raw` (so its address never changes and no `&mut`
    /// to it exists while glibc writes to it). None once given back.
    cb: Option<NonNull<libc::aiocb>>,
    /// The buffer, taken apart from a `Vec` (pointer, length, capacity) for the same reason.
    buf: NonNull<u8>,
    len: usize,
    cap: usize,
    /// Keeps the fd open for as long as glibc may read from it.
    fd: Arc<OwnedFd>,
    /// Set once aio_read or lio_listio accepted the request.
    submitted: bool,
    /// The notification to install when the request is submitted.
    notify: Option<Notify>,
}
// ANCHOR_END: aio_read_type

// SAFETY: an AioRead owns its heap memory and fd outright (nothing tied to the thread
// that made it), and glibc's AIO functions may be called from any thread; so a request
// may be handed to another thread, e.g. to the SIGEV_THREAD callback that collects it.
unsafe impl Send for AioRead {}

impl std::fmt::Debug for AioRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AioRead")
            .field("fd", &self.fd.as_raw_fd())
            .field("nbytes", &self.len)
            .field("submitted", &self.submitted)
            .finish()
    }
}

impl AioRead {
    /// A read of `buf.len()` bytes from `fd` at `offset` into `buf` (not submitted yet).
    /// The offset is ignored for pipes and sockets (glibc falls back to `read`).
    pub fn new(fd: Arc<OwnedFd>, offset: u64, buf: Vec<u8>) -> Self {
        let mut buf = ManuallyDrop::new(buf);
        let (len, cap) = (buf.len(), buf.capacity());
        let data = NonNull::new(buf.as_mut_ptr()).unwrap_or(NonNull::dangling());
        // SAFETY: an all-zero aiocb is the documented starting point (the notes'
        // `memset(&cb, 0, sizeof cb)`): every field is an integer, a pointer or padding.
        let mut cb: Box<libc::aiocb> = Box::new(unsafe { mem::zeroed() });
        cb.aio_fildes = fd.as_raw_fd();
        cb.aio_offset = i64::try_from(offset).unwrap_or(i64::MAX);
        cb.aio_buf = data.as_ptr().cast();
        cb.aio_nbytes = len;
        cb.aio_lio_opcode = libc::LIO_READ;
        let cb = NonNull::from(Box::leak(cb));
        AioRead { cb: Some(cb), buf: data, len, cap, fd, submitted: false, notify: Some(Notify::None) }
    }

    /// Sets what happens on completion (default SIGEV_NONE). Only before submitting.
    pub fn set_notify(&mut self, notify: Notify) {
        if !self.submitted {
            self.notify = Some(notify);
        }
    }

    /// The fd this request reads.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// How many bytes it asks for (`aio_nbytes`).
    pub fn nbytes(&self) -> usize {
        self.len
    }

    /// Whether glibc accepted it (aio_read or lio_listio).
    pub fn is_submitted(&self) -> bool {
        self.submitted
    }

    /// Installs the notification in the aiocb; returns the context pointer handed out.
    fn install_notify(&mut self, cb: NonNull<libc::aiocb>) -> Option<NonNull<ThreadContext>> {
        let (ev, context) = build_sigevent(self.notify.take().unwrap_or(Notify::None));
        // SAFETY: `cb` is our live, not-yet-submitted aiocb (nobody else touches it), and
        // `GlibcSigevent` has the size, alignment and layout of the `aio_sigevent` field
        // (checked at compile time above).
        unsafe { ptr::addr_of_mut!((*cb.as_ptr()).aio_sigevent).cast::<GlibcSigevent>().write(ev) };
        context
    }

    // ANCHOR: aio_read
    /// `aio_read(&cb)`: queue the read and return at once. From here until the request
    /// is finished, glibc owns the aiocb and the buffer.
    pub fn aio_read(&mut self) -> Result<(), Errno> {
        let Some(cb) = self.cb else { return Err(Errno::EINVAL) };
        if self.submitted {
            return Err(Errno::EBUSY);
        }
        let context = self.install_notify(cb);
        // SAFETY: `cb` points to our aiocb, whose buffer pointer and length describe our
        // buffer; both stay allocated, unmoved and untouched by us until aio_error says
        // the request is finished (enforced by `aio_return` and `Drop`). The fd is kept
        // open by `self.fd`.
        let rc = unsafe { libc::aio_read(cb.as_ptr()) };
        if rc == 0 {
            self.submitted = true;
            Ok(())
        } else {
            let errno = Errno::last();
            reclaim_context(context);
            Err(errno)
        }
    }
    // ANCHOR_END: aio_read

    /// `aio_error(&cb)`: EINPROGRESS, 0, ECANCELED or the read's errno. Never blocks
    /// (it takes glibc's request mutex for a moment).
    pub fn aio_error(&self) -> Status {
        match self.cb {
            Some(cb) if self.submitted => {
                // SAFETY: `cb` is a live aiocb that glibc knows; aio_error only reads it
                // under glibc's request mutex.
                Status::from_code(unsafe { libc::aio_error(cb.as_ptr()) })
            }
            _ => Status::Idle,
        }
    }

    // ANCHOR: aio_return
    /// `aio_return(&cb)`, exactly once: takes the request by value and gives back the
    /// result and the buffer. If the request is still in flight (or was never
    /// submitted), nothing is collected and the request comes back in `Err`.
    pub fn aio_return(mut self) -> Result<Finished, AioRead> {
        let status = self.aio_error();
        let Some(cb) = self.cb else { return Err(self) };
        if !self.submitted || !status.is_finished() {
            return Err(self);
        }
        // SAFETY: aio_error said the request is finished, and glibc stores the result
        // and drops its last reference under the mutex aio_error took, so glibc is done
        // with `cb`. `self` is consumed: aio_return cannot run twice for this aiocb.
        let ret = unsafe { libc::aio_return(cb.as_ptr()) };
        let buf = self.take_memory();
        Ok(Finished { ret, status, buf })
    }
    // ANCHOR_END: aio_return

    /// Frees the aiocb and gives the buffer back as a `Vec`. Only when glibc is done.
    fn take_memory(&mut self) -> Vec<u8> {
        if let Some(cb) = self.cb.take() {
            // SAFETY: `cb` came from `Box::leak` in `new`; the caller guarantees glibc no
            // longer uses it, and `take` makes this the only reconstruction.
            drop(unsafe { Box::from_raw(cb.as_ptr()) });
        }
        let (len, cap) = (mem::take(&mut self.len), mem::take(&mut self.cap));
        if cap == 0 {
            return Vec::new();
        }
        // SAFETY: pointer, length and capacity are those of the Vec taken apart in `new`;
        // cap is zeroed above so this runs once.
        unsafe { Vec::from_raw_parts(self.buf.as_ptr(), len, cap) }
    }

    // ANCHOR: aio_cancel
    /// `aio_cancel(fd, &cb)`: AIO_CANCELED if it was still queued, AIO_NOTCANCELED if a
    /// worker is running it (it finishes later), AIO_ALLDONE if it had finished.
    pub fn aio_cancel(&self) -> Result<CancelOutcome, Errno> {
        let Some(cb) = self.cb else { return Err(Errno::EINVAL) };
        // SAFETY: `cb` is our live aiocb; aio_cancel only looks it up in glibc's queue
        // (under its mutex) and, if it was queued, marks it cancelled.
        let rc = unsafe { libc::aio_cancel(self.fd.as_raw_fd(), cb.as_ptr()) };
        CancelOutcome::from_code(rc)
    }
    // ANCHOR_END: aio_cancel

    fn cb_ptr(&self) -> *const libc::aiocb {
        match self.cb {
            Some(cb) if self.submitted => cb.as_ptr(),
            _ => ptr::null(),
        }
    }
}

/// `aio_cancel(fd, NULL)`: cancel every outstanding request on `fd`.
pub fn aio_cancel_fd(fd: BorrowedFd<'_>) -> Result<CancelOutcome, Errno> {
    // SAFETY: a NULL aiocb asks glibc to cancel all of this fd's requests; no memory of
    // ours is passed.
    let rc = unsafe { libc::aio_cancel(fd.as_raw_fd(), ptr::null_mut()) };
    CancelOutcome::from_code(rc)
}

/// `aio_cancel(fd, NULL)` for a raw fd number that may not be open (to show the -1/EBADF
/// row of the table).
pub fn aio_cancel_raw_fd(fd: i32) -> Result<CancelOutcome, Errno> {
    // SAFETY: as above; glibc checks the fd with fcntl first and fails with EBADF.
    let rc = unsafe { libc::aio_cancel(fd, ptr::null_mut()) };
    CancelOutcome::from_code(rc)
}

impl Drop for AioRead {
    // ANCHOR: drop_in_flight
    /// Never frees memory glibc may still write to: cancel, wait until aio_error says
    /// finished (up to DROP_WAIT), collect with aio_return, then free. If glibc still
    /// has it after the deadline (a read that never ends), leak instead of freeing.
    fn drop(&mut self) {
        let Some(cb) = self.cb else { return };
        if self.submitted {
            if !self.aio_error().is_finished() {
                let _ = self.aio_cancel();
                let deadline = Instant::now() + DROP_WAIT;
                while !self.aio_error().is_finished() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        // The worker is still blocked on this buffer: leaking the aiocb,
                        // the buffer and the fd is the only safe choice left.
                        self.cb = None;
                        mem::forget(Arc::clone(&self.fd));
                        return;
                    }
                    let _ = aio_suspend(&[&*self], left.min(Duration::from_millis(100)));
                }
            }
            // SAFETY: finished (checked above); the result was never collected because
            // `aio_return(self)` would have consumed the request.
            let _ = unsafe { libc::aio_return(cb.as_ptr()) };
        }
        drop(self.take_memory());
    }
    // ANCHOR_END: drop_in_flight
}

/// A timeout as a `timespec`.
fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    }
}

// ANCHOR: aio_suspend
/// `aio_suspend(list, n, &timeout)`: sleep until at least one request in `reqs` has
/// finished (Ok), the timeout passes (EAGAIN) or a signal handler runs (EINTR).
/// Requests not yet submitted are passed as NULL, which glibc skips.
pub fn aio_suspend(reqs: &[&AioRead], timeout: Duration) -> Result<(), Errno> {
    let list: Vec<*const libc::aiocb> = reqs.iter().map(|r| r.cb_ptr()).collect();
    let ts = timespec(timeout);
    let n = libc::c_int::try_from(list.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `list` holds live aiocbs (or NULL) for the duration of the call, borrowed
    // from `reqs`; glibc only reads them.
    let rc = unsafe { libc::aio_suspend(list.as_ptr(), n, &ts) };
    Errno::result(rc).map(drop)
}
// ANCHOR_END: aio_suspend

/// lio_listio's first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMode {
    /// LIO_WAIT: return only when every request has finished (no timeout exists).
    Wait,
    /// LIO_NOWAIT: return once they are queued; `notify` fires when all have finished.
    NoWait,
}

// ANCHOR: lio_listio
/// `lio_listio(mode, list, n, sigev)` on a `[*mut aiocb]` array (nix 0.32's wrapper
/// passes fat pointers and crashes with two or more requests).
///
/// Every request is marked submitted even when the call fails: glibc may have queued
/// some of them, and their aio_error then tells each one's fate. With `NoWait`,
/// `notify` fires once when the whole list has finished. If the call fails, glibc may
/// or may not still send that notification, so a SIGEV_THREAD context is then leaked
/// on purpose (freeing it could race with the callback).
pub fn lio_listio(mode: ListMode, reqs: &mut [&mut AioRead], notify: Notify) -> Result<(), Errno> {
    let mut list: Vec<*mut libc::aiocb> = Vec::with_capacity(reqs.len());
    let mut contexts = Vec::new();
    for req in reqs.iter_mut() {
        match req.cb {
            Some(cb) if !req.submitted => {
                contexts.push(req.install_notify(cb));
                list.push(cb.as_ptr());
            }
            // Already submitted or given back: glibc skips NULL entries.
            _ => list.push(ptr::null_mut()),
        }
    }
    let n = libc::c_int::try_from(list.len()).map_err(|_| Errno::EINVAL)?;
    let (mode_code, (mut ev, list_context)) = match mode {
        // glibc ignores the sigevent with LIO_WAIT: nothing to hand over.
        ListMode::Wait => (libc::LIO_WAIT, build_sigevent(Notify::None)),
        ListMode::NoWait => (libc::LIO_NOWAIT, build_sigevent(notify)),
    };
    // SAFETY: `list` holds our live aiocbs (or NULL); each describes a buffer that stays
    // allocated and unmoved until its request finishes (see `aio_read`). `ev` has
    // glibc's sigevent layout (checked at compile time) and is copied by glibc before
    // lio_listio returns.
    let rc = unsafe {
        libc::lio_listio(mode_code, list.as_ptr(), n, ptr::addr_of_mut!(ev).cast::<libc::sigevent>())
    };
    let errno = Errno::last();
    for (req, raw) in reqs.iter_mut().zip(&list) {
        if !raw.is_null() {
            req.submitted = true;
        }
    }
    if rc == 0 {
        return Ok(());
    }
    // Per-request and list-wide contexts: whether glibc will still call them is unknown
    // after a failure, so the raw pointers are simply never reclaimed (a small leak).
    let _ = (contexts, list_context);
    Err(errno)
}
// ANCHOR_END: lio_listio

/// The real-time signal `SIGRTMIN + n` (real-time signals queue, one per completion,
/// each carrying its own `si_value`; SIGUSR1 would merge two completions into one).
pub fn rt_signal(n: i32) -> libc::c_int {
    libc::SIGRTMIN() + n
}

fn sigset_of(signo: libc::c_int) -> Result<libc::sigset_t, Errno> {
    // SAFETY: sigemptyset fully initialises the set before sigaddset touches it.
    unsafe {
        let mut set: libc::sigset_t = mem::zeroed();
        Errno::result(libc::sigemptyset(&mut set))?;
        Errno::result(libc::sigaddset(&mut set, signo))?;
        Ok(set)
    }
}

/// Blocks `signo` in the calling thread (and in threads it starts afterwards), so that
/// it stays pending for [`wait_signal`] instead of running its default action (a
/// real-time signal's default is to kill the process). Call it before starting threads.
pub fn block_signal(signo: libc::c_int) -> Result<(), Errno> {
    let set = sigset_of(signo)?;
    // SAFETY: `set` is an initialised sigset; the old mask is not wanted (NULL).
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw(rc))
    }
}

/// A signal taken with [`wait_signal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigInfo {
    /// The signal number.
    pub signo: i32,
    /// `si_code`: SI_ASYNCIO (-4) when AIO sent it.
    pub code: i32,
    /// `si_value.sival_ptr` as a number (the `value` from [`Notify::Signal`]).
    pub value: usize,
}

/// `SI_ASYNCIO`: si_code of a signal sent by an AIO completion.
pub const SI_ASYNCIO: i32 = -4;

// ANCHOR: sigwaitinfo
/// sigwaitinfo with a deadline (`sigtimedwait`): takes one pending `signo`, or None
/// once `timeout` passes. The signal must be blocked first ([`block_signal`]).
pub fn wait_signal(signo: libc::c_int, timeout: Duration) -> Result<Option<SigInfo>, Errno> {
    let set = sigset_of(signo)?;
    let deadline = Instant::now() + timeout;
    loop {
        let ts = timespec(deadline.saturating_duration_since(Instant::now()));
        // SAFETY: a zeroed siginfo_t is a valid out-parameter; `set` is initialised.
        let mut info: libc::siginfo_t = unsafe { mem::zeroed() };
        // SAFETY: every pointer is to a live local for the duration of the call.
        let rc = unsafe { libc::sigtimedwait(&set, &mut info, &ts) };
        if rc >= 0 {
            // SAFETY: for a signal queued by sigqueue (as AIO does) the union holds
            // si_value; reading it as a pointer-sized value is always defined.
            let value = unsafe { info.si_value() }.sival_ptr as usize;
            return Ok(Some(SigInfo { signo: info.si_signo, code: info.si_code, value }));
        }
        match Errno::last() {
            Errno::EAGAIN => return Ok(None),
            Errno::EINTR if Instant::now() < deadline => continue,
            Errno::EINTR => return Ok(None),
            other => return Err(other),
        }
    }
}
// ANCHOR_END: sigwaitinfo

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::mpsc;

    fn pipe() -> (Arc<OwnedFd>, std::fs::File) {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        (Arc::new(r), std::fs::File::from(w))
    }

    fn file_with(bytes: &[u8]) -> Arc<OwnedFd> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("aio-lab-sys-aio-{}-{n}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        Arc::new(OwnedFd::from(f))
    }

    fn wait_done(req: &AioRead) -> Status {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = req.aio_error();
            if s.is_finished() || Instant::now() > deadline {
                return s;
            }
            let _ = aio_suspend(&[req], Duration::from_millis(100));
        }
    }

    #[test]
    fn reads_a_file_and_returns_exactly_once() {
        let fd = file_with(b"hello, aio\n");
        let mut req = AioRead::new(fd, 0, vec![0; 64]);
        assert_eq!(req.aio_error(), Status::Idle);
        req.aio_read().unwrap();
        assert_eq!(req.aio_read(), Err(Errno::EBUSY), "a request is submitted once");
        assert_eq!(wait_done(&req), Status::Done);
        let done = req.aio_return().unwrap();
        assert_eq!(done.ret, 11);
        assert_eq!(done.bytes(), b"hello, aio\n");
        assert_eq!(done.buf.len(), 64, "the whole buffer comes back");
    }

    #[test]
    fn offset_is_honoured_on_files() {
        let fd = file_with(b"0123456789");
        let mut req = AioRead::new(fd, 4, vec![0; 3]);
        req.aio_read().unwrap();
        wait_done(&req);
        assert_eq!(req.aio_return().unwrap().bytes(), b"456");
    }

    #[test]
    fn aio_return_refuses_while_in_flight_then_succeeds() {
        let (r, mut w) = pipe();
        let mut req = AioRead::new(r, 0, vec![0; 16]);
        req.aio_read().unwrap();
        assert_eq!(req.aio_error(), Status::InProgress);
        let req = req.aio_return().unwrap_err();
        assert_eq!(aio_suspend(&[&req], Duration::from_millis(20)), Err(Errno::EAGAIN));
        w.write_all(b"late").unwrap();
        assert_eq!(wait_done(&req), Status::Done);
        assert_eq!(req.aio_return().unwrap().bytes(), b"late");
    }

    #[test]
    fn cancel_queued_running_and_finished() {
        let (r, mut w) = pipe();
        let mut running = AioRead::new(Arc::clone(&r), 0, vec![0; 16]);
        running.aio_read().unwrap();
        // Let the worker pick it up (the aio-cancel demo waits for this exactly).
        std::thread::sleep(Duration::from_millis(100));
        let mut queued = AioRead::new(Arc::clone(&r), 0, vec![0; 16]);
        queued.aio_read().unwrap();
        assert_eq!(queued.aio_cancel(), Ok(CancelOutcome::Canceled));
        assert_eq!(queued.aio_error(), Status::Canceled);
        let q = queued.aio_return().unwrap();
        assert_eq!((q.ret, q.status), (-1, Status::Canceled));
        assert_eq!(running.aio_cancel(), Ok(CancelOutcome::NotCanceled));
        assert_eq!(running.aio_error(), Status::InProgress);
        w.write_all(b"data").unwrap();
        assert_eq!(wait_done(&running), Status::Done);
        assert_eq!(running.aio_cancel(), Ok(CancelOutcome::AllDone));
        assert_eq!(aio_cancel_fd(r.as_fd()), Ok(CancelOutcome::AllDone));
        assert_eq!(running.aio_return().unwrap().bytes(), b"data");
        assert_eq!(aio_cancel_raw_fd(1_000_000), Err(Errno::EBADF));
    }

    #[test]
    fn sigev_thread_runs_the_callback_once_on_another_thread() {
        let fd = file_with(b"callback!");
        let (tx, rx) = mpsc::channel();
        let mut req = AioRead::new(fd, 0, vec![0; 32]);
        req.set_notify(Notify::thread(move || {
            let _ = tx.send(nix::unistd::gettid());
        }));
        req.aio_read().unwrap();
        let tid = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_ne!(tid, nix::unistd::gettid());
        // The sender was inside the context: the callback dropped it, so no second call.
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        assert_eq!(wait_done(&req), Status::Done);
        assert_eq!(req.aio_return().unwrap().bytes(), b"callback!");
    }

    #[test]
    fn cancelled_request_still_runs_its_callback() {
        let (r, _w) = pipe();
        let mut running = AioRead::new(Arc::clone(&r), 0, vec![0; 8]);
        running.aio_read().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let (tx, rx) = mpsc::channel();
        let mut queued = AioRead::new(Arc::clone(&r), 0, vec![0; 8]);
        queued.set_notify(Notify::thread(move || {
            let _ = tx.send(());
        }));
        queued.aio_read().unwrap();
        assert_eq!(queued.aio_cancel(), Ok(CancelOutcome::Canceled));
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        assert!(queued.aio_return().is_ok());
        // Dropping `running` (still blocked on the pipe) with `_w` open: Drop cancels
        // (NOTCANCELED), waits, then leaks rather than free under the worker. Close the
        // writer first so the read ends with EOF and Drop can free normally.
        drop(_w);
        drop(running);
    }

    #[test]
    fn lio_listio_wait_and_nowait_with_one_notification() {
        let inputs: Vec<Vec<u8>> = (0..3).map(|i| format!("input {i} ").repeat(i + 1).into_bytes()).collect();
        let mut reqs: Vec<AioRead> =
            inputs.iter().map(|b| AioRead::new(file_with(b), 0, vec![0; 128])).collect();
        {
            let mut refs: Vec<&mut AioRead> = reqs.iter_mut().collect();
            lio_listio(ListMode::Wait, &mut refs, Notify::None).unwrap();
        }
        for (req, want) in reqs.into_iter().zip(&inputs) {
            assert_eq!(req.aio_error(), Status::Done, "LIO_WAIT returns after all finish");
            assert_eq!(req.aio_return().unwrap().bytes(), &want[..]);
        }
        let mut reqs: Vec<AioRead> =
            inputs.iter().map(|b| AioRead::new(file_with(b), 0, vec![0; 128])).collect();
        let (tx, rx) = mpsc::channel();
        {
            let mut refs: Vec<&mut AioRead> = reqs.iter_mut().collect();
            let notify = Notify::thread(move || {
                let _ = tx.send(());
            });
            lio_listio(ListMode::NoWait, &mut refs, notify).unwrap();
        }
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "one notification for the list");
        for (req, want) in reqs.into_iter().zip(&inputs) {
            assert_eq!(req.aio_error(), Status::Done);
            assert_eq!(req.aio_return().unwrap().bytes(), &want[..]);
        }
    }

    #[test]
    fn refused_request_gives_its_context_back() {
        // An aio_reqprio below 0 makes glibc refuse the request with EINVAL at aio_read.
        let fd = file_with(b"x");
        let (tx, rx) = mpsc::channel::<()>();
        let mut req = AioRead::new(fd, 0, vec![0; 4]);
        if let Some(cb) = req.cb {
            // SAFETY: the aiocb is ours and not submitted: nobody else touches it.
            unsafe { (*cb.as_ptr()).aio_reqprio = -1 };
        }
        req.set_notify(Notify::thread(move || {
            let _ = tx.send(());
        }));
        assert_eq!(req.aio_read(), Err(Errno::EINVAL));
        assert!(!req.is_submitted());
        // The context (holding the sender) was dropped: the channel is disconnected.
        assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Err(mpsc::RecvTimeoutError::Disconnected));
    }

    #[test]
    fn dropping_in_flight_requests_never_panics() {
        let (r, w) = pipe();
        let mut a = AioRead::new(Arc::clone(&r), 0, vec![0; 8]);
        a.aio_read().unwrap();
        let mut b = AioRead::new(Arc::clone(&r), 0, vec![0; 8]);
        b.aio_read().unwrap();
        // The writer closes first: the running read sees EOF and both drops free normally.
        drop(w);
        drop(b);
        drop(a);
        assert_eq!(Arc::strong_count(&r), 1);
    }

    #[test]
    fn dropping_a_read_that_never_ends_leaks_instead_of_freeing() {
        let (r, mut w) = pipe();
        let mut req = AioRead::new(Arc::clone(&r), 0, vec![0; 8]);
        req.aio_read().unwrap();
        // Only a *running* request cannot be cancelled; wait until the worker is in read().
        let deadline = Instant::now() + Duration::from_secs(5);
        while crate::aio::thread_blocked_in_read(r.as_raw_fd()).is_none() {
            assert!(Instant::now() < deadline, "the worker never started reading");
            std::thread::sleep(Duration::from_millis(1));
        }
        let started = Instant::now();
        drop(req); // NOTCANCELED, waits DROP_WAIT, then leaks aiocb, buffer and fd
        assert!(started.elapsed() >= DROP_WAIT);
        assert_eq!(Arc::strong_count(&r), 2, "the leaked request still holds the fd open");
        // The worker may now finish into the leaked (still valid) buffer: no crash.
        w.write_all(b"late").unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }

    #[test]
    fn unsubmitted_request_reports_idle_and_drops_cleanly() {
        let fd = file_with(b"x");
        let req = AioRead::new(fd, 0, Vec::new());
        assert_eq!(req.aio_error(), Status::Idle);
        let req = req.aio_return().unwrap_err();
        drop(req);
    }
}
