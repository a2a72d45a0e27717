//! A text timeline: labelled bars on one shared time axis, so a student *sees* that
//! transfers or reads overlapped instead of being told.
//!
//! ```text
//! timeline     0s                 0.50s               1.00s
//! /delay/200   ███████                                        200 OK  0.20 s
//! /delay/1000  ████████████████████████████████████████████   200 OK  1.00 s
//! ```

use crate::narrate::round_ms;
use serde_json::{json, Value};

/// One bar: a labelled interval in milliseconds since the demo started.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// What the bar is (a URL path, "read input 2", ...).
    pub label: String,
    /// Start, ms since the demo's clock started.
    pub start_ms: f64,
    /// End, ms since the demo's clock started.
    pub end_ms: f64,
    /// Printed after the bar (a status, a size).
    pub note: String,
}

/// A set of bars drawn on one axis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Heading printed at the top left.
    pub title: String,
    /// The bars, in the order they are drawn.
    pub bars: Vec<Bar>,
}

impl Timeline {
    /// An empty timeline with a heading (e.g. `"timeline"`).
    pub fn new(title: impl Into<String>) -> Self {
        Timeline { title: title.into(), bars: Vec::new() }
    }

    /// Adds a bar from `start_ms` to `end_ms`.
    pub fn add(&mut self, label: impl Into<String>, start_ms: f64, end_ms: f64, note: impl Into<String>) {
        let (start_ms, end_ms) = if end_ms < start_ms { (end_ms, start_ms) } else { (start_ms, end_ms) };
        self.bars.push(Bar { label: label.into(), start_ms, end_ms, note: note.into() });
    }

    /// The sum of every bar's length: the work done, had it run one bar at a time.
    pub fn work_ms(&self) -> f64 {
        self.bars.iter().map(|b| b.end_ms - b.start_ms).sum()
    }

    /// From the earliest start to the latest end: the time it actually took.
    pub fn span_ms(&self) -> f64 {
        let first = self.bars.iter().map(|b| b.start_ms).fold(f64::INFINITY, f64::min);
        let last = self.bars.iter().map(|b| b.end_ms).fold(f64::NEG_INFINITY, f64::max);
        if self.bars.is_empty() {
            0.0
        } else {
            last - first
        }
    }

    /// The largest number of bars that overlap at any instant.
    pub fn max_overlap(&self) -> usize {
        let mut edges: Vec<(f64, i32)> = Vec::new();
        for b in &self.bars {
            edges.push((b.start_ms, 1));
            edges.push((b.end_ms, -1));
        }
        // Ends sort before starts at the same instant: touching bars do not overlap.
        edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut now, mut most) = (0i32, 0i32);
        for (_, step) in edges {
            now += step;
            most = most.max(now);
        }
        most.max(0) as usize
    }

    /// The chart as text, `width` columns for the bars.
    pub fn render(&self, width: usize, color: bool) -> String {
        let width = width.max(10);
        let first = self.bars.iter().map(|b| b.start_ms).fold(f64::INFINITY, f64::min);
        let origin = if first.is_finite() { first } else { 0.0 };
        let end = self.bars.iter().map(|b| b.end_ms).fold(origin, f64::max);
        let span = (end - origin).max(1.0);
        let label_width = self
            .bars
            .iter()
            .map(|b| b.label.chars().count())
            .max()
            .unwrap_or(0)
            .max(self.title.chars().count());
        let col = |ms: f64| (((ms - origin) / span) * width as f64).round() as usize;

        let mut out = String::new();
        // Axis: "0s" at the left edge, the middle time centred, the end time ending at
        // the right edge of the bars.
        let mut axis = vec![' '; width];
        let mid = fmt_secs(span / 2.0);
        let last = fmt_secs(span);
        for (at, text) in
            [(0, "0s".to_string()), (width / 2 - mid.len() / 2, mid), (width - last.len(), last)]
        {
            for (k, ch) in text.chars().enumerate() {
                if let Some(slot) = axis.get_mut(at + k) {
                    *slot = ch;
                }
            }
        }
        let axis: String = axis.into_iter().collect();
        out.push_str(&format!("{:label_width$}  {}\n", self.title, axis.trim_end()));
        for bar in &self.bars {
            // A zero-length bar at the right edge is drawn in the last column, not past it.
            let (from, to) = (col(bar.start_ms).min(width), col(bar.end_ms).min(width));
            let zero_length = to == from;
            let from = if zero_length { from.min(width - 1) } else { from };
            let mut line = " ".repeat(from);
            if !zero_length {
                line.push_str(&"█".repeat(to - from));
            } else {
                line.push('▏');
            }
            let pad = width.saturating_sub(line.chars().count());
            line.push_str(&" ".repeat(pad));
            let bar_text = if color { format!("\x1b[36m{line}\x1b[0m") } else { line };
            let secs = (bar.end_ms - bar.start_ms) / 1000.0;
            let note = if bar.note.is_empty() { String::new() } else { format!("{}  ", bar.note) };
            out.push_str(&format!("{:label_width$}  {bar_text}  {note}{secs:.2} s\n", bar.label));
        }
        out
    }

    /// The bars as JSON, for `--json` output: `{"bars":[{"label",..,"start_ms",..}]}`.
    pub fn to_json(&self) -> Value {
        let bars: Vec<Value> = self
            .bars
            .iter()
            // A note may be padded to line up in the text chart; the data has no padding.
            .map(|b| json!({"label": b.label, "start_ms": round_ms(b.start_ms), "end_ms": round_ms(b.end_ms), "note": b.note.trim_end()}))
            .collect();
        json!({
            "title": self.title,
            "bars": bars,
            "work_ms": round_ms(self.work_ms()),
            "span_ms": round_ms(self.span_ms()),
            "max_overlap": self.max_overlap(),
        })
    }
}

/// `0s`, `0.25s`, `1.5s`, `12s`: short axis labels.
fn fmt_secs(ms: f64) -> String {
    let s = ms / 1000.0;
    if ms == 0.0 {
        "0s".into()
    } else if s < 10.0 {
        format!("{s:.2}s")
    } else {
        format!("{s:.0}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_overlapping() -> Timeline {
        let mut t = Timeline::new("timeline");
        t.add("/delay/200", 0.0, 200.0, "200 OK");
        t.add("/delay/1000", 0.0, 1000.0, "200 OK");
        t
    }

    #[test]
    fn work_span_and_overlap() {
        let t = two_overlapping();
        assert_eq!(t.work_ms(), 1200.0);
        assert_eq!(t.span_ms(), 1000.0);
        assert_eq!(t.max_overlap(), 2);
        let mut seq = Timeline::new("t");
        seq.add("a", 0.0, 100.0, "");
        seq.add("b", 100.0, 200.0, "");
        assert_eq!(seq.max_overlap(), 1, "touching bars do not overlap");
    }

    #[test]
    fn bars_are_scaled_to_the_shared_axis() {
        let text = two_overlapping().render(50, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("timeline"));
        assert!(lines[0].contains("0s") && lines[0].contains("1.00s"), "{text}");
        let short = lines[1].matches('█').count();
        let long = lines[2].matches('█').count();
        assert_eq!((short, long), (10, 50), "{text}");
        assert!(lines[1].ends_with("200 OK  0.20 s"), "{text}");
    }

    #[test]
    fn zero_length_bars_still_show() {
        let mut t = Timeline::new("timeline");
        t.add("refused", 5.0, 5.0, "error");
        t.add("slow", 0.0, 500.0, "");
        let text = t.render(20, false);
        assert!(text.contains('▏'), "{text}");
    }

    #[test]
    fn a_zero_length_bar_at_the_end_stays_inside_the_chart() {
        let mut t = Timeline::new("timeline");
        t.add("long", 0.0, 1000.0, "ok");
        t.add("last", 1000.0, 1000.0, "refused");
        let text = t.render(20, false);
        let lines: Vec<&str> = text.lines().collect();
        let column = |line: &str, text: &str| line.find(text).map(|at| line[..at].chars().count());
        assert_eq!(column(lines[1], "ok"), column(lines[2], "refused"), "{text}");
        // label column (8, "timeline") + 2 spaces + the last of 20 bar columns
        assert_eq!(column(lines[2], "▏"), Some(8 + 2 + 19), "{text}");
    }

    #[test]
    fn json_has_every_bar() {
        let v = two_overlapping().to_json();
        assert_eq!(v["bars"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["bars"][1]["end_ms"], 1000.0);
        assert_eq!(v["max_overlap"], 2);
    }
}
