//! Leaving: why a client goes, what poll() can report besides "readable" (hang-up,
//! error, not an open fd), and the server's own clean shutdown (notes: "4. pselect()",
//! stopping on a signal).
//!
//! The close itself, one client at a time, is [`ChatRoom::close`] in `room.rs`.

use super::backpressure::{OUTPUT_LIMIT, STALL};
use super::happening::{self as event, Happening};
use super::room::READ_CHUNK;
use super::ChatRoom;
use nix::errno::Errno;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Why a client is no longer in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// It sent `/quit`.
    Quit,
    /// `read()` returned 0: the peer closed its end.
    Closed,
    /// A read or write failed (ECONNRESET after a peer's SO_LINGER 0 close, EPIPE...).
    Failed(Errno),
    /// The wait call reported a hang-up (POLLHUP) with nothing left to read.
    HungUp,
    /// Its output queue passed [`OUTPUT_LIMIT`]: it stopped reading.
    TooSlow,
    /// The server is shutting down.
    Shutdown,
}

impl Leave {
    /// The reason, in words (the `left` event's `reason`).
    pub fn words(self) -> String {
        match self {
            Leave::Quit => "sent /quit".into(),
            Leave::Closed => "read() = 0: the peer closed its end".into(),
            Leave::Failed(e) => format!("{} ({})", crate::error::errno_name(e), e.desc()),
            Leave::HungUp => "hang-up reported by the wait call".into(),
            Leave::TooSlow => format!(
                "stopped reading: over {} KiB queued, behind for {} s or more",
                OUTPUT_LIMIT / 1024,
                STALL.as_secs()
            ),
            Leave::Shutdown => "server shutting down".into(),
        }
    }
}

impl ChatRoom {
    /// The socket's pending error (getsockopt SO_ERROR), for poll's POLLERR: the reason
    /// to give [`ChatRoom::close`].
    pub fn socket_error(&self, fd: RawFd) -> Leave {
        let Some(client) = self.clients.get(&fd) else { return Leave::Failed(Errno::EBADF) };
        Leave::Failed(
            match nix::sys::socket::getsockopt(&client.stream, nix::sys::socket::sockopt::SocketError) {
                Ok(0) => Errno::EIO, // the condition was already cleared; say something
                Ok(code) => Errno::from_raw(code),
                Err(e) => e,
            },
        )
    }

    /// The wait call reported a hang-up (poll's POLLHUP) for `fd`: close it.
    ///
    /// Data may still be waiting behind the hang-up, so a caller that also saw
    /// "readable" should read first; by the time a hang-up is handled here, there is
    /// nobody left to talk to.
    pub fn on_hangup(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        self.close(fd, Leave::HungUp, &mut happened);
        happened
    }

    /// The wait call reported an error condition (poll's POLLERR) for `fd`: close it
    /// with the socket's pending error as the reason.
    pub fn on_error(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        if self.clients.contains_key(&fd) {
            let why = self.socket_error(fd);
            self.close(fd, why, &mut happened);
        }
        happened
    }

    /// The wait call says `fd` is not an open file (poll's POLLNVAL). That can only be
    /// our own bookkeeping bug: forget the entry without closing anything (closing an
    /// fd number that is not ours could close someone else's file).
    pub fn forget(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        if let Some(client) = self.clients.remove(&fd) {
            self.touched.remove(&fd);
            self.behind.remove(&fd);
            std::mem::forget(client.stream);
            happened.push(event::forgotten(fd, &client.nick));
        }
        happened
    }

    // ANCHOR: shutdown
    /// Tells every client the server is going away, flushes what it can within a
    /// second, closes every connection politely, and returns what happened.
    ///
    /// Closing a socket whose receive queue still holds unread bytes makes the kernel
    /// send a reset instead of a FIN, and a reset can destroy data the client has not
    /// read yet (our goodbye). So: queue the goodbye, flush, `shutdown(SHUT_WR)` (FIN
    /// after the data), then read and discard until each client closes too, within the
    /// deadline. This runs after the loop has stopped waiting, so it polls on a clock.
    pub fn shutdown(&mut self, why: &str) -> Vec<Happening> {
        let goodbye = format!("* server shutting down ({why}); bye");
        for client in self.clients.values_mut() {
            client.output.extend_from_slice(goodbye.as_bytes());
            client.output.push(b'\n');
        }
        let told = self.clients.len();
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut flushed = 0u64;
        let mut finished: Vec<RawFd> = Vec::new();
        while finished.len() < self.clients.len() && Instant::now() < deadline {
            let mut progress = false;
            for (&fd, client) in self.clients.iter_mut() {
                if finished.contains(&fd) {
                    continue;
                }
                if !client.output.is_empty() {
                    match client.stream.write(&client.output) {
                        Ok(n) => {
                            client.output.drain(..n);
                            flushed += n as u64;
                            progress = true;
                            if client.output.is_empty() {
                                let _ = client.stream.shutdown(Shutdown::Write);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => finished.push(fd),
                    }
                    continue;
                }
                let mut sink = [0u8; READ_CHUNK];
                match client.stream.read(&mut sink) {
                    Ok(0) => finished.push(fd),
                    Ok(_) => progress = true,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => finished.push(fd),
                }
            }
            if !progress {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.counters.bytes_out += flushed;
        let closed = self.clients.len();
        self.counters.left += closed as u64;
        self.clients.clear(); // dropping each TcpStream closes its fd
        vec![event::shutdown(why, &goodbye, told, flushed, closed, finished.len())]
    }
    // ANCHOR_END: shutdown
}
