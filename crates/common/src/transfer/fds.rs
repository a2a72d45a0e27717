//! The fd table around a run: filling it below a floor (`--fd-floor`), and checking
//! every socket was closed again afterwards.

use crate::error::{Context, Result};
use crate::narrate::{Narrator, Style};
use serde_json::json;

/// Counts the open fds again at the end and says whether every socket and handle was
/// closed (`open_fds` event). Checked by the tests: no fd may leak, whatever failed.
pub fn report_open_fds(before: usize, narrator: &Narrator) -> Result<usize> {
    let after = crate::fd::count_open_fds()?;
    let (style, verdict) = if after == before {
        (Style::Good, "every socket and pipe curl and the server opened is closed again".to_string())
    } else {
        (
            Style::Warn,
            match after as i64 - before as i64 {
                1 => "1 fd still open".to_string(),
                n => format!("{n} fds still open"),
            },
        )
    };
    narrator.event_styled(
        "open_fds",
        json!({"before": before, "after": after}),
        style,
        format!("open fds: {before} before the run, {after} after: {verdict}"),
    );
    Ok(after)
}

/// Occupies every free fd below `floor` with /dev/null, so the sockets curl opens next
/// are numbered `floor` or above: how a student reproduces the FD_SETSIZE trap without
/// opening a thousand connections. Keep the returned files until the run ends.
pub fn occupy_fds_below(floor: i32) -> Result<Vec<std::fs::File>> {
    let floor = floor.max(0);
    crate::fd::raise_nofile_limit(floor as u64 + 256)?;
    let mut held = Vec::new();
    for _ in 0..floor {
        let file = std::fs::File::open("/dev/null")
            .context("open /dev/null to fill the fd table (is `ulimit -n` too low for --fd-floor?)")?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        if fd >= floor {
            break; // every fd below the floor is taken
        }
        held.push(file);
        if fd == floor - 1 {
            break;
        }
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupying_fds_pushes_new_ones_past_the_floor() {
        let held = occupy_fds_below(300).unwrap();
        let next = std::fs::File::open("/dev/null").unwrap();
        assert!(std::os::fd::AsRawFd::as_raw_fd(&next) >= 300);
        drop(held);
    }
}
