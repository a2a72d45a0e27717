//! Part 5: the chat servers under load (notes: "3. using select()", "4. pselect()",
//! "4. poll()").
//!
//! N clients each send M lines, in M waves (every client sends one line, then everyone
//! waits for the whole wave); the server relays every line to the N-1 others. The
//! figure is deliveries per second (N x M x (N-1) lines received, over the time from the
//! first line sent to the last line received), and every client's transcript is checked:
//! every other client's lines exactly once each, in the order they were sent, and none
//! of its own. A fast server that loses or repeats a line would not count.
//!
//! The server runs in a child process (this same binary, with the hidden flag
//! `--chat-server CALL`) running the demo's own `serve` loop on the shared chat room,
//! with narration off. Its fds are then only its own: 3 standard ones, 2 listeners and
//! one per client, so select() can serve up to 1019 clients; the clients, in this
//! process, do not use up its fd numbers. The clients are the fixtures' scripted
//! clients (one reader thread each, recording every line).

use crate::harness::{stats, LoadSeen, Measured};
use crate::plot::{self, Series};
use crate::report::{Bench, Goal, Table};
use common::chat::{ChatRoom, StopRule};
use common::{Context, Error, Narrator, Result};
use offline::chat_clients::{ask_stats, stat, ChatClient};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The three servers, by the name of the call they wait in.
pub const SERVERS: [&str; 3] = ["select", "pselect", "poll"];

/// How long one server run may take, from start to the last line delivered.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// The server's wait timeout: only matters when nothing happens.
const SERVE_TIMEOUT: Duration = Duration::from_millis(500);

// ANCHOR: child_server
/// The child side (`bench --chat-server CALL`): binds a quiet room on 127.0.0.1, prints
/// `chat=ADDR stats=ADDR`, serves until the stats port has been asked and every client
/// has left, then exits.
pub fn serve_child(call: &str) -> Result<()> {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut room = ChatRoom::bind(any, any)?;
    room.set_quiet(true);
    room.stop_when(
        StopRule::WhenEmptyAfterStats,
        Some(Instant::now() + RUN_DEADLINE + Duration::from_secs(30)),
    );
    let quiet = Narrator::quiet();
    let wait_mask = match call {
        "select" => {
            select::prepare(&mut room);
            None
        }
        "pselect" => {
            pselect::prepare(&mut room);
            Some(pselect::block_signals(&quiet)?)
        }
        "poll" => {
            poll::prepare(&mut room);
            None
        }
        other => {
            return Err(Error::usage(format!("--chat-server {other:?}: expected select, pselect or poll")))
        }
    };
    println!("chat={} stats={}", room.chat_addr()?, room.stats_addr()?);
    match (call, wait_mask) {
        ("select", _) => select::serve(&mut room, &quiet, SERVE_TIMEOUT),
        ("pselect", Some(mask)) => pselect::serve(&mut room, &quiet, SERVE_TIMEOUT, &mask),
        _ => poll::serve(&mut room, &quiet, SERVE_TIMEOUT),
    }
}
// ANCHOR_END: child_server

/// A server child process; killed if dropped while still running.
struct ServerChild {
    child: Child,
    chat: SocketAddr,
    stats: SocketAddr,
}

impl ServerChild {
    fn start(call: &str) -> Result<Self> {
        let exe = std::env::current_exe().context("current_exe")?;
        let mut child = Command::new(exe)
            .args(["--chat-server", call])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("start the {call} chat server"))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line).context("read the chat server's addresses")?;
        }
        let parse = |key: &str| -> Option<SocketAddr> {
            line.split_whitespace().find_map(|w| w.strip_prefix(key)).and_then(|a| a.parse().ok())
        };
        match (parse("chat="), parse("stats=")) {
            (Some(chat), Some(stats)) => Ok(ServerChild { child, chat, stats }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(Error::msg(format!("{call} chat server"), format!("unexpected first line {line:?}")))
            }
        }
    }

    /// Asks the stats port (the server's signal to stop once the room is empty) and
    /// waits for the process to exit. Returns the stats line.
    fn finish(mut self) -> Result<String> {
        let stats = ask_stats(self.stats)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().context("wait for the chat server")? {
                if !status.success() {
                    return Err(Error::msg("chat server", format!("exited with {status}")));
                }
                return Ok(stats);
            }
            if Instant::now() > deadline {
                return Err(Error::msg("chat server", "did not exit 10 s after the room emptied"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What one run measured and checked.
#[derive(Debug, Clone)]
struct RunResult {
    deliveries_per_s: f64,
    /// Lines missing, repeated, out of order or echoed back, over all clients.
    wrong: u64,
    seconds: f64,
    /// The server's stats line at the end (its counters).
    server_stats: String,
}

/// The line client `sender` sends as its `j`th.
fn line(sender: usize, j: usize) -> String {
    format!("m{sender}-{j}")
}

/// Parses a relayed `<nick> m{sender}-{j}` back to (sender, j).
fn parse_relay(text: &str) -> Option<(usize, usize)> {
    let body = text.split_once("> ")?.1.strip_prefix('m')?;
    let (sender, j) = body.split_once('-')?;
    Some((sender.parse().ok()?, j.parse().ok()?))
}

/// Checks client `me`'s transcript: every other client's M lines, once each, in order,
/// and none of its own. Returns how many lines were wrong (missing, extra, misplaced).
fn check(me: usize, lines: &[String], clients: usize, per_client: usize) -> u64 {
    let mut next = vec![0usize; clients];
    let mut wrong = 0u64;
    for (sender, j) in lines.iter().filter_map(|l| parse_relay(l)) {
        if sender >= clients || sender == me || j != next[sender] {
            wrong += 1;
        } else {
            next[sender] += 1;
        }
    }
    let missing: usize = next
        .iter()
        .enumerate()
        .filter(|(s, _)| *s != me)
        .map(|(_, &got)| per_client.saturating_sub(got))
        .sum();
    wrong + missing as u64
}

// ANCHOR: chat_run
/// One run: N clients join, each sends M lines, everyone waits for everyone's lines.
fn run_once(call: &str, clients: usize, per_client: usize) -> Result<RunResult> {
    let server = ServerChild::start(call)?;
    let mut joined = Vec::with_capacity(clients);
    for i in 0..clients {
        joined.push(ChatClient::connect(&format!("c{i}"), server.chat)?);
    }
    // Everyone is in once everyone has had its welcome (the room is quiet: no joins).
    let mut base = Vec::with_capacity(clients);
    for client in &joined {
        base.push(client.wait_count(1, Duration::from_secs(20))?);
    }
    // Waves: every client sends its j-th line. Waves go out in batches of `batch`, and
    // a batch is sent only once every client has received everything up to the batch
    // before it. Sending all M lines at once would put (N-1) x M lines in each client's
    // queue in one burst, and past 16 KiB the room stops reading input until that client
    // catches up (its back-pressure): the room working, not a throughput figure. Two
    // batches in flight keep each backlog near that and the server busy.
    let batch = (16 * 1024 / ((clients - 1).max(1) * 20)).max(1);
    for client in &joined {
        client.writer()?.set_nodelay(true).context("setsockopt(TCP_NODELAY)")?;
    }
    let expected = (clients - 1) * per_client;
    let started = Instant::now();
    let deadline = started + RUN_DEADLINE;
    let wait_for_waves = |joined: &[ChatClient], waves: usize| -> Result<()> {
        for (i, client) in joined.iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            if client.wait_count(base[i] + (clients - 1) * waves, left).is_err() {
                return Err(diagnose(call, joined, clients, per_client, started, &server));
            }
        }
        Ok(())
    };
    for first in (0..per_client).step_by(batch) {
        if first >= batch {
            wait_for_waves(&joined, first - batch)?;
        }
        for j in first..(first + batch).min(per_client) {
            for (i, client) in joined.iter_mut().enumerate() {
                client.say(&line(i, j))?;
            }
        }
    }
    wait_for_waves(&joined, per_client)?;
    let seconds = started.elapsed().as_secs_f64();
    let mut wrong = 0;
    for (i, client) in joined.into_iter().enumerate() {
        let lines = client.close();
        wrong += check(i, &lines, clients, per_client);
    }
    let server_stats = server.finish()?;
    if let Some(dropped) = stat(&server_stats, "slow_dropped").filter(|&d| d > 0) {
        return Err(Error::msg(
            format!("{call} server"),
            format!("dropped {dropped} clients as too slow: {server_stats}"),
        ));
    }
    let deliveries = (clients * expected) as u64;
    Ok(RunResult { deliveries_per_s: deliveries as f64 / seconds.max(1e-9), wrong, seconds, server_stats })
}
// ANCHOR_END: chat_run

/// Why a run did not complete: which clients miss which lines, and the server's
/// counters (did it read every line? did it drop someone as too slow?).
fn diagnose(
    call: &str,
    joined: &[ChatClient],
    clients: usize,
    per_client: usize,
    started: Instant,
    server: &ServerChild,
) -> Error {
    let mut short = 0;
    let mut first = String::new();
    for (i, client) in joined.iter().enumerate() {
        let got = client.received();
        let mut seen = vec![0usize; clients];
        for (sender, _) in got.iter().filter_map(|l| parse_relay(l)) {
            if sender < clients {
                seen[sender] += 1;
            }
        }
        let missing: Vec<String> = (0..clients)
            .filter(|&s| s != i && seen[s] < per_client)
            .map(|s| format!("{} from c{s}", per_client - seen[s]))
            .collect();
        if !missing.is_empty() {
            short += 1;
            if first.is_empty() {
                first =
                    format!("c{i} misses {}", missing.iter().take(5).cloned().collect::<Vec<_>>().join(", "));
            }
        }
    }
    let stats = ask_stats(server.stats).unwrap_or_else(|e| format!("(stats port: {e})"));
    Error::msg(
        format!("{call} server, {clients} clients x {per_client} lines"),
        format!(
            "after {:.0} s {short} clients still miss lines ({first}); server counters: {stats}",
            started.elapsed().as_secs_f64()
        ),
    )
}

/// Runs part 5 and reports it.
pub fn run(bench: &mut Bench) -> Result<()> {
    bench.part(
        5,
        "chat",
        "Chat servers: N clients x M lines through select, pselect and poll, every line checked",
    );
    common::fd::raise_nofile_limit(8192)?;
    let (sizes, rounds): (Vec<(usize, usize)>, usize) =
        if bench.quick { (vec![(5, 5), (20, 5)], 1) } else { (vec![(10, 2000), (100, 100), (1000, 5)], 5) };
    let mut table = Table::new(&[
        "N clients",
        "M lines each",
        "server",
        "deliveries",
        "deliveries/s",
        "time",
        "wrong lines",
    ]);
    let mut load = LoadSeen::new();
    let mut lines: Vec<Vec<(f64, f64, f64, f64)>> = vec![Vec::new(); SERVERS.len()];
    let mut all_exact = true;
    for &(clients, per_client) in &sizes {
        let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); SERVERS.len()];
        let mut failures: Vec<Vec<String>> = vec![Vec::new(); SERVERS.len()];
        for round in 0..rounds {
            load.sample();
            let mut order: Vec<usize> = (0..SERVERS.len()).collect();
            order.rotate_left(round % SERVERS.len());
            for index in order {
                // A run that fails (a line that never came, a server that died) is a
                // finding to report, not a reason to throw away the other runs.
                match run_once(SERVERS[index], clients, per_client) {
                    Ok(result) => {
                        bench.n.data(
                            "chat_run",
                            json!({"server": SERVERS[index], "clients": clients, "lines_each": per_client,
                                   "seconds": result.seconds, "deliveries_per_s": result.deliveries_per_s,
                                   "wrong_lines": result.wrong, "server_stats": result.server_stats}),
                        );
                        results[index].push(result);
                    }
                    Err(e) => {
                        bench.n.data(
                            "chat_run_failed",
                            json!({"server": SERVERS[index], "clients": clients, "lines_each": per_client, "error": e.to_string()}),
                        );
                        failures[index].push(e.to_string());
                    }
                }
            }
        }
        load.sample();
        for (index, call) in SERVERS.iter().enumerate() {
            let runs = &results[index];
            let rate = stats(&runs.iter().map(|r| r.deliveries_per_s).collect::<Vec<_>>());
            let secs = stats(&runs.iter().map(|r| r.seconds).collect::<Vec<_>>());
            let wrong: u64 = runs.iter().map(|r| r.wrong).sum();
            let failed = failures[index].len();
            all_exact &= wrong == 0 && failed == 0;
            let deliveries = (clients * (clients - 1) * per_client) as u64;
            let verdict = match (wrong, failed) {
                (0, 0) => "0 (all exact)".to_string(),
                (w, 0) => format!("{w} WRONG"),
                (w, f) => format!("{w} wrong; {f} of {rounds} runs FAILED: {}", failures[index][0]),
            };
            table.row(vec![
                clients.to_string(),
                per_client.to_string(),
                call.to_string(),
                deliveries.to_string(),
                format!("{:.0}", rate.median),
                format!("{:.2} s", secs.median),
                verdict,
            ]);
            let m = Measured { name: format!("{call} N={clients}"), stats: rate, load };
            bench.measurement(
                "chat",
                &m,
                "deliveries_per_s",
                json!({"server": call, "clients": clients, "lines_each": per_client, "deliveries": deliveries,
                       "wrong_lines": wrong, "failed_runs": failed, "exact": wrong == 0 && failed == 0}),
            );
            if !runs.is_empty() {
                lines[index].push((clients as f64, rate.median, rate.p10, rate.p90));
            }
        }
    }
    bench.table(&table);
    bench.load_line(&load);
    bench.n.say(
        "   select() serves up to 1019 clients here: the server process has 3 standard fds and 2 listeners,",
    );
    bench.n.say("   and an fd_set holds fds 0..1023 only. pselect the same; poll has no such limit.");
    bench.ratio(
        "chat",
        "lines delivered exactly once, in order (1 = all)",
        if all_exact { 1.0 } else { 0.0 },
        Goal::AtLeast(1.0),
        &load,
    );
    if let Some(largest) = sizes.last() {
        let rate = |index: usize| lines[index].last().map_or(f64::NAN, |p| p.1);
        bench.ratio(
            "chat",
            format!("poll / select deliveries/s at N={}", largest.0),
            rate(2) / rate(0),
            Goal::Info,
            &load,
        );
    }

    if let Some(dir) = bench.plots.clone() {
        let series: Vec<Series> = SERVERS
            .iter()
            .enumerate()
            .map(|(i, call)| Series {
                name: call.to_string(),
                points: lines[i].clone(),
                color: plot::color(i),
                dashed: i == 1,
            })
            .collect();
        let path = dir.join("chat-throughput.svg");
        plot::draw(
            &path,
            "Chat servers: lines delivered per second",
            "clients (N)",
            "deliveries per second",
            &series,
            plot::Axes { log_x: true, log_y: false, y_ns: false },
        )?;
        bench.plot_written(&path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_are_checked_line_by_line() {
        let good: Vec<String> = vec![
            "welcome".into(),
            "<guest2> m1-0".into(),
            "<guest3> m2-0".into(),
            "<guest2> m1-1".into(),
            "<guest3> m2-1".into(),
        ];
        assert_eq!(check(0, &good, 3, 2), 0);
        // A line repeated, one missing.
        let repeated: Vec<String> = vec![
            "<guest2> m1-0".into(),
            "<guest2> m1-0".into(),
            "<guest3> m2-0".into(),
            "<guest3> m2-1".into(),
        ];
        assert_eq!(check(0, &repeated, 3, 2), 2);
        // Its own line echoed back.
        let echoed: Vec<String> = vec!["<guest1> m0-0".into()];
        assert_eq!(check(0, &echoed, 2, 0), 1);
        assert_eq!(parse_relay("<bob> m12-7"), Some((12, 7)));
        assert_eq!(parse_relay("* bob joined"), None);
    }
}
