//! # read-ahead-check: marks lab 4 ("Read while you process")
//!
//! Judges any program from outside, whatever language it is written in:
//!
//! * correctness: exact FNV-1a hashes of files it generates (empty, one byte, exactly one
//!   block, a size that is not a multiple of the block, several MiB), and the one-line
//!   error for a missing file;
//! * overlap, as the program tells it: the order of its `--json` events (the read of
//!   block k+1 starts before processing of block k ends; at most two buffers);
//! * overlap, as measured: wall time on a FIFO that answers each read 100 ms after the
//!   program asks (`fifo.rs`), so a program that only claims overlap is caught.
//!
//! Run it: `just lab read-ahead` (the starter), `just lab read-ahead --solution`,
//! `just lab read-ahead -- ./read_ahead` (any executable; the checker adds its flags).

mod events;
mod fifo;
mod run;

use lab_marking::marking::{Lab, Marking, Submission};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const LAB: Lab = Lab {
    name: "read-ahead",
    folder: "04-read-ahead",
    title: "Read while you process: POSIX AIO double buffering with aio_suspend",
};

/// A run over ordinary files takes milliseconds; past this it is a hang.
const RUN_LIMIT: Duration = Duration::from_secs(5);

/// The FIFO check: blocks, their size, the FIFO's delay per read and the work per block.
/// The work is longer than the delay on purpose: then an honest program needs at least
/// delay + blocks x work even when overlapping, while one that skips the work and reads
/// in turn would take only blocks x delay, and is caught by the lower bound.
const FIFO_BLOCKS: usize = 10;
const FIFO_BLOCK_KIB: usize = 16;
const FIFO_DELAY_MS: u64 = 100;
const FIFO_WORK_MS: u64 = 200;

/// FNV-1a 64 over `bytes`: the hash the lab asks for.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Bytes that look random (every value 0..=255 appears, so a hash that treats bytes as
/// signed gets it wrong) but are the same on every run.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The checker's own folder of test inputs, removed at the end.
#[derive(Debug)]
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Result<Scratch, String> {
        let dir = std::env::temp_dir().join(format!("read-ahead-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(Scratch { dir })
    }

    /// Writes a file of `len` bytes and returns its path and contents.
    fn file(&self, name: &str, len: usize, seed: u64) -> Result<(PathBuf, Vec<u8>), String> {
        let path = self.dir.join(name);
        let data = noise(len, seed);
        std::fs::write(&path, &data).map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok((path, data))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn args(flags: &[&str], paths: &[&Path]) -> Vec<String> {
    flags.iter().map(|s| s.to_string()).chain(paths.iter().map(|p| p.display().to_string())).collect()
}

fn shown(paths: &[&Path]) -> String {
    paths
        .iter()
        .map(|p| p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the program in text mode over `files` and compares stdout with the expected
/// `HASH  PATH` lines, naming the first file that differs and how.
fn check_hashes(sub: &Submission, block_kib: u32, files: &[(&Path, &[u8], &str)]) -> Result<String, String> {
    let paths: Vec<&Path> = files.iter().map(|f| f.0).collect();
    let block = format!("{block_kib}");
    let out = run::run(sub, &args(&["--block", &block, "--work-ms", "0"], &paths), RUN_LIMIT)?;
    let what = format!("--block {block_kib} {}", shown(&paths));
    if !out.succeeded() {
        return Err(format!("{what}: {}", out.describe()));
    }
    let lines: Vec<&str> = out.stdout.lines().collect();
    if lines.len() != files.len() {
        return Err(format!(
            "{what}: expected {} stdout lines (one `HASH  PATH` line per file, nothing else), got {}: {}",
            files.len(),
            lines.len(),
            run::first_lines(&out.stdout, 6)
        ));
    }
    for ((path, data, label), got) in files.iter().zip(&lines) {
        let want = format!("{:016x}  {}", fnv1a(data), path.display());
        if *got != want {
            let size = if data.len() == 1 { "1 byte".to_string() } else { format!("{} bytes", data.len()) };
            let mut why = format!("{label} ({size}): expected {want:?}, got {got:?}");
            if let Some(got_hash) = got.strip_suffix(&format!("  {}", path.display())) {
                why.push_str(&hash_hint(path, data, got_hash));
            } else {
                why.push_str(&path_hint(path, got));
            }
            return Err(why);
        }
    }
    Ok(format!("{} files, every hash exact ({what})", files.len()))
}

/// What a line with the wrong path says: the path, resolved, instead of as given.
fn path_hint(path: &Path, got: &str) -> String {
    match std::fs::canonicalize(path) {
        Ok(real) if real != path && got.ends_with(&format!("  {}", real.display())) => format!(
            " (that is the path resolved, {}; print each path exactly as it was given on the command line)",
            real.display()
        ),
        _ => " (the path part differs: print each path exactly as it was given)".to_string(),
    }
}

/// What a wrong hash says, when it says anything: each hint is given only when the wrong
/// value is exactly what that mistake produces.
fn hash_hint(path: &Path, data: &[u8], got: &str) -> String {
    let want = format!("{:016x}", fnv1a(data));
    if got.len() == 16 && got.starts_with(' ') && got.trim_start() == want.trim_start_matches('0') {
        return " (that is the right hash padded with spaces instead of zeros: print 16 hex digits, \
                leading zeros included, as %016x does)"
            .to_string();
    }
    if !data.is_empty() && got == format!("{:016x}", fnv1a(&[])) {
        let stat = std::fs::metadata(path).map(|m| m.len()).unwrap_or(1);
        let size = if stat == 0 {
            format!(": its size, as stat tells it, is 0, yet reads return {} bytes", data.len())
        } else {
            String::new()
        };
        return format!(
            " (that is the hash of no bytes at all{size}. Read until a read returns 0 bytes, never trust the size)"
        );
    }
    let signed = data
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ (b as i8 as i64 as u64)).wrapping_mul(0x0100_0000_01b3));
    if data.iter().any(|&b| b >= 0x80) && got == format!("{signed:016x}") {
        return " (that is the hash of the bytes read as signed char: a byte >= 0x80 was sign-extended \
                before the XOR; in C use unsigned char)"
            .to_string();
    }
    for pad in [0u8, b'\n'] {
        // A whole last block hashed, padding and all.
        for block in [4096usize, 16384, 65536] {
            let mut padded = data.to_vec();
            padded.resize(data.len().div_ceil(block).max(1) * block, pad);
            if padded.len() != data.len() && got == format!("{:016x}", fnv1a(&padded)) {
                return format!(
                    " (that is the hash of the file padded with {} bytes of {pad:#04x} to a whole {} KiB block: \
                     hash only the bytes each read returned)",
                    padded.len() - data.len(),
                    block / 1024
                );
            }
        }
    }
    " (the hash differs)".to_string()
}

/// A path that cannot be hashed: exit 1 and one stderr line naming the path and `errno`.
/// `good` (hashed first, if given) may have its line on stdout; nothing else may.
fn check_error(
    sub: &Submission,
    good: Option<&Path>,
    bad: &Path,
    what: &str,
    errno: &str,
) -> Result<String, String> {
    let paths: Vec<&Path> = good.into_iter().chain([bad]).collect();
    let out = run::run(sub, &args(&["--block", "4"], &paths), RUN_LIMIT)?;
    if out.killed || out.signal.is_some() {
        return Err(format!("{what}: {}", out.describe()));
    }
    let bad_text = bad.display().to_string();
    let empty = format!("{:016x}  {bad_text}", fnv1a(&[]));
    if out.code == Some(0) && out.stdout.lines().any(|l| l == empty) {
        return Err(format!(
            "{what}: exit code 0 (expected 1) and the line {empty:?}, the hash of no bytes: its read failed \
             ({errno}) and the failure was taken as the end of the file. Only a read that returns 0 bytes is \
             the end; a failed read is an error"
        ));
    }
    if out.code != Some(1) {
        return Err(format!("{what}: exit code {} (expected 1)", out.code.unwrap_or(-1)));
    }
    if out.stderr.contains("panicked") || out.stderr.contains("RUST_BACKTRACE") {
        return Err(format!(
            "{what}: a panic instead of an error line: {}",
            run::first_lines(&out.stderr, 3)
        ));
    }
    let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let [line] = lines[..] else {
        return Err(format!(
            "{what}: expected exactly one stderr line, got {}: {}",
            lines.len(),
            run::first_lines(&out.stderr, 4)
        ));
    };
    if !line.contains(&bad_text) || !line.contains(errno) {
        let call = if errno == "EISDIR" { "read" } else { "open" };
        return Err(format!(
            "{what}: the error line must name the path ({bad_text}) and the errno the failed call gave \
             ({errno}), e.g. \"error: {call} {bad_text}: {errno} (...)\"; got {line:?}"
        ));
    }
    // The good file's line may come first (its hash is judged elsewhere); nothing else.
    if out.stdout.lines().count() > usize::from(good.is_some()) || out.stdout.contains(&bad_text) {
        return Err(format!(
            "{what}: stdout should hold at most the first file's hash line, got {}",
            run::first_lines(&out.stdout, 3)
        ));
    }
    Ok(format!("{errno}: exit 1, stderr {line:?}"))
}

/// Paths that cannot be hashed: a missing file (ENOENT, after a good file), a folder
/// (open succeeds, the read fails: EISDIR) and a path through a file (ENOTDIR).
fn check_missing(sub: &Submission, scratch: &Scratch, good: &Path) -> Result<String, String> {
    let missing = scratch.dir.join("no-such-file.bin");
    let folder = scratch.dir.join("a-folder");
    std::fs::create_dir_all(&folder).map_err(|e| format!("checker: create {}: {e}", folder.display()))?;
    let through = good.join("x");
    let seen = [
        check_error(sub, Some(good), &missing, &format!("{} then a missing file", shown(&[good])), "ENOENT")?,
        check_error(sub, None, &folder, "a folder (its open succeeds, its first read fails)", "EISDIR")?,
        check_error(
            sub,
            None,
            &through,
            &format!("{} (a path through a file)", through.display()),
            "ENOTDIR",
        )?,
    ];
    Ok(seen.join("; "))
}

/// `--block` past 64 and left out (64 KiB): with `--json`, every read asks for exactly
/// that many bytes, and the hash is right.
fn check_block_option(sub: &Submission, file: &Path, data: &[u8], label: &str) -> Result<String, String> {
    for (flags, kib) in [(&["--json", "--block", "128"][..], 128u64), (&["--json"][..], 64)] {
        let out = run::run(sub, &args(flags, &[file]), RUN_LIMIT)?;
        let what = format!("{} {}", flags.join(" "), shown(&[file]));
        if !out.succeeded() {
            return Err(format!("{what}: {}", out.describe()));
        }
        let account = events::parse(&out.stdout).map_err(|e| format!("{what}: {e}"))?;
        let why =
            if kib == 64 { "with no --block, the block is 64 KiB" } else { "--block 128 means 128 KiB" };
        if let Some((e, asked)) = account.read_not_asking(kib * 1024) {
            return Err(format!(
                "{what}: stdout line {}: the read of block {} asks for {asked} bytes; {why}: {} bytes",
                e.line,
                e.block,
                kib * 1024
            ));
        }
        if !account.events.iter().any(|e| matches!(e.kind, events::Kind::ReadStart { .. })) {
            return Err(format!("{what}: no read_start events on stdout"));
        }
        judge_hash_events(&account, &[(file, data, label)]).map_err(|e| format!("{what}: {e}"))?;
    }
    Ok("with --json, --block 128 reads ask for 131072 bytes, no --block for 65536".to_string())
}

/// The `--json` events over three files: order, buffers, bytes and hashes.
fn check_events(
    sub: &Submission,
    scratch: &Scratch,
    files: &[(&Path, &[u8], &str)],
) -> Result<String, String> {
    let paths: Vec<&Path> = files.iter().map(|f| f.0).collect();
    let out = run::run(sub, &args(&["--json", "--block", "16", "--work-ms", "3"], &paths), RUN_LIMIT)?;
    let what = format!("--json --block 16 --work-ms 3 {}", shown(&paths));
    if !out.succeeded() {
        return Err(format!("{what}: {}", out.describe()));
    }
    let account = events::parse(&out.stdout)?;
    if account.events.is_empty() {
        return Err(format!("{what}: no read_start/read_done/process_start/process_end events on stdout"));
    }
    let sizes: Vec<u64> = files.iter().map(|f| f.1.len() as u64).collect();
    let names: Vec<String> = files.iter().map(|f| f.2.to_string()).collect();
    let verdict = events::judge(&account, &sizes, &names, 16 * 1024)?;
    judge_hash_events(&account, files)?;
    let pieces = check_fifo_pieces_events(sub, scratch)?;
    Ok(format!(
        "{} blocks in {} files: the read of block k+1 always started before processing of block k ended; at most {} buffers in use; {pieces}",
        verdict.blocks,
        files.len(),
        verdict.max_buffers
    ))
}

/// Each file's `hash` event: the right hash, and `path` as given on the command line.
fn judge_hash_events(account: &events::Account, files: &[(&Path, &[u8], &str)]) -> Result<(), String> {
    for (i, (path, data, label)) in files.iter().enumerate() {
        let want = format!("{:016x}", fnv1a(data));
        let given = path.display().to_string();
        let Some(got) = account.hashes.get(&(i as u64)) else {
            return Err(format!("no hash event for {label} (file {i}): {{\"event\":\"hash\",\"file\":{i},\"path\":{given:?},\"hash\":\"{want}\",...}}"));
        };
        let line = got.line;
        if got.hash != want {
            return Err(format!("stdout line {line}: hash event for {label}: {:?}, expected {want:?} (the event order itself is right)", got.hash));
        }
        match &got.path {
            Some(p) if *p == given => {}
            Some(p) => return Err(format!("stdout line {line}: the hash event for {label} has \"path\": {p:?}; the path given was {given:?}")),
            None => return Err(format!("stdout line {line}: the hash event for {label} has no \"path\" string (the path as given, {given:?})")),
        }
    }
    Ok(())
}

/// The FIFO of `hash_edge_sizes`: [`PIECES`] pieces of [`PIECE`] bytes, each written
/// only once the program waits in read(), so each read returns one piece: fewer bytes
/// than the block asked for, and not the end of the file.
const PIECES: usize = 3;
const PIECE: usize = 3000;

/// A run on the pieces FIFO: its path and bytes, what the FIFO saw, how the run ended.
struct PiecesRun {
    path: PathBuf,
    data: Vec<u8>,
    served: Result<fifo::Served, String>,
    out: run::Outcome,
}

/// Runs the program with `flags` on a new FIFO `name` that gives [`PIECES`] pieces of
/// [`PIECE`] bytes, each once the program waits in read(). Every write goes into an
/// empty FIFO while a read waits, so no read can return more than one piece.
fn run_pieces(sub: &Submission, scratch: &Scratch, name: &str, flags: &[&str]) -> Result<PiecesRun, String> {
    let path = scratch.dir.join(name);
    let _ = std::fs::remove_file(&path);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| format!("checker: mkfifo {}: {e}", path.display()))?;
    let pace = fifo::Pace {
        path: path.clone(),
        data: noise(PIECES * PIECE, 8),
        block_bytes: PIECE,
        delay: Duration::ZERO,
    };
    let mut running = run::Running::start(sub, &args(flags, &[&path]))?;
    let served = fifo::serve(&mut running, &pace);
    let limit =
        running.started().elapsed() + if served.is_ok() { RUN_LIMIT } else { Duration::from_millis(500) };
    let out = running.finish(limit);
    Ok(PiecesRun { path, data: pace.data, served, out })
}

/// A FIFO that gives less than a block per read: the hash must cover every piece.
fn check_fifo_pieces(sub: &Submission, scratch: &Scratch) -> Result<String, String> {
    let what = format!(
        "--block 4 pieces.fifo (a FIFO giving {} bytes in {PIECES} pieces of {PIECE}, each once the program \
         waits in read(), so each read returns {PIECE} of the 4096 bytes asked for, then the end)",
        PIECES * PIECE
    );
    let PiecesRun { path, data, served, out } =
        run_pieces(sub, scratch, "pieces.fifo", &["--block", "4", "--work-ms", "0"])?;
    let want = format!("{:016x}  {}", fnv1a(&data), path.display());
    if served.is_ok() && out.succeeded() && out.stdout.trim_end() == want {
        return Ok(format!("a FIFO giving {PIECES} pieces of {PIECE} bytes, one per read: hash exact"));
    }
    let got = out.stdout.lines().next().unwrap_or_default();
    if let Some(k) =
        (1..PIECES).find(|k| got == format!("{:016x}  {}", fnv1a(&data[..k * PIECE]), path.display()))
    {
        return Err(format!(
            "{what}: it printed the hash of the first {} bytes only ({k} piece{}): it took a read that \
             returned fewer bytes than asked for as the end of the file. Only a read of 0 bytes is the end",
            k * PIECE,
            if k == 1 { "" } else { "s" }
        ));
    }
    if let Err(why) = served {
        return Err(format!("{what}: {why} ({})", out.describe()));
    }
    if !out.succeeded() {
        return Err(format!("{what}: {}", out.describe()));
    }
    Err(format!("{what}: expected stdout {want:?}, got {}", run::first_lines(&out.stdout, 3)))
}

/// The same FIFO with `--json`: each read that returned one piece is a block of that
/// many bytes, processed as it is.
fn check_fifo_pieces_events(sub: &Submission, scratch: &Scratch) -> Result<String, String> {
    let what = format!(
        "--json --block 4 pieces-json.fifo (a FIFO giving {} bytes in {PIECES} pieces of {PIECE}, each written \
         only into an empty FIFO while the program waits in read(), so no read can return more than {PIECE} bytes)",
        PIECES * PIECE
    );
    let PiecesRun { path, data, served, out } =
        run_pieces(sub, scratch, "pieces-json.fifo", &["--json", "--block", "4", "--work-ms", "0"])?;
    if let Err(why) = served {
        return Err(format!("{what}: {why} ({})", out.describe()));
    }
    if !out.succeeded() {
        return Err(format!("{what}: {}", out.describe()));
    }
    let account = events::parse(&out.stdout).map_err(|e| format!("{what}: {e}"))?;
    let label = "pieces-json.fifo";
    events::judge(&account, &[data.len() as u64], &[label.to_string()], 4096)
        .map_err(|e| format!("{what}: {e}"))?;
    if let Some((e, bytes)) = account.read_done_over(PIECE as u64) {
        return Err(format!(
            "{what}: stdout line {}: read_done for block {} says {bytes} bytes, more than any one read of this \
             FIFO returns: the block was filled up by more reads. A read that returns fewer bytes than asked for \
             is a block of that many bytes; start the next block's read instead",
            e.line, e.block
        ));
    }
    judge_hash_events(&account, &[(&path, &data, label)]).map_err(|e| format!("{what}: {e}"))?;
    Ok(format!("a FIFO read in {PIECES} blocks of {PIECE} bytes, one per read"))
}

/// The paced FIFO: the hash must be right and the wall time must show overlap.
fn check_fifo(sub: &Submission, scratch: &Scratch) -> Result<String, String> {
    let path = scratch.dir.join("slow-device.fifo");
    let _ = std::fs::remove_file(&path); // left by an earlier run with the same pid
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| format!("checker: mkfifo {}: {e}", path.display()))?;
    let block_bytes = FIFO_BLOCK_KIB * 1024;
    let pace = fifo::Pace {
        path: path.clone(),
        data: noise(FIFO_BLOCKS * block_bytes, 4),
        block_bytes,
        delay: Duration::from_millis(FIFO_DELAY_MS),
    };
    let flags =
        ["--block", &FIFO_BLOCK_KIB.to_string(), "--work-ms", &FIFO_WORK_MS.to_string()].map(String::from);
    let what = format!("--block {FIFO_BLOCK_KIB} --work-ms {FIFO_WORK_MS} slow-device.fifo");
    let mut running = run::Running::start(sub, &args(&flags.each_ref().map(String::as_str), &[&path]))?;
    let started = running.started();
    let served = fifo::serve(&mut running, &pace);
    // Once the checker gives up on serving, waiting longer only delays the report.
    let out = running.finish(if served.is_ok() { Duration::from_secs(12) } else { Duration::ZERO });
    let served = match served {
        Ok(served) => served,
        Err(why) => return Err(format!("{what}: {why} ({})", out.describe())),
    };
    if !out.succeeded() {
        return Err(format!("{what}: {}", out.describe()));
    }
    let timing = judge_time(out.took);
    let want = format!("{:016x}  {}", fnv1a(&pace.data), path.display());
    if out.stdout.trim_end() != want {
        let timing = match timing {
            Ok(_) => "its time alone would pass",
            Err(_) => "its time fails too",
        };
        return Err(format!(
            "{what}: expected stdout {want:?}, got {} ({timing})",
            run::first_lines(&out.stdout, 3)
        ));
    }
    let took = timing?;
    let asked = judge_asks(&served.gaps)?;
    if let Some(k) = served.lone_reader {
        return Err(format!(
            "{what}: when block {k} was asked for, the thread waiting in read() on the FIFO was the program's \
             only thread, so nothing was processed while the FIFO took its {FIFO_DELAY_MS} ms: block {k}'s read \
             waited in the place of processing instead of beside it (a blocking read in the middle of block {}'s \
             work?). The read must run elsewhere (glibc's AIO thread) while this thread processes ({took}; {asked})",
            k - 1
        ));
    }
    // The last block's work cannot start before the block was taken off the FIFO.
    let exited = started + out.took;
    let last_work = served.last_taken.map(|t| exited.saturating_duration_since(t)).unwrap_or_default();
    let work = Duration::from_millis(FIFO_WORK_MS);
    if last_work < work.mul_f64(0.95) {
        return Err(format!(
            "{what}: the program exited {:.0} ms after taking the last block off the FIFO, but processing it \
             takes {FIFO_WORK_MS} ms (--work-ms {FIFO_WORK_MS}): its work is counted from before the block \
             arrived (from the read request?). Count each block's {FIFO_WORK_MS} ms from when its processing \
             begins ({took}; {asked})",
            last_work.as_secs_f64() * 1000.0
        ));
    }
    Ok(format!(
        "{took}; {asked}; the last block was processed for {:.0} ms",
        last_work.as_secs_f64() * 1000.0
    ))
}

/// The longest a program that reads ahead takes from taking block 0 off the FIFO to
/// asking for block 1. With nothing being processed yet, it asks at once (it starts
/// block 1's read before processing block 0); a program that reads in turn asks only
/// after processing block 0: 100 ms later at the least (with 200 ms of work and a
/// 100 ms delay), even when it counts its work from the read request. Later blocks do
/// not tell the two apart: once both run at the pace of the work, each next read is
/// asked for about 100 ms after the last block was taken.
const MAX_FIRST_ASK: Duration = Duration::from_millis(50);

/// Judges when block 1 was asked for, by the FIFO's own clock.
fn judge_asks(gaps: &[Duration]) -> Result<String, String> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let Some(&first) = gaps.first() else {
        return Ok("the FIFO saw no block asked for after another".into());
    };
    if first > MAX_FIRST_ASK {
        return Err(format!(
            "the FIFO saw block 1 asked for {:.0} ms after block 0 was taken (reading ahead asks within {:.0} ms, \
             before processing block 0): block 1's read was not in flight while block 0 was processed. \
             Start block k+1's aio_read before processing block k",
            ms(first),
            ms(MAX_FIRST_ASK)
        ));
    }
    Ok(format!("block 1 asked for {:.1} ms after block 0 was taken (by the FIFO's clock)", ms(first)))
}

/// Judges the FIFO run's wall time.
///
/// A program that reads in turn can never beat `in_turn`: every block costs the FIFO's
/// full delay (the checker guarantees it) plus the full work. So the pass mark can sit
/// well above the overlapped time, nine tenths of the way up (2.91 s: a correct program
/// on a machine running dozens of other jobs has taken 2.86 s), leaving a correct program
/// room for a busy machine's scheduling delays. And since the work per block is longer
/// than the delay, nothing honest beats `overlapped` (the first wait, then every
/// block's work back to back): a run much faster than that skipped the work.
fn judge_time(took: Duration) -> Result<String, String> {
    let n = FIFO_BLOCKS as f64;
    let (d, w) = (FIFO_DELAY_MS as f64 / 1000.0, FIFO_WORK_MS as f64 / 1000.0);
    let took = took.as_secs_f64();
    let in_turn = n * (d + w);
    let overlapped = d + n * w.max(d);
    let bound = overlapped + (in_turn - overlapped) * 0.9;
    let setting = format!(
        "{FIFO_BLOCKS} blocks of {FIFO_BLOCK_KIB} KiB; the FIFO answers each read {FIFO_DELAY_MS} ms after the program asks; {FIFO_WORK_MS} ms of work per block"
    );
    if took < overlapped * 0.95 {
        return Err(format!(
            "finished in {took:.2} s, faster than possible with the work asked for ({setting}: at least {overlapped:.2} s even with perfect overlap): is --work-ms done for every block?"
        ));
    }
    if took >= bound {
        return Err(format!(
            "took {took:.2} s ({setting}): too slow for overlap (reading and processing in turn takes at least {in_turn:.2} s). With block k+1's read in flight while block k is processed it takes about {overlapped:.2} s (pass: under {bound:.2} s). Start block k+1's aio_read before processing block k, and wait for it (aio_suspend) only after processing"
        ));
    }
    Ok(format!(
        "took {took:.2} s ({setting}): reads overlapped processing (in turn: at least {in_turn:.2} s; bound {bound:.2} s)"
    ))
}

fn mark(sub: &Submission, marking: &mut Marking) -> Result<(), String> {
    let scratch = Scratch::new()?;
    let (empty, empty_data) = scratch.file("empty.bin", 0, 1)?;
    let (one_byte, one_byte_data) = (scratch.dir.join("one-byte.bin"), vec![0xe9u8]);
    std::fs::write(&one_byte, &one_byte_data).map_err(|e| format!("write {}: {e}", one_byte.display()))?;
    let (one_block, one_block_data) = scratch.file("one-block-4k.bin", 4096, 2)?;
    let (ragged, ragged_data) = scratch.file("ragged-3.25-blocks.bin", 3 * 4096 + 1000, 3)?;
    let (big, big_data) = scratch.file("big-5mib.bin", 5 * 1024 * 1024 + 321, 5)?;
    let (medium, medium_data) = scratch.file("ten-blocks-and-a-bit-16k.bin", 10 * 16384 + 500, 6)?;
    let (block16, block16_data) = scratch.file("one-block-16k.bin", 16384, 7)?;
    // "10" hashes to 07f89207b4ba08a4: the hash's first hex digit is 0.
    let (zero_lead, zero_lead_data) = (scratch.dir.join("hash-starts-with-0.txt"), b"10".to_vec());
    std::fs::write(&zero_lead, &zero_lead_data).map_err(|e| format!("write {}: {e}", zero_lead.display()))?;
    // Another name for one-byte.bin; the line must show this name, as given.
    let alias = scratch.dir.join("alias-of-one-byte.bin");
    std::os::unix::fs::symlink(&one_byte, &alias).map_err(|e| format!("symlink {}: {e}", alias.display()))?;
    // A file whose size (stat) is 0 but which holds bytes, as every /proc file does.
    let proc_file = Path::new("/proc/version");
    let proc_data = std::fs::read(proc_file).map_err(|e| format!("read {}: {e}", proc_file.display()))?;

    marking.check("hash_edge_sizes", 2, || {
        check_hashes(
            sub,
            4,
            &[
                (&empty, &empty_data, "empty file"),
                (&one_byte, &one_byte_data, "one byte (0xe9)"),
                (&one_block, &one_block_data, "exactly one 4 KiB block"),
                (&ragged, &ragged_data, "3 blocks and 1000 bytes"),
                (&zero_lead, &zero_lead_data, "the two bytes \"10\" (their hash begins with 0)"),
                (&alias, &one_byte_data, "a symbolic link to one-byte.bin"),
                (proc_file, &proc_data, "/proc/version (stat gives its size as 0)"),
            ],
        )
        .and_then(|files| Ok(format!("{files}; {}", check_fifo_pieces(sub, &scratch)?)))
    });
    marking.check("hash_large_file", 1, || {
        check_hashes(
            sub,
            64,
            &[(&big, &big_data, "5 MiB + 321 bytes"), (&ragged, &ragged_data, "3 x 4 KiB + 1000 bytes")],
        )
        .and_then(|files| {
            Ok(format!("{files}; {}", check_block_option(sub, &big, &big_data, "big-5mib.bin")?))
        })
    });
    marking.check("missing_file", 1, || check_missing(sub, &scratch, &one_byte));
    marking.check("events_overlap", 3, || {
        check_events(
            sub,
            &scratch,
            &[
                (&medium, &medium_data, "ten-blocks-and-a-bit-16k.bin"),
                (&block16, &block16_data, "one-block-16k.bin"),
                (&empty, &empty_data, "empty.bin"),
            ],
        )
    });
    marking.check("fifo_overlap", 3, || check_fifo(sub, &scratch));
    Ok(())
}

fn main() -> ExitCode {
    lab_marking::marking::main(LAB, |sub, marking| {
        if let Err(why) = mark(sub, marking) {
            marking.check("setup", 1, || Err(format!("the checker could not prepare its files: {why}")));
        }
    })
}
