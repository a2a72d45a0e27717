//! Marking a class: every student's submission built and marked by a lab's checker,
//! one at a time, each under a time limit, into a CSV gradebook and a feedback file per
//! student (`just grade LAB SUBMISSIONS`, the `grade` binary).
//!
//! A submission is whatever a student hands in: a Cargo crate (often the lab's own
//! starter crate, which inherits the workspace's dependencies: it is built in a small
//! workspace of its own that points at this repository's crates), a folder with a
//! Makefile, or a single C or Python file. Nothing a submission does (fail to build,
//! crash, hang, print megabytes) stops the others from being marked.

use serde_json::Value;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What `grade` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The lab's checker binary (`target/debug/NAME-check`).
    pub checker: PathBuf,
    /// The lab's short name (`poll-echo`): the program a Makefile builds is looked for
    /// under it (`poll-echo` or `poll_echo`).
    pub lab: String,
    /// One entry per student.
    pub submissions: PathBuf,
    /// The CSV gradebook; the feedback files go in `<stem>-feedback/` beside it.
    pub out: PathBuf,
    /// Per submission: building, and marking.
    pub build_limit: Duration,
    pub run_limit: Duration,
}

/// One check's result for one student.
#[derive(Debug, Clone)]
struct Cell {
    name: String,
    points: u64,
    of: u64,
    passed: bool,
    detail: String,
}

/// Runs `cmd` in its own process group until it exits or `limit` passes (then the whole
/// group is killed). Returns (exit code, or None when killed or signalled; stdout and
/// stderr, each cut to 256 KiB; whether the limit ended it).
fn run_capped(mut cmd: Command, limit: Duration) -> Result<(Option<i32>, String, String, bool), String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("could not run {:?}: {e}", cmd.get_program()))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            if let Some(mut pipe) = pipe {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if kept.len() < 256 * 1024 {
                        kept.extend_from_slice(&buf[..n]);
                    }
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&kept).into_owned());
        });
        rx
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let started = Instant::now();
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let (code, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status.code(), false),
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                break (None, true);
            }
        }
    };
    // Whatever it left behind in its group goes too (a build's stray sleep, a server).
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let wait = Duration::from_secs(2);
    Ok((
        code,
        out.recv_timeout(wait).unwrap_or_default(),
        err.recv_timeout(wait).unwrap_or_default(),
        timed_out,
    ))
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The workspace this tool belongs to (where the root Cargo.toml lists `labs/*/*`).
fn workspace_root() -> Option<PathBuf> {
    let start =
        std::env::var_os("AIO_LAB_ROOT").map(PathBuf::from).or_else(|| std::env::current_exe().ok())?;
    start
        .ancestors()
        .find(|d| d.join("Cargo.toml").is_file() && d.join("labs").is_dir())
        .map(Path::to_path_buf)
}

/// A submission as handed in.
enum Kind {
    Crate(PathBuf),
    Make(PathBuf),
    C(PathBuf),
    Python(PathBuf),
}

/// What `entry` is, or why it cannot be marked.
fn kind_of(entry: &Path) -> Result<Kind, String> {
    if entry.is_file() {
        return match entry.extension().and_then(|e| e.to_str()) {
            Some("c") => Ok(Kind::C(entry.to_path_buf())),
            Some("py") => Ok(Kind::Python(entry.to_path_buf())),
            _ => Err("a single file must be a .c or a .py file".into()),
        };
    }
    if entry.join("Cargo.toml").is_file() {
        return Ok(Kind::Crate(entry.to_path_buf()));
    }
    if entry.join("Makefile").is_file() || entry.join("makefile").is_file() {
        return Ok(Kind::Make(entry.to_path_buf()));
    }
    let files: Vec<PathBuf> = std::fs::read_dir(entry)
        .map_err(|e| format!("read {}: {e}", entry.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("c" | "py")))
        .collect();
    match &files[..] {
        [one] => kind_of(one),
        [] => Err("no Cargo.toml, no Makefile, and no .c or .py file in the folder".into()),
        _ => Err(format!("{} .c/.py files and no Makefile: cannot tell which is the program", files.len())),
    }
}

/// Copies a folder (not its `target/` or `.git/`).
fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("create {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("read {}: {e}", from.display()))?.flatten() {
        let (src, name) = (entry.path(), entry.file_name());
        if name == "target" || name == ".git" {
            continue;
        }
        let dst = to.join(&name);
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else if src.is_file() {
            std::fs::copy(&src, &dst).map_err(|e| format!("copy {}: {e}", src.display()))?;
        }
    }
    Ok(())
}

/// Builds a submission in `work`; returns the command line to mark, or why it did not build.
fn build(kind: &Kind, work: &Path, o: &Options) -> Result<Vec<OsString>, String> {
    match kind {
        Kind::Python(file) => Ok(vec!["python3".into(), file.canonicalize().unwrap_or(file.clone()).into()]),
        Kind::C(file) => {
            let source = std::fs::read_to_string(file).unwrap_or_default();
            let prog = work.join("prog");
            let mut cmd = Command::new("cc");
            cmd.args(["-std=gnu11", "-O2", "-o"]).arg(&prog).arg(file);
            if source.contains("curl/curl.h") {
                cmd.arg("-lcurl");
            }
            cmd.args(["-lrt", "-lpthread", "-lm"]);
            let (code, _, err, late) = run_capped(cmd, o.build_limit)?;
            if late {
                return Err(format!("cc was still running after {} s", o.build_limit.as_secs()));
            }
            if code != Some(0) {
                return Err(format!("cc failed:\n{}", tail(&err, 30)));
            }
            Ok(vec![prog.into()])
        }
        Kind::Make(dir) => {
            let src = work.join("src");
            copy_dir(dir, &src)?;
            let mut cmd = Command::new("make");
            cmd.arg("-C").arg(&src);
            let (code, out, err, late) = run_capped(cmd, o.build_limit)?;
            if late {
                return Err(format!(
                    "make was still running after {} s, so it was stopped",
                    o.build_limit.as_secs()
                ));
            }
            if code != Some(0) {
                return Err(format!("make failed:\n{}", tail(&format!("{out}{err}"), 30)));
            }
            made_program(&src, &o.lab).map(|p| vec![p.into()])
        }
        Kind::Crate(dir) => build_crate(dir, work, o).map(|p| vec![p.into()]),
    }
}

/// The program a Makefile built: the executable named like the lab (`poll-echo`,
/// `poll_echo`), or else the only executable in the folder.
fn made_program(dir: &Path, lab: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.metadata().is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
                && !matches!(p.extension().and_then(|e| e.to_str()), Some("sh" | "py" | "c" | "h" | "o"))
        })
        .collect();
    found.sort();
    let named = [lab.to_string(), lab.replace('-', "_")];
    if let Some(p) =
        found.iter().find(|p| p.file_name().is_some_and(|n| named.iter().any(|w| n == w.as_str())))
    {
        return Ok(p.clone());
    }
    match &found[..] {
        [one] => Ok(one.clone()),
        [] => Err("make succeeded but left no executable in the folder".into()),
        _ => Err(format!(
            "make left {} executables and none is named {} or {}: cannot tell which is the program",
            found.len(),
            named[0],
            named[1]
        )),
    }
}

/// Builds a Cargo crate with this repository's workspace settings (a starter crate says
/// `nix.workspace = true`), in a workspace of its own; returns its binary.
fn build_crate(dir: &Path, work: &Path, o: &Options) -> Result<PathBuf, String> {
    let manifest =
        std::fs::read_to_string(dir.join("Cargo.toml")).map_err(|e| format!("read Cargo.toml: {e}"))?;
    let ws = work.join("ws");
    let member = ws.join("submission");
    copy_dir(dir, &member)?;
    if !manifest.contains("[workspace]") {
        let root = workspace_root().ok_or("cannot find the aio-lab workspace (set AIO_LAB_ROOT)")?;
        let root_manifest = std::fs::read_to_string(root.join("Cargo.toml"))
            .map_err(|e| format!("read {}: {e}", root.join("Cargo.toml").display()))?;
        let mut wrapped = String::new();
        for line in root_manifest.lines() {
            if line.trim_start().starts_with("members") {
                wrapped.push_str("members = [\"submission\"]\n");
            } else {
                let abs = format!("path = \"{}/", root.display());
                wrapped.push_str(&line.replace("path = \"", &abs));
                wrapped.push('\n');
            }
        }
        std::fs::write(ws.join("Cargo.toml"), wrapped).map_err(|e| format!("write the workspace: {e}"))?;
        let _ = std::fs::copy(root.join("Cargo.lock"), ws.join("Cargo.lock"));
    }
    let build_dir = if manifest.contains("[workspace]") { &member } else { &ws };
    let target = std::env::var_os("AIO_LAB_GRADE_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("aio-lab-grade-target"));
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(build_dir)
        .args(["build", "--message-format=json-render-diagnostics"])
        .env("CARGO_TARGET_DIR", &target);
    let (code, out, err, late) = run_capped(cmd, o.build_limit)?;
    if late {
        return Err(format!(
            "cargo build was still running after {} s, so it was stopped",
            o.build_limit.as_secs()
        ));
    }
    if code != Some(0) {
        let rendered: String = out
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|m| m["message"]["rendered"].as_str().map(String::from))
            .collect();
        return Err(format!("cargo build failed:\n{}", tail(&format!("{rendered}{err}"), 40)));
    }
    let bins: Vec<(String, PathBuf)> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["executable"].is_string())
        .filter(|m| m["manifest_path"].as_str().is_some_and(|p| Path::new(p).starts_with(&member)))
        .map(|m| {
            let name = m["target"]["name"].as_str().unwrap_or_default().to_string();
            (name, PathBuf::from(m["executable"].as_str().unwrap_or_default()))
        })
        .collect();
    let chosen =
        match &bins[..] {
            [(_, one)] => one.clone(),
            [] => return Err("cargo built no binary".into()),
            many => many.iter().find(|(n, _)| *n == o.lab).map(|(_, p)| p.clone()).ok_or_else(|| {
                format!("the crate has {} binaries and none is named {}", many.len(), o.lab)
            })?,
        };
    // Every student's binary has the same name in the shared target folder: keep a copy.
    let kept = work.join("prog");
    std::fs::copy(&chosen, &kept).map_err(|e| format!("copy {}: {e}", chosen.display()))?;
    Ok(kept)
}

/// Marks `program` with the checker: its checks, or why none came back.
fn mark(o: &Options, program: &[OsString]) -> Result<Vec<Cell>, String> {
    let mut cmd = Command::new(&o.checker);
    cmd.arg("--json").arg("--").args(program);
    let (code, out, err, late) = run_capped(cmd, o.run_limit)?;
    let cells: Vec<Cell> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "check")
        .map(|e| Cell {
            name: e["name"].as_str().unwrap_or_default().to_string(),
            points: e["points"].as_u64().unwrap_or(0),
            of: e["of"].as_u64().unwrap_or(0),
            passed: e["passed"].as_bool().unwrap_or(false),
            detail: e["detail"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    if late {
        return Err(format!(
            "marking was still running after {} s, so it was stopped",
            o.run_limit.as_secs()
        ));
    }
    if cells.is_empty() {
        return Err(format!("the checker reported no checks (exit code {code:?}): {}", tail(&err, 5)));
    }
    Ok(cells)
}

/// A CSV field, quoted when it needs to be.
fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Marks every submission; returns a summary line for the terminal.
pub fn grade_class(o: &Options) -> Result<String, String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&o.submissions)
        .map_err(|e| format!("read {}: {e}", o.submissions.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Err(format!("{} holds no submissions", o.submissions.display()));
    }
    // The columns: the checks of a program that fails at once (quick, and always all).
    let columns = mark(o, &["sh".into(), "-c".into(), "exit 1".into()])
        .map_err(|e| format!("the checker {} did not run: {e}", o.checker.display()))?;
    let max: u64 = columns.iter().map(|c| c.of).sum();
    let stem = o.out.file_stem().and_then(|s| s.to_str()).unwrap_or("grades").to_string();
    let feedback = o.out.with_file_name(format!("{stem}-feedback"));
    std::fs::create_dir_all(&feedback).map_err(|e| format!("create {}: {e}", feedback.display()))?;
    let scratch = std::env::temp_dir().join(format!("aio-lab-grade-{}", std::process::id()));
    let mut book = String::from("student,score,max");
    for c in &columns {
        let _ = write!(book, ",{}", csv(&c.name));
    }
    book.push('\n');
    let mut marked = 0;
    for entry in &entries {
        let student = entry.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_string();
        let started = Instant::now();
        eprint!("{student}: ");
        let work = scratch.join(&student);
        let _ = std::fs::remove_dir_all(&work);
        let outcome = std::fs::create_dir_all(&work)
            .map_err(|e| format!("create {}: {e}", work.display()))
            .and_then(|()| kind_of(entry))
            .and_then(|kind| {
                build(&kind, &work, o).map_err(|e| format!("not marked: it did not build.\n{e}"))
            })
            .and_then(|program| mark(o, &program).map_err(|e| format!("not marked: {e}")));
        let mut text = format!("{} for lab {} ({})\n", student, o.lab, entry.display());
        let (score, row) = match &outcome {
            Ok(cells) => {
                marked += 1;
                for c in cells {
                    let mark = if c.passed { "PASS" } else { "FAIL" };
                    let _ = writeln!(text, "{mark} {} ({}/{}): {}", c.name, c.points, c.of, c.detail);
                }
                let score: u64 = cells.iter().map(|c| c.points).sum();
                let row: Vec<String> = columns
                    .iter()
                    .map(|col| cells.iter().find(|c| c.name == col.name).map_or(0, |c| c.points).to_string())
                    .collect();
                (score, row)
            }
            Err(why) => {
                let _ = writeln!(text, "{why}");
                (0, columns.iter().map(|_| "0".to_string()).collect())
            }
        };
        let _ = writeln!(text, "score: {score}/{max}");
        let _ = std::fs::write(feedback.join(format!("{student}.txt")), &text);
        let _ = writeln!(book, "{},{score},{max},{}", csv(&student), row.join(","));
        eprintln!(
            "{score}/{max}{} ({:.1} s)",
            if outcome.is_err() { ", not marked" } else { "" },
            started.elapsed().as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&work);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::write(&o.out, book).map_err(|e| format!("write {}: {e}", o.out.display()))?;
    Ok(format!(
        "{} submissions ({marked} marked, {} not built or not markable): gradebook {}, feedback in {}",
        entries.len(),
        entries.len() - marked,
        o.out.display(),
        feedback.display()
    ))
}
