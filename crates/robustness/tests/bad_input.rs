//! Every demo against the mistakes a student makes on the command line: paths that are
//! missing, directories or empty, malformed flags and out-of-range values, an unknown
//! subcommand or an extra argument, `cargo demo nosuch`, and the network going wrong
//! (a refused port, a host that does not resolve, a port someone else holds).
//!
//! Each case asserts the documented behaviour, the exit code (1 for a failure with one
//! `error: <what>: ERRNO (message)` line, 2 for usage), no panic text and no hang; each
//! test checks that the test process's own fds are back to where they were.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use robustness::demos;
use serde_json::Value;
use test_harness::harness::{busy_port, case, parallel, serial, Case, FdBaseline, Run, TempDir};

/// Runs on this many threads at once: most cases end in milliseconds.
const WORKERS: usize = 6;

/// A missing path, a directory, an empty file, a device and a FIFO for each demo that
/// takes paths. The others have no positional path (nonblocking-read, aio-cancel and the chat
/// servers take no positional argument at all, see `extra_arguments_are_usage_errors`;
/// the curl demos take URLs, see `curl_demos_report_each_bad_url`).
#[test]
fn bad_paths() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let dir = std::sync::Arc::new(TempDir::new("paths"));
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let missing = dir.path().join("no-such-file.txt");
    let folder = dir.path().to_path_buf();
    let mut cases: Vec<Case> = Vec::new();
    for demo in demos().iter().filter(|d| d.takes_paths) {
        let name = demo.name;
        let (missing, folder, empty) = (missing.clone(), folder.clone(), empty.clone());
        let shown = |p: &std::path::Path| p.display().to_string();
        cases.push(case(format!("{name} missing path"), move || {
            Run::demo(name)
                .arg(&missing)
                .run()
                .assert_error(&format!("open {}", shown(&missing)), Some("ENOENT"));
        }));
        cases.push(case(format!("{name} directory"), move || {
            // open() succeeds on a directory; the read (blocking-read) or the check
            // before any aio_read (the AIO demos) says EISDIR.
            Run::demo(name)
                .arg(&folder)
                .run()
                .assert_error(&format!("read {}", shown(&folder)), Some("EISDIR"));
        }));
        cases.push(case(format!("{name} empty file"), move || {
            let done = Run::demo(name).arg(&empty).arg("--json").run();
            if name == "blocking-read" {
                // An empty file is a file: read() returns 0 (end of file) at once, and
                // the demo goes on to its pipe and socket (documented in its header).
                done.assert_code(0);
                let events = done.json_lines();
                let eof = events.iter().find(|e| e["event"] == "read_returned" && e["source"] == "file");
                assert_eq!(eof.map(|e| e["bytes"].clone()), Some(Value::from(0)), "{}", done.describe());
            } else if name == "io-uring" {
                // Read to the end whatever the size says: one read, which returns 0.
                done.assert_code(0);
                let events = done.json_lines();
                let file = events.iter().find(|e| e["event"] == "file_done");
                assert_eq!(file.map(|e| e["bytes"].clone()), Some(Value::from(0)), "{}", done.describe());
            } else {
                // The AIO demos: one aio_read, whose aio_return is 0, and the input is done
                // at 0 bytes (aio-poll-loop's first input is read blocking; same answer).
                done.assert_code(0);
                let events = done.json_lines();
                let empty_done = events
                    .iter()
                    .find(|e| ["input_done", "callback"].contains(&e["event"].as_str().unwrap_or("")));
                assert_eq!(
                    empty_done.map(|e| e["bytes"].clone()),
                    Some(Value::from(0)),
                    "{}",
                    done.describe()
                );
            }
        }));
        // Files that are not regular: a device that never ends, and a FIFO nobody
        // writes to (open() would block). Refused before any I/O, not a hang.
        let fifo = dir.path().join(format!("{name}.fifo"));
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        for odd in [std::path::PathBuf::from("/dev/zero"), fifo] {
            cases.push(case(format!("{name} {}", odd.display()), move || {
                let done = Run::demo(name).arg(&odd).deadline(std::time::Duration::from_secs(10)).run();
                done.assert_error(&format!("read {}: not a regular file", odd.display()), None);
            }));
        }
    }
    parallel(WORKERS, cases);
    drop(dir);
    fds.assert_back("bad paths");
}

/// Malformed flags and out-of-range values: exit 2, clap's message with the usage (or
/// the demo's own one-line `error: usage:`), nothing on stdout, no panic.
#[test]
fn malformed_flags_and_out_of_range_values() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |name: &'static str, args: &[&'static str]| {
        let args = args.to_vec();
        cases.push(case(format!("{name} {}", args.join(" ")), move || {
            Run::demo(name).args(&args).run().assert_usage_error();
        }));
    };
    for demo in &demos() {
        add(demo.name, &["--bogus"]);
        add(demo.name, &["--json=yes"]);
        add(demo.name, &["-j"]);
    }
    add("blocking-read", &["--delay-ms", "soon"]);
    add("blocking-read", &["--delay-ms", "-1"]);
    // Once a hang: a u64 of milliseconds was accepted and slept on.
    add("blocking-read", &["--delay-ms", "18446744073709551615"]);
    add("blocking-read", &["--delay-ms", "60001"]);
    add("nonblocking-read", &["--delay-ms", "999999"]);
    add("nonblocking-read", &["--file-kib", "0"]);
    add("nonblocking-read", &["--file-kib", "lots"]);
    for chat in robustness::chat_servers() {
        add(chat, &["--clients", "0"]);
        // One past each server's range: epoll takes 10,000 (its clients run in a second
        // process), the others 8000.
        add(chat, &["--clients", if chat == "epoll" { "10001" } else { "8001" }]);
        add(chat, &["--listen", "127.0.0.1"]);
        add(chat, &["--listen", "127.0.0.1:65536"]);
        add(chat, &["--listen", "127.0.0.1:0", "--clients", "3"]);
    }
    add("pselect", &["--show-race", "--clients", "3"]);
    for curl in ["curl-multi", "curl-select"] {
        add(curl, &["--parallel", "0"]);
        add(curl, &["--parallel", "-3"]);
        add(curl, &["--timeout", "0"]);
        add(curl, &["--timeout", "nan"]);
        add(curl, &["--timeout", "3601"]);
        add(curl, &["--fd-floor", "2"]);
        add(curl, &["--fd-floor", "65536"]);
        add(curl, &["--sequential", "--parallel", "2"]);
    }
    add("aio-poll-loop", &["--inputs", "0"]);
    add("aio-poll-loop", &["--inputs", "17"]);
    add("aio-poll-loop", &["--wait", "sometimes"]);
    add("aio-poll-loop", &["--process-ms", "5001"]);
    add("aio-poll-loop", &["--poll-ms", "0"]);
    add("aio-poll-loop", &["--chunk-ms", "1001"]);
    add("aio-poll-loop", &["--list", "--no-overlap"]);
    add("aio-callback", &["--chunk-ms", "2001"]);
    add("aio-callback", &["--signal=1"]);
    parallel(WORKERS, cases);
    fds.assert_back("malformed flags");
}

/// An unknown subcommand or a stray positional argument. Demos without positionals
/// refuse it as usage (exit 2); blocking-read takes one path, so a second is usage;
/// the path demos and curl demos treat a word as a path or a URL (see the other tests).
#[test]
fn extra_arguments_are_usage_errors() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    for demo in demos().iter().filter(|d| !d.takes_paths && !d.takes_urls) {
        let name = demo.name;
        cases.push(case(format!("{name} nosuch"), move || {
            let done = Run::demo(name).arg("nosuch").run();
            done.assert_usage_error();
            assert!(done.stderr.contains("'nosuch'"), "names the stray word: {}", done.describe());
        }));
        cases.push(case(format!("{name} help nosuch"), move || {
            Run::demo(name).args(["help", "nosuch"]).run().assert_usage_error();
        }));
    }
    cases.push(case("blocking-read with two paths", || {
        Run::demo("blocking-read").args(["/etc/hostname", "/etc/passwd"]).run().assert_usage_error();
    }));
    cases.push(case("aio-poll-loop nosuch", || {
        Run::demo("aio-poll-loop").arg("nosuch").run().assert_error("open nosuch", Some("ENOENT"));
    }));
    parallel(WORKERS, cases);
    fds.assert_back("extra arguments");
}

/// The CLI contract: `-V` and `--version` print the demo's name and version, and
/// `--help` ends with an "Exit status:" paragraph, for every demo in the list.
#[test]
fn every_demo_has_a_version_and_an_exit_status_in_its_help() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    for demo in demos() {
        let name = demo.name;
        cases.push(case(format!("{name} -V, --help"), move || {
            for flag in ["-V", "--version"] {
                let done = Run::demo(name).arg(flag).run();
                done.assert_code(0);
                assert!(done.stdout_text().starts_with(&format!("{name} ")), "{flag}: {}", done.describe());
            }
            let help = Run::demo(name).arg("--help").run();
            help.assert_code(0);
            assert!(help.stdout_text().contains("\nExit status: "), "--help: {}", help.describe());
        }));
    }
    parallel(WORKERS, cases);
    fds.assert_back("version and help");
}

/// `cargo demo NAME` (the run-demo program): an unknown NAME, and no NAME, exit 2 and
/// list the demos on stderr; `--list` gives exactly the ten, in lecture order.
#[test]
fn run_demo_names_the_demos() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    for args in [vec!["nosuch"], vec![], vec![""]] {
        let done = Run::demo("run-demo").args(&args).run();
        done.assert_code(2);
        assert!(done.stdout.is_empty(), "{}", done.describe());
        for demo in &demos() {
            assert!(
                done.stderr.contains(demo.name),
                "{args:?}: the list names {}: {}",
                demo.name,
                done.describe()
            );
        }
        if args == ["nosuch"] {
            assert!(done.stderr.starts_with("error: no demo named \"nosuch\""), "{}", done.describe());
        }
    }
    let list = Run::demo("run-demo").arg("--list").run();
    list.assert_code(0);
    let names: Vec<String> = list.stdout_text().lines().map(String::from).collect();
    assert_eq!(names, demos().iter().map(|d| d.name.to_string()).collect::<Vec<_>>());
    fds.assert_back("run-demo");
}

/// `just run blocking-read -- --delay-ms 10` (a `--` out of cargo habit) passes the
/// flags to the demo, not `--` and then words the demo would take for paths or URLs.
#[test]
fn run_demo_drops_a_leading_double_dash() {
    let _one_at_a_time = serial();
    let done = Run::demo("run-demo").args(["blocking-read", "--", "--delay-ms", "10", "--json"]).run();
    done.assert_no_panic();
    done.assert_code(0);
    let events = done.json_lines();
    assert_eq!(events.first().map(|e| e["event"].clone()), Some("demo".into()), "{}", done.describe());
}

/// The curl demos given a refused port, a host that does not resolve, a scheme they
/// refuse and an empty URL, beside one good URL: each failure is that transfer's result (a
/// `transfer_done` with ok=false and the curl error), the good one completes, exit 0.
/// With nothing but bad URLs: exit 1 and one line saying every transfer failed. A
/// server that cuts a body short or never answers is one more failed transfer.
#[test]
fn curl_demos_report_each_bad_url() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let server = std::sync::Arc::new(offline::http::Server::start().unwrap());
    let refused = format!("http://127.0.0.1:{}/", offline::http::refused_port().unwrap());
    let mut cases: Vec<Case> = Vec::new();
    for demo in demos().iter().filter(|d| d.takes_urls) {
        let name = demo.name;
        let good = server.url("/bytes/100");
        let refused_here = refused.clone();
        cases.push(case(format!("{name} mixed"), move || {
            let refused = refused_here;
            let urls = [good.as_str(), refused.as_str(), "http://nosuch.invalid/", "ftp://127.0.0.1/", ""];
            let done = Run::demo(name).args(urls).arg("--json").run();
            done.assert_code(0);
            assert!(done.stderr.is_empty(), "{}", done.describe());
            let events = done.json_lines();
            let result = |url: &str| -> Value {
                events
                    .iter()
                    .find(|e| e["event"] == "transfer_done" && e["url"] == url)
                    .cloned()
                    .unwrap_or_else(|| panic!("no transfer_done for {url}: {}", done.describe()))
            };
            assert_eq!(result(&good)["ok"], true);
            assert_eq!(result(&good)["bytes"], 100);
            assert_eq!(result(&refused)["curl_error"], "CURLE_COULDNT_CONNECT");
            // `.invalid` never resolves; a machine whose DNS server does not answer at all
            // runs into the transfer's timeout first, which is the same failure, later.
            let unresolved = result("http://nosuch.invalid/")["curl_error"].clone();
            assert!(
                unresolved == "CURLE_COULDNT_RESOLVE_HOST" || unresolved == "CURLE_OPERATION_TIMEDOUT",
                "{unresolved}"
            );
            assert_eq!(result("ftp://127.0.0.1/")["curl_error"], "CURLE_UNSUPPORTED_PROTOCOL");
            assert_eq!(result("")["curl_error"], "CURLE_URL_MALFORMAT");
            for url in [refused.as_str(), "http://nosuch.invalid/", "ftp://127.0.0.1/", ""] {
                assert_eq!(result(url)["ok"], false);
            }
            let timeline = events.iter().find(|e| e["event"] == "timeline").expect("a timeline event");
            for bar in timeline["bars"].as_array().unwrap() {
                let note = bar["note"].as_str().unwrap();
                assert_eq!(note, note.trim_end(), "the text chart's padding stays out of the data");
            }
            let fd_report = events.iter().find(|e| e["event"] == "open_fds").expect("an open_fds event");
            assert_eq!(fd_report["before"], fd_report["after"], "curl's sockets all closed: {fd_report}");
        }));
        let refused = refused.clone();
        cases.push(case(format!("{name} all bad"), move || {
            let done = Run::demo(name).args([refused.as_str(), "http://nosuch.invalid/"]).run();
            done.assert_error("transfers: every one of the 2 failed", None);
            let text = done.stdout_text();
            assert!(
                text.contains("CURLE_COULDNT_CONNECT")
                    && (text.contains("CURLE_COULDNT_RESOLVE_HOST")
                        || text.contains("CURLE_OPERATION_TIMEDOUT")),
                "{}",
                done.describe()
            );
        }));
        let (cut, hang, good) = (server.url("/cut"), server.url("/hang"), server.url("/bytes/10"));
        cases.push(case(format!("{name} a server that cuts a body short or never answers"), move || {
            let done = Run::demo(name).args(["--json", "--timeout", "1", &good, &cut, &hang]).run();
            done.assert_code(0);
            let events = done.json_lines();
            let error_of = |url: &str| {
                events
                    .iter()
                    .find(|e| e["event"] == "transfer_done" && e["url"] == url)
                    .map(|e| e["curl_error"].clone())
                    .unwrap_or_else(|| panic!("no transfer_done for {url}: {}", done.describe()))
            };
            assert_eq!(error_of(&good), Value::Null);
            assert_eq!(error_of(&cut), "CURLE_PARTIAL_FILE");
            assert_eq!(error_of(&hang), "CURLE_OPERATION_TIMEDOUT");
        }));
        cases.push(case(format!("{name} a word, not a URL"), move || {
            // curl reads a bare word as a host name; it does not resolve.
            let done = Run::demo(name).arg("nosuch").run();
            done.assert_error(
                "transfers: the only transfer failed, nosuch: CURLE_COULDNT_RESOLVE_HOST",
                None,
            );
        }));
    }
    parallel(WORKERS, cases);
    drop(server);
    fds.assert_back("curl bad URLs");
}

/// Serving on a port someone else holds, or on an address this machine does not have:
/// one error line with the errno, exit 1, for the chat servers and for `just serve`
/// (the fixtures' HTTP server on its own). A host name that does not resolve is a
/// usage error for the chat servers (see above) and a lookup failure for `serve`.
#[test]
fn ports_in_use_and_addresses_not_here() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let (holder, busy) = busy_port();
    let mut cases: Vec<Case> = Vec::new();
    for demo in demos().iter().filter(|d| d.listens) {
        let name = demo.name;
        for json in [false, true] {
            cases.push(case(format!("{name} --listen busy port, json {json}"), move || {
                let mut run = Run::demo(name).args(["--listen", &busy.to_string()]);
                if json {
                    run = run.arg("--json");
                }
                let done = run.run();
                done.assert_error(&format!("bind {busy}"), Some("EADDRINUSE"));
            }));
        }
        cases.push(case(format!("{name} --listen a host name"), move || {
            // Host names are not looked up (a server binds one of its own addresses):
            // a usage error with a hint, at once, even with no DNS.
            let done = Run::demo(name).args(["--listen", "nosuch.invalid:7000"]).run();
            done.assert_usage_error();
            assert!(
                done.stderr.contains("\"nosuch.invalid\" is not an IP address; give an IP address"),
                "{}",
                done.describe()
            );
        }));
        cases.push(case(format!("{name} --listen localhost:0"), move || {
            // ... except localhost, which is 127.0.0.1.
            let mut running = Run::demo(name).args(["--listen", "localhost:0"]).spawn();
            let first = running.wait_for_line(std::time::Duration::from_secs(5), |_| true);
            assert!(first.starts_with("listening on 127.0.0.1:"), "{first}");
            assert!(running.signal(nix::sys::signal::Signal::SIGTERM));
            running.wait().assert_no_panic();
        }));
        cases.push(case(format!("{name} --listen an address not on this machine"), move || {
            // 192.0.2.0/24 is TEST-NET-1: never assigned, so bind() says EADDRNOTAVAIL.
            let done = Run::demo(name).args(["--listen", "192.0.2.1:7000"]).run();
            done.assert_error("bind 192.0.2.1:7000", Some("EADDRNOTAVAIL"));
        }));
    }
    parallel(WORKERS, cases);
    // `serve` is a binary of the offline package, built by name here.
    let serve = test_harness::bins::target_profile_dir().join("serve");
    let _ = test_harness::bins::binary("offline");
    let done = Run::program(&serve).arg(busy.to_string()).run();
    done.assert_error(&format!("bind {busy}"), Some("EADDRINUSE"));
    let done = Run::program(&serve).arg("nosuch.invalid:80").run();
    done.assert_error("bind nosuch.invalid:80", None);
    let done = Run::program(&serve).args(["a", "b"]).run();
    done.assert_usage_error();
    drop(holder);
    fds.assert_back("ports");
}
