//! Narrating a chat server at work: the wait call, who woke up, and what the room did
//! (beyond the notes).
//!
//! The three demos print the same shapes, so a student comparing `just run select` with
//! `just run poll` sees the same story with a different wait call.
//!
//! JSON events (stable names, read by tests and lab checkers):
//! * `wait`: `{"call", "nfds"?, "read", "write", "timeout_ms", ...}` before each wait;
//! * `ready`: `{"call", "returned", "fds": [{"fd", "owner", "flags"}]}` after a wake-up;
//! * `still_waiting`: `{"call", "timeout_ms"}` when the timeout passed with nothing ready;
//! * one event per [`Happening`] (`accepted`, `refused`, `read`, `relayed`, `command`,
//!   `renamed`, `quit`, `flushed`, `left`, `line_cut`, `sanitized`, `partial_dropped`,
//!   `stats_served`, `accept_failed`, `forgotten`, `shutdown`, `listening`, `held` and
//!   `caught_up` (a client fell behind and the room held input for it, and when it
//!   caught up));
//! * `summary`: `{"counts": {event: n}}` in place of the happenings when one wake-up
//!   produced more than [`MAX_TOLD`] of them (the `--clients` crowd).

use crate::narrate::{Narrator, Style};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::os::fd::RawFd;

pub use super::happening::Happening;

/// Most happenings narrated one by one per wake-up; beyond that, a count per kind.
pub const MAX_TOLD: usize = 12;

/// Most fds listed by number in a set; beyond that, the first few and a count.
const MAX_FDS_SHOWN: usize = 12;

/// Prints what one wake-up caused, indented under the `ready` line; a count per kind
/// instead when there are more than [`MAX_TOLD`].
pub fn happenings(n: &Narrator, happened: &[Happening]) {
    if happened.len() <= MAX_TOLD {
        for h in happened {
            one(n, h, "     ");
        }
        return;
    }
    // Warnings (refusals, drops, errors) are what a student must not miss: the first
    // few of them are still told one by one.
    let mut told = 0;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for h in happened {
        if h.warn && told < MAX_TOLD {
            one(n, h, "     ");
            told += 1;
        } else {
            *counts.entry(h.event).or_default() += 1;
        }
    }
    let (fields, text) = summary(&counts, told);
    n.event("summary", fields, text);
}

/// The `summary` event: how many of each kind were not told one by one.
fn summary(counts: &BTreeMap<&str, usize>, told: usize) -> (Value, String) {
    let more: usize = counts.values().sum();
    let words: Vec<String> = counts.iter().map(|(event, k)| format!("{k} {event}")).collect();
    let by_kind: Map<String, Value> = counts.iter().map(|(e, &k)| (e.to_string(), Value::from(k))).collect();
    let text =
        format!("     {} happened: {}", super::happening::count(more as u64, "more thing"), words.join(", "));
    (json!({"counts": by_kind, "told": told}), text)
}

/// Prints one happening at the left margin (used for `listening`, `shutdown`).
pub fn happening(n: &Narrator, h: &Happening) {
    one(n, h, "");
}

fn one(n: &Narrator, h: &Happening, indent: &str) {
    let mut fields = h.fields.clone();
    if let Value::Object(map) = &mut fields {
        if h.fd >= 0 {
            map.insert("fd".into(), Value::from(h.fd));
        }
    }
    let text = format!("{indent}{}", h.text);
    if h.warn {
        n.event_styled(h.event, fields, Style::Warn, text);
    } else {
        n.event(h.event, fields, text);
    }
}

/// `{3,4,5}`, or `{3,4,5,...,2011} (2004 fds)` for a crowd.
pub fn fd_set_text(fds: &[RawFd]) -> String {
    if fds.len() <= MAX_FDS_SHOWN {
        let list: Vec<String> = fds.iter().map(|fd| fd.to_string()).collect();
        return format!("{{{}}}", list.join(","));
    }
    let head: Vec<String> = fds.iter().take(MAX_FDS_SHOWN - 2).map(|fd| fd.to_string()).collect();
    let last = fds.last().copied().unwrap_or(-1);
    format!("{{{},...,{last}}} ({} fds)", head.join(","), fds.len())
}

/// A JSON array of fds, cut to the first 64 for a crowd (the count says how many).
pub fn fd_json(fds: &[RawFd]) -> Value {
    Value::from(fds.iter().take(64).copied().collect::<Vec<_>>())
}

/// One ready fd, as the demo saw it: its number and the flags the wait call set
/// (`readable`/`writable` for select, `POLLIN`/`POLLHUP`/... for poll).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyFd {
    /// The fd.
    pub fd: RawFd,
    /// Flag names, as the wait call reported them.
    pub flags: Vec<&'static str>,
}

/// The `ready` line: what the wait call returned and whose fds woke up.
pub fn ready(n: &Narrator, room: &super::ChatRoom, call: &str, returned: i32, ready: &[ReadyFd]) {
    let described: Vec<String> = ready
        .iter()
        .take(MAX_FDS_SHOWN)
        .map(|r| format!("fd {} ({}) {}", r.fd, room.owner(r.fd), r.flags.join("|")))
        .collect();
    let more = if ready.len() > MAX_FDS_SHOWN {
        format!(", and {} more", ready.len() - MAX_FDS_SHOWN)
    } else {
        String::new()
    };
    let fds: Vec<Value> = ready
        .iter()
        .take(64)
        .map(|r| json!({"fd": r.fd, "owner": room.owner(r.fd), "flags": r.flags}))
        .collect();
    n.event(
        "ready",
        json!({"call": call, "returned": returned, "count": ready.len(), "fds": fds}),
        format!("  -> {call} returned {returned}: {}{more}", described.join("; ")),
    );
}

/// A demo's title line: its name, what it shows, and the notes section it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Title {
    /// The demo's name (`just run NAME`).
    pub name: &'static str,
    /// What it shows, in one line.
    pub summary: &'static str,
    /// The notes section it follows.
    pub notes: &'static str,
}

/// `(name, summary, notes)`, for demos that keep their title as a triple.
impl From<(&'static str, &'static str, &'static str)> for Title {
    fn from((name, summary, notes): (&'static str, &'static str, &'static str)) -> Self {
        Title { name, summary, notes }
    }
}

impl Title {
    /// Prints the title line.
    pub fn show(&self, n: &Narrator) {
        n.title(self.name, self.summary, self.notes);
    }
}

/// `--listen`: the first stdout line is `listening on IP:PORT` (text) or the
/// `listening` event (JSON), then how to join, then the demo's title.
pub fn announce(n: &Narrator, room: &super::ChatRoom, title: impl Into<Title>) -> crate::Result<()> {
    let title = title.into();
    let chat = room.chat_addr()?;
    let stats = room.stats_addr()?;
    let listening = room.listening()?;
    if n.is_json() {
        happening(n, &listening);
        title.show(n);
    } else {
        n.say(format!("listening on {chat}"));
        n.say(format!(
            "join the chat from other terminals: nc {} {}   (counters: nc {} {})",
            chat.ip(),
            chat.port(),
            stats.ip(),
            stats.port()
        ));
        title.show(n);
        happening(n, &listening);
    }
    Ok(())
}

/// The timeout branch: the wait returned 0 (notes: "Still waiting").
pub fn still_waiting(n: &Narrator, call: &str, timeout_ms: u64) {
    n.event(
        "still_waiting",
        json!({"call": call, "timeout_ms": timeout_ms}),
        format!(
            "  -> {call} returned 0: nothing ready for {:.3} s, still waiting",
            timeout_ms as f64 / 1000.0
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_sets_are_listed_then_summarised() {
        assert_eq!(fd_set_text(&[]), "{}");
        assert_eq!(fd_set_text(&[3, 4, 7]), "{3,4,7}");
        let crowd: Vec<RawFd> = (3..2003).collect();
        assert_eq!(fd_set_text(&crowd), "{3,4,5,6,7,8,9,10,11,12,...,2002} (2000 fds)");
        assert_eq!(fd_json(&crowd).as_array().map(Vec::len), Some(64));
    }

    #[test]
    fn one_more_thing_is_singular() {
        let one: BTreeMap<&str, usize> = [("read", 1)].into();
        assert_eq!(summary(&one, 12).1, "     1 more thing happened: 1 read");
        let two: BTreeMap<&str, usize> = [("read", 1), ("flushed", 1)].into();
        assert_eq!(summary(&two, 0).1, "     2 more things happened: 1 flushed, 1 read");
    }
}
