//! `cargo demo NAME [ARGS...]` (an alias in `.cargo/config.toml`) and `just run NAME`.
//!
//! Checks NAME against the list of demos (`demos.toml`), builds the demo with cargo, and
//! then *becomes* it (`exec`), so that Ctrl-C, the exit status and the terminal belong to
//! the demo alone: a wrapper left in between would die of SIGINT first, hand the shell
//! its prompt back while the demo was still saying goodbye, and report 130 for a demo
//! that exited 0.
//!
//!     cargo demo select --json
//!     cargo demo --list          # the demos, one per line, in reading order
//!     cargo demo --all           # every demo in turn, stopping at the first failure
//!     cargo demo --get poll trace   # one field of the list, for scripts (`just trace`)
//!
//! The build is quiet when there is nothing to compile. When there is (the first run
//! compiles the demo and its dependencies, which takes a while), it says so at once and
//! shows cargo's progress, so a first run never looks hung.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Prints `text` in one write, ignoring errors: `println!` panics when stdout's reader
/// has gone (`cargo demo --list | head -1`), and a list needs no error of its own.
fn print(text: &str, to_stderr: bool) {
    let _ = if to_stderr {
        std::io::stderr().write_all(text.as_bytes())
    } else {
        std::io::stdout().write_all(text.as_bytes())
    };
}

fn list(to_stderr: bool) {
    let mut lines = String::new();
    for part in [demo_list::Part::Notes, demo_list::Part::Beyond] {
        let demos: Vec<_> = demo_list::all().iter().filter(|d| d.part == part).collect();
        if demos.is_empty() {
            continue;
        }
        if part == demo_list::Part::Beyond {
            lines.push_str("  beyond the notes:\n");
        }
        for d in demos {
            lines.push_str(&format!("  {:17} {}\n", d.name, d.summary));
        }
    }
    print(&lines, to_stderr);
}

/// Builds demo `name` and returns its executable, showing cargo's output only when
/// something is compiled (or fails to). Errors are printed here; `None` means failed.
fn build(name: &str) -> Option<PathBuf> {
    let child = cargo()
        // By its binary only: `-p io-uring` would be ambiguous (the demo, and the crates.io
        // crate of that name it uses underneath). `--workspace`: typed in a crate's own
        // folder, `--bin` alone would look in that crate only.
        .args(["build", "--workspace", "--bin", name, "--message-format=json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            print(&format!("error: run cargo: {e}\n"), true);
            return None;
        }
    };
    // stdout carries cargo's JSON messages: read it on a thread while stderr is relayed
    // here, or a full pipe would stop cargo.
    let mut stdout = child.stdout.take()?;
    let messages = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let mut told = false;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let word = line.split_whitespace().next().unwrap_or("");
            // Another cargo holding the lock is worth a line, but is not a build.
            if word == "Blocking" {
                print(&format!("{line}\n"), true);
                continue;
            }
            if !told && word != "Finished" && word != "Fresh" {
                print(
                    &format!("building {name} (the first run compiles it; later runs start at once)\n"),
                    true,
                );
                told = true;
            }
            if told {
                print(&format!("{line}\n"), true);
            }
        }
    }
    let status = child.wait();
    let messages = messages.join().unwrap_or_default();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => {
            print(&format!("error: cargo build --bin {name} failed ({status})\n"), true);
            return None;
        }
        Err(e) => {
            print(&format!("error: wait for cargo: {e}\n"), true);
            return None;
        }
    }
    let exe = executable(&messages, name);
    if exe.is_none() {
        print(&format!("error: cargo built {name} but named no executable for it\n"), true);
    }
    exe
}

/// The `"executable"` of the compiler-artifact message for binary `name` in cargo's
/// JSON output (one object per line; the path has no escapes on the systems we run on).
fn executable(messages: &str, name: &str) -> Option<PathBuf> {
    let target = format!("\"name\":\"{name}\"");
    messages
        .lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\"") && l.contains(&target))
        .find_map(|l| {
            let start = l.find("\"executable\":\"")? + "\"executable\":\"".len();
            let len = l[start..].find('"')?;
            Some(PathBuf::from(&l[start..start + len]))
        })
}

/// `just run curl-multi -- --parallel 2` is what cargo habits type: the `--` is ours to
/// drop, or the demo would take `--parallel` for a URL.
fn demo_args(args: &[String]) -> &[String] {
    match args.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => args,
    }
}

/// Builds and runs one demo as a child (for `--all`); returns its exit code.
fn run_child(name: &str, args: &[String]) -> u8 {
    let Some(exe) = build(name) else { return 1 };
    match Command::new(&exe).args(demo_args(args)).status() {
        Ok(status) => status.code().map_or(1, |c| c.clamp(0, 255) as u8),
        Err(e) => {
            print(&format!("error: run {}: {e}\n", exe.display()), true);
            1
        }
    }
}

/// `--get NAME KEY`: one field of a demo's entry in the list, as text.
fn get(args: &[String]) -> Result<String, String> {
    let [name, key] = args else { return Err("usage: cargo demo --get NAME KEY".into()) };
    let d = demo_list::find(name).ok_or_else(|| format!("no demo named {name:?}"))?;
    Ok(match key.as_str() {
        "folder" => d.folder.to_string(),
        "summary" => d.summary.to_string(),
        "notes" => d.notes.to_string(),
        "chapter" => d.chapter.to_string(),
        "trace" => d.trace.to_string(),
        "threads" => d.threads.to_string(),
        "run_ms" => d.run_ms.to_string(),
        "kind" => format!("{:?}", d.kind).to_lowercase(),
        other => {
            return Err(format!(
                "no key {other:?} (folder, summary, notes, chapter, trace, threads, run_ms, kind)"
            ))
        }
    })
}

fn usage(to_stderr: bool) {
    print(
        "usage: just run NAME [ARGS...]   (or: cargo demo NAME [ARGS...])\n\ndemos, in reading order:\n",
        to_stderr,
    );
    list(to_stderr);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `just run` with no NAME passes an empty one.
    let Some(first) = args.first().filter(|name| !name.is_empty()) else {
        usage(true);
        return ExitCode::from(2);
    };
    match first.as_str() {
        "--list" => {
            print(&demo_list::all().iter().map(|d| format!("{}\n", d.name)).collect::<String>(), false);
            ExitCode::SUCCESS
        }
        "--get" => match get(&args[1..]) {
            Ok(value) => {
                print(&format!("{value}\n"), false);
                ExitCode::SUCCESS
            }
            Err(e) => {
                print(&format!("error: {e}\n"), true);
                ExitCode::from(2)
            }
        },
        "--help" | "-h" => {
            usage(false);
            ExitCode::SUCCESS
        }
        "--all" => {
            for d in demo_list::all() {
                print(&format!("\n=== {}: {} ===\n\n", d.name, d.summary), false);
                let code = run_child(d.name, &args[1..]);
                if code != 0 {
                    print(&format!("error: demo {} exited with code {code}; stopping\n", d.name), true);
                    return ExitCode::from(code);
                }
            }
            ExitCode::SUCCESS
        }
        name if demo_list::find(name).is_some() => {
            let Some(exe) = build(name) else { return ExitCode::from(1) };
            // Become the demo: only returns if exec failed.
            let e = Command::new(&exe).args(demo_args(&args[1..])).exec();
            print(&format!("error: run {}: {e}\n", exe.display()), true);
            ExitCode::from(1)
        }
        name => {
            let hint = match demo_list::did_you_mean(name) {
                Some(near) => {
                    format!("error: no demo named {name:?}; did you mean {near:?}? The demos are:\n")
                }
                None => format!("error: no demo named {name:?}; the demos are:\n"),
            };
            print(&hint, true);
            list(true);
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executable_is_found_in_cargo_messages() {
        let messages = concat!(
            "{\"reason\":\"compiler-artifact\",\"target\":{\"kind\":[\"lib\"],\"name\":\"select\"},\"executable\":null}\n",
            "{\"reason\":\"compiler-artifact\",\"target\":{\"kind\":[\"bin\"],\"name\":\"select\"},\"executable\":\"/t/debug/select\"}\n",
            "{\"reason\":\"build-finished\",\"success\":true}\n"
        );
        assert_eq!(executable(messages, "select"), Some(PathBuf::from("/t/debug/select")));
        assert_eq!(executable(messages, "poll"), None);
    }

    #[test]
    fn a_leading_double_dash_is_dropped() {
        let args = vec!["--".to_string(), "--parallel".to_string(), "2".to_string()];
        assert_eq!(demo_args(&args), &args[1..]);
        assert_eq!(demo_args(&args[1..]), &args[1..]);
    }
}
