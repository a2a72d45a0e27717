//! Back-pressure: each client's output queue, its limits, and why (notes: "3. using
//! select()", where the server writes each message straight to every other socket).
//!
//! Writing straight to the other sockets, as the notes do, works until one client stops
//! reading: its socket's send buffer fills, and a blocking `write()` to it stalls the
//! whole server, every other client with it. So a relayed line is only *queued* for
//! each client ([`ChatRoom::queue`]), and `write()` sends a queue when the wait call
//! says that socket is writable.
//!
//! A queue must be bounded, or one client that never reads makes the server's memory
//! grow without end. But a queue can also grow because of a burst, not a dead reader:
//! one wake-up may read 4 KiB from each of ten talkers and queue all of it for every
//! listener at once, before any listener has had a turn to drain. Dropping a listener
//! for that would be wrong. So the room pushes back instead:
//!
//! * while a client is more than [`BEHIND`] bytes behind, nobody's input is read (the
//!   kernel holds it, and TCP slows the talkers down), and the wait is cut short so the
//!   room looks again soon ([`ChatRoom::wait_timeout`]);
//! * a client still that far behind after [`STALL`] has stopped reading: it no longer
//!   holds the room up, and is dropped once its queue passes [`OUTPUT_LIMIT`];
//! * whatever happens, no queue grows past [`HARD_LIMIT`].
//!
//! The price: a client that reads slowly but steadily slows the whole room down
//! instead of being dropped. In exchange no reader that keeps up ever loses a line,
//! which is what the load tests check (10 talkers x 1000 lines, every delivery).

use super::room::Client;
use super::ChatRoom;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Most bytes queued for a client that has stopped reading (see [`STALL`]) before it
/// is dropped.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// A client with more than this queued holds up everyone's input until it catches up
/// (for at most [`STALL`]).
pub const BEHIND: usize = 16 * 1024;

/// How long a client may stay more than [`BEHIND`] bytes behind before it counts as
/// having stopped reading.
pub const STALL: Duration = Duration::from_secs(1);

/// Most bytes queued for any client, stalled or not: memory stays bounded whatever
/// the clients do.
pub const HARD_LIMIT: usize = 16 * OUTPUT_LIMIT;

/// What queueing a line did to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Queued {
    /// Queued; nothing changed.
    Ok,
    /// Queued, and the client just fell more than [`BEHIND`] bytes behind: the room
    /// holds everyone's input from now on.
    NowBehind,
    /// Over the limit: the client must go.
    TooSlow,
}

impl Client {
    /// More than [`BEHIND`] bytes behind for [`STALL`] or longer: it stopped reading.
    pub(super) fn stalled(&self, now: Instant) -> bool {
        self.behind_since.is_some_and(|since| now.duration_since(since) >= STALL)
    }

    /// Behind, but not for long enough to count as stalled: the room waits for it.
    pub(super) fn holding_up(&self, now: Instant) -> bool {
        self.behind_since.is_some() && !self.stalled(now)
    }

    /// After a write took bytes off the queue: true if that ended its being behind.
    pub(super) fn caught_up(&mut self) -> bool {
        let caught_up = self.output.len() <= BEHIND && self.behind_since.is_some();
        if caught_up {
            self.behind_since = None; // no longer holding anyone up
        }
        caught_up
    }
}

impl ChatRoom {
    /// Queues `text` plus newline for one client. The client must go if it has stalled
    /// (see [`STALL`]) and its queue passed [`OUTPUT_LIMIT`], or its queue passed
    /// [`HARD_LIMIT`]. The kernel's socket buffers absorb a few hundred KiB before this
    /// queue grows at all, so a stalled client has stopped reading for a good while, not
    /// just blinked.
    pub(super) fn queue(&mut self, fd: RawFd, text: &str) -> Queued {
        let Some(client) = self.clients.get_mut(&fd) else { return Queued::Ok };
        self.touched.insert(fd);
        client.output.extend_from_slice(text.as_bytes());
        client.output.push(b'\n');
        let now = Instant::now();
        let len = client.output.len();
        if len > HARD_LIMIT || (len > OUTPUT_LIMIT && client.stalled(now)) {
            return Queued::TooSlow;
        }
        if len > BEHIND && client.behind_since.is_none() {
            client.behind_since = Some(now);
            self.behind.insert(fd);
            return Queued::NowBehind;
        }
        Queued::Ok
    }

    // ANCHOR: hold
    /// True while some client is more than [`BEHIND`] bytes behind but has not yet
    /// stalled: new input waits in the kernel until it catches up.
    pub fn holding_input(&self) -> bool {
        let now = Instant::now();
        self.behind_clients().any(|c| c.holding_up(now))
    }

    /// The wait call's timeout: `timeout`, cut short while the room holds input, so
    /// that a client that is behind is looked at again when it would count as
    /// stalled (its socket may never become writable to wake the wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Duration {
        let now = Instant::now();
        self.behind_clients()
            .filter(|c| c.holding_up(now))
            .filter_map(|c| c.behind_since.map(|since| (since + STALL).saturating_duration_since(now)))
            .map(|left| left + Duration::from_millis(1))
            .fold(timeout, Duration::min)
    }
    // ANCHOR_END: hold

    /// The clients that are behind: usually none, so a turn does not look at them all.
    fn behind_clients(&self) -> impl Iterator<Item = &Client> {
        self.behind.iter().filter_map(|fd| self.clients.get(fd))
    }
}
