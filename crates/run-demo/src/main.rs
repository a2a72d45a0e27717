//! `cargo demo NAME [ARGS...]` (an alias in `.cargo/config.toml`) and `just run NAME`.
//!
//! Cargo aliases cannot put `--` after the package name, so the alias runs this small
//! program, which checks NAME against the demos in lecture order and runs
//! `cargo run -q -p NAME -- ARGS...`. An unknown NAME prints the valid ones.
//!
//!     cargo demo select --json
//!     cargo demo --list          # the demos, one per line, in lecture order
//!     cargo demo --all           # every demo in turn, stopping at the first failure

use std::process::{Command, ExitCode};

/// Every demo package, in the order the notes teach them, with a one-line summary.
const DEMOS: &[(&str, &str)] = &[
    ("blocking-read", "read() on a file, a pipe and a socket: the thread sleeps until data comes"),
    ("nonblocking-read", "O_NONBLOCK: EAGAIN on pipes and sockets, nothing on regular files"),
    ("select", "a chat server on select(): fd sets rebuilt every loop"),
    ("pselect", "the chat server on pselect(): signals without the race"),
    ("poll", "the chat server on poll(): a pollfd vector, no FD_SETSIZE limit"),
    ("curl-multi", "concurrent HTTP transfers with curl_multi_wait"),
    ("curl-select", "the same transfers with curl_multi_fdset + select()"),
    ("aio-poll-loop", "POSIX AIO double-buffering, waiting with an aio_error loop"),
    ("aio-callback", "POSIX AIO with SIGEV_THREAD completion callbacks"),
    ("aio-cancel", "aio_cancel: every outcome, and collecting the result"),
];

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs one demo through cargo; returns its exit code.
fn run(name: &str, args: &[String]) -> u8 {
    // `just run curl-multi -- --parallel 2` is what cargo habits type: the `--` is ours
    // to drop, or the demo would take `--parallel` for a URL.
    let args = match args.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => args,
    };
    match cargo().args(["run", "-q", "-p", name, "--"]).args(args).status() {
        Ok(status) => status.code().map_or(1, |c| c.clamp(0, 255) as u8),
        Err(e) => {
            print(&format!("error: run cargo: {e}\n"), true);
            1
        }
    }
}

/// Prints `text` in one write, ignoring errors: `println!` panics when stdout's reader
/// has gone (`cargo demo --list | head -1`), and a list needs no error of its own.
fn print(text: &str, to_stderr: bool) {
    use std::io::Write;
    let _ = if to_stderr {
        std::io::stderr().write_all(text.as_bytes())
    } else {
        std::io::stdout().write_all(text.as_bytes())
    };
}

fn list(to_stderr: bool) {
    let lines: String = DEMOS.iter().map(|(name, what)| format!("  {name:17} {what}\n")).collect();
    print(&lines, to_stderr);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `just run` with no NAME passes an empty one.
    let Some(first) = args.first().filter(|name| !name.is_empty()) else {
        print("usage: cargo demo NAME [ARGS...]   (or: just run NAME [ARGS...])\n\ndemos:\n", true);
        list(true);
        return ExitCode::from(2);
    };
    match first.as_str() {
        "--list" => {
            print(&DEMOS.iter().map(|(name, _)| format!("{name}\n")).collect::<String>(), false);
            ExitCode::SUCCESS
        }
        "--help" | "-h" => {
            print("usage: cargo demo NAME [ARGS...]   (or: just run NAME [ARGS...])\n\ndemos, in lecture order:\n", false);
            list(false);
            ExitCode::SUCCESS
        }
        "--all" => {
            for (name, what) in DEMOS {
                print(&format!("\n=== {name}: {what} ===\n\n"), false);
                let code = run(name, &args[1..]);
                if code != 0 {
                    print(&format!("error: demo {name} exited with code {code}; stopping\n"), true);
                    return ExitCode::from(code);
                }
            }
            ExitCode::SUCCESS
        }
        name if DEMOS.iter().any(|(n, _)| *n == name) => ExitCode::from(run(name, &args[1..])),
        name => {
            print(&format!("error: no demo named {name:?}; the demos are:\n"), true);
            list(true);
            ExitCode::from(2)
        }
    }
}
