//! moderation-check: marks lab 2 (an operator, private messages, /kick and /ban for the
//! select() chat server) from outside.
//!
//! `just lab moderation` marks the starter crate, `just lab moderation --solution` the
//! reference, `just lab moderation -- ./a.out` any program. Each check starts the
//! program afresh as `PROGRAM --listen 127.0.0.1:0`, reads `listening on IP:PORT` from
//! its first stdout line, and plays a short scene with real TCP clients on loopback,
//! some connecting from 127.0.0.2, 127.0.0.3... (a ban is by address). Every client's
//! transcript is compared line by line, exactly: what it must receive, and, through the
//! next line it receives, what it must not. The assignment is
//! `labs/02-moderation/README.md`.

mod chat;

use chat::Chat;
use lab_marking::lab_server::Server;
use lab_marking::marking::{Lab, Submission};
use std::net::Ipv4Addr;
use std::time::Duration;

const LAB: Lab = Lab {
    name: "moderation",
    folder: "02-moderation",
    title: "an operator, private messages, /kick and /ban for the select() chat server",
};

/// The checker's clients' addresses (all loopback on Linux); the server listens on HOME.
const HOME: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const TWO: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const THREE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const FOUR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
/// Starts with the text of TWO: a ban compared as text would refuse it too.
const TWENTY_THREE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 23);

fn main() -> std::process::ExitCode {
    lab_marking::marking::main(LAB, |submission, marking| {
        let started = marking.check("starts", 1, || starts(submission));
        let gate =
            if started { None } else { Some("not run: the server did not start (see `starts` above)") };
        marking.check_unless(gate, "chat-basics", 3, || chat_basics(submission));
        marking.check_unless(gate, "private-messages", 3, || private_messages(submission));
        marking.check_unless(gate, "kick", 3, || kick(submission));
        marking.check_unless(gate, "ban", 4, || ban(submission));
        marking.check_unless(gate, "operator-only", 2, || operator_only(submission));
        marking.check_unless(gate, "refusals", 2, || refusals(submission));
    })
}

/// The welcome line of the N-th client to join.
fn welcome(n: u32) -> String {
    format!("* you are guest{n}; commands: /nick NAME, /who, /quit")
}

/// Connects client number `n` (it must be welcomed as guest<n>) from `from`, and has
/// every client already in `room` see it join.
fn join(server: &Server, room: &mut [&mut Chat], n: u32, from: Ipv4Addr) -> Result<Chat, String> {
    let mut chat = Chat::connect(&format!("guest{n}"), from, server.addr)?;
    chat.expect(&welcome(n))?;
    for other in room.iter_mut() {
        other.expect(&format!("* guest{n} joined"))?;
    }
    Ok(chat)
}

/// Each client in `who` must receive `line` next.
fn all_get(who: &mut [&mut Chat], line: &str) -> Result<(), String> {
    who.iter_mut().try_for_each(|chat| chat.expect(line))
}

/// Adds to a failure what the client that gave the command got back, if anything
/// (the starter answers `* unknown command ...`).
fn meanwhile(sender: &Chat) -> impl Fn(String) -> String + '_ {
    move |why| match sender.peek(Duration::from_millis(300)) {
        Some(line) => format!("{why}; meanwhile {} got {line:?}", sender.label),
        None => why,
    }
}

/// Adds "the server died" to a failure when that is what happened.
fn explain(server: &mut Server, outcome: Result<String, String>) -> Result<String, String> {
    outcome.map_err(|why| match server.alive() {
        Ok(()) => why,
        Err(died) => format!("{why} ({died})"),
    })
}

/// `starts`: prints `listening on IP:PORT` first, and welcomes a client as guest1.
fn starts(submission: &Submission) -> Result<String, String> {
    let server = Server::start(submission)?;
    let mut first = Chat::connect("the first client", HOME, server.addr)?;
    first.expect(&welcome(1))?;
    Ok(format!("printed `listening on {}`; the first client was welcomed as guest1", server.addr))
}

/// `chat-basics`: the base protocol, unchanged (nothing regressed), and a client that
/// reads nothing holds up nobody, as in the starter. Two scenes, a server each.
fn chat_basics(submission: &Submission) -> Result<String, String> {
    let basics = base_protocol(submission)?;
    let deaf = deaf_client(submission)?;
    Ok(format!("{basics}; {deaf}"))
}

/// The base protocol's lines, exactly.
fn base_protocol(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let outcome = (|| {
        let mut a = join(&server, &mut [], 1, HOME)?;
        let mut b = join(&server, &mut [&mut a], 2, HOME)?;
        let mut c = join(&server, &mut [&mut a, &mut b], 3, HOME)?;
        a.say("/nick ann")?;
        all_get(&mut [&mut a, &mut b, &mut c], "* guest1 is now ann")?;
        b.say("/nick ann")?;
        b.expect("* nick \"ann\" refused: taken")?;
        a.say("hello everyone")?;
        all_get(&mut [&mut b, &mut c], "<ann> hello everyone")?;
        c.send(b"\x1b[2J\x1b[31mred alert\x1b[0m\x07\n")?;
        all_get(&mut [&mut a, &mut b], "<guest3> red alert")?;
        b.say("/dance")?;
        b.expect("* unknown command /dance; commands: /nick NAME, /who, /quit")?;
        b.expect_who(&["ann", "guest2", "guest3"])?;
        c.say("/quit")?;
        c.expect("* bye guest3")?;
        c.expect_closed()?;
        all_get(&mut [&mut a, &mut b], "* guest3 left")?;
        b.send(b"half a li")?;
        b.close();
        a.expect("* guest2 left")?;
        a.expect_who(&["ann"])?;
        Ok("welcome lines, joins, /nick (and a taken nick), relays, an escape stripped, an unknown command, \
            /who, /quit, and a client vanishing mid-line: every line exactly as before"
            .to_string())
    })();
    explain(&mut server, outcome)
}

/// guest2 connects and never reads while guest3 talks: guest1 must get every line. What
/// the server sends guest2 backs up; a server that waits for it to read stops for all.
fn deaf_client(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let outcome = (|| {
        let mut a = join(&server, &mut [], 1, HOME)?;
        let deaf = chat::connect_deaf("guest2", HOME, server.addr)?;
        a.expect("* guest2 joined")?;
        let mut c = join(&server, &mut [&mut a], 3, HOME)?;
        let count = flood_lines();
        let batch =
            |first: usize| -> Vec<String> { (first..count.min(first + 100)).map(flood_line).collect() };
        let send = |c: &mut Chat, lines: &[String]| {
            let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
            c.send(text.as_bytes()).map_err(|e| format!("{e}{}", held_up(&server)))
        };
        // One batch ahead: a round trip per batch would wait on delayed ACKs.
        send(&mut c, &batch(0))?;
        let mut notice_seen = false;
        for first in (0..count).step_by(100) {
            send(&mut c, &batch(first + 100))?;
            for line in batch(first) {
                expect_past_notice(&mut a, &format!("<guest3> {line}"), &mut notice_seen)
                    .map_err(|e| format!("{}{}", e.replace(PAD, "xxx..."), held_up(&server)))?;
            }
        }
        drop(deaf);
        Ok(format!(
            "guest1 got all {count} of guest3's lines while guest2 read nothing ({} MB for guest2 to back up)",
            count * 400 / 1_000_000
        ))
    })();
    explain(&mut server, outcome)
}

/// How many 400-byte lines the deaf-client scene sends: more than twice what the kernel
/// may hold for one socket's sending side (the last field of tcp_wmem, 4 MiB by default),
/// so a server that writes to guest2 with a blocking write() is stuck by then.
fn flood_lines() -> usize {
    let most = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|text| text.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    (2 * most + (1 << 20)).min(32 << 20) / 400
}

/// What makes a flood line 400 bytes long (shortened to "xxx..." in reports).
const PAD: &str = concat!(
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
);

/// Line `n` of the flood: numbered, so a lost or repeated line shows.
fn flood_line(n: usize) -> String {
    format!("line {n:06} {PAD}")
}

/// `want` must come next, after at most one notice (once in the scene) that guest2 went:
/// whether a server drops a client that stopped reading is free (the README).
fn expect_past_notice(chat: &mut Chat, want: &str, notice_seen: &mut bool) -> Result<(), String> {
    const NOTICES: [&str; 2] = ["* guest2 was disconnected (not reading)", "* guest2 left"];
    match chat.expect(want) {
        Err(_)
            if !*notice_seen && chat.peek(Duration::ZERO).is_some_and(|l| NOTICES.contains(&l.as_str())) =>
        {
            *notice_seen = true;
            chat.next_line()?;
            chat.expect(want)
        }
        other => other,
    }
}

/// Why guest1 may have got nothing: guest2 reads nothing, and where the server sits.
fn held_up(server: &Server) -> String {
    let blocked = match server.waiting_in() {
        Some(call) if ["write", "writev", "sendto", "sendmsg"].contains(&call.as_str()) => {
            format!("; the server was seen blocked in {call}()")
        }
        _ => String::new(),
    };
    format!(
        " (guest2 has read nothing since it connected: lines for it must wait in the server, or it \
         may be disconnected, but the others must still be served{blocked})"
    )
}

/// `private-messages`: `/msg NICK TEXT` reaches NICK and nobody else; unknown nicks and
/// a missing text get their error lines, to the sender only.
fn private_messages(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let outcome = (|| {
        let mut a = join(&server, &mut [], 1, HOME)?;
        let mut b = join(&server, &mut [&mut a], 2, HOME)?;
        let mut c = join(&server, &mut [&mut a, &mut b], 3, HOME)?;
        a.say("/msg guest2 psst, just you")?;
        b.expect("* private from guest1: psst, just you").map_err(meanwhile(&a))?;
        // The next public line shows what else each client got in between: nothing.
        a.say("after the secret")?;
        b.expect("<guest1> after the secret")?;
        c.expect("<guest1> after the secret")
            .map_err(|e| format!("{e} (guest3 must not see guest1's private message to guest2)"))?;
        b.say("/msg guest1 got it")?;
        a.expect("* private from guest2: got it").map_err(|e| {
            format!("{e} (after guest1's /msg the sender gets nothing back; the next thing it gets is guest2's reply)")
        })?;
        b.say("and in public")?;
        a.expect("<guest2> and in public")?;
        c.expect("<guest2> and in public")?;
        c.say("/msg zed hello?")?;
        c.expect("* no such nick: zed")?;
        c.say("/msg guest1")?;
        c.expect("* usage: /msg NICK TEXT")?;
        c.say("done")?;
        all_get(&mut [&mut a, &mut b], "<guest3> done")
            .map_err(|e| format!("{e} (error lines go to the sender only)"))?;
        // Nicks as they are now: a renamed sender, to a renamed recipient.
        a.say("/nick ann")?;
        all_get(&mut [&mut a, &mut b, &mut c], "* guest1 is now ann")?;
        c.say("/nick cat")?;
        all_get(&mut [&mut a, &mut b, &mut c], "* guest3 is now cat")?;
        c.say("/msg ann meow")?;
        a.expect("* private from cat: meow")
            .map_err(|e| format!("{e} (SENDER is the sender's nick now, after its /nick)"))?;
        // A client that has gone is no longer there to write to.
        b.close();
        all_get(&mut [&mut a, &mut c], "* guest2 left")?;
        c.say("/msg guest2 are you there?")?;
        c.expect("* no such nick: guest2").map_err(|e| format!("{e} (guest2 has closed its connection)"))?;
        Ok("/msg reached its one recipient as `* private from SENDER: TEXT`; nobody else saw it; \
            an unknown nick, a missing text and a client that left got their error lines; renamed clients \
            by their new nicks"
            .to_string())
    })();
    explain(&mut server, outcome)
}

/// `kick`: the operator (who may rename) kicks a client: it is told, disconnected,
/// and everyone else sees one notice; it may come back.
fn kick(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let outcome = (|| {
        let mut a = join(&server, &mut [], 1, HOME)?;
        let mut b = join(&server, &mut [&mut a], 2, HOME)?;
        let mut c = join(&server, &mut [&mut a, &mut b], 3, HOME)?;
        a.say("/nick boss")?;
        all_get(&mut [&mut a, &mut b, &mut c], "* guest1 is now boss")?;
        a.say("/kick guest2")?;
        b.expect("* you were kicked by boss").map_err(meanwhile(&a))?;
        b.expect_closed()?;
        all_get(&mut [&mut a, &mut c], "* guest2 was kicked by boss")?;
        a.say("/kick zed")?;
        a.expect("* no such nick: zed")?;
        // No "* guest2 left" after the kick notice: the next thing is this line.
        c.say("still here")?;
        a.expect("<guest3> still here")
            .map_err(|e| format!("{e} (one notice per kick, no `left` after it)"))?;
        a.expect_who(&["boss", "guest3"])?;
        let d = join(&server, &mut [&mut a, &mut c], 4, HOME)?;
        drop(d);
        Ok("the operator (renamed) kicked guest2: it got `* you were kicked by boss` and was disconnected; \
            the others got one notice; an unknown nick was refused; a new client could still join"
            .to_string())
    })();
    explain(&mut server, outcome)
}

/// `ban`: the operator bans a client by address: every client from that address is
/// told and disconnected; it is refused when it comes back, for the life of the server;
/// other addresses are not.
fn ban(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let outcome = (|| {
        // The operator connects from 127.0.0.3, not from the server's own 127.0.0.1:
        // "your own address" is the operator's.
        let mut a = join(&server, &mut [], 1, THREE)?;
        let mut b = join(&server, &mut [&mut a], 2, TWO)?;
        let mut c = join(&server, &mut [&mut a, &mut b], 3, HOME)?;
        let mut d = join(&server, &mut [&mut a, &mut b, &mut c], 4, TWO)?;
        let mut e = join(&server, &mut [&mut a, &mut b, &mut c, &mut d], 5, THREE)?;
        // The later of the two clients from 127.0.0.2 is named: the earlier goes too.
        a.say("/ban guest4")?;
        d.expect("* you were banned by guest1").map_err(meanwhile(&a))?;
        d.expect_closed()?;
        b.expect("* you were banned by guest1")
            .map_err(|e| format!("{e} (guest2 connects from the banned address too)"))?;
        b.expect_closed()?;
        all_get_bans(&mut [&mut a, &mut c, &mut e], &["guest2", "guest4"], "guest1")?;
        a.say("/ban guest5")?;
        a.expect("* /ban refused: guest5 connects from your own address").map_err(|e| {
            format!(
                "{e} (guest5 connects from 127.0.0.3, as the operator does; the server listens on 127.0.0.1)"
            )
        })?;
        refused(&server, "guest2, back again", TWO, "127.0.0.2 is banned")?;
        // No join notice for the refused connection: the next thing is this line.
        a.say("anyone new?")?;
        all_get(&mut [&mut c, &mut e], "<guest1> anyone new?")
            .map_err(|e| format!("{e} (a refused connection joins nothing: no notice)"))?;
        let mut f = join(&server, &mut [&mut a, &mut c, &mut e], 6, FOUR).map_err(|e| {
            format!("{e} (a client from another address must still get in, as guest6: a refused connection takes no number)")
        })?;
        refused(&server, "guest2, trying a second time", TWO, "a ban is not used up by one refusal")?;
        let mut g = join(&server, &mut [&mut a, &mut c, &mut e, &mut f], 7, THREE).map_err(|e| {
            format!("{e} (the operator's /ban guest5 was refused, so it changed nothing: 127.0.0.3 is not banned)")
        })?;
        let mut h = join(&server, &mut [&mut a, &mut c, &mut e, &mut f, &mut g], 8, TWENTY_THREE)
            .map_err(|e| format!("{e} (a ban is of one whole address: 127.0.0.23 is not 127.0.0.2)"))?;
        let mut i = join(&server, &mut [&mut a, &mut c, &mut e, &mut f, &mut g, &mut h], 9, HOME)?;
        // A second ban, by the operator under a new name, of the server's own address.
        a.say("/nick boss")?;
        all_get(&mut [&mut a, &mut c, &mut e, &mut f, &mut g, &mut h, &mut i], "* guest1 is now boss")?;
        a.say("/ban guest3")?;
        c.expect("* you were banned by boss").map_err(now_boss).map_err(meanwhile(&a))?;
        c.expect_closed()?;
        i.expect("* you were banned by boss")
            .map_err(|e| format!("{e} (guest9 connects from the banned address too)"))?;
        i.expect_closed()?;
        all_get_bans(&mut [&mut a, &mut e, &mut f, &mut g, &mut h], &["guest3", "guest9"], "boss")?;
        refused(
            &server,
            "guest2, after a second ban",
            TWO,
            "a second /ban does not lift the first: both addresses stay banned",
        )?;
        refused(&server, "guest3, back again", HOME, "127.0.0.1 is banned now")?;
        a.say("/quit")?;
        a.expect("* bye boss")?;
        a.expect_closed()?;
        all_get(&mut [&mut e, &mut f, &mut g, &mut h], "* boss left")?;
        refused(
            &server,
            "guest2, after the operator left",
            TWO,
            "a ban lasts until the server stops, also after the operator who made it has left",
        )?;
        Ok("/ban guest4 disconnected both clients from 127.0.0.2 with `* you were banned by guest1` and \
            one notice each; banning the operator's own address (127.0.0.3) was refused and changed \
            nothing; 127.0.0.2 coming back was refused and closed, twice, after a second ban, and after \
            the operator had left; 127.0.0.4 and 127.0.0.23 joined; the renamed operator's ban of \
            127.0.0.1 was signed `boss`"
            .to_string())
    })();
    explain(&mut server, outcome)
}

/// A client from `from` must be told `* sorry, you are banned` and closed; `why` (the
/// rule this try tests) is added to a failure.
fn refused(server: &Server, label: &str, from: Ipv4Addr, why: &str) -> Result<(), String> {
    let mut chat = Chat::connect(label, from, server.addr)?;
    chat.expect("* sorry, you are banned").map_err(|e| format!("{e} ({why})"))?;
    chat.expect_closed()
}

/// Each client in `who` must get `* X was banned by OP` for each X in `gone`, in any
/// order (the README leaves it free).
fn all_get_bans(who: &mut [&mut Chat], gone: &[&str], op: &str) -> Result<(), String> {
    let mut want: Vec<String> = gone.iter().map(|x| format!("* {x} was banned by {op}")).collect();
    want.sort();
    for chat in who.iter_mut() {
        let mut got = gone.iter().map(|_| chat.next_line()).collect::<Result<Vec<_>, _>>()?;
        got.sort();
        if got != want {
            return Err(format!("{} got {got:?}; expected {want:?} (in either order)", chat.label));
        }
    }
    Ok(())
}

/// Adds to a ban line signed with the operator's old name that OP is its nick now.
fn now_boss(why: String) -> String {
    if why.contains("by guest1\"") {
        format!("{why} (OP is the operator's current nick: it renamed itself boss)")
    } else {
        why
    }
}

/// `operator-only`: nobody but the first client may kick or ban, and once it leaves,
/// by `/quit` or by closing its connection, nobody may. Two scenes, a server each.
fn operator_only(submission: &Submission) -> Result<String, String> {
    let quits = operator_quits(submission)?;
    let vanishes = operator_vanishes(submission)?;
    Ok(format!("{quits}; {vanishes}"))
}

/// The operator `/quit`s: neither a client that takes its nick nor a newcomer is operator.
fn operator_quits(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let outcome = (|| {
        let mut a = join(&server, &mut [], 1, HOME)?;
        let mut b = join(&server, &mut [&mut a], 2, HOME)?;
        let mut c = join(&server, &mut [&mut a, &mut b], 3, HOME)?;
        b.say("/kick guest3")?;
        b.expect("* /kick refused: you are not the operator")?;
        b.say("/ban guest3")?;
        b.expect("* /ban refused: you are not the operator")?;
        c.say("unharmed")?;
        all_get(&mut [&mut a, &mut b], "<guest3> unharmed")
            .map_err(|e| format!("{e} (a refused /kick or /ban must change nothing)"))?;
        a.say("/quit")?;
        a.expect("* bye guest1")?;
        a.expect_closed()?;
        all_get(&mut [&mut b, &mut c], "* guest1 left")?;
        b.say("/kick guest3")?;
        b.expect("* /kick refused: you are not the operator")
            .map_err(|e| format!("{e} (after the operator leaves, nobody is operator)"))?;
        b.say("/nick guest1")?;
        all_get(&mut [&mut b, &mut c], "* guest2 is now guest1")
            .map_err(|e| format!("{e} (guest1 has left and its connection is closed: its nick is free)"))?;
        b.say("/kick guest3")?;
        b.expect("* /kick refused: you are not the operator").map_err(|e| {
            format!(
                "{e} (the operator is the first client, not whoever has its nick: guest2 only took the name)"
            )
        })?;
        let mut d = join(&server, &mut [&mut b, &mut c], 4, HOME)?;
        d.say("/ban guest3")?;
        d.expect("* /ban refused: you are not the operator")
            .map_err(|e| format!("{e} (only the first client to connect is operator; a newcomer is not)"))?;
        Ok("guest2's /kick and /ban were refused and changed nothing; after guest1 (the operator) quit, \
            neither guest2 (even renamed guest1) nor a newcomer could kick or ban"
            .to_string())
    })();
    explain(&mut server, outcome)
}

/// The operator's connection closes with no `/quit`: the next client (which the kernel
/// may give the operator's old fd number) is not operator.
fn operator_vanishes(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let outcome = (|| {
        let mut a = join(&server, &mut [], 1, HOME)?;
        let mut b = join(&server, &mut [&mut a], 2, HOME)?;
        a.close();
        b.expect("* guest1 left")?;
        let mut c = join(&server, &mut [&mut b], 3, HOME)?;
        c.say("/kick guest2")?;
        c.expect("* /kick refused: you are not the operator").map_err(|e| {
            format!(
                "{e} (the operator closed its connection without /quit: that is leaving too, and a \
                 newcomer, even on the operator's old fd number, is not operator)"
            )
        })?;
        Ok("after the operator's connection closed (no /quit), a newcomer could not kick".to_string())
    })();
    explain(&mut server, outcome)
}

/// `refusals`: /kick and /ban refused in the README's order (not the operator, then a
/// missing NICK, then no such nick, then the operator itself), each refusal to the
/// sender only and changing nothing.
fn refusals(submission: &Submission) -> Result<String, String> {
    let mut server = Server::start(submission)?;
    let outcome = (|| {
        let mut a = join(&server, &mut [], 1, HOME)?;
        let mut b = join(&server, &mut [&mut a], 2, HOME)?;
        let mut c = join(&server, &mut [&mut a, &mut b], 3, HOME)?;
        b.say("/kick")?;
        b.expect("* /kick refused: you are not the operator").map_err(|e| {
            format!("{e} (guest2 is not the operator: that is checked before the missing NICK)")
        })?;
        b.say("/ban zed")?;
        b.expect("* /ban refused: you are not the operator")
            .map_err(|e| format!("{e} (guest2 is not the operator: that is checked before the nick)"))?;
        b.say("/kick guest2")?;
        b.expect("* /kick refused: you are not the operator").map_err(|e| {
            format!("{e} (guest2 is not the operator: that is checked before whether the nick is its own)")
        })?;
        a.say("/kick")?;
        a.expect("* usage: /kick NICK").map_err(|e| format!("{e} (the operator gave no NICK)"))?;
        a.say("/ban")?;
        a.expect("* usage: /ban NICK").map_err(|e| format!("{e} (the operator gave no NICK)"))?;
        a.say("/kick guest1")?;
        a.expect("* /kick refused: that is you").map_err(|e| format!("{e} (guest1 tried to kick itself)"))?;
        a.say("/nick boss")?;
        all_get(&mut [&mut a, &mut b, &mut c], "* guest1 is now boss")?;
        a.say("/ban boss")?;
        a.expect("* /ban refused: that is you").map_err(|e| {
            format!("{e} (the operator tried to ban itself: `that is you` comes before the own-address rule)")
        })?;
        a.say("/kick zed")?;
        a.expect("* no such nick: zed")?;
        a.say("/ban zed")?;
        a.expect("* no such nick: zed")
            .map_err(|e| format!("{e} (the operator banned a nick nobody has)"))?;
        c.say("nothing changed?")?;
        all_get(&mut [&mut a, &mut b], "<guest3> nothing changed?")
            .map_err(|e| format!("{e} (refusals go to the sender only and change nothing)"))?;
        a.expect_who(&["boss", "guest2", "guest3"])?;
        Ok("in the README's order: not the operator (even with no NICK, or an unknown one), a missing NICK, \
            an unknown nick, the operator itself (by its new nick too): each refused to the sender only, \
            nothing changed"
            .to_string())
    })();
    explain(&mut server, outcome)
}
