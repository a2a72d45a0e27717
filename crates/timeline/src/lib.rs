//! A picture of one run of a demo, drawn from its `--json` events: `just timeline NAME`.
//!
//! What these techniques are about is time: a thread asleep in `select()` while six fds
//! wait, transfers overlapping, a read running while the previous block is processed.
//! Each demo already reports every call on a shared clock; this crate draws that report
//! as lanes (one per thread, one per thing the program works on), with each wait call a
//! span on its thread and each readiness, read, write, completion, cancel or signal a
//! mark on the lane it concerns.
//!
//! `events` reads the JSON Lines, `model` decides lanes, spans and marks (generic rules,
//! then what we know of particular demos), `axis` maps time to pixels, `draw` writes
//! the SVG.

pub mod axis;
pub mod draw;
pub mod events;
pub mod model;

pub use axis::Mode;
pub use draw::Caption;

/// Draws JSON Lines `text` as an SVG. `only` keeps one part of a run (`run=overlap`).
pub fn render(text: &str, caption: &Caption, only: Option<(&str, &str)>) -> Result<String, String> {
    let run = events::parse(text);
    let events = match only {
        Some((field, value)) => events::only(&run.events, field, value),
        None => run.events,
    };
    if events.iter().all(|e| e.name == "demo") {
        return Err(match only {
            Some((field, value)) => format!("no event has {field}={value}"),
            None => format!("no events to draw ({} lines were not JSON events)", run.skipped_lines),
        });
    }
    let mut caption = caption.clone();
    caption.fingerprint = events::fingerprint(text.as_bytes());
    draw::svg(&model::build(&events), &caption)
}
