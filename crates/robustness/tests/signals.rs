//! SIGINT and SIGTERM at random moments, and SIGPIPE.
//!
//! What "a clean exit with the right code" means, per demo (robustness::DEMOS):
//! * every demo but pselect installs no handler for SIGINT/SIGTERM: the default action
//!   ends it at once (the shell shows `^C` and status 130/143). Nothing is lost that
//!   matters: the kernel closes every fd, no temp file outlives the signal (each demo
//!   unlinks its files right after opening them), and stdout holds whole lines only;
//! * pselect handles them (that is its lesson): once its signals are blocked (its
//!   first milliseconds), the scripted chat stops with goodbyes and exits 1 with one
//!   line, `error: scripted chat: stopped by SIGINT before the script finished ...`,
//!   and `pselect --listen` tells every client goodbye and exits 0;
//! * `select --listen` and `poll --listen` die by the signal (their `--help` and
//!   narration say "Ctrl-C ends this server on the spot"); their clients see EOF.
//!
//! The moments are random but replayable: the seed is printed, and
//! `AIO_LAB_SEED=N cargo test -p robustness --test signals` replays a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nix::sys::signal::Signal;
use offline::chat_clients::ChatClient;
use robustness::{demos, OnStop};
use std::net::SocketAddr;
use std::time::Duration;
use test_harness::harness::{
    case, parallel, serial, signal_at, signal_at_random, Case, Exit, FdBaseline, Rng, Run, TempDir,
};

const WORKERS: usize = 6;
const WAIT: Duration = Duration::from_secs(5);

/// Checks what every stopped run must show, whatever the moment: no panic, whole
/// lines (and JSON that parses), the exit the demo documents, no temp file left.
fn check_stopped(
    name: &str,
    on_stop: OnStop,
    signal: Signal,
    json: bool,
    outcome: &(Duration, bool, test_harness::harness::Finished),
    tmp: &TempDir,
) {
    let (at, sent, done) = outcome;
    let context = format!("{signal} at {:.3} s (sent: {sent})", at.as_secs_f64());
    done.assert_no_panic();
    done.assert_whole_lines();
    let events = if json { done.json_lines() } else { Vec::new() };
    match (done.exit(), on_stop) {
        (Exit::Signal(got), _) => assert_eq!(got, signal, "{context}: {}", done.describe()),
        (Exit::Code(0), _) => {
            // It finished before the signal landed: a normal, complete run.
            assert!(done.stderr.is_empty(), "{context}: {}", done.describe());
            for e in events.iter().filter(|e| e["event"] == "fds" || e["event"] == "open_fds") {
                assert_eq!(e["before"], e["after"], "{context}: fd events balance: {e}");
            }
        }
        (Exit::Code(1), OnStop::Handles) => {
            let line = test_harness::harness::check_error_line(&done.stderr)
                .unwrap_or_else(|why| panic!("{why}: {}", done.describe()));
            assert_eq!(
                line,
                format!("error: scripted chat: stopped by {signal} before the script finished (every client was told goodbye)"),
                "{context}"
            );
            if json {
                assert!(
                    events.iter().any(|e| e["event"] == "signal" && e["signal"] == signal.as_str()),
                    "{context}: the signal is narrated"
                );
            }
        }
        (other, _) => panic!("{name}: {context}: unexpected exit {other:?}: {}", done.describe()),
    }
    assert_eq!(tmp.entries(), Vec::<String>::new(), "{name}: {context}: files left in its TMPDIR");
}

/// SIGINT and SIGTERM at random moments of each demo's no-argument run, in text and in
/// `--json` mode: two moments each, one anywhere in the run and one in its first
/// 400 ms (where temp files are made and signals blocked): 80 runs.
#[test]
fn sigint_and_sigterm_at_random_moments() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    for demo in &demos() {
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            for json in [false, true] {
                for early in [false, true] {
                    let label = format!(
                        "{} {signal}{}{}",
                        demo.name,
                        if json { " --json" } else { "" },
                        if early { " (early)" } else { "" }
                    );
                    let (name, on_stop) = (demo.name, demo.on_stop);
                    // A little past its usual length, so some runs finish first.
                    let run_ms = demo.run_ms + demo.run_ms / 10;
                    let within = Duration::from_millis(if early { run_ms.min(400) } else { run_ms });
                    cases.push(case(label.clone(), move || {
                        let mut rng = Rng::for_case(&label);
                        let tmp = TempDir::new(name);
                        let mut run = Run::demo(name).tmpdir(tmp.path()).context(label.clone());
                        if json {
                            run = run.arg("--json");
                        }
                        let outcome = signal_at_random(run, signal, within, &mut rng);
                        check_stopped(name, on_stop, signal, json, &outcome, &tmp);
                    }));
                }
            }
        }
    }
    parallel(WORKERS, cases);
    fds.assert_back("signals");
}

/// The moments that once left a file behind (nonblocking-read's 8 MiB scratch file
/// lived by name while it was written, about 60 to 120 ms into the run): a sweep, so
/// that a regression fails every time rather than by chance.
#[test]
fn no_temp_file_outlives_a_signal_early_in_the_run() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    for demo in ["blocking-read", "nonblocking-read"] {
        for ms in (0..200).step_by(10) {
            cases.push(case(format!("{demo} SIGTERM at {ms} ms"), move || {
                let tmp = TempDir::new(demo);
                let run = Run::demo(demo).tmpdir(tmp.path()).arg("--json");
                let outcome = signal_at(run, Signal::SIGTERM, Duration::from_millis(ms));
                check_stopped(demo, OnStop::Dies, Signal::SIGTERM, true, &outcome, &tmp);
            }));
        }
    }
    parallel(WORKERS, cases);
    fds.assert_back("early signals");
}

/// SIGINT at a random moment of the demos' other modes (each a different loop): they
/// die by the signal, or finish first, with whole JSON lines and no panic.
/// `pselect --show-race` keeps SIGINT blocked while it stages its race (about 1.5 s)
/// and exits 0 once it has shown it; `pselect --clients` is the ignored test below.
#[test]
fn other_modes_stop_cleanly_on_sigint() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let modes: [(&str, &[&str], u64); 8] = [
        ("curl-multi", &["--sequential"], 3200),
        ("curl-select", &["--sequential"], 3200),
        ("aio-poll-loop", &["--list"], 1800),
        ("aio-poll-loop", &["--wait", "suspend"], 2900),
        ("aio-callback", &["--signal"], 400),
        ("select", &["--clients", "300"], 200),
        ("poll", &["--clients", "300"], 200),
        ("pselect", &["--show-race"], 1600),
    ];
    let cases: Vec<Case> = modes
        .into_iter()
        .map(|(name, args, run_ms)| {
            let label = format!("{name} {} SIGINT", args.join(" "));
            case(label.clone(), move || {
                let mut rng = Rng::for_case(&label);
                let tmp = TempDir::new(name);
                let run = Run::demo(name).args(args).arg("--json").tmpdir(tmp.path()).context(label.clone());
                let (at, sent, done) =
                    signal_at_random(run, Signal::SIGINT, Duration::from_millis(run_ms), &mut rng);
                let context = format!("{label} at {:.3} s (sent: {sent})", at.as_secs_f64());
                done.assert_no_panic();
                done.json_lines();
                match done.exit() {
                    Exit::Signal(Signal::SIGINT) | Exit::Code(0) => {}
                    other => panic!("{context}: {other:?}: {}", done.describe()),
                }
                assert_eq!(tmp.entries(), Vec::<String>::new(), "{context}: files left behind");
            })
        })
        .collect();
    parallel(WORKERS, cases);
    fds.assert_back("other modes");
}

/// A `--listen` server with its listening line read, ready to be joined.
struct Server {
    running: test_harness::harness::Running,
    chat: SocketAddr,
}

/// Starts `name --listen 127.0.0.1:0 --json` and waits until it is waiting for clients
/// (its first wait call narrated: for pselect, after its signals are blocked).
fn start_server(name: &str) -> Server {
    let running = Run::demo(name).args(["--listen", "127.0.0.1:0", "--json"]).spawn();
    let listening = running.wait_for_line(WAIT, |l| l.contains("\"event\":\"listening\""));
    let event: serde_json::Value = serde_json::from_str(&listening).unwrap();
    let chat = event["chat"].as_str().unwrap().parse().unwrap();
    running.wait_for_line(WAIT, |l| l.contains("\"event\":\"wait\""));
    Server { running, chat }
}

/// A client that has joined (received its welcome line).
fn join(name: &str, chat: SocketAddr) -> ChatClient {
    let client = ChatClient::connect(name, chat).unwrap();
    client.wait_lines(1, WAIT).unwrap();
    client
}

/// SIGINT and SIGTERM to each `--listen` server while two clients are connected and
/// talking, at a random moment. pselect tells both goodbye and exits 0; select and
/// poll die by the signal. Either way both clients see the connection end, and stdout
/// holds whole JSON lines.
#[test]
fn listen_servers_stop_on_sigint_and_sigterm() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    for demo in demos().iter().filter(|d| d.listens) {
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            let (name, on_stop) = (demo.name, demo.on_stop);
            let label = format!("{name} --listen {signal}");
            cases.push(case(label.clone(), move || {
                let mut rng = Rng::for_case(&label);
                let mut server = start_server(name);
                let mut ann = join("ann", server.chat);
                let bob = join("bob", server.chat);
                ann.say("hello bob").unwrap();
                bob.wait_for("ann's line", WAIT, |l| l.contains("hello bob")).unwrap();
                let at = rng.moment(Duration::from_millis(300));
                std::thread::sleep(at);
                assert!(server.running.signal(signal), "{label}: the server was still running");
                let done = server.running.wait();
                let context = format!("{label} at {:.3} s", at.as_secs_f64());
                done.assert_no_panic();
                let events = done.json_lines();
                for client in [&ann, &bob] {
                    let got = client.wait_closed(WAIT).unwrap_or_else(|e| panic!("{context}: {e}"));
                    if on_stop == OnStop::Handles {
                        let bye = format!("* server shutting down ({signal}); bye");
                        assert_eq!(got.last(), Some(&bye), "{context}: {}: {got:?}", client.name);
                    }
                }
                match on_stop {
                    OnStop::Handles => {
                        done.assert_code(0);
                        assert!(done.stderr.is_empty(), "{context}: {}", done.describe());
                        let shutdown =
                            events.iter().find(|e| e["event"] == "shutdown").expect("a shutdown event");
                        assert_eq!(shutdown["told"], 2, "{context}: {shutdown}");
                    }
                    OnStop::Dies => {
                        assert_eq!(done.exit(), Exit::Signal(signal), "{context}: {}", done.describe())
                    }
                }
            }));
        }
    }
    parallel(WORKERS, cases);
    fds.assert_back("listen signals");
}

/// The signal dispositions in /proc/PID/status: bit N-1 of SigIgn is signal N.
fn ignored_signals(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:")).expect("a SigIgn line");
    u64::from_str_radix(mask.trim(), 16).unwrap()
}

/// SIGPIPE never kills a chat server. Rust's runtime sets SIGPIPE to "ignore" before
/// main (the kernel shows it in /proc/PID/status), so a write to a socket whose peer
/// has gone fails with EPIPE or ECONNRESET, which the room handles as a departure.
/// Proved by looking at the disposition, then by doing it: clients that close or reset
/// while another floods the room, so the server writes to dead sockets; it goes on
/// serving, a newcomer chats normally, and its fds return to the count before anyone
/// came (/proc/PID/fd).
#[test]
fn sigpipe_never_kills_a_listen_server() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    for demo in demos().iter().filter(|d| d.listens) {
        let name = demo.name;
        cases.push(case(format!("{name} SIGPIPE"), move || {
            let mut server = start_server(name);
            let sigpipe_bit = 1u64 << (Signal::SIGPIPE as i32 - 1);
            assert_ne!(ignored_signals(server.running.pid()) & sigpipe_bit, 0, "{name}: SIGPIPE is ignored");
            let baseline = server.running.fds();
            let mut talker = join("talker", server.chat);
            let flood = talker.writer().unwrap();
            let flooding = std::thread::spawn(move || {
                use std::io::Write;
                let mut flood = flood;
                for i in 0..400 {
                    if flood.write_all(format!("line {i} for whoever is left\n").as_bytes()).is_err() {
                        break;
                    }
                    if i % 50 == 0 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            });
            for round in 0..10 {
                let leaver = ChatClient::connect(&format!("leaver{round}"), server.chat).unwrap();
                leaver.wait_lines(1, WAIT).unwrap();
                std::thread::sleep(Duration::from_millis(3));
                if round % 2 == 0 {
                    drop(leaver.close());
                } else {
                    drop(leaver.reset().unwrap());
                }
            }
            flooding.join().unwrap();
            assert!(
                server.running.is_running(),
                "{name} died: {:?}",
                server.running.stdout_so_far().lines().last()
            );
            let newcomer = join("newcomer", server.chat);
            talker.say("still here").unwrap();
            newcomer.wait_for("the talker's line", WAIT, |l| l.ends_with("still here")).unwrap();
            drop(talker.close());
            drop(newcomer.close());
            let after = server.running.settle_fds(baseline.len(), WAIT);
            assert_eq!(after, baseline, "{name}: fds back to the count before any client");
            assert!(server.running.signal(Signal::SIGTERM));
            let done = server.running.wait();
            done.assert_no_panic();
            done.json_lines();
        }));
    }
    parallel(WORKERS, cases);
    fds.assert_back("sigpipe");
}

/// `pselect --clients N` stopped by SIGINT once it is serving: like the scripted chat,
/// the one error line should name the signal ("stopped by SIGINT ..."), not whatever a
/// client of the crowd complained of when the shutdown closed its connection.
#[test]
fn pselect_crowd_stopped_by_sigint_names_the_signal() {
    let _one_at_a_time = serial();
    for _ in 0..3 {
        // 1000 clients take long enough (a few hundred ms) that the signal lands while
        // they are still being served; 300 could all be done before it arrives.
        let mut running = Run::demo("pselect").args(["--clients", "1000", "--json"]).spawn();
        running.wait_for_line(WAIT, |l| l.contains("\"event\":\"wait\""));
        assert!(running.signal(Signal::SIGINT));
        let done = running.wait();
        done.assert_no_panic();
        done.json_lines();
        let line = test_harness::harness::check_error_line(&done.stderr)
            .unwrap_or_else(|why| panic!("{why}: {}", done.describe()));
        assert!(line.contains("stopped by SIGINT"), "the error names the signal: {}", done.describe());
        done.assert_code(1);
    }
}
