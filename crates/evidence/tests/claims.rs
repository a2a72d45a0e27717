//! Builds and runs every evidence program and checks that its output still supports the
//! book's claim: each program's own verdicts (`holds:` lines, exit 0) and, here, the exact
//! facts the book quotes from it. A claim that stops being true fails this test.

use evidence::{find, run, Outcome, PROGRAMS};
use std::path::Path;

/// Runs `name` and returns its stdout, after checking that it exited 0 with no `FAILS:`
/// line and with at least one `holds:`. None when the program was skipped (the reason
/// is printed, so a skip is visible in the test output).
fn output_of(name: &str) -> Option<String> {
    let program = find(name).unwrap_or_else(|| panic!("no evidence program {name}"));
    let bins = Path::new(env!("CARGO_BIN_EXE_sigpipe-rust")).parent().expect("bin folder").to_path_buf();
    match run(program, &bins).unwrap_or_else(|e| panic!("{name}: {e}")) {
        Outcome::Skipped(reason) => {
            eprintln!("SKIPPED {name}: {reason}");
            None
        }
        Outcome::Ran { code, stdout, stderr, took } => {
            assert!(!stdout.contains("FAILS:"), "{name}: a claim failed:\n{stdout}{stderr}");
            assert_eq!(code, Some(0), "{name} exited {code:?}:\n{stdout}{stderr}");
            assert!(stdout.contains("holds:"), "{name} checked nothing:\n{stdout}");
            assert!(took.as_secs() < 5, "{name} took {took:?}");
            if stdout.starts_with("SKIPPED:") {
                eprintln!("{name}: {stdout}");
            }
            Some(stdout)
        }
    }
}

/// The line of `out` that starts with `prefix` (after leading spaces).
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{out}"))
}

/// The number that follows `after` in `text`.
fn number_after(text: &str, after: &str) -> f64 {
    let rest = &text[text.find(after).unwrap_or_else(|| panic!("{after:?} not in {text:?}")) + after.len()..];
    let digits: String =
        rest.trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-').collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {after:?} in {text:?}"))
}

#[test]
fn every_program_is_listed_once_and_has_a_source() {
    for (i, p) in PROGRAMS.iter().enumerate() {
        assert!(PROGRAMS[i + 1..].iter().all(|q| q.name != p.name), "{} listed twice", p.name);
        let path = match p.kind {
            evidence::Kind::C { .. } => evidence::source_dir().join(format!("{}.c", p.name)),
            evidence::Kind::Rust => {
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/bin/{}.rs", p.name))
            }
        };
        assert!(path.exists(), "{}: {} is missing", p.name, path.display());
        let chapter = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/src").join(p.chapter);
        let text = std::fs::read_to_string(&chapter).unwrap_or_else(|e| panic!("{}: {e}", chapter.display()));
        assert!(
            text.contains(&format!("just evidence {}", p.name)),
            "{} does not show {}",
            p.chapter,
            p.name
        );
    }
}

#[test]
fn short_io() {
    let Some(out) = output_of("short-io") else { return };
    assert_eq!(line(&out, "read(fd, buf, 4096)"), "read(fd, buf, 4096) -> 10");
    assert_eq!(line(&out, "read -> "), "read -> 12 bytes: \"hello world\"");
    let partial = number_after(line(&out, "write(fd, buf, 1048576)"), "->");
    assert!(partial > 0.0 && partial < 1048576.0, "{out}");
    assert!(line(&out, "write(fd, buf + ").ends_with("-> -1 EAGAIN"), "{out}");
    assert!(line(&out, "-- the two names").ends_with("EAGAIN = 11, EWOULDBLOCK = 11"), "{out}");
}

#[test]
fn select_rewrites() {
    let Some(out) = output_of("select-rewrites") else { return };
    assert!(line(&out, "select #1").ends_with("the timeout now holds 0.000000 s"), "{out}");
    assert!(number_after(line(&out, "select #2"), "after") < 150.0, "{out}");
    assert_eq!(line(&out, "pselect -> 0;"), "pselect -> 0; the timeout still holds 0.100000000 s");
    assert_eq!(line(&out, "select -> 2 for one fd"), "select -> 2 for one fd (readable: yes, writable: yes)");
    assert_eq!(line(&out, "reset:"), "reset: select -> 1 (in readfds: yes, in exceptfds: no)");
    assert_eq!(line(&out, "out-of-band byte:"), "out-of-band byte: select -> 1 (in exceptfds: yes)");
}

#[test]
fn spurious_readiness() {
    let Some(out) = output_of("spurious-readiness") else { return };
    let reads: Vec<&str> =
        out.lines().filter(|l| l.trim_start().starts_with("read -> -1 EAGAIN after")).collect();
    assert_eq!(reads.len(), 2, "{out}");
    assert!(number_after(reads[0], "after") >= 250.0, "the blocking read did not block: {out}");
    assert!(number_after(reads[1], "after") < 150.0, "the non-blocking read waited: {out}");
}

#[test]
fn sigpipe_kills_a_c_writer() {
    let Some(out) = output_of("sigpipe") else { return };
    assert_eq!(line(&out, "the writer was killed"), "the writer was killed by PIPE (signal 13)");
    assert_eq!(out.matches("send -> -1 EPIPE").count(), 2, "{out}");
}

#[test]
fn sigpipe_is_an_error_in_rust() {
    let Some(out) = output_of("sigpipe-rust") else { return };
    assert_eq!(line(&out, "write ->"), "write -> Err: BrokenPipe, errno 32 (EPIPE is 32)");
    assert!(out.contains("still running after the write"));
}

#[test]
fn sa_restart() {
    let Some(out) = output_of("sa-restart") else { return };
    let lines: Vec<&str> = out.lines().map(str::trim_start).collect();
    assert!(lines.iter().any(|l| l.starts_with("read()       -> 1 after")), "{out}");
    for call in ["poll()", "select()", "epoll_wait()"] {
        let l = line(&out, &format!("{call} "));
        assert!(l.contains("-> -1 EINTR"), "{l}");
        assert!(number_after(l, "after") < 900.0, "{call} was not interrupted early: {l}");
    }
    assert!(lines.last().is_some_and(|l| l.starts_with("holds: without SA_RESTART")), "{out}");
}

#[test]
fn wakeup() {
    let Some(out) = output_of("wakeup") else { return };
    assert!(line(&out, "signal raised before poll").contains("poll -> 1"), "{out}");
    assert!(line(&out, "poll -> 1 after").ends_with("revents=POLLIN; read the counter: 1"), "{out}");
}

#[test]
fn poll_revents() {
    let Some(out) = output_of("poll-revents") else { return };
    let revents = |how: &str| {
        let l = line(&out, how);
        l[l.find("revents=").expect("revents") + 8..].to_string()
    };
    assert_eq!(revents("TCP, the peer called close():"), "POLLIN|POLLRDHUP; read -> 0");
    assert_eq!(revents("TCP, the peer sent 4 bytes"), "POLLIN|POLLRDHUP; read -> 4");
    assert_eq!(revents("TCP, the peer called shutdown"), "POLLIN|POLLRDHUP; read -> 0");
    assert_eq!(revents("TCP, then we shut our side too:"), "POLLIN|POLLRDHUP|POLLHUP; read -> 0");
    assert_eq!(revents("TCP, the peer reset"), "POLLIN|POLLRDHUP|POLLERR|POLLHUP; read -> -1 ECONNRESET");
    assert_eq!(revents("pipe, the writer closed"), "POLLHUP; read -> 0");
    assert_eq!(revents("Unix stream socket"), "POLLIN|POLLRDHUP|POLLHUP; read -> 0");
    assert_eq!(revents("an fd number that is not open:"), "POLLNVAL");
    assert_eq!(revents("fd = -1"), "0");
}

#[test]
fn curl_wait_vs_poll() {
    let Some(out) = output_of("curl-wait-vs-poll") else { return };
    assert!(number_after(line(&out, "curl_multi_wait returned after"), "after") < 250.0, "{out}");
    let polls: Vec<&str> = out.lines().filter(|l| l.starts_with("curl_multi_poll returned after")).collect();
    assert_eq!(polls.len(), 2, "{out}");
    assert!(number_after(polls[0], "after") >= 450.0, "curl_multi_poll did not wait: {out}");
    let woken = number_after(polls[1], "after");
    assert!((90.0..1500.0).contains(&woken), "curl_multi_wakeup did not end the wait: {out}");
    assert!(
        line(&out, "curl_multi_wait(extra_fds=").ends_with("numfds=1, revents=CURL_WAIT_POLLIN"),
        "{out}"
    );
}

#[test]
fn curl_info_read() {
    let Some(out) = output_of("curl-info-read") else { return };
    let messages: Vec<&str> = out.lines().filter(|l| l.contains("curl_multi_info_read: msg=")).collect();
    assert_eq!(messages.len(), 2, "{out}");
    assert!(messages.iter().all(|m| m.contains("msg=CURLMSG_DONE")), "{out}");
    assert!(messages[0].contains("/delay/0") && messages[1].contains("/delay/600"), "{out}");
    assert!(number_after(messages[1], "[") >= 500.0, "{out}");
    assert_eq!(
        line(&out, "curl_multi_fdset(..., max_fd=NULL)"),
        "curl_multi_fdset(..., max_fd=NULL) in a child: Segmentation fault"
    );
}

#[test]
fn curl_response_code() {
    let Some(out) = output_of("curl-response-code") else { return };
    assert_eq!(line(&out, "before:"), "before: http_status_code = 0, the int next to it = 12345");
    assert_eq!(
        line(&out, "after curl_easy_getinfo"),
        "after curl_easy_getinfo(CURLINFO_RESPONSE_CODE, &int): http_status_code = 200, the int next to it = 0"
    );
}

#[test]
fn aio_error_values() {
    let Some(out) = output_of("aio-error-values") else { return };
    assert_eq!(line(&out, "AIO_CANCELED ="), "AIO_CANCELED = 0, AIO_NOTCANCELED = 1, AIO_ALLDONE = 2");
    assert_eq!(line(&out, "AIO_CANCELLED"), "AIO_CANCELLED (two Ls) is not defined in <aio.h>");
    assert_eq!(line(&out, "aio_error ->"), "aio_error -> 9 (EBADF)");
}

#[test]
fn kernel_aio() {
    let Some(out) = output_of("kernel-aio") else { return };
    if out.starts_with("SKIPPED:") {
        return;
    }
    let pipe = line(&out, "a pipe, written to 300 ms later:");
    assert!(number_after(pipe, "io_submit took") >= 250.0, "{out}");
    assert!(pipe.contains("completed when it returned: yes (res 4)"), "{out}");
    assert!(line(&out, "a cached file, no O_DIRECT:").contains("completed when it returned: yes (res 4096)"));
}

#[test]
fn aio_dead_aiocb() {
    let Some(out) = output_of("aio-dead-aiocb") else { return };
    assert!(
        line(&out, "bytes of the array changed since:").ends_with("__return_value, which now holds 4"),
        "{out}"
    );
    assert_eq!(
        line(&out, "the SIGEV_THREAD callback"),
        "the SIGEV_THREAD callback never ran (waited 500 ms)"
    );
}

#[test]
fn printf_unterminated() {
    let Some(out) = output_of("printf-unterminated") else { return };
    assert_eq!(line(&out, "strlen(buffer)"), "strlen(buffer) = 530, for a buffer of 512 bytes");
    assert_eq!(line(&out, "printf(\"%.*s\""), "printf(\"%.*s\", (int)n, buffer) prints 512 bytes");
}

#[test]
fn sigev_signature() {
    let Some(out) = output_of("sigev-signature") else { return };
    assert_eq!(
        line(&out, "struct sigevent's"),
        "struct sigevent's sigev_notify_function has type void (*)(union sigval)"
    );
}

#[test]
fn aio_append() {
    let Some(out) = output_of("aio-append") else { return };
    assert_eq!(line(&out, "aio_read(aio_offset=4"), "aio_read(aio_offset=4, 3 bytes) -> 3: \"456\"");
    assert!(line(&out, "aio_write(aio_offset=0").ends_with("the file now holds \"0123456789AB\""), "{out}");
}

#[test]
fn poll_hup_spin() {
    let Some(out) = output_of("poll-hup-spin") else { return };
    assert_eq!(
        line(&out, "pipe, writer closed, events=POLLIN:"),
        "pipe, writer closed, events=POLLIN: revents=POLLHUP"
    );
    let spin = line(&out, "a loop acting on POLLIN only:");
    assert!(number_after(spin, "only:") > 100.0, "poll did not return at once: {out}");
    assert!(spin.ends_with(" 0 with POLLIN"), "{out}");
    assert!(line(&out, "same pipe, events=0:").ends_with("revents=POLLHUP"), "{out}");
    assert!(line(&out, "closed fd").contains("revents=POLLNVAL;"), "{out}");
}

#[test]
fn aio_reqprio() {
    let Some(out) = output_of("aio-reqprio") else { return };
    assert_eq!(line(&out, "AIO_PRIO_DELTA_MAX ="), "AIO_PRIO_DELTA_MAX = 20");
    assert!(line(&out, "aio_reqprio = 21").ends_with("aio_read -1 EINVAL"), "{out}");
    assert!(line(&out, "aio_reqprio = -1").ends_with("aio_read -1 EINVAL"), "{out}");
    assert!(line(&out, "aio_reqprio = 0 ").contains("the read completed"), "{out}");
}

#[test]
fn aio_return_frees_nothing() {
    let Some(out) = output_of("aio-return-frees") else { return };
    assert_eq!(line(&out, "one read:"), "one read: aio_error -> 0, aio_return -> 10, aio_return again -> 10");
    let rss = line(&out, "20000 reads never collected");
    let (warm, all) = (number_after(rss, "peak RSS"), number_after(rss, "KiB after 1000,"));
    assert!(all - warm < 512.0, "{out}");
}

#[test]
fn curl_fdset_order() {
    let Some(out) = output_of("curl-fdset-order") else { return };
    assert!(line(&out, "select #").contains("-> -1 EBADF, with 1 transfer(s) still running"), "{out}");
    assert!(line(&out, "holds: fdset after perform").ends_with("both transfers finish"), "{out}");
    assert!(out.contains("2 transfer(s) finished, select failed: never"), "{out}");
}

#[test]
fn curl_timer_perform() {
    let Some(out) = output_of("curl-timer-perform") else { return };
    let late = line(&out, "perform only when select > 0:");
    assert!(number_after(late, "ended after") >= 1400.0, "{out}");
    let on_time = line(&out, "perform after every select:");
    assert!(number_after(on_time, "ended after") < 1000.0, "{out}");
    assert!(on_time.ends_with("Timeout was reached"), "{out}");
}

#[test]
fn notes_typos() {
    let Some(out) = output_of("notes-typos") else { return };
    assert!(line(&out, "#include aio.h ").contains("cc fails: error: #include expects"), "{out}");
    assert!(line(&out, "#include <aio.h> ").ends_with("cc accepts"), "{out}");
    assert!(line(&out, "if ( FD_ISSET( fd, &s ) { ").contains("cc fails: error: expected ')'"), "{out}");
    assert!(line(&out, "if ( FD_ISSET( fd, &s ) ) {").ends_with("cc accepts"), "{out}");
}

#[test]
fn setfl_clears() {
    let Some(out) = output_of("setfl-clears") else { return };
    assert!(line(&out, "fcntl(fd, F_SETFL, O_NONBLOCK):").ends_with("O_APPEND off, O_NONBLOCK on"), "{out}");
    assert!(line(&out, "O_APPEND again").ends_with("O_APPEND on , O_NONBLOCK on"), "{out}");
}

/// `just evidence` lists PROGRAMS; every one of them is run by a test in this file.
#[test]
fn every_program_has_a_test_here() {
    let source = include_str!("claims.rs");
    for p in PROGRAMS {
        assert!(
            source.contains(&format!("output_of(\"{}\")", p.name)),
            "{} is run by no test in claims.rs",
            p.name
        );
    }
}
