//! Code shared by two or more aio-lab demos.
//!
//! * [`error`]: one error type that names what failed and the errno, and the `main`
//!   wrapper that prints it as one line and picks the exit code.
//! * [`fd`]: small file-descriptor helpers (O_NONBLOCK, pipes, socket pairs, EINTR,
//!   RLIMIT_NOFILE, counting open fds for leak tests).
//! * [`narrate`]: the timestamped narration every demo prints (or `--json` lines).
//! * [`timeline`]: the text bar chart concurrent demos print at the end.
//! * [`cli`]: the command-line flags every demo shares.
//! * [`cpu`]: CPU time from getrusage, to show what waiting costs.
//! * [`chat`]: the chat room the select, pselect and poll servers share.
//! * [`aio`]: what the POSIX AIO demos share: process(), input checks, short-read checks.
//! * `transfer` (feature `curl`): what the curl-multi and curl-select demos share, one
//!   file per concern (command line, plan of URLs, easy-handle setup, the in-flight
//!   bookkeeping, outcomes, narration, the timeline and summary, one whole run).
//! * [`sys`]: every `unsafe` block in the workspace, each with its `// SAFETY:` reason.

pub mod aio;
pub mod chat;
pub mod cli;
pub mod cpu;
pub mod error;
pub mod fd;
pub mod narrate;
pub mod sys;
pub mod timeline;
#[cfg(feature = "curl")]
pub mod transfer;

pub use error::{Context, Error, Result};
pub use narrate::Narrator;
