//! The curl-multi transfers driven the event-driven way: libcurl tells the program
//! which sockets to watch and when its timer is due, through two callbacks, and the
//! program waits on all of them in one `epoll_wait` and hands each event back with
//! `curl_multi_socket_action` (beyond the notes; they stop at "Asynchronous +curl +
//! select()").
//!
//! The steps, in the order this file reads:
//!
//! 1. one multi handle, an epoll instance and a timerfd (curl's timer, made an fd so
//!    that one `epoll_wait` waits for sockets and timer alike);
//! 2. `CURLMOPT_SOCKETFUNCTION`: curl calls it when a socket needs watching for IN,
//!    OUT, both, or no longer (`CURL_POLL_REMOVE`); it does `epoll_ctl` at once;
//! 3. `CURLMOPT_TIMERFUNCTION`: curl calls it when its next timeout changes; it sets
//!    the timerfd (or disarms it for -1);
//! 4. `curl_multi_add_handle` per transfer (which sets curl's timer to "now");
//! 5. the loop: `epoll_wait`, then for each ready fd `curl_multi_socket_action(fd,
//!    what happened)`, or for the timerfd `curl_multi_socket_action(CURL_SOCKET_TIMEOUT)`;
//!    each returns how many transfers are still running, and may call the callbacks;
//! 6. `curl_multi_info_read` for the finished transfers, as in curl-multi.
//!
//! Why bother: curl_multi_wait builds a poll() list of every socket on every call, and
//! curl_multi_fdset cannot name an fd past 1023. Here the kernel keeps the interest
//! list, each wait costs what is ready, not what is open, and fd numbers do not matter:
//! `--transfers 1000` runs a thousand transfers at once on one thread.
//!
//! The model is curl's own `ephiperfifo.c` example.

use common::sys::curl::{epoll_forget, epoll_watch, EpollOp};
use common::transfer::{self, Config, Options, Outcome, Pool, Summary, Transfer, NOTES};
use common::{Context, Error, Narrator, Result};
use curl::multi::{Events, Multi, SocketEvents};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use serde_json::json;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest one `epoll_wait` may sleep. curl's timerfd wakes it sooner whenever
/// curl has something timed to do; the cap only keeps the loop checking its deadline.
pub const WAIT_CAP: Duration = Duration::from_secs(1);

/// The epoll data of the timerfd: socket events carry their fd number instead.
const TIMER: u64 = u64::MAX;

/// What curl asked for in its socket callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// `CURL_POLL_IN`: tell me when it is readable.
    In,
    /// `CURL_POLL_OUT`: tell me when it is writable (a connect in progress, a request
    /// to send).
    Out,
    /// `CURL_POLL_INOUT`.
    InOut,
    /// `CURL_POLL_REMOVE`: stop watching it (curl is about to close it or park it).
    Remove,
}

impl Want {
    fn from_curl(what: &SocketEvents) -> Want {
        if what.remove() {
            Want::Remove
        } else if what.input_and_output() {
            Want::InOut
        } else if what.output() {
            Want::Out
        } else {
            Want::In
        }
    }

    /// `in`, `out`, `inout` or `remove` (the JSON field).
    pub fn name(self) -> &'static str {
        match self {
            Want::In => "in",
            Want::Out => "out",
            Want::InOut => "inout",
            Want::Remove => "remove",
        }
    }
}

/// One call curl made into the program, and what the program did about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// The socket callback, answered with `epoll_ctl`.
    Socket { fd: i32, want: Want, done: std::result::Result<EpollOp, Errno> },
    /// The timer callback, answered with `timerfd_settime` (None: curl's -1, no timer).
    Timer { after: Option<Duration>, done: std::result::Result<(), Errno> },
}

/// The calls curl made during one call into it, kept for the loop to narrate. The
/// callbacks run inside `curl_multi_socket_action` (and `curl_multi_add_handle`), on
/// this thread; the curl crate only insists that they could be sent to another.
#[derive(Debug, Clone, Default)]
struct Callbacks(Arc<Mutex<Vec<Callback>>>);

impl Callbacks {
    fn push(&self, callback: Callback) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(callback);
    }

    fn take(&self) -> Vec<Callback> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// How much the loop says: every callback and every action (a handful of transfers),
/// or one line per `epoll_wait` (`--transfers 1000` would print thousands of lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// One line per callback, per wait, per action.
    Each,
    /// One line per wait, counting what followed it.
    Batches,
}

/// What the loop did, for the summary and the bench.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// `epoll_wait` calls.
    pub waits: u64,
    /// `curl_multi_socket_action` calls (sockets and timer).
    pub actions: u64,
    /// Socket callbacks.
    pub socket_callbacks: u64,
    /// Timer callbacks.
    pub timer_callbacks: u64,
    /// The highest socket fd curl asked to watch.
    pub highest_fd: i32,
    /// The most sockets on the epoll interest list at once.
    pub most_watched: usize,
}

/// Runs `transfers` through one multi handle driven by `curl_multi_socket_action` on
/// an epoll instance, at most `limit` at once. Returns the outcomes (in the order they
/// finished), the most that were ever in flight, and the loop's counts.
pub fn transfer_all(
    transfers: Vec<Transfer>,
    limit: usize,
    options: Options,
    narrator: &Narrator,
    detail: Detail,
) -> Result<(Vec<Outcome>, usize, Stats)> {
    // In batches, the per-transfer lines would be thousands: the pool stays quiet.
    let quiet = Narrator::quiet();
    let pool_narrator = if detail == Detail::Each { narrator } else { &quiet };

    // ANCHOR: setup
    let mut multi = Multi::new(); // curl_multi_init
    let epoll = Arc::new(Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1")?);
    let flags = TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC;
    let timer = Arc::new(TimerFd::new(ClockId::CLOCK_MONOTONIC, flags).context("timerfd_create")?);
    epoll.add(&*timer, EpollEvent::new(EpollFlags::EPOLLIN, TIMER)).context("epoll_ctl(ADD timerfd)")?;
    let callbacks = Callbacks::default();

    // CURLMOPT_SOCKETFUNCTION: curl says which socket to watch for what; we tell epoll.
    let (on_epoll, log) = (Arc::clone(&epoll), callbacks.clone());
    multi
        .socket_function(move |fd, what, _token| {
            let want = Want::from_curl(&what);
            let done = match want {
                Want::Remove => epoll_forget(&on_epoll, fd),
                _ => epoll_watch(&on_epoll, fd, want != Want::Out, want != Want::In),
            };
            log.push(Callback::Socket { fd, want, done });
        })
        .map_err(|e| Error::msg("curl_multi_setopt(CURLMOPT_SOCKETFUNCTION)", e.to_string()))?;

    // CURLMOPT_TIMERFUNCTION: curl says when it next needs CURL_SOCKET_TIMEOUT; we set
    // the timerfd, which epoll_wait watches like any socket.
    let (on_timer, log) = (Arc::clone(&timer), callbacks.clone());
    multi
        .timer_function(move |after| {
            let done = set_timer(&on_timer, after);
            log.push(Callback::Timer { after, done });
            done.is_ok()
        })
        .map_err(|e| Error::msg("curl_multi_setopt(CURLMOPT_TIMERFUNCTION)", e.to_string()))?;
    // ANCHOR_END: setup
    narrator.event(
        "multi_init",
        json!({"limit": limit, "epoll_fd": epoll.0.as_raw_fd(), "timer_fd": timer.as_fd_raw()}),
        format!(
            "curl_multi_init; epoll_create1 = fd {}; timerfd_create = fd {} (curl's timer), on the epoll list; \
             socket and timer callbacks set",
            epoll.0.as_raw_fd(),
            timer.as_fd_raw()
        ),
    );

    let mut pool = Pool::new(transfers, limit, options);
    // curl_multi_add_handle: each one sets curl's timer to "now" (a timer callback).
    let mut running = pool.fill(&multi, pool_narrator)? as u32;
    let deadline = pool.deadline(Instant::now());
    let mut events = vec![EpollEvent::empty(); limit.clamp(16, 4096) + 1];
    let mut stats = Stats::default();
    let mut watched = 0usize;
    let mut explained = Explained::default();
    // ANCHOR: wait_loop
    loop {
        // What curl asked for in the calls since the last look (add_handle, actions).
        for callback in callbacks.take() {
            settle(&callback, &mut stats, &mut watched)?;
            if detail == Detail::Each {
                narrate_callback(narrator, &pool, &callback);
                explained.callback(narrator, &callback);
            }
        }
        pool.report_new_sockets(pool_narrator);
        pool.drain(&multi, pool_narrator)?; // curl_multi_info_read, every time round
        let added = pool.fill(&multi, pool_narrator)?;
        if added > 0 {
            running += added as u32;
            continue;
        }
        if pool.is_done() {
            break;
        }
        let now = Instant::now();
        // curl's per-transfer timeouts end every transfer long before the deadline;
        // this is here so that no bug, in curl or here, can make the demo hang or spin.
        let stuck = running == 0 && pool.in_flight() > 0;
        if now >= deadline || stuck {
            give_up(narrator, &mut pool, &multi, stuck);
            break;
        }

        // ANCHOR: epoll_wait
        let timeout = WAIT_CAP.min(deadline - now);
        let waited = Instant::now();
        let ready =
            match epoll.wait(&mut events, EpollTimeout::try_from(timeout).unwrap_or(EpollTimeout::MAX)) {
                Ok(n) => n,
                // A signal arrived: nothing is known to be ready, so just go round.
                Err(Errno::EINTR) => 0,
                Err(e) => return Err(Error::os("epoll_wait", e)),
            };
        let waited = waited.elapsed();
        stats.waits += 1;
        let ready = &events[..ready];
        // ANCHOR_END: epoll_wait
        let mut batch = Batch { ready: ready.len(), ..Batch::default() };
        if detail == Detail::Each {
            narrate_wait(narrator, &pool, timeout, ready, waited);
        }

        // ANCHOR: socket_action
        for event in ready {
            let (fd, what) = if event.data() == TIMER {
                // Read the expiry count so the timerfd stops being readable; EAGAIN
                // only means a later timer callback re-armed it meanwhile.
                let _ = timer.wait();
                (None, Events::new())
            } else {
                (Some(event.data() as i32), curl_events(event.events()))
            };
            running = match fd {
                Some(fd) => multi.action(fd, &what), // curl_multi_socket_action(fd, IN/OUT/ERR)
                None => multi.timeout(),             // curl_multi_socket_action(CURL_SOCKET_TIMEOUT)
            }
            .map_err(|e| Error::msg("curl_multi_socket_action", e.to_string()))?;
            stats.actions += 1;
            batch.actions += 1;
            if detail == Detail::Each {
                narrate_action(narrator, &pool, fd, event.events(), running);
                explained.action(narrator, fd.is_none());
            }
            // The callbacks this action made: epoll_ctl and timerfd already done.
            for callback in callbacks.take() {
                settle(&callback, &mut stats, &mut watched)?;
                batch.count(&callback);
                if detail == Detail::Each {
                    narrate_callback(narrator, &pool, &callback);
                    explained.callback(narrator, &callback);
                }
            }
        }
        // ANCHOR_END: socket_action
        if detail == Detail::Batches {
            narrate_batch(narrator, timeout, waited, &batch, running, watched);
        }
    }
    // ANCHOR_END: wait_loop

    let most = pool.most_in_flight();
    let outcomes = pool.outcomes().to_vec();
    drop(pool); // every handle was removed and cleaned up as it finished
    drop(multi); // curl_multi_cleanup: the callbacks, and the Arcs they hold, go with it
    narrator.event(
        "multi_cleanup",
        json!({}),
        "curl_multi_cleanup: the multi handle is freed; the epoll fd and the timerfd are closed",
    );
    Ok((outcomes, most, stats))
}

/// Arms the timerfd for `after` (curl's timer callback), or disarms it for curl's -1.
/// A zero timeout means "call me now": a timerfd set to zero would be disarmed
/// instead, so it is set to the shortest time there is.
fn set_timer(timer: &TimerFd, after: Option<Duration>) -> std::result::Result<(), Errno> {
    match after {
        None => timer.unset(),
        Some(after) => {
            let after = TimeSpec::from_duration(after.max(Duration::from_nanos(1)));
            timer.set(Expiration::OneShot(after), TimerSetTimeFlags::empty())
        }
    }
}

/// The `Events` for curl_multi_socket_action, from what epoll reported. A hang-up or
/// an error is passed on as CURL_CSELECT_ERR: curl then reads the socket to learn why.
fn curl_events(flags: EpollFlags) -> Events {
    let mut events = Events::new();
    events.input(flags.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLHUP | EpollFlags::EPOLLRDHUP));
    events.output(flags.contains(EpollFlags::EPOLLOUT));
    events.error(flags.contains(EpollFlags::EPOLLERR));
    events
}

/// Counts a callback, and turns a failed `epoll_ctl` or `timerfd_settime` into the
/// run's error. Forgetting a socket curl has already closed is no failure: closing an
/// fd takes it off every epoll list by itself.
fn settle(callback: &Callback, stats: &mut Stats, watched: &mut usize) -> Result<()> {
    match *callback {
        Callback::Socket { fd, want, done } => {
            stats.socket_callbacks += 1;
            stats.highest_fd = stats.highest_fd.max(fd);
            match done {
                Ok(EpollOp::Add) => *watched += 1,
                Ok(EpollOp::Del) => *watched = watched.saturating_sub(1),
                Ok(EpollOp::Mod) => {}
                Err(Errno::ENOENT | Errno::EBADF) if want == Want::Remove => {}
                Err(e) => return Err(Error::os(format!("epoll_ctl(fd {fd}, {})", want.name()), e)),
            }
            stats.most_watched = stats.most_watched.max(*watched);
        }
        Callback::Timer { done, .. } => {
            stats.timer_callbacks += 1;
            done.map_err(|e| Error::os("timerfd_settime", e))?;
        }
    }
    Ok(())
}

/// The deadline passed or curl lost track of transfers: report them all as failed.
fn give_up(narrator: &Narrator, pool: &mut Pool, multi: &Multi, stuck: bool) {
    let reason = if stuck { "stuck" } else { "deadline" };
    narrator.event(
        "gave_up",
        json!({"reason": reason, "in_flight": pool.in_flight()}),
        if stuck {
            "curl reports 0 running, yet some transfers never reported done: giving up on them"
        } else {
            "the run's deadline passed: giving up on what is left"
        },
    );
    pool.abandon(multi, narrator);
}

/// What followed one `epoll_wait`, counted (the `batch` event).
#[derive(Debug, Default)]
struct Batch {
    ready: usize,
    actions: usize,
    watch: usize,
    forget: usize,
    timers: usize,
}

impl Batch {
    fn count(&mut self, callback: &Callback) {
        match callback {
            Callback::Socket { want: Want::Remove, .. } => self.forget += 1,
            Callback::Socket { .. } => self.watch += 1,
            Callback::Timer { .. } => self.timers += 1,
        }
    }
}

/// `fd 7 (/delay/200)`, or `fd 7 (curl-internal)` for a socket that is not a
/// transfer's own (the threaded resolver's socketpair).
fn fd_name(pool: &Pool, fd: i32) -> String {
    format!("fd {fd} ({})", pool.owner_of(fd).unwrap_or_else(|| "curl-internal".into()))
}

fn ms3(d: Duration) -> f64 {
    common::narrate::round_ms(d.as_secs_f64() * 1000.0)
}

fn narrate_callback(narrator: &Narrator, pool: &Pool, callback: &Callback) {
    match *callback {
        Callback::Socket { fd, want, done } => {
            let op = done.map_or_else(|e| format!("-1 {}", e.desc()), |op| op.name().to_string());
            let ask = match want {
                Want::Remove => format!("to forget {}", fd_name(pool, fd)),
                _ => format!("to watch {} for {}", fd_name(pool, fd), want.name().to_uppercase()),
            };
            narrator.event(
                "socket_callback",
                json!({"fd": fd, "want": want.name(), "epoll_ctl": done.ok().map(EpollOp::name),
                       "label": pool.owner_of(fd)}),
                format!("  socket callback: curl asks {ask} => epoll_ctl {op}"),
            );
        }
        Callback::Timer { after, done } => {
            let timeout_ms = after.map_or(-1.0, ms3);
            let set = match (after, done) {
                (_, Err(e)) => format!("timerfd_settime failed: {}", e.desc()),
                (None, _) => "timerfd disarmed".to_string(),
                (Some(_), _) => "timerfd set".to_string(),
            };
            narrator.event(
                "timer_callback",
                json!({"timeout_ms": timeout_ms}),
                match after {
                    None => format!("  timer callback: -1, curl has no timeout pending => {set}"),
                    Some(d) => format!(
                        "  timer callback: curl wants CURL_SOCKET_TIMEOUT in {} ms => {set}",
                        d.as_millis()
                    ),
                },
            );
        }
    }
}

/// `IN`, `OUT|HUP`: the epoll flags that matter to curl.
fn flag_names(flags: EpollFlags) -> String {
    let names: Vec<&str> = [
        (EpollFlags::EPOLLIN, "IN"),
        (EpollFlags::EPOLLOUT, "OUT"),
        (EpollFlags::EPOLLRDHUP, "RDHUP"),
        (EpollFlags::EPOLLHUP, "HUP"),
        (EpollFlags::EPOLLERR, "ERR"),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, n)| *n)
    .collect();
    names.join("|")
}

fn narrate_wait(narrator: &Narrator, pool: &Pool, timeout: Duration, ready: &[EpollEvent], waited: Duration) {
    let list: Vec<serde_json::Value> = ready
        .iter()
        .map(|e| match e.data() {
            TIMER => json!({"fd": "timer", "events": "IN"}),
            fd => json!({"fd": fd, "events": flag_names(e.events())}),
        })
        .collect();
    let words: Vec<String> = ready
        .iter()
        .map(|e| match e.data() {
            TIMER => "timerfd (curl's timer)".to_string(),
            fd => format!("{} {}", fd_name(pool, fd as i32), flag_names(e.events())),
        })
        .collect();
    let what = if ready.is_empty() { "timed out".to_string() } else { words.join(", ") };
    narrator.event(
        "epoll_wait",
        json!({"timeout_ms": ms3(timeout), "ready": ready.len(), "events": list, "waited_ms": ms3(waited)}),
        format!(
            "epoll_wait(timeout {} ms) -> {} after {:.3} s: {what}",
            timeout.as_millis(),
            ready.len(),
            waited.as_secs_f64()
        ),
    );
}

fn narrate_action(narrator: &Narrator, pool: &Pool, fd: Option<i32>, flags: EpollFlags, running: u32) {
    let (target, fields) = match fd {
        None => ("CURL_SOCKET_TIMEOUT".to_string(), json!({"fd": null, "timer": true, "running": running})),
        Some(fd) => (
            format!("{}, {}", fd_name(pool, fd), flag_names(flags)),
            json!({"fd": fd, "timer": false, "events": flag_names(flags), "running": running}),
        ),
    };
    narrator.event(
        "socket_action",
        fields,
        format!("curl_multi_socket_action({target}) -> {running} running"),
    );
}

fn narrate_batch(
    narrator: &Narrator,
    timeout: Duration,
    waited: Duration,
    batch: &Batch,
    running: u32,
    watched: usize,
) {
    narrator.event(
        "batch",
        json!({"timeout_ms": ms3(timeout), "waited_ms": ms3(waited), "ready": batch.ready,
               "actions": batch.actions, "watch": batch.watch, "forget": batch.forget,
               "timer_callbacks": batch.timers, "running": running, "watched": watched}),
        format!(
            "epoll_wait -> {} ready after {:.3} s; {} socket_action calls -> {running} running; \
             callbacks: {} watch, {} forget, {} timer; {watched} sockets on the epoll list",
            batch.ready,
            waited.as_secs_f64(),
            batch.actions,
            batch.watch,
            batch.forget,
            batch.timers
        ),
    );
}

/// Explains each kind of callback and action the first time it happens.
#[derive(Default)]
struct Explained {
    seen: Vec<&'static str>,
}

impl Explained {
    fn first(&mut self, what: &'static str) -> bool {
        let first = !self.seen.contains(&what);
        if first {
            self.seen.push(what);
        }
        first
    }

    fn callback(&mut self, narrator: &Narrator, callback: &Callback) {
        let (what, why) = match callback {
            Callback::Timer { after: Some(d), .. } if d.is_zero() => (
                "timer_now",
                "a 0 ms timeout means: call socket_action(CURL_SOCKET_TIMEOUT) as soon as you can \
                 (the timerfd gets 1 ns: zero would disarm it)",
            ),
            Callback::Timer { .. } => (
                "timer",
                "curl's timer covers what no socket will announce: connect timeouts, retries, \
                 --timeout; the timerfd turns it into one more fd on the epoll list",
            ),
            Callback::Socket { want: Want::Remove, .. } => (
                "remove",
                "CURL_POLL_REMOVE: curl is done with the socket (it closes it next); the kernel's \
                 interest list shrinks, so later waits do not pay for it",
            ),
            Callback::Socket { .. } => (
                "watch",
                "the socket callback: curl names one socket and a direction; epoll_ctl puts it on \
                 the kernel's interest list once, instead of every wait listing every socket",
            ),
        };
        if self.first(what) {
            narrator.explain(why);
        }
    }

    fn action(&mut self, narrator: &Narrator, timer: bool) {
        let (what, why) = if timer {
            ("action_timer", "the timerfd fired: curl runs whatever was due, for every transfer")
        } else {
            (
                "action_fd",
                "curl_multi_socket_action does the work for this one socket only, and says how \
                 many transfers are still running",
            )
        };
        if self.first(what) {
            narrator.explain(why);
        }
    }
}

/// The many-transfers run (`--transfers N`): N transfers of `/delay/MS` at once.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq, Default)]
pub struct Load {
    /// Run N transfers of /delay/MS against the local server, all at once (1000 works:
    /// curl's sockets go past fd 1023, where select stops)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4000),
          conflicts_with_all = ["urls", "sequential"])]
    pub transfers: Option<u32>,

    /// With --transfers: how long the server waits before each answer, in ms
    #[arg(long, value_name = "MS", default_value = "500", requires = "transfers",
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub delay: u64,
}

/// The whole demo: the default seven transfers (or the given URLs, or `--transfers N`),
/// the fd check, the timeline and the summary line. Returns an error (exit 1) when
/// every transfer failed, or when any of the `--transfers` run failed.
pub fn run(config: &Config, load: &Load, narrator: &Narrator) -> Result<Summary> {
    let summary = if config.sequential {
        "the same transfers one at a time with curl_easy_perform, for comparison"
    } else {
        "concurrent HTTP transfers on one thread: curl_multi_socket_action on epoll"
    };
    narrator.title("curl-socket", summary, NOTES);
    transfer::global_init(narrator);
    let fds_before = common::fd::count_open_fds()?;
    if let Some(count) = load.transfers {
        let summary = run_load(config, count as usize, load.delay, narrator)?;
        transfer::report_open_fds(fds_before, narrator)?;
        return Ok(summary);
    }

    // ANCHOR: scenario
    let server = if config.urls.is_empty() { Some(offline::http::Server::start()?) } else { None };
    let urls = match &server {
        Some(server) => {
            narrator.event(
                "server_started",
                json!({"addr": server.addr().to_string()}),
                format!("local HTTP server on {} (delays are simulated; no network needed)", server.addr()),
            );
            transfer::default_urls(&server.url(""), offline::http::refused_port()?)
        }
        None => config.urls.clone(),
    };
    let base = server.as_ref().map(|s| s.url(""));
    let transfers = transfer::plan(&urls, base.as_deref());
    transfer::warn_if_no_tls(&transfers, narrator);
    // ANCHOR_END: scenario

    let held = config.fd_floor.map(transfer::occupy_fds_below).transpose()?;
    if let (Some(held), Some(floor)) = (&held, config.fd_floor) {
        narrator.event(
            "fd_floor",
            json!({"floor": floor, "held": held.len()}),
            format!(
                "opened {} placeholder fds: curl's sockets will be numbered {floor} or above",
                held.len()
            ),
        );
    }
    let limit = config.limit(transfers.len());
    let (outcomes, most) = if config.sequential {
        (transfer::run_sequential(transfers, &config.options(), narrator), 1)
    } else {
        let (outcomes, most, _) = transfer_all(transfers, limit, config.options(), narrator, Detail::Each)?;
        (outcomes, most)
    };
    drop(held);
    drop(server);
    transfer::report_open_fds(fds_before, narrator)?;
    transfer::summarize(&outcomes, if config.sequential { "sequential" } else { "socket" }, most, narrator)
}

/// `--transfers N`: N transfers of `/delay/MS` from the local server, all at once
/// unless `--parallel` says otherwise. Each transfer takes up to four fds in this
/// process at once (its socket, the server's end, and the socketpair of curl's
/// threaded resolver while it starts), so RLIMIT_NOFILE is raised first, as poll does
/// for its many clients. Every transfer must come back 200 for the run to pass.
fn run_load(config: &Config, count: usize, delay_ms: u64, narrator: &Narrator) -> Result<Summary> {
    let need = 4 * count as u64 + 64 + config.fd_floor.map_or(0, |f| f as u64);
    let limit = common::fd::raise_nofile_limit(need)?;
    narrator.event(
        "rlimit_nofile",
        json!({"need": need, "soft": limit}),
        format!("RLIMIT_NOFILE soft limit raised to {limit} ({need} fds needed: up to four per transfer)"),
    );
    if limit < need {
        return Err(Error::msg(
            "RLIMIT_NOFILE",
            format!("the hard limit allows {limit} open fds, and {count} transfers need about {need} (ulimit -Hn)"),
        ));
    }
    let server = offline::http::Server::start()?;
    let path = format!("/delay/{delay_ms}");
    narrator.event(
        "server_started",
        json!({"addr": server.addr().to_string()}),
        format!("local HTTP server on {}: {count} transfers of {path}", server.addr()),
    );
    let held = config.fd_floor.map(transfer::occupy_fds_below).transpose()?;
    let urls = vec![server.url(&path); count];
    let transfers = transfer::plan(&urls, Some(&server.url("")));
    let limit = config.limit(count);
    let started = Instant::now();
    let (outcomes, most, stats) =
        transfer_all(transfers, limit, config.options(), narrator, Detail::Batches)?;
    let span = outcomes.iter().map(|o| o.end).max().unwrap_or(started).saturating_duration_since(started);
    drop(held);
    drop(server);
    let completed = outcomes.iter().filter(|o| o.ok() && o.http_status == Some(200)).count();
    let work_ms: f64 = outcomes.iter().map(|o| o.elapsed().as_secs_f64() * 1000.0).sum();
    let span_ms = span.as_secs_f64() * 1000.0;
    let per_delay = if delay_ms > 0 { span_ms / delay_ms as f64 } else { 0.0 };
    narrator.event_styled(
        "summary",
        json!({"mode": "socket", "transfers": count, "completed": completed, "failed": count - completed,
               "work_ms": common::narrate::round_ms(work_ms), "span_ms": common::narrate::round_ms(span_ms),
               "speedup": common::narrate::round_ms(if span_ms > 0.0 { work_ms / span_ms } else { 1.0 }),
               "most_in_flight": most, "delay_ms": delay_ms, "span_per_delay": common::narrate::round_ms(per_delay),
               "epoll_waits": stats.waits, "socket_actions": stats.actions,
               "socket_callbacks": stats.socket_callbacks, "timer_callbacks": stats.timer_callbacks,
               "highest_fd": stats.highest_fd, "most_watched": stats.most_watched}),
        common::narrate::Style::Bold,
        format!(
            "{count} transfers of {path}: {completed} came back 200, all done {:.3} s after the first started \
             ({per_delay:.2} x {delay_ms} ms); {most} in flight at once on one thread, sockets up to fd {}; \
             {} epoll_waits, {} socket_actions, {} socket and {} timer callbacks",
            span.as_secs_f64(),
            stats.highest_fd,
            stats.waits,
            stats.actions,
            stats.socket_callbacks,
            stats.timer_callbacks
        ),
    );
    narrator.explain(
        "each epoll_wait returns only the sockets that are ready, however many are open; \
         curl_multi_wait would hand the kernel every socket on every call",
    );
    if let Some(bad) = outcomes.iter().find(|o| !(o.ok() && o.http_status == Some(200))) {
        return Err(Error::msg(
            "transfers",
            format!(
                "{} of {count} did not come back 200; the first, {}: {}",
                count - completed,
                bad.transfer.url,
                bad.failure
                    .as_ref()
                    .map_or_else(|| bad.status_text(), |f| format!("{} ({})", f.name, f.message))
            ),
        ));
    }
    Ok(Summary { transfers: count, completed, work_ms, span_ms, most_in_flight: most })
}

/// The raw number of a TimerFd, for narration.
trait RawTimer {
    fn as_fd_raw(&self) -> i32;
}

impl RawTimer for TimerFd {
    fn as_fd_raw(&self) -> i32 {
        std::os::fd::AsFd::as_fd(self).as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoll_flags_become_curls_events() {
        let bits = |flags| format!("{:?}", curl_events(flags));
        assert_eq!(bits(EpollFlags::EPOLLIN), format!("{:?}", Events::new().input(true)));
        assert_eq!(bits(EpollFlags::EPOLLOUT), format!("{:?}", Events::new().output(true)));
        // A peer's close shows as IN|RDHUP; a reset as ERR|HUP: curl must read either.
        assert_eq!(
            bits(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP),
            format!("{:?}", Events::new().input(true).error(true))
        );
        assert_eq!(flag_names(EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP), "IN|RDHUP");
    }

    #[test]
    fn a_zero_timeout_arms_the_timerfd_instead_of_disarming_it() {
        let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK).unwrap();
        set_timer(&timer, Some(Duration::ZERO)).unwrap();
        // Armed, so it expires and becomes readable (disarmed, it never would).
        let mut fds =
            [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(&timer), nix::poll::PollFlags::POLLIN)];
        assert_eq!(nix::poll::poll(&mut fds, 5000u16), Ok(1));
        assert_eq!(timer.wait(), Ok(()));
        set_timer(&timer, Some(Duration::from_secs(60))).unwrap();
        assert!(timer.get().unwrap().is_some());
        set_timer(&timer, None).unwrap();
        assert_eq!(timer.get().unwrap(), None);
        assert_eq!(timer.wait(), Err(Errno::EAGAIN));
    }
}
