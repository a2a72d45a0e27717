//! This lab's own checks: what edge-triggered epoll asks of a server beyond lab 1.
//!
//! Each judges from outside. `edge-triggered` reads the kernel's copy of the interest
//! list; the three `drains-*` checks make the situations where an edge-triggered server
//! that does only part of the work it was woken for is never woken again for the rest,
//! and when a client is left waiting, say where the work is stuck from what the kernel
//! shows: bytes unread in the server's socket, connections unaccepted in its listen
//! queue (/proc/net/tcp), and what the server is doing meanwhile (/proc/PID/syscall).

use crate::kernel::{self, EPOLLET, EPOLLOUT};
use lab_marking::echo::idle::watch_idle;
use lab_marking::echo::peer::Peer;
use lab_marking::echo::{deadline, ECHO_WAIT};
use lab_marking::lab_server::Server;
use lab_marking::marking::Submission;
use std::collections::HashMap;
use std::time::Duration;

/// `drains-reads`: the burst one client sends in one go, far more than one read takes.
const BURST: usize = 256 * 1024;

/// `drains-accept`: clients that connect at once, in each round (a listen backlog of 5
/// holds 6), and the most rounds.
const AT_ONCE: usize = 6;
const ROUNDS: usize = 10;

/// `drains-writes`: the most a client sends without reading.
const FLOOD: usize = 32 * 1024 * 1024;

/// How long no byte may move before a client counts as stranded.
const STALL: Duration = Duration::from_secs(2);

/// Bytes that show where they were cut or repeated: numbered lines.
fn pattern(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("line {i:08} of the burst, echoed byte for byte\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// A connected client, echoed once (so the server has accepted and registered it).
fn greeted(label: &str, server: &Server) -> Result<Peer, String> {
    let mut client = Peer::connect(label, server.addr, deadline(ECHO_WAIT))?;
    let hello = format!("{label} says hello\n");
    client.send(hello.as_bytes())?;
    client.expect(hello.as_bytes(), deadline(ECHO_WAIT)).map_err(|e| format!("not judged: {e}"))?;
    Ok(client)
}

/// What the server is doing, watched for 300 ms: "slept in epoll_wait()", or "was
/// running, not asleep, in 14 of 15 looks", and whether it was asleep in the wait call.
fn doing(server: &Server) -> (String, bool) {
    let seen = watch_idle(server, Duration::from_millis(300));
    if seen.spinning() {
        return (
            format!("was running, not asleep, in {} of {} looks at /proc/PID/stat", seen.running, seen.looks),
            false,
        );
    }
    match seen.asleep_in.iter().max_by_key(|(_, n)| *n) {
        Some((call, _)) => {
            let waiting = call.starts_with("epoll_");
            (format!("slept in {call}()"), waiting)
        }
        None => ("could not be seen (/proc/PID/syscall)".into(), false),
    }
}

/// `edge-triggered`: the listener and every client socket are in an epoll interest
/// list with EPOLLET, as the kernel holds it (/proc/PID/fdinfo of each epoll fd).
pub fn edge_triggered(submission: &Submission) -> Result<String, String> {
    let server = Server::start(submission)?;
    // Up to 3 clients, each echoed (so accepted and registered); as many as are served.
    let mut clients = Vec::new();
    for i in 1..=3 {
        match greeted(&format!("client {i}"), &server) {
            Ok(client) => clients.push(client),
            Err(why) if clients.is_empty() => return Err(why),
            Err(_) => break,
        }
    }
    let connected = match clients.len() {
        1 => "1 client was connected (and echoed)".to_string(),
        n => format!("{n} clients were connected (each echoed)"),
    };
    let pid = server.pid();
    let (fds, epolls) = kernel::fds(pid)?;
    if epolls.is_empty() {
        return Err(format!(
            "while {connected}, none of the server's {} fds was an epoll instance \
             (anon_inode:[eventpoll] in /proc/PID/fd): the lab asks for epoll_create1() and every socket \
             registered on it with EPOLLET",
            fds.len()
        ));
    }
    let mut registered: HashMap<u64, u32> = HashMap::new();
    for &epfd in &epolls {
        registered.extend(kernel::interest_list(pid, epfd)?);
    }
    let port = server.addr.port();
    let mut judged = vec![("the listening socket".to_string(), kernel::listener(port)?.inode)];
    for client in &clients {
        let end = kernel::server_end(port, client.local_port())
            .ok_or_else(|| format!("{}'s connection is not in /proc/net/tcp", client.label))?;
        judged.push((format!("{}'s socket", client.label), end.inode));
    }
    let epolls_shown: Vec<String> = epolls.iter().map(u32::to_string).collect();
    let mut masks = Vec::new();
    for (what, inode) in &judged {
        let shown = match fds.iter().find(|f| f.socket_inode == Some(*inode)) {
            Some(f) => format!("{what} (fd {})", f.fd),
            None => what.clone(),
        };
        match registered.get(inode) {
            None => {
                return Err(format!(
                "{shown} is in no epoll interest list (/proc/PID/fdinfo of epoll fd {}): the lab asks for \
                     the listener and every client registered with EPOLLET",
                epolls_shown.join(", ")
            ))
            }
            Some(&events) if events & EPOLLET == 0 => {
                return Err(format!(
                    "{shown} is registered with {} ({events:#x}), without EPOLLET ({EPOLLET:#x}): it is \
                     level-triggered. The lab asks for EPOLLET on the listener and on every client",
                    kernel::flag_names(events)
                ))
            }
            Some(&events) => masks.push(kernel::flag_names(events)),
        }
    }
    let mut clients_masks = masks.split_off(1);
    clients_masks.dedup();
    Ok(format!(
        "epoll fd {} holds the listener ({}) and the {} clients' sockets ({}), all with EPOLLET",
        epolls_shown.join(", "),
        masks.join(""),
        clients.len(),
        clients_masks.join(" / ")
    ))
}

/// `drains-reads`: one client sends [`BURST`] bytes in one go, reading its echoes
/// meanwhile, then sends nothing more: every byte must come back.
pub fn drains_reads(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let mut client = greeted("the client", &server)?;
    let data = pattern(BURST);
    let (sent, send_stalled) = client.push(&data, true, STALL, Duration::from_secs(10));
    let (got, stalled) = client.collect(sent, STALL, Duration::from_secs(10));
    server.alive()?;
    if got >= BURST {
        same_bytes(&client, &data)?;
        return Ok(format!(
            "a burst of {BURST} bytes, sent in one go and nothing after it, came back byte for byte"
        ));
    }
    let what = match (sent < BURST, send_stalled) {
        (true, true) => format!(
            "the client could send only {sent} of its {BURST}-byte burst (the server took no more for {} s); \
             {got} bytes came back",
            STALL.as_secs()
        ),
        (true, false) => {
            format!("the client sent only {sent} of its {BURST}-byte burst in 10 s; {got} bytes came back")
        }
        _ => format!("the client sent {BURST} bytes in one go and then nothing more; {got} came back"),
    };
    Err(stranded(&server, &client, &what, &data, got, stalled))
}

/// `drains-accept`: [`AT_ONCE`] clients connect together, none sending until all have
/// connected; then each sends a line and must get it back. Up to [`ROUNDS`] times.
pub fn drains_accept(submission: &Submission) -> Result<String, String> {
    let server = Server::start(submission)?;
    let port = server.addr.port();
    for round in 1..=ROUNDS {
        let mut crowd = Vec::with_capacity(AT_ONCE);
        for i in 1..=AT_ONCE {
            crowd.push(Peer::connect(
                &format!("client {i} of round {round}"),
                server.addr,
                deadline(ECHO_WAIT),
            )?);
        }
        let line = |i: usize| format!("round {round}, client {i}\n");
        for (i, client) in crowd.iter_mut().enumerate() {
            client.send(line(i + 1).as_bytes())?;
        }
        let by = deadline(ECHO_WAIT);
        let mut missing = Vec::new();
        for (i, client) in crowd.iter_mut().enumerate() {
            if let Err(why) = client.expect(line(i + 1).as_bytes(), by) {
                missing.push(why);
            }
        }
        if let Some(first) = missing.first() {
            let queued = kernel::listener(port).map(|l| l.rx_queue).unwrap_or(0);
            let (doing, waiting) = doing(&server);
            let what = format!(
                "in round {round}, {AT_ONCE} clients connected one right after another, none sending until all \
                 had, then each sent a line; {} of them did not get it back within {} s",
                missing.len(),
                ECHO_WAIT.as_secs()
            );
            return Err(if queued > 0 {
                format!(
                    "{what}, and {queued} connection{} still waited in the listen queue, not accepted \
                     (/proc/net/tcp), while the server {doing}{}. First: {first}",
                    if queued == 1 { "" } else { "s" },
                    if waiting {
                        ". With EPOLLET the listener is reported once for all the connections that arrived \
                         together: accept until accept() fails with EAGAIN"
                    } else {
                        ""
                    }
                )
            } else {
                format!("{what}, though none waited in the listen queue (all were accepted); the server {doing}. First: {first}")
            });
        }
        for client in crowd {
            client.close();
        }
    }
    Ok(format!(
        "{ROUNDS} rounds of {AT_ONCE} clients connecting in a quick burst: every one accepted and echoed"
    ))
}

/// `drains-writes`: a client sends without reading until the server takes no more
/// (its echoes fill the client's socket, the server's writes fail with EAGAIN), then
/// reads, sending nothing more: every byte must come back.
pub fn drains_writes(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let mut client = greeted("the client", &server)?;
    let data = pattern(FLOOD);
    let (sent, stuck) = client.push(&data, false, Duration::from_millis(300), Duration::from_secs(3));
    if stuck {
        still_edge_triggered(&server, &client)?;
    }
    let (got, stalled) = client.collect(sent, STALL, Duration::from_secs(15));
    server.alive()?;
    let how = match (stuck, sent < FLOOD) {
        (true, _) => "until the server took no more",
        (false, true) => "for 3 s (the server was still taking more)",
        (false, false) => "(the server took it all)",
    };
    if got >= sent {
        same_bytes(&client, &data[..sent])?;
        return Ok(format!(
            "the client sent {sent} bytes without reading {how}, then read: all of them came back, byte for byte"
        ));
    }
    let what = format!("the client sent {sent} bytes without reading {how}, then only read; {got} came back");
    Err(stranded(&server, &client, &what, &data, got, stalled))
}

/// While the client's echo waits for room, its socket is still registered with
/// EPOLLET: EPOLL_CTL_MOD replaces the whole mask, and a MOD that adds EPOLLOUT but
/// leaves EPOLLET out turns the socket level-triggered (and spinning) just here.
fn still_edge_triggered(server: &Server, client: &Peer) -> Result<(), String> {
    let Some(end) = kernel::server_end(server.addr.port(), client.local_port()) else { return Ok(()) };
    match registration(server, end.inode) {
        Some(events) if events & EPOLLET == 0 => Err(format!(
            "while the client did not read (the server's writes to it failing with EAGAIN), its socket was \
             registered with {} ({events:#x}), without EPOLLET ({EPOLLET:#x}): level-triggered. \
             EPOLL_CTL_MOD replaces the whole mask: keep EPOLLET in it when adding EPOLLOUT",
            kernel::flag_names(events)
        )),
        _ => Ok(()),
    }
}

/// The event mask the socket with `inode` is registered with, in any of the server's
/// epoll instances.
fn registration(server: &Server, inode: u64) -> Option<u32> {
    let (_, epolls) = kernel::fds(server.pid()).ok()?;
    epolls.iter().find_map(|&epfd| kernel::interest_list(server.pid(), epfd).ok()?.get(&inode).copied())
}

/// The received bytes are the sent ones, in order.
fn same_bytes(client: &Peer, data: &[u8]) -> Result<(), String> {
    let got = &client.unexpected()[..data.len().min(client.unexpected().len())];
    match got.iter().zip(data).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(at) => Err(format!(
            "the echo differs from what was sent at byte {at} (of {}): bytes lost, repeated or reordered",
            data.len()
        )),
    }
}

/// Why a client got only part of its echo, from where the bytes are: unread in the
/// server's socket, or read and not written back.
fn stranded(server: &Server, client: &Peer, what: &str, data: &[u8], got: usize, stalled: bool) -> String {
    if let Some(how) = client.ended() {
        return format!("{what}, then {how}");
    }
    if let Err(mismatch) = same_bytes(client, &data[..got.min(data.len())]) {
        return format!("{what}: {mismatch}");
    }
    let end = kernel::server_end(server.addr.port(), client.local_port());
    let (doing, waiting) = doing(server);
    let quiet = if stalled {
        format!("then nothing for {} s", STALL.as_secs())
    } else {
        "then the time was up (the echo still trickling in)".to_string()
    };
    match end {
        Some(end) if end.rx_queue > 0 && waiting && registration(server, end.inode).is_some_and(|e| e & EPOLLOUT == 0) => format!(
            "{what}, {quiet}, while {} bytes sat unread in the server's socket (/proc/net/tcp) and the server \
             {doing}: that socket is registered for {}, without EPOLLOUT, so \
             once a write finds the client's socket full, no edge can say when there is room again. Register \
             EPOLLOUT (for good, or with EPOLL_CTL_MOD when a write fails with EAGAIN); on its edge, write \
             what is queued, then read on until EAGAIN (bytes already waiting bring no new EPOLLIN edge)",
            end.rx_queue,
            registration(server, end.inode).map_or_else(String::new, kernel::flag_names)
        ),
        Some(end) if end.rx_queue > 0 => format!(
            "{what}, {quiet}, while {} bytes sat unread in the server's socket (/proc/net/tcp) and the server \
             {doing}{}",
            end.rx_queue,
            if waiting {
                ". With EPOLLET, epoll reports a socket when new bytes arrive, \
                 not while bytes are left: read until read() fails with EAGAIN. (A server that stops reading \
                 while its echo waits must, once EPOLLOUT's edge lets it write, go on reading: bytes already \
                 there bring no new edge)"
            } else {
                ""
            }
        ),
        Some(_) => format!(
            "{what}, {quiet}, though the server had read every byte (none unread in its socket, /proc/net/tcp): \
             it holds the rest and is not writing it, and it {doing}{}",
            if waiting {
                ". With EPOLLET, write until the queue is empty or write() fails with EAGAIN, and register \
                 EPOLLOUT: its edge says when there is room again"
            } else {
                ""
            }
        ),
        None => format!("{what}, {quiet}; the server {doing} (its end of the connection is not in /proc/net/tcp)"),
    }
}
