//! The end of a run: the timeline chart, the summary line, and the exit-code rule.

use super::Outcome;
use crate::error::{Error, Result};
use crate::narrate::round_ms;
use crate::narrate::{Narrator, Style};
use crate::timeline::Timeline;
use serde_json::json;

/// The end of a run: the timeline chart, the summary line, and the exit-code rule
/// (Ok when at least one transfer completed; an error, so exit 1, when every one
/// failed). `mode` is `multi`, `select` or `sequential`.
pub fn summarize(
    outcomes: &[Outcome],
    mode: &str,
    most_in_flight: usize,
    narrator: &Narrator,
) -> Result<Summary> {
    let mut sorted: Vec<&Outcome> = outcomes.iter().collect();
    sorted.sort_by_key(|o| o.transfer.id);
    let mut timeline = Timeline::new("timeline");
    let notes: Vec<String> = sorted
        .iter()
        .map(|o| match &o.failure {
            None => format!("{}, {} B", o.status_text(), o.bytes),
            Some(f) => f.name.clone(),
        })
        .collect();
    let width = notes.iter().map(|n| n.len()).max().unwrap_or(0);
    for (o, note) in sorted.iter().zip(notes) {
        timeline.add(
            // Numbered, so the same URL fetched twice gives two rows that can be told apart.
            format!("#{} {}", o.transfer.id, o.transfer.label),
            narrator.ms_at(o.start),
            narrator.ms_at(o.end),
            format!("{note:<width$}"),
        );
    }
    narrator.say("");
    narrator.timeline(&timeline);
    let summary = Summary {
        transfers: outcomes.len(),
        completed: outcomes.iter().filter(|o| o.ok()).count(),
        work_ms: timeline.work_ms(),
        span_ms: timeline.span_ms(),
        most_in_flight,
    };
    let speedup = if summary.span_ms > 0.0 { summary.work_ms / summary.span_ms } else { 1.0 };
    let failed = summary.transfers - summary.completed;
    narrator.event_styled(
        "summary",
        json!({
            "mode": mode,
            "transfers": summary.transfers,
            "completed": summary.completed,
            "failed": failed,
            "work_ms": round_ms(summary.work_ms),
            "span_ms": round_ms(summary.span_ms),
            "speedup": round_ms(speedup),
            "most_in_flight": most_in_flight,
        }),
        Style::Bold,
        format!(
            "{} transfer{}, {} of work, done in {} ({speedup:.1}x): {} completed, {failed} failed",
            summary.transfers,
            if summary.transfers == 1 { "" } else { "s" },
            duration_text(summary.work_ms),
            duration_text(summary.span_ms),
            summary.completed,
        ),
    );
    if mode == "sequential" {
        narrator.explain(
            "one at a time, the run takes the sum of the transfers; run without --sequential to overlap them",
        );
    } else {
        narrator.explain(format!(
            "one thread, up to {most_in_flight} transfer{} in flight; --sequential would take about {} (the sum)",
            if most_in_flight == 1 { "" } else { "s" },
            duration_text(summary.work_ms)
        ));
    }
    if summary.transfers > 0 && summary.completed == 0 {
        // Name the first failure the way every other error names its errno: curl's
        // symbolic code first, then its words.
        let first = sorted.iter().find_map(|o| o.failure.as_ref().map(|f| (o, f)));
        let which = match summary.transfers {
            1 => "the only transfer failed".to_string(),
            n => format!("every one of the {n} failed; the first"),
        };
        let cause = first
            .map(|(o, f)| format!(", {}: {} ({})", o.transfer.url, f.name, f.message))
            .unwrap_or_default();
        return Err(Error::msg("transfers", format!("{which}{cause}")));
    }
    Ok(summary)
}

/// The numbers behind the summary line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many transfers ran.
    pub transfers: usize,
    /// How many curl completed (any HTTP status).
    pub completed: usize,
    /// The sum of each transfer's time.
    pub work_ms: f64,
    /// First start to last end.
    pub span_ms: f64,
    /// Most transfers in flight at once.
    pub most_in_flight: usize,
}

/// A length of time as a student reads it: seconds from one second up, milliseconds
/// below (a local transfer takes a few), never "0.0 s".
fn duration_text(ms: f64) -> String {
    match ms {
        ms if ms >= 1000.0 => format!("{:.1} s", ms / 1000.0),
        ms if ms >= 10.0 => format!("{ms:.0} ms"),
        ms => format!("{ms:.1} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::duration_text;

    #[test]
    fn short_runs_are_shown_in_milliseconds() {
        assert_eq!(duration_text(3.24), "3.2 ms");
        assert_eq!(duration_text(62.4), "62 ms");
        assert_eq!(duration_text(999.4), "999 ms");
        assert_eq!(duration_text(25_030.0), "25.0 s");
    }
}
