//! The blocking baseline (`--sequential`): one curl_easy_perform after another.

use super::{easy_handle, report_done, report_started, Options, Outcome, Transfer};
use crate::narrate::Narrator;
use std::time::Instant;

/// Runs the transfers one at a time with curl_easy_perform, the blocking baseline
/// (`--sequential`). Each call returns only when its transfer is over.
pub fn run_sequential(transfers: Vec<Transfer>, options: &Options, narrator: &Narrator) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for transfer in transfers {
        let easy = match easy_handle(&transfer, options) {
            Ok(easy) => easy,
            Err(e) => {
                let outcome = Outcome::not_started(transfer, &e, Instant::now());
                report_done(narrator, &outcome);
                outcomes.push(outcome);
                continue;
            }
        };
        report_started(narrator, &transfer, "easy", 1);
        let start = Instant::now();
        let result = easy.perform();
        let outcome = Outcome::new(transfer, &easy, result, start, Instant::now());
        report_done(narrator, &outcome);
        outcomes.push(outcome);
    }
    outcomes
}
