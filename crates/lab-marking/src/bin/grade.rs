//! grade: marks a whole class's submissions for one lab (`just grade LAB SUBMISSIONS`).
//!
//! ```text
//! grade --checker PATH --lab NAME [--out FILE.csv] [--build-limit SECS] [--run-limit SECS] SUBMISSIONS
//! ```
//!
//! SUBMISSIONS holds one entry per student, named for the student: a folder with a
//! Cargo crate (`Cargo.toml`), a folder with a `Makefile`, a folder with a single `.c`
//! or `.py` file, or such a file on its own. Each is copied to a scratch folder, built
//! there under a time limit and marked by the lab's checker under another; a submission
//! that does not build, crashes or hangs gets its zeros and a reason, and the next one is
//! marked all the same. The results: a CSV gradebook (student, score, max, then one
//! column per check, in the checker's order) and, beside it, a folder with a feedback
//! file per student (the checker's PASS/FAIL lines, or why it could not be marked).

use lab_marking::grading::{grade_class, Options};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: grade --checker PATH --lab NAME [--out FILE.csv] [--build-limit SECS] [--run-limit SECS] SUBMISSIONS\n\
  (normally run as: just grade LAB SUBMISSIONS [--out FILE.csv])";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (mut checker, mut lab, mut out, mut submissions) = (None, None, None, None);
    let mut build_limit = Duration::from_secs(300);
    let mut run_limit = Duration::from_secs(240);
    while let Some(arg) = args.next() {
        let flag = arg.to_string_lossy().into_owned();
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let parsed: Result<(), String> = match flag.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--checker" => value().map(|v| checker = Some(PathBuf::from(v))),
            "--lab" => value().map(|v| lab = Some(v.to_string_lossy().into_owned())),
            "--out" => value().map(|v| out = Some(PathBuf::from(v))),
            "--build-limit" | "--run-limit" => value().and_then(|v| {
                let secs: u64 =
                    v.to_string_lossy().parse().map_err(|_| format!("{flag}: not a number of seconds"))?;
                if flag == "--build-limit" {
                    build_limit = Duration::from_secs(secs);
                } else {
                    run_limit = Duration::from_secs(secs);
                }
                Ok(())
            }),
            _ if submissions.is_none() && !flag.starts_with('-') => {
                submissions = Some(PathBuf::from(&arg));
                Ok(())
            }
            _ => Err(format!("unexpected argument {flag:?}")),
        };
        if let Err(why) = parsed {
            eprintln!("error: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let (Some(checker), Some(lab), Some(submissions)) = (checker, lab, submissions) else {
        eprintln!("error: --checker, --lab and SUBMISSIONS are needed\n{USAGE}");
        return ExitCode::from(2);
    };
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{lab}-grades.csv")));
    let options = Options { checker, lab, submissions, out, build_limit, run_limit };
    match grade_class(&options) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}
