//! Narration: what the demo is doing, on a shared clock, as it happens.
//!
//! Every demo reports through one [`Narrator`]. In text mode each event is a line
//! `[   1.002] read(fd 3) = 6 bytes: "hello\n"` (seconds since start); with `--json`
//! it is one JSON object per line that always starts with `t_ms` (milliseconds since
//! start, a float) and `event` (a snake_case name), followed by the event's fields.
//! Tests and lab checkers read the JSON; students read the text.
//!
//! Colour is used only when stdout is a terminal and `NO_COLOR` is not set.
//!
//! Every line goes out whole, in one `write()` (see [`write_stdout`]): a demo killed by
//! Ctrl-C never leaves half a line, so a checker can parse every `--json` line it got.
//! When the reader of stdout goes away (`demo | head -1`), the write fails with EPIPE
//! (Rust ignores SIGPIPE, so it is an error, not a signal): narration then stops
//! silently and the program carries on to its normal end. A `--listen` server keeps
//! serving after `| head -1`, which is how an instructor reads the port.

use crate::timeline::Timeline;
use serde_json::{Map, Value};
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Columns for the bars of a timeline: leaves room for labels and notes on an
/// 80-column terminal in most demos.
pub const TIMELINE_WIDTH: usize = 40;

/// Text styles used in the human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The timestamp column and asides.
    Dim,
    /// Headings and results worth noticing.
    Bold,
    /// Things that went as they should.
    Good,
    /// Surprises a student should look at twice (EAGAIN storms, refusals).
    Warn,
    /// Errors reported by a call.
    Bad,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Dim => "2",
            Style::Bold => "1",
            Style::Good => "32",
            Style::Warn => "33",
            Style::Bad => "31",
        }
    }
}

/// Prints timestamped events as text or JSON Lines. Cheap to clone and safe to share
/// between threads (an AIO callback thread narrates through a clone).
#[derive(Debug, Clone)]
pub struct Narrator {
    start: Instant,
    json: bool,
    color: bool,
    quiet: bool,
}

/// Whether colour is allowed: stdout is a terminal and NO_COLOR is unset or empty.
pub fn color_wanted() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

impl Narrator {
    /// A narrator whose clock starts now; colour decided by [`color_wanted`].
    pub fn new(json: bool) -> Self {
        Narrator { start: Instant::now(), json, color: !json && color_wanted(), quiet: false }
    }

    /// A narrator that prints nothing (library tests that call demo steps directly).
    pub fn quiet() -> Self {
        Narrator { start: Instant::now(), json: true, color: false, quiet: true }
    }

    /// A narrator with colour forced on or off (tests, benchmarks).
    pub fn with_color(json: bool, color: bool) -> Self {
        Narrator { start: Instant::now(), json, color: color && !json, quiet: false }
    }

    /// True when writing JSON Lines.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// The instant the clock started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Milliseconds since the clock started.
    pub fn t_ms(&self) -> f64 {
        self.ms_at(Instant::now())
    }

    /// Milliseconds from the start to `at`.
    pub fn ms_at(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.start).as_secs_f64() * 1000.0
    }

    /// `text` in `style` when colour is on, plain otherwise.
    pub fn paint(&self, style: Style, text: impl Display) -> String {
        if self.color {
            format!("\x1b[{}m{text}\x1b[0m", style.code())
        } else {
            text.to_string()
        }
    }

    /// The demo's first line: its name, what it shows, and the notes section.
    /// JSON: `{"event":"demo","name":..,"summary":..,"notes":..}`.
    pub fn title(&self, name: &str, summary: &str, notes_section: &str) {
        let text = format!("{}: {summary} (notes: \"{notes_section}\")", self.paint(Style::Bold, name));
        self.emit_at(
            self.t_ms(),
            "demo",
            serde_json::json!({ "name": name, "summary": summary, "notes": notes_section }),
            None,
            Some(text),
        );
    }

    /// A timestamped event. `fields` should be a JSON object (anything else is stored
    /// under `"value"`); `text` is the human line.
    pub fn event(&self, event: &str, fields: Value, text: impl Display) {
        self.emit_at(self.t_ms(), event, fields, None, Some(text.to_string()));
    }

    /// Like [`Narrator::event`], with the text painted in `style`.
    pub fn event_styled(&self, event: &str, fields: Value, style: Style, text: impl Display) {
        self.emit_at(self.t_ms(), event, fields, Some(style), Some(text.to_string()));
    }

    /// Like [`Narrator::event`], stamped with the time `at` instead of now (for events
    /// measured on another thread and reported later).
    pub fn event_at(&self, at: Instant, event: &str, fields: Value, text: impl Display) {
        self.emit_at(self.ms_at(at), event, fields, None, Some(text.to_string()));
    }

    /// A JSON-only event (text mode prints nothing), for data a checker needs but a
    /// student would find noise.
    pub fn data(&self, event: &str, fields: Value) {
        self.emit_at(self.t_ms(), event, fields, None, None);
    }

    /// An explanation under the previous line, indented and without a timestamp.
    /// Text mode only: JSON consumers get the facts from the events.
    pub fn explain(&self, text: impl Display) {
        if !self.json && !self.quiet {
            let text = text.to_string();
            let mut lines = String::new();
            for line in text.lines() {
                lines.push_str(&format!("{:10} {}\n", "", self.paint(Style::Dim, line)));
            }
            write_stdout(&lines);
        }
    }

    /// A plain line (results, tables, a blank line). Text mode only.
    pub fn say(&self, text: impl Display) {
        if !self.json && !self.quiet {
            write_stdout(&format!("{text}\n"));
        }
    }

    /// Prints a timeline chart (text) or a `timeline` event with its bars (JSON).
    pub fn timeline(&self, timeline: &Timeline) {
        if self.quiet {
        } else if self.json {
            self.data("timeline", timeline.to_json());
        } else {
            write_stdout(&timeline.render(TIMELINE_WIDTH, self.color));
        }
    }

    fn emit_at(&self, t_ms: f64, event: &str, fields: Value, style: Option<Style>, text: Option<String>) {
        if self.quiet {
            return;
        }
        if self.json {
            write_stdout(&format!("{}\n", json_line(t_ms, event, fields)));
        } else if let Some(text) = text {
            let stamp = self.paint(Style::Dim, format!("[{:8.3}]", t_ms / 1000.0));
            let text = match style {
                Some(style) => self.paint(style, text),
                None => text,
            };
            write_stdout(&format!("{stamp} {text}\n"));
        }
    }
}

/// Set once a write to stdout has failed with EPIPE: nobody is reading any more.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `text` (whole lines, ending in `\n`) to stdout in one piece.
///
/// `writeln!(out, "{x}")` would hand the line and its newline to stdout's LineWriter
/// separately; a line longer than its buffer then goes out in two `write()`s, and a
/// Ctrl-C between them leaves a line without its end. One `write_all` of the finished
/// text is one `write()` (the LineWriter passes text ending in a newline straight
/// through, and a pipe takes up to 4 KiB at once).
///
/// Errors are not the demo's business: after EPIPE (the reader left, as `head -1`
/// does) nothing more is written; any other error drops just this text.
pub fn write_stdout(text: &str) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let result = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_GONE.store(true, Ordering::Relaxed);
        }
    }
}

/// True once stdout's reader has gone away (a write failed with EPIPE).
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(Ordering::Relaxed)
}

/// One JSON Lines record: `{"t_ms":..,"event":..,<fields>}`.
pub fn json_line(t_ms: f64, event: &str, fields: Value) -> String {
    let mut record = Map::new();
    let t = round_ms(t_ms);
    record.insert("t_ms".into(), Value::from(t));
    record.insert("event".into(), Value::from(event));
    match fields {
        Value::Object(map) => {
            for (key, value) in map {
                if key != "t_ms" && key != "event" {
                    record.insert(key, value);
                }
            }
        }
        Value::Null => {}
        other => {
            record.insert("value".into(), other);
        }
    }
    // serde_json's map keeps keys sorted; put t_ms and event first for readability.
    let head = format!("{{\"t_ms\":{},\"event\":{}", record["t_ms"], record["event"]);
    record.remove("t_ms");
    record.remove("event");
    let rest = Value::Object(record).to_string();
    if rest == "{}" {
        format!("{head}}}")
    } else {
        format!("{head},{}", &rest[1..])
    }
}

/// A duration in milliseconds, to the microsecond (three decimals): the one rounding
/// every demo's JSON and text use, so two events never disagree about the same wait.
pub fn ms(d: Duration) -> f64 {
    round_ms(d.as_secs_f64() * 1000.0)
}

/// A millisecond figure rounded to three decimals, as [`ms`] rounds.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// `1 input`, `2 inputs`: a count with its noun, singular or plural as English wants.
/// `plural(1, "poll", "polls")`; nouns with irregular plurals pass both forms.
pub fn plural(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Shows bytes the way a student wants to see them: printable ASCII as is, the rest
/// escaped (`\n`, `\x1b`), cut to `max` bytes with `...`.
pub fn show_bytes(bytes: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &b in bytes.iter().take(max) {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if bytes.len() > max {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_lines_start_with_t_ms_and_event_and_parse() {
        let line = json_line(12.3456, "read_returned", json!({"fd": 3, "bytes": 6}));
        assert!(line.starts_with("{\"t_ms\":12.346,\"event\":\"read_returned\","), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["fd"], 3);
        assert_eq!(v["bytes"], 6);
        assert_eq!(v["event"], "read_returned");
        assert!(v["t_ms"].is_f64());
    }

    #[test]
    fn json_lines_without_fields_and_with_odd_fields() {
        let v: Value = serde_json::from_str(&json_line(0.0, "done", Value::Null)).unwrap();
        assert_eq!(v, json!({"t_ms": 0.0, "event": "done"}));
        let v: Value = serde_json::from_str(&json_line(1.0, "n", json!(5))).unwrap();
        assert_eq!(v["value"], 5);
        // A field cannot overwrite the event name.
        let v: Value = serde_json::from_str(&json_line(1.0, "x", json!({"event": "y"}))).unwrap();
        assert_eq!(v["event"], "x");
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = Narrator::with_color(false, false);
        assert_eq!(plain.paint(Style::Warn, "EAGAIN"), "EAGAIN");
        let coloured = Narrator::with_color(false, true);
        assert_eq!(coloured.paint(Style::Warn, "EAGAIN"), "\x1b[33mEAGAIN\x1b[0m");
        let json = Narrator::with_color(true, true);
        assert_eq!(json.paint(Style::Warn, "EAGAIN"), "EAGAIN");
    }

    #[test]
    fn milliseconds_to_the_microsecond_and_plurals() {
        assert_eq!(ms(Duration::from_nanos(1_234_567_890)), 1234.568);
        assert_eq!(ms(Duration::ZERO), 0.0);
        assert_eq!(round_ms(0.0004), 0.0);
        assert_eq!(plural(1, "input", "inputs"), "1 input");
        assert_eq!(plural(0, "input", "inputs"), "0 inputs");
        assert_eq!(plural(2, "thread", "threads"), "2 threads");
    }

    #[test]
    fn bytes_are_shown_escaped_and_cut() {
        assert_eq!(show_bytes(b"hi\n", 10), "\"hi\\n\"");
        assert_eq!(show_bytes(b"\x1b[31mred", 4), "\"\\x1b[31\"...");
    }
}
