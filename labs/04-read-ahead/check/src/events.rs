//! Reading a submission's `--json` events and judging their order: is the read of block
//! k+1 started before the processing of block k ends, and are at most two buffers in
//! use at once?
//!
//! The events are the program's own account, so this is half the story; the paced FIFO
//! check (`fifo.rs`) measures the same thing from outside.

use serde_json::Value;
use std::collections::BTreeMap;

/// One event the checker cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    ReadStart { offset: u64, bytes: u64 },
    ReadDone { bytes: u64 },
    ProcessStart { bytes: u64 },
    ProcessEnd,
}

/// An event with its place in stdout (line numbers from 1).
#[derive(Debug, Clone)]
pub struct Event {
    pub line: usize,
    pub file: u64,
    pub block: u64,
    pub kind: Kind,
}

/// A `hash` event: its stdout line, the hash text and the `path` (None when missing).
#[derive(Debug, Clone)]
pub struct Hash {
    pub line: usize,
    pub hash: String,
    pub path: Option<String>,
}

/// What a `--json` run said: the block events in order, and each file's hash.
#[derive(Debug, Default)]
pub struct Account {
    pub events: Vec<Event>,
    /// file index -> its hash event
    pub hashes: BTreeMap<u64, Hash>,
}

impl Account {
    /// The first `read_start` that asks for other than `bytes` bytes.
    pub fn read_not_asking(&self, bytes: u64) -> Option<(&Event, u64)> {
        self.events.iter().find_map(|e| match e.kind {
            Kind::ReadStart { bytes: asked, .. } if asked != bytes => Some((e, asked)),
            _ => None,
        })
    }

    /// The first `read_done` that says more than `most` bytes.
    pub fn read_done_over(&self, most: u64) -> Option<(&Event, u64)> {
        self.events.iter().find_map(|e| match e.kind {
            Kind::ReadDone { bytes } if bytes > most => Some((e, bytes)),
            _ => None,
        })
    }
}

fn field(v: &Value, name: &str, line: usize, event: &str) -> Result<u64, String> {
    v.get(name).and_then(Value::as_u64).ok_or_else(|| {
        format!("stdout line {line}: a {event} event needs a whole-number \"{name}\" field: {v}")
    })
}

/// Parses stdout as JSON Lines. Every non-empty line must be a JSON object with a string
/// "event"; events other than the five below are allowed and ignored.
pub fn parse(stdout: &str) -> Result<Account, String> {
    let mut account = Account::default();
    for (i, text) in stdout.lines().enumerate() {
        let line = i + 1;
        if text.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(text).map_err(|e| {
            format!("stdout line {line} is not JSON ({e}): {text:?}; with --json every stdout line must be one JSON object")
        })?;
        let Some(name) = v.get("event").and_then(Value::as_str) else {
            return Err(format!("stdout line {line} has no string \"event\" field: {text}"));
        };
        let kind = match name {
            "read_start" => Kind::ReadStart {
                offset: field(&v, "offset", line, name)?,
                bytes: field(&v, "bytes", line, name)?,
            },
            "read_done" => Kind::ReadDone { bytes: field(&v, "bytes", line, name)? },
            "process_start" => Kind::ProcessStart { bytes: field(&v, "bytes", line, name)? },
            "process_end" => Kind::ProcessEnd,
            "hash" => {
                let file = field(&v, "file", line, name)?;
                let hash = v.get("hash").and_then(Value::as_str).ok_or_else(|| {
                    format!(
                        "stdout line {line}: a hash event needs a \"hash\" string (16 hex digits): {text}"
                    )
                })?;
                let path = v.get("path").and_then(Value::as_str).map(String::from);
                account.hashes.insert(file, Hash { line, hash: hash.to_string(), path });
                continue;
            }
            _ => continue,
        };
        let file = field(&v, "file", line, name)?;
        let block = field(&v, "block", line, name)?;
        account.events.push(Event { line, file, block, kind });
    }
    Ok(account)
}

/// Where each step of one block happened (stdout line numbers).
#[derive(Debug, Default, Clone, Copy)]
struct Steps {
    read_start: Option<usize>,
    read_done: Option<(usize, u64)>,
    process_start: Option<usize>,
    process_end: Option<usize>,
}

/// What a good account showed.
#[derive(Debug)]
pub struct Verdict {
    pub blocks: usize,
    pub max_buffers: usize,
}

/// Judges the account for `sizes` (each file's size, by file index) and the block size
/// asked for: every step of every block present and in order, the bytes adding up, the
/// next read started before each block's processing ended, at most two buffers.
pub fn judge(
    account: &Account,
    sizes: &[u64],
    names: &[String],
    block_bytes: u64,
) -> Result<Verdict, String> {
    let mut steps: BTreeMap<(u64, u64), Steps> = BTreeMap::new();
    let name =
        |f: u64| names.get(usize::try_from(f).unwrap_or(usize::MAX)).cloned().unwrap_or(format!("file {f}"));
    // Buffers in use: from read_start until process_end, or until read_done when the
    // read brought nothing (end of file: that buffer is never processed).
    let mut in_use = 0usize;
    let mut max_buffers = 0usize;
    for e in &account.events {
        if e.file >= sizes.len() as u64 {
            return Err(format!(
                "stdout line {}: \"file\": {} but only {} files were given (count from 0)",
                e.line,
                e.file,
                sizes.len()
            ));
        }
        let s = steps.entry((e.file, e.block)).or_default();
        let what = format!("block {} of {}", e.block, name(e.file));
        match e.kind {
            Kind::ReadStart { bytes, .. } => {
                if s.read_start.is_some() {
                    return Err(format!("stdout line {}: a second read_start for {what}", e.line));
                }
                if bytes != block_bytes {
                    return Err(format!(
                        "stdout line {}: the read of {what} asks for {bytes} bytes; --block {} means {block_bytes}",
                        e.line,
                        block_bytes / 1024
                    ));
                }
                s.read_start = Some(e.line);
                in_use += 1;
                if in_use > max_buffers {
                    max_buffers = in_use;
                }
                if in_use > 2 {
                    return Err(format!(
                        "stdout line {}: {in_use} buffers in use at once (reads started whose blocks are not yet processed); double buffering uses two",
                        e.line
                    ));
                }
            }
            Kind::ReadDone { bytes } => {
                if s.read_start.is_none() || s.read_done.is_some() {
                    return Err(format!("stdout line {}: read_done for {what} without its own read_start before it", e.line));
                }
                s.read_done = Some((e.line, bytes));
                if bytes == 0 {
                    in_use = in_use.saturating_sub(1);
                }
            }
            Kind::ProcessStart { bytes } => match s.read_done {
                Some((_, got)) if got == bytes && got > 0 && s.process_start.is_none() => s.process_start = Some(e.line),
                Some((_, got)) if got != bytes => {
                    return Err(format!("stdout line {}: process_start for {what} says {bytes} bytes, its read_done said {got}", e.line))
                }
                _ => {
                    return Err(format!(
                        "stdout line {}: process_start for {what} before its read_done (or twice, or for an empty read)",
                        e.line
                    ))
                }
            },
            Kind::ProcessEnd => {
                if s.process_start.is_none() || s.process_end.is_some() {
                    return Err(format!("stdout line {}: process_end for {what} without its process_start", e.line));
                }
                s.process_end = Some(e.line);
                in_use = in_use.saturating_sub(1);
            }
        }
    }
    let mut blocks = 0;
    for (f, &size) in sizes.iter().enumerate() {
        let f = f as u64;
        let mut total = 0;
        let mut processed: Vec<(u64, Steps)> = Vec::new();
        for (k, s) in steps.range((f, 0)..(f + 1, 0)).map(|(&(_, k), s)| (k, *s)) {
            if k != processed.len() as u64 && s.process_start.is_some() {
                return Err(format!(
                    "{}: blocks are numbered from 0 in each file with no gaps; block {k} follows block {}",
                    name(f),
                    processed.len()
                ));
            }
            if let (Some(_), Some(_)) = (s.process_start, s.process_end) {
                total += s.read_done.map_or(0, |(_, b)| b);
                processed.push((k, s));
            } else if s.read_done.is_some_and(|(_, b)| b > 0) {
                return Err(format!(
                    "{}: block {k} was read ({} bytes) but never processed",
                    name(f),
                    s.read_done.map_or(0, |(_, b)| b)
                ));
            }
        }
        if total != size {
            return Err(format!(
                "{}: the processed blocks add up to {total} bytes, the file has {size}",
                name(f)
            ));
        }
        // The heart of the lab: for each block but the file's last, the next read was
        // already started when this block's processing ended.
        for pair in processed.windows(2) {
            let (k, this) = pair[0];
            let (_, next) = pair[1];
            let (Some(end), Some(next_start)) = (this.process_end, next.read_start) else { continue };
            if next_start > end {
                return Err(format!(
                    "no read was in flight while block {k} of {} was processed: read_start for block {} (stdout line {next_start}) came after process_end for block {k} (line {end}); reads and processing take turns",
                    name(f),
                    k + 1
                ));
            }
        }
        blocks += processed.len();
    }
    Ok(Verdict { blocks, max_buffers })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events of one file read as `blocks` blocks of 10 bytes (the last `last`
    /// bytes) then an EOF read; `ahead` puts each next read_start before process_end.
    fn account(blocks: u64, last: u64, ahead: bool) -> String {
        let mut out = Vec::new();
        let start = |k: u64| {
            format!(r#"{{"event":"read_start","file":0,"block":{k},"offset":{},"bytes":10}}"#, k * 10)
        };
        let size = |k: u64| {
            if k + 1 == blocks {
                last
            } else if k < blocks {
                10
            } else {
                0
            }
        };
        out.push(start(0));
        for k in 0..=blocks {
            out.push(format!(r#"{{"event":"read_done","file":0,"block":{k},"bytes":{}}}"#, size(k)));
            if k == blocks {
                break;
            }
            if ahead {
                out.push(start(k + 1));
            }
            out.push(format!(r#"{{"event":"process_start","file":0,"block":{k},"bytes":{}}}"#, size(k)));
            out.push(format!(r#"{{"event":"process_end","file":0,"block":{k}}}"#));
            if !ahead {
                out.push(start(k + 1));
            }
        }
        out.push(r#"{"event":"hash","file":0,"hash":"0123456789abcdef"}"#.into());
        out.join("\n")
    }

    fn judged(text: &str, size: u64) -> Result<Verdict, String> {
        judge(&parse(text)?, &[size], &["f.bin".into()], 10)
    }

    #[test]
    fn double_buffered_events_pass() {
        let v = judged(&account(4, 3, true), 33).unwrap();
        assert_eq!((v.blocks, v.max_buffers), (4, 2));
        assert_eq!(parse(&account(4, 3, true)).unwrap().hashes[&0].hash, "0123456789abcdef");
    }

    #[test]
    fn alternating_reads_and_processing_fail_naming_the_block() {
        let e = judged(&account(4, 3, false), 33).unwrap_err();
        assert!(e.starts_with("no read was in flight while block 0 of f.bin was processed"), "{e}");
        assert!(e.contains("reads and processing take turns"), "{e}");
    }

    #[test]
    fn a_single_block_file_needs_no_overlap() {
        assert_eq!(judged(&account(1, 7, false), 7).unwrap().blocks, 1);
    }

    #[test]
    fn three_buffers_wrong_sizes_and_bad_lines_fail() {
        let three = [
            r#"{"event":"read_start","file":0,"block":0,"offset":0,"bytes":10}"#,
            r#"{"event":"read_start","file":0,"block":1,"offset":10,"bytes":10}"#,
            r#"{"event":"read_start","file":0,"block":2,"offset":20,"bytes":10}"#,
        ]
        .join("\n");
        let e = judged(&three, 30).unwrap_err();
        assert!(e.contains("3 buffers in use at once"), "{e}");
        let e = judged(&account(4, 3, true), 34).unwrap_err();
        assert!(e.contains("add up to 33 bytes, the file has 34"), "{e}");
        let e =
            judged(r#"{"event":"read_start","file":0,"block":0,"offset":0,"bytes":4096}"#, 1).unwrap_err();
        assert!(e.contains("asks for 4096 bytes"), "{e}");
        let e = judged("hello", 1).unwrap_err();
        assert!(e.starts_with("stdout line 1 is not JSON"), "{e}");
        let e = judged(r#"{"event":"process_end","file":0,"block":0}"#, 0).unwrap_err();
        assert!(e.contains("without its process_start"), "{e}");
    }
}
