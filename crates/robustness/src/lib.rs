//! Tests only: the files in `tests/` run every demo binary against the mistakes students
//! make and the conditions lab machines create (bad paths and flags, refused and busy
//! ports, too few fds, signals, a closed stdout, hostile chat clients, load), and check
//! under strace that each demo makes the system calls of its technique.
//!
//! The helpers they share live in `fixtures` (`fixtures::harness`), beside the ones the
//! demos' own tests use. This file holds only the facts about each demo the tests
//! decide their expectations from.

/// What a demo does when SIGINT or SIGTERM arrives during its no-argument run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// The signal's default action ends it (no handler: nothing to clean up that the
    /// kernel does not). Whole lines only, no temp file left behind.
    Dies,
    /// It handles the signal: tells its clients goodbye, then exits 1 with one error
    /// line saying the script was cut short (pselect, whose point is signals). Before
    /// it has blocked the signals (the first milliseconds), it dies like the others.
    Handles,
}

/// One demo, as the robustness tests see it.
#[derive(Debug, Clone, Copy)]
pub struct Demo {
    /// Package and binary name.
    pub name: &'static str,
    /// About how long its no-argument run takes, in ms (the window a random signal is
    /// sent in).
    pub run_ms: u64,
    /// What SIGINT/SIGTERM do to the no-argument run.
    pub on_stop: OnStop,
    /// Its positional arguments are file paths (the AIO demos and blocking-read).
    pub takes_paths: bool,
    /// Its positional arguments are URLs (the curl demos).
    pub takes_urls: bool,
    /// It has `--listen ADDR` (the chat servers).
    pub listens: bool,
}

const fn demo(name: &'static str, run_ms: u64) -> Demo {
    Demo { name, run_ms, on_stop: OnStop::Dies, takes_paths: false, takes_urls: false, listens: false }
}

/// Every demo, in lecture order.
pub const DEMOS: [Demo; 10] = [
    Demo { takes_paths: true, ..demo("blocking-read", 2000) },
    demo("nonblocking-read", 2100),
    Demo { listens: true, ..demo("select", 900) },
    Demo { listens: true, on_stop: OnStop::Handles, ..demo("pselect", 900) },
    Demo { listens: true, ..demo("poll", 900) },
    Demo { takes_urls: true, ..demo("curl-multi", 1050) },
    Demo { takes_urls: true, ..demo("curl-select", 1050) },
    Demo { takes_paths: true, ..demo("aio-poll-loop", 2800) },
    Demo { takes_paths: true, ..demo("aio-callback", 350) },
    demo("aio-cancel", 100),
];

/// The demo called `name`.
pub fn find(name: &str) -> Option<&'static Demo> {
    DEMOS.iter().find(|d| d.name == name)
}
