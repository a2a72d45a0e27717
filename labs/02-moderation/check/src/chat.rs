//! Chat clients for the checks: each connects from a chosen loopback address (bind
//! before connect: 127.0.0.2, 127.0.0.3, ... all reach a server on 127.0.0.1, and the
//! server sees them as different addresses, which is what a ban needs), and records
//! every line it receives on its own thread.
//!
//! A check reads each client's transcript strictly in order with [`Chat::expect`]: the
//! next line must be exactly the one expected. Nothing may be skipped, so "only NICK
//! sees it" is checked by what the others receive next.

use nix::sys::socket::{
    bind, connect, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn,
};
use nix::sys::time::TimeVal;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one expected line may take.
pub const LINE_WAIT: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Log {
    lines: Vec<String>,
    /// Set when the server closed the connection, or it failed.
    ended: Option<String>,
}

/// A socket connected from `from` (port chosen by the kernel) to `to`, with a receive
/// buffer of `rcvbuf` bytes if given (set before connecting, so the window is small).
fn open(label: &str, from: Ipv4Addr, to: SocketAddr, rcvbuf: Option<usize>) -> Result<TcpStream, String> {
    let SocketAddr::V4(to4) = to else {
        return Err(format!("{to}: the checker connects over IPv4 only"));
    };
    let failed = |what: &str, e: nix::Error| format!("{label} (from {from}): {what}: {e}");
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| failed("socket", e))?;
    bind(fd.as_raw_fd(), &SockaddrIn::from(std::net::SocketAddrV4::new(from, 0)))
        .map_err(|e| failed(&format!("bind {from}"), e))?;
    if let Some(bytes) = rcvbuf {
        setsockopt(&fd, sockopt::RcvBuf, &bytes).map_err(|e| failed("SO_RCVBUF", e))?;
    }
    // Linux's connect() gives up after SO_SNDTIMEO: a server whose listen queue is
    // full (it does not accept) cannot hang the checker.
    setsockopt(&fd, sockopt::SendTimeout, &TimeVal::new(3, 0)).map_err(|e| failed("SO_SNDTIMEO", e))?;
    connect(fd.as_raw_fd(), &SockaddrIn::from(to4)).map_err(|e| failed(&format!("connect {to}"), e))?;
    Ok(TcpStream::from(fd))
}

/// A client that connects and never reads a byte (its socket is closed when dropped):
/// with a 4 KiB receive buffer, what the server sends it backs up at once.
pub fn connect_deaf(label: &str, from: Ipv4Addr, to: SocketAddr) -> Result<TcpStream, String> {
    open(label, from, to, Some(4096))
}

/// One chat client.
pub struct Chat {
    /// How reports name it: "guest2 (from 127.0.0.2)".
    pub label: String,
    stream: TcpStream,
    log: Arc<(Mutex<Log>, Condvar)>,
    /// Lines already matched by `expect`.
    read: usize,
    reader: Option<JoinHandle<()>>,
}

impl Chat {
    /// Connects from `from` (port chosen by the kernel) to `to`.
    pub fn connect(label: &str, from: Ipv4Addr, to: SocketAddr) -> Result<Chat, String> {
        let stream = open(label, from, to, None)?;
        let log: Arc<(Mutex<Log>, Condvar)> = Arc::default();
        let mut input = BufReader::new(stream.try_clone().map_err(|e| format!("{label}: dup: {e}"))?);
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut line = Vec::new();
            let ended = loop {
                line.clear();
                match input.read_until(b'\n', &mut line) {
                    Ok(0) => break "the server closed the connection".to_string(),
                    Ok(_) => {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        if let Ok(mut log) = sink.0.lock() {
                            log.lines.push(String::from_utf8_lossy(&line).into_owned());
                        }
                        sink.1.notify_all();
                    }
                    Err(e) => break format!("the connection failed: {e}"),
                }
            };
            if let Ok(mut log) = sink.0.lock() {
                log.ended = Some(ended);
            }
            sink.1.notify_all();
        });
        Ok(Chat { label: format!("{label} (from {from})"), stream, log, read: 0, reader: Some(reader) })
    }

    /// Sends one line.
    pub fn say(&mut self, line: &str) -> Result<(), String> {
        self.send(format!("{line}\n").as_bytes())
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.write_all(bytes).map_err(|e| format!("{} could not send: {e}", self.label))
    }

    /// Waits for line number `self.read` (or the end of the connection); None if
    /// neither came within `within`.
    fn next(&self, within: Duration) -> (Option<String>, Option<String>) {
        let deadline = Instant::now() + within;
        let Ok(mut log) = self.log.0.lock() else { return (None, Some("log poisoned".into())) };
        loop {
            if let Some(line) = log.lines.get(self.read) {
                return (Some(line.clone()), None);
            }
            if log.ended.is_some() {
                return (None, log.ended.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (None, None);
            }
            match self.log.1.wait_timeout(log, left) {
                Ok((guard, _)) => log = guard,
                Err(_) => return (None, Some("log poisoned".into())),
            }
        }
    }

    /// The next line, if one comes within `within`, without consuming it (to say what
    /// a client got instead, when a check fails).
    pub fn peek(&self, within: Duration) -> Option<String> {
        self.next(within).0
    }

    /// The next line must be exactly `want`.
    pub fn expect(&mut self, want: &str) -> Result<(), String> {
        match self.next(LINE_WAIT) {
            (Some(line), _) if line == want => {
                self.read += 1;
                Ok(())
            }
            (Some(line), _) => Err(format!("{} got {line:?} where {want:?} was expected", self.label)),
            (None, Some(ended)) => Err(format!("{} expected {want:?}, but {ended}", self.label)),
            (None, None) => Err(format!(
                "{} expected {want:?}, but got nothing within {} s",
                self.label,
                LINE_WAIT.as_secs()
            )),
        }
    }

    /// The next line, whatever it is (for lines a check compares loosely).
    pub fn next_line(&mut self) -> Result<String, String> {
        match self.next(LINE_WAIT) {
            (Some(line), _) => {
                self.read += 1;
                Ok(line)
            }
            (None, Some(ended)) => Err(format!("{} expected a line, but {ended}", self.label)),
            (None, None) => Err(format!(
                "{} expected a line, but got nothing within {} s",
                self.label,
                LINE_WAIT.as_secs()
            )),
        }
    }

    /// The server must close the connection, with no more lines first.
    pub fn expect_closed(&mut self) -> Result<(), String> {
        match self.next(LINE_WAIT) {
            (Some(line), _) => Err(format!("{} should have been disconnected, but got {line:?}", self.label)),
            (None, Some(_)) => Ok(()),
            (None, None) => Err(format!(
                "{} is still connected {} s after it should have been disconnected: close the socket",
                self.label,
                LINE_WAIT.as_secs()
            )),
        }
    }

    /// `/who`, compared as a set: `* online (N): a, b, c` in any order.
    pub fn expect_who(&mut self, names: &[&str]) -> Result<(), String> {
        self.say("/who")?;
        let line = self.next_line()?;
        let want = format!("* online ({}): {}", names.len(), names.join(", "));
        let parsed = line.strip_prefix(&format!("* online ({}): ", names.len())).map(|rest| {
            let mut got: Vec<&str> = rest.split(", ").collect();
            got.sort_unstable();
            got
        });
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        if parsed.as_ref() == Some(&sorted) {
            Ok(())
        } else {
            Err(format!("{} sent /who and got {line:?}; expected {want:?} (names in any order)", self.label))
        }
    }

    /// Closes politely (FIN).
    pub fn close(mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
