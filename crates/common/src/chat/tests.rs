//! The room's own tests: real sockets on loopback, the room driven step by step.

use super::backpressure::{BEHIND, OUTPUT_LIMIT, STALL};
use super::*;
use std::io::BufRead;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// A room on loopback with `count` accepted clients; returns their ends and fds.
fn room_with(count: usize) -> (ChatRoom, Vec<(RawFd, std::io::BufReader<TcpStream>)>) {
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut room = ChatRoom::bind(loopback, loopback).unwrap();
    let listener = room.chat.as_raw_fd();
    let mut peers = Vec::new();
    for _ in 0..count {
        let peer = TcpStream::connect(room.chat_addr().unwrap()).unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let before = room.client_count();
        let deadline = Instant::now() + Duration::from_secs(5);
        while room.client_count() == before && Instant::now() < deadline {
            room.on_readable(listener);
        }
        // The new client's fd: the one not yet among the peers (not the highest: the
        // kernel hands out the lowest free number, and other tests open and close fds).
        let fd = *room.clients.keys().find(|fd| !peers.iter().any(|(p, _)| p == *fd)).unwrap();
        peers.push((fd, std::io::BufReader::new(peer)));
    }
    (room, peers)
}

/// Says `line` as the client on `fd` and lets the room read it.
fn say(
    room: &mut ChatRoom,
    peer: &mut std::io::BufReader<TcpStream>,
    fd: RawFd,
    line: &str,
) -> Vec<Happening> {
    peer.get_mut().write_all(format!("{line}\n").as_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let happened = room.on_readable(fd);
        if !happened.is_empty() || Instant::now() > deadline {
            return happened;
        }
    }
}

/// Flushes everything queued for `fd` and returns the lines its peer got.
fn lines_for(room: &mut ChatRoom, peer: &mut std::io::BufReader<TcpStream>, fd: RawFd) -> Vec<String> {
    let mut got = Vec::new();
    while room.clients.get(&fd).is_some_and(|c| !c.output.is_empty()) {
        room.on_writable(fd);
    }
    peer.get_mut().set_nonblocking(true).unwrap();
    let mut line = String::new();
    while peer.read_line(&mut line).is_ok_and(|n| n > 0) {
        got.push(line.trim_end().to_string());
        line.clear();
    }
    peer.get_mut().set_nonblocking(false).unwrap();
    got
}

#[test]
fn nicknames_must_be_valid_and_free() {
    let (mut room, mut peers) = room_with(2);
    let (fd1, fd2) = (peers[0].0, peers[1].0);
    say(&mut room, &mut peers[0].1, fd1, "/nick ann");
    say(&mut room, &mut peers[1].1, fd2, "/nick ann");
    say(&mut room, &mut peers[1].1, fd2, "/nick bad name!");
    say(&mut room, &mut peers[1].1, fd2, "/dance");
    say(&mut room, &mut peers[1].1, fd2, "/who");
    let got = lines_for(&mut room, &mut peers[1].1, fd2);
    assert_eq!(
        got,
        [
            "* you are guest2; commands: /nick NAME, /who, /quit",
            "* guest1 is now ann",
            "* nick \"ann\" refused: taken",
            "* nick \"bad name!\" refused: use 1-16 letters, digits, _ or -",
            "* unknown command /dance; commands: /nick NAME, /who, /quit",
            "* online (2): ann, guest2",
        ]
    );
    assert_eq!(room.counters.commands, 5);
}

#[test]
fn a_queue_past_the_limit_drops_its_client_and_tells_the_rest() {
    let (mut room, mut peers) = room_with(3);
    let (talker, sloth, reader) = (peers[0].0, peers[1].0, peers[2].0);
    // Never flush the sloth: queue lines for it until it is over the limit.
    let line = "x".repeat(400);
    let mut dropped = Vec::new();
    let mut reader_got = Vec::new();
    for _ in 0..(OUTPUT_LIMIT / 400 + 2) {
        // As if a second had passed since it fell behind: it has stalled.
        if let Some(since) = room.clients.get_mut(&sloth).and_then(|c| c.behind_since.as_mut()) {
            *since = Instant::now() - STALL;
        }
        for h in say(&mut room, &mut peers[0].1, talker, &line) {
            if h.event == "left" {
                dropped.push(h);
            }
        }
        reader_got.extend(lines_for(&mut room, &mut peers[2].1, reader));
    }
    assert!(reader_got.iter().any(|l| l == "* guest2 was disconnected (not reading)"), "{reader_got:?}");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].fd, sloth);
    assert!(!room.clients.contains_key(&sloth));
    assert_eq!(room.counters.slow_dropped, 1);
    // The room carries on for everyone else.
    say(&mut room, &mut peers[0].1, talker, "still here");
    let got = lines_for(&mut room, &mut peers[2].1, reader);
    assert_eq!(got.last().map(String::as_str), Some("<guest1> still here"));
}

#[test]
fn a_client_behind_holds_input_until_it_stalls_then_is_dropped() {
    let (mut room, mut peers) = room_with(2);
    let (talker, behind) = (peers[0].0, peers[1].0);
    let line = "y".repeat(400);
    // Never flushed: past BEHIND, the room stops reading anyone's input.
    while room.clients[&behind].output.len() <= BEHIND {
        say(&mut room, &mut peers[0].1, talker, &line);
    }
    assert!(room.holding_input());
    assert!(room.watch_list().iter().all(|w| !w.read || w.fd.as_raw_fd() <= room.stats.as_raw_fd()));
    let cut = room.wait_timeout(Duration::from_secs(10));
    assert!(cut <= STALL + Duration::from_millis(1), "{cut:?}");
    // Behind but not stalled: past OUTPUT_LIMIT it is kept (a burst, not a dead reader).
    while room.clients[&behind].output.len() <= OUTPUT_LIMIT {
        say(&mut room, &mut peers[0].1, talker, &line);
    }
    assert!(room.clients.contains_key(&behind));
    // Once it has been behind for STALL, it holds nobody up, and the next line drops it.
    room.clients.get_mut(&behind).unwrap().behind_since = Some(Instant::now() - STALL);
    assert!(!room.holding_input());
    assert_eq!(room.wait_timeout(Duration::from_secs(10)), Duration::from_secs(10));
    let happened = say(&mut room, &mut peers[0].1, talker, &line);
    assert!(happened.iter().any(|h| h.event == "left" && h.fd == behind), "{happened:?}");
    assert_eq!(room.counters.slow_dropped, 1);
}

#[test]
fn catching_up_ends_the_hold() {
    let (mut room, mut peers) = room_with(2);
    let (talker, reader) = (peers[0].0, peers[1].0);
    let line = "z".repeat(400);
    let mut held = Vec::new();
    while room.clients[&reader].output.len() <= BEHIND {
        held.extend(say(&mut room, &mut peers[0].1, talker, &line).into_iter().filter(|h| h.event == "held"));
    }
    assert_eq!(held.len(), 1, "one held event when it falls behind: {held:?}");
    assert_eq!(held[0].fd, reader);
    assert!(room.holding_input());
    let mut caught_up = Vec::new();
    while room.clients[&reader].output.len() > BEHIND {
        caught_up.extend(room.on_writable(reader).into_iter().filter(|h| h.event == "caught_up"));
    }
    assert_eq!(caught_up.len(), 1, "{caught_up:?}");
    let got = lines_for(&mut room, &mut peers[1].1, reader);
    assert!(got.len() > BEHIND / 400, "{}", got.len());
    assert!(!room.holding_input());
    assert!(room.clients[&reader].behind_since.is_none());
}

#[test]
fn the_before_close_hook_sees_a_leaving_client_fd_while_it_is_still_open() {
    let (mut room, mut peers) = room_with(2);
    let (gone, stays) = (peers[0].0, peers[1].0);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let record = seen.clone();
    room.before_close(Box::new(move |fd| {
        let open = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok();
        record.borrow_mut().push((fd.as_raw_fd(), open));
        None
    }));
    let (_, peer) = peers.remove(0);
    drop(peer);
    let deadline = Instant::now() + Duration::from_secs(5);
    while room.kind(gone).is_some() && Instant::now() < deadline {
        room.on_readable(gone);
    }
    assert_eq!(*seen.borrow(), [(gone, true)]);
    assert_eq!(room.kind(stays), Some(Kind::Client));
}

/// take_changes: everything the first time, then only the clients a turn touched: a
/// command only its sender hears touches the sender alone, whatever the crowd.
#[test]
fn take_changes_names_only_the_clients_a_turn_touched() {
    let (mut room, mut peers) = room_with(5);
    assert_eq!(room.take_changes(), Changes::All);
    for (fd, peer) in peers.iter_mut() {
        lines_for(&mut room, peer, *fd); // welcomes and join notices written out
    }
    room.take_changes();
    assert_eq!(room.take_changes(), Changes::Only(vec![]), "an idle turn touches nobody");
    let (asker, peer) = &mut peers[2];
    let asker = *asker;
    say(&mut room, peer, asker, "/x");
    assert_eq!(room.take_changes(), Changes::Only(vec![asker]), "the reply is queued for the asker only");
    assert!(room.watch_of(asker).is_some_and(|w| w.read && w.write));
    lines_for(&mut room, peer, asker);
    assert_eq!(room.take_changes(), Changes::Only(vec![asker]), "its queue emptied");
    assert!(room.watch_of(asker).is_some_and(|w| w.read && !w.write));
}
