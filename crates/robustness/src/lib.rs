//! Tests only: the files in `tests/` run every demo binary against the mistakes students
//! make and the conditions lab machines create (bad paths and flags, refused and busy
//! ports, too few fds, signals, a closed stdout, hostile chat clients, load), and check
//! under strace that each demo makes the system calls of its technique.
//!
//! The helpers they share live in `test-harness` (`test_harness::harness`), beside the ones
//! the demos' own tests use. This file turns the list of demos (`demos.toml`) into the
//! facts the tests decide their expectations from.

pub use demo_list::OnStop;

/// One demo, as the robustness tests see it (from its entry in `demos.toml`).
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

/// Every demo, in reading order: the list in `demos.toml`, so a new demo is tested here
/// as soon as it has its entry.
pub fn demos() -> Vec<Demo> {
    demo_list::all()
        .iter()
        .map(|d| Demo {
            name: d.name,
            run_ms: d.run_ms,
            on_stop: d.on_stop,
            takes_paths: d.args == demo_list::Args::Paths,
            takes_urls: d.args == demo_list::Args::Urls,
            listens: d.kind == demo_list::Kind::Chat,
        })
        .collect()
}

/// The chat servers, in reading order.
pub fn chat_servers() -> Vec<&'static str> {
    demo_list::names_of_kind(demo_list::Kind::Chat)
}

/// The demo called `name`.
pub fn find(name: &str) -> Option<Demo> {
    demos().into_iter().find(|d| d.name == name)
}
