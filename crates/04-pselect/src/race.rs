//! `--show-race`: the lost wake-up that pselect() exists to prevent, made to happen on
//! purpose (notes: "4. pselect()", where pselect() is called "the same as" unblocking
//! the signal and then calling select()).

use super::TITLE;
use common::chat::json;
use common::chat::tell::Title;
use common::narrate::Style;
use common::sys::signal::{install_flag_handler, take_pending};
use common::timeline::Timeline;
use common::{Error, Narrator, Result};
use nix::sys::select::{pselect, select, FdSet};
use nix::sys::signal::{raise, SigSet, Signal};
use nix::sys::time::{TimeSpec, TimeVal, TimeValLike};
use std::time::{Duration, Instant};

// ANCHOR: race
/// How long each half of `--show-race` lets its wait call sleep.
pub const RACE_TIMEOUT: Duration = Duration::from_millis(1500);

/// `--show-race`: the lost wake-up, made to happen on purpose.
///
/// The signal is raised by the program itself at the worst possible moment, so the
/// race is not a matter of luck. The select() half is exactly the notes' "same as":
/// unblock the signal with pthread_sigmask, then call select(). A signal pending at the
/// unblock is delivered right then, before select() starts; select() then sleeps the
/// whole timeout with the flag already set. pselect() unblocks inside the kernel, as
/// part of starting to wait, so the same early signal ends the wait at once.
pub fn show_race(n: &Narrator) -> Result<()> {
    Title { summary: "the lost wake-up that pselect() closes, made to happen on purpose", ..TITLE }.show(n);
    install_flag_handler(Signal::SIGINT).map_err(|e| Error::os("sigaction(SIGINT)", e))?;
    let mut sigint = SigSet::empty();
    sigint.add(Signal::SIGINT);
    let mut timeline = Timeline::new("wait call");

    // Half 1: check the flag, unblock, select(): the notes' "equivalent" of pselect.
    n.explain("half 1, the notes' \"equivalent\": the loop runs with SIGINT blocked, unblocks it, then calls select()");
    signal_arrives_early(n, Half::Select, &sigint)?;
    sigint.thread_unblock().map_err(|e| Error::os("pthread_sigmask(SIG_UNBLOCK, SIGINT)", e))?;
    narrate_race_step(n, Half::Select, Step::Unblock(is_pending(Signal::SIGINT)));
    let mut timeval = TimeVal::milliseconds(RACE_TIMEOUT.as_millis() as i64);
    let started = narrate_race_wait(n, Half::Select);
    let result = select(0, None::<&mut FdSet>, None, None, &mut timeval);
    narrate_race_result(n, Half::Select, result, started, &mut timeline);

    // Half 2: the same early signal, with pselect().
    n.explain("half 2: the same early signal, but pselect() unblocks SIGINT itself, inside the wait");
    signal_arrives_early(n, Half::Pselect, &sigint)?;
    let mut wait_mask = SigSet::thread_get_mask().map_err(|e| Error::os("pthread_sigmask", e))?;
    wait_mask.remove(Signal::SIGINT);
    let timespec = TimeSpec::milliseconds(RACE_TIMEOUT.as_millis() as i64);
    let started = narrate_race_wait(n, Half::Pselect);
    let result = pselect(0, None::<&mut FdSet>, None, None, &timespec, &wait_mask);
    narrate_race_result(n, Half::Pselect, result, started, &mut timeline);

    sigint.thread_unblock().map_err(|e| Error::os("pthread_sigmask(SIG_UNBLOCK, SIGINT)", e))?;
    n.timeline(&timeline);
    n.explain("the notes call pselect() \"the same as\" pthread_sigmask + select() + pthread_sigmask; it is not: the gap between the calls is the race");
    Ok(())
}
// ANCHOR_END: race

/// What both halves do before their wait: block SIGINT, raise it (so it is pending),
/// check the flag (still false: the handler has not run), decide to sleep.
fn signal_arrives_early(n: &Narrator, half: Half, sigint: &SigSet) -> Result<()> {
    sigint.thread_block().map_err(|e| Error::os("pthread_sigmask(SIG_BLOCK, SIGINT)", e))?;
    narrate_race_step(n, half, Step::Block);
    raise(Signal::SIGINT).map_err(|e| Error::os("raise(SIGINT)", e))?;
    narrate_race_step(n, half, Step::Raise);
    narrate_race_step(n, half, Step::Check(take_pending(Signal::SIGINT)));
    Ok(())
}

/// Which half of `--show-race`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    /// pthread_sigmask, then select(): the racy way.
    Select,
    /// pselect(): the mask change and the wait in one call.
    Pselect,
}

impl Half {
    fn call(self) -> &'static str {
        match self {
            Half::Select => "select",
            Half::Pselect => "pselect",
        }
    }
}

/// One step of a half before its wait, with the flag's state where it matters.
#[derive(Debug, Clone, Copy)]
enum Step {
    Block,
    Raise,
    Check(bool),
    Unblock(bool),
}

/// The `race_step` event.
fn narrate_race_step(n: &Narrator, half: Half, step: Step) {
    let v = half.call();
    let (fields, text) = match step {
        Step::Block => {
            (json!({"variant": v, "step": "block"}), format!("{v}: SIGINT blocked while the loop works"))
        }
        Step::Raise => (
            json!({"variant": v, "step": "raise"}),
            format!("{v}: SIGINT arrives (raise): pending, since blocked"),
        ),
        Step::Check(flag) => (
            json!({"variant": v, "step": "check", "flag": flag}),
            format!("{v}: flag checked: {flag}, so go to sleep"),
        ),
        Step::Unblock(flag) => (
            json!({"variant": v, "step": "unblock", "flag": flag}),
            format!(
                "{v}: pthread_sigmask(SIG_UNBLOCK): the pending SIGINT is delivered NOW, before {v}() starts"
            ),
        ),
    };
    n.event("race_step", fields, text);
}

/// The `wait` event of a half; returns when the wait starts.
fn narrate_race_wait(n: &Narrator, half: Half) -> Instant {
    let v = half.call();
    let mask = if half == Half::Pselect { ", sigmask=without SIGINT" } else { "" };
    n.event(
        "wait",
        json!({"call": v, "nfds": 0, "timeout_ms": RACE_TIMEOUT.as_millis() as u64}),
        format!("{v}(nfds=0, timeout={:.3}s{mask}) ...", RACE_TIMEOUT.as_secs_f64()),
    );
    Instant::now()
}

/// The `race_result` event of a half, and its bar in the timeline.
fn narrate_race_result(
    n: &Narrator,
    half: Half,
    result: nix::Result<i32>,
    started: Instant,
    timeline: &mut Timeline,
) {
    let slept = started.elapsed();
    let flag = take_pending(Signal::SIGINT);
    let (v, outcome) = (half.call(), outcome(result));
    let fields = json!({"variant": v, "result": outcome, "slept_ms": ms(slept), "flag": flag});
    let after = format!("{v} {outcome} after {:.3} s", slept.as_secs_f64());
    let (style, text, label, note) = match half {
        Half::Select => (
            Style::Warn,
            format!("  -> {after}: it slept through the signal; the flag was {flag} all along"),
            "select (racy)",
            "slept the whole timeout",
        ),
        Half::Pselect => (
            Style::Good,
            format!("  -> {after}: the pending signal ended the wait at once; flag {flag}"),
            "pselect",
            "woke at once (EINTR)",
        ),
    };
    n.event_styled("race_result", fields, style, text);
    timeline.add(label, n.ms_at(started), n.t_ms(), note);
}

/// Whether SIGINT's flag is set, without clearing it (for narrating the unblock step).
fn is_pending(signal: Signal) -> bool {
    common::sys::signal::is_pending(signal)
}

/// `returned 0` or `failed with EINTR`.
fn outcome(result: nix::Result<i32>) -> String {
    match result {
        Ok(count) => format!("returned {count}"),
        Err(e) => format!("failed with {}", common::error::errno_name(e)),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
