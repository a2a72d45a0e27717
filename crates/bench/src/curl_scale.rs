//! Part 3's scaling side: curl's socket interface (the curl-socket demo) against the
//! notes' two loops, with many transfers.
//!
//! * **1000 transfers** of `/delay/500` at once: how long until the last one is done,
//!   with curl_multi_socket_action on epoll and with curl_multi_wait.
//! * **One turn of the socket_action loop** with 1 active transfer and N idle
//!   connections: `epoll_wait` (timeout 0) and a `curl_multi_socket_action` per ready
//!   socket. Its cost should not grow with N: the kernel keeps the interest list, and a
//!   wait returns only what is ready.

use crate::harness::{calibrate, interleave, Measured, Variant};
use common::sys::curl::{epoll_forget, epoll_watch};
use common::transfer::{self, Options, Outcome, Pool};
use common::{Context, Error, Narrator, Result};
use curl::multi::{Events, Multi};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use offline::http::Server;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The time from the first start to the last end, checking every transfer came back 200.
fn span(what: &str, outcomes: &[Outcome], count: usize, started: Instant) -> Result<f64> {
    if outcomes.len() != count {
        return Err(Error::msg(what, format!("{} of {count} transfers reported", outcomes.len())));
    }
    if let Some(bad) = outcomes.iter().find(|o| !o.ok() || o.http_status != Some(200)) {
        return Err(Error::msg(what, format!("{} ended {}", bad.transfer.label, bad.status_text())));
    }
    let end = outcomes.iter().map(|o| o.end).max().unwrap_or(started);
    Ok(end.saturating_duration_since(started).as_secs_f64())
}

/// `count` transfers of `/delay/{delay_ms}` at once, with socket_action and with
/// curl_multi_wait: the seconds until the last one finished, per round.
pub fn many(server: &Server, count: usize, delay_ms: u64, rounds: usize) -> Result<Vec<Measured>> {
    common::fd::raise_nofile_limit(4 * count as u64 + 256)?;
    let urls = vec![server.url(&format!("/delay/{delay_ms}")); count];
    let base = server.url("");
    let plan = || transfer::plan(&urls, Some(&base));
    let options = Options { timeout: Duration::from_secs(20), max_speed: None };
    let quiet = Narrator::quiet();
    let mut variants = vec![
        Variant::new("curl-socket (socket_action on epoll)", || {
            let started = Instant::now();
            let (outcomes, _, _) =
                curl_socket::transfer_all(plan(), count, options, &quiet, curl_socket::Detail::Batches)?;
            span("curl-socket", &outcomes, count, started)
        }),
        Variant::new("curl-multi (curl_multi_wait)", || {
            let started = Instant::now();
            let (outcomes, _) =
                curl_multi::transfer_all(plan(), count, options, curl_multi::Wait::Wait, &quiet)?;
            span("curl-multi", &outcomes, count, started)
        }),
    ];
    interleave(&mut variants, rounds)
}

// ANCHOR: socket_turn
/// One turn of the socket_action loop: `epoll_wait` with timeout 0, and
/// `curl_multi_socket_action` for each socket it reported.
fn socket_turn(multi: &Multi, epoll: &Epoll, events: &mut [EpollEvent]) -> Result<usize> {
    let ready = epoll.wait(events, EpollTimeout::ZERO).context("epoll_wait")?;
    for event in &events[..ready] {
        let flags = event.events();
        let mut what = Events::new();
        what.input(flags.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLHUP));
        what.output(flags.contains(EpollFlags::EPOLLOUT));
        what.error(flags.contains(EpollFlags::EPOLLERR));
        multi
            .action(event.data() as i32, &what)
            .map_err(|e| Error::msg("curl_multi_socket_action", e.to_string()))?;
    }
    Ok(ready)
}
// ANCHOR_END: socket_turn

/// Sets up 1 active (`/drip`) and `idle` idle (`/hang`) transfers on a multi handle
/// driven by socket_action, and times its turn in ns.
pub fn turn_cost(server: &Server, idle: usize, target: Duration, rounds: usize) -> Result<Measured> {
    let quiet = Narrator::quiet();
    let mut multi = Multi::new();
    let epoll = Arc::new(Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1")?);
    let failed: Arc<Mutex<Option<nix::errno::Errno>>> = Arc::default();
    let (on_epoll, on_fail) = (Arc::clone(&epoll), Arc::clone(&failed));
    multi
        .socket_function(move |fd, what, _| {
            let done = if what.remove() {
                epoll_forget(&on_epoll, fd).map(drop).or(Ok(()))
            } else {
                epoll_watch(&on_epoll, fd, what.input(), what.output()).map(drop)
            };
            if let Err(e) = done {
                *on_fail.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
            }
        })
        .map_err(|e| Error::msg("CURLMOPT_SOCKETFUNCTION", e.to_string()))?;
    // No timer here: every turn calls curl anyway, and the cost of a turn is the point.
    let mut urls = vec![server.url("/drip/20000/1")];
    urls.extend((0..idle).map(|_| server.url("/hang")));
    let plan = transfer::plan(&urls, Some(&server.url("")));
    let options = Options { timeout: Duration::from_secs(60), max_speed: None };
    let mut pools: Vec<Pool> = Vec::new();
    let mut events = vec![EpollEvent::empty(); idle + 16];
    // Connect in batches of 50, as the other loops' measurement does (see curl_bench).
    for batch in plan.chunks(50) {
        let mut pool = Pool::new(batch.to_vec(), batch.len(), options);
        pool.fill(&multi, &quiet)?;
        pools.push(pool);
        let want: usize = pools.iter().map(Pool::in_flight).sum();
        let deadline = Instant::now() + Duration::from_secs(20);
        multi.timeout().map_err(|e| Error::msg("curl_multi_socket_action", e.to_string()))?;
        loop {
            socket_turn(&multi, &epoll, &mut events)?;
            multi.timeout().map_err(|e| Error::msg("curl_multi_socket_action", e.to_string()))?;
            let open: usize = pools.iter_mut().map(|p| p.sockets().len()).sum();
            if open >= want && server.open_connections() >= want {
                break;
            }
            if Instant::now() > deadline {
                for pool in pools.iter_mut() {
                    pool.abandon(&multi, &quiet);
                }
                return Err(Error::msg(
                    "curl socket_action cost",
                    format!("only {} of {want} connections open after 20 s", server.open_connections()),
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    if let Some(e) = *failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(Error::os("epoll_ctl in the socket callback", e));
    }
    let turns = |n: u64, events: &mut Vec<EpollEvent>| -> Result<Duration> {
        let start = Instant::now();
        for _ in 0..n {
            socket_turn(&multi, &epoll, events)?;
        }
        Ok(start.elapsed())
    };
    let iters = calibrate(target, |n| turns(n, &mut events))?;
    let mut variants = vec![Variant::new("socket_action turn", || {
        Ok(turns(iters, &mut events)?.as_secs_f64() * 1e9 / iters as f64)
    })];
    let measured = interleave(&mut variants, rounds)?;
    drop(variants);
    for pool in pools.iter_mut() {
        pool.abandon(&multi, &quiet);
    }
    drop(pools);
    drop(multi);
    measured.into_iter().next().ok_or_else(|| Error::msg("curl socket_action cost", "no measurement"))
}
