//! epoll-edge-check: marks lab 6 (lab 1's echo server on edge-triggered epoll) from
//! outside.
//!
//! `just lab epoll-edge` marks the starter crate, `--solution` the reference, `-- ./a.out`
//! any program, started as `PROGRAM --listen 127.0.0.1:0` for each check. First come
//! lab 1's ten checks (`lab_marking::echo`), holding the server to `epoll_wait()` as its
//! one place to wait; then four of this lab's own ([`edge`]): every socket registered
//! with EPOLLET (the kernel's own interest list, /proc/PID/fdinfo), and the three ways
//! an edge-triggered server strands work: bytes left unread, connections left
//! unaccepted, echoes never resumed once a full socket has room again. The assignment
//! is `labs/06-epoll-edge/README.md`.

mod edge;
mod kernel;

use lab_marking::echo::Wait;
use lab_marking::marking::Lab;

const LAB: Lab = Lab {
    name: "epoll-edge",
    folder: "06-epoll-edge",
    title: "an echo server for many clients at once, with edge-triggered epoll",
};

/// The one place a lab 6 server waits, and what the reasons say about it.
const EPOLL: Wait = Wait {
    call: "epoll_wait()",
    calls: &["epoll_wait", "epoll_pwait", "epoll_pwait2"],
    calls_shown: "epoll_wait() (or epoll_pwait())",
    spin_cause: "a registration reported again and again while nothing happens: a level-triggered one (no \
                 EPOLLET) that stays ready, such as EPOLLOUT on a client with nothing to send (a socket is \
                 almost always writable); or EPOLL_CTL_MOD after each report with EPOLLOUT in the mask \
                 (MOD re-arms, and reports a writable socket at once, EPOLLET or EPOLLONESHOT or not)",
    // A correct server may spin here (EPOLLONESHOT re-armed with EPOLLIN while it does
    // not read); `drains-writes` reads the registrations instead.
    pending_spin: None,
    dead_client_spin:
        "a client at end of file (read() = 0, EPOLLHUP, EPOLLERR) neither closed nor taken out \
                       of a level-triggered interest list",
    hangups: "EPOLLHUP, EPOLLERR, EPOLLRDHUP",
    writable: "EPOLLOUT",
    wrong_client: "is the data stored with each fd at EPOLL_CTL_ADD that client's own?",
};

fn main() -> std::process::ExitCode {
    lab_marking::marking::main(LAB, |submission, marking| {
        let started = lab_marking::echo::mark(submission, marking, &EPOLL);
        let gate =
            if started { None } else { Some("not run: the server did not start (see `starts` above)") };
        marking.check_unless(gate, "edge-triggered", 2, || edge::edge_triggered(submission));
        marking.check_unless(gate, "drains-reads", 3, || edge::drains_reads(submission));
        marking.check_unless(gate, "drains-accept", 3, || edge::drains_accept(submission));
        marking.check_unless(gate, "drains-writes", 2, || edge::drains_writes(submission));
    })
}
