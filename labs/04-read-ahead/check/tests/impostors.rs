//! The checker must not believe a program's account of itself. This test marks two
//! impostors and asserts what the checker says about them:
//!
//! * `liar`: hashes correctly and prints events that claim the read of block k+1 started
//!   before block k was processed, but reads one block at a time, after processing. Its
//!   events pass; the paced FIFO must catch it by wall time.
//! * `idler`: double-buffers nothing and skips the `--work-ms` computation, so it
//!   finishes fast; the FIFO check must notice that the work asked for was not done.
//!
//! The impostor is this test's own executable (run with `IMPOSTOR=liar|idler`), so no
//! other language or tool is needed. The harness is off (`harness = false`) so that
//! `main` can be either.

#![allow(clippy::unwrap_used)] // a test: a failure here should stop it loudly

use serde_json::Value;
use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

fn fnv_update(h: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The impostor: `[--json] [--block KIB] [--work-ms N] FILE...`, reading sequentially.
fn impostor(kind: &str) -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut json, mut block, mut work, mut files) = (false, 64usize, 0u64, Vec::new());
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--json" => json = true,
            "--block" => {
                i += 1;
                block = args.get(i).and_then(|a| a.parse().ok()).unwrap_or(64);
            }
            "--work-ms" => {
                i += 1;
                work = args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0);
            }
            path => files.push(path.to_string()),
        }
        i += 1;
    }
    if kind == "idler" {
        work = 0;
    }
    let ev = |text: String| {
        if json {
            println!("{text}");
        }
    };
    for (f, path) in files.iter().enumerate() {
        let fail = |call: &str, e: std::io::Error| {
            let name = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0));
            eprintln!("error: {call} {path}: {name:?} ({e})");
            1
        };
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) => return fail("open", e),
        };
        let mut buf = vec![0u8; block * 1024];
        let (mut hash, mut offset) = (0xcbf2_9ce4_8422_2325_u64, 0usize);
        ev(format!(r#"{{"event":"read_start","file":{f},"block":0,"offset":0,"bytes":{}}}"#, buf.len()));
        for k in 0.. {
            let n = match file.read(&mut buf) {
                Ok(n) => n,
                Err(e) => return fail("read", e),
            };
            ev(format!(r#"{{"event":"read_done","file":{f},"block":{k},"bytes":{n}}}"#));
            if n == 0 {
                break;
            }
            offset += n;
            // The lie: this read is announced now but only made after processing.
            ev(format!(
                r#"{{"event":"read_start","file":{f},"block":{},"offset":{offset},"bytes":{}}}"#,
                k + 1,
                buf.len()
            ));
            ev(format!(r#"{{"event":"process_start","file":{f},"block":{k},"bytes":{n}}}"#));
            hash = fnv_update(hash, &buf[..n]);
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(work) {
                std::hint::spin_loop();
            }
            ev(format!(r#"{{"event":"process_end","file":{f},"block":{k}}}"#));
        }
        if json {
            println!(r#"{{"event":"hash","file":{f},"hash":"{hash:016x}","path":{path:?}}}"#);
        } else {
            println!("{hash:016x}  {path}");
        }
    }
    0
}

/// Marks this executable as `kind` and returns each check's (passed, detail).
fn mark(kind: &str) -> Vec<(String, bool, String)> {
    let me = std::env::current_exe().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_read-ahead-check"))
        .args(["--json", "--"])
        .arg(me)
        .env("IMPOSTOR", kind)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "check")
        .map(|v| {
            (v["name"].as_str().unwrap().to_string(), v["passed"].as_bool().unwrap(), v["detail"].to_string())
        })
        .collect()
}

fn verdict<'a>(checks: &'a [(String, bool, String)], name: &str) -> &'a (String, bool, String) {
    checks.iter().find(|c| c.0 == name).unwrap_or_else(|| panic!("no {name} check in {checks:#?}"))
}

fn main() {
    if let Ok(kind) = std::env::var("IMPOSTOR") {
        std::process::exit(impostor(&kind));
    }
    let liar = mark("liar");
    for name in ["hash_edge_sizes", "hash_large_file", "missing_file", "events_overlap"] {
        assert!(verdict(&liar, name).1, "the liar's {name} should pass: {liar:#?}");
    }
    let fifo = verdict(&liar, "fifo_overlap");
    assert!(!fifo.1, "the liar's reads are sequential; the FIFO must catch it: {fifo:?}");
    assert!(fifo.2.contains("too slow for overlap"), "{fifo:?}");
    println!("liar: events believed, wall time not: {}", fifo.2);

    let idler = mark("idler");
    let fifo = verdict(&idler, "fifo_overlap");
    assert!(!fifo.1 && fifo.2.contains("is --work-ms done for every block?"), "{fifo:?}");
    println!("idler: caught: {}", fifo.2);
}
