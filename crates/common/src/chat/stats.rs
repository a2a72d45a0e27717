//! The stats port: a second listening socket that answers every connection with one
//! line of counters and closes it (notes: "3. using select()", serving more than one
//! kind of socket from one loop).
//!
//! It is there to show that one wait call can watch listeners of different services
//! side by side, and it doubles as a leak detector: `open_fds` only ever grows if a
//! close is missing somewhere.

use super::happening::{self as event, Happening};
use super::room::{errno_of, would_block_io};
use super::ChatRoom;
use nix::errno::Errno;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};

/// Running totals, printed on the stats port, by SIGUSR1 (pselect) and at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Chat connections accepted into the room.
    pub accepted: u64,
    /// Chat connections refused (an fd the wait call cannot watch).
    pub refused: u64,
    /// Clients that left, for any reason.
    pub left: u64,
    /// Lines relayed to the room (`<nick> text`).
    pub lines: u64,
    /// Commands handled (`/nick`, `/who`, `/quit`, unknown ones).
    pub commands: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// Clients dropped because they stopped reading.
    pub slow_dropped: u64,
    /// Connections answered on the stats port.
    pub stats_served: u64,
    /// Wait calls made (select, pselect or poll).
    pub wait_calls: u64,
    /// Wait calls that returned 0: the timeout passed with nothing ready.
    pub timeouts: u64,
    /// The highest fd a client has had (select cannot go past FD_SETSIZE - 1).
    pub highest_fd: RawFd,
}

impl ChatRoom {
    /// The stats listener is readable: accept every pending connection, write the
    /// counters, close.
    pub fn serve_stats(&mut self, happened: &mut Vec<Happening>) {
        loop {
            let mut stream = match self.stats.accept() {
                Ok((stream, _)) => stream,
                Err(e) if would_block_io(&e) => return,
                Err(e) => {
                    let errno = errno_of(&e);
                    if errno == Errno::EMFILE || errno == Errno::ENFILE {
                        self.accept_paused = true; // as for the chat port: do not spin
                    }
                    happened.push(event::accept_failed(
                        self.stats.as_raw_fd(),
                        "stats",
                        errno,
                        self.accept_paused,
                    ));
                    return;
                }
            };
            self.counters.stats_served += 1;
            let fd = stream.as_raw_fd();
            let line = self.stats_line();
            // One short line into an empty send buffer: this write does not block.
            let wrote = stream.write(format!("{line}\n").as_bytes()).unwrap_or(0);
            drop(stream);
            happened.push(event::stats_served(fd, &line, wrote));
        }
    }

    /// The counters as one line (the stats port's answer). `open_fds` comes from
    /// /proc/self/fd, so a leak shows up as a number that only grows.
    pub fn stats_line(&self) -> String {
        let c = &self.counters;
        let fds = crate::fd::count_open_fds().map_or_else(|_| "?".to_string(), |n| n.to_string());
        format!(
            "clients={} accepted={} refused={} left={} lines={} commands={} bytes_in={} bytes_out={} \
             slow_dropped={} stats_served={} wait_calls={} timeouts={} open_fds={fds}",
            self.clients.len(),
            c.accepted,
            c.refused,
            c.left,
            c.lines,
            c.commands,
            c.bytes_in,
            c.bytes_out,
            c.slow_dropped,
            c.stats_served,
            c.wait_calls,
            c.timeouts
        )
    }
}
