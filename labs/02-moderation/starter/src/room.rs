//! The chat room: clients, nicknames and commands. Nothing here waits: `main.rs` asks
//! [`Room::watch_list`] what to select() on, then calls [`Room::on_readable`] and
//! [`Room::on_writable`] for each ready fd. Every socket is non-blocking.
//!
//! The protocol (README: "The base protocol"): a new client is `guest<N>`; `/nick NAME`
//! renames, `/who` lists, `/quit` leaves; everyone else sees `<nick> text`, `* nick
//! joined`, `* nick left`. Lines over 512 bytes are cut, and control characters and
//! terminal escapes are stripped before anything is relayed (`common::chat::line`).
//!
//! Messages to a client are never written straight to its socket: a write to a client
//! that stopped reading would block the whole server once its socket buffer filled. So
//! each client has an output queue, flushed when select() says the socket is writable,
//! and a client that falls more than [`OUTPUT_LIMIT`] behind is disconnected.

use common::chat::line::{clean_line, LineBuffer};
use common::{Context, Result};
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// What a new client is told, after its name. (Keep this line as it is: the checker
/// compares it.)
pub const COMMANDS: &str = "commands: /nick NAME, /who, /quit";

/// Most bytes queued for one client before it counts as "not reading".
const OUTPUT_LIMIT: usize = 64 * 1024;

/// select() watches fds 0..1023 only (nix's FdSet panics past that): refuse the rest.
const FD_SETSIZE: RawFd = 1024;

/// One connected client.
struct Client {
    stream: TcpStream,
    /// Its address and port, as accept() gave them (`peer.ip()` is its IP address).
    peer: SocketAddr,
    nick: String,
    /// The unfinished line between reads.
    input: LineBuffer,
    /// Bytes waiting for the socket to become writable.
    output: Vec<u8>,
    /// Said goodbye: read no more, close once `output` is written.
    leaving: bool,
}

/// One fd for select() to watch, and for what.
pub struct Watch<'a> {
    pub fd: BorrowedFd<'a>,
    pub read: bool,
    pub write: bool,
}

/// The server's state.
pub struct Room {
    listener: TcpListener,
    /// Clients by fd (a BTreeMap, so notices go out in a fixed order).
    clients: BTreeMap<RawFd, Client>,
    next_guest: u64,
    // TODO: who the operator is (the first client to connect, for as long as it stays),
    // and the banned IP addresses.
}

impl Room {
    /// Listens on `addr`, non-blocking so that accept() never stalls the loop.
    pub fn bind(addr: SocketAddr) -> Result<Room> {
        let listener = TcpListener::bind(addr).with_context(|| format!("bind {addr}"))?;
        listener.set_nonblocking(true).context("set O_NONBLOCK on the listener")?;
        Ok(Room { listener, clients: BTreeMap::new(), next_guest: 1 })
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().context("getsockname")
    }

    /// What to select() on: the listener and clients for reading (unless leaving),
    /// clients for writing only while they have output queued (an idle socket is
    /// always writable: asking anyway would make select() return at once, forever).
    pub fn watch_list(&self) -> Vec<Watch<'_>> {
        let mut list = vec![Watch { fd: self.listener.as_fd(), read: true, write: false }];
        for client in self.clients.values() {
            list.push(Watch {
                fd: client.stream.as_fd(),
                read: !client.leaving,
                write: !client.output.is_empty(),
            });
        }
        list
    }

    /// `fd` is readable: a new connection on the listener, or data (or EOF) from a client.
    pub fn on_readable(&mut self, fd: RawFd) {
        if fd == self.listener.as_raw_fd() {
            self.accept_all();
        } else {
            self.read_client(fd);
        }
    }

    /// `fd` is writable: write what the socket takes of its queue.
    pub fn on_writable(&mut self, fd: RawFd) {
        let Some(client) = self.clients.get_mut(&fd) else { return };
        match client.stream.write(&client.output) {
            Ok(n) => {
                client.output.drain(..n);
                if client.output.is_empty() && client.leaving {
                    self.remove(fd, "said goodbye");
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(e) => self.remove(fd, &format!("write: {e}")),
        }
    }

    fn accept_all(&mut self) {
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    println!("accept: {e}");
                    return;
                }
            };
            let fd = stream.as_raw_fd();
            if fd >= FD_SETSIZE {
                let _ = (&stream).write(b"* sorry, server full\n");
                println!("fd {fd}: {peer} refused: select() cannot watch fds past {}", FD_SETSIZE - 1);
                continue; // dropping `stream` closes it
            }
            // TODO: a client whose IP address is banned is told so and closed here,
            // before it joins: no guest number, no join notice.
            if let Err(e) = stream.set_nonblocking(true) {
                println!("fd {fd}: {peer}: cannot set O_NONBLOCK ({e}); closed");
                continue;
            }
            let nick = format!("guest{}", self.next_guest);
            self.next_guest += 1;
            // TODO: the first client to connect becomes the operator.
            println!("fd {fd}: {peer} joined as {nick}");
            self.broadcast(None, &format!("* {nick} joined"));
            let client = Client {
                stream,
                peer,
                nick: nick.clone(),
                input: LineBuffer::default(),
                output: Vec::new(),
                leaving: false,
            };
            self.clients.insert(fd, client);
            self.tell(fd, &format!("* you are {nick}; {COMMANDS}"));
        }
    }

    fn read_client(&mut self, fd: RawFd) {
        let Some(client) = self.clients.get_mut(&fd) else { return };
        // One read() per wake-up: select() is level-triggered, so anything left is
        // reported again at once, and one flooding client cannot starve the rest.
        let mut buf = [0u8; 4096];
        let n = match client.stream.read(&mut buf) {
            Ok(0) => return self.remove(fd, "closed the connection"),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return,
            Err(e) => return self.remove(fd, &format!("read: {e}")),
        };
        for raw in client.input.push(&buf[..n]) {
            let clean = clean_line(&raw.bytes);
            self.handle_line(fd, clean.text.trim());
            if self.clients.get(&fd).is_none_or(|c| c.leaving) {
                break; // it quit (or was dropped): the rest of its input is moot
            }
        }
    }

    fn handle_line(&mut self, fd: RawFd, text: &str) {
        let Some(nick) = self.clients.get(&fd).map(|c| c.nick.clone()) else { return };
        if text.is_empty() {
            return;
        }
        if !text.starts_with('/') {
            self.broadcast(Some(fd), &format!("<{nick}> {text}"));
            return;
        }
        let (command, arg) = text.split_once(' ').map_or((text, ""), |(c, a)| (c, a.trim()));
        match command {
            "/nick" => match self.rename(fd, arg) {
                Ok(old) => self.broadcast(None, &format!("* {old} is now {arg}")),
                Err(why) => self.tell(fd, &format!("* nick {arg:?} refused: {why}")),
            },
            "/who" => {
                let names: Vec<&str> =
                    self.clients.values().filter(|c| !c.leaving).map(|c| c.nick.as_str()).collect();
                let line = format!("* online ({}): {}", names.len(), names.join(", "));
                self.tell(fd, &line);
            }
            "/quit" => self.depart(fd, &format!("* bye {nick}"), &format!("* {nick} left")),
            // TODO: "/msg NICK TEXT": only NICK receives `* private from SENDER: TEXT`.
            // TODO: "/kick NICK" and "/ban NICK", for the operator only (README: the exact
            // lines). `depart` does most of a kick; a ban also remembers NICK's address.
            _ => self.tell(fd, &format!("* unknown command {command}; {COMMANDS}")),
        }
    }

    /// Renames `fd`'s client to `new`; returns the old name, or why not.
    fn rename(&mut self, fd: RawFd, new: &str) -> std::result::Result<String, &'static str> {
        let valid = (1..=16).contains(&new.len())
            && new.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err("use 1-16 letters, digits, _ or -");
        }
        if self.clients.iter().any(|(&other, c)| other != fd && c.nick == new) {
            return Err("taken");
        }
        let client = self.clients.get_mut(&fd).ok_or("gone")?;
        Ok(std::mem::replace(&mut client.nick, new.to_string()))
    }

    /// Queues one line for one client. A client too far behind is dropped.
    fn tell(&mut self, fd: RawFd, text: &str) {
        let Some(client) = self.clients.get_mut(&fd) else { return };
        client.output.extend_from_slice(text.as_bytes());
        client.output.push(b'\n');
        if client.output.len() > OUTPUT_LIMIT {
            self.remove(fd, "stopped reading");
        }
    }

    /// Queues one line for everyone in the room except `from` (and those leaving).
    fn broadcast(&mut self, from: Option<RawFd>, text: &str) {
        let targets: Vec<RawFd> = self
            .clients
            .iter()
            .filter(|(&fd, c)| Some(fd) != from && !c.leaving)
            .map(|(&fd, _)| fd)
            .collect();
        for fd in targets {
            self.tell(fd, text);
        }
    }

    /// Says `goodbye` to `fd`'s client and `notice` to everyone else; the client reads
    /// no more and is closed once its goodbye is written.
    fn depart(&mut self, fd: RawFd, goodbye: &str, notice: &str) {
        self.tell(fd, goodbye);
        let Some(client) = self.clients.get_mut(&fd) else { return };
        client.leaving = true;
        println!("fd {fd}: {} told {goodbye:?}; closes once that is written", client.nick);
        self.broadcast(Some(fd), notice);
    }

    /// Closes `fd` now and tells the others (unless it already said goodbye).
    fn remove(&mut self, fd: RawFd, why: &str) {
        let Some(client) = self.clients.remove(&fd) else { return };
        println!("fd {fd}: {} ({}) left: {why}", client.nick, client.peer);
        if !client.leaving {
            let notice = if why == "stopped reading" {
                format!("* {} was disconnected (not reading)", client.nick)
            } else {
                format!("* {} left", client.nick)
            };
            self.broadcast(None, &notice);
        }
        // `client.stream` is dropped here, which closes the socket.
    }
}
