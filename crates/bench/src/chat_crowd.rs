//! Part 5, continued: the chat servers with thousands of clients.
//!
//! * [`run_crowd_once`]: N clients (10,000) of which a few talk; every client's
//!   transcript checked as in the main table. One reader thread per client, as the
//!   main table's clients have, would be 10,000 threads: here all the clients are read
//!   from one thread with poll() (offline's `ManyClients`).
//! * [`wakeup_cost`]: what one wake-up costs the server as idle clients pile up. N
//!   clients connect and say nothing; one more sends a command that only it hears
//!   (`/x`: "unknown command") and waits for the answer, again and again. Each round
//!   trip is a wake-up or two of the server with one fd ready; the server's CPU time
//!   per round trip (from /proc/PID/schedstat, in ns) shows what the wait call and the
//!   loop around it cost with N fds watched and none of them busy.

use crate::chat::{check, line, RunResult, ServerChild, RUN_DEADLINE};
use crate::harness::{stats, LoadSeen, Measured};
use crate::plot::{self, Series};
use crate::report::{Bench, Goal, Table};
use common::{Context, Error, Result};
use offline::chat_clients::{stat, ChatClient, ManyClients};
use serde_json::json;
use std::time::{Duration, Instant};

/// N clients, of which the first `senders` each send `per_client` lines; every client
/// waits for every line meant for it.
pub(crate) fn run_crowd_once(
    call: &str,
    clients: usize,
    senders: usize,
    per_client: usize,
) -> Result<RunResult> {
    let server = ServerChild::start(call)?;
    let mut crowd = ManyClients::new();
    crowd.connect(server.chat, clients)?;
    let base: Vec<usize> = (0..clients).map(|i| crowd.lines(i).len()).collect();
    let want = |i: usize| base[i] + per_client * (senders - usize::from(i < senders));
    let started = Instant::now();
    for j in 0..per_client {
        for s in 0..senders {
            crowd.say(s, &line(s, j))?;
        }
    }
    crowd.pump_until(RUN_DEADLINE, "every line", |c| (0..clients).all(|i| c.lines(i).len() >= want(i)))?;
    let seconds = started.elapsed().as_secs_f64();
    let wrong: u64 = (0..clients).map(|i| check(i, crowd.lines(i), senders, per_client)).sum();
    drop(crowd); // every client closes
    let server_stats = server.finish()?;
    if let Some(dropped) = stat(&server_stats, "slow_dropped").filter(|&d| d > 0) {
        return Err(Error::msg(format!("{call} server"), format!("dropped {dropped} clients as too slow")));
    }
    let deliveries = (senders * (clients - 1) * per_client) as f64;
    Ok(RunResult { deliveries_per_s: deliveries / seconds.max(1e-9), wrong, seconds, server_stats })
}

/// The servers compared for wake-up cost (select cannot reach 10,000 fds).
const WAKEUP_SERVERS: [&str; 4] = ["poll", "epoll", "epoll-edge", "tokio-chat"];

/// A process's main thread's time on a CPU, in ns (first field of /proc/PID/schedstat).
fn cpu_ns(pid: u32) -> Result<u64> {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/schedstat")).context("read /proc/PID/schedstat")?;
    text.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .ok_or_else(|| Error::msg("schedstat", format!("unexpected {text:?}")))
}

/// One measurement: the server's CPU ns and the wall-clock µs per round trip, with
/// `idle` silent clients connected.
fn one_wakeup_run(call: &str, idle: usize, pings: usize) -> Result<(f64, f64)> {
    let server = ServerChild::start(call)?;
    let mut crowd = ManyClients::new();
    crowd.connect(server.chat, idle)?;
    let mut pinger = ChatClient::connect("pinger", server.chat)?;
    let mut seen = pinger.wait_count(1, Duration::from_secs(10))?;
    pinger.writer()?.set_nodelay(true).context("setsockopt(TCP_NODELAY)")?;
    for _ in 0..pings / 10 {
        pinger.say("/x")?; // warm-up
        seen = pinger.wait_count(seen + 1, Duration::from_secs(10))?;
    }
    let pid = server.child.id();
    let (cpu0, started) = (cpu_ns(pid)?, Instant::now());
    for _ in 0..pings {
        pinger.say("/x")?;
        seen = pinger.wait_count(seen + 1, Duration::from_secs(10))?;
    }
    let (cpu1, wall) = (cpu_ns(pid)?, started.elapsed());
    drop(pinger.close());
    drop(crowd);
    server.finish()?;
    Ok(((cpu1 - cpu0) as f64 / pings as f64, wall.as_secs_f64() * 1e6 / pings as f64))
}

/// The wake-up cost table and its ratios.
pub fn wakeup_cost(bench: &mut Bench) -> Result<()> {
    let (sizes, pings, rounds): (Vec<usize>, usize, usize) =
        if bench.quick { (vec![10, 100], 200, 1) } else { (vec![10, 100, 1000, 10_000], 2000, 3) };
    let mut table = Table::new(&["idle clients", "server", "server CPU per round trip", "round trip"]);
    let mut load = LoadSeen::new();
    let mut cost: Vec<(&str, usize, f64)> = Vec::new();
    let mut lines: Vec<Vec<(f64, f64, f64, f64)>> = vec![Vec::new(); WAKEUP_SERVERS.len()];
    for &idle in &sizes {
        for (k, call) in WAKEUP_SERVERS.into_iter().enumerate() {
            let mut cpu = Vec::new();
            let mut rtt = Vec::new();
            for _ in 0..rounds {
                load.sample();
                match one_wakeup_run(call, idle, pings) {
                    Ok((c, r)) => {
                        cpu.push(c);
                        rtt.push(r);
                    }
                    Err(e) => bench.n.data(
                        "wakeup_run_failed",
                        json!({"server": call, "idle": idle, "error": e.to_string()}),
                    ),
                }
            }
            let (c, r) = (stats(&cpu), stats(&rtt));
            table.row(vec![
                idle.to_string(),
                call.to_string(),
                format!("{:.1} µs", c.median / 1000.0),
                format!("{:.1} µs", r.median),
            ]);
            let m = Measured { name: format!("{call} idle={idle}"), stats: c, load };
            bench.measurement(
                "chat",
                &m,
                "server_cpu_ns_per_round_trip",
                json!({"server": call, "idle": idle, "pings": pings}),
            );
            cost.push((call, idle, c.median));
            if !cpu.is_empty() {
                lines[k].push((idle as f64, c.median, c.p10, c.p90));
            }
        }
    }
    bench.table(&table);
    let at =
        |call: &str, idle: usize| cost.iter().find(|c| c.0 == call && c.1 == idle).map_or(f64::NAN, |c| c.2);
    let (low, high) = (sizes[0], sizes[sizes.len() - 1]);
    bench.ratio(
        "chat",
        format!("epoll server CPU per wake-up, {high} / {low} idle clients (flat = 1)"),
        at("epoll", high) / at("epoll", low),
        Goal::AtMost(2.0),
        &load,
    );
    bench.ratio(
        "chat",
        format!("poll server CPU per wake-up, {high} / {low} idle clients"),
        at("poll", high) / at("poll", low),
        Goal::Info,
        &load,
    );
    bench.ratio(
        "chat",
        format!("tokio-chat server CPU per wake-up, {high} / {low} idle clients"),
        at("tokio-chat", high) / at("tokio-chat", low),
        Goal::Info,
        &load,
    );
    if let Some(dir) = bench.plots.clone() {
        let series: Vec<Series> = WAKEUP_SERVERS
            .iter()
            .zip(lines)
            .map(|(call, points)| Series {
                name: call.to_string(),
                points,
                // The same colour for each server as in the throughput plot.
                color: plot::color(crate::chat::SERVERS.iter().position(|s| s == call).unwrap_or(0)),
                dashed: *call == "epoll-edge",
            })
            .collect();
        let path = dir.join("chat-wakeup.svg");
        plot::draw(
            &path,
            "Chat servers: server CPU per round trip with N idle clients",
            "idle clients (N)",
            "server CPU per round trip",
            &series,
            plot::Axes { log_x: true, log_y: true, y_ns: true },
        )?;
        bench.plot_written(&path);
    }
    Ok(())
}
