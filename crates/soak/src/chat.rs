//! One chat server under continuous load.
//!
//! [`TALKERS`] clients stay for the whole run and talk in rounds: each says one line,
//! then each waits until it has the other talkers' lines for that round, which must be
//! exactly those, once each. Rounds are lock-step, so every line a client receives is
//! accounted for: a missing one is *lost*, a second copy *duplicated*, anything else an
//! error. Every [`CHURN_EVERY`] rounds a newcomer joins, says a line and leaves, by
//! `/quit`, by closing (FIN) or by a reset (RST), in turn; the talkers must see its
//! join, its line and its leave notice, in that order and nothing else.
//!
//! The server's fds are counted from `/proc/PID/fd` once the talkers are in, and again
//! at the end once the room is back to just them: any difference is a leak.

use crate::{update, Shared};
use offline::chat_clients::{ask_stats, stat, ChatClient, ServerProcess};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Clients that stay and talk for the whole run.
pub const TALKERS: usize = 6;

/// A newcomer joins, talks and leaves every this many rounds.
pub const CHURN_EVERY: u64 = 20;

/// The longest any one expected line may take to arrive.
const WAIT: Duration = Duration::from_secs(10);

/// Runs the load against the server at `bin` until `deadline`, recording into `report`.
pub fn soak(bin: &Path, deadline: Instant, report: &Shared) {
    let bin = bin.to_string_lossy().into_owned();
    let mut server = match ServerProcess::start_unrecorded(&bin, &[]) {
        Ok(server) => server,
        Err(e) => return update(report, |r| r.error(format!("start: {e}"))),
    };
    if let Err(e) = run(&mut server, deadline, report) {
        update(report, |r| r.error(e.to_string()));
    }
    if !server.is_running() {
        update(report, |r| r.error("the server exited during the run"));
    }
    if let Err(e) = server.stop() {
        update(report, |r| r.error(format!("stop: {e}")));
    }
}

fn run(server: &mut ServerProcess, deadline: Instant, report: &Shared) -> common::Result<()> {
    // Talker i joins i-th, so it is guest i+1, and hears of the TALKERS-1-i after it.
    let mut talkers = Vec::with_capacity(TALKERS);
    for i in 0..TALKERS {
        let client = ChatClient::connect(&format!("talker{i}"), server.chat)?;
        client.wait_count(1, WAIT)?;
        // SO_SNDTIMEO on the shared socket: a write into a server that stopped reading
        // fails after WAIT instead of blocking forever.
        client.writer()?.set_write_timeout(Some(WAIT)).map_err(|e| common::Error::io("SO_SNDTIMEO", &e))?;
        talkers.push(client);
    }
    let mut seen: Vec<usize> = (0..TALKERS).map(|i| TALKERS - i).collect();
    for (client, &count) in talkers.iter().zip(&seen) {
        client.wait_count(count, WAIT)?;
    }
    let mut next_guest = TALKERS + 1;
    let fds_start = server.open_fds()?;
    let rss_start = server.rss_kib()?;
    let mut round = 0u64;
    while Instant::now() < deadline {
        // One round: everyone speaks, everyone hears the others, exactly.
        for (i, client) in talkers.iter_mut().enumerate() {
            client.say(&format!("r{round} c{i}"))?;
        }
        for (i, client) in talkers.iter().enumerate() {
            let want: Vec<String> =
                (0..TALKERS).filter(|&j| j != i).map(|j| format!("<guest{}> r{round} c{j}", j + 1)).collect();
            let arrived = client.wait_count(seen[i] + want.len(), WAIT);
            let got = client.lines_from(seen[i]);
            seen[i] += got.len();
            let (lost, duplicated, strangers) = compare(&want, &got);
            update(report, |r| {
                r.messages += (got.len() - strangers.len()) as u64;
                r.lost += lost;
                r.duplicated += duplicated;
                for line in &strangers {
                    r.error(format!("round {round}: guest{} got an unexpected line {line:?}", i + 1));
                }
            });
            if let Err(e) = arrived {
                return Err(common::Error::msg(format!("round {round}"), e.to_string()));
            }
        }
        round += 1;
        update(report, |r| r.runs = round);
        if round % CHURN_EVERY == 0 {
            churn(server, &talkers, &mut seen, next_guest, round)?;
            next_guest += 1;
            update(report, |r| r.churned += 1);
        }
    }
    // The room should be back to just the talkers: then count the fds again.
    let settle = Instant::now() + WAIT;
    loop {
        let line = ask_stats(server.stats)?;
        if stat(&line, "clients") == Some(TALKERS as u64) {
            break;
        }
        if Instant::now() > settle {
            return Err(common::Error::msg("settle", format!("room not back to {TALKERS} clients: {line}")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let fds_end = server.open_fds()?;
    let rss_end = server.rss_kib()?;
    update(report, |r| {
        r.fd_growth = fds_end as i64 - fds_start as i64;
        r.detail = json!({"fds_start": fds_start, "fds_end": fds_end, "rss_kib_start": rss_start,
                          "rss_kib_end": rss_end, "server_stdout_lines": server.stdout_count()});
    });
    Ok(())
}

/// Lines missing from `got`, extra copies in it, and lines that should not be there.
fn compare(want: &[String], got: &[String]) -> (u64, u64, Vec<String>) {
    let mut counts: HashMap<&str, i64> = want.iter().map(|w| (w.as_str(), 0)).collect();
    let mut strangers = Vec::new();
    for line in got {
        match counts.get_mut(line.as_str()) {
            Some(n) => *n += 1,
            None => strangers.push(line.clone()),
        }
    }
    let lost = counts.values().filter(|&&n| n == 0).count() as u64;
    let duplicated = counts.values().map(|&n| (n - 1).max(0) as u64).sum();
    (lost, duplicated, strangers)
}

/// A newcomer joins, says one line and leaves (by /quit, FIN or RST, in turn); each
/// talker must see exactly its join, its line and its leave notice.
fn churn(
    server: &ServerProcess,
    talkers: &[ChatClient],
    seen: &mut [usize],
    guest: usize,
    round: u64,
) -> common::Result<()> {
    let mut newcomer = ChatClient::connect("newcomer", server.chat)?;
    newcomer.wait_count(1, WAIT)?;
    newcomer.say(&format!("churn {round}"))?;
    let how = (round / CHURN_EVERY) % 3;
    match how {
        0 => {
            newcomer.say("/quit")?;
            newcomer.wait_closed(WAIT)?;
            drop(newcomer);
        }
        1 => drop(newcomer.close()),
        _ => drop(newcomer.reset()?),
    }
    let want = [
        format!("* guest{guest} joined"),
        format!("<guest{guest}> churn {round}"),
        format!("* guest{guest} left"),
    ];
    for (i, client) in talkers.iter().enumerate() {
        client.wait_count(seen[i] + want.len(), WAIT)?;
        let got = client.lines_from(seen[i]);
        seen[i] += got.len();
        if got != want {
            return Err(common::Error::msg(
                format!(
                    "round {round}: guest{} watching a newcomer leave by {}",
                    i + 1,
                    ["/quit", "FIN", "RST"][how as usize]
                ),
                format!("got {got:?}, expected {want:?}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_counts_lost_duplicated_and_strangers() {
        let want: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let got: Vec<String> = ["a", "a", "c", "x"].map(String::from).to_vec();
        assert_eq!(compare(&want, &got), (1, 1, vec!["x".to_string()]));
        assert_eq!(compare(&want, &want), (0, 0, vec![]));
    }
}
