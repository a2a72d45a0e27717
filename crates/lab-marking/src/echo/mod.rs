//! What the echo-server labs share (lab 1, `poll()`; lab 6, edge-triggered epoll): a
//! client the checks drive ([`peer`]), the checks lab 1 defined ([`checks`], [`idle`]),
//! and [`mark`], which runs them in order. A lab names its wait call once, in a
//! [`Wait`], and every reason speaks of that call.

pub mod checks;
pub mod idle;
pub mod peer;

use crate::marking::{Marking, Submission};
use std::time::{Duration, Instant};

/// How long one expected echo may take (generous: the machine may be busy).
pub const ECHO_WAIT: Duration = Duration::from_secs(2);

/// The lab's wait call, and the words a reason uses for what goes wrong around it.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// The call, as reasons name it: `poll()`.
    pub call: &'static str,
    /// The system calls (as [`crate::lab_server::syscall_name`] names them) the server
    /// may be seen asleep in.
    pub calls: &'static [&'static str],
    /// The same, as reasons name them: `poll() (or ppoll())`.
    pub calls_shown: &'static str,
    /// The usual cause of an idle server that spins.
    pub spin_cause: &'static str,
    /// The usual cause of a server that spins while a client's echo waits for room;
    /// None where such a spin can come of a free choice (lab 6: EPOLLONESHOT re-armed
    /// with EPOLLIN on a client it does not read is reported again at once).
    pub pending_spin: Option<&'static str>,
    /// The usual cause of a server that spins once its clients have left.
    pub dead_client_spin: &'static str,
    /// The ways the wait call says a client is gone (besides read() = 0 or < 0).
    pub hangups: &'static str,
    /// What to wait for before writing again.
    pub writable: &'static str,
    /// Where to look when echoes reach the wrong client.
    pub wrong_client: &'static str,
}

/// Runs lab 1's ten checks, in order, with the lab's points; returns whether the
/// server started (the rest say "not run" when it did not).
pub fn mark(submission: &Submission, marking: &mut Marking, wait: &Wait) -> bool {
    let started = marking.check("starts", 1, || checks::starts(submission));
    let gate = if started { None } else { Some("not run: the server did not start (see `starts` above)") };
    marking.check_unless(gate, "echo", 2, || checks::echo(submission));
    marking.check_unless(gate, "many-clients", 3, || checks::many_clients(submission, wait));
    // `one-thread` and `no-busy-wait` judge the same idle crowd, watched once.
    let crowd = if started { Some(idle::idle_crowd(submission)) } else { None };
    let (one, calm) = match crowd {
        Some(Ok(seen)) => (seen.one_thread(wait), seen.no_busy_wait(wait)),
        Some(Err(why)) => (Err(why.clone()), Err(why)),
        None => (Err(String::new()), Err(String::new())),
    };
    marking.check_unless(gate, "one-thread", 2, || one);
    marking.check_unless(gate, "no-busy-wait", 2, || calm);
    marking.check_unless(gate, "slow-client", 3, || checks::slow_client(submission));
    marking.check_unless(gate, "non-reader", 2, || checks::non_reader(submission, wait));
    marking.check_unless(gate, "disconnects", 2, || checks::disconnects(submission, wait));
    marking.check_unless(gate, "no-fd-leak", 2, || checks::no_fd_leak(submission, wait));
    marking.check_unless(gate, "signals", 1, || checks::signals(submission, wait));
    started
}

/// An instant `from_now` from now.
pub fn deadline(from_now: Duration) -> Instant {
    Instant::now() + from_now
}

/// The first five items, then how many more.
pub fn shorten(items: &[String]) -> String {
    if items.len() <= 5 {
        return items.join(", ");
    }
    format!("{}, and {} more", items[..5].join(", "), items.len() - 5)
}
