//! poll-echo-check: marks lab 1 (an echo server for many clients) from outside.
//!
//! `just lab poll-echo` marks the starter crate, `just lab poll-echo --solution` the
//! reference, `just lab poll-echo -- ./a.out` any program. The program is started as
//! `PROGRAM --listen 127.0.0.1:0` for each check, must print `listening on IP:PORT` as
//! its first stdout line, and is then judged only by what real TCP clients on loopback
//! see: exact bytes back, who gets served while whom is connected, what survives a
//! reset, what /proc/PID/fd says. The assignment is `labs/01-poll-echo/README.md`.

mod peer;

use lab_marking::lab_server::{describe, Server};
use lab_marking::marking::{Lab, Submission};
use peer::Peer;
use std::time::{Duration, Instant};

const LAB: Lab = Lab {
    name: "poll-echo",
    folder: "01-poll-echo",
    title: "an echo server for many clients at once, with poll()",
};

/// How long one expected echo may take (generous: the machine may be busy).
const ECHO_WAIT: Duration = Duration::from_secs(2);

/// Clients connected at once in `many-clients`.
const CROWD: usize = 50;

/// Clients that come and go in `no-fd-leak`.
const COMERS: usize = 20;

fn main() -> std::process::ExitCode {
    lab_marking::marking::main(LAB, |submission, marking| {
        let started = marking.check("starts", 1, || starts(submission));
        let gate =
            if started { None } else { Some("not run: the server did not start (see `starts` above)") };
        marking.check_unless(gate, "echo", 2, || echo(submission));
        marking.check_unless(gate, "many-clients", 3, || many_clients(submission));
        let idle = if started { Some(idle_crowd(submission)) } else { None };
        let (one, calm) = match idle {
            Some(Ok(seen)) => (seen.one_thread(), seen.no_busy_wait()),
            Some(Err(why)) => (Err(why.clone()), Err(why)),
            None => (Err(String::new()), Err(String::new())),
        };
        marking.check_unless(gate, "one-thread", 2, || one);
        marking.check_unless(gate, "no-busy-wait", 2, || calm);
        marking.check_unless(gate, "slow-client", 3, || slow_client(submission));
        marking.check_unless(gate, "non-reader", 2, || non_reader(submission));
        marking.check_unless(gate, "disconnects", 2, || disconnects(submission));
        marking.check_unless(gate, "no-fd-leak", 2, || no_fd_leak(submission));
        marking.check_unless(gate, "signals", 1, || signals(submission));
    })
}

fn deadline(from_now: Duration) -> Instant {
    Instant::now() + from_now
}

/// `starts`: runs, prints `listening on IP:PORT` first, accepts a connection.
fn starts(submission: &Submission) -> Result<String, String> {
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
fn echo(submission: &Submission) -> Result<String, String> {
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
    Ok("6 sends (one line; two lines in one write; a line in two writes; a 20000-byte line, at once and in 5 \
        parts; a last part with no newline, then end of file) came back byte for byte"
        .into())
}

/// `many-clients`: 50 clients connected at once, each echoed, twice, in different orders.
///
/// They connect one after another, each waiting for its greeting's echo before the
/// next connects: a correct server with a small listen backlog (`listen(fd, 5)`, as
/// Python and many textbooks have it) is never shown a full accept queue, so its
/// clients are not left in SYN retransmission for a second and more.
fn many_clients(submission: &Submission) -> Result<String, String> {
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
        return Err(crowd_failure(&mut clients, &missing, &line));
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
                "client {} received client {owner}'s line {:?}: echoes go to the wrong client \
                 (is the index into your pollfd array off by one?)",
                i + 1,
                line(1, owner).trim_end()
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

/// Clients in `one-thread` and `no-busy-wait`.
const IDLE_CROWD: usize = 10;

/// What the server looked like from outside while [`IDLE_CROWD`] clients sat
/// connected and idle (each echoed once; one holding half a line).
struct IdleCrowd {
    /// The most threads /proc/PID/task showed.
    threads: usize,
    /// The most child processes /proc/PID/task/*/children showed.
    children: usize,
    /// How it spent the idle second.
    idle: Idle,
}

/// A server watched from outside while nothing happens.
struct Idle {
    /// The blocking calls it was seen asleep in (main thread), and how often.
    asleep_in: Vec<(String, u32)>,
    /// Looks at /proc/PID/stat, and how many found it running rather than asleep.
    looks: u32,
    running: u32,
    /// CPU time used meanwhile.
    cpu: Option<Duration>,
    /// The most threads and child processes seen.
    threads: usize,
    children: usize,
}

impl Idle {
    /// Running (state R) in most looks, and measurable CPU: a loaded machine can
    /// starve a spinner of CPU, but it still shows as runnable, never as asleep.
    fn spinning(&self) -> bool {
        self.running * 2 > self.looks && self.cpu.is_none_or(|c| c >= Duration::from_millis(50))
    }

    fn cpu_shown(&self) -> String {
        self.cpu.map_or_else(|| "?".to_string(), |c| format!("{:.2} s", c.as_secs_f64()))
    }
}

/// Looks at the server every 20 ms for `span`: asleep or running, in which call,
/// how many threads and children, and the CPU it used.
fn watch_idle(server: &Server, span: Duration) -> Idle {
    let mut idle = Idle { asleep_in: Vec::new(), looks: 0, running: 0, cpu: None, threads: 0, children: 0 };
    let before = server.cpu_time();
    let until = Instant::now() + span;
    while Instant::now() < until {
        idle.looks += 1;
        if process_state(server.pid()) == Some('R') {
            idle.running += 1;
        }
        if let Some(call) = server.waiting_in() {
            match idle.asleep_in.iter_mut().find(|(c, _)| *c == call) {
                Some((_, n)) => *n += 1,
                None => idle.asleep_in.push((call, 1)),
            }
        }
        idle.threads = idle.threads.max(server.threads().unwrap_or(0));
        idle.children = idle.children.max(server.children().len());
        std::thread::sleep(Duration::from_millis(20));
    }
    idle.cpu = server.cpu_time().zip(before).map(|(after, before)| after.saturating_sub(before));
    idle
}

/// How long the crowd sits idle while the server is watched.
const IDLE_FOR: Duration = Duration::from_millis(1000);

/// Connects [`IDLE_CROWD`] clients, has each echoed once, leaves one on half a line,
/// then watches the server for [`IDLE_FOR`] while nobody sends anything.
fn idle_crowd(submission: &Submission) -> Result<IdleCrowd, String> {
    let server = Server::start(submission)?;
    let mut clients = Vec::with_capacity(IDLE_CROWD);
    let (mut threads, mut children) = (0, 0);
    for i in 1..=IDLE_CROWD {
        let mut client = Peer::connect(&format!("client {i}"), server.addr, deadline(ECHO_WAIT))?;
        let hello = format!("client {i} is here\n");
        client.send(hello.as_bytes())?;
        client.expect(hello.as_bytes(), deadline(ECHO_WAIT)).map_err(|e| format!("not judged: {e}"))?;
        threads = threads.max(server.threads()?);
        children = children.max(server.children().len());
        clients.push(client);
    }
    clients[0].send(b"half a li")?;
    std::thread::sleep(Duration::from_millis(100));
    let idle = watch_idle(&server, IDLE_FOR);
    let seen = IdleCrowd { threads: threads.max(idle.threads), children: children.max(idle.children), idle };
    drop(clients);
    Ok(seen)
}

/// The state letter in /proc/PID/stat: R running (or waiting for a CPU), S asleep...
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

impl IdleCrowd {
    /// `one-thread`: one process, one thread, asleep in poll().
    fn one_thread(&self) -> Result<String, String> {
        if self.children > 0 {
            return Err(format!(
                "while {IDLE_CROWD} clients were connected, the server had {} child process{} \
                 (/proc/PID/task/*/children): the lab asks for one process serving every client with \
                 poll(), not a process per client",
                self.children,
                if self.children == 1 { "" } else { "es" }
            ));
        }
        if self.threads > 1 {
            return Err(format!(
                "while {IDLE_CROWD} clients were connected, the server had {} threads (/proc/PID/task): \
                 the lab asks for one thread serving every client with poll(), not a thread per client \
                 (or a pool)",
                self.threads
            ));
        }
        let other: Vec<String> = self
            .idle
            .asleep_in
            .iter()
            .filter(|(call, _)| call != "poll" && call != "ppoll")
            .map(|(call, n)| format!("{call} ({n} times)"))
            .collect();
        if !other.is_empty() {
            return Err(format!(
                "with {IDLE_CROWD} clients connected and idle, the server was seen asleep in {} \
                 (/proc/PID/syscall): the lab asks for poll() (or ppoll()) as the one place it waits",
                other.join(", ")
            ));
        }
        let polls: u32 = self.idle.asleep_in.iter().map(|(_, n)| n).sum();
        Ok(format!(
            "one process, one thread, while {IDLE_CROWD} clients were connected; asleep in poll() {polls} of {} looks",
            self.idle.looks
        ))
    }

    /// `no-busy-wait`: idle clients cost no CPU.
    fn no_busy_wait(&self) -> Result<String, String> {
        let idle = &self.idle;
        if idle.spinning() {
            return Err(format!(
                "with {IDLE_CROWD} clients connected and idle, the server was running, not asleep, in {} of \
                 {} looks at /proc/PID/stat, and used {} of CPU in {:.1} s: it is spinning, its wait \
                 returns at once over and over. The usual cause: asking for POLLOUT on a client with \
                 nothing to send (a socket is almost always writable)",
                idle.running,
                idle.looks,
                idle.cpu_shown(),
                IDLE_FOR.as_secs_f64()
            ));
        }
        Ok(format!(
            "asleep in {} of {} looks while {IDLE_CROWD} clients sat idle; {} of CPU in {:.1} s",
            idle.looks - idle.running,
            idle.looks,
            idle.cpu_shown(),
            IDLE_FOR.as_secs_f64()
        ))
    }
}

/// `non-reader`: a client that sends a lot and never reads its echoes, and stays
/// connected, holds up nobody: writes to it wait for POLLOUT instead of blocking.
fn non_reader(submission: &Submission) -> Result<String, String> {
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
                 and ask for POLLOUT)"
            ),
            Some(call) => format!("{why_stuck}; then {e} (the server was asleep in {call}())"),
            None => format!("{why_stuck}; then {e}"),
        }
    })?;
    b.send(b"B again\n")?;
    b.expect(b"B again\n", deadline(ECHO_WAIT)).map_err(|e| format!("{why_stuck}; then {e}"))?;
    server.alive()?;
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

/// `slow-client`: a client that sends half a line and stalls, and one that sends
/// nothing, hold up nobody; the half line is completed later and echoed whole.
fn slow_client(submission: &Submission) -> Result<String, String> {
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
fn disconnects(submission: &Submission) -> Result<String, String> {
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
    // Idle now: a server that left a dead client in its pollfd array gets POLLHUP or
    // POLLERR (or POLLIN with end of file) for it on every poll(), at once, forever.
    let idle = watch_idle(&server, Duration::from_millis(600));
    if idle.spinning() {
        return Err(format!(
            "with every client gone, the server was running, not asleep, in {} of {} looks at /proc/PID/stat \
             and used {} of CPU in 0.6 s: it is spinning, its wait returns at once over and over. The usual \
             cause after clients left: a closed client still in the pollfd array (end of file, POLLHUP or \
             POLLERR not handled)",
            idle.running,
            idle.looks,
            idle.cpu_shown()
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
fn no_fd_leak(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let baseline = server.open_fds()?;
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
    let by = deadline(Duration::from_secs(1));
    let mut peak = baseline.len();
    while Instant::now() < by {
        peak = peak.max(server.open_fds()?.len());
        if peak >= baseline.len() + COMERS {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
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
             read() = 0, read() < 0, POLLHUP, POLLERR). Extra fds: {}",
            baseline.len(),
            peak,
            after.len(),
            shorten(&extra)
        ));
    }
    Ok(format!(
        "{} fds before, {peak} while {COMERS} clients were connected, {} after they left (by FIN, RST, mid-line)",
        baseline.len(),
        after.len()
    ))
}

/// `signals`: SIGINT, and SIGTERM, each end the server (with a client connected).
fn signals(submission: &Submission) -> Result<String, String> {
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
                     notice it (poll() fails with EINTR) and exit"
                ))
            }
        }
    }
    Ok(seen.join("; "))
}

/// The first five items, then how many more.
fn shorten(items: &[String]) -> String {
    if items.len() <= 5 {
        return items.join(", ");
    }
    format!("{}, and {} more", items[..5].join(", "), items.len() - 5)
}
