//! Stdout that goes away: `demo | head -1` and `demo >&-`.
//!
//! Rust ignores SIGPIPE, so once the reader of a pipe has gone every write to stdout
//! fails with EPIPE; `println!` would then panic ("failed printing to stdout"). The
//! demos narrate through `common::narrate`, which stops narrating at the first EPIPE and
//! lets the program carry on to its normal end and exit code. A `--listen` server keeps
//! serving after `| head -1`: an instructor reads the port from its first line and the
//! room must go on without anyone reading the narration. With fd 1 closed (`>&-`), the
//! Rust runtime opens /dev/null on it before main, so the demos simply run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nix::sys::signal::Signal;
use offline::chat_clients::ChatClient;
use robustness::{demos, OnStop};
use std::net::SocketAddr;
use std::time::Duration;
use test_harness::harness::{case, parallel, serial, Case, Exit, FdBaseline, Run, Stdout};

const WORKERS: usize = 6;
const WAIT: Duration = Duration::from_secs(5);

/// Every demo's no-argument run with its stdout read by `head -1` (text and `--json`)
/// and with stdout closed: the normal exit code (0), nothing on stderr, no panic.
#[test]
fn head_and_closed_stdout_never_panic() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    for demo in &demos() {
        let name = demo.name;
        for json in [false, true] {
            for stdout in [Stdout::Head(1), Stdout::Closed] {
                let mut run = Run::demo(name).stdout(stdout);
                if json {
                    run = run.arg("--json");
                }
                let label = run.describe();
                cases.push(case(label, move || {
                    let done = run.run();
                    done.assert_code(0);
                    assert!(done.stderr.is_empty(), "{}", done.describe());
                    if stdout == Stdout::Head(1) {
                        let text = done.stdout_text();
                        assert_eq!(text.lines().count(), 1, "{}", done.describe());
                        if json {
                            let first = &done.json_lines()[0];
                            // The chat servers' first JSON line is `listening`; the
                            // scenario demos' is the title, `demo`.
                            assert!(first["event"] == "demo" || first["event"] == "listening", "{first}");
                        } else {
                            assert!(text.contains(name), "the first line names the demo: {text}");
                        }
                    }
                }));
            }
        }
    }
    parallel(WORKERS, cases);
    fds.assert_back("head and closed stdout");
}

/// The chat room's address from the first text line, `listening on IP:PORT`.
fn address_in(line: &str) -> SocketAddr {
    line.strip_prefix("listening on ")
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("the first line should be `listening on IP:PORT`: {line:?}"))
}

/// A client that has joined (received its welcome line).
fn join(name: &str, chat: SocketAddr) -> ChatClient {
    let client = ChatClient::connect(name, chat).unwrap();
    client.wait_lines(1, WAIT).unwrap();
    client
}

/// Two clients chat, the second one's line reaches the first, both leave.
fn chat_works(chat: SocketAddr) {
    let ann = join("ann", chat);
    let mut bob = join("bob", chat);
    bob.say("is anyone there?").unwrap();
    ann.wait_for("bob's line", WAIT, |l| l.ends_with("is anyone there?")).unwrap();
    drop(ann.close());
    drop(bob.close());
}

/// `select|pselect|poll --listen 127.0.0.1:0 | head -1`: the port is read from the first
/// line, the reader goes away, and the server still serves: two clients chat, leave, and
/// the server's fds come back to the count before they came. SIGTERM then ends it as
/// documented (pselect: exit 0; select, poll: the signal's default action).
#[test]
fn listen_servers_keep_serving_after_head_1() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    for demo in demos().iter().filter(|d| d.listens) {
        let (name, on_stop) = (demo.name, demo.on_stop);
        cases.push(case(format!("{name} --listen | head -1"), move || {
            let mut running =
                Run::demo(name).args(["--listen", "127.0.0.1:0"]).stdout(Stdout::Head(1)).spawn();
            let chat = address_in(&running.wait_for_line(WAIT, |_| true));
            running.hang_up_stdout();
            let baseline = running.fds();
            // Each wait, join and line is narrated: every one of them now meets EPIPE.
            chat_works(chat);
            chat_works(chat);
            assert!(running.is_running(), "{name} is still serving");
            let after = running.settle_fds(baseline.len(), WAIT);
            assert_eq!(after, baseline, "{name}: fds back after the clients left");
            assert!(running.signal(Signal::SIGTERM));
            let done = running.wait();
            done.assert_no_panic();
            match on_stop {
                OnStop::Handles => done.assert_code(0),
                OnStop::Dies => assert_eq!(done.exit(), Exit::Signal(Signal::SIGTERM), "{}", done.describe()),
            }
            assert!(done.stderr.is_empty(), "{}", done.describe());
        }));
        cases.push(case(format!("{name} --listen >&-"), move || {
            // No stdout to read the port from: ask the kernel which ports this very
            // process listens on (a port picked beforehand could be taken by another
            // case's server in the meantime). Two: the chat room's and the stats port;
            // the chat room is the one that greets a new client.
            let mut running =
                Run::demo(name).args(["--listen", "127.0.0.1:0", "--json"]).stdout(Stdout::Closed).spawn();
            let until = std::time::Instant::now() + WAIT;
            let ports = loop {
                let ports = running.listening_ports();
                if ports.len() == 2 {
                    break ports;
                }
                assert!(std::time::Instant::now() < until && running.is_running(), "{name} never listened");
                std::thread::sleep(Duration::from_millis(20));
            };
            let chat = ports
                .iter()
                .map(|port| SocketAddr::from(([127, 0, 0, 1], *port)))
                .find(|addr| {
                    ChatClient::connect("probe", *addr)
                        .and_then(|c| c.wait_lines(1, WAIT))
                        .is_ok_and(|lines| lines[0].starts_with("* you are "))
                })
                .unwrap_or_else(|| panic!("{name}: neither of {ports:?} greets a client"));
            chat_works(chat);
            assert!(running.signal(Signal::SIGTERM));
            let done = running.wait();
            done.assert_no_panic();
            assert!(done.stderr.is_empty(), "{}", done.describe());
        }));
    }
    parallel(WORKERS, cases);
    fds.assert_back("listen | head -1");
}

/// `just serve | head -1` (the fixtures' HTTP server): it keeps answering after its
/// first line has been read and the reader has gone.
#[test]
fn serve_keeps_serving_after_head_1() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let _ = test_harness::bins::binary("offline");
    let serve = test_harness::bins::target_profile_dir().join("serve");
    let mut running = Run::program(serve).stdout(Stdout::Head(1)).spawn();
    let first = running.wait_for_line(WAIT, |_| true);
    let base = first
        .strip_prefix("serving on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    running.hang_up_stdout();
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    for _ in 0..3 {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.write_all(b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert!(running.is_running(), "serve is still serving");
    assert!(running.signal(Signal::SIGINT));
    let done = running.wait();
    done.assert_no_panic();
    assert_eq!(done.exit(), Exit::Signal(Signal::SIGINT), "{}", done.describe());
    fds.assert_back("serve | head -1");
}

/// `cargo demo --list | head -1` and `--help | head -1` (the run-demo program).
#[test]
fn run_demo_lists_into_head_1() {
    let _one_at_a_time = serial();
    for arg in ["--list", "--help"] {
        let done = Run::demo("run-demo").arg(arg).stdout(Stdout::Head(1)).run();
        done.assert_code(0);
        assert!(done.stderr.is_empty(), "{}", done.describe());
        assert_eq!(done.stdout_text().lines().count(), 1, "{}", done.describe());
    }
}

/// `demo --help | head -1` for every demo: clap writes the help in one piece and
/// ignores a reader that has gone; exit 0.
#[test]
fn help_into_head_1() {
    let _one_at_a_time = serial();
    let cases: Vec<Case> = demos()
        .iter()
        .map(|demo| {
            let name = demo.name;
            case(format!("{name} --help | head -1"), move || {
                let done = Run::demo(name).arg("--help").stdout(Stdout::Head(1)).run();
                done.assert_code(0);
                assert!(done.stderr.is_empty(), "{}", done.describe());
                assert_eq!(done.stdout_text().lines().count(), 1, "{}", done.describe());
            })
        })
        .collect();
    parallel(WORKERS, cases);
}
