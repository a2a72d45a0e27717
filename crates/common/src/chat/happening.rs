//! What the room did, as events (beyond the notes: the narration every demo prints): each one's JSON fields and its line of text built
//! together, in one function, from the same values, so `--json` and the text can never
//! tell two different stories. The room calls these in one line at each call site;
//! [`super::tell`] prints them.
//!
//! Event names are stable: tests and lab checkers read them.

use super::leave::Leave;
use super::line::MAX_LINE;
use crate::error::errno_name;
use nix::errno::Errno;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::os::fd::RawFd;

/// Something the room did in response to a ready fd, ready to be narrated.
#[derive(Debug, Clone, PartialEq)]
pub struct Happening {
    /// The JSON event name (snake_case, stable).
    pub event: &'static str,
    /// The fd it concerns (-1 for none).
    pub fd: RawFd,
    /// The JSON fields.
    pub fields: Value,
    /// The human line.
    pub text: String,
    /// Worth a second look (refusals, drops, errors): printed in the warning colour.
    pub warn: bool,
}

impl Happening {
    /// An ordinary happening.
    pub fn new(event: &'static str, fd: RawFd, fields: Value, text: String) -> Self {
        Happening { event, fd, fields, text, warn: false }
    }

    /// A happening printed in the warning colour.
    pub fn warn(event: &'static str, fd: RawFd, fields: Value, text: String) -> Self {
        Happening { event, fd, fields, text, warn: true }
    }
}

/// `1 byte`, `2 bytes`: a count and its noun, agreeing.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn count_usize(n: usize, noun: &str) -> String {
    count(n as u64, noun)
}

// The room, in the order a turn meets them.

pub(super) fn listening(chat: SocketAddr, chat_fd: RawFd, stats: SocketAddr, stats_fd: RawFd) -> Happening {
    Happening::new(
        "listening",
        chat_fd,
        json!({"chat": chat.to_string(), "chat_fd": chat_fd, "stats": stats.to_string(), "stats_fd": stats_fd}),
        format!("listening: chat on {chat} (fd {chat_fd}), stats on {stats} (fd {stats_fd})"),
    )
}

pub(super) fn accepted(fd: RawFd, nick: &str, peer: &SocketAddr, told: usize) -> Happening {
    Happening::new(
        "accepted",
        fd,
        json!({"nick": nick, "peer": peer.to_string(), "told": told}),
        format!("accept() = fd {fd} from {peer}: \"{nick}\" joined (welcome queued; {} told)", others(told)),
    )
}

/// accept() itself failed (EMFILE, ...), on the chat or the stats port.
pub(super) fn accept_failed(listener: RawFd, port: &str, errno: Errno, paused: bool) -> Happening {
    let then = if paused { "; not accepting until a client leaves" } else { "" };
    Happening::warn(
        "accept_failed",
        listener,
        json!({"errno": errno_name(errno), "paused": paused}),
        format!("accept() on the {port} port failed: {} ({}){then}", errno_name(errno), errno.desc()),
    )
}

/// A connection was accepted but could not be made non-blocking: closed.
pub(super) fn nonblock_failed(fd: RawFd, errno: Errno) -> Happening {
    Happening::warn(
        "accept_failed",
        fd,
        json!({"errno": errno_name(errno)}),
        format!("fcntl(fd {fd}, O_NONBLOCK) failed: {} ({}); closed", errno_name(errno), errno.desc()),
    )
}

pub(super) fn refused(fd: RawFd, peer: &SocketAddr, ceiling: RawFd) -> Happening {
    Happening::warn(
        "refused",
        fd,
        json!({"peer": peer.to_string(), "fd_setsize": ceiling}),
        format!(
            "accept() = fd {fd} from {peer}: REFUSED, told and closed: an fd_set holds fds 0..{} only \
             (FD_SETSIZE = {ceiling}); poll() has no such limit",
            ceiling - 1
        ),
    )
}

pub(super) fn stats_served(fd: RawFd, line: &str, bytes: usize) -> Happening {
    Happening::new(
        "stats_served",
        fd,
        json!({"line": line, "bytes": bytes}),
        format!("stats: accept() = fd {fd}, wrote \"{line}\", closed"),
    )
}

pub(super) fn read(fd: RawFd, nick: &str, data: &[u8]) -> Happening {
    Happening::new(
        "read",
        fd,
        json!({"nick": nick, "bytes": data.len(), "data": String::from_utf8_lossy(&data[..data.len().min(80)])}),
        format!(
            "read(fd {fd}, {nick}) = {}: {}",
            count_usize(data.len(), "byte"),
            crate::narrate::show_bytes(data, 60)
        ),
    )
}

pub(super) fn telnet(fd: RawFd, nick: &str, bytes: usize) -> Happening {
    Happening::new(
        "telnet",
        fd,
        json!({"nick": nick, "bytes": bytes}),
        format!(
            "{nick}: {} of telnet negotiation (IAC ...) removed before anything is relayed",
            count_usize(bytes, "byte")
        ),
    )
}

pub(super) fn line_cut(fd: RawFd, nick: &str, kept: usize, dropped: usize) -> Happening {
    Happening::warn(
        "line_cut",
        fd,
        json!({"nick": nick, "kept": kept, "dropped": dropped}),
        format!(
            "line from {nick} over {MAX_LINE} bytes: cut, {} dropped; {nick} is told",
            count_usize(dropped, "byte")
        ),
    )
}

pub(super) fn sanitized(fd: RawFd, nick: &str, stripped: usize, lossy: bool) -> Happening {
    Happening::warn(
        "sanitized",
        fd,
        json!({"nick": nick, "stripped": stripped, "lossy": lossy}),
        format!(
            "line from {nick}: {} stripped{}",
            count_usize(stripped, "control/escape character"),
            if lossy { "; bytes that are not UTF-8 became U+FFFD" } else { "" }
        ),
    )
}

pub(super) fn relayed(fd: RawFd, nick: &str, text: &str, to: usize) -> Happening {
    Happening::new(
        "relayed",
        fd,
        json!({"nick": nick, "text": text, "to": to}),
        format!("<{nick}> {text}   (queued for {})", count_usize(to, "client")),
    )
}

pub(super) fn held(fd: RawFd, nick: &str, queued: usize, stall_ms: u64) -> Happening {
    Happening::warn(
        "held",
        fd,
        json!({"nick": nick, "queued": queued, "stall_ms": stall_ms}),
        format!(
            "{nick} is {} behind: nobody's input is read until it catches up (at most {:.0} s)",
            count_usize(queued, "byte"),
            stall_ms as f64 / 1000.0
        ),
    )
}

pub(super) fn flushed(fd: RawFd, nick: &str, bytes: usize, queued: usize) -> Happening {
    Happening::new(
        "flushed",
        fd,
        json!({"nick": nick, "bytes": bytes, "queued": queued}),
        format!("write(fd {fd}, {nick}) = {}, {queued} still queued", count_usize(bytes, "byte")),
    )
}

pub(super) fn caught_up(fd: RawFd, nick: &str, queued: usize) -> Happening {
    Happening::new(
        "caught_up",
        fd,
        json!({"nick": nick, "queued": queued}),
        format!("{nick} caught up ({} queued): reading everyone's input again", count_usize(queued, "byte")),
    )
}

pub(super) fn partial_dropped(fd: RawFd, nick: &str, bytes: usize) -> Happening {
    Happening::warn(
        "partial_dropped",
        fd,
        json!({"nick": nick, "bytes": bytes}),
        format!("{nick} closed mid-line: {} of an unfinished line dropped", count_usize(bytes, "byte")),
    )
}

pub(super) fn left(fd: RawFd, nick: &str, peer: &str, why: Leave, unsent: usize, told: usize) -> Happening {
    let warn = matches!(why, Leave::TooSlow | Leave::Failed(_) | Leave::HungUp);
    Happening {
        event: "left",
        fd,
        fields: json!({"nick": nick, "peer": peer, "reason": why.words(), "unsent": unsent, "told": told}),
        text: format!("close(fd {fd}): {nick} left: {}; {} told", why.words(), others(told)),
        warn,
    }
}

pub(super) fn forgotten(fd: RawFd, nick: &str) -> Happening {
    Happening::warn(
        "forgotten",
        fd,
        json!({"nick": nick}),
        format!("fd {fd} ({nick}) is not open: dropped from the room without close()"),
    )
}

// Commands.

pub(super) fn command(fd: RawFd, nick: &str, command: &str, text: &str, reply: &str) -> Happening {
    Happening::new(
        "command",
        fd,
        json!({"nick": nick, "command": command, "reply": reply}),
        format!("{nick}: {text} -> {reply}"),
    )
}

pub(super) fn renamed(fd: RawFd, old: &str, new: &str, told: usize) -> Happening {
    Happening::new(
        "renamed",
        fd,
        json!({"old": old, "new": new, "told": told}),
        format!("{old} is now {new} ({} told)", count_usize(told, "client")),
    )
}

pub(super) fn quit(fd: RawFd, nick: &str, told: usize) -> Happening {
    Happening::new(
        "quit",
        fd,
        json!({"nick": nick, "told": told}),
        format!("{nick} sent /quit: goodbye queued, {} told; fd {fd} closes once flushed", others(told)),
    )
}

// The end.

pub(super) fn shutdown(
    why: &str,
    goodbye: &str,
    told: usize,
    flushed: u64,
    closed: usize,
    by_peer: usize,
) -> Happening {
    Happening::new(
        "shutdown",
        -1,
        json!({"why": why, "told": told, "flushed_bytes": flushed, "closed": closed, "closed_by_peer": by_peer}),
        format!(
            "told {} \"{goodbye}\", flushed {}, closed {} ({by_peer} had closed their end)",
            count_usize(told, "client"),
            count(flushed, "byte"),
            count_usize(closed, "connection")
        ),
    )
}

/// `1 other`, `3 others`.
fn others(n: usize) -> String {
    count_usize(n, "other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_counts_read_as_singular() {
        let peer: SocketAddr = ([127, 0, 0, 1], 9).into();
        assert_eq!(count(1u64, "byte"), "1 byte");
        assert_eq!(count(0u64, "byte"), "0 bytes");
        assert!(read(5, "ann", b"x").text.contains("= 1 byte: "), "{}", read(5, "ann", b"x").text);
        assert!(flushed(5, "ann", 1, 0).text.contains("= 1 byte, 0 still queued"));
        assert!(relayed(5, "ann", "hi", 1).text.ends_with("(queued for 1 client)"));
        assert!(accepted(5, "ann", &peer, 1).text.contains("1 other told"));
        assert!(left(5, "ann", "p", Leave::Closed, 0, 1).text.ends_with("; 1 other told"));
        assert!(quit(5, "ann", 1).text.contains("1 other told"));
        assert!(renamed(5, "a", "b", 1).text.ends_with("(1 client told)"));
        assert!(partial_dropped(5, "ann", 1).text.contains("1 byte of an unfinished line"));
        assert!(sanitized(5, "ann", 1, false).text.contains("1 control/escape character stripped"));
        assert!(line_cut(5, "ann", 512, 1).text.contains("cut, 1 byte dropped"));
        assert!(telnet(5, "ann", 1).text.contains("1 byte of telnet"));
        assert!(caught_up(5, "ann", 1).text.contains("(1 byte queued)"));
        assert!(held(5, "ann", 1, 1000).text.contains("is 1 byte behind"));
        let text = shutdown("SIGINT", "bye", 1, 1, 1, 1).text;
        assert!(text.starts_with("told 1 client \"bye\", flushed 1 byte, closed 1 connection ("), "{text}");
        let text = shutdown("SIGINT", "bye", 2, 2, 2, 0).text;
        assert!(
            text.starts_with("told 2 clients \"bye\", flushed 2 bytes, closed 2 connections ("),
            "{text}"
        );
    }
}
