//! Runs the `timeline` binary on real demo runs and on hand-written events, and checks
//! the SVG it writes: well-formed XML, one labelled lane per thing the events name,
//! an unknown event still drawn, errors as one line.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_timeline");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("timeline-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Runs `timeline args` with `stdin`, killed after 120 s (a demo run includes building
/// it). Returns (exit code, stdout, stderr).
fn timeline(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run timeline");
    let mut input = child.stdin.take().expect("stdin");
    let text = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timeline {args:?} did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    (status.code().unwrap_or(-1), reader.join().expect("stdout"), err_reader.join().expect("stderr"))
}

/// A small XML well-formedness check: tags nest and close, attributes are quoted,
/// entities are known, nothing but whitespace outside the root.
fn check_xml(xml: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    let mut roots = 0;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            check_text(rest, !stack.is_empty())?;
            break;
        };
        check_text(&rest[..lt], !stack.is_empty())?;
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<?") {
            let end = after.find("?>").ok_or("unclosed <?")?;
            rest = &after[end + 2..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or("unclosed comment")?;
            rest = &after[end + 3..];
            continue;
        }
        let gt = rest.find('>').ok_or("unclosed tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or_else(|| format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name: String = tag.chars().take_while(|c| !c.is_whitespace()).collect();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == ':' || c == '-' || c == '_') {
            return Err(format!("bad tag name in <{tag}>"));
        }
        check_attributes(&tag[name.len()..])?;
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

fn check_text(text: &str, inside: bool) -> Result<(), String> {
    if !inside && !text.trim().is_empty() {
        return Err(format!("text outside the root: {text:?}"));
    }
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        let end = rest[amp..].find(';').ok_or("& without ;")?;
        let entity = &rest[amp + 1..amp + end];
        if !["amp", "lt", "gt", "quot", "apos"].contains(&entity) && !entity.starts_with('#') {
            return Err(format!("unknown entity &{entity};"));
        }
        rest = &rest[amp + end..];
    }
    Ok(())
}

fn check_attributes(mut attrs: &str) -> Result<(), String> {
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            return Ok(());
        }
        let eq = attrs.find('=').ok_or_else(|| format!("attribute without value: {attrs}"))?;
        let name = attrs[..eq].trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("bad attribute name {name:?}"));
        }
        let value = &attrs[eq + 1..];
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'').ok_or("unquoted attribute")?;
        let end = value[1..].find(quote).ok_or("unclosed attribute value")?;
        check_text(&value[1..1 + end], true)?;
        if value[1..1 + end].contains('<') {
            return Err("< in an attribute value".into());
        }
        attrs = &value[end + 2..];
    }
}

/// The text of every `<text>` element, with its attributes.
fn texts(svg: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        let after = &rest[start..];
        let Some(gt) = after.find('>') else { break };
        let Some(end) = after.find("</text>") else { break };
        let unescape = after[gt + 1..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&apos;", "'")
            .replace("&quot;", "\"")
            .replace("&amp;", "&");
        found.push((after[..gt].to_string(), unescape.trim().to_string()));
        rest = &after[end..];
    }
    found
}

/// The lane labels: right-aligned text in the label column (x = 172), above the axis.
fn lane_labels(svg: &str) -> Vec<String> {
    texts(svg)
        .into_iter()
        .filter(|(attrs, text)| {
            attrs.contains("x=\"172\"") && attrs.contains("text-anchor=\"end\"") && !text.starts_with("time")
        })
        .map(|(_, text)| text)
        .collect()
}

fn read_svg(stdout: &str) -> String {
    let path = Path::new(stdout.trim());
    assert!(path.extension().is_some_and(|e| e == "svg"), "stdout should be the SVG's path: {stdout:?}");
    let svg = std::fs::read_to_string(path).expect("read the SVG");
    check_xml(&svg).unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
    svg
}

fn count(labels: &[String], wanted: &str) -> usize {
    labels.iter().filter(|l| l.as_str() == wanted).count()
}

#[test]
fn aio_cancel_gets_one_lane_per_request_and_for_the_pipe() {
    let out = temp_dir("aio-cancel").join("run.svg");
    let (code, stdout, stderr) = timeline(&["-o", out.to_str().expect("utf-8"), "aio-cancel"], "");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), out.display().to_string());
    let svg = read_svg(&stdout);
    let labels = lane_labels(&svg);
    for req in ["A", "B", "C", "D", "E", "F"] {
        assert_eq!(count(&labels, &format!("request {req}")), 1, "request {req} in {labels:?}");
    }
    assert_eq!(count(&labels, "pipe (fd 3 ← fd 4)"), 1, "{labels:?}");
    // Main only calls (its lane would be empty, so it is left out); glibc's worker
    // thread, which runs the reads, has a lane.
    assert!(!labels.contains(&"main thread".to_string()), "{labels:?}");
    assert!(labels[0].starts_with("thread (tid "), "{labels:?}");
    assert!(svg.contains("$ just run aio-cancel"));
    assert!(svg.contains("<desc id=\"timeline-source\">events=fnv1a64:"));
}

#[test]
fn curl_multi_gets_one_lane_per_transfer() {
    let dir = temp_dir("curl");
    let out = dir.join("multi.svg");
    let (code, stdout, stderr) = timeline(&["-o", out.to_str().expect("utf-8"), "curl-multi"], "");
    assert_eq!(code, 0, "{stderr}");
    let labels = lane_labels(&read_svg(&stdout));
    for id in 1..=7 {
        let with_id: Vec<&String> = labels.iter().filter(|l| l.ends_with(&format!("(#{id})"))).collect();
        assert_eq!(with_id.len(), 1, "transfer #{id} in {labels:?}");
    }
    assert_eq!(labels.len(), 8, "the thread and seven transfers: {labels:?}");
}

#[test]
fn select_gets_one_lane_per_fd_its_events_name() {
    // Run the demo ourselves so we know which fds its events name, then draw from stdin.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let run = Command::new(cargo)
        .current_dir(&root)
        .args(["run", "-q", "-p", "select", "--", "--json"])
        .stdin(Stdio::null())
        .output()
        .expect("run the select demo");
    assert!(run.status.success(), "select --json failed: {}", String::from_utf8_lossy(&run.stderr));
    let events = String::from_utf8(run.stdout).expect("utf-8");
    let mut fds = BTreeSet::new();
    for line in events.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        match v["event"].as_str() {
            Some("accepted") => {
                fds.insert((v["fd"].as_i64().expect("fd"), v["nick"].as_str().expect("nick").to_string()));
            }
            Some("stats_served") => {
                fds.insert((v["fd"].as_i64().expect("fd"), "stats client".into()));
            }
            Some("listening") => {
                fds.insert((v["chat_fd"].as_i64().expect("chat_fd"), "chat listener".into()));
                fds.insert((v["stats_fd"].as_i64().expect("stats_fd"), "stats listener".into()));
            }
            _ => {}
        }
    }
    assert!(fds.len() >= 6, "the scripted chat has two listeners and four clients: {fds:?}");
    let out = temp_dir("select").join("select.svg");
    let (code, stdout, stderr) =
        timeline(&["-o", out.to_str().expect("utf-8"), "--command", "just run select", "-"], &events);
    assert_eq!(code, 0, "{stderr}");
    let svg = read_svg(&stdout);
    let labels = lane_labels(&svg);
    for (fd, _) in &fds {
        // A number the kernel handed out again (a client left, the next one came) is
        // one lane per holder.
        let holders = fds.iter().filter(|(other, _)| other == fd).count();
        let lanes = labels.iter().filter(|l| l.ends_with(&format!("(fd {fd})"))).count();
        assert_eq!(lanes, holders, "fd {fd} in {labels:?}");
    }
    // Clients are named by their nick at the end of the run (guest1 became ann).
    assert!(labels.iter().any(|l| l.starts_with("ann (fd ")), "{labels:?}");
    // The picture says which events it was drawn from.
    let fingerprint = timeline::events::fingerprint(events.as_bytes());
    assert!(svg.contains(&format!("events={fingerprint} ")), "fingerprint {fingerprint} missing");
}

#[test]
fn an_unknown_event_is_drawn_as_a_plain_mark() {
    let events = concat!(
        "{\"t_ms\":0.0,\"event\":\"demo\",\"name\":\"lab\",\"summary\":\"a student's program\"}\n",
        "not JSON: a stray println\n",
        "{\"t_ms\":1.0,\"event\":\"frobnicated\",\"fd\":9}\n",
        "{\"t_ms\":2.5,\"event\":\"zzz\"}\n",
        "{\"t_ms\":3.0,\"event\":\"wait\",\"call\":\"poll\"}\n",
        "{\"t_ms\":9.0,\"event\":\"ready\",\"count\":1,\"fds\":[{\"fd\":9,\"flags\":[\"POLLIN\"]}]}\n",
    );
    let out = temp_dir("unknown").join("u.svg");
    let (code, stdout, stderr) = timeline(&["-o", out.to_str().expect("utf-8"), "-"], events);
    assert_eq!(code, 0, "{stderr}");
    let svg = read_svg(&stdout);
    assert_eq!(lane_labels(&svg), ["main thread", "fd 9"]);
    let words: Vec<String> = texts(&svg).into_iter().map(|(_, t)| t).collect();
    assert!(words.iter().any(|w| w == "other event"), "legend: {words:?}");
    assert!(words.iter().any(|w| w == "→ 1 ready"), "the wait's result: {words:?}");
    // Both unknown events are marks: the model says so too.
    let run = timeline::events::parse(events);
    let tl = timeline::model::build(&run.events);
    let others: Vec<(&str, usize)> = tl
        .marks
        .iter()
        .filter(|m| m.kind == timeline::model::MarkKind::Other)
        .map(|m| (m.event.as_str(), m.lane))
        .collect();
    assert_eq!(others, [("frobnicated", 1), ("zzz", 0)]);
}

#[test]
fn an_unknown_demo_is_refused_with_the_list() {
    let (code, stdout, stderr) = timeline(&["no-such-demo"], "");
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.starts_with("error: usage: no demo named \"no-such-demo\"; the demos are:"), "{stderr}");
    for demo in ["blocking-read", "select", "aio-cancel"] {
        assert!(stderr.lines().any(|l| l.trim() == demo), "{demo} missing from {stderr}");
    }
}

#[test]
fn no_events_is_one_error_line() {
    let (code, stdout, stderr) = timeline(&["-o", "/nonexistent/never.svg", "-"], "hello\n\n");
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert_eq!(stderr, "error: draw the timeline: no events to draw (1 lines were not JSON events)\n");
    let (code, _, stderr) =
        timeline(&["-o", "/nonexistent/dir/x.svg", "-"], "{\"t_ms\":1,\"event\":\"x\"}\n");
    assert_eq!(code, 1);
    assert_eq!(stderr, "error: write /nonexistent/dir/x.svg: ENOENT (No such file or directory)\n");
}

#[test]
fn only_draws_one_part_of_a_run_on_a_fixed_axis() {
    let events = concat!(
        "{\"t_ms\":0,\"event\":\"demo\",\"name\":\"aio-poll-loop\"}\n",
        "{\"t_ms\":10,\"event\":\"aio_read\",\"input\":1,\"run\":\"overlap\"}\n",
        "{\"t_ms\":20,\"event\":\"wait_done\",\"input\":1,\"polls\":3,\"method\":\"aio_error\"}\n",
        "{\"t_ms\":21,\"event\":\"aio_return\",\"input\":1,\"ret\":4096,\"run\":\"overlap\"}\n",
        "{\"t_ms\":30,\"event\":\"read_blocking\",\"input\":2,\"ms\":10,\"run\":\"baseline\"}\n",
    );
    let out = temp_dir("only").join("o.svg");
    let path = out.to_str().expect("utf-8");
    let (code, stdout, stderr) =
        timeline(&["-o", path, "--only", "run=overlap", "--axis-ms", "100", "-"], events);
    assert_eq!(code, 0, "{stderr}");
    let svg = read_svg(&stdout);
    assert_eq!(lane_labels(&svg), ["main thread", "input 2"]);
    assert!(svg.contains("# only run=overlap"), "the picture says it shows part of the run");
    let words: Vec<String> = texts(&svg).into_iter().map(|(_, t)| t).collect();
    assert!(words.iter().any(|w| w == "100"), "the axis reaches 100 ms: {words:?}");
    assert!(words.iter().any(|w| w == "→ 3 polls"), "{words:?}");
    let (code, _, stderr) = timeline(&["-o", path, "--only", "run", "-"], events);
    assert_eq!((code, stderr.as_str()), (2, "error: usage: --only wants FIELD=VALUE, not \"run\"\n"));
    let (code, _, stderr) = timeline(&["-o", path, "--only", "run=nothing", "-"], events);
    assert_eq!((code, stderr.as_str()), (1, "error: draw the timeline: no event has run=nothing\n"));
}

#[test]
fn the_xml_check_can_fail() {
    assert!(check_xml("<svg><g></svg>").is_err());
    assert!(check_xml("<svg a=b></svg>").is_err());
    assert!(check_xml("<svg>&nbsp;</svg>").is_err());
    assert!(check_xml("<svg/><svg/>").is_err());
    assert!(check_xml("<?xml version=\"1.0\"?>\n<svg a=\"1\"><t>x &amp; y</t><!-- c --></svg>\n").is_ok());
}

/// Runs `timeline NAME ARGS` on the real demo and returns its lane labels.
fn lanes_of(name: &str, args: &[&str]) -> Vec<String> {
    let out = temp_dir(name).join(format!("{name}.svg"));
    let mut all = vec!["-o", out.to_str().expect("utf-8"), name];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = timeline(&all, "");
    assert_eq!(code, 0, "timeline {name}: {stderr}");
    assert_eq!(stdout.trim(), out.display().to_string());
    lane_labels(&read_svg(&stdout))
}

#[test]
fn epoll_gets_one_lane_per_socket_and_the_et_bug_two_halves() {
    let labels = lanes_of("epoll", &[]);
    for client in ["ann", "bob", "guest3", "guest4"] {
        let lanes = labels.iter().filter(|l| l.starts_with(&format!("{client} (fd "))).count();
        assert_eq!(lanes, 1, "{client} in {labels:?}");
    }
    for fixed in ["chat listener (fd ", "stats listener (fd ", "signalfd (fd "] {
        assert_eq!(labels.iter().filter(|l| l.starts_with(fixed)).count(), 1, "{fixed} in {labels:?}");
    }
    let labels = lanes_of("epoll", &["--show-et-bug"]);
    assert_eq!(labels, ["main thread", "bug: 1 read per wake-up", "fix: read until EAGAIN"]);
}

#[test]
fn curl_socket_gets_one_lane_per_transfer_and_one_for_curls_timer() {
    let labels = lanes_of("curl-socket", &[]);
    for id in 1..=7 {
        let with_id = labels.iter().filter(|l| l.ends_with(&format!("(#{id})"))).count();
        assert_eq!(with_id, 1, "transfer #{id} in {labels:?}");
    }
    // Each transfer's socket is on its transfer's lane: no lane of its own.
    assert_eq!(labels.iter().filter(|l| l.starts_with("curl's timer (timerfd ")).count(), 1, "{labels:?}");
    let others: Vec<&String> =
        labels.iter().filter(|l| !l.contains("(#") && !l.starts_with("curl's timer")).collect();
    assert!(
        others.iter().all(|l| *l == "main thread" || l.starts_with("curl-internal (fd ")),
        "lanes that are neither a transfer nor curl's own: {others:?}"
    );
}

#[test]
fn io_uring_gets_one_lane_per_request() {
    let labels = lanes_of("io-uring", &[]);
    for input in 1..=9 {
        assert_eq!(count(&labels, &format!("input {input}")), 1, "input {input} in {labels:?}");
    }
    for request in ["the read 0x1", "pipe", "the read 0x5", "kernel worker"] {
        assert_eq!(count(&labels, request), 1, "{request} in {labels:?}");
    }
}

#[test]
fn tokio_chat_gets_one_lane_per_client_and_the_main_task() {
    let labels = lanes_of("tokio-chat", &[]);
    assert_eq!(labels[0], "main task", "{labels:?}");
    for client in ["ann", "bob", "guest3", "guest4"] {
        let lanes = labels.iter().filter(|l| l.starts_with(&format!("{client} (fd "))).count();
        assert_eq!(lanes, 1, "{client} in {labels:?}");
    }
    // A task polled after its client left stays on that client's lane.
    assert!(labels.iter().all(|l| !l.starts_with("fd ")), "{labels:?}");
}
