//! The Rust side of `just evidence sigpipe`: Rust's runtime sets SIGPIPE to "ignore"
//! before main, so writing to a peer that left is an ordinary error (EPIPE, which std
//! calls ErrorKind::BrokenPipe) and the program goes on. A C program dies of the same
//! write (docs/evidence/sigpipe.c). The chat demos rely on this: a client that vanishes
//! mid-relay costs one error, not the server.

use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

fn main() -> ExitCode {
    let (mut ours, theirs) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("error: socketpair: {e}");
            return ExitCode::FAILURE;
        }
    };
    drop(theirs); // the client left
    let result = ours.write(b"hello\n");
    match &result {
        Ok(n) => println!("write -> Ok({n})"),
        Err(e) => {
            println!("write -> Err: {:?}, errno {} (EPIPE is 32)", e.kind(), e.raw_os_error().unwrap_or(0))
        }
    }
    println!("still running after the write");
    let holds =
        matches!(&result, Err(e) if e.kind() == ErrorKind::BrokenPipe && e.raw_os_error() == Some(32));
    println!(
        "{}: a Rust program is not killed by SIGPIPE; the write fails with EPIPE",
        if holds { "holds" } else { "FAILS" }
    );
    if holds {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
