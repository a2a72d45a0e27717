//! How much of a demo's code is narration: the share of its code lines (not blank, not
//! comments) that belong to statements telling the student what happened, rather than
//! doing it. `just narration` prints it per demo; a test keeps every demo under a third.
//!
//! What is measured is narration *at the call sites*: a line counts when it is part of a
//! statement that calls the narrator (`.event(`, `.event_at(`, `.event_styled(`,
//! `.data(`, `.explain(`, `.say(`, `.title(`, `.timeline(`, or a `narrate_*` / `tell_*`
//! helper). The bodies of those helpers (functions named `narrate*`, `tell*`,
//! `explain*`, below the loop) are code but not counted as narration: moving the telling
//! out of the loop into one named helper per call is exactly what makes a loop read like
//! the notes. The count is rough on purpose: it is for seeing a trend from one change to
//! the next, not for grading.

use std::path::Path;

/// A demo's code lines and how many of them narrate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    pub code_lines: usize,
    pub narration_lines: usize,
}

impl Share {
    pub fn percent(&self) -> f64 {
        if self.code_lines == 0 {
            0.0
        } else {
            100.0 * self.narration_lines as f64 / self.code_lines as f64
        }
    }
}

const CALLS: [&str; 8] =
    [".event(", ".event_at(", ".event_styled(", ".data(", ".explain(", ".say(", ".title(", ".timeline("];

fn is_narration_call(line: &str) -> bool {
    CALLS.iter().any(|c| line.contains(c))
        || line.contains("narrate_")
        || line.trim_start().starts_with("tell_")
        || line.contains("::tell_")
}

fn narrating_fn(line: &str) -> bool {
    let Some(rest) =
        line.trim_start().trim_start_matches("pub ").trim_start_matches("pub(crate) ").strip_prefix("fn ")
    else {
        return false;
    };
    ["narrate", "tell", "explain"].iter().any(|p| rest.starts_with(p))
}

/// Counts one Rust source text.
pub fn count(text: &str) -> Share {
    let mut share = Share::default();
    // Depth of the narrating function we are inside (brace depth at its start), if any.
    let mut in_fn: Option<i64> = None;
    let mut depth: i64 = 0;
    // Open parentheses of a narration statement still going on.
    let mut statement: i64 = 0;
    let mut in_tests = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with("#[cfg(test)]") {
            in_tests = true;
        }
        if in_tests {
            continue;
        }
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        share.code_lines += 1;
        let opens = line.matches('{').count() as i64;
        let closes = line.matches('}').count() as i64;
        let parens = line.matches('(').count() as i64 - line.matches(')').count() as i64;
        let narrating = if in_fn.is_some() {
            false
        } else if statement > 0 {
            statement += parens;
            true
        } else if narrating_fn(line) {
            in_fn = Some(depth);
            false
        } else if is_narration_call(line) {
            statement = parens.max(0);
            true
        } else {
            false
        };
        if narrating {
            share.narration_lines += 1;
        }
        depth += opens - closes;
        if let Some(start) = in_fn {
            if depth <= start && closes > 0 {
                in_fn = None;
            }
        }
        if statement < 0 {
            statement = 0;
        }
    }
    share
}

/// Counts every `.rs` file in a demo's `src/`.
pub fn count_crate(folder: &Path) -> std::io::Result<Share> {
    let mut total = Share::default();
    for entry in std::fs::read_dir(folder.join("src"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let share = count(&std::fs::read_to_string(&path)?);
            total.code_lines += share.code_lines;
            total.narration_lines += share.narration_lines;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_and_helpers_count_as_narration_and_work_does_not() {
        let text = r#"
fn run(n: &Narrator) {
    // a comment
    let ready = select(&mut fds)?;
    n.event("ready", json!({ "n": ready }),
        format!("{ready} ready"));
    narrate_select(n, ready);
    read(fd)?;
}

fn narrate_select(n: &Narrator, ready: usize) {
    let text = format!("{ready}");
    n.say(text);
}

#[cfg(test)]
mod tests {
    fn x() { n.say("y"); }
}
"#;
        let share = count(text);
        assert_eq!(share.code_lines, 11);
        // the two-line event and the helper's call; not the helper itself
        assert_eq!(share.narration_lines, 3);
    }
}
