//! The offline world the demos and the labs talk to at run time, so that everything runs
//! with no network and no setup: peers that write after a delay ([`writer`]), temporary
//! files that clean up after themselves ([`temp`]), a local HTTP server that keeps its own
//! record of every request ([`http`]) and the content the curl labs fetch from it
//! ([`lab_web`]), scripted chat clients ([`chat_clients`]) and a simulated slow device
//! ([`slow`]).
//!
//! The tests' own tools live in `test-harness`, the lab checkers' in `lab-marking`.

pub mod chat_clients;
pub mod http;
pub mod lab_web;
pub mod slow;
pub mod temp;
pub mod writer;

pub use temp::TempFile;
pub use writer::{write_after, DelayedWriter};
