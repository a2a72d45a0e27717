//! The command line and the words BIN prints: usage errors a student can read, plurals,
//! the no-TLS story told once, timeline rows that can be told apart.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use offline::http::Server;
use std::process::Command;
use test_harness::demo::run_json;

const BIN: &str = env!("CARGO_BIN_EXE_curl-multi");

fn usage_error(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_negative_number_is_a_usage_error_not_a_tip_to_make_it_a_url() {
    for (flag, says) in [
        ("--parallel", "\"-1\" is not a whole number of at least 1"),
        ("--timeout", "\"-1\" is not a number of seconds more than 0"),
        ("--max-speed", "\"-1\" is not a whole number of bytes per second"),
    ] {
        let err = usage_error(&[flag, "-1"]);
        assert!(err.contains(says), "{flag}: {err}");
        assert!(!err.contains("'-- -1'"), "{flag}: {err}");
    }
}

#[test]
fn a_zero_timeout_is_refused_in_words_that_say_why() {
    let err = usage_error(&["--timeout", "0"]);
    assert!(err.contains("\"0\" is not a number of seconds more than 0 and at most 3600"), "{err}");
    assert!(!err.contains("between 0 and 3600"), "{err}");
}

#[test]
fn version_and_help_say_what_a_student_needs() {
    for flag in ["-V", "--version"] {
        let out = Command::new(BIN).arg(flag).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let name = BIN.rsplit('/').next().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{name} {}\n", env!("CARGO_PKG_VERSION")));
    }
    let help = String::from_utf8(Command::new(BIN).arg("--help").output().unwrap().stdout).unwrap();
    assert!(help.contains("\nExit status: 0 when the run completed"), "{help}");
    let examples = &help[help.find("Examples:").unwrap()..help.find("Exit status").unwrap()];
    // Every example works on the default build, which has no TLS.
    assert!(!examples.contains("https://"), "{examples}");
}

#[test]
fn one_transfer_is_one_transfer() {
    let server = Server::start().unwrap();
    let url = server.url("/delay/10");
    let out = Command::new(BIN).arg(&url).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("up to 1 transfer in it at once"), "{text}");
    assert!(text.contains("up to 1 transfer in flight"), "{text}");
    assert!(text.contains("\n1 transfer, ") || text.contains("] 1 transfer, "), "{text}");
    assert!(!text.contains("1 transfers") && !text.contains(" 1 fds"), "{text}");
}

#[test]
fn the_no_tls_story_is_told_once() {
    // Two https URLs to a closed port: without TLS each fails as unsupported, with TLS
    // each fails to connect; either way the advice to install a libcurl comes once.
    let url = "https://127.0.0.1:1/";
    let out = Command::new(BIN).args([url, url]).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let told = text.matches("libcurl4-openssl-dev").count();
    let tls = curl::Version::get().feature_ssl();
    assert_eq!(told, usize::from(!tls), "{text}");
    if !tls {
        assert!(text.contains("warning: 2 https URLs given"), "{text}");
    }
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: transfers: every one of the 2 failed; the first, https://127.0.0.1:1/: "),
        "{err}"
    );
}

#[test]
fn the_same_url_twice_gives_two_rows_that_can_be_told_apart() {
    let server = Server::start().unwrap();
    let url = server.url("/delay/20");
    let run = run_json(BIN, &[&url, &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let timeline = run.one("timeline");
    let labels: Vec<&str> =
        timeline["bars"].as_array().unwrap().iter().map(|b| b["label"].as_str().unwrap()).collect();
    let bare = url.trim_start_matches("http://");
    assert_eq!(labels, [format!("#1 {bare}"), format!("#2 {bare}")]);
}
