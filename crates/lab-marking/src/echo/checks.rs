//! The checks every echo-server lab shares (labs 1 and 6): exact echoes, many clients
//! at once, a stalled client, a client that never reads, rude departures, fds, signals.
//! Each starts the submission afresh and judges it by what real TCP clients on loopback
//! see. The words a reason uses for the wait call come from the lab's [`Wait`].

use super::peer::Peer;
use super::{deadline, shorten, Wait, ECHO_WAIT};
use crate::lab_server::{describe, Server};
use crate::marking::Submission;
use std::time::{Duration, Instant};

/// Clients connected at once in `many-clients`.
const CROWD: usize = 50;

/// Clients that come and go in `no-fd-leak`.
const COMERS: usize = 20;

/// `starts`: runs, prints `listening on IP:PORT` first, accepts a connection.
pub fn starts(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let peer = Peer::connect("a client", server.addr, deadline(ECHO_WAIT))?;
    peer.close();
    std::thread::sleep(Duration::from_millis(50));
    server.alive().map_err(|died| {
        format!("printed `listening on {}`, but once a client had connected and closed, {died}", server.addr)
    })?;
    Ok(format!("printed `listening on {}`, and a client could connect there", server.addr))
}

/// `echo`: one client; a line, two lines in one write, a line in two writes, a long line.
pub fn echo(submission: &Submission) -> Result<String, String> {
    let server = Server::start(submission)?;
    let mut client = Peer::connect("the client", server.addr, deadline(ECHO_WAIT))?;
    client.send(b"hello\n")?;
    client.expect(b"hello\n", deadline(ECHO_WAIT))?;
    client.send(b"two\nlines\n")?;
    client.expect(b"two\nlines\n", deadline(ECHO_WAIT))?;
    client.send(b"a line sent ")?;
    std::thread::sleep(Duration::from_millis(100));
    client.send(b"in two parts\n")?;
    client.expect(b"a line sent in two parts\n", deadline(ECHO_WAIT))?;
    let long: Vec<u8> = (0..20_000).map(|i| b'a' + (i % 26) as u8).chain(std::iter::once(b'\n')).collect();
    client.send(&long)?;
    client.expect(&long, deadline(ECHO_WAIT)).map_err(|e| format!("a 20000-byte line: {e}"))?;
    // The same line again in 5 parts 50 ms apart: a server that keeps only so much of
    // an unfinished line (4 KiB, say) loses the rest here.
    for part in long.chunks(4000) {
        client.send(part)?;
        std::thread::sleep(Duration::from_millis(50));
    }
    client
        .expect(&long, deadline(ECHO_WAIT))
        .map_err(|e| format!("a 20000-byte line sent in 5 parts 50 ms apart: {e}"))?;
    binary_and_huge(&mut client)?;
    std::thread::sleep(Duration::from_millis(50));
    let extra = client.unexpected().to_vec();
    if !extra.is_empty() {
        return Err(format!(
            "the client got extra bytes after its echoes: {:?}",
            String::from_utf8_lossy(&extra)
        ));
    }
    // The last bytes before a client stops sending are bytes too: a half-closed
    // connection (shutdown(SHUT_WR), as `nc -N` does) still reads its echo.
    client.send(b"and a last part with no newline")?;
    client.finish()?;
    client.expect(b"and a last part with no newline", deadline(ECHO_WAIT)).map_err(|e| {
        format!(
            "{e}, after it sent them with no newline and then shut down its sending side (shutdown(SHUT_WR)): \
             every byte comes back, also those after the last newline; at end of file, write what is \
             still held before closing"
        )
    })?;
    Ok("9 sends (one line; two lines in one write; a line in two writes; a 20000-byte line, at once and in 5 \
        parts; every byte value (NUL, 0x80 to 0xFF); a UTF-8 character split across two writes; a 100000-byte line in 10 \
        parts; a last part with no newline, then end of file) came back byte for byte"
        .into())
}

/// The longest line `echo` sends, in [`HUGE_PARTS`] parts: past 64 KiB, where a
/// server that keeps only so much of a line (32 KiB, say) drops the rest.
const HUGE_LINE: usize = 100_000;
const HUGE_PARTS: usize = 10;

/// `echo`'s bytes that are not text, and its longest line. Bytes are bytes: a server
/// that treats its buffer as a C string (strlen() stops at a NUL) or decodes it as
/// text (0xFF is no UTF-8; half a character in one read is not one) changes them.
fn binary_and_huge(client: &mut Peer) -> Result<(), String> {
    let every: Vec<u8> = (0..=255u8).filter(|&b| b != b'\n').chain(std::iter::once(b'\n')).collect();
    client.send(&every)?;
    client.expect(&every, deadline(ECHO_WAIT)).map_err(|e| {
        format!(
            "a line holding every byte value from 0 to 255 but the newline (NUL, and 0x80 to 0xFF, which are not text): {e}. \
             Every byte is data: not a C string (strlen() stops at the first NUL), not text to decode"
        )
    })?;
    // U+00E9 (e acute) is 0xC3 0xA9 in UTF-8: its first byte comes alone, its second 100 ms later.
    client.send(b"caf\xc3")?;
    std::thread::sleep(Duration::from_millis(100));
    client.send(b"\xa9 au lait\n")?;
    client.expect(b"caf\xc3\xa9 au lait\n", deadline(ECHO_WAIT)).map_err(|e| {
        format!(
            "the bytes of \"caf\u{e9} au lait\\n\" in UTF-8, the 2-byte \u{e9} (0xC3 0xA9) split across two \
             writes 100 ms apart: {e}. Echo bytes, not decoded text"
        )
    })?;
    let huge: Vec<u8> = (0..HUGE_LINE).map(|i| b'A' + (i % 26) as u8).chain(std::iter::once(b'\n')).collect();
    for part in huge.chunks(huge.len().div_ceil(HUGE_PARTS)) {
        client.send(part)?;
        std::thread::sleep(Duration::from_millis(30));
    }
    client.expect(&huge, deadline(ECHO_WAIT)).map_err(|e| {
        format!(
            "a {HUGE_LINE}-byte line sent in {HUGE_PARTS} parts 30 ms apart: {e}. However long a line gets, \
             nothing read may be dropped"
        )
    })
}

/// `many-clients`: 50 clients connected at once, each echoed, twice, in different orders.
///
/// They connect one after another, each waiting for its greeting's echo before the
/// next connects: a correct server with a small listen backlog (`listen(fd, 5)`, as
/// Python and many textbooks have it) is never shown a full accept queue, so its
/// clients are not left in SYN retransmission for a second and more.
pub fn many_clients(submission: &Submission, wait: &Wait) -> Result<String, String> {
    let server = Server::start(submission)?;
    let mut clients: Vec<Peer> = Vec::with_capacity(CROWD);
    for i in 1..=CROWD {
        let mut client = Peer::connect(&format!("client {i}"), server.addr, deadline(ECHO_WAIT))?;
        let hello = format!("client {i} joins\n");
        client.send(hello.as_bytes())?;
        if let Err(why) = client.expect(hello.as_bytes(), deadline(ECHO_WAIT)) {
            return Err(if i == 2 {
                format!(
                    "{why}, while client 1 (echoed) stayed connected: the server serves one client at a \
                     time (it is stuck reading from client 1, so nobody else is served)"
                )
            } else {
                format!("{why}, while clients 1 to {} (each echoed) stayed connected", i - 1)
            });
        }
        clients.push(client);
    }
    let line = |round: u32, i: usize| format!("round {round}: client {i} says hello\n");
    for (i, client) in clients.iter_mut().enumerate() {
        client.send(line(1, i + 1).as_bytes())?;
    }
    // One deadline for all: a server that serves one client at a time costs 3 s here,
    // not 3 s per client.
    let by = deadline(Duration::from_secs(3));
    let mut missing = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        if let Err(why) = client.expect(line(1, i + 1).as_bytes(), by) {
            missing.push((i + 1, why));
        }
    }
    if !missing.is_empty() {
        return Err(crowd_failure(&mut clients, &missing, &line, wait));
    }
    // Round 2, last client first: every client stays served, not just its first line.
    for (i, client) in clients.iter_mut().enumerate().rev() {
        client.send(line(2, i + 1).as_bytes())?;
    }
    let by = deadline(Duration::from_secs(3));
    for (i, client) in clients.iter_mut().enumerate().rev() {
        if let Err(why) = client.expect(line(2, i + 1).as_bytes(), by) {
            missing.push((i + 1, why));
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "every client's first line was echoed, but {} of {CROWD} got no echo of their second: {}",
            missing.len(),
            missing[0].1
        ));
    }
    Ok(format!("{CROWD} clients connected one by one and stayed; each got its own 3 lines back, in two rounds at once"))
}

/// Says why clients were not echoed, naming the likely cause.
fn crowd_failure(
    clients: &mut [Peer],
    missing: &[(usize, String)],
    line: &dyn Fn(u32, usize) -> String,
    wait: &Wait,
) -> String {
    let served: Vec<usize> = (1..=CROWD).filter(|i| !missing.iter().any(|(m, _)| m == i)).collect();
    // Echoes that went to the wrong client: a client holding another one's line.
    for i in 0..clients.len() {
        let got = String::from_utf8_lossy(clients[i].drain(Duration::from_millis(10))).to_string();
        if let Some(owner) = (1..=CROWD).find(|&o| o != i + 1 && got.contains(line(1, o).trim_end())) {
            // Did the owner get its line too? Then bytes go to others as well, not
            // instead. (Its echo may still be on its way from a server busy sending.)
            let owner_served = !missing.iter().any(|(m, _)| *m == owner) || {
                let own =
                    String::from_utf8_lossy(clients[owner - 1].drain(Duration::from_millis(300))).to_string();
                own.contains(line(1, owner).trim_end())
            };
            if owner_served {
                return format!(
                    "client {} received client {owner}'s line {:?}, and client {owner} got it too: bytes go to \
                     other clients as well as to their sender (echo each client's bytes to it alone)",
                    i + 1,
                    line(1, owner).trim_end()
                );
            }
            return format!(
                "client {} received client {owner}'s line {:?}: echoes go to the wrong client ({})",
                i + 1,
                line(1, owner).trim_end(),
                wait.wrong_client
            );
        }
    }
    let first_reason = &missing[0].1;
    if served.len() == 1 {
        format!(
            "{} of {CROWD} clients got no echo within 3 s while client {} was connected: the server serves \
             one client at a time (it is stuck reading from client {}, so nobody else is served). \
             First failure: {first_reason}",
            missing.len(),
            served[0],
            served[0]
        )
    } else {
        format!(
            "{} of {CROWD} clients got no echo within 3 s while all {CROWD} were connected ({} were served). \
             First failure: {first_reason}",
            missing.len(),
            served.len()
        )
    }
}

/// `non-reader`: a client that sends a lot and never reads its echoes, and stays
/// connected, holds up nobody: writes to it wait for room (POLLOUT, EPOLLOUT) instead
/// of blocking.
pub fn non_reader(submission: &Submission, wait: &Wait) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let mut hog = Peer::connect("client D", server.addr, deadline(ECHO_WAIT))?;
    let (sent, stuck) = hog.flood_until_stuck(32 * 1024 * 1024, Duration::from_secs(3));
    let why_stuck = if stuck {
        format!("client D sent {sent} bytes without reading its echoes, until the server took no more, and stayed connected")
    } else {
        format!("client D sent {sent} bytes without reading its echoes (the server kept taking them), and stayed connected")
    };
    server.alive().map_err(|died| format!("{why_stuck}; then {died}"))?;
    let mut b = Peer::connect("client B", server.addr, deadline(ECHO_WAIT)).map_err(|e| {
        format!("{why_stuck}; then {e}: the server is not accepting (is it blocked writing to D?)")
    })?;
    b.send(b"hello from B\n")?;
    b.expect(b"hello from B\n", deadline(ECHO_WAIT)).map_err(|e| {
        match server.waiting_in().as_deref() {
            Some(call @ ("write" | "sendto" | "writev" | "sendmsg")) => format!(
                "{why_stuck}; then {e}: the server is blocked in {call}(), to D, whose socket buffer is full \
                 because D does not read. Write only what the socket takes (non-blocking sockets; keep the rest \
                 and wait for {})",
                wait.writable
            ),
            Some(call) => format!("{why_stuck}; then {e} (the server was asleep in {call}())"),
            None => format!("{why_stuck}; then {e}"),
        }
    })?;
    b.send(b"B again\n")?;
    b.expect(b"B again\n", deadline(ECHO_WAIT)).map_err(|e| format!("{why_stuck}; then {e}"))?;
    server.alive()?;
    settle(server.addr.port(), hog.local_port());
    held_still(&server, wait).map_err(|e| format!("{why_stuck}; client B was echoed twice; then, {e}"))?;
    // Now D reads: every byte it sent must come back, in order. A server that drops
    // what a full socket did not take (a write's short count or EAGAIN ignored) loses
    // bytes here, and only here: D is the one client whose socket ever fills up.
    hog.expect_flood(sent).map_err(|e| {
        format!(
            "{why_stuck}; client B was echoed twice; then D read its echoes: {e}. When write() takes \
             fewer bytes than offered, or fails with EAGAIN, keep the rest and write it at the next POLLOUT"
        )
    })?;
    Ok(format!("{why_stuck}; client B, connecting after, was echoed twice; then D read back its echoes, byte for byte"))
}

/// The kernel's queues of the server's end of the connection from `client_port`: bytes
/// it holds unsent (tx) and unread (rx), from /proc/net/tcp; None if not found.
fn server_end_queues(server_port: u16, client_port: u16) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let port = |addr: &str| addr.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (tx, rx) = f.get(4)?.split_once(':')?;
        (port(f.get(1)?)? == server_port && port(f.get(2)?)? == client_port)
            .then(|| Some((u64::from_str_radix(tx, 16).ok()?, u64::from_str_radix(rx, 16).ok()?)))?
    })
}

/// Waits (at most 15 s) until the server has finished the work D left it: its end of
/// D's connection neither reads nor sends for 0.3 s. A server that reads in small
/// pieces (1 byte at a time is allowed) can be busy for seconds with D's backlog,
/// working, not spinning; the spin check must come after that.
fn settle(server_port: u16, client_port: u16) {
    let until = Instant::now() + Duration::from_secs(15);
    let mut last = server_end_queues(server_port, client_port);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(300));
        let now = server_end_queues(server_port, client_port);
        if now == last {
            return;
        }
        last = now;
    }
}

/// While D holds still, its echo waiting for room: the server sleeps, alone. A server
/// that asks to read a client it will not read (level-triggered) spins here, and only
/// here; one that hands a stuck write to a thread or a process shows it here, and only
/// here (idle clients never fill a socket).
fn held_still(server: &Server, wait: &Wait) -> Result<(), String> {
    let still = super::idle::watch_idle(server, Duration::from_millis(600));
    if still.children > 0 {
        return Err(format!(
            "while D held still, the server had {} other process{} (children, or others in its process \
             group): the lab asks for one process serving every client with {}",
            still.children,
            if still.children == 1 { "" } else { "es" },
            wait.call
        ));
    }
    if still.threads > 1 {
        return Err(format!(
            "while D held still, the server had {} threads (/proc/PID/task): the lab asks for one thread \
             serving every client with {}, also one whose echo waits for room (no thread to finish a write)",
            still.threads, wait.call
        ));
    }
    let Some(cause) = wait.pending_spin else { return Ok(()) };
    if still.spinning() {
        return Err(format!(
            "while D held still (its echo waiting for room, nothing else to do), the server was running, not \
             asleep, in {} of {} looks at /proc/PID/stat and used {} of CPU in 0.6 s: it is spinning. The usual \
             cause: {}",
            still.running,
            still.looks,
            still.cpu_shown(),
            cause
        ));
    }
    Ok(())
}

/// `slow-client`: a client that sends half a line and stalls, and one that sends
/// nothing, hold up nobody; the half line is completed later and echoed whole.
pub fn slow_client(submission: &Submission) -> Result<String, String> {
    let server = Server::start(submission)?;
    let mut slow = Peer::connect("client A", server.addr, deadline(ECHO_WAIT))?;
    slow.send(b"half a li")?;
    std::thread::sleep(Duration::from_millis(200));
    let mut quick = Peer::connect("client B", server.addr, deadline(ECHO_WAIT))?;
    quick.send(b"hello from B\n")?;
    quick.expect(b"hello from B\n", deadline(ECHO_WAIT)).map_err(|e| {
        match server.waiting_in().as_deref() {
            Some(call @ ("read" | "recvfrom" | "readv" | "recvmsg")) => format!(
                "{e}, while client A (connected first) sat on half a line with no newline: the server is \
             asleep in {call}(): a blocking read on a client with nothing more to send (A) stalls all the others"
            ),
            Some(call) => format!(
            "{e}, while client A (connected first) sat on half a line with no newline (the server was asleep \
             in {call}())"
        ),
            None => format!("{e}, while client A (connected first) sat on half a line with no newline"),
        }
    })?;
    let mut silent = Peer::connect("client C", server.addr, deadline(ECHO_WAIT))?;
    std::thread::sleep(Duration::from_millis(100));
    quick.send(b"B again\n")?;
    if let Err(e) = quick.expect(b"B again\n", deadline(ECHO_WAIT)) {
        let astray = String::from_utf8_lossy(silent.drain(Duration::from_millis(100))).into_owned();
        return Err(if astray.contains("B again") {
            format!("{e}: client C, which sent nothing, received {astray:?}: echoes go to the wrong client")
        } else {
            format!("{e}, after client C connected and sent nothing: the server is waiting for C")
        });
    }
    slow.send(b"ne\n")?;
    slow.expect(b"half a line\n", deadline(ECHO_WAIT))
        .map_err(|e| format!("client A sent \"half a li\", then 300 ms later \"ne\\n\": {e}"))?;
    drop(silent);
    Ok("client B was echoed while A sat on half a line and C sent nothing; A's line, finished later, came back whole".into())
}

/// `disconnects`: clients that leave abruptly neither kill the server nor wedge it, and
/// an idle server does not spin.
pub fn disconnects(submission: &Submission, wait: &Wait) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    type Rude = fn(Peer);
    let cases: [(&str, &[u8], Rude); 4] = [
        ("closed (FIN) mid-line", b"half a li", Peer::close),
        ("reset (RST) mid-line", b"also half", Peer::reset),
        ("connected and closed without a word", b"", Peer::close),
        ("connected and reset without a word", b"", Peer::reset),
    ];
    for (n, (what, bytes, leave)) in cases.iter().enumerate() {
        let mut rude = Peer::connect("a rude client", server.addr, deadline(ECHO_WAIT))?;
        if !bytes.is_empty() {
            rude.send(b"ping\n")?;
            rude.expect(b"ping\n", deadline(ECHO_WAIT))?;
            rude.send(bytes)?;
            std::thread::sleep(Duration::from_millis(50));
        }
        leave(rude);
        after_rude(&mut server, what, n)?;
    }
    // A client that floods without reading its echoes, then resets: the server's
    // writes to it fail (EPIPE, ECONNRESET). In C, an EPIPE write also raises SIGPIPE,
    // which kills the process unless it is ignored.
    let mut flood = Peer::connect("a flooding client", server.addr, deadline(ECHO_WAIT))?;
    let sent = flood.flood_without_reading(Duration::from_millis(300));
    flood.reset();
    std::thread::sleep(Duration::from_millis(100));
    after_rude(&mut server, &format!("sent {sent} bytes without reading its echoes, then reset"), 4)?;
    // Idle now: a server that still watches a dead client (level-triggered) is told
    // of its hang-up or end of file on every wait, at once, forever.
    let idle = super::idle::watch_idle(&server, Duration::from_millis(600));
    if idle.spinning() {
        return Err(format!(
            "with every client gone, the server was running, not asleep, in {} of {} looks at /proc/PID/stat \
             and used {} of CPU in 0.6 s: it is spinning, its wait returns at once over and over. The usual \
             cause after clients left: {}",
            idle.running,
            idle.looks,
            idle.cpu_shown(),
            wait.dead_client_spin
        ));
    }
    Ok("survived 5 abrupt departures (FIN and RST mid-line, silent FIN, silent RST, a flood then RST), \
        served a new client after each, and sat idle without spinning"
        .into())
}

/// After a rude departure: still running, and a new client is echoed.
fn after_rude(server: &mut Server, what: &str, n: usize) -> Result<(), String> {
    std::thread::sleep(Duration::from_millis(50));
    if let Err(died) = server.alive() {
        let hint = if died.contains("SIGPIPE") {
            ": it wrote to a connection the client had reset. Ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) \
             or send with MSG_NOSIGNAL, and treat EPIPE/ECONNRESET as \"this client is gone\""
        } else {
            ""
        };
        return Err(format!("after a client {what}, {died}{hint}"));
    }
    let mut fresh = Peer::connect("a new client", server.addr, deadline(ECHO_WAIT))?;
    let line = format!("still there? {n}\n");
    fresh.send(line.as_bytes())?;
    fresh
        .expect(line.as_bytes(), deadline(ECHO_WAIT))
        .map_err(|e| {
            if e.contains("the server closed the connection") || e.contains("the connection failed") {
                format!("after a client {what}: {e}: the server cut off the new client (stale state from the one that left?)")
            } else {
                format!("after a client {what}: {e}: the server is wedged")
            }
        })?;
    fresh.close();
    Ok(())
}

/// `no-fd-leak`: 20 clients come and go in every way; the server's open fds go back to
/// what they were before they came.
pub fn no_fd_leak(submission: &Submission, wait: &Wait) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    // The baseline is taken once the server has served a first client and seen it
    // leave: a server may open fds after its `listening on` line (an epoll instance,
    // say), and must not be blamed for those.
    let mut first = Peer::connect("a first client", server.addr, deadline(ECHO_WAIT))?;
    first.send(b"before the others\n")?;
    first.expect(b"before the others\n", deadline(ECHO_WAIT)).map_err(|e| format!("not judged: {e}"))?;
    first.close();
    let baseline = settled_fds(&server)?;
    let mut clients = Vec::with_capacity(COMERS);
    for i in 1..=COMERS {
        clients.push(Peer::connect(&format!("client {i}"), server.addr, deadline(ECHO_WAIT))?);
        // Paced: the next client connects once this one is accepted (or 300 ms passed),
        // so a small listen backlog is never overrun.
        let by = deadline(Duration::from_millis(300));
        while server.open_fds()?.len() < baseline.len() + i && Instant::now() < by {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    for (i, client) in clients.iter_mut().enumerate() {
        match i % 5 {
            0 | 1 => client.send(format!("client {} here\n", i + 1).as_bytes())?,
            2 => client.send(b"half a li")?,
            _ => {}
        }
    }
    // How many fds it holds while they are connected (a concurrent server: one each).
    let by = deadline(Duration::from_secs(3));
    let mut peak = baseline.len();
    while Instant::now() < by {
        peak = peak.max(server.open_fds()?.len());
        if peak >= baseline.len() + COMERS {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if peak < baseline.len() + COMERS {
        return Err(fewer_fds(&server, baseline.len(), peak, wait));
    }
    for (i, client) in clients.into_iter().enumerate() {
        if i % 2 == 0 {
            client.close();
        } else {
            client.reset();
        }
    }
    let by = deadline(Duration::from_secs(3));
    let after = loop {
        // A crashed server has no fds at all, which proves nothing.
        server.alive().map_err(|died| {
            format!(
                "while {COMERS} clients came and left (by FIN, RST, mid-line), {died}: no points for its fds"
            )
        })?;
        let now = server.open_fds()?;
        if now.len() <= baseline.len() || Instant::now() > by {
            break now;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if after.len() > baseline.len() {
        let extra: Vec<String> = after
            .iter()
            .filter(|fd| !baseline.contains(fd))
            .map(|(fd, target)| format!("{fd} -> {target}"))
            .collect();
        return Err(format!(
            "{} fds were open before {COMERS} clients came, {} while they were connected, and still {} \
             3 s after they all left: a socket is not closed when its client leaves (check every path: \
             read() = 0, read() < 0, {}). Extra fds: {}",
            baseline.len(),
            peak,
            after.len(),
            wait.hangups,
            shorten(&extra)
        ));
    }
    Ok(format!(
        "{} fds before, {peak} while {COMERS} clients were connected, {} after they left (by FIN, RST, mid-line)",
        baseline.len(),
        after.len()
    ))
}

/// Why a server held fewer fds than it had clients: their sockets are elsewhere.
fn fewer_fds(server: &Server, baseline: usize, peak: usize, wait: &Wait) -> String {
    let others = super::idle::others(server);
    let elsewhere = if others > 0 {
        format!(
            "; {others} other process{} in its process group hold{} them: one process serves every client \
             with {}",
            if others == 1 { "" } else { "es" },
            if others == 1 { "s" } else { "" },
            wait.call
        )
    } else {
        String::new()
    };
    format!(
        "{baseline} fds were open before {COMERS} clients connected, and at most {peak} in the 3 s they stayed \
         connected: a server that serves them holds a socket for each (accept every client){elsewhere}"
    )
}

/// The server's open fds once their number has not changed for 200 ms (or after 2 s).
fn settled_fds(server: &Server) -> Result<Vec<(u32, String)>, String> {
    let by = deadline(Duration::from_secs(2));
    let mut fds = server.open_fds()?;
    let mut same = 0;
    while same < 10 && Instant::now() < by {
        std::thread::sleep(Duration::from_millis(20));
        let now = server.open_fds()?;
        same = if now.len() == fds.len() { same + 1 } else { 0 };
        fds = now;
    }
    Ok(fds)
}

/// `signals`: SIGINT, and SIGTERM, each end the server (with a client connected).
pub fn signals(submission: &Submission, wait: &Wait) -> Result<String, String> {
    let mut seen = Vec::new();
    for signal in [nix::sys::signal::Signal::SIGINT, nix::sys::signal::Signal::SIGTERM] {
        let mut server = Server::start(submission)?;
        let _client = Peer::connect("a client", server.addr, deadline(ECHO_WAIT))?;
        std::thread::sleep(Duration::from_millis(50));
        let sent = Instant::now();
        server.signal(signal)?;
        match server.wait_exit(Duration::from_secs(3)) {
            Some(status) => {
                seen.push(format!("{signal}: {} after {} ms", describe(status), sent.elapsed().as_millis()))
            }
            None => {
                return Err(format!(
                    "still running 3 s after {signal}: a handler that only sets a flag must make the loop \
                     notice it ({} fails with EINTR) and exit",
                    wait.call
                ))
            }
        }
    }
    Ok(seen.join("; "))
}
