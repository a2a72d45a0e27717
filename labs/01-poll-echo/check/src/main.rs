//! poll-echo-check: marks lab 1 (an echo server for many clients) from outside.
//!
//! `just lab poll-echo` marks the starter crate, `just lab poll-echo --solution` the
//! reference, `just lab poll-echo -- ./a.out` any program. The program is started as
//! `PROGRAM --listen 127.0.0.1:0` for each check, must print `listening on IP:PORT` as
//! its first stdout line, and is then judged only by what real TCP clients on loopback
//! see: exact bytes back, who gets served while whom is connected, what survives a
//! reset, what /proc/PID/fd says. The assignment is `labs/01-poll-echo/README.md`.
//!
//! The checks themselves are `lab_marking::echo` (lab 6, epoll, runs them too); this
//! lab's part is the wait call they hold the server to: `poll()`.

use lab_marking::echo::Wait;
use lab_marking::marking::Lab;

const LAB: Lab = Lab {
    name: "poll-echo",
    folder: "01-poll-echo",
    title: "an echo server for many clients at once, with poll()",
};

/// The one place a lab 1 server waits, and what the reasons say about it.
const POLL: Wait = Wait {
    call: "poll()",
    calls: &["poll", "ppoll"],
    calls_shown: "poll() (or ppoll())",
    spin_cause: "asking for POLLOUT on a client with nothing to send (a socket is almost always writable)",
    pending_spin: Some(
        "asking for POLLIN on a client whose echo is pending while not reading from it (its unread \
                   bytes keep POLLIN ready, so poll() returns at once, forever): ask for POLLIN only when you \
                   will read",
    ),
    dead_client_spin:
        "a closed client still in the pollfd array (end of file, POLLHUP or POLLERR not handled)",
    hangups: "POLLHUP, POLLERR",
    writable: "POLLOUT",
    wrong_client: "is the index into your pollfd array off by one?",
};

fn main() -> std::process::ExitCode {
    lab_marking::marking::main(LAB, |submission, marking| {
        lab_marking::echo::mark(submission, marking, &POLL);
    })
}
