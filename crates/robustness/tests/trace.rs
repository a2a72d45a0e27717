//! Proof that each demo uses its technique: every demo's no-argument run under
//! `strace -f`, checked by the shape of its calls (which argument is NULL, which events
//! an fd asks for, which thread made the call), not by their names alone.
//!
//! Run as a report: `just trace-check` prints one line per demo, with the evidence.
//! When strace is missing the test prints a SKIPPED line and passes (CI installs it).

use offline::TempFile;
use serde_json::Value;
use test_harness::bins::binary;
use test_harness::strace::{self, Call, Traced};

/// What each check returns: the report line's evidence, or why it failed.
type Verdict = Result<String, String>;

/// A demo run to trace: which calls to keep, and what must be true of them.
struct Case {
    /// The report line's label.
    label: &'static str,
    demo: &'static str,
    args: Vec<String>,
    calls: &'static str,
    check: fn(&Traced) -> Verdict,
}

fn case(
    label: &'static str,
    demo: &'static str,
    args: Vec<String>,
    calls: &'static str,
    check: fn(&Traced) -> Verdict,
) -> Case {
    Case { label, demo, args, calls, check }
}

#[test]
fn each_demo_makes_the_system_calls_of_its_technique() {
    if !strace::available() {
        return;
    }
    let files = [
        TempFile::with_contents("trace-one", b"one\n").unwrap(),
        TempFile::with_contents("trace-two", b"two\n").unwrap(),
    ];
    let file_args: Vec<String> = files.iter().map(|f| f.path().display().to_string()).collect();
    let none = Vec::new;
    let cases = [
        case("blocking-read", "blocking-read", none(), "read,write,sendto", blocking_read),
        case("nonblocking-read", "nonblocking-read", none(), "read,preadv2", nonblocking_read),
        case("select", "select", none(), "pselect6,select,poll,ppoll", select),
        case("pselect", "pselect", none(), "pselect6,select,rt_sigprocmask", pselect),
        case("poll", "poll", none(), "poll,ppoll,pselect6,select", poll),
        case("epoll", "epoll", none(), EPOLL_CALLS, epoll),
        case(
            "tokio-chat",
            "tokio-chat",
            none(),
            "epoll_wait,epoll_pwait,epoll_ctl,accept4,recvfrom",
            tokio_chat,
        ),
        case("curl-multi", "curl-multi", none(), "poll,ppoll,pselect6,select", curl_multi),
        case("curl-select", "curl-select", none(), "poll,ppoll,pselect6,select", curl_select),
        case("aio-poll-loop", "aio-poll-loop", none(), AIO_CALLS, aio),
        case("aio-callback", "aio-callback", none(), AIO_CALLS, aio_callback),
        case("aio-callback FILES", "aio-callback", file_args, AIO_CALLS, aio_files),
        case("aio-cancel", "aio-cancel", none(), AIO_CALLS, aio),
        case("curl-socket", "curl-socket", none(), CURL_SOCKET_CALLS, curl_socket),
        case("io-uring", "io-uring", none(), URING_CALLS, io_uring),
    ];
    // A demo in demos.toml with no case here would go unchecked: refuse that.
    let unchecked: Vec<&str> = robustness::demos()
        .iter()
        .map(|d| d.name)
        .filter(|name| !cases.iter().any(|c| c.demo == *name))
        .collect();
    assert!(
        unchecked.is_empty(),
        "demos with no strace case in crates/robustness/tests/trace.rs: {unchecked:?}"
    );
    let mut failed = Vec::new();
    println!("\nstrace -f: each demo's system calls, checked by their arguments");
    for case in &cases {
        let bin = binary(case.demo);
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let Some(run) = strace::run(&bin, &args, case.calls, &[]) else { return };
        let verdict = if run.code != 0 {
            Err(format!("exit code {} under strace; stderr: {}", run.code, run.stderr.trim()))
        } else {
            (case.check)(&run)
        };
        match verdict {
            Ok(evidence) => println!("{:<19} {evidence}  OK", format!("{}:", case.label)),
            Err(why) => {
                println!("{:<19} {why}  FAILED", format!("{}:", case.label));
                failed.push(format!("{}: {why}\n--- trace ---\n{}", case.label, tail(&run.trace.text, 60)));
            }
        }
    }
    println!("{} of {} runs show their technique", cases.len() - failed.len(), cases.len());
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// The last `n` lines of a trace, for a failure message that fits on a screen.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Fails with `why` unless `ok`.
fn ensure(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

/// The one event with this name (or a failure saying it is missing).
fn event<'a>(run: &'a Traced, name: &str) -> Result<&'a Value, String> {
    run.all(name).first().copied().ok_or_else(|| format!("no {name:?} event in the demo's --json output"))
}

/// An integer field of an event.
fn int(event: &Value, field: &str) -> Result<i64, String> {
    event[field].as_i64().ok_or_else(|| format!("no integer {field:?} in {event}"))
}

/// A call shortened for the report: arguments over 40 characters are cut.
fn short(call: &Call) -> String {
    let args: Vec<String> = call
        .args
        .iter()
        .map(|a| {
            if a.len() > 40 {
                format!("{}...", &a[..a.char_indices().nth(36).map_or(a.len(), |(i, _)| i)])
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{}({})", call.name, args.join(", "))
}

/// blocking-read: the main thread's read() on the pipe (and then on the socket) is still
/// inside the kernel when the writer thread writes; it returns the writer's bytes.
fn blocking_read(run: &Traced) -> Verdict {
    let t = &run.trace;
    let mut seen = Vec::new();
    // (Rust writes to a socket with sendto, to a pipe with write.)
    for (source, fd_event, writer_call, data) in [
        ("pipe", "pipe", "write", "\"hello through a pipe\\n\""),
        ("socket", "socketpair", "sendto", "\"hello through a socket\\n\""),
    ] {
        let fd = int(event(run, fd_event)?, "read_fd")?;
        let read = t
            .named("read")
            .find(|c| c.pid == t.main_pid && c.fd() == Some(fd) && c.arg(1) == data)
            .ok_or_else(|| format!("no read({fd}) on the main thread returning {data}"))?;
        // The writer thread's write came while the read was still waiting.
        let write = t
            .named(writer_call)
            .find(|w| w.pid != t.main_pid && w.arg(1) == data && w.started_at > read.started_at)
            .ok_or_else(|| {
                format!("no {writer_call} of {data} from another thread after read({fd}) began")
            })?;
        ensure(read.was_split() && write.started_at < read.returned_at, || {
            format!("read({fd}) on the {source} did not wait for the writer: {}", read.text)
        })?;
        ensure(!t.named("read").any(|c| c.fd() == Some(fd) && c.failed_with("EAGAIN")), || {
            format!("read({fd}) failed with EAGAIN: the {source} is not blocking")
        })?;
        seen.push(format!(
            "read({fd}) on the {source} = {} after waiting across [writer] {writer_call}()",
            read.result
        ));
    }
    ensure(!t.has_any(&["poll", "pselect6", "select"]), || {
        "a multiplexing call in a blocking-read trace".into()
    })?;
    Ok(seen.join("; "))
}

/// nonblocking-read: read() on the O_NONBLOCK pipe fails with EAGAIN (many times) before
/// the data comes; on the regular file only preadv2(RWF_NOWAIT) ever says EAGAIN.
fn nonblocking_read(run: &Traced) -> Verdict {
    let t = &run.trace;
    let file_fd = int(event(run, "open")?, "fd")?;
    let pipe_fd = int(event(run, "set_nonblocking")?, "fd")?;
    let reads = || t.named("read").filter(|c| c.pid == t.main_pid);
    let eagain = reads().filter(|c| c.fd() == Some(pipe_fd) && c.failed_with("EAGAIN")).count();
    ensure(eagain >= 10, || format!("only {eagain} read({pipe_fd}) = -1 EAGAIN on the pipe"))?;
    let data = reads()
        .find(|c| c.fd() == Some(pipe_fd) && c.returned() > Some(0))
        .ok_or_else(|| format!("read({pipe_fd}) never returned the data"))?;
    ensure(!reads().any(|c| c.fd() == Some(file_fd) && c.failed_with("EAGAIN")), || {
        format!("read({file_fd}) on the regular file failed with EAGAIN")
    })?;
    let nowait = t
        .named("preadv2")
        .find(|c| c.fd() == Some(file_fd) && c.last_arg() == "RWF_NOWAIT" && c.failed_with("EAGAIN"))
        .ok_or_else(|| format!("no preadv2({file_fd}, ..., RWF_NOWAIT) = -1 EAGAIN"))?;
    Ok(format!(
        "read({pipe_fd}) = -1 EAGAIN x{eagain} then {}; preadv2({}, ..., {}) = -1 EAGAIN on the file, \
         whose read() never fails",
        data.result.split(' ').next().unwrap_or("?"),
        nowait.arg(0),
        nowait.last_arg()
    ))
}

/// The chat listener fds, from the demo's `listening` event.
fn listeners(run: &Traced) -> Result<[i64; 2], String> {
    let listening = event(run, "listening")?;
    Ok([int(listening, "chat_fd")?, int(listening, "stats_fd")?])
}

/// The fds of the chat clients the server accepted, from its `accepted` events.
fn clients(run: &Traced) -> Result<Vec<i64>, String> {
    let fds: Vec<i64> = run.all("accepted").iter().filter_map(|e| e["fd"].as_i64()).collect();
    ensure(!fds.is_empty(), || "no accepted clients".into())?;
    Ok(fds)
}

/// True when an fd-set argument as strace prints it (`[3 4 6]`) holds `fd`.
fn set_has(set: &str, fd: i64) -> bool {
    set.trim_matches(|c| c == '[' || c == ']').split_whitespace().any(|f| f.parse() == Ok(fd))
}

/// select: every pselect6 has a NULL sixth argument (that is what glibc's select() is),
/// and they watch the listeners for reading.
fn select(run: &Traced) -> Verdict {
    let [chat, stats] = listeners(run)?;
    let calls: Vec<&Call> = run.trace.named("pselect6").collect();
    ensure(!calls.is_empty(), || "no pselect6 at all".into())?;
    if let Some(masked) = calls.iter().find(|c| c.last_arg() != "NULL") {
        return Err(format!("a pselect6 with a sigmask: {}", masked.text));
    }
    let server = calls.iter().filter(|c| set_has(c.arg(1), chat) && set_has(c.arg(1), stats)).count();
    ensure(server >= 3, || {
        format!("only {server} pselect6 calls watch listeners {chat} and {stats} for reading")
    })?;
    let clients = clients(run)?;
    if let Some(fd) = clients.iter().find(|&&fd| !calls.iter().any(|c| set_has(c.arg(1), fd))) {
        return Err(format!("client fd {fd} is in no pselect6 read set"));
    }
    Ok(format!(
        "pselect6(nfds, [{chat} {stats} +{} clients], ..., NULL) x{}, none with a sigmask; e.g. {}",
        clients.len(),
        calls.len(),
        short(calls[0])
    ))
}

/// pselect: every pselect6 carries a sigmask struct, and the three signals are blocked
/// outside it.
fn pselect(run: &Traced) -> Verdict {
    let [chat, stats] = listeners(run)?;
    let calls: Vec<&Call> = run.trace.named("pselect6").collect();
    ensure(!calls.is_empty(), || "no pselect6 at all".into())?;
    if let Some(bare) = calls.iter().find(|c| !c.last_arg().starts_with("{sigmask=")) {
        return Err(format!("a pselect6 without a sigmask: {}", bare.text));
    }
    let server = calls.iter().filter(|c| set_has(c.arg(1), chat) && set_has(c.arg(1), stats)).count();
    ensure(server >= 3, || format!("only {server} pselect6 calls watch listeners {chat} and {stats}"))?;
    let blocked = run
        .trace
        .named("rt_sigprocmask")
        .find(|c| c.arg(0) == "SIG_BLOCK" && c.arg(1) == "[INT USR1 TERM]")
        .ok_or("no rt_sigprocmask(SIG_BLOCK, [INT USR1 TERM], ...)")?;
    Ok(format!("pselect6(..., {}) x{}; outside it {}", calls[0].last_arg(), calls.len(), short(blocked)))
}

/// poll: the server's poll() arrays ask for POLLIN on both listeners (not the startup
/// poll on fds 0-2 with events=0), with the demo's 400 ms timeout, and POLLOUT once a
/// client has output queued. No pselect6 at all.
fn poll(run: &Traced) -> Verdict {
    let [chat, stats] = listeners(run)?;
    let t = &run.trace;
    let wants = |c: &Call, fd: i64| c.arg(0).contains(&format!("{{fd={fd}, events=POLLIN}}"));
    let server: Vec<&Call> = t.named("poll").filter(|c| wants(c, chat) && wants(c, stats)).collect();
    ensure(server.len() >= 3, || {
        format!("only {} poll calls ask POLLIN on {chat} and {stats}", server.len())
    })?;
    ensure(server.iter().all(|c| c.arg(2) == "400"), || "a server poll without the 400 ms timeout".into())?;
    ensure(server.iter().any(|c| c.arg(0).contains("events=POLLIN|POLLOUT")), || {
        "no POLLOUT interest".into()
    })?;
    let clients = clients(run)?;
    let asks_pollin =
        |fd: i64| server.iter().any(|c| c.arg(0).contains(&format!("{{fd={fd}, events=POLLIN")));
    if let Some(fd) = clients.iter().find(|&&fd| !asks_pollin(fd)) {
        return Err(format!("client fd {fd} never asked for POLLIN"));
    }
    let startup = t.named("poll").filter(|c| c.arg(0).contains("events=0}")).count();
    ensure(!t.has_any(&["pselect6", "select"]), || "a select call in the poll demo".into())?;
    Ok(format!(
        "poll([{{fd={chat}, events=POLLIN}}, {{fd={stats}, events=POLLIN}}, +{} clients POLLIN], N, 400) x{} \
         (+{startup} startup poll, events=0); POLLIN|POLLOUT when output is queued",
        clients.len(),
        server.len()
    ))
}

/// The calls an epoll trace keeps.
const EPOLL_CALLS: &str = "epoll_wait,epoll_pwait,epoll_ctl,epoll_create1,close,poll,ppoll,pselect6,select";

/// epoll: the listeners are added to the epoll instance once, a client's EPOLLOUT is
/// switched with EPOLL_CTL_MOD, each client is deleted before its close(), and the
/// server waits with epoll_wait on that instance (with the demo's 400 ms timeout). No
/// poll or select on the listeners.
fn epoll(run: &Traced) -> Verdict {
    let [chat, stats] = listeners(run)?;
    let t = &run.trace;
    let epfd = int(event(run, "epoll_created")?, "epfd")?;
    let ctl = |op: &'static str| t.named("epoll_ctl").filter(move |c| c.fd() == Some(epfd) && c.arg(1) == op);
    for fd in [chat, stats] {
        let adds = ctl("EPOLL_CTL_ADD").filter(|c| c.arg(2) == fd.to_string()).count();
        ensure(adds == 1, || format!("listener {fd} added {adds} times to epoll fd {epfd}"))?;
    }
    let waits: Vec<&Call> = t.named("epoll_wait").filter(|c| c.fd() == Some(epfd)).collect();
    ensure(waits.len() >= 3, || format!("only {} epoll_wait calls on fd {epfd}", waits.len()))?;
    ensure(waits.iter().any(|c| c.last_arg() == "400"), || "no epoll_wait with the 400 ms timeout".into())?;
    let mods = ctl("EPOLL_CTL_MOD").count();
    ensure(mods > 0, || "no EPOLL_CTL_MOD".into())?;
    let clients = clients(run)?;
    let mut deleted = 0;
    for fd in &clients {
        let del = ctl("EPOLL_CTL_DEL").find(|c| c.arg(2) == fd.to_string());
        let close = t
            .named("close")
            .find(|c| c.fd() == Some(*fd) && del.is_some_and(|d| c.started_at > d.started_at));
        if del.is_some() && close.is_some() {
            deleted += 1;
        }
    }
    ensure(deleted == clients.len(), || {
        format!("only {deleted} of {} clients deleted before close", clients.len())
    })?;
    let listened = |c: &&Call| c.arg(0).contains(&format!("{{fd={chat}, events=POLLIN"));
    ensure(!t.named("poll").any(|c| listened(&c)) && !t.has_any(&["pselect6", "select"]), || {
        "a poll or select on the listeners".into()
    })?;
    Ok(format!(
        "epoll_ctl(ADD) once per fd, EPOLL_CTL_MOD x{mods} (EPOLLOUT on/off), DEL before close for {deleted} clients; \
         epoll_wait({epfd}, ..., 256, 400) x{}",
        waits.len()
    ))
}

/// tokio-chat: no wait call in the program, yet the runtime's reactor waits with
/// epoll_wait; the sockets are non-blocking: accept4 with SOCK_NONBLOCK returns
/// EAGAIN on the chat listener, recvfrom returns EAGAIN on client sockets (each time a
/// task's read finds nothing and the task is parked).
fn tokio_chat(run: &Traced) -> Verdict {
    let [chat, _] = listeners(run)?;
    let t = &run.trace;
    let waits = t.named("epoll_wait").chain(t.named("epoll_pwait")).count();
    ensure(waits >= 3, || format!("only {waits} epoll_wait calls"))?;
    let accepts: Vec<&Call> = t.named("accept4").filter(|c| c.fd() == Some(chat)).collect();
    ensure(accepts.iter().all(|c| c.last_arg().contains("SOCK_NONBLOCK")), || {
        "an accept4 without SOCK_NONBLOCK".into()
    })?;
    let accept_eagain = accepts.iter().filter(|c| c.failed_with("EAGAIN")).count();
    ensure(accept_eagain > 0, || format!("no accept4({chat}) = -1 EAGAIN"))?;
    let clients = clients(run)?;
    let recv_eagain = t
        .named("recvfrom")
        .filter(|c| c.fd().is_some_and(|fd| clients.contains(&fd)) && c.failed_with("EAGAIN"))
        .count();
    ensure(recv_eagain > 0, || "no recvfrom on a client = -1 EAGAIN".into())?;
    let registered = t.named("epoll_ctl").filter(|c| c.arg(1) == "EPOLL_CTL_ADD").count();
    Ok(format!(
        "epoll_wait x{waits} (the reactor; {registered} EPOLL_CTL_ADD); accept4({chat}, ..., SOCK_CLOEXEC|SOCK_NONBLOCK) \
         = -1 EAGAIN x{accept_eagain}; recvfrom(client) = -1 EAGAIN x{recv_eagain}"
    ))
}

/// Which libcurl the demo linked, from its `curl_global_init` event: true when it
/// waits with select() (a bundled copy built without HAVE_POLL), and its description.
fn libcurl(run: &Traced) -> Result<(bool, String), String> {
    let init = event(run, "curl_global_init")?;
    let vendored = init["vendored"].as_bool().ok_or("no vendored flag in curl_global_init")?;
    let selects = init["waits_with"].as_str().ok_or("no waits_with in curl_global_init")? == "select";
    let version = init["version"].as_str().unwrap_or("?");
    Ok((selects, format!("{} libcurl {version}", if vendored { "bundled" } else { "system" })))
}

/// A poll shaped like curl_multi_wait's on the main thread: plain POLLIN/POLLOUT per
/// socket and a timeout above zero (libcurl's own checks use POLLRDNORM/POLLWRNORM and
/// timeout 0; the startup poll has events=0).
fn is_multi_wait(run: &Traced, c: &Call) -> bool {
    c.pid == run.trace.main_pid
        && c.name == "poll"
        && c.arg(0).contains("events=POLL")
        && !c.arg(0).contains("NORM")
        && !c.arg(0).contains("events=0}")
        && c.arg(2).parse::<i64>().is_ok_and(|ms| ms > 0)
}

/// A pselect6 as glibc's select() makes it on the main thread, watching some fds, with
/// a timeout above zero.
fn is_select_wait(run: &Traced, c: &Call) -> bool {
    c.pid == run.trace.main_pid
        && c.name == "pselect6"
        && c.last_arg() == "NULL"
        && c.arg(0) != "0"
        && c.arg(4) != "{tv_sec=0, tv_nsec=0}"
}

/// curl-multi: curl_multi_wait is poll() in a libcurl built with HAVE_POLL; a bundled
/// libcurl built without it waits in select(), so it is checked for that instead, and
/// says so.
fn curl_multi(run: &Traced) -> Verdict {
    let (selects_only, which) = libcurl(run)?;
    let waits: Vec<&Call> = run.trace.calls.iter().filter(|c| is_multi_wait(run, c)).collect();
    let selects: Vec<&Call> = run.trace.calls.iter().filter(|c| is_select_wait(run, c)).collect();
    if selects_only {
        ensure(waits.is_empty() && selects.len() >= 3, || {
            format!(
                "{which}: expected pselect6 waits and no poll waits, got {} and {}",
                selects.len(),
                waits.len()
            )
        })?;
        return Ok(format!(
            "{which} (built without poll): curl_multi_wait = pselect6(..., NULL) x{}",
            selects.len()
        ));
    }
    ensure(waits.len() >= 3, || format!("{which}: only {} curl_multi_wait-shaped polls", waits.len()))?;
    ensure(!run.trace.has_any(&["pselect6", "select"]), || format!("{which}: a select call"))?;
    let example = waits.iter().find(|c| c.arg(0).contains("events=POLLIN}")).unwrap_or(&waits[0]);
    Ok(format!("{which}: curl_multi_wait = {} x{}, no pselect6", short(example), waits.len()))
}

/// curl-select: its own select() over curl_multi_fdset's sets is pselect6 with a NULL
/// sixth argument; nothing waits in poll the way curl_multi_wait does.
fn curl_select(run: &Traced) -> Verdict {
    let (_, which) = libcurl(run)?;
    let selects: Vec<&Call> = run.trace.calls.iter().filter(|c| is_select_wait(run, c)).collect();
    ensure(selects.len() >= 3, || format!("only {} select-shaped pselect6 calls", selects.len()))?;
    let waits = run.trace.calls.iter().filter(|c| is_multi_wait(run, c)).count();
    ensure(waits == 0, || format!("{waits} curl_multi_wait-shaped polls"))?;
    let internal = run
        .trace
        .named("poll")
        .filter(|c| c.pid == run.trace.main_pid && c.arg(2) == "0" && !c.arg(0).contains("events=0}"))
        .count();
    Ok(format!(
        "{} x{}, no waiting poll ({internal} zero-timeout polls are libcurl's own checks; {which})",
        short(selects[0]),
        selects.len()
    ))
}

/// The calls an AIO trace keeps: thread starts, the reads, and kernel AIO (which must
/// never appear).
const AIO_CALLS: &str = "clone,clone3,pread64,read,io_setup,io_submit,io_getevents,io_uring_setup";

/// What the AIO workers did.
struct Workers {
    /// Distinct threads (not main) that called pread64.
    threads: Vec<u32>,
    preads: usize,
    /// pread64 = ESPIPE followed by the same thread's read() on that fd.
    espipe_then_read: usize,
    /// pread64 that returned data.
    preads_with_data: usize,
    example: String,
}

/// The AIO checks every demo shares: reads are made by threads other than main
/// (glibc's workers): pread64, or read() on the same fd after pread64 fails with
/// ESPIPE (pipes); main makes no pread64 once it has started a thread (the loader's
/// before main() are not AIO); and no kernel AIO at all.
fn aio_workers(run: &Traced) -> Result<Workers, String> {
    let t = &run.trace;
    if let Some(kernel) = t.calls.iter().find(|c| c.name.starts_with("io_")) {
        return Err(format!("kernel AIO: {}", kernel.text));
    }
    let threads_from = t.first_thread_started_at().ok_or("the main thread started no thread")?;
    if let Some(own) = t.named("pread64").find(|c| c.pid == t.main_pid && c.started_at > threads_from) {
        return Err(format!("the main thread read for itself: {}", own.text));
    }
    let mut w = Workers {
        threads: vec![],
        preads: 0,
        espipe_then_read: 0,
        preads_with_data: 0,
        example: String::new(),
    };
    for p in t.named("pread64").filter(|c| c.pid != t.main_pid) {
        w.preads += 1;
        if !w.threads.contains(&p.pid) {
            w.threads.push(p.pid);
        }
        if p.returned().is_some() {
            w.preads_with_data += 1;
            if w.example.is_empty() {
                w.example = format!("[worker] {} = {}", short(p), p.result);
            }
            continue;
        }
        let then = t
            .calls
            .iter()
            .find(|c| {
                c.pid == p.pid && c.started_at > p.started_at && c.name != "clone3" && c.name != "clone"
            })
            .filter(|c| p.failed_with("ESPIPE") && c.name == "read" && c.fd() == p.fd());
        match then {
            Some(read) => {
                w.espipe_then_read += 1;
                if w.example.is_empty() {
                    w.example = format!(
                        "[worker] pread64({}) = -1 ESPIPE, then read({}) = {}",
                        p.arg(0),
                        read.arg(0),
                        read.result.split(' ').next().unwrap_or("?")
                    );
                }
            }
            None => {
                return Err(format!("a worker's pread64 neither read nor fell back to read(): {}", p.text))
            }
        }
    }
    ensure(w.preads > 0, || "no pread64 from any worker thread".into())?;
    Ok(w)
}

fn aio_summary(w: &Workers) -> String {
    format!(
        "{} worker thread(s), pread64 x{} ({} data, {} ESPIPE then read); {}; main: no pread64; no io_setup/io_submit",
        w.threads.len(),
        w.preads,
        w.preads_with_data,
        w.espipe_then_read,
        w.example
    )
}

fn aio(run: &Traced) -> Verdict {
    aio_workers(run).map(|w| aio_summary(&w))
}

/// aio-callback: one worker per fd, and each worker starts a thread for the callback.
fn aio_callback(run: &Traced) -> Verdict {
    let w = aio_workers(run)?;
    let inputs = run.all("aio_read").len();
    ensure(w.threads.len() == inputs, || format!("{} workers for {inputs} fds", w.threads.len()))?;
    let callbacks = run
        .trace
        .calls
        .iter()
        .filter(|c| (c.name == "clone3" || c.name == "clone") && w.threads.contains(&c.pid))
        .count();
    ensure(callbacks >= inputs, || {
        format!("workers started {callbacks} callback threads for {inputs} reads")
    })?;
    Ok(format!("{}; workers started {callbacks} SIGEV_THREAD callback threads", aio_summary(&w)))
}

/// aio-callback on regular files: the workers' pread64 succeed at offset 0 with the bytes.
fn aio_files(run: &Traced) -> Verdict {
    let w = aio_workers(run)?;
    let t = &run.trace;
    for data in ["\"one\\n\"", "\"two\\n\""] {
        ensure(
            t.named("pread64").any(|c| c.pid != t.main_pid && c.arg(1) == data && c.arg(3) == "0"),
            || format!("no worker pread64(fd, {data}, n, 0)"),
        )?;
    }
    Ok(aio_summary(&w))
}

/// The calls curl-socket is about, and the waits it must not make.
const CURL_SOCKET_CALLS: &str = "epoll_wait,epoll_pwait,epoll_ctl,timerfd_settime,poll,ppoll,pselect6,select";

/// curl-socket: the main thread waits in epoll_wait on the epoll fd it narrated, the
/// socket callback's epoll_ctl puts curl's sockets on it, the timer callback sets the
/// timerfd; no curl_multi_wait-shaped poll and no select wait.
fn curl_socket(run: &Traced) -> Verdict {
    let epfd = int(event(run, "multi_init")?, "epoll_fd")?.to_string();
    let t = &run.trace;
    let main = |c: &&Call| c.pid == t.main_pid;
    let waits: Vec<&Call> = t
        .calls
        .iter()
        .filter(main)
        .filter(|c| (c.name == "epoll_wait" || c.name == "epoll_pwait") && c.arg(0) == epfd)
        .collect();
    ensure(waits.len() >= 5, || format!("only {} epoll_wait calls on fd {epfd}", waits.len()))?;
    ensure(waits.iter().any(|c| c.returned().is_some_and(|n| n >= 1)), || {
        "no epoll_wait returned an event".into()
    })?;
    let sockets: Vec<String> = run.all("socket_opened").iter().map(|s| s["fd"].to_string()).collect();
    let added: Vec<&Call> =
        t.named("epoll_ctl").filter(|c| c.arg(0) == epfd && c.arg(1) == "EPOLL_CTL_ADD").collect();
    for fd in &sockets {
        ensure(added.iter().any(|c| &c.arg(2).to_string() == fd), || {
            format!("socket fd {fd} never EPOLL_CTL_ADDed")
        })?;
    }
    let timers = t.named("timerfd_settime").count();
    ensure(timers >= 1, || "no timerfd_settime: curl's timer was never set".into())?;
    ensure(!t.calls.iter().any(|c| is_multi_wait(run, c) || is_select_wait(run, c)), || {
        "a poll or select wait on the main thread: curl-socket must wait only in epoll_wait".into()
    })?;
    Ok(format!(
        "epoll_wait({epfd}, ...) x{}, epoll_ctl ADD for all {} sockets, timerfd_settime x{timers}; no poll/select wait",
        waits.len(),
        sockets.len()
    ))
}

/// The calls io-uring is about: the ring's, thread starts, and the plain reads it must
/// not need.
const URING_CALLS: &str = "io_uring_setup,io_uring_enter,clone,clone3,pread64,preadv,preadv2";

/// io-uring: one io_uring_setup on the main thread, its reads submitted and reaped with
/// io_uring_enter on that ring, no thread started after the ring exists (the device's
/// thread comes before it), and no pread64 anywhere.
fn io_uring(run: &Traced) -> Verdict {
    let t = &run.trace;
    let setups: Vec<&Call> = t.named("io_uring_setup").collect();
    ensure(setups.len() == 1 && setups[0].pid == t.main_pid, || {
        format!("{} io_uring_setup calls", setups.len())
    })?;
    let ring = setups[0].returned().ok_or("io_uring_setup failed")?.to_string();
    ensure(ring == int(event(run, "io_uring_setup")?, "ring_fd")?.to_string(), || {
        "ring fd differs from the narrated one".into()
    })?;
    let enters: Vec<&Call> =
        t.named("io_uring_enter").filter(|c| c.pid == t.main_pid && c.arg(0) == ring).collect();
    ensure(enters.len() >= 10, || format!("only {} io_uring_enter calls on fd {ring}", enters.len()))?;
    let submitted: i64 = enters.iter().filter_map(|c| c.returned()).filter(|n| *n > 0).sum();
    let waited = enters.iter().filter(|c| c.arg(2).parse::<i64>().is_ok_and(|n| n >= 1)).count();
    ensure(waited >= 1, || "no io_uring_enter waited for a completion (min_complete 0 everywhere)".into())?;
    let after = setups[0].started_at;
    let late: Vec<&Call> = t
        .calls
        .iter()
        .filter(|c| (c.name == "clone" || c.name == "clone3") && c.started_at > after)
        .collect();
    ensure(late.is_empty(), || {
        format!("{} thread(s) started after io_uring_setup: {:?}", late.len(), late.first().map(|c| &c.text))
    })?;
    // (The dynamic loader preads ELF headers at startup: only calls after setup count.)
    let preads = t.calls.iter().filter(|c| c.name.starts_with("pread") && c.started_at > after).count();
    ensure(preads == 0, || format!("{preads} pread call(s): the reads must go through the ring"))?;
    Ok(format!(
        "io_uring_setup = fd {ring}; io_uring_enter x{} ({submitted} requests submitted, {waited} waits); \
         no clone after setup, no pread64",
        enters.len()
    ))
}
