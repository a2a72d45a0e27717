//! aio_cancel, every outcome (notes: "Asynchronous I/O with AIO", "Cancel()" and
//! "example: cancel").
//!
//! What aio_cancel returns depends on where the request is at that instant, and with
//! glibc that is something we can arrange exactly, because glibc's AIO is threads:
//!
//! * each fd gets one worker thread, which runs that fd's requests **one at a time**
//!   (it calls pread64, and read when pread64 says ESPIPE, as it does on a pipe);
//! * a second request for the same fd waits in a queue behind the first.
//!
//! So: two reads on one *empty* pipe. The first is running (its worker sleeps in
//! read(), which we can see in /proc), the second is queued behind it. Cancelling the
//! queued one works (AIO_CANCELED); the running one cannot be stopped (AIO_NOTCANCELED)
//! and finishes only when data arrives; a finished one has nothing to cancel
//! (AIO_ALLDONE). Every request's result is collected with aio_return exactly once,
//! cancelled or not: `AioRead::aio_return` takes the request by value.

use common::narrate::{plural, show_bytes, Style};
use common::sys::aio::{aio_cancel_fd, aio_cancel_raw_fd, aio_suspend, AioRead, CancelOutcome, Status};
use common::{Context, Error, Narrator, Result};
use serde_json::json;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes each read asks for (the notes' MAX_SIZE, smaller: the pipe carries one line).
const NBYTES: usize = 64;

/// How long any single wait in this demo may take before it is an error.
const DEADLINE: Duration = Duration::from_secs(3);

/// One row of the truth table the demo ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Which request(s) were cancelled, e.g. `B` or `fd 3 (NULL)`.
    pub target: String,
    /// Where they were when aio_cancel ran.
    pub state: String,
    /// What aio_cancel returned: `AIO_CANCELED`, ..., or `-1 EBADF`.
    pub returned: String,
    /// aio_error afterwards, for each request involved.
    pub aio_error: String,
    /// aio_return, collected once per request.
    pub aio_return: String,
}

/// A request with the name the narration gives it.
struct Named {
    name: &'static str,
    req: AioRead,
}

/// What happened to every request: the table rows, and each request's result.
#[derive(Debug, Default)]
pub struct Report {
    /// The truth table, in the order it was shown.
    pub rows: Vec<Row>,
    /// (request name, aio_return value, bytes read) for every request, once each.
    pub returns: Vec<(String, isize, Vec<u8>)>,
}

// ANCHOR: submit
/// aio_read on the pipe, narrated.
fn submit(n: &Narrator, name: &'static str, fd: &Arc<OwnedFd>, why: &str) -> Result<Named> {
    let mut req = AioRead::new(Arc::clone(fd), 0, vec![0; NBYTES]);
    let raw = fd.as_raw_fd();
    req.aio_read().with_context(|| format!("aio_read {name} (fd {raw})"))?;
    narrate_aio_read(n, name, raw, why);
    Ok(Named { name, req })
}
// ANCHOR_END: submit

// ANCHOR: wait_running
/// Waits until a thread of this process is blocked in read() or pread64() on `fd`:
/// glibc's worker has taken the request off the queue and is *running* it. Reads
/// `/proc/self/task/*/syscall` (syscall number, then the arguments; fd first).
///
/// Without this the demo would be a race: right after aio_read the request may still
/// sit in glibc's run list, and cancelling it then gives AIO_CANCELED.
fn wait_until_running(fd: i32) -> Option<i32> {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if let Some(tid) = common::aio::thread_blocked_in_read(fd) {
            return Some(tid);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // No /proc to look in (or nothing seen): give the worker time instead. The outcome
    // printed below is still whatever aio_cancel really returned.
    std::thread::sleep(Duration::from_millis(200));
    None
}
// ANCHOR_END: wait_running

/// aio_error, narrated.
fn show_error(n: &Narrator, r: &Named) -> Status {
    let status = r.req.aio_error();
    n.event(
        "aio_error",
        json!({"req": r.name, "value": status.c_name()}),
        format!("aio_error({}) = {}", r.name, status.c_name()),
    );
    status
}

// ANCHOR: cancel_one
/// aio_cancel(fd, &cb), narrated with the state the request was in.
fn cancel(n: &Narrator, r: &Named, state: &str) -> Result<CancelOutcome> {
    let fd = r.req.fd().as_raw_fd();
    let outcome = r.req.aio_cancel().with_context(|| format!("aio_cancel(fd {fd}, {})", r.name))?;
    narrate_cancel(n, r.name, fd, Ok(outcome), &format!("{} was {state}", r.name), state);
    Ok(outcome)
}
// ANCHOR_END: cancel_one

// ANCHOR: collect
/// Waits (aio_suspend, with a deadline) until the request is finished, then collects it
/// with aio_return: once, because `aio_return` consumes the request.
fn collect(n: &Narrator, r: Named, report: &mut Report) -> Result<(isize, Status)> {
    let deadline = Instant::now() + DEADLINE;
    while !r.req.aio_error().is_finished() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::msg(format!("wait for {}", r.name), "still in progress after 3 s"));
        }
        match aio_suspend(&[&r.req], left) {
            Ok(()) | Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::os(format!("aio_suspend({})", r.name), e)),
        }
    }
    let name = r.name;
    let done = r.req.aio_return().map_err(|_| Error::msg(format!("aio_return {name}"), "not finished"))?;
    let data = done.bytes().to_vec();
    narrate_return(n, name, done.ret, done.status, &data);
    report.returns.push((name.to_string(), done.ret, data));
    Ok((done.ret, done.status))
}
// ANCHOR_END: collect

/// Writes `bytes` into the pipe, narrated: what the running read was waiting for.
fn feed(n: &Narrator, writer: &mut std::fs::File, bytes: &[u8], note: &str) -> Result<()> {
    let fd = writer.as_raw_fd();
    writer.write_all(bytes).with_context(|| format!("write fd {fd}"))?;
    let fields = json!({"fd": fd, "bytes": bytes.len(), "data": String::from_utf8_lossy(bytes)});
    n.event(
        "pipe_write",
        fields,
        format!("write(fd {fd}, {}) = {}   {note}", show_bytes(bytes, 40), bytes.len()),
    );
    Ok(())
}

fn worker_event(n: &Narrator, name: &str, fd: i32, tid: Option<i32>) {
    let fields = json!({"req": name, "fd": fd, "tid": tid, "syscall": tid.map(|_| "read")});
    match tid {
        Some(tid) => n.event("worker_running", fields, format!("/proc/self/task/{tid}/syscall: worker thread {tid} is blocked in read(fd {fd}): {name} is running")),
        None => n.event_styled("worker_running", fields, Style::Warn, format!("could not see glibc's worker in /proc/self/task; waited 200 ms for it to start {name}")),
    }
}

// Narration: one function per call, each building its text from the event's fields.

/// A blank line and the part's heading, in bold.
fn narrate_section(n: &Narrator, heading: &str) {
    n.say("");
    n.say(n.paint(Style::Bold, heading));
}

fn narrate_aio_read(n: &Narrator, name: &str, fd: i32, why: &str) {
    let text = format!("aio_read({name}: fd {fd}, {NBYTES} bytes) = 0   {why}");
    n.event("aio_read", json!({"req": name, "fd": fd, "nbytes": NBYTES, "ret": 0}), text);
}

/// One aio_cancel call and what it returned; `note` is the bracketed aside (none when
/// empty), `state` the JSON's. Returns the result as the table shows it.
fn narrate_cancel(
    n: &Narrator,
    target: &str,
    fd: i32,
    result: std::result::Result<CancelOutcome, nix::errno::Errno>,
    note: &str,
    state: &str,
) -> String {
    let (ret, returned) = match result {
        Ok(o) => (o.code(), format!("{} ({})", o.code(), o.c_name())),
        Err(e) => (-1, format!("-1 {e:?}")),
    };
    let name = match result {
        Ok(o) => o.c_name().to_string(),
        Err(e) => format!("-1 {e:?}"),
    };
    let aside = if note.is_empty() { String::new() } else { format!("   [{note}]") };
    n.event(
        "aio_cancel",
        json!({"req": target, "fd": fd, "state": state, "ret": ret, "name": name}),
        format!("aio_cancel(fd {fd}, {target}) = {returned}{aside}"),
    );
    result.map_or(name, outcome_text)
}

fn narrate_return(n: &Narrator, name: &str, ret: isize, status: Status, data: &[u8]) {
    let text = match ret {
        0.. => format!(
            "aio_return({name}) = {}: {}",
            plural(ret.unsigned_abs() as u64, "byte", "bytes"),
            show_bytes(data, 40)
        ),
        _ => format!("aio_return({name}) = -1   (collected anyway: every request gets aio_return once)"),
    };
    let fields =
        json!({"req": name, "ret": ret, "status": status.c_name(), "data": String::from_utf8_lossy(data)});
    n.event("aio_return", fields, text);
}

/// Runs the whole table. Every wait has a 3 s deadline; no request outlives this
/// function unfinished (each is collected, or dropped, which cancels and waits).
pub fn run(n: &Narrator) -> Result<Report> {
    let mut report = Report::default();

    // ANCHOR: setup
    let (reader, writer) = common::fd::pipe()?;
    let fd = Arc::new(reader);
    let (raw, w) = (fd.as_raw_fd(), writer.as_raw_fd());
    let text = format!("pipe() = read end fd {raw}, write end fd {w}; it is empty, so any read on it waits");
    n.event("pipe", json!({"read_fd": raw, "write_fd": w}), text);
    // ANCHOR_END: setup

    // 1. A runs, B queues behind it.
    narrate_section(n, "1. Two reads on one empty pipe");
    let a = submit(n, "A", &fd, "glibc starts a worker thread for this fd")?;
    worker_event(n, "A", raw, wait_until_running(raw));
    n.explain("The worker tried pread64 (ESPIPE: a pipe has no offsets), fell back to read(),\nand sleeps there until the pipe has data. A is running.");
    let b = submit(n, "B", &fd, "same fd: queued behind A")?;
    n.explain("glibc runs one request per fd at a time, so B waits in the fd's queue.");
    // The write end is moved into a binding declared after A and B, so on an early
    // error it is dropped (closed) first: the running read then ends with EOF and A's
    // drop (cancel, wait, aio_return) finishes at once instead of waiting 3 s.
    let mut writer = std::fs::File::from(writer);
    show_error(n, &a);
    show_error(n, &b);
    n.explain("From outside both look the same: EINPROGRESS means queued OR running.");

    // ANCHOR: cancel_queued
    // 2. Cancelling the queued one works.
    narrate_section(n, "2. Cancel the queued request");
    let b_outcome = cancel(n, &b, "queued")?;
    let b_err = show_error(n, &b);
    n.explain("B never started, so glibc took it off the queue, set its error to ECANCELED\nand its return value to -1 (and sent its notification, had it asked for one).");
    let (b_ret, _) = collect(n, b, &mut report)?;
    report.rows.push(Row {
        target: "B".into(),
        state: "queued behind A".into(),
        returned: outcome_text(b_outcome),
        aio_error: b_err.c_name(),
        aio_return: b_ret.to_string(),
    });
    // ANCHOR_END: cancel_queued

    // ANCHOR: cancel_running
    // 3. Cancelling the running one does not.
    narrate_section(n, "3. Cancel the running request");
    let a_outcome = cancel(n, &a, "running")?;
    let a_err_now = show_error(n, &a);
    n.explain("A worker thread inside read() cannot be stopped: A goes on, and its buffer is\nstill glibc's. (The notes' example frees the buffer after sleep(5) without checking\nthis; here A's buffer stays alive until aio_error says A is finished.)");
    feed(n, &mut writer, b"hello\n", "data at last: A's read() returns")?;
    let (a_ret, a_status) = collect(n, a, &mut report)?;
    report.rows.push(Row {
        target: "A".into(),
        state: "running (worker in read)".into(),
        returned: outcome_text(a_outcome),
        aio_error: format!("{} -> {} after the write", a_err_now.c_name(), a_status.c_name()),
        aio_return: a_ret.to_string(),
    });
    // ANCHOR_END: cancel_running

    // ANCHOR: cancel_fd
    // 4. aio_cancel(fd, NULL): everything on the fd at once.
    narrate_section(n, "4. Cancel everything on the fd: aio_cancel(fd, NULL)");
    let c = submit(n, "C", &fd, "runs (glibc reuses the idle worker)")?;
    worker_event(n, "C", raw, wait_until_running(raw));
    let d = submit(n, "D", &fd, "queued behind C")?;
    let e = submit(n, "E", &fd, "queued behind D")?;
    // Again: the writer must be dropped before C, D and E on an early return.
    let mut writer = writer;
    let all = aio_cancel_fd(fd.as_fd()).with_context(|| format!("aio_cancel(fd {raw}, NULL)"))?;
    narrate_cancel(n, "NULL", raw, Ok(all), "C running, D and E queued", "C running, D and E queued");
    n.explain("D and E are cancelled; C is not, and one request not cancelled is enough\nfor the whole call to say AIO_NOTCANCELED.");
    let (c_err, d_err, e_err) = (show_error(n, &c), show_error(n, &d), show_error(n, &e));
    feed(n, &mut writer, b"world\n", "C's read() returns")?;
    let (c_ret, _) = collect(n, c, &mut report)?;
    let (d_ret, _) = collect(n, d, &mut report)?;
    let (e_ret, _) = collect(n, e, &mut report)?;
    report.rows.push(Row {
        target: format!("fd {raw} (NULL)"),
        state: "C running, D and E queued".into(),
        returned: outcome_text(all),
        aio_error: format!("C {}, D {}, E {}", c_err.c_name(), d_err.c_name(), e_err.c_name()),
        aio_return: format!("C {c_ret}, D {d_ret}, E {e_ret}"),
    });
    // ANCHOR_END: cancel_fd

    // ANCHOR: cancel_finished
    // 5. Cancelling what has finished.
    narrate_section(n, "5. Cancel a finished request");
    feed(n, &mut writer, b"done\n", "data first, then the read")?;
    let f = submit(n, "F", &fd, "data is already there: finishes at once")?;
    let deadline = Instant::now() + DEADLINE;
    while !f.req.aio_error().is_finished() && Instant::now() < deadline {
        let _ = aio_suspend(&[&f.req], Duration::from_millis(100));
    }
    let f_err = show_error(n, &f);
    let f_outcome = cancel(n, &f, "finished")?;
    let none = aio_cancel_fd(fd.as_fd()).with_context(|| format!("aio_cancel(fd {raw}, NULL)"))?;
    narrate_cancel(
        n,
        "NULL",
        raw,
        Ok(none),
        &format!("nothing outstanding on fd {raw}"),
        "nothing outstanding",
    );
    let (f_ret, _) = collect(n, f, &mut report)?;
    report.rows.push(Row {
        target: "F".into(),
        state: "finished".into(),
        returned: outcome_text(f_outcome),
        aio_error: f_err.c_name(),
        aio_return: f_ret.to_string(),
    });
    report.rows.push(Row {
        target: format!("fd {raw} (NULL)"),
        state: "nothing outstanding".into(),
        returned: outcome_text(none),
        aio_error: "-".into(),
        aio_return: "-".into(),
    });
    // ANCHOR_END: cancel_finished

    // 6. And the failure row: a bad fd.
    narrate_section(n, "6. Cancel on an fd that is not open");
    let bad_fd = 1_000_000;
    let bad = aio_cancel_raw_fd(bad_fd);
    let returned = narrate_cancel(n, "NULL", bad_fd, bad, "", "fd not open");
    report.rows.push(Row {
        target: format!("fd {bad_fd} (NULL)"),
        state: "fd not open".into(),
        returned,
        aio_error: "-".into(),
        aio_return: "-".into(),
    });
    drop(writer);
    Ok(report)
}

fn outcome_text(o: CancelOutcome) -> String {
    format!("{} {}", o.code(), o.c_name())
}

// ANCHOR: table
/// The truth table, as text or as one `truth_table` JSON event.
pub fn print_table(n: &Narrator, report: &Report) {
    let rows: Vec<serde_json::Value> = report
        .rows
        .iter()
        .map(|r| {
            json!({"target": r.target, "state": r.state, "returned": r.returned,
                   "aio_error": r.aio_error, "aio_return": r.aio_return})
        })
        .collect();
    n.data("truth_table", json!({ "rows": rows }));
    n.say("");
    let header = ["cancelled", "state at aio_cancel", "aio_cancel returned", "aio_error after", "aio_return"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    let cells: Vec<[&str; 5]> = report
        .rows
        .iter()
        .map(|r| [&*r.target, &*r.state, &*r.returned, &*r.aio_error, &*r.aio_return])
        .collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |row: [&str; 5]| {
        row.iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    n.say(n.paint(Style::Bold, line(header)));
    for row in cells {
        n.say(line(row));
    }
}
// ANCHOR_END: table

/// What glibc gives for each row, in order (POSIX allows other answers elsewhere: a
/// system may cancel a running request, or run a request before aio_cancel sees it).
pub const GLIBC_EXPECTED: [&str; 6] = [
    "0 AIO_CANCELED",
    "1 AIO_NOTCANCELED",
    "1 AIO_NOTCANCELED",
    "2 AIO_ALLDONE",
    "2 AIO_ALLDONE",
    "-1 EBADF",
];

/// The rows whose outcome differs from [`GLIBC_EXPECTED`] (empty on glibc).
pub fn surprises(report: &Report) -> Vec<String> {
    report
        .rows
        .iter()
        .zip(GLIBC_EXPECTED)
        .filter(|(row, want)| row.returned != *want)
        .map(|(row, want)| format!("{}: got {}, glibc gives {want}", row.target, row.returned))
        .collect()
}
