//! moderation-solution: lab 2's reference. The starter's select() chat server with an
//! operator, private messages (`/msg`), `/kick` and `/ban` (notes: "3. using select()",
//! whose chat example mentions kicking and banning spammers).
//!
//! Run it: `cargo run -q -p moderation-solution -- --listen 127.0.0.1:7000`, then `nc
//! 127.0.0.1 7000` from two or three terminals (the first is the operator). Mark it:
//! `just lab moderation --solution`.
//!
//! This file is the starter's, unchanged but for the names: the lab changes only what
//! the room does with each line, not how the server waits. `diff -r starter/src
//! solution/src` shows the whole answer.

mod room;

use clap::Parser;
use common::{Error, Result};
use nix::errno::Errno;
use nix::sys::select::{select, FdSet};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

/// A chat server on select().
#[derive(Parser, Debug)]
#[command(
    name = "moderation-solution",
    about = "Lab 2 reference: a select() chat server with /msg, /kick and /ban; the first client is the operator",
    after_help = "Examples:\n  moderation-solution --listen 127.0.0.1:7000\n      then, in two other terminals: nc 127.0.0.1 7000\n  moderation-solution --listen 127.0.0.1:0\n      any free port; the first line says which"
)]
struct Cli {
    /// Address to listen on (port 0: the kernel picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7000")]
    listen: SocketAddr,
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let mut room = room::Room::bind(cli.listen)?;
    // The first stdout line: the checker reads the port from it.
    println!("listening on {}", room.local_addr()?);
    loop {
        // select() overwrites its sets with the answer, so they are built afresh on
        // every turn from what the room wants: the listener and every client for
        // reading, and a client for writing only while it has output queued.
        let watch = room.watch_list();
        let mut read_set = FdSet::new();
        let mut write_set = FdSet::new();
        for w in &watch {
            if w.read {
                read_set.insert(w.fd);
            }
            if w.write {
                write_set.insert(w.fd);
            }
        }
        // nfds is the highest fd plus one (the kernel scans bits 0..nfds), not a count.
        let nfds = watch.iter().map(|w| w.fd.as_raw_fd()).max().map_or(0, |fd| fd + 1);
        match select(nfds, &mut read_set, &mut write_set, None, None) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::os("select", e)),
        }
        // The sets now hold only the ready fds. Note them, then let go of the borrows
        // so the room can change (accept, close) while handling them.
        let ready: Vec<(RawFd, bool, bool)> = watch
            .iter()
            .map(|w| {
                (w.fd.as_raw_fd(), w.read && read_set.contains(w.fd), w.write && write_set.contains(w.fd))
            })
            .filter(|&(_, r, w)| r || w)
            .collect();
        drop((read_set, write_set, watch));
        for (fd, readable, writable) in ready {
            if writable {
                room.on_writable(fd);
            }
            if readable {
                room.on_readable(fd);
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    common::error::main_wrapper(run)
}
