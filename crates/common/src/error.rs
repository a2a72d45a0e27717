//! One error type for every demo: *what failed* plus *the errno*.
//!
//! Displayed the way The Linux Programming Interface's `errExit` does it, with the
//! errno's symbolic name first (students grep man pages for `ENOENT`, not for
//! "No such file or directory"):
//!
//! ```text
//! error: open /nope: ENOENT (No such file or directory)
//! ```
//!
//! [`main_wrapper`] prints that one line on stderr and turns it into exit code 1, or 2
//! for usage errors. Nothing a user, the OS or a peer can cause ever reaches a panic.

use nix::errno::Errno;
use std::fmt;
use std::process::ExitCode;

/// Result alias used across the workspace.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What failed, and (when the OS said so) the errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What the program was doing, e.g. `open /nope` or `connect 127.0.0.1:1`.
    pub what: String,
    /// The errno the OS gave, if it was an OS error.
    pub errno: Option<Errno>,
    /// A reason in words when there is no errno (or extra words after it).
    pub detail: Option<String>,
    /// True for bad command-line usage: exit code 2 instead of 1.
    pub usage: bool,
}

impl Error {
    /// An OS error: `what` failed with `errno`.
    pub fn os(what: impl Into<String>, errno: Errno) -> Self {
        Error { what: what.into(), errno: Some(errno), detail: None, usage: false }
    }

    /// The errno currently in `errno` (right after a failed libc call).
    pub fn last_os(what: impl Into<String>) -> Self {
        Self::os(what, Errno::last())
    }

    /// A failure that has no errno: `what: detail`.
    pub fn msg(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error { what: what.into(), errno: None, detail: Some(detail.into()), usage: false }
    }

    /// A usage error (exit code 2).
    pub fn usage(detail: impl Into<String>) -> Self {
        Error { what: "usage".into(), errno: None, detail: Some(detail.into()), usage: true }
    }

    /// Wraps a `std::io::Error`, keeping its errno when it has one.
    pub fn io(what: impl Into<String>, err: &std::io::Error) -> Self {
        match err.raw_os_error() {
            Some(code) => Self::os(what, Errno::from_raw(code)),
            None => Self::msg(what, err.to_string()),
        }
    }

    /// The exit code this error should produce: 2 for usage, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.usage {
            2
        } else {
            1
        }
    }
}

/// The symbolic name of an errno, such as `ENOENT`.
pub fn errno_name(errno: Errno) -> String {
    // nix's Debug for Errno is the constant's name.
    format!("{errno:?}")
}

impl fmt::Display for Error {
    /// `open /nope: ENOENT (No such file or directory)` (without the `error: ` prefix,
    /// which [`main_wrapper`] adds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.what)?;
        if let Some(errno) = self.errno {
            write!(f, ": {} ({})", errno_name(errno), errno.desc())?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// `.context("open /nope")` on any result whose error carries an errno.
pub trait Context<T> {
    /// Names what was being done when the error happened.
    fn context(self, what: impl Into<String>) -> Result<T>;
    /// Like [`Context::context`], but builds the text only on failure.
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::os(what, e))
    }
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::os(what(), e))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::io(what, &e))
    }
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::io(what(), &e))
    }
}

/// Runs a demo's real `main` and turns its result into an exit code.
///
/// On error prints exactly one line, `error: ...`, to stderr. Panics are not caught
/// here: a panic is a bug in the demo, and the tests look for it.
pub fn main_wrapper(run: impl FnOnce() -> Result<()>) -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One write of the finished line (stderr is unbuffered: writeln! would write
            // it piece by piece), and not eprintln!, which panics if stderr's reader has
            // gone (`2>&1 | head -1`).
            use std::io::Write;
            let _ = std::io::stderr().write_all(format!("error: {e}\n").as_bytes());
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_what_then_errno_name_then_message() {
        let e = Error::os("open /nope", Errno::ENOENT);
        assert_eq!(e.to_string(), "open /nope: ENOENT (No such file or directory)");
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn io_errors_keep_their_errno() {
        let err = std::fs::File::open("/definitely/not/here").map(|_| ());
        let e = err.context("open /definitely/not/here").unwrap_err();
        assert_eq!(e.errno, Some(Errno::ENOENT));
        assert!(e.to_string().starts_with("open /definitely/not/here: ENOENT ("));
    }

    #[test]
    fn errno_names_are_the_c_constants() {
        assert_eq!(errno_name(Errno::EAGAIN), "EAGAIN");
        assert_eq!(errno_name(Errno::EISDIR), "EISDIR");
        assert_eq!(errno_name(Errno::ECONNREFUSED), "ECONNREFUSED");
    }

    #[test]
    fn usage_errors_exit_2_and_messages_have_no_errno() {
        let e = Error::usage("--parallel must be at least 1");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.to_string(), "usage: --parallel must be at least 1");
        let m = Error::msg("read /tmp/x", "file is empty");
        assert_eq!(m.to_string(), "read /tmp/x: file is empty");
    }
}
