//! Every `unsafe` block in the workspace lives under this module, each with a
//! `// SAFETY:` comment saying why it is sound. Demos call the safe functions here.
//!
//! * [`file`]: `preadv2(RWF_NOWAIT)`, the one way a regular-file read says EAGAIN.
//! * `c_loops` (feature `c-loops`, the bench only): its C select/poll/epoll loops.
//! * `uring` (feature `uring`): io_uring's queues, with each read's buffer held until
//!   the kernel gives it back.
#![allow(unsafe_code)]

pub mod aio;
#[cfg(feature = "c-loops")]
pub mod c_loops;
pub mod curl;
pub mod file;
pub mod signal;
#[cfg(feature = "uring")]
pub mod uring;
