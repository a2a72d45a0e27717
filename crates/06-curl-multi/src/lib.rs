//! Many HTTP transfers on one thread with libcurl's multi interface, waiting in
//! `curl_multi_wait` (notes: "Using cURL Asynchronously").
//!
//! [`transfer_all`] makes the notes' calls in the notes' order, each in sight:
//!
//! 1. `curl_multi_init` (after `curl_global_init`, in `run`);
//! 2. `curl_multi_add_handle` for each easy handle (`curl_easy_init` + setopts);
//! 3. `curl_multi_perform`: every read and write that can be done now, never waiting;
//! 4. `curl_multi_wait`: sleeps until a socket of *any* transfer has an event, or
//!    curl's next timer is due; then round to perform again;
//! 5. `curl_multi_info_read` until it has no more messages: each `CURLMSG_DONE` is a
//!    finished transfer, with its result;
//! 6. `curl_multi_remove_handle` and `curl_easy_cleanup` for each; `curl_multi_cleanup`.
//!
//! Where this differs from the notes: the messages are read inside the loop, as soon
//! as a perform says a transfer finished (running went down), not once after it, so
//! each result is reported when it happens and `--parallel N` can start the next
//! transfer at once; waits are capped at one second, not thirty, and the loop has a
//! deadline; `curl_multi_wait` returns at once when curl has no socket to offer, so
//! the loop then sleeps until curl's timer itself (the notes' loop would spin);
//! `--wait poll` uses `curl_multi_poll`, which waits in that case, and shows
//! `curl_multi_wakeup`; only http and https are allowed.

use common::sys::curl::FD_SETSIZE;
use common::transfer::{self, Config, Local, Options, Outcome, Pool, Summary, Transfer};
use common::{Error, Narrator, Result};
use curl::multi::Multi;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The longest one wait may sleep. curl returns sooner when a socket has an event or
/// its own next timer is due; the cap only matters when nothing happens, and keeps the
/// loop checking its deadline.
pub const WAIT_CAP: Duration = Duration::from_secs(1);
/// How long to sleep when curl has no fd to offer and no timer either (what curl's
/// documentation suggests for curl_multi_fdset's maxfd -1).
pub const NO_FD_WAIT: Duration = Duration::from_millis(100);
/// `--wait poll`: when the second thread hands the loop its transfer.
pub const HANDOVER_AFTER: Duration = Duration::from_millis(300);

/// Which libcurl call the loop waits in (`--wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Wait {
    /// curl_multi_wait, the notes' call; it returns at once when curl has no socket
    #[default]
    Wait,
    /// curl_multi_poll (libcurl 7.66+): waits even with no socket, and a second thread
    /// ends the wait early with curl_multi_wakeup
    Poll,
}

impl Wait {
    /// The C function's name.
    pub fn call(self) -> &'static str {
        match self {
            Wait::Wait => "curl_multi_wait",
            Wait::Poll => "curl_multi_poll",
        }
    }
}

/// Runs `transfers` through one multi handle, at most `limit` at once, waiting in
/// `wait`. Returns the outcomes (in the order they finished) and the most that were
/// ever in flight.
pub fn transfer_all(
    transfers: Vec<Transfer>,
    limit: usize,
    options: Options,
    wait: Wait,
    narrator: &Narrator,
) -> Result<(Vec<Outcome>, usize)> {
    // ANCHOR: setup
    let multi = Multi::new(); // curl_multi_init
    transfer::report_multi_init(narrator, limit, wait.call());
    let mut pool = Pool::new(transfers, limit, options);
    let deadline = pool.deadline(Instant::now());
    let second = if wait == Wait::Poll {
        hand_over_later(&multi, &mut pool, narrator)
    } else {
        SecondThread::default()
    };
    let mut explained = Explained::default();
    let (mut running, mut perform_due) = (0, true);
    // ANCHOR_END: setup

    // ANCHOR: loop
    loop {
        // ANCHOR: add_handle
        // An easy handle (curl_easy_init + curl_easy_setopt) for every transfer there is
        // room for, given to curl_multi_add_handle: all at first, then one per result.
        while let Some((transfer, easy)) = pool.next_easy(narrator) {
            let handle = multi.add2(easy).map_err(|e| Error::msg("curl_multi_add_handle", e.to_string()))?;
            pool.added(transfer, handle, narrator)?;
            perform_due = true;
        }
        // ANCHOR_END: add_handle

        // ANCHOR: perform
        // Every read and write that can be done right now; it never waits. Due after a
        // wait or an add; right after reading results, curl's running count still holds.
        if perform_due {
            running = multi.perform().map_err(|e| Error::msg("curl_multi_perform", e.to_string()))?;
            transfer::report_perform(narrator, &mut pool, running);
        }
        // ANCHOR_END: perform

        // ANCHOR: wait
        // Wait while every transfer in flight is still running. When one has finished
        // (running went down), its result is waiting: read it first.
        if running as usize == pool.in_flight() && !pool.is_done() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                pool.give_up(&multi, "deadline", narrator);
                break;
            };
            let timeout = WAIT_CAP.min(left);
            let started = Instant::now();
            let numfds = match wait {
                Wait::Wait => multi.wait(&mut [], timeout),
                Wait::Poll => multi.poll(&mut [], timeout),
            }
            .map_err(|e| wait_failed(&e, wait, &pool))?;
            let took = started.elapsed();
            // curl_multi_wait returns at once when curl has no socket to offer, whatever
            // its timer says: sleep until that timer here, or this loop spins.
            let napped = match wait {
                Wait::Wait if numfds == 0 => nap_until_curls_timer(&multi, timeout, took)?,
                _ => Duration::ZERO,
            };
            let waited = Waited { wait, timeout, numfds, took, napped, woken: second.woke() };
            narrate_wait(narrator, &waited);
            explained.once(narrator, &waited);
            perform_due = true;
            continue;
        }
        // ANCHOR_END: wait

        // ANCHOR: info_read
        // curl_multi_info_read until it returns NULL: a CURLMSG_DONE per finished transfer.
        let mut done = Vec::new();
        multi.messages(|message| done.extend(pool.result_of(&message)));
        // ANCHOR_END: info_read

        // ANCHOR: remove_handle
        // curl_multi_remove_handle, then curl_easy_cleanup (when `easy` is dropped).
        for (id, result) in done {
            let Some(r) = pool.take(id) else { continue };
            let easy =
                multi.remove2(r.handle).map_err(|e| Error::msg("curl_multi_remove_handle", e.to_string()))?;
            pool.finished(Outcome::new(r.transfer, &easy, result, r.start, Instant::now()), narrator);
        }
        // ANCHOR_END: remove_handle
        perform_due = false;
        if pool.is_done() {
            break;
        }
        if pool.in_flight() > running as usize {
            pool.give_up(&multi, "stuck", narrator);
            break;
        }
    }
    // ANCHOR_END: loop

    // ANCHOR: cleanup
    second.stop();
    let most = pool.most_in_flight();
    let outcomes = pool.outcomes().to_vec();
    drop(pool); // every handle was removed and cleaned up as it finished
    drop(multi); // curl_multi_cleanup
    transfer::report_cleanup(narrator);
    // ANCHOR_END: cleanup
    Ok((outcomes, most))
}

// ANCHOR: nap
/// After a wait that saw no fd: if curl's own timer (curl_multi_timeout) is not due yet
/// and the wait did not last its `timeout`, curl had no socket to wait on and returned
/// at once; sleep until the timer (at most the rest of `timeout`). Returns how long it
/// slept. A timer of -1 with no socket means curl is busy with something it cannot
/// hand over as an fd: sleep [`NO_FD_WAIT`], as curl's documentation suggests.
fn nap_until_curls_timer(multi: &Multi, timeout: Duration, took: Duration) -> Result<Duration> {
    let curl_timer = multi.get_timeout().map_err(|e| Error::msg("curl_multi_timeout", e.to_string()))?;
    let nap = curl_timer.unwrap_or(NO_FD_WAIT).min(timeout.saturating_sub(took));
    if nap >= Duration::from_millis(1) {
        std::thread::sleep(nap);
        Ok(nap)
    } else {
        Ok(Duration::ZERO)
    }
}
// ANCHOR_END: nap

/// The error for a failed wait, explaining the one failure a student can provoke here
/// (`--fd-floor 1100` with a libcurl built without HAVE_POLL).
///
/// libcurl waits with poll() when it was built with HAVE_POLL, and then fd numbers do
/// not matter. Built without it (curl-sys 0.4.91 defines only the older HAVE_POLL_FINE,
/// which curl 8.11 stopped reading; .cargo/config.toml adds HAVE_POLL back), libcurl
/// waits with select() inside curl_multi_wait, and a socket at or above FD_SETSIZE
/// makes it fail with CURLM_UNRECOVERABLE_POLL.
fn wait_failed(error: &curl::MultiError, wait: Wait, pool: &Pool) -> Error {
    let high = pool.sockets().into_iter().find(|(fd, _)| *fd >= FD_SETSIZE);
    match high {
        Some((fd, label)) => Error::msg(
            wait.call(),
            format!(
                "{error}: the socket for {label} is fd {fd}, at or above FD_SETSIZE ({FD_SETSIZE}), and \
                 this libcurl waits with select() internally (it was built without HAVE_POLL), which \
                 cannot watch it. A libcurl built with HAVE_POLL waits with poll() and has no such limit"
            ),
        ),
        _ => Error::msg(wait.call(), error.to_string()),
    }
}

/// `--wait poll`: the second thread, which hands the loop its last transfer after
/// [`HANDOVER_AFTER`] and wakes it with curl_multi_wakeup.
#[derive(Default)]
struct SecondThread {
    thread: Option<std::thread::JoinHandle<()>>,
    /// Set just before the wakeup, read (and cleared) after each wait.
    woke: Arc<AtomicBool>,
    /// Dropped to tell the thread the loop is over.
    stop: Option<mpsc::Sender<()>>,
}

impl SecondThread {
    /// Whether it woke the loop since the last call.
    fn woke(&self) -> bool {
        self.woke.swap(false, Ordering::SeqCst)
    }

    /// Ends the thread (at once if it has not handed over yet) and waits for it.
    fn stop(mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join(); // it only sleeps, sends and narrates: nothing to report
        }
    }
}

// ANCHOR: wakeup
/// Keeps the last transfer back and starts a thread that, after [`HANDOVER_AFTER`],
/// releases it and calls curl_multi_wakeup: how another thread gives a waiting loop new
/// work. Only the loop's thread may touch the multi handle (adding the transfer is its
/// job); curl_multi_wakeup is the one call another thread may make.
fn hand_over_later(multi: &Multi, pool: &mut Pool, narrator: &Narrator) -> SecondThread {
    let (release, released) = mpsc::channel();
    let Some(transfer) = pool.hold_back_last(released) else { return SecondThread::default() };
    narrator.event(
        "held_back",
        json!({"id": transfer.id, "label": transfer.label, "after_ms": HANDOVER_AFTER.as_millis() as u64}),
        format!(
            "#{} {} is kept back: a second thread hands it to the loop after {} ms",
            transfer.id,
            transfer.label,
            HANDOVER_AFTER.as_millis()
        ),
    );
    let waker = multi.waker();
    let woke = Arc::new(AtomicBool::new(false));
    let (stop, stopped) = mpsc::channel::<()>();
    let (flag, narrator) = (woke.clone(), narrator.clone());
    let thread = std::thread::spawn(move || {
        // Ends early, without handing over, when the loop is over (the sender dropped).
        if stopped.recv_timeout(HANDOVER_AFTER) != Err(mpsc::RecvTimeoutError::Timeout) {
            return;
        }
        narrator.event(
            "wakeup",
            json!({"id": transfer.id}),
            format!("second thread: hands #{} to the loop, then curl_multi_wakeup", transfer.id),
        );
        let _ = release.send(());
        flag.store(true, Ordering::SeqCst);
        if let Err(e) = waker.wakeup() {
            // The loop still picks the transfer up, at its next wait's timeout.
            narrator.event(
                "wakeup_failed",
                json!({"error": e.to_string()}),
                format!("curl_multi_wakeup: {e}"),
            );
        }
    });
    SecondThread { thread: Some(thread), woke, stop: Some(stop) }
}
// ANCHOR_END: wakeup

/// What one wait did: the `multi_wait` event's fields.
struct Waited {
    wait: Wait,
    timeout: Duration,
    numfds: u32,
    /// How long the wait call took (the nap after it not included).
    took: Duration,
    /// How long the loop slept itself after a curl_multi_wait that returned at once.
    napped: Duration,
    /// curl_multi_wakeup ended it.
    woken: bool,
}

fn narrate_wait(narrator: &Narrator, w: &Waited) {
    let why = match (w.numfds, w.woken, w.napped.is_zero()) {
        (_, true, _) => " (woken by curl_multi_wakeup)".to_string(),
        (0, _, false) => {
            format!(": no socket to wait on; slept {} ms until curl's timer", w.napped.as_millis())
        }
        _ => String::new(),
    };
    narrator.event(
        "multi_wait",
        json!({
            "call": w.wait.call(),
            "timeout_ms": w.timeout.as_millis() as u64,
            "numfds": w.numfds,
            "waited_ms": common::narrate::round_ms(w.took.as_secs_f64() * 1000.0),
            "napped_ms": common::narrate::round_ms(w.napped.as_secs_f64() * 1000.0),
            "woken": w.woken,
        }),
        format!(
            "{}(timeout {} ms) -> {} fd{} with events after {:.3} s{why}",
            w.wait.call(),
            w.timeout.as_millis(),
            w.numfds,
            transfer::plural(w.numfds as usize),
            w.took.as_secs_f64()
        ),
    );
}

/// Explains each way a wait can end, the first time it happens.
#[derive(Default)]
struct Explained {
    seen: Vec<&'static str>,
}

impl Explained {
    fn once(&mut self, narrator: &Narrator, w: &Waited) {
        let (kind, why) = if w.woken {
            (
                "woken",
                "curl_multi_wakeup, called from another thread, ends curl_multi_poll at once: the way to \
                 hand a waiting loop new work, since only the loop's thread may add the handle",
            )
        } else if !w.napped.is_zero() {
            (
                "napped",
                "curl_multi_wait returned at once with 0 fds: curl had no socket to offer (a rate-limited \
                 transfer, a connection not opened yet) and it does not wait then, so the loop slept until \
                 curl's timer itself; without that it would spin. curl_multi_poll (--wait poll) waits",
            )
        } else if w.numfds > 0 {
            ("fds", "numfds counts curl's sockets that had an event")
        } else {
            ("timer", "0 fds: the wait ended on a timer (curl's own, or our 1 s cap), not on a socket")
        };
        if !self.seen.contains(&kind) {
            self.seen.push(kind);
            narrator.explain(why);
        }
    }
}

/// The whole demo: the local server (unless URLs were given), the transfers in the
/// chosen mode, the fd check, the timeline and the summary line. Returns an error
/// (exit code 1) when every transfer failed.
pub fn run(config: &Config, wait: Wait, narrator: &Narrator) -> Result<Summary> {
    let demo = transfer::Demo {
        name: "curl-multi",
        summary: match wait {
            Wait::Wait => "concurrent HTTP transfers on one thread, waiting in curl_multi_wait",
            Wait::Poll => "concurrent HTTP transfers on one thread, waiting in curl_multi_poll",
        },
        mode: "multi",
    };
    transfer::run(&demo, config, narrator, local_server, &mut |transfers, limit, options| {
        transfer_all(transfers, limit, options, wait, narrator)
    })
}

/// The default run's world: the fixture HTTP server and a port where nothing listens.
fn local_server() -> Result<Local<offline::http::Server>> {
    let server = offline::http::Server::start()?;
    Ok(Local { base: server.url(""), refused_port: offline::http::refused_port()?, server })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_multi_wait_without_a_socket_returns_at_once_and_the_nap_makes_up_for_it() {
        let multi = Multi::new();
        let timeout = Duration::from_millis(800);
        // No transfers, so no socket: curl_multi_wait does not wait at all...
        let started = Instant::now();
        assert_eq!(multi.wait(&mut [], timeout).unwrap(), 0);
        let took = started.elapsed();
        assert!(took < Duration::from_millis(100), "curl_multi_wait took {took:?}");
        // ...and curl has no timer either (-1): the loop sleeps NO_FD_WAIT instead.
        assert_eq!(multi.get_timeout().unwrap(), None);
        let napping = Instant::now();
        assert_eq!(nap_until_curls_timer(&multi, timeout, took).unwrap(), NO_FD_WAIT);
        assert!(napping.elapsed() >= NO_FD_WAIT);
        // Never past the wait's own timeout.
        assert_eq!(nap_until_curls_timer(&multi, timeout, timeout).unwrap(), Duration::ZERO);
        let short = Duration::from_millis(30);
        assert_eq!(nap_until_curls_timer(&multi, short, Duration::ZERO).unwrap(), short);
    }

    #[test]
    fn curl_multi_poll_without_a_socket_waits_and_curl_multi_wakeup_ends_it() {
        let multi = Multi::new();
        let started = Instant::now();
        assert_eq!(multi.poll(&mut [], Duration::from_millis(300)).unwrap(), 0);
        assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());

        let waker = multi.waker();
        let (woke, wake) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = wake.recv();
            waker.wakeup().unwrap();
        });
        let started = Instant::now();
        woke.send(()).unwrap();
        assert_eq!(multi.poll(&mut [], Duration::from_secs(30)).unwrap(), 0);
        assert!(started.elapsed() < Duration::from_secs(20), "the wakeup ended the 30 s wait");
        thread.join().unwrap();
    }
}
