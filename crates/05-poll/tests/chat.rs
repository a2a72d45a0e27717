//! The poll chat server, run as a real binary against real TCP clients.

use test_harness::chat_checks as checks;
use test_harness::demo::run_json;

const BIN: &str = env!("CARGO_BIN_EXE_poll");
const CALL: &str = "poll";

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

/// No FD_SETSIZE wall: 2000 clients (fds far past 1023) are all served.
#[test]
fn two_thousand_clients_are_all_served() {
    let out = run_json(BIN, &["--clients", "2000"]);
    let stderr = &out.stderr;
    assert_eq!(out.code, 0, "stderr: {stderr}");
    let events = &out.events;
    let done = events.iter().find(|e| e["event"] == "crowd_done").unwrap();
    assert_eq!(done["served"], 2000, "{done}");
    assert_eq!(done["refused"], 0, "{done}");
    assert_eq!(done["got_message"], 1999, "{done}");
    assert!(done["highest_fd"].as_i64().unwrap() > 1024, "{done}");
}

/// What netkit telnet sends (option negotiation and a window size on connect; IAC IP
/// and IAC DO TIMING-MARK on Ctrl-C, here split across two writes) never reaches
/// another client: only the text does, and each negotiation is narrated.
#[test]
fn telnet_negotiation_never_reaches_another_client() {
    use offline::chat_clients::{ChatClient, ServerProcess};
    const WAIT: std::time::Duration = std::time::Duration::from_secs(5);
    let server = ServerProcess::start(BIN, &[]).unwrap();
    let mut telnet = ChatClient::connect("telnet", server.chat).unwrap();
    telnet.wait_lines(1, WAIT).unwrap();
    let other = ChatClient::connect("other", server.chat).unwrap();
    other.wait_lines(1, WAIT).unwrap();
    telnet.wait_for("the join", WAIT, |l| l == "* guest2 joined").unwrap();
    telnet.send(b"\xff\xfb\x1f\xff\xfb\x18\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0hello\r\n").unwrap();
    telnet.send(b"\xff\xf4\xff").unwrap();
    telnet.send(b"\xfd\x06after ctrl-c\r\n").unwrap();
    let got = other.wait_for("after ctrl-c", WAIT, |l| l == "<guest1> after ctrl-c").unwrap();
    assert_eq!(got[1..], ["<guest1> hello", "<guest1> after ctrl-c"]);
    assert_eq!(telnet.received(), ["* you are guest1; commands: /nick NAME, /who, /quit", "* guest2 joined"]);
    drop((telnet, other));
    let out = server.stop().unwrap();
    let removed: u64 = out
        .stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "telnet")
        .map(|e| e["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(removed, 15 + 5, "telnet bytes narrated as removed");
}

/// A line over 512 bytes: the others get its first 512, and only its sender is told.
#[test]
fn the_sender_of_an_overlong_line_is_told_it_was_cut() {
    use offline::chat_clients::{ChatClient, ServerProcess};
    const WAIT: std::time::Duration = std::time::Duration::from_secs(5);
    let server = ServerProcess::start(BIN, &[]).unwrap();
    let mut sender = ChatClient::connect("sender", server.chat).unwrap();
    sender.wait_lines(1, WAIT).unwrap();
    let receiver = ChatClient::connect("receiver", server.chat).unwrap();
    receiver.wait_lines(1, WAIT).unwrap();
    let mut long = vec![b'x'; 600];
    long.extend_from_slice(b"\nshort\n");
    sender.send(&long).unwrap();
    let got = receiver.wait_for("short", WAIT, |l| l == "<guest1> short").unwrap();
    assert_eq!(got[1..], [format!("<guest1> {}", "x".repeat(512)), "<guest1> short".to_string()]);
    let notice = "* your line was too long and was cut at 512 bytes: the others got its first 512";
    let told = sender.wait_for("the notice", WAIT, |l| l == notice).unwrap();
    assert_eq!(told[1..], ["* guest2 joined", notice]);
    drop((sender, receiver));
    server.stop().unwrap();
}
