//! One run of a curl demo, whichever way it waits: the title, `curl_global_init`, the
//! scenario (the local server unless URLs were given), `--fd-floor`, the transfers
//! (the demo's own loop, or `--sequential`), the fd check, the timeline and summary.

use super::{
    default_urls, global_init, occupy_fds_below, plan, report_open_fds, run_sequential, summarize,
    warn_if_no_tls, Config, Options, Outcome, Summary, Transfer, NOTES,
};
use crate::error::Result;
use crate::narrate::Narrator;
use serde_json::json;

/// What sets one curl demo apart from the other.
#[derive(Debug, Clone, Copy)]
pub struct Demo {
    /// The program's name (`curl-multi`).
    pub name: &'static str,
    /// The title line's summary of how it waits.
    pub summary: &'static str,
    /// The `mode` of the summary event (`multi`, `select`).
    pub mode: &'static str,
}

/// The default run's world, started only when no URLs were given: the local HTTP
/// server (stopped when `server` is dropped), its base URL (`http://127.0.0.1:PORT`),
/// and a loopback port where nothing listens.
#[derive(Debug)]
pub struct Local<S> {
    /// Keeps the server running; dropped before the fd check.
    pub server: S,
    /// The server's base URL.
    pub base: String,
    /// A port that refuses connections.
    pub refused_port: u16,
}

/// The loop a demo runs its transfers in: `(transfers, limit, options)` to the
/// outcomes and the most that were in flight at once.
pub type Loop<'a> = dyn FnMut(Vec<Transfer>, usize, Options) -> Result<(Vec<Outcome>, usize)> + 'a;

/// The whole demo. Returns an error (exit code 1) when every transfer failed, or when
/// the demo's loop did.
pub fn run<S>(
    demo: &Demo,
    config: &Config,
    narrator: &Narrator,
    start_local: impl FnOnce() -> Result<Local<S>>,
    transfer_all: &mut Loop<'_>,
) -> Result<Summary> {
    let summary = if config.sequential {
        "the same transfers one at a time with curl_easy_perform, for comparison"
    } else {
        demo.summary
    };
    narrator.title(demo.name, summary, NOTES);
    global_init(narrator);
    let fds_before = crate::fd::count_open_fds()?;

    // ANCHOR: scenario
    let local = if config.urls.is_empty() { Some(start_local()?) } else { None };
    let urls = match &local {
        Some(local) => {
            let addr = local.base.trim_start_matches("http://");
            narrator.event(
                "server_started",
                json!({"addr": addr}),
                format!("local HTTP server on {addr} (delays are simulated; no network needed)"),
            );
            default_urls(&local.base, local.refused_port)
        }
        None => config.urls.clone(),
    };
    let transfers = plan(&urls, local.as_ref().map(|l| l.base.as_str()));
    warn_if_no_tls(&transfers, narrator);
    // ANCHOR_END: scenario

    let held = config.fd_floor.map(occupy_fds_below).transpose()?;
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
        (run_sequential(transfers, &config.options(), narrator), 1)
    } else {
        transfer_all(transfers, limit, config.options())?
    };
    drop(held);
    drop(local);
    report_open_fds(fds_before, narrator)?;
    summarize(&outcomes, if config.sequential { "sequential" } else { demo.mode }, most, narrator)
}
