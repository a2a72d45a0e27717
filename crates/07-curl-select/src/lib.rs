//! The curl-multi transfers again, but this program does the waiting itself: libcurl
//! hands over its fds (`curl_multi_fdset`) and how long it may wait
//! (`curl_multi_timeout`), and the program calls `select()` (notes: "Using cURL
//! Asynchronously", "Asynchronous +curl + select()").
//!
//! Each time round the loop, in the order the notes give:
//!
//! 1. three fresh, zeroed `fd_set`s (FD_ZERO): select() rewrote the last ones;
//! 2. `curl_multi_fdset` adds the sockets curl wants watched and says the largest
//!    (`maxfd`), or -1 when it has none to offer right now;
//! 3. `curl_multi_timeout` says how long until curl's next timer is due (-1: none);
//! 4. `select(maxfd + 1, ...)` with a timeout chosen from those two ([`choose_wait`]);
//! 5. `curl_multi_perform`, whether select saw a ready fd or timed out: curl's timers
//!    (connect timeouts, retries) only run inside perform;
//! 6. `curl_multi_info_read` for the results, `curl_multi_remove_handle` for each.
//!
//! [`transfer_all`] reads like curl-multi's: `curl_multi_add_handle`, perform, the
//! wait (these steps, in place of `curl_multi_wait`), `curl_multi_info_read`,
//! `curl_multi_remove_handle`. `diff` the two files: the wait is all that differs.
//!
//! Where this differs from the notes: it handles `maxfd == -1` (the notes would call
//! `select(0, ...)` and sleep the whole default timeout; curl's advice is to wait about
//! 100 ms and perform again); and it checks every socket's number against
//! FD_SETSIZE, because curl_multi_fdset silently leaves out an fd of 1024 or more:
//! select() then never watches it and the loop waits in vain. The notes say neither.

use common::sys::curl::{select, FdSet, FD_SETSIZE};
use common::transfer::{self, Config, Local, Options, Outcome, Pool, Summary, Transfer};
use common::{Error, Narrator, Result};
use curl::multi::Multi;
use nix::errno::Errno;
use serde_json::json;
use std::time::{Duration, Instant};

/// The longest one select() may sleep when curl has no timer running.
pub const WAIT_CAP: Duration = Duration::from_secs(1);
/// How long to wait when curl has no fd to offer (maxfd -1), as curl's documentation
/// for curl_multi_fdset suggests.
pub const NO_FD_WAIT: Duration = Duration::from_millis(100);

/// Why a select() timeout was chosen: the `reason` field of the `select` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// curl_multi_timeout said 0: a timer is already due, so perform without waiting.
    TimerDue,
    /// curl's next timer is this soon.
    CurlTimer,
    /// curl's next timer is later than [`WAIT_CAP`] (or it has none): wait the cap.
    Cap,
    /// curl has no fd to offer (maxfd -1): wait [`NO_FD_WAIT`].
    NoFds,
    /// The run's deadline is nearer than anything else.
    Deadline,
}

impl WaitReason {
    /// The snake_case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            WaitReason::TimerDue => "timer_due",
            WaitReason::CurlTimer => "curl_timer",
            WaitReason::Cap => "cap",
            WaitReason::NoFds => "no_fds",
            WaitReason::Deadline => "deadline",
        }
    }

    /// The same, in words, for the narration.
    pub fn words(self) -> &'static str {
        match self {
            WaitReason::TimerDue => "curl's timer is already due: perform now, no select",
            WaitReason::CurlTimer => "until curl's next timer",
            WaitReason::Cap => "curl has no sooner timer: our 1 s cap",
            WaitReason::NoFds => "maxfd -1, curl has no fd to offer: wait 100 ms, then perform anyway",
            WaitReason::Deadline => "the run's deadline is near",
        }
    }
}

// ANCHOR: choose_wait
/// The select() timeout, from what curl said: `curl_timeout` is curl_multi_timeout's
/// answer (None for its -1, "no timer"), `maxfd` is curl_multi_fdset's (None for -1),
/// `left` is the time until the run's deadline.
pub fn choose_wait(
    curl_timeout: Option<Duration>,
    maxfd: Option<i32>,
    left: Duration,
) -> (Duration, WaitReason) {
    let (wait, reason) = match (curl_timeout, maxfd) {
        (Some(t), _) if t.is_zero() => (Duration::ZERO, WaitReason::TimerDue),
        (t, None) => (t.map_or(NO_FD_WAIT, |t| t.min(NO_FD_WAIT)), WaitReason::NoFds),
        (Some(t), Some(_)) if t <= WAIT_CAP => (t, WaitReason::CurlTimer),
        (_, Some(_)) => (WAIT_CAP, WaitReason::Cap),
    };
    if left < wait {
        (left, WaitReason::Deadline)
    } else {
        (wait, reason)
    }
}
// ANCHOR_END: choose_wait

/// Runs `transfers` through one multi handle, at most `limit` at once, waiting in
/// select(). Returns the outcomes (in the order they finished) and the most that were
/// ever in flight. Fails, instead of hanging, when a socket's fd is too big for select.
pub fn transfer_all(
    transfers: Vec<Transfer>,
    limit: usize,
    options: Options,
    narrator: &Narrator,
) -> Result<(Vec<Outcome>, usize)> {
    // ANCHOR: setup
    let multi = Multi::new(); // curl_multi_init
    transfer::report_multi_init(narrator, limit, "select()");
    let mut pool = Pool::new(transfers, limit, options);
    let deadline = pool.deadline(Instant::now());
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
            // ANCHOR: fdset
            // FD_ZERO on all three: curl_multi_fdset only adds.
            let (mut read, mut write, mut except) = (FdSet::new(), FdSet::new(), FdSet::new());
            let maxfd = multi
                .fdset2(Some(read.as_raw_mut()), Some(write.as_raw_mut()), Some(except.as_raw_mut()))
                .map_err(|e| Error::msg("curl_multi_fdset", e.to_string()))?;
            let curl_timeout =
                multi.get_timeout().map_err(|e| Error::msg("curl_multi_timeout", e.to_string()))?;
            // ANCHOR_END: fdset
            narrate_fdset(narrator, &pool, maxfd, &read, &write, curl_timeout);
            check_fd_setsize(&pool, maxfd, narrator)?;

            // ANCHOR: select
            let (wait, reason) = choose_wait(curl_timeout, maxfd, left);
            let nfds = maxfd.map_or(0, |m| m + 1);
            let (want_read, want_write) = (read.fds(nfds), write.fds(nfds));
            let started = Instant::now();
            let ready = if reason == WaitReason::TimerDue {
                0
            } else {
                match select(nfds, &mut read, &mut write, &mut except, wait) {
                    Ok(n) => n,
                    // A signal arrived: nothing is known to be ready, so just go round.
                    Err(Errno::EINTR) => 0,
                    Err(e) => return Err(Error::os(format!("select(nfds={nfds})"), e)),
                }
            };
            // ANCHOR_END: select
            let readable = want_read.into_iter().filter(|&fd| read.contains(fd)).collect();
            let writable = want_write.into_iter().filter(|&fd| write.contains(fd)).collect();
            let selected =
                Selected { nfds, wait, reason, ready, readable, writable, took: started.elapsed() };
            narrate_select(narrator, &pool, &selected);
            explained.once(narrator, reason);
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
    let most = pool.most_in_flight();
    let outcomes = pool.outcomes().to_vec();
    drop(pool); // every handle was removed and cleaned up as it finished
    drop(multi); // curl_multi_cleanup
    transfer::report_cleanup(narrator);
    // ANCHOR_END: cleanup
    Ok((outcomes, most))
}

// ANCHOR: fd_setsize
/// Refuses to go on when a transfer's socket is numbered FD_SETSIZE (1024) or more.
///
/// curl_multi_fdset skips such an fd without a word (FD_SET on it would write past the
/// end of the fd_set), so select() would never report it ready: the transfer would
/// creep along on timeouts, or wait until it timed out, and a loop without a deadline
/// would hang. Better to stop and say why.
fn check_fd_setsize(pool: &Pool, maxfd: Option<i32>, narrator: &Narrator) -> Result<()> {
    if let Some((fd, label)) = pool.sockets().into_iter().find(|(fd, _)| *fd >= FD_SETSIZE) {
        narrator.event_styled(
            "fd_too_large",
            json!({"fd": fd, "label": label, "fd_setsize": FD_SETSIZE, "maxfd": maxfd.unwrap_or(-1)}),
            common::narrate::Style::Bad,
            format!(
                "curl's socket for {label} is fd {fd}, at or above FD_SETSIZE ({FD_SETSIZE}), \
                 yet curl_multi_fdset said maxfd {}: it left the fd out without a word",
                maxfd.unwrap_or(-1)
            ),
        );
        return Err(Error::msg(
            format!("socket fd {fd} for {label}"),
            format!(
                "fds of {FD_SETSIZE} (FD_SETSIZE) and above cannot go in an fd_set, so \
                 curl_multi_fdset silently leaves them out and select() would never see this \
                 transfer's data: the loop could only wake on timeouts (and with none, hang). \
                 Stopping instead; curl_multi_wait (the curl-multi demo) has no such limit when \
                 libcurl waits with poll(), as a system libcurl does"
            ),
        ));
    }
    Ok(())
}
// ANCHOR_END: fd_setsize

/// `{5 /delay/200, 7 /delay/600}`: fds with the transfer each belongs to.
fn named(fds: &[i32], pool: &Pool) -> String {
    let names: Vec<String> = fds
        .iter()
        .map(|&fd| match pool.owner_of(fd) {
            Some(label) => format!("{fd} {label}"),
            // Not a transfer's socket: curl's own (the threaded resolver's socketpair).
            None => format!("{fd} curl-internal"),
        })
        .collect();
    format!("{{{}}}", names.join(", "))
}

fn narrate_fdset(
    narrator: &Narrator,
    pool: &Pool,
    maxfd: Option<i32>,
    read: &FdSet,
    write: &FdSet,
    curl_timeout: Option<Duration>,
) {
    let limit = maxfd.map_or(0, |m| m + 1);
    let (r, w) = (read.fds(limit), write.fds(limit));
    let timeout_ms = curl_timeout.map_or(-1, |t| t.as_millis() as i64);
    narrator.event(
        "multi_fdset",
        json!({"maxfd": maxfd.unwrap_or(-1), "read": r, "write": w, "curl_timeout_ms": timeout_ms}),
        format!(
            "curl_multi_fdset -> maxfd {}, read {}, write {}; curl_multi_timeout -> {}",
            maxfd.unwrap_or(-1),
            named(&r, pool),
            named(&w, pool),
            if timeout_ms < 0 { "-1 (no timer)".to_string() } else { format!("{timeout_ms} ms") }
        ),
    );
}

/// What one select() did: the `select` event's fields.
struct Selected {
    nfds: i32,
    wait: Duration,
    reason: WaitReason,
    ready: i32,
    /// The fds select() reported ready, of those curl asked about.
    readable: Vec<i32>,
    /// See `readable`.
    writable: Vec<i32>,
    took: Duration,
}

fn narrate_select(narrator: &Narrator, pool: &Pool, s: &Selected) {
    let Selected { nfds, wait, reason, ready, ref readable, ref writable, took: waited } = *s;
    let fields = json!({
        "nfds": nfds,
        "timeout_ms": transfer::round3(wait.as_secs_f64() * 1000.0),
        "reason": reason.name(),
        "ready": ready,
        "readable": readable,
        "writable": writable,
        "waited_ms": transfer::round3(waited.as_secs_f64() * 1000.0),
    });
    let text = if reason == WaitReason::TimerDue {
        format!("no select ({})", reason.words())
    } else {
        let what = match ready {
            0 => "timed out".to_string(),
            n => format!("{n} ready: readable {}, writable {}", named(readable, pool), named(writable, pool)),
        };
        format!(
            "select(nfds={nfds}, timeout {} ms: {}) -> {what} after {:.3} s",
            wait.as_millis(),
            reason.words(),
            waited.as_secs_f64()
        )
    };
    narrator.event("select", fields, text);
}

/// Explains each kind of timeout choice the first time it happens.
#[derive(Default)]
struct Explained {
    seen: Vec<WaitReason>,
}

impl Explained {
    fn once(&mut self, narrator: &Narrator, reason: WaitReason) {
        if self.seen.contains(&reason) {
            return;
        }
        self.seen.push(reason);
        let why = match reason {
            WaitReason::TimerDue => {
                "curl_multi_timeout 0 means: call curl_multi_perform now, without waiting"
            }
            WaitReason::CurlTimer => {
                "curl_multi_timeout is when curl next needs perform called even if no fd is ready \
                 (a connect timeout, a retry); select must wake by then"
            }
            WaitReason::Cap => "-1 or a far timer: any wait will do, so we use 1 s (the notes use 980 ms)",
            WaitReason::NoFds => {
                "curl_multi_fdset gave maxfd -1: curl is busy with something it cannot hand over as an \
                 fd; select(0, ...) is then just a sleep, kept short so perform runs again soon"
            }
            WaitReason::Deadline => "the loop never waits past the run's deadline",
        };
        narrator.explain(why);
    }
}

/// The whole demo: the local server (unless URLs were given), the transfers in the
/// chosen mode, the fd check, the timeline and the summary line. Returns an error
/// (exit code 1) when every transfer failed or a socket fd was too big for select().
pub fn run(config: &Config, narrator: &Narrator) -> Result<Summary> {
    let demo = transfer::Demo {
        name: "curl-select",
        summary: "concurrent HTTP transfers on one thread: curl_multi_fdset + curl_multi_timeout + select()",
        mode: "select",
    };
    transfer::run(&demo, config, narrator, local_server, &mut |transfers, limit, options| {
        transfer_all(transfers, limit, options, narrator)
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

    const LONG: Duration = Duration::from_secs(60);

    #[test]
    fn the_wait_follows_curls_timer_and_fds() {
        let ms = Duration::from_millis;
        assert_eq!(choose_wait(Some(ms(0)), Some(5), LONG), (ms(0), WaitReason::TimerDue));
        assert_eq!(choose_wait(Some(ms(0)), None, LONG), (ms(0), WaitReason::TimerDue));
        assert_eq!(choose_wait(Some(ms(198)), Some(5), LONG), (ms(198), WaitReason::CurlTimer));
        assert_eq!(choose_wait(Some(ms(5000)), Some(5), LONG), (WAIT_CAP, WaitReason::Cap));
        assert_eq!(choose_wait(None, Some(5), LONG), (WAIT_CAP, WaitReason::Cap));
        // maxfd -1: about 100 ms, or sooner if curl's timer says so.
        assert_eq!(choose_wait(None, None, LONG), (NO_FD_WAIT, WaitReason::NoFds));
        assert_eq!(choose_wait(Some(ms(30)), None, LONG), (ms(30), WaitReason::NoFds));
        assert_eq!(choose_wait(Some(ms(500)), None, LONG), (NO_FD_WAIT, WaitReason::NoFds));
        // Never past the deadline.
        assert_eq!(choose_wait(None, Some(5), ms(20)), (ms(20), WaitReason::Deadline));
    }
}
