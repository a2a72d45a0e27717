//! The outside view of overlap: a FIFO that answers each read only after a delay that
//! starts when the program *asks*.
//!
//! A FIFO cannot see a reader asking, and its 64 KiB buffer would let a writer get
//! ahead of a sequential reader and hide the difference. So the checker watches the
//! program instead: Linux shows, in `/proc/PID/task/TID/syscall`, the system call each
//! sleeping thread is blocked in and its arguments. When some thread of the program is
//! blocked in read() (or pread64, readv...) on an fd that is this FIFO, a read has been
//! requested; the checker waits `delay`, writes one block, waits until the program has
//! taken it all (its `rchar` in `/proc/PID/io` has grown by the block's size, so the
//! next blocked read seen is a new one), and repeats. Then it closes the FIFO: EOF.
//!
//! glibc's AIO worker runs an aio_read on a FIFO as pread64, which fails with ESPIPE,
//! then read(): it blocks in read() on the FIFO's fd, which is what is seen here. A
//! program that reads block k+1 while processing block k gets each delay hidden behind
//! its processing; one that reads only after processing pays delay + work per block.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::run::Running;

/// System calls that mean "this thread is waiting to read an fd" (fd is the first argument).
const READ_CALLS: [libc::c_long; 5] =
    [libc::SYS_read, libc::SYS_pread64, libc::SYS_readv, libc::SYS_preadv, libc::SYS_preadv2];

/// How long the checker waits for the program to ask for the next block, or to take
/// one it was given, before calling it stuck.
const STEP_LIMIT: Duration = Duration::from_secs(3);

/// The program's process and any processes it started (a shell wrapper, say).
fn family(pid: i32) -> Vec<i32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() && all.len() < 64 {
        let p = all[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                if let Ok(kids) = std::fs::read_to_string(t.path().join("children")) {
                    all.extend(kids.split_whitespace().filter_map(|k| k.parse::<i32>().ok()));
                }
            }
        }
        i += 1;
    }
    all
}

/// Is some thread of the program blocked in a read of `fifo` right now? When one is,
/// Some(how many threads the program and its children have in all).
fn reader_waiting(pid: i32, fifo: &Path) -> Result<Option<usize>, String> {
    let mut threads = 0;
    let mut waiting = false;
    for p in family(pid) {
        let tasks = match std::fs::read_dir(format!("/proc/{p}/task")) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                return Err(format!(
                    "cannot look at /proc/{p}/task ({e}): run the checker as the same user as the program"
                ))
            }
            Err(_) => continue, // gone meanwhile
        };
        for task in tasks.flatten() {
            threads += 1;
            if waiting {
                continue;
            }
            let text = match std::fs::read_to_string(task.path().join("syscall")) {
                Ok(t) => t,
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    return Err(format!(
                        "cannot read {} ({e}): this check needs to see the program's blocked system calls",
                        task.path().join("syscall").display()
                    ))
                }
                Err(_) => continue,
            };
            // "NR ARG0 ARG1 ..." for a thread blocked in a system call; "running" otherwise.
            let mut fields = text.split_whitespace();
            let nr = fields.next().and_then(|f| f.parse::<libc::c_long>().ok());
            let fd = fields.next().and_then(|f| i64::from_str_radix(f.trim_start_matches("0x"), 16).ok());
            let (Some(nr), Some(fd)) = (nr, fd) else { continue };
            if READ_CALLS.contains(&nr) {
                let target = std::fs::read_link(format!("/proc/{p}/fd/{fd}"));
                waiting = target.is_ok_and(|t| t == fifo);
            }
        }
    }
    Ok(waiting.then_some(threads))
}

/// Bytes the program (and its family) has read so far, by any read-like call.
fn rchar(pid: i32) -> u64 {
    family(pid)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/io")).ok())
        .filter_map(|io| {
            io.lines().find_map(|l| l.strip_prefix("rchar:").and_then(|n| n.trim().parse::<u64>().ok()))
        })
        .sum()
}

/// The FIFO's pace: `blocks` writes of `block_bytes`, each `delay` after a read is seen.
#[derive(Debug, Clone)]
pub struct Pace {
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub block_bytes: usize,
    pub delay: Duration,
}

/// Opens the FIFO for writing once the program has opened it for reading (a FIFO's
/// open(O_WRONLY|O_NONBLOCK) fails with ENXIO until a reader exists).
fn open_writer(running: &mut Running, path: &Path) -> Result<File, String> {
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        match OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path) {
            Ok(f) => return Ok(f),
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => return Err(format!("checker: open {} for writing: {e}", path.display())),
        }
        if running.has_exited() {
            return Err("the program exited without opening the FIFO".into());
        }
        if Instant::now() > deadline {
            return Err(format!("the program did not open the FIFO within {STEP_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Writes all of `bytes` to the non-blocking FIFO (it never blocks the checker).
fn write_all(w: &mut File, mut bytes: &[u8], running: &mut Running) -> Result<(), String> {
    let deadline = Instant::now() + STEP_LIMIT;
    while !bytes.is_empty() {
        match w.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                if running.has_exited() || Instant::now() > deadline {
                    return Err("the FIFO stayed full: the program stopped reading".into());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(format!("writing to the FIFO failed ({e}): the program closed it early")),
        }
    }
    Ok(())
}

/// What the FIFO saw of a program it served in full.
#[derive(Debug, Default)]
pub struct Served {
    /// For each block after the first, how long after the previous block was taken it
    /// was asked for.
    pub gaps: Vec<Duration>,
    /// When the last block was taken.
    pub last_taken: Option<Instant>,
    /// The first block after block 0 that was asked for by a thread that was, at that
    /// moment, the only thread of the program (and of any process it started).
    pub lone_reader: Option<usize>,
}

/// Serves `pace` to the running program: blocks until every block was written and taken
/// and the FIFO closed (Ok), or the program misbehaved (Err says how).
pub fn serve(running: &mut Running, pace: &Pace) -> Result<Served, String> {
    let mut w = open_writer(running, &pace.path)?;
    let mut seen = Served::default();
    for (k, block) in pace.data.chunks(pace.block_bytes).enumerate() {
        let asked = Instant::now() + STEP_LIMIT;
        loop {
            if let Some(threads) = reader_waiting(running.pid(), &pace.path)? {
                if let Some(taken) = seen.last_taken {
                    seen.gaps.push(taken.elapsed());
                }
                if k > 0 && threads == 1 && seen.lone_reader.is_none() {
                    seen.lone_reader = Some(k);
                }
                break;
            }
            if running.has_exited() {
                return Err(format!("the program exited before reading block {k} of the FIFO"));
            }
            if Instant::now() > asked {
                return Err(format!(
                    "no thread of the program was seen waiting in read() on the FIFO for block {k} within {STEP_LIMIT:?}"
                ));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        // The simulated device latency, counted from the request.
        std::thread::sleep(pace.delay);
        let before = rchar(running.pid());
        write_all(&mut w, block, running)?;
        let taken = Instant::now() + STEP_LIMIT;
        while rchar(running.pid()) < before + block.len() as u64 {
            if running.has_exited() {
                return Err(format!("the program exited before taking block {k} from the FIFO"));
            }
            if Instant::now() > taken {
                return Err(format!(
                    "the program did not read block {k} within {STEP_LIMIT:?} of it arriving"
                ));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        seen.last_taken = Some(Instant::now());
    }
    drop(w); // EOF for the program's next read
    Ok(seen)
}
