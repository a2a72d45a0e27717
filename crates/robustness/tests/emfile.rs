//! Too few fds: each chat server runs with RLIMIT_NOFILE lowered to 24 in its own
//! process (`sh -c 'ulimit -n 24 && exec "$0" "$@"' BIN --listen ...`), and more clients
//! come than fit. accept() then fails with EMFILE. The server must say so, keep
//! serving the clients it has, not spin (a listener with a connection waiting stays
//! readable, so a loop that keeps watching it wakes at once, forever), and serve the
//! waiting clients as soon as fds come free.

#![allow(clippy::unwrap_used)] // test code: a failed step is a failed test

use offline::chat_clients::{ask_stats, stat, ChatClient, ServerProcess};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use test_harness::bins::binary;

const NOFILE: u64 = 24;
const WAIT: Duration = Duration::from_secs(5);
/// How long the CPU time is watched while connections wait.
const WINDOW: Duration = Duration::from_millis(1500);
/// Clients that arrive once the server is full.
const WAITING: usize = 5;

/// The server's CPU use over [`WINDOW`], as a fraction of it.
fn cpu_share(server: &ServerProcess) -> f64 {
    let before = server.cpu_time().unwrap();
    std::thread::sleep(WINDOW);
    let used = server.cpu_time().unwrap() - before;
    used.as_secs_f64() / WINDOW.as_secs_f64()
}

fn accept_failures(server: &ServerProcess) -> Vec<String> {
    server.stdout_so_far().into_iter().filter(|l| l.contains("\"event\":\"accept_failed\"")).collect()
}

fn out_of_fds(name: &str) {
    let server = ServerProcess::start_with_nofile(binary(name).to_str().unwrap(), NOFILE, &[]).unwrap();
    let limit = NOFILE as i32;
    let baseline = server.fds().unwrap();
    // stdin, stdout, stderr, the two listeners, and whatever the server inherited: the
    // fd numbers below the limit that are left are for clients.
    let room = (0..limit).filter(|fd| !baseline.contains(fd)).count();
    let mut served: Vec<ChatClient> = Vec::new();
    for i in 0..room {
        assert!(accept_failures(&server).is_empty(), "{name}: {:?}", accept_failures(&server));
        let client = ChatClient::connect(&format!("c{i}"), server.chat).unwrap();
        client.wait_lines(1, WAIT).unwrap();
        served.push(client);
    }
    let in_use = server.fds().unwrap();
    assert!((0..limit).all(|fd| in_use.contains(&fd)), "{name}: fds {in_use:?}");
    // Linux's accept() takes an fd number before it looks at the queue, so the server
    // learned it was full (EMFILE) when it tried for one more client at once.
    let deadline = Instant::now() + WAIT;
    while accept_failures(&server).is_empty() {
        assert!(Instant::now() < deadline, "{name}: full, but no accept_failed event");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Full. A stats connection and more chat clients wait in the listen queues: both
    // listeners stay readable now, and a loop that kept watching either would spin.
    let stats_asker = TcpStream::connect(server.stats).unwrap();
    let waiting: Vec<ChatClient> =
        (0..WAITING).map(|i| ChatClient::connect(&format!("w{i}"), server.chat).unwrap()).collect();
    let share = cpu_share(&server);
    assert!(share < 0.3, "{name}: {:.0}% CPU while connections wait: spinning", share * 100.0);
    let failures = accept_failures(&server);
    assert!(failures.iter().all(|l| l.contains("\"errno\":\"EMFILE\"")), "{name}: {failures:?}");

    // The clients it has keep chatting; the waiting ones hear nothing yet.
    served[0].say("still here").unwrap();
    let want = "<guest1> still here";
    for client in &served[1..] {
        client.wait_for(want, WAIT, |l| l == want).unwrap();
    }
    for client in &waiting {
        assert_eq!(client.line_count(), 0, "{name}: {} was served with no fd free", client.name);
    }

    // Three leave: three fds come free, and the room accepts again (and runs out again).
    let leaving: Vec<ChatClient> = served.drain(..3).collect();
    drop(leaving);
    let deadline = Instant::now() + WAIT;
    while waiting.iter().filter(|c| c.line_count() > 0).count() < 3 {
        assert!(Instant::now() < deadline, "{name}: waiting clients not served after three left");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Everyone leaves: the rest of the waiting clients and the stats asker are served.
    drop(served);
    for client in &waiting {
        client.wait_lines(1, WAIT).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    stats_asker.set_read_timeout(Some(WAIT)).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut &stats_asker, &mut answer).unwrap();
    assert!(answer.starts_with("clients="), "{name}: stats answer {answer:?}");
    drop(waiting);
    let deadline = Instant::now() + WAIT;
    loop {
        let line = ask_stats(server.stats).unwrap();
        if stat(&line, "clients") == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "{name}: {line}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.fds().unwrap(), baseline, "{name}: fds after everyone left");
    let failed = accept_failures(&server).len();
    eprintln!(
        "{name}: {room} clients fit under RLIMIT_NOFILE={NOFILE}; {failed} accept() calls failed with EMFILE; \
         {:.1}% CPU over {:.1} s with {} connections waiting",
        share * 100.0,
        WINDOW.as_secs_f64(),
        WAITING + 1
    );
    server.stop().unwrap();
}

#[test]
fn out_of_fds_says_emfile_keeps_serving_and_does_not_spin() {
    // Every chat server in demos.toml, one after another.
    for server in robustness::chat_servers() {
        out_of_fds(server);
    }
}
