//! The evidence programs: one small program per claim the book makes, each checking its
//! own claim (`holds: ...` or `FAILS: ...` on stdout, exit 1 if any fails). C where the
//! claim is about C or the C API (docs/evidence/*.c, compiled with the system's `cc`),
//! Rust where it is about Rust (src/bin). `just evidence` lists them; `just evidence
//! NAME` builds, runs and prints one; tests/claims.rs runs them all, so a claim that
//! stops being true fails the tests.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a program is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// docs/evidence/NAME.c, compiled with `cc` and linked with these libraries.
    C { curl: bool, libs: &'static [&'static str] },
    /// A binary of this package (src/bin/NAME.rs), built by cargo.
    Rust,
}

/// One evidence program: its name, how it is built, the claim, and where the book uses it.
#[derive(Debug)]
pub struct Program {
    pub name: &'static str,
    pub kind: Kind,
    pub claim: &'static str,
    pub chapter: &'static str,
}

const PTHREAD: &[&str] = &["-lpthread"];
const AIO: &[&str] = &["-lrt", "-lpthread"];

/// Every evidence program, in the order the notes reach their topics.
pub const PROGRAMS: &[Program] = &[
    Program {
        name: "setfl-clears",
        kind: Kind::C { curl: false, libs: &[] },
        claim: "F_SETFL replaces the status flags: O_NONBLOCK alone turns O_APPEND off",
        chapter: "notes-simplify.md",
    },
    Program {
        name: "short-io",
        kind: Kind::C { curl: false, libs: &[] },
        claim: "read and write may move fewer bytes than asked; a byte stream keeps no message boundaries",
        chapter: "01-reads.md",
    },
    Program {
        name: "notes-typos",
        kind: Kind::C { curl: false, libs: &[] },
        claim: "the notes' `#include aio.h` and their FD_ISSET tests do not compile as printed",
        chapter: "notes-simplify.md",
    },
    Program {
        name: "select-rewrites",
        kind: Kind::C { curl: false, libs: PTHREAD },
        claim: "select rewrites its timeout and sets, counts an fd once per set, and exceptfds means out-of-band data",
        chapter: "03-select.md",
    },
    Program {
        name: "spurious-readiness",
        kind: Kind::C { curl: false, libs: PTHREAD },
        claim: "readiness can be gone by the time you read: a blocking read then blocks, a non-blocking one says EAGAIN",
        chapter: "03-select.md",
    },
    Program {
        name: "sigpipe",
        kind: Kind::C { curl: false, libs: &[] },
        claim: "writing to a peer that left kills a C program with SIGPIPE; ignored, the write fails with EPIPE",
        chapter: "03-select.md",
    },
    Program {
        name: "sigpipe-rust",
        kind: Kind::Rust,
        claim: "a Rust program starts with SIGPIPE ignored: the same write is an EPIPE error",
        chapter: "03-select.md",
    },
    Program {
        name: "sa-restart",
        kind: Kind::C { curl: false, libs: PTHREAD },
        claim: "SA_RESTART restarts read but never poll, select or epoll_wait: they fail with EINTR",
        chapter: "04-pselect.md",
    },
    Program {
        name: "wakeup",
        kind: Kind::C { curl: false, libs: PTHREAD },
        claim: "a self-pipe (from a signal handler) or an eventfd (from a thread) wakes a poll",
        chapter: "04-pselect.md",
    },
    Program {
        name: "poll-revents",
        kind: Kind::C { curl: false, libs: &[] },
        claim: "a TCP close is POLLIN|POLLRDHUP; POLLHUP needs a reset, both sides shut, a pipe or a Unix socket; POLLNVAL is a closed fd",
        chapter: "05-poll.md",
    },
    Program {
        name: "poll-hup-spin",
        kind: Kind::C { curl: false, libs: &[] },
        claim: "POLLHUP and POLLNVAL come unasked and stay: a loop that acts on POLLIN only spins",
        chapter: "notes-simplify.md",
    },
    Program {
        name: "curl-wait-vs-poll",
        kind: Kind::C { curl: true, libs: PTHREAD },
        claim: "curl_multi_wait returns at once with no socket; curl_multi_poll waits, and curl_multi_wakeup ends it",
        chapter: "06-curl-multi.md",
    },
    Program {
        name: "curl-info-read",
        kind: Kind::C { curl: true, libs: PTHREAD },
        claim: "curl_multi_info_read reports finished transfers only; curl_multi_fdset's max_fd cannot be NULL",
        chapter: "06-curl-multi.md",
    },
    Program {
        name: "curl-fdset-order",
        kind: Kind::C { curl: true, libs: PTHREAD },
        claim: "curl_multi_fdset before curl_multi_perform hands select stale sets: EBADF on a socket curl closed",
        chapter: "notes-simplify.md",
    },
    Program {
        name: "curl-timer-perform",
        kind: Kind::C { curl: true, libs: PTHREAD },
        claim: "curl's timers run only inside curl_multi_perform: perform after a select that returned 0 too",
        chapter: "notes-simplify.md",
    },
    Program {
        name: "curl-response-code",
        kind: Kind::C { curl: true, libs: PTHREAD },
        claim: "CURLINFO_RESPONSE_CODE writes a long: given an int, it overwrites the 4 bytes after it",
        chapter: "06-curl-multi.md",
    },
    Program {
        name: "aio-error-values",
        kind: Kind::C { curl: false, libs: AIO },
        claim: "AIO_CANCELED has one L; aio_error returns the request's error number, not -1",
        chapter: "08-aio-poll-loop.md",
    },
    Program {
        name: "aio-append",
        kind: Kind::C { curl: false, libs: AIO },
        claim: "O_APPEND makes aio_write ignore aio_offset, but aio_read still reads from it",
        chapter: "08-aio-poll-loop.md",
    },
    Program {
        name: "aio-reqprio",
        kind: Kind::C { curl: false, libs: AIO },
        claim: "aio_reqprio outside 0..AIO_PRIO_DELTA_MAX makes aio_read fail with EINVAL",
        chapter: "notes-simplify.md",
    },
    Program {
        name: "aio-return-frees",
        kind: Kind::C { curl: false, libs: AIO },
        claim: "glibc's aio_return only reads the result: it frees nothing, asked twice it answers twice",
        chapter: "notes-simplify.md",
    },
    Program {
        name: "kernel-aio",
        kind: Kind::C { curl: false, libs: PTHREAD },
        claim: "io_submit is asynchronous only with O_DIRECT: otherwise the read happens inside it",
        chapter: "08-aio-poll-loop.md",
    },
    Program {
        name: "aio-dead-aiocb",
        kind: Kind::C { curl: false, libs: AIO },
        claim: "glibc writes into the aiocb when the request ends: it must outlive the request",
        chapter: "09-aio-callback.md",
    },
    Program {
        name: "printf-unterminated",
        kind: Kind::C { curl: false, libs: &[] },
        claim: "a buffer filled by read() has no terminating NUL: printf(\"%s\") runs past it",
        chapter: "09-aio-callback.md",
    },
    Program {
        name: "sigev-signature",
        kind: Kind::C { curl: false, libs: &[] },
        claim: "sigev_notify_function returns void, not void *",
        chapter: "09-aio-callback.md",
    },
];

/// The program called `name`.
pub fn find(name: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|p| p.name == name)
}

/// Where the C sources are: docs/evidence in the workspace.
pub fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/evidence")
}

/// What running a program gave.
#[derive(Debug)]
pub enum Outcome {
    Ran {
        code: Option<i32>,
        stdout: String,
        stderr: String,
        took: Duration,
    },
    /// A tool it needs is missing here (the reason says which).
    Skipped(String),
}

/// Why a program could not be built or run.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// No program is allowed longer than this; past it, it is killed and reported.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Builds `program` (C programs only: Rust ones are built by cargo) and returns the
/// executable, or None with the reason when the C compiler or the curl headers are missing.
pub fn build(program: &Program) -> Result<Result<PathBuf, String>, Error> {
    let Kind::C { curl, libs } = program.kind else {
        return Err(Error(format!("{} is a Rust program: cargo builds it", program.name)));
    };
    if Command::new("cc").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        return Ok(Err("no C compiler: `cc` is not installed (apt-get install gcc)".into()));
    }
    let dir = PathBuf::from(env!("EVIDENCE_BUILD_DIR"));
    std::fs::create_dir_all(&dir).map_err(|e| Error(format!("create {}: {e}", dir.display())))?;
    let exe = dir.join(program.name);
    let source = source_dir().join(format!("{}.c", program.name));
    let mut cc = Command::new("cc");
    // Fixed flags, whatever CFLAGS says: aio-dead-aiocb depends on the frame layout -O1 gives.
    cc.args(["-std=gnu11", "-O1", "-Wall", "-Wextra", "-o"]).arg(&exe).arg(&source);
    if curl {
        let include = env!("EVIDENCE_CURL_INCLUDE");
        if !include.is_empty() {
            cc.arg(format!("-I{include}"));
        }
        // The bundled libcurl.a as curl-sys built it, or -lcurl. A static library that
        // is gone (curl-sys rebuilt against a system libcurl since) falls back to -lcurl.
        for arg in env!("EVIDENCE_CURL_LIBS").split_whitespace() {
            if arg.ends_with(".a") && !Path::new(arg).exists() {
                cc.arg("-lcurl");
            } else {
                cc.arg(arg);
            }
        }
    }
    cc.args(libs);
    let out = cc.output().map_err(|e| Error(format!("run cc: {e}")))?;
    if !out.status.success() {
        let diagnostics = String::from_utf8_lossy(&out.stderr);
        if curl && diagnostics.contains("curl/curl.h") {
            return Ok(Err("no libcurl headers (apt-get install libcurl4-openssl-dev)".into()));
        }
        return Err(Error(format!("cc {} failed:\n{diagnostics}", source.display())));
    }
    Ok(Ok(exe))
}

/// Builds (if C) and runs `program`, killing it at [`DEADLINE`]. `rust_bins` is the
/// folder holding this package's binaries (the Rust programs).
pub fn run(program: &Program, rust_bins: &Path) -> Result<Outcome, Error> {
    let exe = match program.kind {
        Kind::Rust => rust_bins.join(program.name),
        Kind::C { .. } => match build(program)? {
            Ok(exe) => exe,
            Err(reason) => return Ok(Outcome::Skipped(reason)),
        },
    };
    let start = Instant::now();
    let mut child = Command::new(&exe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error(format!("run {}: {e}", exe.display())))?;
    let mut stdout_pipe = child.stdout.take();
    let mut stderr_pipe = child.stderr.take();
    let stdout_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = stdout_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = stderr_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    // A child has no way to say "finished" other than being waited for: check every 5 ms.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error(format!("{} still running after {DEADLINE:?}: killed", program.name)));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(Error(format!("wait for {}: {e}", program.name))),
        }
    };
    let took = start.elapsed();
    let stdout = stdout_reader.join().unwrap_or_default();
    let stderr = stderr_reader.join().unwrap_or_default();
    Ok(Outcome::Ran { code: status.code(), stdout, stderr, took })
}
