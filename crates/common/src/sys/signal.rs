//! Signal handlers that only set a flag, for the pselect demo; and default signal
//! actions for a child process (the lab checkers' servers).
//!
//! A signal handler may run between any two instructions of the program, so it may do
//! almost nothing safely: no allocation, no locks, no printing. The classic pattern, and
//! the only one here, is a handler that stores `true` in an atomic flag, and a main loop
//! that checks the flag. The catch (the whole point of pselect) is *when* the loop
//! checks: a signal arriving just after the check and just before a plain select() is
//! noticed only when select() returns on its own. The pselect demo shows that race.
//!
//! Blocking and unblocking signals needs no `unsafe` (nix's `SigSet::thread_block`,
//! `pthread_sigmask`); only installing a handler does, so that is all that lives here.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::sync::atomic::{AtomicBool, Ordering};

/// The initial value of each flag (a `const` so the array below can repeat it).
#[allow(clippy::declare_interior_mutable_const)]
const UNSET: AtomicBool = AtomicBool::new(false);

/// One flag per signal number (Linux numbers signals 1..=64).
static PENDING: [AtomicBool; 65] = [UNSET; 65];

/// The handler: records that `signo` arrived. Only an atomic store, which is
/// async-signal-safe.
extern "C" fn set_flag(signo: libc::c_int) {
    if let Some(flag) = usize::try_from(signo).ok().and_then(|i| PENDING.get(i)) {
        flag.store(true, Ordering::SeqCst);
    }
}

/// Installs the flag-setting handler for `signal`.
///
/// No SA_RESTART: a blocking call interrupted by the signal fails with EINTR, which is
/// how the loop learns of it (select and pselect are never restarted anyway, see
/// signal(7)). The handler's own mask is empty: it touches nothing another signal could
/// disturb.
pub fn install_flag_handler(signal: Signal) -> nix::Result<()> {
    let action = SigAction::new(SigHandler::Handler(set_flag), SaFlags::empty(), SigSet::empty());
    // SAFETY: `set_flag` is async-signal-safe (a single atomic store into a static, no
    // allocation, no locks), so it may interrupt any code of this program; the old
    // action is not needed.
    unsafe { sigaction(signal, &action) }.map(|_| ())
}

/// True if `signal` arrived since the last [`take_pending`]; clears the flag.
pub fn take_pending(signal: Signal) -> bool {
    PENDING.get(signal as usize).is_some_and(|flag| flag.swap(false, Ordering::SeqCst))
}

/// True if `signal` arrived since the last [`take_pending`]; leaves the flag set.
pub fn is_pending(signal: Signal) -> bool {
    PENDING.get(signal as usize).is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// Gives the child `cmd` starts the default action for the signals that stop a program
/// (SIGINT, SIGQUIT, SIGTERM, SIGHUP). A shell that starts a command in the background
/// (`checker &` in a script) sets SIGINT and SIGQUIT to "ignore", an ignored signal stays
/// ignored across fork and exec, and a server that relies on the default action would
/// then survive the SIGINT a checker sends it. (std already resets the signal mask and
/// SIGPIPE; it leaves ignored signals alone.)
pub fn default_stop_signals_in_child(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe functions may be called: it calls signal() four times (sigaction
    // underneath, async-signal-safe), allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(|| {
            for signo in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(signo, libc::SIG_DFL);
            }
            Ok(())
        });
    }
}

// The flag handlers are tested through the pselect binary (SIGTERM, SIGUSR1,
// --show-race), in child processes: a test harness's own threads make in-process signal
// tests unreliable.

#[cfg(test)]
mod tests {
    use super::default_stop_signals_in_child;
    use std::process::Command;

    /// SigIgn of a `sh` started from a parent that ignores SIGINT, with and without the
    /// reset: the bit for SIGINT (2) is 0x2.
    fn child_ignores_sigint(reset: bool) -> bool {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "grep '^SigIgn:' /proc/self/status"]);
        if reset {
            default_stop_signals_in_child(&mut cmd);
        }
        let out = cmd.output().expect("run sh");
        let text = String::from_utf8_lossy(&out.stdout);
        let mask = text.split_whitespace().nth(1).and_then(|hex| u64::from_str_radix(hex, 16).ok());
        mask.expect("a SigIgn line") & 0x2 != 0
    }

    #[test]
    fn a_child_gets_sigint_back_from_a_parent_that_ignores_it() {
        // SAFETY: SIG_IGN installs no handler code; this test process then ignores
        // SIGINT, which nothing here sends it.
        unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
        assert!(child_ignores_sigint(false), "ignored signals are inherited");
        assert!(!child_ignores_sigint(true), "the reset gives the default action back");
    }
}
