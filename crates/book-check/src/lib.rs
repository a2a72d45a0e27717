//! Checks that keep the book in `docs/` honest, run by `cargo test` (no mdbook needed).
//!
//! The book pulls code and program output out of the workspace instead of pasting it,
//! so most of what can go wrong is a reference that no longer points anywhere: an
//! `{{#include}}` of a file or anchor that was renamed, a link to a moved file, a
//! `just` recipe or demo flag that was dropped, or captured output from an older
//! version of a demo. This library finds those references in the Markdown and resolves
//! them; `tests/book.rs` runs it over the real book and fails with a list of what is
//! broken and how to fix it.
//!
//! The parsing here is deliberately small (no Markdown crate): the book is our own, and
//! a check that is easy to read is easier to trust.

pub mod narration;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    normalize(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Every `.md` file under `dir`, sorted, skipping `captured/` (program output).
pub fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "captured") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `a/b/../c` -> `a/c`, without touching the file system (paths may not exist).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Code fences and inline code
// ---------------------------------------------------------------------------------

/// A fenced code block: its info string (`rust`, `text`, `sh`...), body and first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The info string after the opening fence, trimmed (may be empty).
    pub lang: String,
    /// The lines between the fences.
    pub body: String,
    /// 1-based line number of the opening fence.
    pub line: usize,
}

/// Splits Markdown into fenced code blocks and the rest ("prose", with fences replaced
/// by blank lines so line numbers stay right).
pub fn split_fences(md: &str) -> (Vec<Fence>, String) {
    let mut fences = Vec::new();
    let mut prose = String::new();
    let mut open: Option<(String, String, usize, usize)> = None; // (marker, lang, line, body start)
    let mut body = String::new();
    for (i, line) in md.lines().enumerate() {
        let trimmed = line.trim_start();
        match &open {
            None => {
                let marker: String = trimmed.chars().take_while(|&c| c == '`' || c == '~').collect();
                if marker.len() >= 3 && marker.chars().all(|c| c == marker.chars().next().unwrap_or('`')) {
                    let lang = trimmed[marker.len()..].trim().to_string();
                    open = Some((marker, lang, i + 1, i));
                    body.clear();
                    prose.push('\n');
                } else {
                    prose.push_str(line);
                    prose.push('\n');
                }
            }
            Some((marker, lang, start, _)) => {
                if trimmed.starts_with(marker.as_str())
                    && trimmed.trim_end().chars().all(|c| c == '`' || c == '~')
                {
                    fences.push(Fence { lang: lang.clone(), body: body.clone(), line: *start });
                    open = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
                prose.push('\n');
            }
        }
    }
    if let Some((_, lang, start, _)) = open {
        fences.push(Fence { lang, body, line: start });
    }
    (fences, prose)
}

/// The inline code spans (`` `like this` ``) in prose, with their line numbers.
pub fn inline_code(prose: &str) -> Vec<(usize, String)> {
    let mut spans = Vec::new();
    for (i, line) in prose.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            let ticks = rest[start..].chars().take_while(|&c| c == '`').count();
            let after = &rest[start + ticks..];
            let closing = "`".repeat(ticks);
            match after.find(&closing) {
                Some(end) => {
                    spans.push((i + 1, after[..end].trim().to_string()));
                    rest = &after[end + ticks..];
                }
                None => break,
            }
        }
    }
    spans
}

/// Prose with inline code spans blanked out (links are not looked for inside code).
pub fn without_inline_code(prose: &str) -> String {
    let mut out = String::new();
    for line in prose.lines() {
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
                out.push(' ');
            } else {
                out.push(if in_code { ' ' } else { c });
            }
        }
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------
// {{#include}}
// ---------------------------------------------------------------------------------

/// What part of a file an include takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The whole file.
    All,
    /// The lines between `ANCHOR: name` and `ANCHOR_END: name`.
    Anchor(String),
    /// Lines `start..=end` (1-based; `None` = to the end of the file).
    Lines(usize, Option<usize>),
}

/// One `{{#include path[:selector]}}` (or `{{#rustdoc_include}}`) directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// 1-based line of the directive.
    pub line: usize,
    /// The path as written (relative to the Markdown file's folder).
    pub path: String,
    /// Which part of the file.
    pub selector: Selector,
}

/// Finds the include directives mdBook would expand (an escaped `\{{#include}}` is
/// shown literally by mdBook, so it is skipped here too). mdBook expands them inside
/// code fences as well, so the whole text is searched.
pub fn includes(md: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for (i, line) in md.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find("{{#") {
            let at = from + pos;
            from = at + 3;
            if at > 0 && line.as_bytes()[at - 1] == b'\\' {
                continue;
            }
            let Some(end) = line[at..].find("}}") else { break };
            let inner = line[at + 3..at + end].trim();
            let (kind, arg) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
            if kind != "include" && kind != "rustdoc_include" {
                continue;
            }
            found.push(parse_include(i + 1, arg.trim()));
        }
    }
    found
}

fn parse_include(line: usize, arg: &str) -> Include {
    let mut parts = arg.splitn(2, ':');
    let path = parts.next().unwrap_or("").trim().to_string();
    let selector = match parts.next() {
        None => Selector::All,
        Some(sel) => {
            let (a, b) = match sel.split_once(':') {
                Some((a, b)) => (a, Some(b)),
                None => (sel, None),
            };
            match (a.parse::<usize>(), b) {
                (Ok(start), None) => Selector::Lines(start, Some(start)),
                (Ok(start), Some("")) => Selector::Lines(start, None),
                (Ok(start), Some(end)) => Selector::Lines(start, end.parse().ok()),
                (Err(_), Some(end)) if a.is_empty() => Selector::Lines(1, end.parse().ok()),
                _ => Selector::Anchor(sel.trim().to_string()),
            }
        }
    };
    Include { line, path, selector }
}

/// The text an include would insert, or why it cannot be resolved.
pub fn resolve_include(md_dir: &Path, inc: &Include) -> Result<String, String> {
    let path = normalize(&md_dir.join(&inc.path));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {} ({e})", path.display()))?;
    match &inc.selector {
        Selector::All => Ok(text),
        Selector::Anchor(name) => anchor_region(&text, name).ok_or_else(|| {
            format!("no `ANCHOR: {name}` ... `ANCHOR_END: {name}` pair in {}", path.display())
        }),
        Selector::Lines(start, end) => {
            let lines: Vec<&str> = text.lines().collect();
            let last = end.unwrap_or(lines.len());
            if *start == 0 || *start > lines.len() || last > lines.len() || last < *start {
                return Err(format!(
                    "lines {start}..{last} are outside {} ({} lines)",
                    path.display(),
                    lines.len()
                ));
            }
            Ok(lines[start - 1..last].join("\n"))
        }
    }
}

/// Whether `line` holds the marker `tag` (`ANCHOR:` or `ANCHOR_END:`) for `name`.
fn has_marker(line: &str, tag: &str, name: &str) -> bool {
    let mut rest = line;
    while let Some(pos) = rest.find(tag) {
        let after = rest[pos + tag.len()..].trim_start();
        let word: String =
            after.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-').collect();
        if word == name {
            return true;
        }
        rest = &rest[pos + tag.len()..];
    }
    false
}

/// The lines between `ANCHOR: name` and `ANCHOR_END: name` (markers of other anchors
/// inside are dropped, as mdBook does). `None` when either marker is missing or the
/// region is empty.
pub fn anchor_region(text: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| has_marker(l, "ANCHOR:", name))?;
    let end = start + lines[start..].iter().position(|l| has_marker(l, "ANCHOR_END:", name))?;
    let body: Vec<&str> = lines[start + 1..end]
        .iter()
        .copied()
        .filter(|l| !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:"))
        .collect();
    if body.iter().all(|l| l.trim().is_empty()) {
        None
    } else {
        Some(body.join("\n"))
    }
}

// ---------------------------------------------------------------------------------
// Links and headings
// ---------------------------------------------------------------------------------

/// A link target in prose (inline `[text](target)`, reference `[x]: target`, or
/// `href="target"`), with its line.
pub fn links(prose: &str) -> Vec<(usize, String)> {
    let text = without_inline_code(prose);
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(pos) = rest.find("](") {
            let after = &rest[pos + 2..];
            let mut depth = 0;
            let mut end = after.len();
            for (j, c) in after.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = j;
                        break;
                    }
                    ')' => depth -= 1,
                    _ => {}
                }
            }
            let target = after[..end].split_whitespace().next().unwrap_or("");
            found.push((i + 1, target.trim_matches(|c| c == '<' || c == '>').to_string()));
            rest = &after[end.min(after.len())..];
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if let Some(pos) = trimmed.find("]: ") {
                if !trimmed[..pos].contains('(') {
                    found.push((
                        i + 1,
                        trimmed[pos + 3..].split_whitespace().next().unwrap_or("").to_string(),
                    ));
                }
            }
        }
        let mut rest = line;
        while let Some(pos) = rest.find("href=\"") {
            let after = &rest[pos + 6..];
            let end = after.find('"').unwrap_or(after.len());
            found.push((i + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    found
}

/// True for targets that leave the book (web addresses, mail) and are not checked.
pub fn is_external(target: &str) -> bool {
    target.contains("://") || target.starts_with("mailto:") || target.starts_with("//")
}

/// The id mdBook gives a heading: lower case, spaces to `-`, other punctuation dropped.
pub fn heading_id(heading: &str) -> String {
    // Markdown around the words is not part of the rendered text.
    let mut plain = String::new();
    let mut chars = heading.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => {}
            ']' if chars.peek() == Some(&'(') => {
                for c in chars.by_ref() {
                    if c == ')' {
                        break;
                    }
                }
            }
            '`' | '*' => {}
            other => plain.push(other),
        }
    }
    plain
        .trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The ids of every heading in `md` (outside code), with mdBook's `-1`, `-2` suffixes
/// for repeats.
pub fn heading_ids(md: &str) -> BTreeSet<String> {
    let (_, prose) = split_fences(md);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for line in prose.lines() {
        let t = line.trim_start();
        let hashes = t.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            let id = heading_id(&t[hashes..]);
            let n = seen.entry(id.clone()).or_insert(0);
            ids.insert(if *n == 0 { id.clone() } else { format!("{id}-{n}") });
            *n += 1;
        }
    }
    ids
}

// ---------------------------------------------------------------------------------
// The justfile, commands shown in the book, and demo flags
// ---------------------------------------------------------------------------------

/// The recipe names (and aliases) a justfile defines.
pub fn justfile_recipes(justfile: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in justfile.lines() {
        if line.starts_with(|c: char| c.is_whitespace() || c == '#') || line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("alias ") {
            if let Some((name, _)) = rest.split_once(":=") {
                names.insert(name.trim().to_string());
            }
            continue;
        }
        if line.contains(":=") || line.starts_with("set ") || line.starts_with("export ") {
            continue;
        }
        if let Some((head, _)) = line.split_once(':') {
            let name = head.split_whitespace().next().unwrap_or("").trim_start_matches('@');
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                names.insert(name.to_string());
            }
        }
    }
    names
}

/// One command the book tells a student to type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// 1-based line in the Markdown file.
    pub line: usize,
    /// The `just` recipe, when the command is `just RECIPE ...`.
    pub recipe: Option<String>,
    /// The program whose flags the arguments are: a demo package (`just run NAME`,
    /// `just trace NAME`, `cargo demo NAME`, `target/debug/NAME`), or `bench`.
    pub program: Option<String>,
    /// The arguments that start with `-` (flags), `=value` cut off.
    pub flags: Vec<String>,
    /// The command as written.
    pub text: String,
}

/// The commands in one line of code: split at `&&`, `;`, `|`, and cut at ` #`.
pub fn commands_in_line(line_no: usize, line: &str) -> Vec<Shown> {
    let line = line.trim().trim_start_matches("$ ");
    let line = match line.find(" #") {
        Some(pos) => &line[..pos],
        None => line,
    };
    let mut found = Vec::new();
    for segment in line.split("&&").flat_map(|s| s.split(';')).flat_map(|s| s.split('|')) {
        let words: Vec<&str> = segment.split_whitespace().collect();
        let Some(start) =
            words.iter().position(|w| *w == "just" || *w == "cargo" || w.contains("target/debug/"))
        else {
            continue;
        };
        let words = &words[start..];
        let (recipe, program, args): (Option<String>, Option<String>, &[&str]) = match words {
            ["just", r, rest @ ..] if !r.starts_with('-') => match (*r, rest) {
                ("run" | "trace", [name, args @ ..]) => (Some(r.to_string()), Some(name.to_string()), args),
                ("bench", args) => (Some(r.to_string()), Some("bench".into()), args),
                (_, args) => (Some(r.to_string()), None, args),
            },
            ["cargo", "demo", name, args @ ..] if !name.starts_with('-') => {
                (None, Some(name.to_string()), args)
            }
            [bin, args @ ..] if bin.contains("target/debug/") => {
                (None, bin.rsplit('/').next().map(str::to_string), args)
            }
            _ => continue,
        };
        // Placeholders (NAME, ARGS) are not real names.
        let program = program.filter(|p| !p.chars().all(|c| c.is_ascii_uppercase() || c == '.'));
        let flags = args
            .iter()
            .filter(|a| a.starts_with('-') && a.len() > 1 && !a.starts_with("-->"))
            .map(|a| a.split('=').next().unwrap_or(a).trim_end_matches([',', '.', ')']).to_string())
            .collect();
        found.push(Shown { line: line_no, recipe, program, flags, text: segment.trim().to_string() });
    }
    found
}

/// Every command shown in `md`: in shell-ish code fences and in inline code.
pub fn shown_commands(md: &str) -> Vec<Shown> {
    let (fences, prose) = split_fences(md);
    let mut found = Vec::new();
    for fence in &fences {
        let lang = fence.lang.split([',', ' ']).next().unwrap_or("");
        if !matches!(lang, "" | "sh" | "bash" | "shell" | "console" | "text") {
            continue;
        }
        for (i, line) in fence.body.lines().enumerate() {
            // Only command lines: a prompt, or (in sh/bash fences) any line.
            let is_command = line.trim_start().starts_with("$ ") || matches!(lang, "sh" | "bash" | "shell");
            if is_command {
                found.extend(commands_in_line(fence.line + 1 + i, line));
            }
        }
    }
    for (line, code) in inline_code(&prose) {
        found.extend(commands_in_line(line, &code));
    }
    found
}

/// The flags a program's `--help` text mentions (`--json`, `-h`...).
pub fn help_flags(help: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for word in help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        let long = word.starts_with("--") && word.len() > 2 && word.as_bytes()[2].is_ascii_alphabetic();
        let short = word.len() == 2 && word.starts_with('-') && word.as_bytes()[1].is_ascii_alphabetic();
        if long || short {
            flags.insert(word.to_string());
        }
    }
    flags
}

// ---------------------------------------------------------------------------------
// Captured output
// ---------------------------------------------------------------------------------

/// How a capture's events are compared with a fresh run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The order of event names, with repeats of the same name in a row merged
    /// (single-threaded demos whose story is always told in the same order).
    Sequence,
    /// The set of event names (concurrent demos interleave events differently each run).
    Set,
    /// These event names must all appear; others may come and go (runs whose narration
    /// batches events differently under load, such as 2000 clients at once).
    Required,
}

/// What `docs/capture.sh` recorded about one captured run (`captured/NAME.events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRecord {
    /// The demo package.
    pub demo: String,
    /// The arguments it was run with (without `--json`).
    pub args: Vec<String>,
    /// The text output file the chapter includes, relative to `captured/`.
    pub output: String,
    /// How to compare.
    pub compare: Compare,
    /// The demo's title line (`name: summary (notes: "...")`).
    pub title: String,
    /// The event names, as `compare` says.
    pub events: Vec<String>,
}

/// Parses a `.events` file (`key: value` lines; `#` starts a comment).
pub fn parse_record(text: &str) -> Result<CaptureRecord, String> {
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (key, value) = line.split_once(':').ok_or_else(|| format!("not `key: value`: {line}"))?;
        fields.insert(key.trim(), value.trim());
    }
    let get = |key: &str| fields.get(key).copied().ok_or_else(|| format!("missing `{key}:`"));
    Ok(CaptureRecord {
        demo: get("demo")?.to_string(),
        args: get("args")?.split_whitespace().map(str::to_string).collect(),
        output: get("output")?.to_string(),
        compare: match get("compare")? {
            "sequence" => Compare::Sequence,
            "set" => Compare::Set,
            "required" => Compare::Required,
            other => return Err(format!("compare must be sequence, set or required, not {other}")),
        },
        title: get("title")?.to_string(),
        events: get("events")?.split_whitespace().map(str::to_string).collect(),
    })
}

/// The event names of a `--json` run, reduced as `compare` says. Lines that are not
/// JSON objects with an `event` are ignored (a demo's stderr is not mixed in).
pub fn event_names(json_lines: &str, compare: Compare) -> Vec<String> {
    let names = json_lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("event").and_then(|e| e.as_str()).map(str::to_string));
    match compare {
        Compare::Sequence => {
            let mut seq: Vec<String> = Vec::new();
            for name in names {
                if seq.last() != Some(&name) {
                    seq.push(name);
                }
            }
            seq
        }
        Compare::Set | Compare::Required => names.collect::<BTreeSet<_>>().into_iter().collect(),
    }
}

/// Whether a fresh run's events (`now`, reduced as `compare` says) match the record's.
pub fn events_match(compare: Compare, recorded: &[String], now: &[String]) -> bool {
    match compare {
        Compare::Sequence | Compare::Set => recorded == now,
        Compare::Required => recorded.iter().all(|e| now.contains(e)),
    }
}

/// The title line of a `--json` run, as the text output prints it.
pub fn json_title(json_lines: &str) -> Option<String> {
    let first: serde_json::Value = serde_json::from_str(json_lines.lines().next()?).ok()?;
    if first["event"] != "demo" {
        return None;
    }
    Some(format!(
        "{}: {} (notes: \"{}\")",
        first["name"].as_str()?,
        first["summary"].as_str()?,
        first["notes"].as_str()?
    ))
}

/// True for a line of narrated output (`[   1.002] ...`): such lines in the book
/// must come from a capture, never be typed by hand.
pub fn is_narrated_line(line: &str) -> bool {
    let t = line.trim_start();
    let Some(rest) = t.strip_prefix('[') else { return false };
    let Some(end) = rest.find(']') else { return false };
    let stamp = rest[..end].trim();
    stamp.split_once('.').is_some_and(|(s, ms)| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_digit())
            && ms.len() == 3
            && ms.chars().all(|c| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_prose_are_separated() {
        let md = "a `x`\n```rust\nfn f() {}\n```\nb\n";
        let (fences, prose) = split_fences(md);
        assert_eq!(fences, vec![Fence { lang: "rust".into(), body: "fn f() {}\n".into(), line: 2 }]);
        assert_eq!(prose, "a `x`\n\n\n\nb\n");
        assert_eq!(inline_code(&prose), vec![(1, "x".to_string())]);
    }

    #[test]
    fn includes_are_parsed_and_escapes_skipped() {
        let md = "{{#include ../a.rs:setup}}\n\\{{#include no.rs}}\n{{#include b.txt}} {{#include c.rs:3:5}}\n{{#include d.rs::4}}";
        let inc = includes(md);
        assert_eq!(inc.len(), 4);
        assert_eq!(inc[0].selector, Selector::Anchor("setup".into()));
        assert_eq!(inc[0].path, "../a.rs");
        assert_eq!(inc[1].selector, Selector::All);
        assert_eq!(inc[2].selector, Selector::Lines(3, Some(5)));
        assert_eq!(inc[3].selector, Selector::Lines(1, Some(4)));
    }

    #[test]
    fn anchors_resolve_and_nested_markers_are_dropped() {
        let src = "a\n// ANCHOR: outer\nb\n// ANCHOR: inner\nc\n// ANCHOR_END: inner\n// ANCHOR_END: outer\n";
        assert_eq!(anchor_region(src, "outer").unwrap(), "b\nc");
        assert_eq!(anchor_region(src, "inner").unwrap(), "c");
        assert_eq!(anchor_region(src, "out"), None);
        assert_eq!(anchor_region("// ANCHOR: x\n// ANCHOR_END: x\n", "x"), None);
    }

    #[test]
    fn links_outside_code_are_found() {
        let prose = "see [a](a.md#x) and `[b](b.md)`\n[c]: ../c.rs\n<a href=\"d.html\">d</a>\n";
        let found: Vec<String> = links(prose).into_iter().map(|(_, t)| t).collect();
        assert_eq!(found, vec!["a.md#x", "../c.rs", "d.html"]);
    }

    #[test]
    fn heading_ids_follow_mdbook() {
        assert_eq!(heading_id(" Run it"), "run-it");
        assert_eq!(heading_id(" `select()` rewrites its timeout!"), "select-rewrites-its-timeout");
        assert_eq!(heading_id(" [poll](x.md) and O_NONBLOCK"), "poll-and-o_nonblock");
        let ids = heading_ids("# A\n## Try this\n```\n# not\n```\n## Try this\n");
        assert_eq!(ids, ["a", "try-this", "try-this-1"].iter().map(|s| s.to_string()).collect());
    }

    #[test]
    fn justfile_recipes_are_parsed() {
        let j = "set shell := [\"bash\"]\ntarget := env_var(\"X\")\n# c\ndefault:\n    @just --list\nrun NAME *ARGS:\n    cargo\n@quiet:\nalias r := run\n";
        let names: Vec<String> = justfile_recipes(j).into_iter().collect();
        assert_eq!(names, vec!["default", "quiet", "r", "run"]);
    }

    #[test]
    fn commands_and_flags_are_found() {
        let c = commands_in_line(3, "$ just run select --json --listen=127.0.0.1:0 | head  # watch");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].recipe.as_deref(), Some("run"));
        assert_eq!(c[0].program.as_deref(), Some("select"));
        assert_eq!(c[0].flags, vec!["--json", "--listen"]);
        let c = commands_in_line(1, "cargo demo poll -h && just book");
        assert_eq!(c[0].program.as_deref(), Some("poll"));
        assert_eq!(c[0].flags, vec!["-h"]);
        assert_eq!(c[1].recipe.as_deref(), Some("book"));
        assert_eq!(commands_in_line(1, "just run NAME --json")[0].program, None);
        assert_eq!(
            commands_in_line(1, "target/debug/aio-cancel x")[0].program.as_deref(),
            Some("aio-cancel")
        );
        assert!(commands_in_line(1, "just --list")[0..].is_empty());
    }

    #[test]
    fn help_flags_are_collected() {
        let help = "Options:\n      --json   JSON\n  -h, --help  Print help\n      --delay-ms <MS>  x\nExamples:\n  demo --file-kib 3";
        let flags: Vec<String> = help_flags(help).into_iter().collect();
        assert_eq!(flags, vec!["--delay-ms", "--file-kib", "--help", "--json", "-h"]);
    }

    #[test]
    fn records_and_event_names() {
        let rec = parse_record(
            "# c\ndemo: poll\nargs: --delay-ms 5\noutput: poll.txt\ncompare: sequence\ntitle: poll: x (notes: \"y\")\nevents: demo a b\n",
        )
        .unwrap();
        assert_eq!(rec.args, vec!["--delay-ms", "5"]);
        assert_eq!(rec.compare, Compare::Sequence);
        assert_eq!(rec.events, vec!["demo", "a", "b"]);
        let lines = "{\"t_ms\":0,\"event\":\"demo\",\"name\":\"p\",\"summary\":\"s\",\"notes\":\"n\"}\n{\"event\":\"b\"}\n{\"event\":\"b\"}\n{\"event\":\"a\"}\nnoise\n";
        assert_eq!(event_names(lines, Compare::Sequence), vec!["demo", "b", "a"]);
        assert_eq!(event_names(lines, Compare::Set), vec!["a", "b", "demo"]);
        assert_eq!(json_title(lines).unwrap(), "p: s (notes: \"n\")");
        let now = event_names(lines, Compare::Required);
        assert!(events_match(Compare::Required, &["demo".into(), "a".into()], &now));
        assert!(!events_match(Compare::Required, &["demo".into(), "z".into()], &now));
        assert!(!events_match(Compare::Set, &["demo".into(), "a".into()], &now));
    }

    #[test]
    fn narrated_lines_are_recognised() {
        assert!(is_narrated_line("[   1.002] read(fd 3)"));
        assert!(is_narrated_line("  [  12.000] x"));
        assert!(!is_narrated_line("[link](x)"));
        assert!(!is_narrated_line("[1.2] x"));
    }

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(normalize(Path::new("docs/src/../../crates/x")), PathBuf::from("crates/x"));
    }
}
