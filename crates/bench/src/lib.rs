//! aio-lab's benchmarks: what each asynchronous-I/O technique costs and what it buys,
//! measured side by side on this machine (`just bench`; `just bench --quick` for a
//! smoke run).
//!
//! * [`readiness`] (part 1): one select / pselect / poll / epoll_wait wakeup as the
//!   number of watched fds grows, in Rust and in C.
//! * [`waiting`] (part 2): CPU seconds per wall second of a blocking read vs a spin.
//! * [`aio`] (part 4): aio_read's and io_uring's cost on cached data, reads of a slow
//!   device, and double-buffering's gain ([`uring_reads`]: io_uring's side).
//! * [`curl_bench`] (part 3): 50 slow transfers three ways, a thousand at once
//!   ([`curl_scale`]: socket_action on epoll), and the curl loop's cost.
//! * [`chat`] (part 5): the select, pselect and poll chat servers under N clients.
//!
//! [`harness`] says how figures are taken on a shared machine (interleaving, medians,
//! load average); [`report`] prints tables and JSON; [`plot`] draws the SVGs.

pub mod aio;
pub mod chat;
pub mod chat_crowd;
pub mod curl_bench;
pub mod curl_scale;
pub mod harness;
pub mod plot;
pub mod readiness;
pub mod report;
pub mod uring_reads;
pub mod waiting;

/// The parts, in the order they run: name, number, and what is measured.
pub const PARTS: [(&str, u32); 5] = [("readiness", 1), ("waiting", 2), ("curl", 3), ("aio", 4), ("chat", 5)];
