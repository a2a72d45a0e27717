//! Part 5: the chat servers under load (notes: "3. using select()", "4. pselect()",
//! "4. poll()"; beyond them, epoll level- and edge-triggered, and tokio-chat).
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
use epoll::interest::Trigger;
use offline::chat_clients::{ask_stats, stat, ChatClient};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The servers: the three from the notes, by the name of the call they wait in, then
/// epoll (level- and edge-triggered) and tokio-chat.
pub const SERVERS: [&str; 6] = ["select", "pselect", "poll", "epoll", "epoll-edge", "tokio-chat"];

/// The servers that cannot take a client fd past 1023 (FD_SETSIZE).
pub fn fd_set_bound(server: &str) -> bool {
    matches!(server, "select" | "pselect")
}

/// How long one server run may take, from start to the last line delivered.
pub(crate) const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// The server's wait timeout: only matters when nothing happens.
const SERVE_TIMEOUT: Duration = Duration::from_millis(500);

// ANCHOR: child_server
/// The child side (`bench --chat-server CALL`): binds a quiet room on 127.0.0.1, prints
/// `chat=ADDR stats=ADDR`, serves until the stats port has been asked and every client
/// has left, then exits.
pub fn serve_child(call: &str) -> Result<()> {
    common::fd::raise_nofile_limit(12_000)?; // one fd per client: 10,000 and a few
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let quiet = Narrator::quiet();
    let deadline = Instant::now() + RUN_DEADLINE + Duration::from_secs(30);
    if call == "tokio-chat" {
        // Its own room and runtime; the same stop rule.
        let runtime = tokio_chat::Runtime::new()?;
        let signals = runtime.signals()?;
        let (chat, stats) = tokio_chat::bind(any, any)?;
        println!(
            "chat={} stats={}",
            chat.local_addr().context("getsockname")?,
            stats.local_addr().context("getsockname")?
        );
        let setup = tokio_chat::Setup {
            chat,
            stats,
            timeout: SERVE_TIMEOUT,
            stop: StopRule::WhenEmptyAfterStats,
            deadline: Some(deadline),
            trace: false,
            quiet: true,
        };
        return runtime.serve(&quiet, setup, signals).map(|_| ());
    }
    let mut room = ChatRoom::bind(any, any)?;
    room.set_quiet(true);
    room.stop_when(StopRule::WhenEmptyAfterStats, Some(deadline));
    match call {
        "select" => select::prepare(&mut room),
        "pselect" => pselect::prepare(&mut room),
        "poll" => poll::prepare(&mut room),
        "epoll" | "epoll-edge" => epoll::prepare(&mut room),
        other => {
            return Err(Error::usage(format!(
                "--chat-server {other:?}: expected one of {}",
                SERVERS.join(", ")
            )))
        }
    }
    let wait_mask = if call == "pselect" { Some(pselect::block_signals(&quiet)?) } else { None };
    let trigger = if call == "epoll-edge" { Trigger::Edge } else { Trigger::Level };
    let waits = if call.starts_with("epoll") { Some(epoll::open_waits(trigger)?) } else { None };
    println!("chat={} stats={}", room.chat_addr()?, room.stats_addr()?);
    match (call, wait_mask, waits) {
        ("select", _, _) => select::serve(&mut room, &quiet, SERVE_TIMEOUT),
        ("pselect", Some(mask), _) => pselect::serve(&mut room, &quiet, SERVE_TIMEOUT, &mask),
        (_, _, Some(waits)) => {
            epoll::serve(&mut room, &quiet, epoll::Setup { trigger, timeout: SERVE_TIMEOUT }, &waits)
        }
        _ => poll::serve(&mut room, &quiet, SERVE_TIMEOUT),
    }
}
// ANCHOR_END: child_server

/// A server child process; killed if dropped while still running.
pub(crate) struct ServerChild {
    pub(crate) child: Child,
    pub(crate) chat: SocketAddr,
    pub(crate) stats: SocketAddr,
}

impl ServerChild {
    pub(crate) fn start(call: &str) -> Result<Self> {
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
    pub(crate) fn finish(mut self) -> Result<String> {
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
pub(crate) struct RunResult {
    pub(crate) deliveries_per_s: f64,
    /// Lines missing, repeated, out of order or echoed back, over all clients.
    pub(crate) wrong: u64,
    pub(crate) seconds: f64,
    /// The server's stats line at the end (its counters).
    pub(crate) server_stats: String,
}

/// The line client `sender` sends as its `j`th.
pub(crate) fn line(sender: usize, j: usize) -> String {
    format!("m{sender}-{j}")
}

/// Parses a relayed `<nick> m{sender}-{j}` back to (sender, j).
fn parse_relay(text: &str) -> Option<(usize, usize)> {
    let body = text.split_once("> ")?.1.strip_prefix('m')?;
    let (sender, j) = body.split_once('-')?;
    Some((sender.parse().ok()?, j.parse().ok()?))
}

/// Checks client `me`'s transcript: the M lines of every other client below `clients`
/// (the senders), once each, in order, and none of its own. Returns how many lines
/// were wrong (missing, extra, misplaced).
pub(crate) fn check(me: usize, lines: &[String], clients: usize, per_client: usize) -> u64 {
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

/// One size of the throughput table: N clients, of which `senders` each send M lines.
#[derive(Debug, Clone, Copy)]
struct Size {
    clients: usize,
    senders: usize,
    per_client: usize,
}

/// Runs part 5 and reports it.
pub fn run(bench: &mut Bench) -> Result<()> {
    bench.part(
        5,
        "chat",
        "Chat servers: N clients x M lines through select, pselect, poll, epoll (level, edge) and tokio-chat, \
         every line checked",
    );
    common::fd::raise_nofile_limit(12_000)?;
    let all = |clients, per_client| Size { clients, senders: clients, per_client };
    // At 10,000 clients everyone talking would be 10^8 deliveries a wave: ten talk.
    let (sizes, rounds): (Vec<Size>, usize) = if bench.quick {
        (vec![all(5, 5), all(20, 5)], 1)
    } else {
        (
            vec![
                all(10, 2000),
                all(100, 100),
                all(1000, 5),
                Size { clients: 10_000, senders: 10, per_client: 5 },
            ],
            3,
        )
    };
    let mut table = Table::new(&[
        "N clients",
        "senders x M lines",
        "server",
        "deliveries",
        "deliveries/s",
        "time",
        "wrong lines",
    ]);
    let mut load = LoadSeen::new();
    let mut lines: Vec<Vec<(f64, f64, f64, f64)>> = vec![Vec::new(); SERVERS.len()];
    let mut all_exact = true;
    let mut median_at: Vec<(usize, usize, f64)> = Vec::new(); // (server, clients, deliveries/s)
    for size in &sizes {
        let Size { clients, senders, per_client } = *size;
        let servers: Vec<usize> =
            (0..SERVERS.len()).filter(|&i| clients <= 1000 || !fd_set_bound(SERVERS[i])).collect();
        let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); SERVERS.len()];
        let mut failures: Vec<Vec<String>> = vec![Vec::new(); SERVERS.len()];
        for round in 0..rounds {
            load.sample();
            let mut order = servers.clone();
            order.rotate_left(round % servers.len());
            for index in order {
                let outcome = if senders == clients {
                    run_once(SERVERS[index], clients, per_client)
                } else {
                    crate::chat_crowd::run_crowd_once(SERVERS[index], clients, senders, per_client)
                };
                // A run that fails (a line that never came, a server that died) is a
                // finding to report, not a reason to throw away the other runs.
                match outcome {
                    Ok(result) => {
                        bench.n.data(
                            "chat_run",
                            json!({"server": SERVERS[index], "clients": clients, "senders": senders,
                                   "lines_each": per_client, "seconds": result.seconds,
                                   "deliveries_per_s": result.deliveries_per_s,
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
        for &index in &servers {
            let call = SERVERS[index];
            let runs = &results[index];
            let rate = stats(&runs.iter().map(|r| r.deliveries_per_s).collect::<Vec<_>>());
            let secs = stats(&runs.iter().map(|r| r.seconds).collect::<Vec<_>>());
            let wrong: u64 = runs.iter().map(|r| r.wrong).sum();
            let failed = failures[index].len();
            all_exact &= wrong == 0 && failed == 0;
            let deliveries = (senders * (clients - 1) * per_client) as u64;
            let verdict = match (wrong, failed) {
                (0, 0) => "0 (all exact)".to_string(),
                (w, 0) => format!("{w} WRONG"),
                (w, f) => format!("{w} wrong; {f} of {rounds} runs FAILED: {}", failures[index][0]),
            };
            table.row(vec![
                clients.to_string(),
                format!("{senders} x {per_client}"),
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
                json!({"server": call, "clients": clients, "senders": senders, "lines_each": per_client,
                       "deliveries": deliveries, "wrong_lines": wrong, "failed_runs": failed,
                       "exact": wrong == 0 && failed == 0}),
            );
            if !runs.is_empty() && senders == clients {
                lines[index].push((clients as f64, rate.median, rate.p10, rate.p90));
            }
            if !runs.is_empty() {
                median_at.push((index, clients, rate.median));
            }
        }
    }
    bench.table(&table);
    bench.load_line(&load);
    bench.n.say(
        "   select() serves up to 1019 clients here: the server process has 3 standard fds and 2 listeners,",
    );
    bench.n.say("   and an fd_set holds fds 0..1023 only. pselect the same; poll, epoll and tokio have no such limit.");
    bench.ratio(
        "chat",
        "lines delivered exactly once, in order (1 = all)",
        if all_exact { 1.0 } else { 0.0 },
        Goal::AtLeast(1.0),
        &load,
    );
    let rate = |server: &str, clients: usize| {
        median_at
            .iter()
            .find(|&&(i, n, _)| SERVERS[i] == server && n == clients)
            .map_or(f64::NAN, |&(_, _, r)| r)
    };
    let compared = if bench.quick { 20 } else { 1000 };
    bench.ratio(
        "chat",
        format!("poll / select deliveries/s at N={compared}"),
        rate("poll", compared) / rate("select", compared),
        Goal::Info,
        &load,
    );
    bench.ratio(
        "chat",
        format!("epoll / poll deliveries/s at N={compared}"),
        rate("epoll", compared) / rate("poll", compared),
        Goal::AtLeast(1.0),
        &load,
    );
    bench.ratio(
        "chat",
        format!("epoll-edge / epoll deliveries/s at N={compared}"),
        rate("epoll-edge", compared) / rate("epoll", compared),
        Goal::Info,
        &load,
    );
    bench.ratio(
        "chat",
        format!("tokio-chat / epoll deliveries/s at N={compared}"),
        rate("tokio-chat", compared) / rate("epoll", compared),
        Goal::AtLeast(0.5),
        &load,
    );
    if !bench.quick {
        let served = SERVERS.iter().filter(|s| !fd_set_bound(s)).all(|s| rate(s, 10_000).is_finite());
        bench.ratio(
            "chat",
            "10,000 clients on one thread served by poll, epoll and tokio-chat (1 = all, every line exact)",
            if served && all_exact { 1.0 } else { 0.0 },
            Goal::AtLeast(1.0),
            &load,
        );
    }
    crate::chat_crowd::wakeup_cost(bench)?;

    if let Some(dir) = bench.plots.clone() {
        let series: Vec<Series> = SERVERS
            .iter()
            .enumerate()
            .map(|(i, call)| Series {
                name: call.to_string(),
                points: lines[i].clone(),
                color: plot::color(i),
                dashed: i == 1 || i == 4,
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
