//! `--clients N`: up to 10,000 clients on one thread.
//!
//! Each connection costs an fd at both ends. select, pselect and poll run their crowd
//! in the same process as the server (two fds per client), which is fine for a few
//! thousand; 10,000 clients and their server need 20,000 fds, the hard RLIMIT_NOFILE
//! of many machines. So here the scripted clients run in a child process (this same
//! binary, started with a hidden flag), and each side needs only N fds and a few.

use crate::interest::Trigger;
use common::chat::tell;
use common::chat::{json, ChatRoom, StopRule};
use common::narrate::plural;
use common::{Context, Error, Narrator, Result};
use offline::chat_clients::{run_crowd, CrowdReport};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Fds each process needs beyond one per client: stdio, listeners, epoll, signalfd.
const SPARE_FDS: u64 = 64;

/// The hidden flag that makes this binary the crowd's client side.
pub const CHILD_FLAG: &str = "--crowd-child";

/// Raises RLIMIT_NOFILE for `count` clients, or says plainly why it cannot.
fn fds_for(count: usize, side: &str) -> Result<u64> {
    use nix::sys::resource::{getrlimit, Resource};
    let want = count as u64 + SPARE_FDS;
    let (_, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| Error::os("getrlimit(RLIMIT_NOFILE)", e))?;
    if hard < want {
        return Err(Error::msg(
            format!("--clients {count}"),
            format!(
                "the {side} needs {want} fds but RLIMIT_NOFILE's hard limit here is {hard}: try --clients {} \
                 or raise the hard limit (ulimit -Hn, as root)",
                hard.saturating_sub(SPARE_FDS)
            ),
        ));
    }
    common::fd::raise_nofile_limit(want)
}

/// The server side: the room on this thread, the clients in a child process.
pub fn crowd(n: &Narrator, count: usize, trigger: Trigger) -> Result<()> {
    n.title(crate::TITLE.0, crate::TITLE.1, crate::TITLE.2);
    let limit = fds_for(count, "server")?;
    n.event(
        "nofile_limit",
        json!({"wanted": count as u64 + SPARE_FDS, "soft_limit": limit}),
        format!("RLIMIT_NOFILE soft limit: {limit} (one fd per client on this side; the clients are another process)"),
    );
    let waits = crate::open_waits(trigger)?;
    waits.tell(n);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut room = ChatRoom::bind(loopback, loopback)?;
    crate::prepare(&mut room);
    room.set_quiet(true);
    room.stop_when(StopRule::WhenEmptyAfterStats, Some(Instant::now() + Duration::from_secs(60)));
    tell::happening(n, &room.listening()?);
    let (chat, stats) = (room.chat_addr()?, room.stats_addr()?);
    let exe = std::env::current_exe().context("current_exe")?;
    let child = Command::new(exe)
        .args([CHILD_FLAG, &chat.to_string(), &stats.to_string(), &count.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()) // its error, if any, becomes part of ours: one line
        .spawn()
        .context("start the clients' process")?;
    n.explain(format!(
        "{count} clients connect from a child process (pid {}) in batches of 100; joins and leaves are not announced",
        child.id()
    ));
    let setup = crate::Setup { trigger, timeout: crate::SCENARIO_TIMEOUT };
    let served = crate::serve(&mut room, n, setup, &waits);
    let highest = room.counters.highest_fd;
    let wait_calls = room.counters.wait_calls;
    drop(room);
    let mut child = child;
    if served.is_err() {
        let _ = child.kill(); // it would only time out against a server that is gone
    }
    let out = child.wait_with_output().context("wait for the clients' process")?;
    // Ctrl-C reaches the clients' process too (the same process group), and the server's
    // goodbye resets their sockets: the signal is the one thing to report.
    if let Some(signal) = crate::stopped_by() {
        return Err(Error::msg("crowd", format!("stopped by {} before the crowd finished", signal.as_str())));
    }
    served?;
    let report = parse_report(&out.stdout).ok_or_else(|| {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().next().unwrap_or("").trim_start_matches("error: ");
        Error::msg("crowd", format!("the clients' process failed ({}): {why}", out.status))
    })?;
    n.event(
        "crowd_done",
        json!({"clients": count, "connected": report.connected, "served": report.served,
               "refused": report.refused, "got_message": report.got_message, "highest_fd": highest,
               "wait_calls": wait_calls}),
        format!("{}; {}", report.summary(highest), plural(wait_calls, "epoll_wait call", "epoll_wait calls")),
    );
    if report.served == count && report.got_message + 1 == count {
        Ok(())
    } else {
        Err(Error::msg("crowd", "not every client was served and got the broadcast line"))
    }
}

/// The child's one JSON line, back into a report.
fn parse_report(stdout: &[u8]) -> Option<CrowdReport> {
    let line = String::from_utf8_lossy(stdout);
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    let field = |name: &str| value[name].as_u64().map(|v| v as usize);
    Some(CrowdReport {
        connected: field("connected")?,
        served: field("served")?,
        refused: field("refused")?,
        got_message: field("got_message")?,
    })
}

/// The client side (`--crowd-child CHAT STATS COUNT`): runs the crowd and prints its
/// report as one JSON line.
pub fn child(args: &[String]) -> Result<()> {
    let [chat, stats, count] = args else {
        return Err(Error::usage(format!("{CHILD_FLAG} takes CHAT STATS COUNT")));
    };
    let parse =
        |text: &str| text.parse::<SocketAddr>().map_err(|_| Error::usage(format!("not an address: {text}")));
    let count: usize = count.parse().map_err(|_| Error::usage(format!("not a count: {count}")))?;
    fds_for(count, "clients' process")?;
    let report = run_crowd(parse(chat)?, parse(stats)?, count)?;
    println!(
        "{}",
        json!({"connected": report.connected, "served": report.served, "refused": report.refused,
               "got_message": report.got_message})
    );
    Ok(())
}
