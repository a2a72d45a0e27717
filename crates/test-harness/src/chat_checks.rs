//! The peers every chat demo's tests throw at it, each against a fresh
//! [`ServerProcess`]. Each returns Ok, or an error saying what went wrong.

#[allow(unused_imports)]
use common::{Context, Error, Result};
use offline::chat_clients::*;
#[allow(unused_imports)]
use std::io::{BufRead, BufReader, Read, Write};
#[allow(unused_imports)]
use std::net::{Shutdown, SocketAddr, TcpStream};
#[allow(unused_imports)]
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(5);

fn expect(what: &str, ok: bool, detail: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::msg(what, detail()))
    }
}

/// Half a line and a FIN; then a reset (SO_LINGER 0) after half a line. Each time
/// the others see `* guestN left` and the server keeps serving.
pub fn abrupt_disconnects(bin: &str) -> Result<()> {
    let server = ServerProcess::start(bin, &[])?;
    let mut watcher = ChatClient::connect("watcher", server.chat)?;
    watcher.wait_lines(1, WAIT)?;
    let mut half = ChatClient::connect("half", server.chat)?;
    half.wait_lines(1, WAIT)?;
    half.send(b"half a li")?;
    std::thread::sleep(Duration::from_millis(50));
    half.close();
    watcher.wait_for("guest2 left", WAIT, |l| l == "* guest2 left")?;
    let mut rude = ChatClient::connect("rude", server.chat)?;
    rude.wait_lines(1, WAIT)?;
    rude.send(b"also half")?;
    std::thread::sleep(Duration::from_millis(50));
    rude.reset()?;
    watcher.wait_for("guest3 left", WAIT, |l| l == "* guest3 left")?;
    watcher.say("/who")?;
    let got = watcher.wait_for("who", WAIT, |l| l.starts_with("* online"))?;
    let want = [
        "* you are guest1; commands: /nick NAME, /who, /quit",
        "* guest2 joined",
        "* guest2 left",
        "* guest3 joined",
        "* guest3 left",
        "* online (1): guest1",
    ];
    expect("abrupt disconnects", got == want, || format!("watcher got {got:?}"))?;
    drop(watcher);
    let out = server.stop()?;
    let left: Vec<&String> = out.stdout.iter().filter(|l| l.contains("\"event\":\"left\"")).collect();
    let reset_seen = left.iter().any(|l| l.contains("ECONNRESET"));
    let partial_seen = out.stdout.iter().any(|l| l.contains("\"event\":\"partial_dropped\""));
    expect("abrupt disconnects", reset_seen && partial_seen, || {
        format!("expected a left event with ECONNRESET and a partial_dropped event; got {left:?}")
    })
}

/// One client never reads while another talks a lot: the non-reader is dropped
/// with a notice; a third client receives every line, in order, and the notice.
pub fn slow_reader_dropped(bin: &str) -> Result<()> {
    let server = ServerProcess::start(bin, &[])?;
    let mut talker = ChatClient::connect("talker", server.chat)?;
    talker.wait_lines(1, WAIT)?;
    let sloth = ChatClient::connect_never_reading("sloth", server.chat)?;
    talker.wait_lines(2, WAIT)?; // "* guest2 joined"
    let listener = ChatClient::connect("listener", server.chat)?;
    listener.wait_lines(1, WAIT)?;
    let filler = "x".repeat(400);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sent = 0usize;
    // Only the lines that arrived since the last look are examined: copying the
    // whole transcript on every batch would make this loop quadratic.
    let mut seen = 0;
    loop {
        let fresh = listener.lines_from(seen);
        seen += fresh.len();
        if fresh.iter().any(|l| l.starts_with("* guest2 was disconnected")) {
            break;
        }
        if Instant::now() > deadline {
            return Err(Error::msg("slow reader", format!("not dropped after {sent} lines")));
        }
        for _ in 0..50 {
            talker.say(&format!("{sent:06} {filler}"))?;
            sent += 1;
        }
        // Let the listener keep up, as a live reader does.
        listener.wait_count(1 + sent, WAIT)?;
    }
    talker.say("after")?;
    let got = listener.wait_for("after", WAIT, |l| l == "<guest1> after")?;
    let relayed: Vec<&String> = got.iter().filter(|l| l.starts_with("<guest1> 0")).collect();
    let in_order = relayed.iter().enumerate().all(|(i, l)| l.starts_with(&format!("<guest1> {i:06} ")));
    expect("slow reader", relayed.len() == sent && in_order, || {
        format!("listener got {} of {sent} lines (in order: {in_order})", relayed.len())
    })?;
    drop(sloth);
    drop((talker, listener));
    let out = server.stop()?;
    let dropped =
        out.stdout.iter().any(|l| l.contains("\"event\":\"left\"") && l.contains("stopped reading"));
    expect("slow reader", dropped, || "no left event saying it stopped reading".into())
}

/// Garbage bytes, invalid UTF-8, a terminal escape and an overlong line: relayed
/// cleaned and cut, and the server carries on.
pub fn garbage_is_cleaned(bin: &str) -> Result<()> {
    let server = ServerProcess::start(bin, &[])?;
    let mut sender = ChatClient::connect("sender", server.chat)?;
    sender.wait_lines(1, WAIT)?;
    let receiver = ChatClient::connect("receiver", server.chat)?;
    receiver.wait_lines(1, WAIT)?;
    sender.send(b"\xff\xfebad \x00\x01bytes\x1b[31m red\x1b]0;title\x07\n")?;
    let mut long = vec![b'a'; 2000];
    long.push(b'\n');
    sender.send(&long)?;
    sender.send(b"\x01\x02\x1b[2J\n")?; // nothing left after cleaning: not relayed
    sender.say("after")?;
    let got = receiver.wait_for("after", WAIT, |l| l == "<guest1> after")?;
    let want = vec![
        "* you are guest2; commands: /nick NAME, /who, /quit".to_string(),
        "<guest1> \u{fffd}\u{fffd}bad bytes red".to_string(),
        format!("<guest1> {}", "a".repeat(512)),
        "<guest1> after".to_string(),
    ];
    expect("garbage", got == want, || format!("receiver got {got:?}"))?;
    drop((sender, receiver));
    let out = server.stop()?;
    let cut =
        out.stdout.iter().any(|l| l.contains("\"event\":\"line_cut\"") && l.contains("\"dropped\":1488"));
    expect("garbage", cut, || "no line_cut event with dropped 1488".into())
}

/// Open fds (from the stats port) are back to where they started once everyone
/// has left, including clients that vanished rudely.
pub fn fds_return_to_baseline(bin: &str) -> Result<()> {
    let server = ServerProcess::start(bin, &[])?;
    let before = ask_stats(server.stats)?;
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut client = ChatClient::connect(&format!("c{i}"), server.chat)?;
        client.wait_lines(1, WAIT)?;
        client.say(&format!("hi from {i}"))?;
        clients.push(client);
    }
    for (i, client) in clients.into_iter().enumerate() {
        match i % 3 {
            0 => drop(client.close()),
            1 => drop(client.reset()?),
            _ => {
                let mut client = client;
                client.say("/quit")?;
                client.wait_closed(WAIT)?;
            }
        }
    }
    let deadline = Instant::now() + WAIT;
    let after = loop {
        let line = ask_stats(server.stats)?;
        if stat(&line, "clients") == Some(0) || Instant::now() > deadline {
            break line;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    server.stop()?;
    expect(
        "fd baseline",
        stat(&before, "open_fds").is_some() && stat(&before, "open_fds") == stat(&after, "open_fds"),
        || format!("before: {before}\nafter: {after}"),
    )
}

/// `--listen` on a port someone else holds: one error line naming EADDRINUSE, exit 1.
pub fn port_in_use(bin: &str) -> Result<()> {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").context("bind")?;
    let addr = holder.local_addr().context("getsockname")?;
    let out = std::process::Command::new(bin)
        .args(["--listen", &addr.to_string()])
        .output()
        .with_context(|| format!("run {bin}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    expect("port in use", out.status.code() == Some(1), || format!("exit {:?}", out.status))?;
    expect(
        "port in use",
        lines.len() == 1 && lines[0].starts_with("error: bind ") && lines[0].contains("EADDRINUSE"),
        || format!("stderr: {stderr:?}"),
    )
}

/// The no-argument scripted chat, through `--json`: every client received exactly
/// its script, every wait was `call`, the idle timeout branch ran, the escape was
/// stripped and the half line dropped (both narrated), and no fd leaked.
/// (Test support: a failed check panics.)
#[allow(clippy::unwrap_used)]
pub fn scripted_chat(bin: &str, call: &str) {
    let run = crate::demo::run_json(bin, &[]);
    run.assert_clean_success();
    for (name, want) in CLIENTS.iter().zip(&expected_transcripts()) {
        let got = run
            .all("client_received")
            .into_iter()
            .find(|e| e["client"] == *name)
            .unwrap_or_else(|| panic!("no client_received for {name}"));
        let lines: Vec<String> =
            got["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect();
        assert_eq!(&lines, want, "{name}");
    }
    assert!(run.all("wait").iter().all(|e| e["call"] == call), "every wait is {call}");
    assert!(!run.all("still_waiting").is_empty(), "the idle timeout branch ran");
    let fds = run.one("fds");
    assert_eq!(fds["before"], fds["after"], "fd leak: {fds}");
    assert_eq!(run.one("scenario_check")["ok"], true);
    assert!(run.all("sanitized").iter().any(|e| e["stripped"] == 14), "escape stripped");
    assert!(run.all("partial_dropped").iter().any(|e| e["bytes"] == 9), "half line dropped");
}
