//! The epoll chat server, run as a real binary against real TCP clients: the same
//! checks as every chat server (test_harness' `chat_checks`), then what only epoll has.

use offline::chat_clients::{ChatClient, ServerProcess};
use std::time::Duration;
use test_harness::chat_checks as checks;
use test_harness::demo::run_json;

const BIN: &str = env!("CARGO_BIN_EXE_epoll");
const CALL: &str = "epoll_wait";
const WAIT: Duration = Duration::from_secs(5);

#[test]
fn scripted_chat_delivers_exactly_the_script() {
    checks::scripted_chat(BIN, CALL);
}

#[test]
fn abrupt_disconnects_half_line_and_reset() {
    checks::abrupt_disconnects(BIN).unwrap();
}

#[test]
fn a_client_that_never_reads_is_dropped_and_others_keep_receiving() {
    checks::slow_reader_dropped(BIN).unwrap();
}

#[test]
fn garbage_invalid_utf8_and_overlong_lines_are_cleaned() {
    checks::garbage_is_cleaned(BIN).unwrap();
}

#[test]
fn open_fds_return_to_baseline_after_everyone_leaves() {
    checks::fds_return_to_baseline(BIN).unwrap();
}

#[test]
fn listen_on_a_port_in_use_is_one_error_line_and_exit_1() {
    checks::port_in_use(BIN).unwrap();
}

#[test]
fn telnet_negotiation_never_reaches_another_client() {
    checks::telnet_negotiation_is_removed(BIN).unwrap();
}

#[test]
fn the_sender_of_an_overlong_line_is_told_it_was_cut() {
    checks::overlong_line_sender_is_told(BIN).unwrap();
}

/// Edge-triggered, the scripted chat still delivers exactly the script, and every
/// client read is a drain that ends in EAGAIN or a departure.
#[test]
fn edge_triggered_scripted_chat_drains_every_read() {
    let run = run_json(BIN, &["--edge"]);
    run.assert_clean_success();
    assert_eq!(run.one("scenario_check")["ok"], true);
    let drained = run.all("drained");
    assert!(!drained.is_empty());
    assert!(drained.iter().all(|e| e["until"] == "EAGAIN" || e["until"] == "left"), "{drained:?}");
    let adds: Vec<_> = run
        .all("interest")
        .into_iter()
        .filter(|e| e["op"] == "EPOLL_CTL_ADD" && e["owner"] != "signalfd")
        .collect();
    assert!(adds.len() >= 6, "listeners and clients: {adds:?}");
    assert!(adds.iter().all(|e| e["events"].as_array().unwrap().contains(&"EPOLLET".into())), "{adds:?}");
}

/// Each fd is added once; MOD happens only on a change; DEL comes just before each
/// client's close, never after.
#[test]
fn interest_list_add_once_mod_on_change_del_before_close() {
    let run = run_json(BIN, &[]);
    run.assert_clean_success();
    let mut added = std::collections::BTreeMap::new();
    let mut last_op: std::collections::BTreeMap<i64, String> = Default::default();
    for e in &run.events {
        let fd = e["fd"].as_i64().unwrap_or(-1);
        match e["event"].as_str() {
            Some("interest") => {
                let op = e["op"].as_str().unwrap().to_string();
                if op == "EPOLL_CTL_ADD" {
                    *added.entry(fd).or_insert(0) += 1;
                }
                last_op.insert(fd, op);
            }
            Some("left") => {
                assert_eq!(
                    last_op.get(&fd).map(String::as_str),
                    Some("EPOLL_CTL_DEL"),
                    "fd {fd}: DEL before close"
                );
                added.remove(&fd); // its number may come back for a new client
            }
            _ => {}
        }
    }
    assert!(added.values().all(|&n| n == 1), "each fd added once: {added:?}");
}

/// The classic edge-triggered bug, shown: 1904 bytes stranded, then the fix.
#[test]
fn show_et_bug_strands_input_then_the_fix_drains_it() {
    let run = run_json(BIN, &["--show-et-bug"]);
    run.assert_clean_success();
    let check = run.one("et_bug_check");
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["stranded"], 1904);
    assert_eq!(check["fix_reads"], serde_json::json!([4096, 1904]));
    let waits: Vec<u64> = run.all("et_wait").iter().map(|e| e["returned"].as_u64().unwrap()).collect();
    assert_eq!(waits, [1, 0, 1, 1, 0]);
}

/// SIGTERM arrives through the signalfd: every client is told goodbye, exit 0.
#[test]
fn sigterm_through_signalfd_says_goodbye_and_exits_0() {
    let server = ServerProcess::start(BIN, &[]).unwrap();
    let ann = ChatClient::connect("ann", server.chat).unwrap();
    ann.wait_lines(1, WAIT).unwrap();
    server.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    let got = ann.wait_closed(WAIT).unwrap();
    assert_eq!(got.last().map(String::as_str), Some("* server shutting down (SIGTERM); bye"));
    let out = server.wait(WAIT).unwrap();
    assert!(out.status.success(), "{:?} {}", out.status, out.stderr);
    assert!(out.stdout.iter().any(|l| l.contains("\"event\":\"signal\"") && l.contains("signalfd")));
}

/// Ten thousand clients on one thread, every one served and given the broadcast line.
#[test]
fn ten_thousand_clients_are_all_served() {
    let out = run_json(BIN, &["--clients", "10000"]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    let done = out.events.iter().find(|e| e["event"] == "crowd_done").unwrap();
    assert_eq!(done["served"], 10000, "{done}");
    assert_eq!(done["got_message"], 9999, "{done}");
}

/// A hard limit too low for the crowd: one clear error line, exit 1.
#[test]
fn too_low_a_hard_fd_limit_is_a_clear_error() {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("ulimit -Sn 400 && ulimit -Hn 500 && exec {BIN} --clients 1000")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: --clients 1000: ") && stderr.contains("hard limit here is 500"),
        "{stderr}"
    );
}

/// Many talkers at once, edge-triggered: every line reaches every other client. (A
/// queue written out on one EPOLLOUT edge and refilled in the same turn gets no new
/// edge: the socket never stopped being writable. Without the re-arm, lines stall.)
#[test]
fn edge_triggered_under_load_delivers_every_line() {
    use offline::chat_clients::ManyClients;
    let (clients, lines) = (60, 30);
    let server = ServerProcess::start_unrecorded(BIN, &["--edge"]).unwrap();
    let mut crowd = ManyClients::new();
    crowd.connect(server.chat, clients).unwrap();
    for j in 0..lines {
        for i in 0..clients {
            crowd.say(i, &format!("m{i}-{j}")).unwrap();
        }
    }
    let want = (clients - 1) * lines;
    let relayed = |c: &ManyClients, i: usize| c.lines(i).iter().filter(|l| l.starts_with('<')).count();
    let done = crowd
        .pump_until(Duration::from_secs(20), "every line", |c| (0..clients).all(|i| relayed(c, i) >= want));
    let short: Vec<usize> = (0..clients).filter(|&i| relayed(&crowd, i) < want).collect();
    let first = short.first().map_or(0, |&i| relayed(&crowd, i));
    assert!(
        done.is_ok(),
        "{} clients short of {want} lines, e.g. {:?} with {first}",
        short.len(),
        short.first()
    );
    for i in 0..clients {
        let mut next = vec![0usize; clients];
        for l in crowd.lines(i).iter().filter(|l| l.starts_with('<')) {
            let (s, j) = l.split_once("> m").unwrap().1.split_once('-').unwrap();
            let (s, j): (usize, usize) = (s.parse().unwrap(), j.parse().unwrap());
            assert_eq!(j, next[s], "client {i}: line {j} from {s} out of order");
            next[s] += 1;
        }
    }
    drop(crowd);
    server.stop().unwrap();
}

/// Ctrl-C during `--clients`: the terminal signals the whole process group, the crowd's
/// process too. One error line naming the signal, exit 1, no word from the clients.
#[test]
fn ctrl_c_during_the_crowd_is_one_line_naming_the_signal() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new(BIN)
        .args(["--clients", "10000", "--json"])
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // The first client's join: the crowd's process is running.
    while !line.contains("\"event\":\"accepted\"") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no accepted event");
    }
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGINT).unwrap();
    std::io::copy(&mut stdout, &mut std::io::sink()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr, "error: crowd: stopped by SIGINT before the crowd finished\n");
}
