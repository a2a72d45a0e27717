//! `grade` over a class of five: a good submission (a Python poll() echo server), a bad
//! one (a Python echo server that serves one client at a time), one that does not compile,
//! one whose program hangs without ever listening, and one whose build hangs. Each gets
//! its row and its feedback; none stops the others.
#![allow(clippy::unwrap_used)] // a test: a failure here should stop it loudly

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const POLL_SERVER: &str = r#"
# A poll() echo server: one thread, non-blocking sockets, POLLOUT only while an echo waits.
import errno, select, socket, sys
addr = sys.argv[sys.argv.index("--listen") + 1]
host, port = addr.rsplit(":", 1)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, int(port)))
listener.listen(5)
listener.setblocking(False)
print("listening on %s:%d" % listener.getsockname(), flush=True)
poller = select.poll()
poller.register(listener, select.POLLIN)
clients = {}  # fd -> [socket, bytes waiting to be echoed]

def drop(fd):
    poller.unregister(fd)
    clients.pop(fd)[0].close()

while True:
    for fd, revents in poller.poll():
        if fd == listener.fileno():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.setblocking(False)
            clients[conn.fileno()] = [conn, b""]
            poller.register(conn, select.POLLIN)
            continue
        conn, pending = clients[fd]
        try:
            if pending:
                sent = conn.send(pending)
                clients[fd][1] = pending[sent:]
            else:
                data = conn.recv(4096)
                if not data:
                    drop(fd)
                    continue
                clients[fd][1] = data
        except BlockingIOError:
            pass
        except OSError:
            drop(fd)
            continue
        poller.modify(fd, select.POLLOUT if clients[fd][1] else select.POLLIN)
"#;

const ONE_AT_A_TIME: &str = r#"
# Serves one client at a time: accepts, echoes until it leaves, then accepts again.
import socket, sys
addr = sys.argv[sys.argv.index("--listen") + 1]
host, port = addr.rsplit(":", 1)
s = socket.socket()
s.bind((host, int(port)))
s.listen(5)
print("listening on %s:%d" % s.getsockname(), flush=True)
while True:
    c, _ = s.accept()
    while True:
        try:
            data = c.recv(4096)
        except OSError:
            break
        if not data:
            break
        c.sendall(data)
    c.close()
"#;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_class_with_good_bad_broken_and_hanging_submissions_is_marked_in_full() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED: python3 is not installed (the class's submissions are Python and C)");
        return;
    }
    let checker = test_harness::bins::binary("poll-echo-check");
    let class = std::env::temp_dir().join(format!("aio-lab-grade-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&class);
    let subs = class.join("submissions");
    write(&subs.join("good/echo.py"), POLL_SERVER);
    write(&subs.join("bad/echo.py"), ONE_AT_A_TIME);
    write(&subs.join("broken/echo.c"), "int main( {\n");
    write(&subs.join("hangs/echo.py"), "import time\ntime.sleep(3600)\n");
    write(&subs.join("slow-build/Makefile"), "poll_echo:\n\tsleep 600\n");
    let out = class.join("grades.csv");

    let started = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_grade"))
        .arg("--checker")
        .arg(&checker)
        .args(["--lab", "poll-echo", "--build-limit", "3", "--out"])
        .arg(&out)
        .arg(&subs)
        .output()
        .unwrap();
    let took = started.elapsed();
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{log}\n{}", String::from_utf8_lossy(&run.stdout));
    assert!(String::from_utf8_lossy(&run.stdout)
        .contains("5 submissions (3 marked, 2 not built or not markable)"));

    let book = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<Vec<&str>> = book.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "student",
            "score",
            "max",
            "starts",
            "echo",
            "many-clients",
            "one-thread",
            "no-busy-wait",
            "slow-client",
            "non-reader",
            "disconnects",
            "no-fd-leak",
            "signals"
        ]
    );
    let students: Vec<&str> = rows[1..].iter().map(|r| r[0]).collect();
    assert_eq!(students, ["bad", "broken", "good", "hangs", "slow-build"], "{book}");
    let row = |name: &str| rows.iter().find(|r| r[0] == name).unwrap().clone();
    assert_eq!(row("good")[1..3], ["20", "20"], "{book}");
    assert!(row("good")[3..].iter().all(|p| *p != "0"), "{book}");
    // The bad one starts and echoes, and fails what serving one at a time fails.
    assert_eq!(row("bad")[1..6], ["4", "20", "1", "2", "0"], "{book}");
    for name in ["broken", "hangs", "slow-build"] {
        assert_eq!(row(name)[1], "0", "{book}");
        assert_eq!(row(name).len(), rows[0].len(), "{book}");
    }

    let feedback = |name: &str| {
        std::fs::read_to_string(class.join("grades-feedback").join(format!("{name}.txt"))).unwrap()
    };
    assert!(feedback("good").contains("PASS one-thread (2/2)"), "{}", feedback("good"));
    assert!(feedback("good").ends_with("score: 20/20\n"));
    assert!(feedback("bad").contains("FAIL many-clients (0/3): client 2 got no echo"), "{}", feedback("bad"));
    let broken = feedback("broken");
    assert!(broken.contains("not marked: it did not build") && broken.contains("cc failed"), "{broken}");
    assert!(broken.contains("error"), "the compiler's message is kept: {broken}");
    assert!(
        feedback("hangs").contains("FAIL starts (0/1): it printed no line on stdout within 5 s"),
        "{}",
        feedback("hangs")
    );
    assert!(
        feedback("slow-build").contains("make was still running after 3 s"),
        "{}",
        feedback("slow-build")
    );
    // Five students: a good run (about 4 s), a bad one, a 5 s hang, a 3 s build limit.
    assert!(took < Duration::from_secs(120), "took {took:?}");
    let _ = std::fs::remove_dir_all(&class);
}
