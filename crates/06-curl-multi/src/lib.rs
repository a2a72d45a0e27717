//! Many HTTP transfers on one thread with libcurl's multi interface, waiting in
//! `curl_multi_wait` (notes: "Using cURL Asynchronously").
//!
//! The steps, in the order the notes teach them and this file reads:
//!
//! 1. `curl_global_init`, then one multi handle (`curl_multi_init`).
//! 2. One easy handle per URL, each added with `curl_multi_add_handle`.
//! 3. `curl_multi_perform`: starts every transfer (connects) without waiting.
//! 4. The loop: `curl_multi_wait` sleeps until a socket of *any* transfer has an
//!    event, `curl_multi_perform` does the reading and writing that is possible now.
//! 5. `curl_multi_info_read` until it has no more messages: each `CURLMSG_DONE` is a
//!    finished transfer, with its result; its handle is removed and cleaned up.
//! 6. `curl_multi_cleanup` (and `curl_global_cleanup`, see [`transfer_all`]).
//!
//! Where this differs from the notes' example: it reads the messages inside the loop
//! (after every perform, including the last one, which reports 0 running), not once
//! after it, so each result is reported when it happens and `--parallel N` can start
//! the next transfer as soon as one finishes; its waits are capped at one second, not
//! thirty, and the loop has a deadline; and it only allows http and https.

use common::sys::curl::FD_SETSIZE;
use common::transfer::{self, Config, Options, Outcome, Pool, Summary, Transfer, NOTES};
use common::{Error, Narrator, Result};
use curl::multi::Multi;
use serde_json::json;
use std::time::{Duration, Instant};

/// The longest one `curl_multi_wait` may sleep. curl returns sooner when a socket has
/// an event or its own next timer is due; the cap only matters when nothing happens,
/// and keeps the loop checking its deadline.
pub const WAIT_CAP: Duration = Duration::from_secs(1);

/// Runs `transfers` through one multi handle, at most `limit` at once. Returns the
/// outcomes (in the order they finished) and the most that were ever in flight.
pub fn transfer_all(
    transfers: Vec<Transfer>,
    limit: usize,
    options: Options,
    narrator: &Narrator,
) -> Result<(Vec<Outcome>, usize)> {
    // ANCHOR: setup
    // curl_multi_init. (curl_global_init ran already: see `run`.)
    let multi = Multi::new();
    narrator.event(
        "multi_init",
        json!({"limit": limit}),
        format!("curl_multi_init: one multi handle, up to {limit} transfers in it at once"),
    );
    // curl_easy_init + curl_easy_setopt + curl_multi_add_handle, for as many as fit.
    let mut pool = Pool::new(transfers, limit, options);
    pool.fill(&multi, narrator)?;
    // ANCHOR_END: setup

    // ANCHOR: perform
    // The first perform starts every transfer: each connect() is non-blocking, so it
    // returns at once with them all "running".
    let mut running = perform(&multi, narrator)?;
    // ANCHOR_END: perform

    let deadline = pool.deadline(Instant::now());
    let mut first_wait = true;
    // ANCHOR: wait_loop
    loop {
        pool.report_new_sockets(narrator);
        // ANCHOR: info_read
        // curl_multi_info_read until it is empty, every time round, and also after the
        // perform that reported 0 running: the last results are waiting right then.
        pool.drain(&multi, narrator)?;
        // ANCHOR_END: info_read
        // A finished transfer frees a slot: with --parallel N, the next one starts now.
        if pool.fill(&multi, narrator)? > 0 {
            running = perform(&multi, narrator)?;
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
            pool.abandon(&multi, narrator);
            break;
        }
        let timeout = WAIT_CAP.min(deadline - now);
        let waited = Instant::now();
        // Sleeps in poll() on every socket of every transfer at once, until one has an
        // event, curl's own next timer (a timeout, a retry) is due, or `timeout` passes:
        // whichever is first.
        let numfds = multi.wait(&mut [], timeout).map_err(|e| wait_failed(&e, &pool))?;
        let waited = waited.elapsed();
        running = multi.perform().map_err(|e| Error::msg("curl_multi_perform", e.to_string()))?;
        narrator.event(
            "multi_wait",
            json!({
                "timeout_ms": timeout.as_millis() as u64,
                "numfds": numfds,
                "waited_ms": transfer::round3(waited.as_secs_f64() * 1000.0),
                "running": running,
            }),
            format!(
                "curl_multi_wait(timeout {} ms) -> {numfds} fd{} with events after {:.3} s; curl_multi_perform -> {running} running",
                timeout.as_millis(),
                if numfds == 1 { "" } else { "s" },
                waited.as_secs_f64()
            ),
        );
        if first_wait {
            first_wait = false;
            narrator.explain(
                "numfds counts curl's sockets that had an event; 0 means the wait ended on a timer \
                 (curl's own, or our cap), not on a socket",
            );
        }
    }
    // ANCHOR_END: wait_loop

    // ANCHOR: cleanup
    let most = pool.most_in_flight();
    let outcomes = pool.outcomes().to_vec();
    drop(pool); // every handle was removed and cleaned up as it finished
    drop(multi); // curl_multi_cleanup
    narrator.event("multi_cleanup", json!({}), "curl_multi_cleanup: the multi handle is freed");
    narrator.explain(
        "curl_global_cleanup is left to process exit: the Rust curl crate never calls it, \
         since another part of the program might still use libcurl",
    );
    // ANCHOR_END: cleanup
    Ok((outcomes, most))
}

/// The error for a failed curl_multi_wait, explaining the one failure a student can
/// provoke here (`--fd-floor 1100` with a libcurl built without HAVE_POLL).
///
/// libcurl waits with poll() when it was built with HAVE_POLL, and then fd numbers do
/// not matter. Built without it (curl-sys 0.4.91 defines only the older HAVE_POLL_FINE,
/// which curl 8.11 stopped reading; .cargo/config.toml adds HAVE_POLL back), libcurl
/// waits with select() inside curl_multi_wait, and a socket at or above FD_SETSIZE
/// makes it fail with CURLM_UNRECOVERABLE_POLL.
fn wait_failed(error: &curl::MultiError, pool: &Pool) -> Error {
    let high = pool.sockets().into_iter().find(|(fd, _)| *fd >= FD_SETSIZE);
    match high {
        Some((fd, label)) => Error::msg(
            "curl_multi_wait",
            format!(
                "{error}: the socket for {label} is fd {fd}, at or above FD_SETSIZE ({FD_SETSIZE}), and \
                 this libcurl waits with select() internally (it was built without HAVE_POLL), which \
                 cannot watch it. A libcurl built with HAVE_POLL waits with poll() and has no such limit"
            ),
        ),
        _ => Error::msg("curl_multi_wait", error.to_string()),
    }
}

/// `curl_multi_perform`, narrated: returns how many transfers are still running.
fn perform(multi: &Multi, narrator: &Narrator) -> Result<u32> {
    let running = multi.perform().map_err(|e| Error::msg("curl_multi_perform", e.to_string()))?;
    narrator.event(
        "multi_perform",
        json!({"running": running}),
        format!("curl_multi_perform -> {running} running"),
    );
    Ok(running)
}

/// The whole demo: the local server (unless URLs were given), the transfers in the
/// chosen mode, the fd check, the timeline and the summary line. Returns an error
/// (exit code 1) when every transfer failed.
pub fn run(config: &Config, narrator: &Narrator) -> Result<Summary> {
    let summary = if config.sequential {
        "the same transfers one at a time with curl_easy_perform, for comparison"
    } else {
        "concurrent HTTP transfers on one thread, waiting in curl_multi_wait"
    };
    narrator.title("curl-multi", summary, NOTES);
    transfer::global_init(narrator);
    let fds_before = common::fd::count_open_fds()?;

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
        transfer_all(transfers, limit, config.options(), narrator)?
    };
    drop(held);
    drop(server);
    transfer::report_open_fds(fds_before, narrator)?;
    transfer::summarize(&outcomes, if config.sequential { "sequential" } else { "multi" }, most, narrator)
}
