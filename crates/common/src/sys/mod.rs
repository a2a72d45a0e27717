//! Every `unsafe` block in the workspace lives under this module, each with a
//! `// SAFETY:` comment saying why it is sound. Demos call the safe functions here.
//!
//! * [`file`]: `preadv2(RWF_NOWAIT)`, the one way a regular-file read says EAGAIN.
//! * `uring` (feature `uring`): io_uring's queues, with each read's buffer held until
//!   the kernel gives it back.
#![allow(unsafe_code)]

pub mod aio;
pub mod curl;
pub mod file;
pub mod signal;
#[cfg(feature = "uring")]
pub mod uring;
