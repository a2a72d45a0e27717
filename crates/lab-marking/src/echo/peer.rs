//! An echo client the checks drive one step at a time: connect, send, expect exact
//! bytes back before a deadline, then leave politely, rudely (RST) or mid-line.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One client connection, and every byte it has received.
pub struct Peer {
    /// How the reports name it ("client 7").
    pub label: String,
    stream: TcpStream,
    received: Vec<u8>,
    /// How many received bytes earlier expectations accounted for.
    seen: usize,
    /// The server closed the connection (read returned 0) or reset it.
    ended: Option<String>,
}

impl Peer {
    /// Connects, giving up at `deadline`.
    pub fn connect(label: &str, addr: SocketAddr, deadline: Instant) -> Result<Peer, String> {
        let wait = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(50));
        let stream = TcpStream::connect_timeout(&addr, wait).map_err(|e| {
            let why = if e.kind() == ErrorKind::TimedOut {
                "timed out: the server's listen queue stayed full (connections it had not accepted yet)"
                    .to_string()
            } else {
                e.to_string()
            };
            format!("{label} could not connect to {addr}: {why}")
        })?;
        let _ = stream.set_nodelay(true);
        Ok(Peer { label: label.into(), stream, received: Vec::new(), seen: 0, ended: None })
    }

    /// The client's own port (the server's end of the connection has it as its remote
    /// port in /proc/net/tcp); 0 if the socket cannot say.
    pub fn local_port(&self) -> u16 {
        self.stream.local_addr().map_or(0, |a| a.port())
    }

    /// Sends bytes (small amounts: a loopback socket buffer takes them at once).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.write_all(bytes).map_err(|e| format!("{} could not send: {e}", self.label))
    }

    /// Reads whatever is available until `deadline`, or until `enough` bytes are held.
    fn fill(&mut self, enough: usize, deadline: Instant) {
        let mut buf = [0u8; 8192];
        while self.received.len() < enough && self.ended.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let _ = self.stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match self.stream.read(&mut buf) {
                Ok(0) => self.ended = Some("the server closed the connection".into()),
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => self.ended = Some(format!("the connection failed: {e}")),
            }
        }
    }

    /// Waits for exactly `want` as the next bytes from the server.
    pub fn expect(&mut self, want: &[u8], deadline: Instant) -> Result<(), String> {
        let enough = self.seen + want.len();
        let allowed = format!("{:.1} s", deadline.saturating_duration_since(Instant::now()).as_secs_f64());
        self.fill(enough, deadline);
        let got = &self.received[self.seen..];
        if got.len() >= want.len() && &got[..want.len()] == want {
            self.seen = enough;
            return Ok(());
        }
        let (shown, wanted) = (shorten(got), shorten(want));
        Err(match (&self.ended, got.is_empty()) {
            (Some(how), true) => format!("{} got no echo of {wanted:?}: {how}", self.label),
            (Some(how), false) => format!("{} got {shown:?} instead of {wanted:?}, then {how}", self.label),
            (None, true) => format!("{} got no echo of {wanted:?} within {allowed}", self.label),
            (None, false) if want.starts_with(got) => {
                format!("{} got only {shown:?} of {wanted:?} within {allowed}", self.label)
            }
            (None, false) => {
                let at = got.iter().zip(want).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
                if want.len() > SHOWN {
                    format!(
                        "{} got {shown:?} instead of {wanted:?} (they differ from byte {at} on)",
                        self.label
                    )
                } else {
                    format!("{} got {shown:?} instead of {wanted:?}", self.label)
                }
            }
        })
    }

    /// Reads whatever arrives within `within` (to see what went astray after a miss).
    pub fn drain(&mut self, within: Duration) -> &[u8] {
        self.fill(usize::MAX, Instant::now() + within);
        self.unexpected()
    }

    /// The bytes received beyond what earlier expectations accounted for.
    pub fn unexpected(&self) -> &[u8] {
        &self.received[self.seen..]
    }

    /// Shuts down the sending side only (FIN), and keeps reading.
    pub fn finish(&mut self) -> Result<(), String> {
        self.stream.shutdown(Shutdown::Write).map_err(|e| format!("{} could not shut down: {e}", self.label))
    }

    /// Sends `data` on a non-blocking socket, each write() taking what the socket
    /// takes, reading the echoes meanwhile if `reading`; stops when all is sent, when
    /// no byte moved either way for `stall`, or at `limit`. Returns the bytes sent, and
    /// whether it stopped short because nothing moved for `stall`.
    pub fn push(&mut self, data: &[u8], reading: bool, stall: Duration, limit: Duration) -> (usize, bool) {
        let _ = self.stream.set_nonblocking(true);
        let (started, mut moved) = (Instant::now(), Instant::now());
        let (mut sent, mut buf) = (0, vec![0u8; 64 * 1024]);
        while sent < data.len() && moved.elapsed() < stall && started.elapsed() < limit {
            let mut progress = false;
            match self.stream.write(&data[sent..]) {
                Ok(n) if n > 0 => (sent, progress) = (sent + n, true),
                Ok(_) => break,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                Err(_) => break,
            }
            if reading {
                match self.stream.read(&mut buf) {
                    Ok(0) => self.ended = Some("the server closed the connection".into()),
                    Ok(n) => (progress, _) = (true, self.received.extend_from_slice(&buf[..n])),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                    Err(e) => self.ended = Some(format!("the connection failed: {e}")),
                }
            }
            if self.ended.is_some() {
                break;
            }
            if progress {
                moved = Instant::now();
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let _ = self.stream.set_nonblocking(false);
        (sent, sent < data.len() && moved.elapsed() >= stall)
    }

    /// Reads until `total` bytes beyond earlier expectations are held, or no byte came
    /// for `stall`, or `limit` passes. Returns how many are held, and whether it stopped
    /// short because none came for `stall`.
    pub fn collect(&mut self, total: usize, stall: Duration, limit: Duration) -> (usize, bool) {
        let started = Instant::now();
        loop {
            let before = self.received.len();
            let until = Instant::now() + stall;
            // One byte more than held: fill() returns after the first read that brings
            // any, and the stall is counted again from there.
            self.fill(before + 1, until.min(started + limit));
            let held = self.received.len() - self.seen;
            let stalled = self.received.len() == before && Instant::now() >= until;
            if held >= total || stalled || self.ended.is_some() || started.elapsed() >= limit {
                return (held, held < total && stalled);
            }
        }
    }

    /// How the connection ended, if the server closed or reset it.
    pub fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }

    /// Sends FIN (a polite close).
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Closes with RST: SO_LINGER {on, 0 s} makes close() reset the connection, as a
    /// crashed client or a rude firewall would.
    pub fn reset(self) {
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        let _ = nix::sys::socket::setsockopt(&self.stream, nix::sys::socket::sockopt::Linger, &linger);
        drop(self.stream);
    }

    /// Sends as much as the connection takes in `for_how_long` without ever reading
    /// the echoes, so the server's writes to it fill up and then block or fail.
    pub fn flood_without_reading(&mut self, for_how_long: Duration) -> usize {
        let _ = self.stream.set_nonblocking(true);
        let chunk = [b'x'; 8191].iter().copied().chain(std::iter::once(b'\n')).collect::<Vec<u8>>();
        let deadline = Instant::now() + for_how_long;
        let mut sent = 0;
        while Instant::now() < deadline && sent < 4 * 1024 * 1024 {
            match self.stream.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break,
            }
        }
        sent
    }

    /// Sends without ever reading the echoes until the connection takes no more for
    /// 300 ms (the server stopped reading: its buffers and ours are full), or `max`
    /// bytes, or `limit` passes. Returns the bytes sent and whether it got stuck. The
    /// bytes are [`flood_byte`]'s stream, so [`Peer::expect_flood`] can tell a lost,
    /// repeated or misplaced piece from the right one.
    pub fn flood_until_stuck(&mut self, max: usize, limit: Duration) -> (usize, bool) {
        let _ = self.stream.set_nonblocking(true);
        let deadline = Instant::now() + limit;
        let (mut sent, mut blocked_since) = (0, None::<Instant>);
        let mut chunk = Vec::with_capacity(FLOOD_LINE);
        while Instant::now() < deadline && sent < max {
            chunk.clear();
            chunk.extend((sent..sent + FLOOD_LINE).map(flood_byte));
            match self.stream.write(&chunk) {
                Ok(n) => {
                    sent += n;
                    blocked_since = None;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let since = *blocked_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= Duration::from_millis(300) {
                        let _ = self.stream.set_nonblocking(false);
                        return (sent, true);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => break,
            }
        }
        let _ = self.stream.set_nonblocking(false);
        (sent, false)
    }

    /// After [`Peer::flood_until_stuck`] sent `sent` bytes: reads back at least every
    /// whole line of them (a server may hold the unfinished last line until its
    /// newline), and compares what came with what was sent, byte for byte. Waits as
    /// long as echoes keep coming (each 3 s without a byte ends it), 30 s at most.
    pub fn expect_flood(&mut self, sent: usize) -> Result<(), String> {
        let overall = Instant::now() + Duration::from_secs(30);
        let start = self.seen;
        let lines = sent - sent % FLOOD_LINE;
        let mut have = 0;
        while have < lines {
            let quiet = (Instant::now() + Duration::from_secs(3)).min(overall);
            self.fill(start + lines, quiet);
            let now = self.received.len() - start;
            if now == have {
                break;
            }
            have = now;
        }
        let got = &self.received[start..];
        if let Some(at) = (0..got.len()).find(|&p| p >= sent || got[p] != flood_byte(p)) {
            if at >= sent {
                return Err(format!("{} got back more than the {sent} bytes it sent", self.label));
            }
            return Err(format!(
                "{} got back bytes other than it sent from byte {at} on (line {} of its {FLOOD_LINE}-byte \
                 lines): bytes were lost or sent twice",
                self.label,
                at / FLOOD_LINE
            ));
        }
        if got.len() < lines {
            let how = self
                .ended
                .as_deref()
                .map_or_else(|| "then nothing for 3 s".to_string(), |e| format!("then {e}"));
            return Err(format!(
                "{} got back only the first {} of the {sent} bytes it sent (in {} whole lines), {how}: bytes \
                 were lost",
                self.label,
                got.len(),
                sent / FLOOD_LINE
            ));
        }
        self.seen = self.received.len();
        Ok(())
    }
}

/// The length of a line in [`Peer::flood_until_stuck`]'s stream.
const FLOOD_LINE: usize = 16384;

/// Byte `at` of the flood: each line is its number in ten digits, then `y`s, then `\n`.
fn flood_byte(at: usize) -> u8 {
    let (line, col) = (at / FLOOD_LINE, at % FLOOD_LINE);
    match col {
        c if c == FLOOD_LINE - 1 => b'\n',
        c if c < 10 => b'0' + ((line / 10usize.pow(9 - c as u32)) % 10) as u8,
        _ => b'y',
    }
}

/// How many bytes of a long expected or received text a report shows.
const SHOWN: usize = 60;

/// `bytes` as text for a report: whole when short, else its start and its length.
fn shorten(bytes: &[u8]) -> String {
    if bytes.len() <= SHOWN {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    format!("{}... ({} bytes)", String::from_utf8_lossy(&bytes[..SHOWN]), bytes.len())
}
