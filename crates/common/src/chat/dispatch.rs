//! All of one ready fd's steps at once (notes: "3. using select()", the chat server's
//! loop body in one call), for code that does not need to show them (the room's own
//! tests, benchmarks). The demos call the steps one by one instead,
//! in their `handle`, so a student sees each of them.

use super::happening::Happening;
use super::room::Input;
use super::{ChatRoom, Kind};
use std::os::fd::RawFd;

impl ChatRoom {
    /// `fd` is readable: accept, serve the stats port, or read and relay (or carry out
    /// commands), closing the client if it is gone.
    pub fn on_readable(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        match self.kind(fd) {
            Some(Kind::ChatListener) => self.accept(&mut happened),
            Some(Kind::StatsListener) => self.serve_stats(&mut happened),
            Some(Kind::Client) => match self.read(fd, &mut happened) {
                Input::Lines(lines) => {
                    for line in lines {
                        self.relay_or_command(fd, &line, &mut happened);
                    }
                }
                Input::Closed(why) => self.close(fd, why, &mut happened),
            },
            None => {}
        }
        happened
    }

    /// `fd` is writable: write once, closing the client if it must go.
    pub fn on_writable(&mut self, fd: RawFd) -> Vec<Happening> {
        let mut happened = Vec::new();
        if let Some(why) = self.write(fd, &mut happened) {
            self.close(fd, why, &mut happened);
        }
        happened
    }

    /// A line from `fd`: a `/command`, or something to relay.
    pub fn relay_or_command(&mut self, fd: RawFd, line: &str, happened: &mut Vec<Happening>) {
        if line.starts_with('/') {
            self.command(fd, line, happened);
        } else {
            self.relay(fd, line, happened);
        }
    }
}
