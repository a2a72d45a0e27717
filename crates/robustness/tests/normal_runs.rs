//! The control case for every other file here: each demo's no-argument run, untouched,
//! in `--json` and in text mode, exits 0 with nothing on stderr, whole lines only,
//! every JSON line an event, the fd counts it reports equal before and after, nothing
//! left in its temp directory, and (stdout being a pipe, NO_COLOR unset) no colour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use robustness::demos;
use test_harness::harness::{case, parallel, serial, Case, FdBaseline, Run, TempDir};

#[test]
fn every_demo_runs_clean() {
    let _one_at_a_time = serial();
    let fds = FdBaseline::take();
    let mut cases: Vec<Case> = Vec::new();
    for demo in &demos() {
        let name = demo.name;
        cases.push(case(format!("{name} --json"), move || {
            let tmp = TempDir::new(name);
            let done = Run::demo(name).arg("--json").tmpdir(tmp.path()).run();
            done.assert_code(0);
            assert!(done.stderr.is_empty(), "{}", done.describe());
            let events = done.json_lines();
            assert_eq!(
                events.first().map(|e| e["event"].clone()),
                Some("demo".into()),
                "the title comes first"
            );
            let fd_reports: Vec<_> =
                events.iter().filter(|e| e["event"] == "fds" || e["event"] == "open_fds").collect();
            for report in fd_reports {
                assert_eq!(report["before"], report["after"], "{name}: {report}");
            }
            assert_eq!(tmp.entries(), Vec::<String>::new(), "{name} left files in its TMPDIR");
        }));
        cases.push(case(format!("{name} (text, NO_COLOR unset)"), move || {
            let tmp = TempDir::new(name);
            let done = Run::demo(name).without_env("NO_COLOR").tmpdir(tmp.path()).run();
            done.assert_code(0);
            done.assert_whole_lines();
            assert!(done.stderr.is_empty(), "{}", done.describe());
            assert!(!done.stdout.contains(&0x1b), "{name}: colour on a pipe");
            assert_eq!(tmp.entries(), Vec::<String>::new(), "{name} left files in its TMPDIR");
        }));
    }
    parallel(6, cases);
    fds.assert_back("normal runs");
}
