//! The one-line narration of a transfer starting and ending, shared by every loop.

use super::{Outcome, Pool, Transfer};
use crate::narrate::{Narrator, Style};
use serde_json::json;

/// Narrates a transfer handed to curl (`how`: `multi` for curl_multi_add_handle,
/// `easy` for curl_easy_perform).
pub fn report_started(narrator: &Narrator, transfer: &Transfer, how: &str, in_flight: usize) {
    let call = if how == "easy" { "curl_easy_perform" } else { "curl_multi_add_handle" };
    narrator.event(
        "transfer_started",
        json!({"id": transfer.id, "url": transfer.url, "label": transfer.label, "how": how, "in_flight": in_flight}),
        if how == "easy" {
            format!("{call}: #{} {} (returns when the transfer is over)", transfer.id, transfer.url)
        } else {
            format!("{call}: #{} {} ({in_flight} in flight)", transfer.id, transfer.url)
        },
    );
}

/// Narrates a finished transfer: `transfer_done` with its status and byte count.
pub fn report_done(narrator: &Narrator, outcome: &Outcome) {
    let t = &outcome.transfer;
    let secs = outcome.elapsed().as_secs_f64();
    let fields = json!({
        "id": t.id,
        "url": t.url,
        "label": t.label,
        "ok": outcome.ok(),
        "http_status": outcome.http_status,
        "bytes": outcome.bytes,
        "start_ms": round3(narrator.ms_at(outcome.start)),
        "end_ms": round3(narrator.ms_at(outcome.end)),
        "time_ms": round3(secs * 1000.0),
        "curl_code": outcome.failure.as_ref().map_or(0, |f| f.code),
        "curl_error": outcome.failure.as_ref().map(|f| f.name.clone()),
        "error": outcome.failure.as_ref().map(|f| f.message.clone()),
    });
    match &outcome.failure {
        None => {
            let style = if outcome.http_status.is_some_and(|s| s < 400) { Style::Good } else { Style::Warn };
            let text = format!(
                "done #{} {}: {}, {} bytes in {secs:.3} s",
                t.id,
                t.label,
                outcome.status_text(),
                outcome.bytes
            );
            narrator.event_styled("transfer_done", fields, style, text);
            if outcome.http_status.is_some_and(|s| s >= 400) {
                narrator.explain(
                    "curl says CURLE_OK: the transfer worked, and the server's answer was an error status \
                     (CURLOPT_FAILONERROR would make curl call it a failure)",
                );
            }
        }
        Some(f) => {
            let text = format!("failed #{} {}: {} after {secs:.3} s: {}", t.id, t.label, f.name, f.message);
            narrator.event_styled("transfer_done", fields, Style::Bad, text);
            if let Some(hint) = &f.hint {
                narrator.explain(hint);
            }
        }
    }
}

/// Milliseconds to three decimals (a microsecond): enough for any reader of `--json`.
pub fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Narrates `curl_multi_init` (`multi_init`): `waits_in` is the call the loop waits in.
pub fn report_multi_init(narrator: &Narrator, limit: usize, waits_in: &str) {
    narrator.event(
        "multi_init",
        json!({"limit": limit, "waits_in": waits_in}),
        format!(
            "curl_multi_init: one multi handle, up to {limit} transfer{} in it at once; the loop waits in {waits_in}",
            plural(limit)
        ),
    );
}

/// Narrates `curl_multi_perform` (`multi_perform`), and each socket curl opened in it
/// (`socket_opened`), so the fds in the wait lines can be matched to transfers.
pub fn report_perform(narrator: &Narrator, pool: &mut Pool, running: u32) {
    narrator.event(
        "multi_perform",
        json!({"running": running, "in_flight": pool.in_flight()}),
        format!("curl_multi_perform -> {running} running"),
    );
    pool.report_new_sockets(narrator);
}

/// Narrates `curl_multi_cleanup` (`multi_cleanup`), and why `curl_global_cleanup`
/// never comes.
pub fn report_cleanup(narrator: &Narrator) {
    narrator.event("multi_cleanup", json!({}), "curl_multi_cleanup: the multi handle is freed");
    narrator.explain(
        "curl_global_cleanup is left to process exit: the Rust curl crate never calls it, \
         since another part of the program might still use libcurl",
    );
}

/// `"s"` unless `n` is 1: `1 transfer`, `2 transfers`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
