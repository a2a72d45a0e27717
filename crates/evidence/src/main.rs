//! `just evidence` lists the evidence programs, `just evidence NAME` builds, runs and
//! prints one, `just evidence --all` runs every one. Each program checks its own claim
//! and says `holds:` or `FAILS:` for each part; the exit status is 1 if any failed.
//! The C sources are in docs/evidence; the book captures their output.

use evidence::{find, run, Outcome, Program, PROGRAMS};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const HELP: &str = "\
evidence: the small programs that back the book's claims (docs/evidence)

usage: evidence            list them, with the claim each one checks
       evidence NAME       build NAME (C: with cc), run it, print what it prints
       evidence --all      run every one; exit 1 if any claim fails

examples:
  just evidence
  just evidence poll-revents
  just evidence curl-wait-vs-poll
";

fn list() {
    println!("evidence programs (`just evidence NAME` runs one):");
    for p in PROGRAMS {
        println!("  {:<20} {}  [{}]", p.name, p.claim, p.chapter);
    }
}

/// Runs one program and prints its output; true when it ran and every claim held.
fn show(program: &Program, bins: &Path, header: bool) -> bool {
    if header {
        println!("=== {}: {}", program.name, program.claim);
    }
    match run(program, bins) {
        Ok(Outcome::Skipped(reason)) => {
            println!("SKIPPED: {reason}");
            true
        }
        Ok(Outcome::Ran { code, stdout, stderr, .. }) => {
            print!("{stdout}");
            eprint!("{stderr}");
            code == Some(0)
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The Rust programs are this package's other binaries, beside this one.
    let bins = std::env::current_exe().ok().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_default();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => {
            list();
            ExitCode::SUCCESS
        }
        ["-h" | "--help"] => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        ["--all"] => {
            let failed: Vec<&str> =
                PROGRAMS.iter().filter(|p| !show(p, &bins, true)).map(|p| p.name).collect();
            if failed.is_empty() {
                println!("every claim holds ({} programs)", PROGRAMS.len());
                ExitCode::SUCCESS
            } else {
                eprintln!("error: claims that failed: {}", failed.join(", "));
                ExitCode::FAILURE
            }
        }
        [name] => match find(name) {
            Some(program) => {
                if show(program, &bins, false) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            None => {
                eprintln!("error: no evidence program named '{name}'");
                list();
                ExitCode::from(2)
            }
        },
        _ => {
            eprint!("error: too many arguments\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}
