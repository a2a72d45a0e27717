//! Printing results: aligned text tables for people, one JSON event per figure for
//! programs, and a closing list of every ratio next to its target.

use crate::harness::{LoadSeen, Measured};
use common::narrate::Style;
use common::Narrator;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Everything a part needs to report: the narrator, the machine, the run's size.
#[derive(Debug)]
pub struct Bench {
    /// Text or JSON Lines output.
    pub n: Narrator,
    /// Cores the machine has (for the load flag).
    pub cores: usize,
    /// Tiny sizes: prove it works in a few seconds, measure nothing worth quoting.
    pub quick: bool,
    /// Where SVG plots go; None: draw none.
    pub plots: Option<PathBuf>,
    /// Every ratio with a target or an expectation, for the closing summary.
    pub verdicts: Vec<Verdict>,
    /// Load seen over the whole run.
    pub load: LoadSeen,
}

/// What a ratio should be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// At most this (for example Rust/C <= 1.1).
    AtMost(f64),
    /// At least this (for example speed-up / ideal >= 0.9).
    AtLeast(f64),
    /// No target: reported for what it shows.
    Info,
}

/// One ratio and how close it came to its target.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Which part (`readiness`, `waiting`...).
    pub part: &'static str,
    /// What the ratio is, in words (`poll / epoll at N=1000`).
    pub what: String,
    /// Its value.
    pub value: f64,
    /// Its target.
    pub goal: Goal,
    /// Whether the run that produced it was under high load.
    pub load_high: bool,
}

impl Verdict {
    /// Some(true) when the target is met, None when there is no target.
    pub fn met(&self) -> Option<bool> {
        match self.goal {
            Goal::AtMost(limit) => Some(self.value <= limit),
            Goal::AtLeast(limit) => Some(self.value >= limit),
            Goal::Info => None,
        }
    }

    /// `target <= 1.10: met (4% to spare)` / `target >= 0.90: missed by 3%`.
    pub fn describe_goal(&self) -> String {
        let (sign, limit) = match self.goal {
            Goal::AtMost(limit) => ("<=", limit),
            Goal::AtLeast(limit) => (">=", limit),
            Goal::Info => return String::new(),
        };
        let gap = ((self.value - limit) / limit).abs() * 100.0;
        match self.met() {
            Some(true) => format!("target {sign} {limit:.2}: met ({gap:.0}% to spare)"),
            _ => format!("target {sign} {limit:.2}: MISSED by {gap:.0}%"),
        }
    }
}

impl Bench {
    /// A part's heading.
    pub fn part(&self, number: u32, name: &str, summary: &str) {
        self.n.say("");
        self.n.say(self.n.paint(Style::Bold, format!("{number}. {summary}")));
        self.n.data("part", json!({"part": name, "number": number, "summary": summary}));
    }

    /// Emits one measurement as a JSON event (`measurement`), with its load.
    pub fn measurement(&self, part: &str, m: &Measured, unit: &str, extra: Value) {
        let mut fields = json!({
            "part": part,
            "variant": m.name,
            "unit": unit,
            "median": m.stats.median,
            "p10": m.stats.p10,
            "p90": m.stats.p90,
            "batches": m.stats.batches,
        });
        merge(&mut fields, m.load.to_json(self.cores));
        merge(&mut fields, extra);
        self.n.data("measurement", fields);
    }

    /// Records a ratio: a JSON `ratio` event now, a line in the closing summary later.
    pub fn ratio(
        &mut self,
        part: &'static str,
        what: impl Into<String>,
        value: f64,
        goal: Goal,
        load: &LoadSeen,
    ) {
        let verdict = Verdict { part, what: what.into(), value, goal, load_high: load.high(self.cores) };
        let (target, op) = match goal {
            Goal::AtMost(x) => (Some(x), Some("<=")),
            Goal::AtLeast(x) => (Some(x), Some(">=")),
            Goal::Info => (None, None),
        };
        self.n.data(
            "ratio",
            json!({"part": part, "what": verdict.what, "value": value, "target": target, "target_op": op,
                   "met": verdict.met(), "load_high": verdict.load_high}),
        );
        self.verdicts.push(verdict);
    }

    /// The load line under a table, flagged when high.
    pub fn load_line(&mut self, load: &LoadSeen) {
        self.load.merge(load);
        let text = format!("   ({}, {} readings)", load.describe(self.cores), load.samples);
        if load.high(self.cores) {
            self.n.say(self.n.paint(Style::Warn, text));
        } else {
            self.n.say(self.n.paint(Style::Dim, text));
        }
    }

    /// Prints a table (text mode only; JSON readers get `measurement` events).
    pub fn table(&self, table: &Table) {
        self.n.say(table.render());
    }

    /// Notes an SVG file written (text: one dim line; JSON: `plot_written`).
    pub fn plot_written(&self, path: &std::path::Path) {
        self.n.say(self.n.paint(Style::Dim, format!("   plot: {}", path.display())));
        self.n.data("plot_written", json!({"path": path.display().to_string()}));
    }

    /// The closing summary: every ratio, its target, and whether it was met.
    pub fn summary(&self) {
        let mut table = Table::new(&["part", "ratio", "value", "target", "load"]);
        for v in &self.verdicts {
            let goal = match v.goal {
                Goal::Info => "-".to_string(),
                _ => v.describe_goal(),
            };
            table.row(vec![
                v.part.to_string(),
                v.what.clone(),
                format!("{:.2}", v.value),
                goal,
                if v.load_high { "HIGH".into() } else { "ok".into() },
            ]);
        }
        self.n.say("");
        self.n.say(self.n.paint(Style::Bold, "Ratios and targets"));
        self.n.say(table.render());
        let with_target: Vec<&Verdict> = self.verdicts.iter().filter(|v| v.met().is_some()).collect();
        let met = with_target.iter().filter(|v| v.met() == Some(true)).count();
        self.n.say(format!(
            "{met} of {} targets met. {}",
            with_target.len(),
            if self.quick {
                "(--quick: tiny sizes; these numbers prove the tool runs, nothing more.)"
            } else {
                ""
            }
        ));
    }
}

/// Adds `extra`'s fields to `fields` (both JSON objects).
pub fn merge(fields: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(from)) = (fields, extra) {
        into.extend(from);
    }
}

/// A text table with a header row; numbers are right-aligned, words left-aligned.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(header: &[&str]) -> Self {
        Table { header: header.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    /// Adds a row (missing cells print empty).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, two spaces between columns.
    pub fn render(&self) -> String {
        let columns = self.header.len().max(self.rows.iter().map(Vec::len).max().unwrap_or(0));
        let cell = |row: &Vec<String>, c: usize| row.get(c).cloned().unwrap_or_default();
        let mut widths = vec![0usize; columns];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (c, width) in widths.iter_mut().enumerate() {
                *width = (*width).max(cell(row, c).chars().count());
            }
        }
        let numeric =
            |s: &str| s.chars().next().is_some_and(|ch| ch.is_ascii_digit() || ch == '-' || ch == '~');
        let mut out = String::new();
        for (r, row) in std::iter::once(&self.header).chain(&self.rows).enumerate() {
            let mut line = String::from("   ");
            for (c, width) in widths.iter().enumerate() {
                let text = cell(row, c);
                let pad = width - text.chars().count();
                if r > 0 && numeric(&text) && c > 0 {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(&text);
                } else {
                    line.push_str(&text);
                    line.push_str(&" ".repeat(pad));
                }
                line.push_str("  ");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.pop();
        out
    }
}

/// A duration in nanoseconds, in the unit that reads best: `85 ns`, `1.23 us`, `4.5 ms`.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "-".into()
    } else if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} us", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// `median (p10-p90)` for a table cell.
pub fn fmt_spread(m: &Measured, f: impl Fn(f64) -> String) -> String {
    format!("{} ({}-{})", f(m.stats.median), f(m.stats.p10), f(m.stats.p90))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_numbers_right_and_words_left() {
        let mut t = Table::new(&["call", "N=1", "N=1000"]);
        t.row(vec!["select".into(), "85 ns".into(), "31.20 us".into()]);
        t.row(vec!["epoll_wait".into(), "70 ns".into(), "71 ns".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "   call        N=1    N=1000");
        assert_eq!(lines[1], "   select      85 ns  31.20 us");
        assert_eq!(lines[2], "   epoll_wait  70 ns     71 ns");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(fmt_ns(85.2), "85 ns");
        assert_eq!(fmt_ns(1234.0), "1.23 us");
        assert_eq!(fmt_ns(4.5e6), "4.5 ms");
        assert_eq!(fmt_ns(2.0e9), "2.00 s");
    }

    #[test]
    fn verdicts_say_how_close() {
        let v =
            Verdict { part: "p", what: "x".into(), value: 1.05, goal: Goal::AtMost(1.1), load_high: false };
        assert_eq!(v.met(), Some(true));
        assert_eq!(v.describe_goal(), "target <= 1.10: met (5% to spare)");
        let v = Verdict { value: 0.8, goal: Goal::AtLeast(0.9), ..v };
        assert_eq!(v.met(), Some(false));
        assert_eq!(v.describe_goal(), "target >= 0.90: MISSED by 11%");
    }
}
