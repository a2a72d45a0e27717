//! The chat servers against hostile and broken clients, run as real binaries with
//! `--listen`: a reader that never reads, a flood with no newline, terminal escape
//! sequences, and a client that resets mid-line. Each case runs on select, pselect and
//! poll, and checks the bytes other clients receive, exactly.
//!
//! The demos' own tests (`test_harness::chat_checks`) cover the simple forms of
//! these; the cases here push further: others must keep receiving *while* a client is
//! stuck, a flood of a megabyte must come out as one 512-byte line, every byte a
//! receiver gets is checked for control characters, and a reset leaves the room, the
//! server's fds and its narration exactly as if the client had only said goodbye.

#![allow(clippy::unwrap_used)] // test code: a failed step is a failed test

use offline::chat_clients::{ask_stats, stat, ChatClient, ServerProcess};
use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use test_harness::bins::binary;

const WAIT: Duration = Duration::from_secs(5);

fn start(name: &str) -> ServerProcess {
    ServerProcess::start(binary(name).to_str().unwrap(), &[]).unwrap()
}

/// A client that joins and waits for its welcome.
fn join(server: &ServerProcess, name: &str) -> ChatClient {
    let client = ChatClient::connect(name, server.chat).unwrap();
    client.wait_lines(1, WAIT).unwrap();
    client
}

// ---------------------------------------------------------------------------------
// A reader that never reads
// ---------------------------------------------------------------------------------

/// A client that never reads (tiny receive buffer) sits in the room while another
/// talks. Every batch of lines must reach a live listener within a few seconds, also
/// during the time the never-reader is provably stuck (its unread bytes no longer
/// grow); then the never-reader is disconnected, with a notice, and what it was sent
/// is an exact prefix of the talk (no line garbled or out of order), then EOF.
fn a_reader_that_never_reads(name: &str) {
    let server = start(name);
    let mut talker = join(&server, "talker");
    let mut sloth = ChatClient::connect_never_reading("sloth", server.chat).unwrap();
    talker.wait_count(2, WAIT).unwrap(); // * guest2 joined
    let listener = join(&server, "listener");
    talker.wait_count(3, WAIT).unwrap(); // * guest3 joined
    let filler = "x".repeat(400);
    let line_of = |seq: usize| format!("{seq:06} {filler}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut sent, mut seen, mut last_unread) = (0usize, 1usize, 0usize);
    let (mut batches_while_stuck, mut stuck_at) = (0usize, 0usize);
    loop {
        for _ in 0..50 {
            talker.say(&line_of(sent)).unwrap();
            sent += 1;
        }
        // Nobody stalls: each batch reaches the listener promptly.
        let batch_sent = Instant::now();
        listener.wait_count(1 + sent, WAIT).unwrap_or_else(|e| panic!("{name}: the listener stalled: {e}"));
        let fresh = listener.lines_from(seen);
        seen += fresh.len();
        if fresh.iter().any(|l| l == "* guest2 was disconnected (not reading)") {
            break;
        }
        // Stuck: bytes are waiting in its socket, and no more arrive.
        let unread = sloth.unread_bytes().unwrap();
        if unread > 0 && unread == last_unread {
            batches_while_stuck += 1;
            stuck_at = unread;
        }
        last_unread = unread;
        assert!(batch_sent.elapsed() < WAIT);
        assert!(Instant::now() < deadline, "{name}: never-reader not dropped after {sent} lines");
    }
    assert!(
        batches_while_stuck >= 2,
        "{name}: the listener should have kept receiving while guest2 was stuck; batches then: {batches_while_stuck}"
    );
    // Everything the listener got: every line once, in order, and the notice (which
    // counted as one of the lines waited for above: wait for the last talk line too).
    listener.wait_count(2 + sent, WAIT).unwrap();
    let got = listener.lines_from(1);
    let relayed: Vec<&String> = got.iter().filter(|l| l.starts_with("<guest1> ")).collect();
    assert_eq!(relayed.len(), sent, "{name}: listener got {} of {sent} lines", relayed.len());
    for (seq, line) in relayed.iter().enumerate() {
        assert_eq!(**line, format!("<guest1> {}", line_of(seq)), "{name}: listener, line {seq}");
    }
    // What the never-reader was sent before the server closed its end.
    let bytes = sloth.read_to_close(WAIT).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let mut lines: Vec<&str> = text.split('\n').collect();
    // It ends with a newline, or in a line cut where the kernel's buffer ended (when even
    // the parting words found no room): a prefix, checked with the last lines below.
    if lines.last() == Some(&"") {
        lines.pop();
    }
    assert_eq!(lines[..2], ["* you are guest2; commands: /nick NAME, /who, /quit", "* guest3 joined"]);
    let rest = &lines[2..];
    // Complete talk lines in order; the last one may be cut where the kernel's buffer
    // ended, and the parting words, written best-effort, may be there (cut or whole).
    let notice = "* disconnected: you stopped reading";
    let mut talk = 0;
    for (at, line) in rest.iter().enumerate() {
        let last_two = at + 2 >= rest.len();
        let want = format!("<guest1> {}", line_of(talk));
        if *line == want {
            talk += 1;
        } else if last_two && (want.starts_with(line) || notice.starts_with(line)) {
        } else {
            panic!("{name}: never-reader's line {} is {line:?}, expected {want:?}", at + 2);
        }
    }
    assert!(talk < sent, "{name}: the never-reader got every line, so it was not stuck");
    eprintln!(
        "{name}: never-reader stuck with {stuck_at} bytes unread while the listener got {batches_while_stuck} batches of 50; \
         dropped after {sent} lines, having been sent {talk}"
    );
    talker.say("after").unwrap();
    listener.wait_for("after", WAIT, |l| l == "<guest1> after").unwrap();
    let stats = ask_stats(server.stats).unwrap();
    assert_eq!((stat(&stats, "clients"), stat(&stats, "slow_dropped")), (Some(2), Some(1)), "{stats}");
    drop((talker, listener));
    let out = server.stop().unwrap();
    // It fell behind (the room held input for it, at most a second each time) before
    // it was dropped as stalled.
    let held =
        out.stdout.iter().any(|l| l.contains("\"event\":\"held\"") && l.contains("\"nick\":\"guest2\""));
    assert!(held, "{name}: no held event for guest2");
}

#[test]
fn a_reader_that_never_reads_is_dropped_while_others_keep_receiving() {
    // Every chat server in demos.toml, one after another.
    for server in robustness::chat_servers() {
        a_reader_that_never_reads(server);
    }
}

// ---------------------------------------------------------------------------------
// A flood without newlines
// ---------------------------------------------------------------------------------

/// The flood's bytes: `abc...z` repeated, so a cut at the wrong place shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A megabyte with no newline is relayed once, as its first 512 bytes exactly; the
/// rest is dropped, not stored (the server's memory barely moves); the next line
/// after the flood's newline is relayed normally.
fn a_flood_without_newlines(name: &str) {
    let server = start(name);
    let mut flooder = join(&server, "flooder");
    let receiver = join(&server, "receiver");
    let rss_before = server.rss_kib().unwrap();
    let flood = pattern(1 << 20);
    flooder.send(&flood).unwrap();
    flooder.send(b"\nafter the flood\n").unwrap();
    let got = receiver.wait_for("after the flood", WAIT, |l| l == "<guest1> after the flood").unwrap();
    let cut = format!("<guest1> {}", String::from_utf8(flood[..512].to_vec()).unwrap());
    assert_eq!(got[1..], [cut, "<guest1> after the flood".to_string()], "{name}");
    let rss_after = server.rss_kib().unwrap();
    assert!(
        rss_after < rss_before + 8 * 1024,
        "{name}: VmRSS went from {rss_before} to {rss_after} KiB during a 1 MiB flood"
    );
    drop((flooder, receiver));
    let out = server.stop().unwrap();
    let cuts: Vec<&String> = out.stdout.iter().filter(|l| l.contains("\"event\":\"line_cut\"")).collect();
    assert_eq!(cuts.len(), 1, "{name}: one line_cut event: {cuts:?}");
    assert!(cuts[0].contains("\"kept\":512"), "{name}: {}", cuts[0]);
}

#[test]
fn a_flood_without_newlines_is_cut_at_512_bytes() {
    // Every chat server in demos.toml, one after another.
    for server in robustness::chat_servers() {
        a_flood_without_newlines(server);
    }
}

// ---------------------------------------------------------------------------------
// Terminal escapes
// ---------------------------------------------------------------------------------

/// What a hostile client sends, and what others must see (None: nothing at all).
const ESCAPES: &[(&[u8], Option<&str>)] = &[
    (b"\x1b[2J\x1b[H\x1b[31mred\x1b[0m\n", Some("<guest1> red")), // clear screen, home, colour
    (b"\x1b]0;owned\x07title\n", Some("<guest1> title")),         // window title, BEL-terminated
    (b"\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\\n", Some("<guest1> link")), // hyperlink, ST
    (b"\x1bP1$r0m\x1b\\dcs\n", Some("<guest1> 1$r0mdcs")),        // DCS: the ESCs go, the harmless text stays
    ("\u{9b}31mc1 csi\n".as_bytes(), Some("<guest1> 31mc1 csi")), // C1 CSI, as UTF-8
    (b"\x9b31mraw c1\n", Some("<guest1> \u{fffd}31mraw c1")),     // C1 CSI as a raw byte: not UTF-8
    (b"over\rwrite\n", Some("<guest1> overwrite")),               // CR: would overwrite the line
    (b"back\x08\x08\x08\x08space\n", Some("<guest1> backspace")),
    (b"bell\x07 nul\x00 del\x7f vt\x0b ff\x0c esc\x1b\n", Some("<guest1> bell nul del vt ff esc")),
    (b"tab\there\r\n", Some("<guest1> tab here")),
    (b"\x1b[6n\x1b\n", None), // a cursor-position query, and nothing else: not relayed
    (b"/nick \x1b[31mred\n", Some("* guest1 is now red")), // no escapes in nicknames either
    (b"sentinel\n", Some("<red> sentinel")),
];

/// Every escape sequence and control character is removed before relaying: the
/// receiver's raw bytes are valid UTF-8 with no byte below 0x20 but `\n`, no DEL and
/// no C1 control, and each line is exactly the cleaned text.
fn escapes_never_relayed(name: &str) {
    let server = start(name);
    let mut sender = join(&server, "sender");
    let mut receiver = TcpStream::connect(server.chat).unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    sender.wait_count(2, WAIT).unwrap(); // * guest2 joined
    for (bytes, _) in ESCAPES {
        sender.send(bytes).unwrap();
    }
    // Raw bytes, not a ChatClient: its lines are decoded lossily, which would hide a
    // stray byte that is not UTF-8.
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + WAIT;
    while !raw.ends_with(b"<red> sentinel\n") {
        assert!(Instant::now() < deadline, "{name}: no sentinel; got {:?}", String::from_utf8_lossy(&raw));
        let n = receiver.read(&mut buf).unwrap();
        assert!(n > 0, "{name}: closed early");
        raw.extend_from_slice(&buf[..n]);
    }
    let bad: Vec<(usize, u8)> = raw
        .iter()
        .enumerate()
        .filter(|&(_, &b)| (b < 0x20 && b != b'\n') || b == 0x7f)
        .map(|(i, &b)| (i, b))
        .collect();
    assert!(bad.is_empty(), "{name}: control bytes relayed at {bad:?}: {:?}", String::from_utf8_lossy(&raw));
    let text = String::from_utf8(raw).unwrap_or_else(|e| panic!("{name}: not UTF-8: {e}"));
    assert!(
        !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
        "{name}: a C1 control relayed: {text:?}"
    );
    let got: Vec<&str> = text.lines().collect();
    let mut want = vec!["* you are guest2; commands: /nick NAME, /who, /quit"];
    want.extend(ESCAPES.iter().filter_map(|(_, w)| *w));
    assert_eq!(got, want, "{name}");
    drop((sender, receiver));
    server.stop().unwrap();
}

#[test]
fn terminal_escapes_are_never_relayed() {
    // Every chat server in demos.toml, one after another.
    for server in robustness::chat_servers() {
        escapes_never_relayed(server);
    }
}

// ---------------------------------------------------------------------------------
// A reset mid-line
// ---------------------------------------------------------------------------------

/// Two clients reset (SO_LINGER 0) mid-line: one that reads, after a complete line
/// and then half a line; one that never reads, with output queued for it at the
/// server. Others see each one's complete lines and one leave notice, nothing of the
/// half lines, and nothing else; the server's fds return to where they were, and its
/// narration never relays the half lines.
fn a_reset_mid_line(name: &str) {
    let server = start(name);
    let mut watcher = join(&server, "watcher");
    let baseline = stat(&ask_stats(server.stats).unwrap(), "open_fds").unwrap();
    let mut rude = join(&server, "rude");
    watcher.wait_count(2, WAIT).unwrap(); // * guest2 joined
    rude.say("a complete line").unwrap();
    watcher.wait_count(3, WAIT).unwrap();
    rude.send(b"HALF-LINE-ONE never finish").unwrap();
    std::thread::sleep(Duration::from_millis(50)); // let the server read the half line
    rude.reset().unwrap();
    watcher.wait_count(4, WAIT).unwrap(); // * guest2 left

    let mut deaf = ChatClient::connect_never_reading("deaf", server.chat).unwrap();
    watcher.wait_count(5, WAIT).unwrap(); // * guest3 joined
    for i in 0..200 {
        watcher.say(&format!("queued for the deaf one {i}")).unwrap();
    }
    deaf.send(b"HALF-LINE-TWO never").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    deaf.reset().unwrap();
    watcher.wait_count(6, WAIT).unwrap(); // * guest3 left
    watcher.say("/who").unwrap();
    let got = watcher.wait_for("/who", WAIT, |l| l.starts_with("* online")).unwrap();
    assert_eq!(
        got,
        [
            "* you are guest1; commands: /nick NAME, /who, /quit",
            "* guest2 joined",
            "<guest2> a complete line",
            "* guest2 left",
            "* guest3 joined",
            "* guest3 left",
            "* online (1): guest1",
        ],
        "{name}"
    );
    let deadline = Instant::now() + WAIT;
    let stats = loop {
        let line = ask_stats(server.stats).unwrap();
        if stat(&line, "clients") == Some(1) || Instant::now() > deadline {
            break line;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(stat(&stats, "open_fds"), Some(baseline), "{name}: fds: {stats}");
    drop(watcher);
    let out = server.stop().unwrap();
    let half: Vec<&String> =
        out.stdout.iter().filter(|l| l.contains("HALF-LINE") && !l.contains("\"event\":\"read\"")).collect();
    assert!(half.is_empty(), "{name}: a half line went further than read(): {half:?}");
    let left: Vec<&String> = out.stdout.iter().filter(|l| l.contains("\"event\":\"left\"")).collect();
    let by = |nick: &str| left.iter().filter(|l| l.contains(&format!("\"nick\":\"{nick}\""))).count();
    assert_eq!((by("guest2"), by("guest3")), (1, 1), "{name}: one left event each: {left:?}");
}

#[test]
fn a_reset_mid_line_leaves_only_its_leave_notice() {
    // Every chat server in demos.toml, one after another.
    for server in robustness::chat_servers() {
        a_reset_mid_line(server);
    }
}
