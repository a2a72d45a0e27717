//! The chat servers under load, run as real binaries with `--listen`: a thousand
//! clients in one room, and ten clients sending a thousand lines each with every line
//! checked at every receiver (exactly once, in order, nothing else in between).
//!
//! Each test names the line that went wrong: which receiver, which sender, which line
//! number was missing, repeated or out of order.

#![allow(clippy::unwrap_used)] // test code: a failed step is a failed test

use offline::chat_clients::{ask_stats, stat, ChatClient, ManyClients, ServerProcess};
use std::io::Write;
use std::time::{Duration, Instant};
use test_harness::bins::binary;

const WAIT: Duration = Duration::from_secs(30);

/// What a client named guest`n` is told first.
fn welcome(n: usize) -> String {
    format!("* you are guest{n}; commands: /nick NAME, /who, /quit")
}

/// Waits until the stats port says the room is empty, then returns its open_fds.
fn open_fds_once_empty(server: &ServerProcess) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let line = ask_stats(server.stats).unwrap();
        if stat(&line, "clients") == Some(0) {
            return stat(&line, "open_fds").unwrap();
        }
        assert!(Instant::now() < deadline, "the room never emptied: {line}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------
// A thousand clients
// ---------------------------------------------------------------------------------

const CROWD: usize = 1000;

/// A thousand clients join one after another (in batches of 100); each must get its
/// welcome and then exactly the join notices of everyone after it, in order. The first
/// and the last speak and all 999 others hear each; /who lists all 1000; once they all
/// leave, the server's fd count is back where it started.
///
/// select and pselect can take it too: the server's fds run from 5 (after stdin,
/// stdout, stderr and the two listeners) to 1004, under FD_SETSIZE (1024). Past that,
/// they refuse clients by design (their own tests check that).
fn a_thousand_clients(name: &str) {
    // The test holds a thousand sockets of its own; the server inherits the raised
    // limit too, which select needs up to fd 1023 only.
    common::fd::raise_nofile_limit(4 * CROWD as u64).unwrap();
    let bin = binary(name);
    let server = ServerProcess::start_unrecorded(bin.to_str().unwrap(), &[]).unwrap();
    let baseline = stat(&ask_stats(server.stats).unwrap(), "open_fds").unwrap();
    let started = Instant::now();
    let mut crowd = ManyClients::new();
    crowd.connect(server.chat, CROWD).unwrap();
    // Client i (guest i+1) hears of everyone who joined after it: 999 - i notices.
    crowd
        .pump_until(WAIT, "every join notice", |c| (0..CROWD).all(|i| c.lines(i).len() >= CROWD - i))
        .unwrap();
    let joined = started.elapsed();
    for i in 0..CROWD {
        let got = crowd.lines(i);
        assert_eq!(got[0], welcome(i + 1), "{name}: client {i}'s first line");
        for (k, line) in got[1..].iter().enumerate() {
            let newcomer = i + 2 + k;
            assert_eq!(line, &format!("* guest{newcomer} joined"), "{name}: client {i}, notice {k}");
        }
        assert_eq!(got.len(), CROWD - i, "{name}: client {i} got extra lines: {:?}", &got[CROWD - i..]);
    }
    // The first and the last speak; every other client hears each, next.
    for (speaker, text) in [(0, "hello from the first"), (CROWD - 1, "hello from the last")] {
        let counts: Vec<usize> = (0..CROWD).map(|i| crowd.lines(i).len()).collect();
        crowd.say(speaker, text).unwrap();
        crowd
            .pump_until(WAIT, text, |c| {
                (0..CROWD).filter(|&i| i != speaker).all(|i| c.lines(i).len() > counts[i])
            })
            .unwrap();
        let want = format!("<guest{}> {text}", speaker + 1);
        for i in (0..CROWD).filter(|&i| i != speaker) {
            assert_eq!(
                crowd.lines(i)[counts[i]..],
                *std::slice::from_ref(&want),
                "{name}: client {i} after {text:?}"
            );
        }
    }
    let asker = CROWD / 2;
    let before = crowd.lines(asker).len();
    crowd.say(asker, "/who").unwrap();
    crowd.pump_until(WAIT, "/who", |c| c.lines(asker).len() > before).unwrap();
    let names: Vec<String> = (1..=CROWD).map(|n| format!("guest{n}")).collect();
    assert_eq!(
        crowd.lines(asker)[before],
        format!("* online ({CROWD}): {}", names.join(", ")),
        "{name}: /who"
    );
    let stats = ask_stats(server.stats).unwrap();
    assert_eq!(stat(&stats, "clients"), Some(CROWD as u64), "{name}: {stats}");
    assert_eq!(stat(&stats, "refused"), Some(0), "{name}: {stats}");
    let talked = started.elapsed();
    drop(crowd);
    assert_eq!(open_fds_once_empty(&server), baseline, "{name}: fds after everyone left");
    eprintln!(
        "{name}: {CROWD} clients joined (every join notice delivered) in {:.2} s; \
         two broadcasts and /who by {:.2} s; all gone, fds back to {baseline}, by {:.2} s",
        joined.as_secs_f64(),
        talked.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    server.stop().unwrap();
}

#[test]
fn a_thousand_clients_on() {
    // Every chat server in demos.toml, one after another.
    for server in robustness::chat_servers() {
        a_thousand_clients(server);
    }
}

// ---------------------------------------------------------------------------------
// Ten clients, a thousand lines each
// ---------------------------------------------------------------------------------

const TALKERS: usize = 10;
const LINES: usize = 1000;

/// Checks one receiver's relayed lines: from each other talker, lines 0..LINES, each
/// exactly once, in order, and nothing else. Returns every problem, each naming the
/// receiver, the sender and the line.
fn check_relayed(receiver: usize, got: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut next = [0usize; TALKERS];
    for (at, line) in got.iter().enumerate() {
        // "<guest3> c2 0417": guest k is talker k-1, and says "c{k-1} {seq}".
        let parsed = line.strip_prefix("<guest").and_then(|rest| {
            let (k, text) = rest.split_once("> ")?;
            let (c, seq) = text.strip_prefix('c')?.split_once(' ')?;
            Some((k.parse::<usize>().ok()?, c.parse::<usize>().ok()?, seq.parse::<usize>().ok()?))
        });
        let Some((k, sender, seq)) = parsed.filter(|&(k, c, _)| k == c + 1 && c < TALKERS && c != receiver)
        else {
            problems.push(format!("guest{}: line {at} is not a relayed talker line: {line:?}", receiver + 1));
            continue;
        };
        let expected = next[sender];
        match seq.cmp(&expected) {
            std::cmp::Ordering::Equal => next[sender] += 1,
            std::cmp::Ordering::Greater => {
                let which = if seq - expected == 1 {
                    format!("line {expected}")
                } else {
                    format!("lines {expected}..{}", seq - 1)
                };
                problems.push(format!(
                    "guest{} from guest{k}: {which} missing (line {seq} came next)",
                    receiver + 1
                ));
                next[sender] = seq + 1;
            }
            std::cmp::Ordering::Less => problems.push(format!(
                "guest{} from guest{k}: line {seq} again (or out of order), after line {}",
                receiver + 1,
                expected.wrapping_sub(1)
            )),
        }
    }
    for (sender, &n) in next.iter().enumerate() {
        if sender != receiver && n < LINES {
            problems.push(format!(
                "guest{} from guest{}: lines {n}..{} missing at the end",
                receiver + 1,
                sender + 1,
                LINES - 1
            ));
        }
    }
    problems
}

/// Ten clients each send a thousand lines, all at once, each from its own thread;
/// each client must receive the other nine's 9000 lines, every one exactly once and
/// in its sender's order (senders interleave freely), and then nothing else.
fn ten_talkers(name: &str) {
    let bin = binary(name);
    let server = ServerProcess::start_unrecorded(bin.to_str().unwrap(), &[]).unwrap();
    // Join one at a time so talker i is guest i+1; each hears of the ones after it.
    let mut talkers = Vec::new();
    for i in 0..TALKERS {
        let client = ChatClient::connect(&format!("talker{i}"), server.chat).unwrap();
        client.wait_lines(1, WAIT).unwrap();
        talkers.push(client);
    }
    for (i, client) in talkers.iter().enumerate() {
        let got = client.wait_lines(TALKERS - i, WAIT).unwrap();
        assert_eq!(got[0], welcome(i + 1), "{name}");
    }
    let header: Vec<usize> = (0..TALKERS).map(|i| TALKERS - i).collect();
    let started = Instant::now();
    let writers: Vec<_> = talkers
        .iter()
        .enumerate()
        .map(|(i, client)| {
            let mut stream = client.writer().unwrap();
            std::thread::spawn(move || {
                for seq in 0..LINES {
                    stream.write_all(format!("c{i} {seq:04}\n").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let want = (TALKERS - 1) * LINES;
    for (i, client) in talkers.iter().enumerate() {
        if let Err(e) = client.wait_count(header[i] + want, WAIT) {
            let problems = check_relayed(i, &client.lines_from(header[i]));
            panic!("{name}: {e}\nproblems: {problems:#?}");
        }
    }
    let delivered = started.elapsed();
    // A marker from the first talker: if anything extra was queued, it shows up
    // before the marker and the check below names it.
    talkers[0].say("end").unwrap();
    for (i, client) in talkers.iter().enumerate().skip(1) {
        client.wait_for("the end marker", WAIT, |l| l == "<guest1> end").unwrap();
        let mut got = client.lines_from(header[i]);
        assert_eq!(got.pop().as_deref(), Some("<guest1> end"), "{name}: guest{}", i + 1);
        let problems = check_relayed(i, &got);
        assert!(problems.is_empty(), "{name}: {} problems: {problems:#?}", problems.len());
    }
    talkers[0].say("/who").unwrap();
    talkers[0].wait_for("/who", WAIT, |l| l.starts_with("* online")).unwrap();
    let mut got = talkers[0].lines_from(header[0]);
    assert_eq!(
        got.pop().as_deref(),
        Some(
            "* online (10): guest1, guest2, guest3, guest4, guest5, guest6, guest7, guest8, guest9, guest10"
        )
    );
    let problems = check_relayed(0, &got);
    assert!(problems.is_empty(), "{name}: {} problems: {problems:#?}", problems.len());
    eprintln!(
        "{name}: {TALKERS} clients x {LINES} lines: all {} deliveries, exactly once and in order, in {:.2} s",
        TALKERS * want,
        delivered.as_secs_f64()
    );
    drop(talkers);
    server.stop().unwrap();
}

#[test]
fn ten_clients_a_thousand_lines_each_on() {
    // Every chat server in demos.toml, one after another.
    for server in robustness::chat_servers() {
        ten_talkers(server);
    }
}

/// The checker itself: a dropped line, a repeated one, a stranger, and talkers never
/// heard from are each named.
#[test]
fn the_line_checker_names_what_went_wrong() {
    let mut got: Vec<String> = (0..LINES).map(|s| format!("<guest2> c1 {s:04}")).collect();
    got.remove(417);
    got.insert(10, "<guest2> c1 0003".into());
    got.push("<guest1> c0 0000".into());
    got.push("garbage".into());
    let problems = check_relayed(2, &got);
    assert_eq!(
        problems[..4],
        [
            "guest3 from guest2: line 3 again (or out of order), after line 9",
            "guest3 from guest2: line 417 missing (line 418 came next)",
            "guest3: line 1001 is not a relayed talker line: \"garbage\"",
            "guest3 from guest1: lines 1..999 missing at the end",
        ]
    );
    assert_eq!(problems[4], "guest3 from guest4: lines 0..999 missing at the end");
    assert_eq!(problems.len(), 4 + 7, "{problems:#?}");
}
