//! Reading a run's JSON Lines, and the fingerprint that ties a picture to them.
//!
//! Any program's `--json` output can be drawn, including a student's lab program, so a
//! line that is not an event (a stray `println!`, a blank line) is counted and skipped
//! instead of failing the picture.

use serde_json::{Map, Value};

/// One `{"t_ms": ..., "event": "...", ...}` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Milliseconds since the program started.
    pub t_ms: f64,
    /// The snake_case event name.
    pub name: String,
    /// Every field, `t_ms` and `event` included.
    pub fields: Map<String, Value>,
}

impl Event {
    /// A field as an integer (fds, ids, counts), if it is one.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.fields.get(key).and_then(Value::as_i64)
    }

    /// A field as a number.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.fields.get(key).and_then(Value::as_f64)
    }

    /// A field as text: strings as they are, numbers and booleans printed; null and
    /// absent fields give `None`.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// The events of a run, and how many lines were not events.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub events: Vec<Event>,
    pub skipped_lines: usize,
}

/// Parses JSON Lines; lines that are not objects with a numeric `t_ms` and a string
/// `event` are skipped and counted. Events are put in time order (a program with
/// several threads may print them slightly out of order).
pub fn parse(text: &str) -> Run {
    let mut run = Run::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<Value>(line).ok().and_then(|v| match v {
            Value::Object(fields) => {
                let t_ms = fields.get("t_ms").and_then(Value::as_f64).filter(|t| t.is_finite())?;
                let name = fields.get("event").and_then(Value::as_str)?.to_string();
                Some(Event { t_ms, name, fields })
            }
            _ => None,
        });
        match parsed {
            Some(event) => run.events.push(event),
            None => run.skipped_lines += 1,
        }
    }
    run.events.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    run
}

/// Keeps the events whose `field` equals `value`, plus the events that have no such
/// field and fall between the first and last kept one (a wait call that does not say
/// which run it belongs to still belongs to the run around it). The `demo` event, which
/// names the program, is always kept.
pub fn only(events: &[Event], field: &str, value: &str) -> Vec<Event> {
    let matches = |e: &Event| e.text(field).as_deref() == Some(value);
    let times: Vec<f64> = events.iter().filter(|e| matches(e)).map(|e| e.t_ms).collect();
    let (Some(first), Some(last)) = (times.first().copied(), times.last().copied()) else {
        return Vec::new();
    };
    events
        .iter()
        .filter(|e| {
            e.name == "demo"
                || matches(e)
                || (!e.fields.contains_key(field) && e.t_ms >= first && e.t_ms <= last)
        })
        .cloned()
        .collect()
}

/// FNV-1a (64 bit) of the bytes the picture was drawn from, as `fnv1a64:<16 hex digits>`.
/// Not a security measure: it lets the book's check notice a picture drawn from another
/// run than the captured one.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_events_are_skipped_and_counted() {
        let run = parse("hello\n{\"t_ms\":2,\"event\":\"b\"}\n\n{\"t_ms\":1,\"event\":\"a\",\"fd\":3}\n[1]\n{\"event\":\"x\"}\n");
        assert_eq!(run.skipped_lines, 3);
        let names: Vec<&str> = run.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(run.events[0].int("fd"), Some(3));
    }

    #[test]
    fn only_keeps_the_run_and_the_unlabelled_events_inside_it() {
        let run = parse(concat!(
            "{\"t_ms\":0,\"event\":\"demo\"}\n",
            "{\"t_ms\":1,\"event\":\"x\",\"run\":\"a\"}\n",
            "{\"t_ms\":2,\"event\":\"wait\"}\n",
            "{\"t_ms\":3,\"event\":\"x\",\"run\":\"a\"}\n",
            "{\"t_ms\":4,\"event\":\"wait\"}\n",
            "{\"t_ms\":5,\"event\":\"x\",\"run\":\"b\"}\n",
        ));
        let kept: Vec<f64> = only(&run.events, "run", "a").iter().map(|e| e.t_ms).collect();
        assert_eq!(kept, [0.0, 1.0, 2.0, 3.0]);
        assert!(only(&run.events, "run", "c").is_empty());
    }

    #[test]
    fn fingerprint_is_fnv1a() {
        assert_eq!(fingerprint(b""), "fnv1a64:cbf29ce484222325");
        assert_eq!(fingerprint(b"a"), "fnv1a64:af63dc4c8601ec8c");
    }
}
