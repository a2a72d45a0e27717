//! Part 3: what curl's multi interface buys, and what each way of waiting costs
//! (notes: "Using cURL Asynchronously", "Asynchronous + curl + select()").
//!
//! * **Gain.** 50 transfers of `/delay/500` from the local fixture server: one at a time
//!   with curl_easy_perform (the curl-multi demo's `--sequential`), all at once with
//!   curl-multi's loop (curl_multi_wait), and all at once with curl-select's loop
//!   (curl_multi_fdset + select). The demos' own functions run them.
//! * **Scale.** 1000 transfers of `/delay/500` at once: curl-socket's socket_action on
//!   epoll against curl_multi_wait ([`crate::curl_scale`]).
//! * **Cost.** One turn of each loop, timeout 0, with 1 transfer receiving data and 10,
//!   100, 1000 idle connections (`/hang`): curl_multi_fdset + curl_multi_timeout +
//!   select + curl_multi_perform, against curl_multi_wait + curl_multi_perform, against
//!   epoll_wait + curl_multi_socket_action. The
//!   server runs in this process, so its sockets take fd numbers too: past about 500
//!   connections curl's sockets reach 1024, where curl_multi_fdset silently leaves them
//!   out of the fd_set and select stops seeing them.

use crate::harness::{calibrate, interleave, LoadSeen, Measured, Variant};
use crate::plot::{self, Series};
use crate::report::{fmt_ns, Bench, Goal, Table};
use common::sys::curl::{select, FdSet, FD_SETSIZE};
use common::transfer::{self, Options, Outcome, Pool, Transfer};
use common::{Error, Narrator, Result};
use curl::multi::Multi;
use offline::http::Server;
use serde_json::json;
use std::time::{Duration, Instant};

/// Checks that every transfer completed with 200, and returns the run's wall time.
fn all_ok(what: &str, outcomes: &[Outcome], count: usize, started: Instant) -> Result<Duration> {
    if outcomes.len() != count {
        return Err(Error::msg(what, format!("{} of {count} transfers reported", outcomes.len())));
    }
    if let Some(bad) = outcomes.iter().find(|o| !o.ok() || o.http_status != Some(200)) {
        return Err(Error::msg(what, format!("{} ended {}", bad.transfer.label, bad.status_text())));
    }
    let end = outcomes.iter().map(|o| o.end).max().unwrap_or(started);
    Ok(end.saturating_duration_since(started))
}

/// Seconds from `started` at which each transfer finished, sorted: the plot's steps.
fn finish_times(outcomes: &[Outcome], started: Instant) -> Vec<f64> {
    let mut times: Vec<f64> =
        outcomes.iter().map(|o| o.end.saturating_duration_since(started).as_secs_f64()).collect();
    times.sort_by(f64::total_cmp);
    times
}

/// Sequential vs multi vs select on `count` slow transfers.
fn transfers(bench: &mut Bench, server: &Server) -> Result<()> {
    let (count, delay_ms, rounds) = if bench.quick { (5usize, 100u64, 2usize) } else { (50, 500, 5) };
    let urls: Vec<String> = (0..count).map(|_| server.url(&format!("/delay/{delay_ms}"))).collect();
    let base = server.url("");
    let plan = || -> Vec<Transfer> { transfer::plan(&urls, Some(&base)) };
    let options = Options { timeout: Duration::from_secs(10), max_speed: None };
    let quiet = Narrator::quiet();
    let last_multi = std::cell::RefCell::new(Vec::new());
    let last_select = std::cell::RefCell::new(Vec::new());
    let mut variants = vec![
        Variant::new("curl-multi (curl_multi_wait)", || {
            let started = Instant::now();
            let (outcomes, _) =
                curl_multi::transfer_all(plan(), count, options, curl_multi::Wait::Wait, &quiet)?;
            let wall = all_ok("curl-multi", &outcomes, count, started)?;
            *last_multi.borrow_mut() = finish_times(&outcomes, started);
            Ok(wall.as_secs_f64())
        }),
        Variant::new("curl-select (fdset + select)", || {
            let started = Instant::now();
            let (outcomes, _) = curl_select::transfer_all(plan(), count, options, &quiet)?;
            let wall = all_ok("curl-select", &outcomes, count, started)?;
            *last_select.borrow_mut() = finish_times(&outcomes, started);
            Ok(wall.as_secs_f64())
        }),
    ];
    let measured = interleave(&mut variants, rounds)?;
    drop(variants);

    // The blocking baseline runs once: 50 x 0.5 s is 25 s, and its point is the 40x.
    let mut load = measured[0].load;
    load.sample();
    let started = Instant::now();
    let outcomes = transfer::run_sequential(plan(), &options, &quiet);
    let sequential = all_ok("sequential", &outcomes, count, started)?;
    let sequential_times = finish_times(&outcomes, started);
    load.sample();

    bench.n.say(format!(
        "\n   {count} transfers of /delay/{delay_ms} from the local server, time until the last one finished"
    ));
    let mut table = Table::new(&["how", "wall time", "p10-p90", "vs the delay", "vs sequential"]);
    let ideal = delay_ms as f64 / 1000.0;
    let seq = sequential.as_secs_f64();
    table.row(vec![
        "sequential (curl_easy_perform)".into(),
        format!("{seq:.2} s"),
        "(one run)".into(),
        format!("{:.2}x", seq / ideal),
        "1x".into(),
    ]);
    for m in &measured {
        table.row(vec![
            m.name.clone(),
            format!("{:.3} s", m.stats.median),
            format!("{:.3}-{:.3} s", m.stats.p10, m.stats.p90),
            format!("{:.2}x", m.stats.median / ideal),
            format!("{:.0}x faster", seq / m.stats.median),
        ]);
        bench.measurement(
            "curl",
            m,
            "seconds",
            json!({"test": "transfers", "count": count, "delay_ms": delay_ms}),
        );
    }
    let seq_m = Measured {
        name: "sequential (curl_easy_perform)".into(),
        stats: crate::harness::stats(&[seq]),
        load,
    };
    bench.measurement(
        "curl",
        &seq_m,
        "seconds",
        json!({"test": "transfers", "count": count, "delay_ms": delay_ms}),
    );
    bench.table(&table);
    bench.load_line(&load);
    let multi = measured[0].stats.median;
    let select = measured[1].stats.median;
    bench.ratio(
        "curl",
        format!("multi wall / {delay_ms} ms delay"),
        multi / ideal,
        Goal::AtMost(1.15),
        &load,
    );
    bench.ratio(
        "curl",
        "sequential / multi",
        seq / multi,
        Goal::AtLeast(40.0_f64.min(count as f64 * 0.8)),
        &load,
    );
    bench.ratio("curl", "select / multi", select / multi, Goal::AtMost(1.05), &load);

    if let Some(dir) = bench.plots.clone() {
        let steps = |times: &[f64]| -> Vec<(f64, f64, f64, f64)> {
            let mut points = vec![(0.0, 0.0, 0.0, 0.0)];
            for (i, &t) in times.iter().enumerate() {
                points.push((t, i as f64, i as f64, i as f64));
                points.push((t, i as f64 + 1.0, i as f64 + 1.0, i as f64 + 1.0));
            }
            points
        };
        let series = vec![
            Series {
                name: "sequential (curl_easy_perform)".into(),
                points: steps(&sequential_times),
                color: plot::color(1),
                dashed: false,
            },
            Series {
                name: "curl-multi (curl_multi_wait)".into(),
                points: steps(&last_multi.borrow()),
                color: plot::color(0),
                dashed: false,
            },
            Series {
                name: "curl-select (fdset + select)".into(),
                points: steps(&last_select.borrow()),
                color: plot::color(2),
                dashed: true,
            },
        ];
        let path = dir.join("curl-transfers.svg");
        plot::draw(
            &path,
            &format!("{count} transfers of /delay/{delay_ms}: finished over time"),
            "seconds since the start",
            "transfers finished",
            &series,
            plot::Axes::linear(),
        )?;
        bench.plot_written(&path);
    }
    Ok(())
}

/// How one way of waiting fared with a given number of idle connections.
struct LoopCost {
    idle: usize,
    sockets: usize,
    high_sockets: usize,
    in_fdset: usize,
    /// fdset + select, then the same with perform: the select loop's turn.
    select: [Measured; 2],
    /// curl_multi_wait, then the same with perform; or why curl_multi_wait failed.
    multi: std::result::Result<[Measured; 2], String>,
    /// epoll_wait + curl_multi_socket_action (its own transfers); or why it failed.
    socket: std::result::Result<Measured, String>,
}

// ANCHOR: waits
/// curl-select's wait with timeout 0: fresh fd_sets, curl_multi_fdset,
/// curl_multi_timeout, select. Returns how many fds the sets held.
fn select_wait(multi: &Multi) -> Result<usize> {
    let (mut read, mut write, mut except) = (FdSet::new(), FdSet::new(), FdSet::new());
    let maxfd = multi
        .fdset2(Some(read.as_raw_mut()), Some(write.as_raw_mut()), Some(except.as_raw_mut()))
        .map_err(|e| Error::msg("curl_multi_fdset", e.to_string()))?;
    multi.get_timeout().map_err(|e| Error::msg("curl_multi_timeout", e.to_string()))?;
    let nfds = maxfd.map_or(0, |m| m + 1);
    let watched = read.fds(nfds).len() + write.fds(nfds).len();
    match select(nfds, &mut read, &mut write, &mut except, Duration::ZERO) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(watched),
        Err(e) => Err(Error::os(format!("select(nfds={nfds})"), e)),
    }
}

/// curl-multi's wait with timeout 0.
fn multi_wait(multi: &Multi) -> Result<()> {
    multi.wait(&mut [], Duration::ZERO).map_err(|e| Error::msg("curl_multi_wait", e.to_string()))?;
    Ok(())
}

/// curl_multi_perform: the other half of every turn of either loop.
fn perform(multi: &Multi) -> Result<()> {
    multi.perform().map_err(|e| Error::msg("curl_multi_perform", e.to_string()))?;
    Ok(())
}
// ANCHOR_END: waits

/// A way of spending one turn of a loop.
type Turn<'a> = &'a dyn Fn(&Multi) -> Result<()>;

/// Sets up 1 active + `idle` idle transfers and times both loops' turns.
fn loop_cost_at(bench: &Bench, server: &Server, idle: usize) -> Result<LoopCost> {
    let quiet = Narrator::quiet();
    // One transfer that keeps receiving (a byte every millisecond), the rest hanging.
    let mut urls = vec![server.url("/drip/20000/1")];
    urls.extend((0..idle).map(|_| server.url("/hang")));
    let multi = Multi::new();
    // Connect in batches of 50, letting the server accept each batch before the next:
    // the server lives in this process, so its sockets and curl's then take turns at
    // the fd numbers, as they would in any long-running program. (All at once, curl
    // would open every socket before the server accepted one, and curl's fds would
    // stay low by luck.) One pool per batch, all on the same multi handle.
    let options = Options { timeout: Duration::from_secs(60), max_speed: None };
    let mut pools: Vec<Pool> = Vec::new();
    let plan = transfer::plan(&urls, Some(&server.url("")));
    let give_up = |pools: &mut Vec<Pool>, why: String| -> Error {
        for pool in pools.iter_mut() {
            pool.abandon(&multi, &quiet);
        }
        Error::msg("curl loop cost", why)
    };
    for batch in plan.chunks(50) {
        let mut pool = Pool::new(batch.to_vec(), batch.len(), options);
        pool.fill(&multi, &quiet)?;
        pools.push(pool);
        let want: usize = pools.iter().map(|p| p.in_flight()).sum();
        // Plain sleeps, not curl_multi_wait: that call is one of the things under test,
        // and with sockets past 1024 it may refuse to work.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            multi.perform().map_err(|e| Error::msg("curl_multi_perform", e.to_string()))?;
            let mut open = 0;
            for pool in pools.iter_mut() {
                pool.report_new_sockets(&quiet);
                open += pool.sockets().len();
            }
            if open >= want && server.open_connections() >= want {
                break;
            }
            if Instant::now() > deadline {
                let why = format!("only {} of {want} connections open after 20 s", server.open_connections());
                return Err(give_up(&mut pools, why));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let sockets: Vec<(i32, String)> = pools.iter().flat_map(|p| p.sockets()).collect();
    let high_sockets = sockets.iter().filter(|(fd, _)| *fd >= FD_SETSIZE).count();
    let in_fdset = select_wait(&multi)?;

    let (target, rounds) =
        if bench.quick { (Duration::from_micros(500), 5) } else { (Duration::from_millis(2), 30) };
    let time_turns = |turns: u64, f: Turn<'_>| -> Result<Duration> {
        let start = Instant::now();
        for _ in 0..turns {
            f(&multi)?;
        }
        Ok(start.elapsed())
    };
    let select_only = |m: &Multi| select_wait(m).map(drop);
    let select_turn = |m: &Multi| select_wait(m).and_then(|_| perform(m));
    let wait_only = |m: &Multi| multi_wait(m);
    let wait_turn = |m: &Multi| multi_wait(m).and_then(|_| perform(m));
    // curl_multi_wait may refuse (a libcurl that waits with select() inside, given an
    // fd past 1024): that is a finding, reported, not a reason to stop the benchmark.
    let multi_works = multi_wait(&multi);
    let mut turns: Vec<(&str, Turn<'_>)> =
        vec![("fdset + select", &select_only), ("fdset + select + perform", &select_turn)];
    if multi_works.is_ok() {
        turns.push(("curl_multi_wait", &wait_only));
        turns.push(("curl_multi_wait + perform", &wait_turn));
    }
    let mut variants = Vec::new();
    for (name, turn) in turns {
        let iters = calibrate(target, |n| time_turns(n, turn))?;
        variants.push(Variant::new(name, move || {
            Ok(time_turns(iters, turn)?.as_secs_f64() * 1e9 / iters as f64)
        }));
    }
    let mut measured = interleave(&mut variants, rounds)?.into_iter();
    drop(variants);
    for pool in pools.iter_mut() {
        pool.abandon(&multi, &quiet);
    }
    drop(pools);
    drop(multi);
    let mut next = || measured.next().ok_or_else(|| Error::msg("curl loop cost", "a measurement is missing"));
    let select = [next()?, next()?];
    let multi = match multi_works {
        Ok(()) => Ok([next()?, next()?]),
        Err(e) => Err(e.to_string()),
    };
    settle(server);
    let socket = crate::curl_scale::turn_cost(server, idle, target, rounds).map_err(|e| e.to_string());
    Ok(LoopCost { idle, sockets: sockets.len(), high_sockets, in_fdset, select, multi, socket })
}

/// Waits (at most 5 s) until the server has seen every connection of the last size close.
fn settle(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.open_connections() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The loop cost table and plot.
fn loop_cost(bench: &mut Bench, server: &Server) -> Result<()> {
    common::fd::raise_nofile_limit(8192)?;
    let mut idles: Vec<usize> = if bench.quick { vec![10, 50] } else { vec![10, 100, 1000] };
    if !transfer::waits_with_poll() {
        // This libcurl checks each new connection with select(): past fd 1023 every
        // connect fails, whatever loop drives it. Measure only what fits below.
        idles.retain(|&idle| idle <= 300);
        bench.n.say(
            "   this libcurl was built without HAVE_POLL (it waits with select() inside): sizes that would put \
             sockets past fd 1023 are left out",
        );
    }
    let mut costs = Vec::new();
    for &idle in &idles {
        costs.push(loop_cost_at(bench, server, idle)?);
        // Let the server notice the closed connections before the next size.
        settle(server);
    }
    bench.n.say("\n   one turn of the loop, timeout 0, with 1 active transfer and N idle connections");
    let mut table = Table::new(&[
        "idle",
        "curl sockets",
        "fd >= 1024",
        "in the fd_set",
        "fdset+select",
        "multi_wait",
        "select turn",
        "multi_wait turn",
        "socket_action turn",
    ]);
    let mut load = LoadSeen::new();
    let mut plot_lines: [Vec<(f64, f64, f64, f64)>; 5] = Default::default();
    for c in &costs {
        let extra = json!({"test": "loop_cost", "idle": c.idle, "sockets": c.sockets,
                           "sockets_past_fd_setsize": c.high_sockets, "in_fdset": c.in_fdset});
        let point = |m: &Measured| (c.idle as f64, m.stats.median, m.stats.p10, m.stats.p90);
        for (k, m) in c.select.iter().enumerate() {
            load.merge(&m.load);
            bench.measurement("curl", m, "ns_per_turn", extra.clone());
            plot_lines[k].push(point(m));
        }
        let (wait_cells, wait_error) = match &c.multi {
            Ok(ms) => {
                for (k, m) in ms.iter().enumerate() {
                    bench.measurement("curl", m, "ns_per_turn", extra.clone());
                    plot_lines[2 + k].push(point(m));
                }
                ([fmt_ns(ms[0].stats.median), fmt_ns(ms[1].stats.median)], None)
            }
            Err(e) => {
                bench
                    .n
                    .data("loop_cost_failed", json!({"wait": "curl_multi_wait", "idle": c.idle, "error": e}));
                (["fails".to_string(), "fails".to_string()], Some(e))
            }
        };
        let blind = if c.high_sockets > 0 {
            format!("{} (misses {})", c.in_fdset, c.high_sockets)
        } else {
            c.in_fdset.to_string()
        };
        let [wait_only, wait_turn] = wait_cells;
        let socket_cell = match &c.socket {
            Ok(m) => {
                load.merge(&m.load);
                bench.measurement("curl", m, "ns_per_turn", extra.clone());
                plot_lines[4].push(point(m));
                fmt_ns(m.stats.median)
            }
            Err(e) => {
                bench
                    .n
                    .data("loop_cost_failed", json!({"wait": "socket_action", "idle": c.idle, "error": e}));
                "fails".to_string()
            }
        };
        table.row(vec![
            c.idle.to_string(),
            c.sockets.to_string(),
            c.high_sockets.to_string(),
            blind,
            fmt_ns(c.select[0].stats.median),
            wait_only,
            fmt_ns(c.select[1].stats.median),
            wait_turn,
            socket_cell,
        ]);
        if let Some(e) = wait_error {
            table.row(vec![String::new(), format!("curl_multi_wait: {e}")]);
        }
    }
    bench.table(&table);
    bench.load_line(&load);
    // How each loop's turn grows from the fewest connections to the most.
    if let (Some(first), Some(last)) = (costs.first(), costs.last()) {
        let (a, b) = (first.idle, last.idle);
        if let (Ok(x), Ok(y)) = (&first.socket, &last.socket) {
            bench.ratio(
                "curl",
                format!("socket_action turn at {b} / at {a} connections"),
                y.stats.median / x.stats.median,
                Goal::AtMost(2.0),
                &load,
            );
        }
        if let (Ok(x), Ok(y)) = (&first.multi, &last.multi) {
            bench.ratio(
                "curl",
                format!("curl_multi_wait turn at {b} / at {a} connections"),
                y[1].stats.median / x[1].stats.median,
                Goal::Info,
                &load,
            );
        }
        bench.ratio(
            "curl",
            format!("fdset+select turn at {b} / at {a} connections (past fd 1023 it watches only part)"),
            last.select[1].stats.median / first.select[1].stats.median,
            Goal::Info,
            &load,
        );
        if let (Ok(wait), Ok(socket)) = (&last.multi, &last.socket) {
            bench.ratio(
                "curl",
                format!("curl_multi_wait turn / socket_action turn at {b} connections"),
                wait[1].stats.median / socket.stats.median,
                Goal::Info,
                &load,
            );
        }
    }
    if let Some(c) = costs.iter().find(|c| c.high_sockets > 0) {
        bench.n.say(format!(
            "   at {} idle connections {} of curl's sockets are numbered 1024 or more: curl_multi_fdset leaves them\n   out of the fd_set without a word, so a select() loop never hears from them (curl-select refuses to run).",
            c.idle, c.high_sockets
        ));
        bench.n.say(format!(
            "   (that is also why fdset+select looks cheaper there: it watches {} of {} sockets)",
            c.in_fdset, c.sockets
        ));
        if let Err(e) = &c.multi {
            bench.n.say(format!("   curl_multi_wait failed too: {e}"));
        } else {
            bench.n.say(
                "   curl_multi_wait (poll() inside this libcurl) watches them all, whatever their numbers.",
            );
        }
    }

    if let Some(dir) = bench.plots.clone() {
        let names = [
            "fdset + select",
            "fdset + select + perform",
            "curl_multi_wait",
            "curl_multi_wait + perform",
            "epoll_wait + socket_action",
        ];
        let series: Vec<Series> = plot_lines
            .into_iter()
            .zip(names)
            .enumerate()
            .filter(|(_, (points, _))| !points.is_empty())
            .map(|(k, (points, name))| Series {
                name: name.into(),
                points,
                color: plot::color(match k {
                    0 | 1 => 1,
                    2 | 3 => 0,
                    _ => 2,
                }),
                dashed: k % 2 == 0 && k < 4,
            })
            .collect();
        let path = dir.join("curl-loop-cost.svg");
        plot::draw(
            &path,
            "One turn of the curl loop with 1 active and N idle connections",
            "idle connections (N)",
            "time per turn",
            &series,
            plot::Axes { log_x: false, log_y: false, y_ns: true },
        )?;
        bench.plot_written(&path);
    }
    Ok(())
}

/// The thousand-transfers table: socket_action on epoll against curl_multi_wait.
fn scale(bench: &mut Bench, server: &Server) -> Result<()> {
    let (count, delay_ms, rounds) = if bench.quick { (50usize, 100u64, 1usize) } else { (1000, 500, 3) };
    if !transfer::waits_with_poll() && count > 300 {
        bench.n.say(format!(
            "\n   {count} transfers at once: left out, this libcurl fails every connection past fd 1023 (no HAVE_POLL)"
        ));
        return Ok(());
    }
    let measured = crate::curl_scale::many(server, count, delay_ms, rounds)?;
    settle(server);
    // The same transfers with no wait at all: what connecting, asking and answering cost
    // by themselves. What the loop adds to the delay is the difference.
    let no_wait = crate::curl_scale::many(server, count, 0, rounds)?;
    settle(server);
    bench.n.say(format!(
        "\n   {count} transfers of /delay/{delay_ms} at once, one thread: time until the last one finished"
    ));
    let mut table = Table::new(&[
        "how",
        "wall time",
        "p10-p90",
        "vs the delay",
        "with /delay/0",
        "(wall - that) / delay",
    ]);
    let ideal = delay_ms as f64 / 1000.0;
    for (m, z) in measured.iter().zip(&no_wait) {
        table.row(vec![
            m.name.clone(),
            format!("{:.3} s", m.stats.median),
            format!("{:.3}-{:.3} s", m.stats.p10, m.stats.p90),
            format!("{:.2}x", m.stats.median / ideal),
            format!("{:.3} s", z.stats.median),
            format!("{:.2}x", (m.stats.median - z.stats.median) / ideal),
        ]);
        bench.measurement(
            "curl",
            m,
            "seconds",
            json!({"test": "many", "count": count, "delay_ms": delay_ms}),
        );
        bench.measurement("curl", z, "seconds", json!({"test": "many", "count": count, "delay_ms": 0}));
    }
    bench.table(&table);
    let load = measured[0].load;
    bench.load_line(&load);
    bench.n.say(format!(
        "   with /delay/0 the same {count} transfers take {:.3} s: connecting, requesting and answering, which \
         no waiting call can overlap away;\n   the rest, the delay itself, is overlapped for all {count} at once.",
        no_wait[0].stats.median
    ));
    bench.ratio(
        "curl",
        format!("socket_action: {count} x /delay/{delay_ms} wall / delay"),
        measured[0].stats.median / ideal,
        Goal::AtMost(1.15),
        &load,
    );
    bench.ratio(
        "curl",
        format!("socket_action: {count} x /delay/{delay_ms} (wall - wall with /delay/0) / delay"),
        (measured[0].stats.median - no_wait[0].stats.median) / ideal,
        Goal::AtMost(1.15),
        &load,
    );
    bench.ratio(
        "curl",
        format!("curl_multi_wait: {count} x /delay/{delay_ms} wall / delay"),
        measured[1].stats.median / ideal,
        Goal::Info,
        &load,
    );
    Ok(())
}

/// Runs part 3 and reports it.
pub fn run(bench: &mut Bench) -> Result<()> {
    bench.part(
        3,
        "curl",
        "curl: slow transfers one at a time vs curl-multi vs curl-select, a thousand at once, and the loop's cost",
    );
    curl::init();
    let server = Server::start()?;
    transfers(bench, &server)?;
    scale(bench, &server)?;
    loop_cost(bench, &server)?;
    server.stop();
    Ok(())
}
