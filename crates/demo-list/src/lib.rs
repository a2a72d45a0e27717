//! The one list of demos, read from `demos.toml` at the workspace root.
//!
//! run-demo (`just run NAME`), the robustness tests, book-check, `just trace` and
//! docs/capture.sh all ask this crate which demos exist and what they are, so adding a
//! demo is its crate, one entry in `demos.toml` and its chapter.
//!
//! The file is compiled in (`include_str!`), so a binary built from one checkout never
//! reads another checkout's list. It is a small subset of TOML (`[name]` sections of
//! `key = "text"`, `key = 123`, `key = true`) read by the parser below, which refuses
//! anything else: a typo fails the tests here rather than a tool later.

use std::sync::OnceLock;

/// The file's text, as compiled in.
pub const SOURCE: &str = include_str!("../../../demos.toml");

/// What a demo is about; it decides which shared tests and checks apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A read on a file, pipe or socket (blocking-read, nonblocking-read).
    Read,
    /// A chat server: `--listen`, `--clients`, the shared chat tests.
    Chat,
    /// libcurl's multi interface: positional URLs, the shared transfer checks.
    Curl,
    /// POSIX AIO.
    Aio,
    /// io_uring.
    Uring,
}

/// Whether the notes teach the technique, or it goes beyond them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Notes,
    Beyond,
}

/// What a demo's positional arguments are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Args {
    None,
    Paths,
    Urls,
}

/// What SIGINT or SIGTERM does to a demo's no-argument run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// The signal's default action ends it.
    Dies,
    /// It handles the signal: says goodbye to its clients, then exits with an error
    /// line saying the run was cut short.
    Handles,
}

/// One entry of `demos.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demo {
    /// Package and binary name (the section name).
    pub name: &'static str,
    /// The crate's folder, relative to the workspace root (`crates/03-select`).
    pub folder: &'static str,
    pub kind: Kind,
    pub part: Part,
    /// One line for `just list`.
    pub summary: &'static str,
    /// The notes section it goes with, `-` for none.
    pub notes: &'static str,
    /// Its book chapter, relative to the workspace root (`docs/src/03-select.md`).
    pub chapter: &'static str,
    /// The system calls `just trace NAME` shows, comma-separated.
    pub trace: &'static str,
    /// Whether `just trace` follows threads (`strace -f`).
    pub threads: bool,
    /// About how long its no-argument run takes, in milliseconds.
    pub run_ms: u64,
    pub args: Args,
    pub on_stop: OnStop,
}

impl Demo {
    /// The chapter's file name (`03-select.md`), as SUMMARY.md links it.
    pub fn chapter_file(&self) -> &'static str {
        self.chapter.rsplit('/').next().unwrap_or(self.chapter)
    }
}

/// Every demo, in reading order.
pub fn all() -> &'static [Demo] {
    static DEMOS: OnceLock<Vec<Demo>> = OnceLock::new();
    DEMOS.get_or_init(|| match parse(SOURCE) {
        Ok(demos) => demos,
        // The file is part of the source; the tests below parse it, so this cannot
        // happen in a build whose tests passed.
        Err(e) => panic!("demos.toml: {e}"),
    })
}

/// The demo called `name`.
pub fn find(name: &str) -> Option<&'static Demo> {
    all().iter().find(|d| d.name == name)
}

/// The demos of one kind, in reading order.
pub fn of_kind(kind: Kind) -> impl Iterator<Item = &'static Demo> {
    all().iter().filter(move |d| d.kind == kind)
}

/// The names of the demos of one kind, in reading order.
pub fn names_of_kind(kind: Kind) -> Vec<&'static str> {
    of_kind(kind).map(|d| d.name).collect()
}

/// The known demo closest to `typed` by edit distance, if it is close enough to be
/// what the user meant (`selct` -> `select`).
pub fn did_you_mean(typed: &str) -> Option<&'static str> {
    all()
        .iter()
        .map(|d| (edit_distance(typed, d.name), d.name))
        .filter(|(distance, name)| *distance <= 2.max(name.len() / 4))
        .min()
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// One `key = value` line: its number, the key and the raw value.
type Entry = (usize, &'static str, &'static str);

/// Parses the text of `demos.toml`. Every key must be known and present exactly once.
pub fn parse(text: &'static str) -> Result<Vec<Demo>, String> {
    let mut sections: Vec<(usize, &'static str, Vec<Entry>)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((line_no, name.trim(), Vec::new()));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {line_no}: expected `key = value` or `[name]`: {line}"));
        };
        let Some((_, _, keys)) = sections.last_mut() else {
            return Err(format!("line {line_no}: `{}` before the first [name]", key.trim()));
        };
        keys.push((line_no, key.trim(), value.trim()));
    }
    sections.into_iter().map(|(line_no, name, keys)| demo(line_no, name, &keys)).collect()
}

fn demo(
    line_no: usize,
    name: &'static str,
    keys: &[(usize, &'static str, &'static str)],
) -> Result<Demo, String> {
    const KNOWN: [&str; 11] = [
        "folder", "kind", "part", "summary", "notes", "chapter", "trace", "threads", "run_ms", "args",
        "on_stop",
    ];
    let at = |what: String| format!("[{name}] (line {line_no}): {what}");
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(at("a demo's name is lower-case letters, digits and '-'".into()));
    }
    for (i, (line, key, _)) in keys.iter().enumerate() {
        if !KNOWN.contains(key) {
            return Err(at(format!("line {line}: unknown key `{key}`")));
        }
        if keys[..i].iter().any(|(_, k, _)| k == key) {
            return Err(at(format!("line {line}: `{key}` given twice")));
        }
    }
    let raw = |key: &str| -> Result<&'static str, String> {
        keys.iter().find(|(_, k, _)| *k == key).map(|(_, _, v)| *v).ok_or_else(|| at(format!("no `{key}`")))
    };
    let text = |key: &str| -> Result<&'static str, String> {
        let value = raw(key)?;
        value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|v| !v.contains('"'))
            .ok_or_else(|| at(format!("`{key}` must be one \"quoted\" string, not {value}")))
    };
    let choice = |key: &str, options: &[&str]| -> Result<usize, String> {
        let value = text(key)?;
        options
            .iter()
            .position(|o| *o == value)
            .ok_or_else(|| at(format!("`{key}` is {value:?}; it must be one of {}", options.join(", "))))
    };
    let threads = match raw("threads")? {
        "true" => true,
        "false" => false,
        other => return Err(at(format!("`threads` must be true or false, not {other}"))),
    };
    let run_ms =
        raw("run_ms")?.parse().map_err(|_| at("`run_ms` must be a whole number of milliseconds".into()))?;
    let kind = [Kind::Read, Kind::Chat, Kind::Curl, Kind::Aio, Kind::Uring]
        [choice("kind", &["read", "chat", "curl", "aio", "uring"])?];
    Ok(Demo {
        name,
        folder: text("folder")?,
        kind,
        part: [Part::Notes, Part::Beyond][choice("part", &["notes", "beyond"])?],
        summary: text("summary")?,
        notes: text("notes")?,
        chapter: text("chapter")?,
        trace: text("trace")?,
        threads,
        run_ms,
        args: [Args::None, Args::Paths, Args::Urls][choice("args", &["none", "paths", "urls"])?],
        on_stop: [OnStop::Dies, OnStop::Handles][choice("on_stop", &["dies", "handles"])?],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_parses_and_names_each_demo_once() {
        let demos = parse(SOURCE).unwrap_or_else(|e| panic!("{e}"));
        assert!(demos.len() >= 10, "{} demos", demos.len());
        for (i, d) in demos.iter().enumerate() {
            assert!(demos[..i].iter().all(|e| e.name != d.name), "{} listed twice", d.name);
            assert!(d.folder.starts_with("crates/"), "{}: folder {}", d.name, d.folder);
            assert!(d.chapter.starts_with("docs/src/") && d.chapter.ends_with(".md"), "{}", d.name);
            assert!(!d.trace.is_empty() && !d.trace.contains(' '), "{}: trace {:?}", d.name, d.trace);
        }
        assert_eq!(demos[0].name, "blocking-read");
        assert_eq!(find("select").map(|d| d.kind), Some(Kind::Chat));
        assert_eq!(find("pselect").map(|d| d.on_stop), Some(OnStop::Handles));
    }

    #[test]
    fn mistakes_in_the_file_are_refused_with_the_line() {
        let good = "[x]\nfolder = \"crates/x\"\nkind = \"read\"\npart = \"notes\"\nsummary = \"s\"\nnotes = \"-\"\nchapter = \"docs/src/x.md\"\ntrace = \"read\"\nthreads = true\nrun_ms = 5\nargs = \"none\"\non_stop = \"dies\"\n";
        assert_eq!(parse(good).map(|d| d.len()), Ok(1));
        let typo: &'static str =
            Box::leak(good.replace("kind = \"read\"", "kind = \"reed\"").into_boxed_str());
        let err = parse(typo).unwrap_err();
        assert!(err.contains("`kind` is \"reed\"") && err.contains("line 1"), "{err}");
        let extra: &'static str = Box::leak(format!("{good}colour = \"red\"\n").into_boxed_str());
        assert!(parse(extra).unwrap_err().contains("unknown key `colour`"));
        let missing: &'static str = Box::leak(good.replace("run_ms = 5\n", "").into_boxed_str());
        assert!(parse(missing).unwrap_err().contains("no `run_ms`"));
        assert!(parse("folder = \"x\"\n").unwrap_err().contains("before the first [name]"));
    }

    #[test]
    fn a_near_miss_suggests_the_demo() {
        assert_eq!(did_you_mean("selct"), Some("select"));
        assert_eq!(did_you_mean("pol"), Some("poll"));
        assert_eq!(did_you_mean("aio-cancle"), Some("aio-cancel"));
        assert_eq!(did_you_mean("curl_multi"), Some("curl-multi"));
        assert_eq!(did_you_mean("zzzzzzzzzz"), None);
    }
}
