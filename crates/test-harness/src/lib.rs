//! What the tests stand on (dev-dependency only; nothing here runs in a demo).
//!
//! [`demo`] runs a demo binary the way a lab checker does (with `--json`, under a time
//! limit); [`harness`] runs one the way a careless student or a busy lab machine does
//! (bad input, signals at random moments, a stdout that goes away) and checks the CLI
//! contract; [`bins`] builds and finds another package's binaries; [`strace`] runs one
//! under `strace -f` and parses what it did. [`chat_checks`] holds the checks every chat
//! server must pass, [`transfer_checks`] those of the curl demos: each demo's tests call
//! them with its own binary, so every server is held to the same tests.

pub mod bins;
pub mod chat_checks;
pub mod demo;
pub mod harness;
pub mod strace;
#[cfg(feature = "curl")]
pub mod transfer_checks;
