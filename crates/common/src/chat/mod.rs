//! The chat room shared by the select, pselect and poll demos.
//!
//! Everything a chat server does *except waiting* lives here, so that the demos differ
//! only in how they wait (notes: "3. using select()", "4. pselect()", "4. poll()").
//! A demo's loop waits on [`ChatRoom::watch_list`] its own way, then, for each ready
//! fd, calls the room's steps by name: [`ChatRoom::accept`], [`ChatRoom::read`],
//! [`ChatRoom::relay`] (or [`ChatRoom::command`]), [`ChatRoom::write`],
//! [`ChatRoom::close`]. Each step records what it did as [`Happening`]s, which the demo
//! prints with [`tell::happenings`].
//!
//! One file per layer, each headed by the notes section it matches:
//!
//! * `room.rs`: the turn itself: accept, read, relay, write, close;
//! * `commands.rs`: `/nick NAME`, `/who`, `/quit`;
//! * `backpressure.rs`: the output queues, their limits, and why they exist;
//! * `stats.rs`: the second listening port and the counters it reports;
//! * `setup.rs`: binding the listeners, and when a run ends;
//! * `watch.rs`: which fds to wait on, for what, and whose they are;
//! * `leave.rs`: why a client goes, poll's hang-up and error reports, shutdown;
//! * `telnet.rs` and `line.rs`: a client's bytes into lines that are safe to relay;
//! * `happening.rs`: each event's JSON and text, built together; `tell.rs` prints them;
//! * `dispatch.rs`: every step for one ready fd in one call, for tests and benchmarks.

mod backpressure;
mod commands;
mod dispatch;
pub mod happening;
mod leave;
pub mod line;
mod room;
mod setup;
mod stats;
pub mod tell;
pub mod telnet;
mod watch;

/// Re-exported for the scripted clients in `fixtures`, which narrate events too.
pub use serde_json::json;

pub use backpressure::{BEHIND, HARD_LIMIT, OUTPUT_LIMIT, STALL};
pub use commands::COMMANDS;
pub use happening::Happening;
pub use leave::Leave;
pub use room::{BeforeClose, ChatRoom, Input};
pub use setup::StopRule;
pub use stats::Counters;
pub use watch::{Changes, Kind, Watch};

#[cfg(test)]
mod tests;
