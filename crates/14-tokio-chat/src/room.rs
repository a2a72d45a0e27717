//! The room: who is here, their nicknames, their output queues, the counters.
//!
//! The same protocol as `common::chat` (the select, poll and epoll servers), written
//! the way async Rust is usually written: no fds and no readiness in sight. Each client
//! has a task and a *bounded* channel as its output queue. A broadcast tries each
//! queue; a full one means that client is behind, and the sender waits for room in it
//! (which slows the talker down, as the readiness servers' hold does) for at most
//! [`STALL`]. A queue still full after that belongs to a client that stopped reading:
//! it is cut off, and nobody else notices a thing.

use common::chat::line::{clean_line, RawLine};
use common::chat::{json, Happening, COMMANDS};
use common::narrate::plural;
use common::Narrator;
use nix::errno::Errno;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};

/// Lines a client's output queue holds. Lines are at most 512 bytes plus a nick, so
/// this bounds each queue near the readiness servers' 64 KiB.
pub const QUEUE_LINES: usize = 256;

/// How long a talker waits for room in a full queue before its owner is cut off.
pub const STALL: Duration = Duration::from_secs(1);

/// One line on its way to clients: shared, not copied, by every queue it is in.
pub type Line = Rc<str>;

/// The room, shared by every task (one thread: `Rc<RefCell>`, no locks). No borrow is
/// ever held across an `.await`.
pub type Shared = Rc<RefCell<Room>>;

/// Why a client's task is told to stop from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Not kicked.
    No,
    /// Its queue stayed full for [`STALL`]: it stopped reading.
    TooSlow,
    /// The server is shutting down: flush the goodbye, then close.
    Shutdown,
}

/// Why a client left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// It sent `/quit`.
    Quit,
    /// read() returned 0.
    Closed,
    /// A read or write failed.
    Failed(Errno),
    /// Cut off: it stopped reading.
    TooSlow,
}

impl Leave {
    fn words(self) -> String {
        match self {
            Leave::Quit => "sent /quit".into(),
            Leave::Closed => "read() = 0: the peer closed its end".into(),
            Leave::Failed(e) => format!("{} ({})", common::error::errno_name(e), e.desc()),
            Leave::TooSlow => format!(
                "stopped reading: its queue of {QUEUE_LINES} lines stayed full for {} s",
                STALL.as_secs()
            ),
        }
    }
}

/// One client, as the room sees it.
struct Member {
    nick: String,
    fd: RawFd,
    queue: mpsc::Sender<Line>,
    kick: watch::Sender<Kick>,
    leaving: bool,
    /// Its queue was found full (and no line has gone in straight away since).
    behind: bool,
}

/// Running totals: the same keys as the readiness servers' stats line.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub accepted: u64,
    pub left: u64,
    pub lines: u64,
    pub commands: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub slow_dropped: u64,
    pub stats_served: u64,
    pub wait_calls: u64,
    pub timeouts: u64,
    pub highest_fd: RawFd,
    /// Clients that closed their end after the shutdown goodbye.
    pub closed_by_peer: u64,
}

/// The room's state.
pub struct Room {
    members: BTreeMap<u64, Member>,
    next_guest: u64,
    pub counters: Counters,
    /// No join/leave notices (the `--clients` crowd).
    pub quiet: bool,
    /// Told whenever a client leaves or the stats port answers: the main loop checks
    /// its stop rule then.
    pub changed: Rc<Notify>,
    /// When a client last did anything (for the "still waiting" line).
    pub last_activity: Instant,
    /// Client tasks still running, so sockets still open: a client leaves the room
    /// first and closes its socket when its task ends.
    pub open: usize,
    pub n: Narrator,
    /// Quiet: how many of each event were not told one by one.
    pub untold: BTreeMap<&'static str, u64>,
}

impl Room {
    /// An empty room.
    pub fn new(n: Narrator, quiet: bool) -> Shared {
        Rc::new(RefCell::new(Room {
            members: BTreeMap::new(),
            next_guest: 1,
            counters: Counters::default(),
            quiet,
            changed: Rc::new(Notify::new()),
            last_activity: Instant::now(),
            open: 0,
            n,
            untold: BTreeMap::new(),
        }))
    }

    /// How many clients are connected: in the room, or leaving with their sockets
    /// still open.
    pub fn len(&self) -> usize {
        self.members.len().max(self.open)
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A newcomer: named `guest<N>`, welcomed, given a queue. Returns its id, name, the
    /// queue's receiving end and its kick signal.
    pub fn join(&mut self, fd: RawFd) -> (u64, String, mpsc::Receiver<Line>, watch::Receiver<Kick>) {
        let id = self.next_guest;
        self.next_guest += 1;
        let nick = format!("guest{id}");
        let (queue, rx) = mpsc::channel(QUEUE_LINES);
        let (kick, kicked) = watch::channel(Kick::No);
        // A fresh queue has room: this cannot fail.
        let _ = queue.try_send(line(&format!("* you are {nick}; {COMMANDS}")));
        self.members
            .insert(id, Member { nick: nick.clone(), fd, queue, kick, leaving: false, behind: false });
        self.counters.accepted += 1;
        self.open += 1;
        self.counters.highest_fd = self.counters.highest_fd.max(fd);
        (id, nick, rx, kicked)
    }

    /// The nickname of client `id` ("gone" once it left).
    pub fn nick(&self, id: u64) -> String {
        self.members.get(&id).map_or_else(|| "gone".into(), |m| m.nick.clone())
    }

    /// The stats port's line, with the readiness servers' keys.
    pub fn stats_line(&self) -> String {
        let c = &self.counters;
        let fds = common::fd::count_open_fds().map_or_else(|_| "?".to_string(), |n| n.to_string());
        format!(
            "clients={} accepted={} refused=0 left={} lines={} commands={} bytes_in={} bytes_out={} \
             slow_dropped={} stats_served={} wait_calls={} timeouts={} open_fds={fds}",
            self.len(),
            c.accepted,
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

    /// Tells every client goodbye and lets go of their queues: each writer task then
    /// flushes what is queued and closes. Returns how many were told.
    pub fn shutdown(&mut self, why: &str) -> usize {
        let bye = line(&format!("* server shutting down ({why}); bye"));
        let told = self.members.len();
        for member in std::mem::take(&mut self.members).into_values() {
            let _ = member.queue.try_send(bye.clone());
            let _ = member.kick.send(Kick::Shutdown);
        }
        self.counters.left += told as u64;
        told
    }
}

/// `text` plus its newline, ready to share.
fn line(text: &str) -> Line {
    Rc::from(format!("{text}\n"))
}

/// Prints one happening, indented under the task's wake-up.
pub fn tell(room: &Shared, h: Happening) {
    if !h.warn && untold(room, h.event) {
        return;
    }
    let n = room.borrow().n.clone();
    common::chat::tell::happenings(&n, &[h]);
}

/// How many of one kind a quiet room (the `--clients` crowd) tells one by one; the
/// rest are counted, and [`tell_untold`] sums them up at the end.
const TOLD_WHEN_QUIET: u64 = 3;

/// Whether a quiet room keeps this event to itself (and counts it).
pub fn untold(room: &Shared, event: &'static str) -> bool {
    let mut r = room.borrow_mut();
    if !r.quiet {
        return false;
    }
    let seen = r.untold.entry(event).or_default();
    *seen += 1;
    *seen > TOLD_WHEN_QUIET
}

/// The `summary` event: what a quiet room did not tell one by one.
pub fn tell_untold(room: &Shared) {
    let r = room.borrow();
    let more: BTreeMap<&str, u64> = r
        .untold
        .iter()
        .filter(|(_, &k)| k > TOLD_WHEN_QUIET)
        .map(|(&e, &k)| (e, k - TOLD_WHEN_QUIET))
        .collect();
    if more.is_empty() {
        return;
    }
    let words: Vec<String> = more.iter().map(|(event, k)| format!("{k} {event}")).collect();
    r.n.event(
        "summary",
        json!({"counts": more, "told": TOLD_WHEN_QUIET}),
        format!("     and more, not told one by one: {}", words.join(", ")),
    );
}

/// Handles one complete line from client `id`: cleaned, then relayed or obeyed.
/// Returns true after `/quit`.
pub async fn handle_line(room: &Shared, id: u64, fd: RawFd, raw: RawLine) -> bool {
    let nick = room.borrow().nick(id);
    if raw.cut > 0 {
        tell(
            room,
            Happening::warn(
                "line_cut",
                fd,
                json!({"nick": nick, "kept": raw.bytes.len(), "dropped": raw.cut}),
                format!("line from {nick} over 512 bytes: cut, {} bytes dropped", raw.cut),
            ),
        );
        let notice = format!(
            "* your line was too long and was cut at 512 bytes: the others got its first {}",
            raw.bytes.len()
        );
        let queue = room.borrow().members.get(&id).map(|m| m.queue.clone());
        if let Some(queue) = queue {
            let _ = queue.send(line(&notice)).await;
        }
    }
    let clean = clean_line(&raw.bytes);
    if clean.stripped > 0 || clean.lossy {
        tell(
            room,
            Happening::warn(
                "sanitized",
                fd,
                json!({"nick": nick, "stripped": clean.stripped, "lossy": clean.lossy}),
                format!("line from {nick}: {} control/escape characters stripped", clean.stripped),
            ),
        );
    }
    let text = clean.text.trim();
    if text.is_empty() {
        return false;
    }
    if !text.starts_with('/') {
        let to = broadcast(room, Some(id), &format!("<{nick}> {text}")).await;
        room.borrow_mut().counters.lines += 1;
        tell(
            room,
            Happening::new(
                "relayed",
                fd,
                json!({"nick": nick, "text": text, "to": to}),
                format!("<{nick}> {text}   (queued for {to} clients)"),
            ),
        );
        return false;
    }
    command(room, id, fd, &nick, text).await
}

/// `/nick`, `/who`, `/quit`, or an unknown command. Returns true after `/quit`.
async fn command(room: &Shared, id: u64, fd: RawFd, nick: &str, text: &str) -> bool {
    room.borrow_mut().counters.commands += 1;
    let (command, arg) = text.split_once(' ').map_or((text, ""), |(c, a)| (c, a.trim()));
    let reply = match command {
        "/nick" => match rename(room, id, arg) {
            Ok(old) => {
                let told = broadcast(room, None, &format!("* {old} is now {arg}")).await;
                tell(
                    room,
                    Happening::new(
                        "renamed",
                        fd,
                        json!({"old": old, "new": arg, "told": told}),
                        format!("{old} is now {arg} ({told} clients told)"),
                    ),
                );
                return false;
            }
            Err(why) => format!("* nick {arg:?} refused: {why}"),
        },
        "/who" => {
            let room = room.borrow();
            let names: Vec<&str> =
                room.members.values().filter(|m| !m.leaving).map(|m| m.nick.as_str()).collect();
            format!("* online ({}): {}", names.len(), names.join(", "))
        }
        "/quit" => {
            let queue = room.borrow_mut().members.get_mut(&id).map(|m| {
                m.leaving = true;
                m.queue.clone()
            });
            if let Some(queue) = queue {
                let _ = queue.send(line(&format!("* bye {nick}"))).await;
            }
            let told = broadcast(room, Some(id), &format!("* {nick} left")).await;
            tell(
                room,
                Happening::new(
                    "quit",
                    fd,
                    json!({"nick": nick, "told": told}),
                    format!(
                        "{nick} sent /quit: goodbye queued, {} told; closes once flushed",
                        plural(told as u64, "other", "others")
                    ),
                ),
            );
            return true;
        }
        _ => format!("* unknown command {command}; {COMMANDS}"),
    };
    let queue = room.borrow().members.get(&id).map(|m| m.queue.clone());
    if let Some(queue) = queue {
        let _ = queue.send(line(&reply)).await;
    }
    tell(
        room,
        Happening::new(
            "command",
            fd,
            json!({"nick": nick, "command": command, "reply": reply}),
            format!("{nick}: {text} -> {reply}"),
        ),
    );
    false
}

/// Renames client `id`; returns the old name, or why not.
fn rename(room: &Shared, id: u64, new: &str) -> Result<String, &'static str> {
    let valid = (1..=16).contains(&new.len())
        && new.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err("use 1-16 letters, digits, _ or -");
    }
    let mut room = room.borrow_mut();
    if room.members.iter().any(|(&other, m)| other != id && m.nick == new) {
        return Err("taken");
    }
    let member = room.members.get_mut(&id).ok_or("gone")?;
    Ok(std::mem::replace(&mut member.nick, new.to_string()))
}

// ANCHOR: broadcast
/// Queues `text` for everyone but `from`; returns how many got it. A full queue means
/// its owner is behind: wait for room (this task, and so its talker, is held up) for
/// at most [`STALL`], then cut that client off.
pub fn broadcast<'a>(
    room: &'a Shared,
    from: Option<u64>,
    text: &str,
) -> Pin<Box<dyn Future<Output = usize> + 'a>> {
    let text = line(text);
    Box::pin(async move {
        let targets: Vec<(u64, mpsc::Sender<Line>)> = room
            .borrow()
            .members
            .iter()
            .filter(|(&id, m)| Some(id) != from && !m.leaving)
            .map(|(&id, m)| (id, m.queue.clone()))
            .collect();
        let mut too_slow = Vec::new();
        for &(id, ref queue) in &targets {
            match queue.try_send(text.clone()) {
                Ok(()) => behind(room, id, false),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(text)) => {
                    behind(room, id, true);
                    if tokio::time::timeout(STALL, queue.send(text)).await.is_err() {
                        too_slow.push(id);
                    }
                }
            }
        }
        for id in too_slow {
            leave(room, id, Leave::TooSlow).await;
        }
        targets.len()
    })
}
// ANCHOR_END: broadcast

/// Notes whether client `id`'s queue was full; the first time it is, says so (the
/// readiness servers' `held` event: this talker now waits for that client).
fn behind(room: &Shared, id: u64, full: bool) {
    let held = {
        let mut room = room.borrow_mut();
        let Some(member) = room.members.get_mut(&id) else { return };
        let was = std::mem::replace(&mut member.behind, full);
        (full && !was).then(|| (member.nick.clone(), member.fd))
    };
    if let Some((nick, fd)) = held {
        tell(
            room,
            Happening::warn(
                "held",
                fd,
                json!({"nick": nick, "queued_lines": QUEUE_LINES, "stall_ms": STALL.as_millis() as u64}),
                format!(
                    "{nick}'s queue is full ({QUEUE_LINES} lines): this talker waits for it (at most {} s)",
                    STALL.as_secs()
                ),
            ),
        );
    }
}

// ANCHOR: leave
/// Takes client `id` out of the room and tells the others. Dropping its queue's last
/// sender lets its writer finish; a client cut off is also kicked, so its task stops
/// writing to a socket nobody reads.
pub async fn leave(room: &Shared, id: u64, why: Leave) {
    let Some(member) = room.borrow_mut().members.remove(&id) else { return };
    let quiet = {
        let mut room = room.borrow_mut();
        room.counters.left += 1;
        if why == Leave::TooSlow {
            room.counters.slow_dropped += 1;
        }
        room.quiet
    };
    if why == Leave::TooSlow {
        let _ = member.kick.send(Kick::TooSlow);
    }
    let told = if member.leaving || quiet {
        0
    } else {
        let notice = match why {
            Leave::TooSlow => format!("* {} was disconnected (not reading)", member.nick),
            _ => format!("* {} left", member.nick),
        };
        broadcast(room, None, &notice).await
    };
    let fd = member.fd;
    let text = format!(
        "close(fd {fd}): {} left: {}; {} told",
        member.nick,
        why.words(),
        plural(told as u64, "other", "others")
    );
    let fields = json!({"nick": member.nick, "reason": why.words(), "told": told});
    let warn = matches!(why, Leave::TooSlow | Leave::Failed(_));
    tell(room, Happening { event: "left", fd, fields, text, warn });
    let changed = Rc::clone(&room.borrow().changed);
    changed.notify_one();
}
// ANCHOR_END: leave
