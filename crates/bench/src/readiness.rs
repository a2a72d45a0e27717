//! Part 1: what one wakeup of a readiness loop costs as the number of watched fds grows
//! (notes: "3. using select()", "4. pselect()", "4. poll()"; epoll is Linux's answer to
//! their linear cost, shown for contrast).
//!
//! Two shapes of loop, each written in Rust (below) and in C (`c/readiness.c`):
//!
//! * **once**: N pipes watched, exactly one of them holding a byte, timeout 0. One
//!   iteration is what a real loop pays per wakeup: rebuild the fd_set (select and
//!   pselect overwrite it), make the call, then find the ready fd (select and poll
//!   hand back the whole set to scan; epoll hands back only the ready ones).
//! * **chain**: like libevent's classic bench: a one-byte token travels around N pipes;
//!   each hop waits, finds the one ready pipe, reads the byte and writes it into the
//!   next pipe. This adds a read and a write per wakeup: real work to compare against.
//!
//! Every watched fd is below 1024 (FD_SETSIZE), so select can watch all of them: the
//! read ends sit at low numbers and the write ends, never watched, go above.

use crate::harness::{calibrate, interleave, Measured, Variant};
use crate::plot::{self, Series};
use crate::report::{fmt_ns, Bench, Goal, Table};
use common::sys::c_loops::{self as ffi, CCall};
use common::{Context, Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::select::{pselect, select, FdSet};
use nix::sys::signal::SigSet;
use nix::sys::time::{TimeSpec, TimeVal};
use serde_json::json;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The readiness calls compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// select(2): an fd_set bitmap in, the same bitmap out.
    Select,
    /// pselect(2): select with a timespec and a signal mask.
    Pselect,
    /// poll(2): an array of struct pollfd.
    Poll,
    /// epoll_wait(2): the kernel keeps the interest list; only ready fds come back.
    Epoll,
}

impl Call {
    /// All four, in the order the notes teach them (epoll last, not in the notes).
    pub const ALL: [Call; 4] = [Call::Select, Call::Pselect, Call::Poll, Call::Epoll];

    /// The call's name as a C programmer knows it.
    pub fn name(self) -> &'static str {
        match self {
            Call::Select => "select",
            Call::Pselect => "pselect",
            Call::Poll => "poll",
            Call::Epoll => "epoll_wait",
        }
    }
}

/// N pipes whose read ends are all below FD_SETSIZE: `read[0]` is "the active one".
#[derive(Debug)]
pub struct Pipes {
    /// Read ends, all < 1024.
    pub read: Vec<OwnedFd>,
    /// Write ends (anywhere; never watched).
    pub write: Vec<OwnedFd>,
}

// ANCHOR: low_fds
/// Makes `count` pipes with every read end below 1024.
///
/// pipe() takes the two lowest free fds, so 1000 pipes made plainly would number
/// 3..2002 with half their read ends above FD_SETSIZE. Instead: first fill the low
/// numbers with placeholders (/dev/null), then make each pipe (landing high) and
/// dup2() its read end onto a placeholder's low number.
pub fn low_pipes(count: usize) -> Result<Pipes> {
    common::fd::raise_nofile_limit(2 * count as u64 + 64)?;
    let mut placeholders = Vec::with_capacity(count);
    for _ in 0..count {
        let file = std::fs::File::open("/dev/null").context("open /dev/null (placeholder fd)")?;
        placeholders.push(OwnedFd::from(file));
    }
    let mut pipes = Pipes { read: Vec::with_capacity(count), write: Vec::with_capacity(count) };
    for mut low in placeholders {
        let (high_read, write) = common::fd::pipe()?;
        nix::unistd::dup3(&high_read, &mut low, nix::fcntl::OFlag::O_CLOEXEC)
            .with_context(|| format!("dup3(fd {}, fd {})", high_read.as_raw_fd(), low.as_raw_fd()))?;
        pipes.read.push(low);
        pipes.write.push(write);
    }
    if let Some(fd) = pipes.read.iter().map(|fd| fd.as_raw_fd()).find(|&fd| fd >= 1024) {
        return Err(Error::msg("low_pipes", format!("read end fd {fd} is not below FD_SETSIZE (1024)")));
    }
    Ok(pipes)
}
// ANCHOR_END: low_fds

/// The fds one measurement watches: N read ends, the active one last.
pub struct Watched<'p> {
    /// The watched read ends, in the order loops scan them (the active one last).
    pub read: Vec<BorrowedFd<'p>>,
    /// The matching write ends (the chain writes the token into them).
    pub write: Vec<BorrowedFd<'p>>,
    /// Raw numbers of `read`, for the C loops.
    pub read_raw: Vec<RawFd>,
    /// Raw numbers of `write`, for the C loops.
    pub write_raw: Vec<RawFd>,
    /// Highest watched fd + 1: select's first argument.
    pub nfds: i32,
    /// An epoll instance watching `read` for EPOLLIN, each entry's data = its index.
    pub epoll: Epoll,
}

impl<'p> Watched<'p> {
    /// The first `n` pipes: `n - 1` idle ones, then the active one (`pipes.read[0]`).
    pub fn new(pipes: &'p Pipes, n: usize) -> Result<Self> {
        if n == 0 || n > pipes.read.len() {
            return Err(Error::msg("watch", format!("want 1..={} fds, got {n}", pipes.read.len())));
        }
        let order: Vec<usize> = (1..n).chain(std::iter::once(0)).collect();
        let read: Vec<BorrowedFd<'p>> = order.iter().map(|&k| pipes.read[k].as_fd()).collect();
        let write: Vec<BorrowedFd<'p>> = order.iter().map(|&k| pipes.write[k].as_fd()).collect();
        let read_raw: Vec<RawFd> = read.iter().map(|fd| fd.as_raw_fd()).collect();
        let write_raw: Vec<RawFd> = write.iter().map(|fd| fd.as_raw_fd()).collect();
        let nfds = read_raw.iter().copied().max().unwrap_or(0) + 1;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1")?;
        for (index, fd) in read.iter().enumerate() {
            epoll
                .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, index as u64))
                .with_context(|| format!("epoll_ctl(ADD, fd {})", fd.as_raw_fd()))?;
        }
        Ok(Watched { read, write, read_raw, write_raw, nfds, epoll })
    }
}

// ANCHOR: once
/// `iters` wakeups of a loop watching `w` with timeout 0; returns the ready fds seen
/// (exactly one per call, the active pipe, when all is well).
pub fn rust_once(call: Call, w: &Watched<'_>, iters: u64) -> Result<u64> {
    let mut seen = 0u64;
    match call {
        Call::Select | Call::Pselect => {
            let sigmask = SigSet::thread_get_mask().context("pthread_sigmask")?;
            for _ in 0..iters {
                // select overwrites the set with the answer: rebuild it every time.
                let mut readable = FdSet::new();
                for fd in &w.read {
                    readable.insert(*fd);
                }
                let ready = if call == Call::Select {
                    select(w.nfds, &mut readable, None, None, &mut TimeVal::new(0, 0)).context("select")?
                } else {
                    pselect(w.nfds, &mut readable, None, None, &TimeSpec::new(0, 0), &sigmask)
                        .context("pselect")?
                };
                // The answer is a bitmap: test every watched fd until all ready ones are found.
                let mut found = 0;
                for fd in &w.read {
                    if found >= ready {
                        break;
                    }
                    if readable.contains(*fd) {
                        found += 1;
                    }
                }
                seen += found as u64;
            }
        }
        Call::Poll => {
            // The pollfd array survives the call (only revents is written): build it once.
            let mut watched: Vec<PollFd> =
                w.read.iter().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)).collect();
            for _ in 0..iters {
                let ready = poll(&mut watched, PollTimeout::ZERO).context("poll")?;
                let mut found = 0;
                for entry in &watched {
                    if found >= ready {
                        break;
                    }
                    if entry.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)) {
                        found += 1;
                    }
                }
                seen += found as u64;
            }
        }
        Call::Epoll => {
            // The kernel keeps the interest list; only the ready entries come back.
            let mut events = [EpollEvent::empty(); 64];
            for _ in 0..iters {
                let ready = w.epoll.wait(&mut events, EpollTimeout::ZERO).context("epoll_wait")?;
                seen += events[..ready].iter().filter(|e| e.events().contains(EpollFlags::EPOLLIN)).count()
                    as u64;
            }
        }
    }
    Ok(seen)
}
// ANCHOR_END: once

/// Moves the token from pipe `from` into the next pipe.
fn pass_token(w: &Watched<'_>, from: usize) -> Result<()> {
    let mut token = [0u8; 1];
    let got = nix::unistd::read(w.read[from], &mut token).context("read token")?;
    if got != 1 {
        return Err(Error::msg("read token", "pipe was empty"));
    }
    nix::unistd::write(w.write[(from + 1) % w.read.len()], &token).context("write token")?;
    Ok(())
}

/// Reads the token back out after `hops` hops from pipe 0 (it is in pipe `hops % n`),
/// leaving every pipe empty. O(1), so a short batch is not charged a scan of N fds.
fn take_token(w: &Watched<'_>, hops: u64) -> Result<()> {
    let holder = (hops % w.read.len() as u64) as usize;
    let got = nix::unistd::read(w.read[holder], &mut [0u8; 1]).context("read token")?;
    if got != 1 {
        return Err(Error::msg("take token", "the token is not where it should be"));
    }
    Ok(())
}

// ANCHOR: chain
/// `hops` passes of a one-byte token around the watched pipes; returns the hops made.
pub fn rust_chain(call: Call, w: &Watched<'_>, hops: u64) -> Result<u64> {
    let lost = || Error::msg(call.name(), "no fd ready: the token went missing");
    nix::unistd::write(w.write[0], b"t").context("write token")?;
    let mut made = 0u64;
    match call {
        Call::Select | Call::Pselect => {
            let sigmask = SigSet::thread_get_mask().context("pthread_sigmask")?;
            for _ in 0..hops {
                let mut readable = FdSet::new();
                for fd in &w.read {
                    readable.insert(*fd);
                }
                if call == Call::Select {
                    select(w.nfds, &mut readable, None, None, &mut TimeVal::new(0, 0)).context("select")?;
                } else {
                    pselect(w.nfds, &mut readable, None, None, &TimeSpec::new(0, 0), &sigmask)
                        .context("pselect")?;
                }
                let ready = w.read.iter().position(|fd| readable.contains(*fd)).ok_or_else(lost)?;
                pass_token(w, ready)?;
                made += 1;
            }
        }
        Call::Poll => {
            let mut watched: Vec<PollFd> =
                w.read.iter().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)).collect();
            for _ in 0..hops {
                poll(&mut watched, PollTimeout::ZERO).context("poll")?;
                let ready = watched
                    .iter()
                    .position(|e| e.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)))
                    .ok_or_else(lost)?;
                pass_token(w, ready)?;
                made += 1;
            }
        }
        Call::Epoll => {
            let mut events = [EpollEvent::empty(); 64];
            for _ in 0..hops {
                let ready = w.epoll.wait(&mut events, EpollTimeout::ZERO).context("epoll_wait")?;
                let index = events[..ready].first().map(|e| e.data() as usize).ok_or_else(lost)?;
                if index >= w.read.len() {
                    return Err(lost());
                }
                pass_token(w, index)?;
                made += 1;
            }
        }
    }
    take_token(w, hops)?;
    Ok(made)
}
// ANCHOR_END: chain

/// Which loop shape a variant runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One wait per iteration, one fd always ready.
    Once,
    /// A token passed from pipe to pipe.
    Chain,
}

/// Rust or C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// The loops in this file (nix).
    Rust,
    /// c/readiness.c
    C,
}

fn c_call(call: Call, w: &Watched<'_>) -> CCall {
    match call {
        Call::Select => CCall::Select,
        Call::Pselect => CCall::Pselect,
        Call::Poll => CCall::Poll,
        Call::Epoll => CCall::Epoll(w.epoll.0.as_raw_fd()),
    }
}

/// One batch of `iters` iterations; returns its duration, after checking that every
/// iteration saw exactly one ready fd.
fn batch(shape: Shape, lang: Lang, call: Call, w: &Watched<'_>, iters: u64) -> Result<Duration> {
    let start = Instant::now();
    let seen = match (shape, lang) {
        (Shape::Once, Lang::Rust) => rust_once(call, w, iters)?,
        (Shape::Once, Lang::C) => ffi::once(c_call(call, w), &w.read_raw, iters)?,
        (Shape::Chain, Lang::Rust) => rust_chain(call, w, iters)?,
        (Shape::Chain, Lang::C) => ffi::chain(c_call(call, w), &w.read_raw, &w.write_raw, iters)?,
    };
    let took = start.elapsed();
    if seen != iters {
        return Err(Error::msg(
            call.name(),
            format!("saw {seen} ready fds in {iters} iterations, expected one each"),
        ));
    }
    Ok(took)
}

/// The sizes measured.
pub fn sizes(quick: bool) -> Vec<usize> {
    if quick {
        vec![1, 10, 100]
    } else {
        vec![1, 10, 100, 1000]
    }
}

/// One figure: median ns per iteration for (shape, lang, call, n).
#[derive(Debug, Clone)]
pub struct Point {
    /// Loop shape.
    pub shape: Shape,
    /// Rust or C.
    pub lang: Lang,
    /// Which call.
    pub call: Call,
    /// Watched fds.
    pub n: usize,
    /// ns per iteration, median and spread.
    pub measured: Measured,
}

/// Runs part 1 and reports it.
pub fn run(bench: &mut Bench) -> Result<()> {
    bench.part(1, "readiness", "Readiness scaling: one wakeup with N watched fds (one ready), timeout 0");
    let sizes = sizes(bench.quick);
    let largest = sizes.iter().copied().max().unwrap_or(1);
    let pipes = low_pipes(largest)?;
    let watched: Vec<Watched<'_>> = sizes.iter().map(|&n| Watched::new(&pipes, n)).collect::<Result<_>>()?;
    let (batch_target, rounds) =
        if bench.quick { (Duration::from_micros(200), 5) } else { (Duration::from_micros(250), 200) };

    let mut points = Vec::new();
    for shape in [Shape::Once, Shape::Chain] {
        // Once: the active pipe always holds one byte. Chain: every pipe starts empty.
        if shape == Shape::Once {
            nix::unistd::write(&pipes.write[0], b"x").context("write the active pipe")?;
        }
        let mut keys = Vec::new();
        let mut variants = Vec::new();
        for (w, &n) in watched.iter().zip(&sizes) {
            for call in Call::ALL {
                for lang in [Lang::Rust, Lang::C] {
                    let iters = calibrate(batch_target, |iters| batch(shape, lang, call, w, iters))?;
                    let name = format!("{}{} N={n}", call.name(), if lang == Lang::C { " (C)" } else { "" });
                    keys.push((lang, call, n));
                    variants.push(Variant::new(name, move || {
                        Ok(batch(shape, lang, call, w, iters)?.as_secs_f64() * 1e9 / iters as f64)
                    }));
                }
            }
        }
        let measured = interleave(&mut variants, rounds)?;
        drop(variants);
        if shape == Shape::Once {
            nix::unistd::read(&pipes.read[0], &mut [0u8; 1]).context("drain the active pipe")?;
        }
        for ((lang, call, n), m) in keys.into_iter().zip(measured) {
            let lang_name = if lang == Lang::C { "c" } else { "rust" };
            let shape_name = if shape == Shape::Once { "once" } else { "chain" };
            bench.measurement(
                "readiness",
                &m,
                "ns_per_iteration",
                json!({"shape": shape_name, "lang": lang_name, "call": call.name(), "n": n}),
            );
            points.push(Point { shape, lang, call, n, measured: m });
        }
    }
    report(bench, &points, &sizes)?;
    drop(watched);
    Ok(())
}

fn find(points: &[Point], shape: Shape, lang: Lang, call: Call, n: usize) -> Option<&Point> {
    points.iter().find(|p| p.shape == shape && p.lang == lang && p.call == call && p.n == n)
}

fn median(points: &[Point], shape: Shape, lang: Lang, call: Call, n: usize) -> f64 {
    find(points, shape, lang, call, n).map_or(f64::NAN, |p| p.measured.stats.median)
}

fn report(bench: &mut Bench, points: &[Point], sizes: &[usize]) -> Result<()> {
    let largest = sizes.iter().copied().max().unwrap_or(1);
    for shape in [Shape::Once, Shape::Chain] {
        let (title, what) = match shape {
            Shape::Once => ("one wakeup: rebuild set + call + find the ready fd", "per call"),
            Shape::Chain => ("chain: wait + read token + write it to the next pipe", "per hop"),
        };
        bench.n.say(format!(
            "\n   {title}, median time {what}; spread: half the p10-p90 range, as a share of the median"
        ));
        let mut header = vec!["call".to_string()];
        header.extend(sizes.iter().map(|n| format!("N={n}")));
        header.push(format!("T({largest})/T(1)"));
        header.push("spread".into());
        header.push(format!("Rust/C @{largest}"));
        let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut table = Table::new(&header_refs);
        let mut load = crate::harness::LoadSeen::new();
        for call in Call::ALL {
            for lang in [Lang::Rust, Lang::C] {
                let mut row = vec![format!("{}{}", call.name(), if lang == Lang::C { " (C)" } else { "" })];
                let mut spread: f64 = 0.0;
                for &n in sizes {
                    if let Some(p) = find(points, shape, lang, call, n) {
                        row.push(fmt_ns(p.measured.stats.median));
                        let s = &p.measured.stats;
                        spread = spread.max((s.p90 - s.p10) / s.median);
                        load = p.measured.load;
                    }
                }
                let scale = median(points, shape, lang, call, largest) / median(points, shape, lang, call, 1);
                row.push(format!("{scale:.1}x"));
                row.push(format!("±{:.0}%", spread * 50.0));
                if lang == Lang::Rust {
                    let rust_c = median(points, shape, Lang::Rust, call, largest)
                        / median(points, shape, Lang::C, call, largest);
                    row.push(format!("{rust_c:.2}"));
                } else {
                    row.push(String::new());
                }
                table.row(row);
            }
        }
        bench.table(&table);
        bench.load_line(&load);

        let label = if shape == Shape::Once { "once" } else { "chain" };
        for call in Call::ALL {
            let scale =
                median(points, shape, Lang::Rust, call, largest) / median(points, shape, Lang::Rust, call, 1);
            bench.ratio(
                "readiness",
                format!("{label}: {} T({largest})/T(1)", call.name()),
                scale,
                Goal::Info,
                &load,
            );
        }
        for (a, b) in [(Call::Poll, Call::Epoll), (Call::Select, Call::Epoll)] {
            let ratio =
                median(points, shape, Lang::Rust, a, largest) / median(points, shape, Lang::Rust, b, largest);
            bench.ratio(
                "readiness",
                format!("{label}: {} / {} at N={largest}", a.name(), b.name()),
                ratio,
                Goal::Info,
                &load,
            );
        }
        if shape == Shape::Once {
            for call in [Call::Select, Call::Poll] {
                let slope = (median(points, shape, Lang::Rust, call, largest)
                    - median(points, shape, Lang::Rust, call, 1))
                    / (largest - 1) as f64;
                bench.n.say(format!("   {}: {slope:.1} ns more per idle fd watched", call.name()));
                bench.n.data("per_idle_fd", json!({"call": call.name(), "ns_per_idle_fd": slope}));
            }
        }
        for call in Call::ALL {
            let rust_c = median(points, shape, Lang::Rust, call, largest)
                / median(points, shape, Lang::C, call, largest);
            bench.ratio(
                "readiness",
                format!("{label}: Rust/C {} at N={largest}", call.name()),
                rust_c,
                Goal::AtMost(1.1),
                &load,
            );
        }

        if let Some(dir) = bench.plots.clone() {
            let file = if shape == Shape::Once { "readiness-once.svg" } else { "readiness-chain.svg" };
            let mut series = Vec::new();
            for call in Call::ALL {
                for lang in [Lang::Rust, Lang::C] {
                    let points: Vec<(f64, f64, f64, f64)> = sizes
                        .iter()
                        .filter_map(|&n| find(points, shape, lang, call, n))
                        .map(|p| {
                            (p.n as f64, p.measured.stats.median, p.measured.stats.p10, p.measured.stats.p90)
                        })
                        .collect();
                    series.push(Series {
                        name: format!("{}{}", call.name(), if lang == Lang::C { " (C)" } else { "" }),
                        points,
                        color: plot::color(call as usize),
                        dashed: lang == Lang::C,
                    });
                }
            }
            let caption = match shape {
                Shape::Once => "One wakeup with N watched fds, one ready (timeout 0)",
                Shape::Chain => "Token passed around N pipes: time per hop",
            };
            let path = dir.join(file);
            let y_label = if shape == Shape::Once { "time per wakeup" } else { "time per hop" };
            plot::draw(&path, caption, "watched fds (N)", y_label, &series, plot::Axes::log_log_ns())?;
            bench.plot_written(&path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_pipes_keep_read_ends_below_fd_setsize() {
        // 800, not 1000: the other test in this binary opens ~150 fds at the same time,
        // and every fd it holds pushes these placeholders up.
        let pipes = low_pipes(800).unwrap();
        assert!(pipes.read.iter().all(|fd| fd.as_raw_fd() < 1024));
        assert_eq!(pipes.write.len(), 800);
        // The pipes are real: bytes written to pipe 7 come out of pipe 7.
        nix::unistd::write(&pipes.write[7], b"hi!").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(nix::unistd::read(&pipes.read[7], &mut buf), Ok(3));
    }

    #[test]
    fn every_loop_sees_exactly_the_active_fd_and_every_chain_comes_back_empty() {
        let pipes = low_pipes(50).unwrap();
        for n in [1, 2, 50] {
            let w = Watched::new(&pipes, n).unwrap();
            for call in Call::ALL {
                for lang in [Lang::Rust, Lang::C] {
                    batch(Shape::Chain, lang, call, &w, 123).unwrap();
                }
            }
            nix::unistd::write(&pipes.write[0], b"x").unwrap();
            for call in Call::ALL {
                for lang in [Lang::Rust, Lang::C] {
                    batch(Shape::Once, lang, call, &w, 10).unwrap();
                    assert_eq!(
                        match lang {
                            Lang::Rust => rust_once(call, &w, 7).unwrap(),
                            Lang::C => ffi::once(c_call(call, &w), &w.read_raw, 7).unwrap(),
                        },
                        7
                    );
                }
            }
            nix::unistd::read(&pipes.read[0], &mut [0u8; 1]).unwrap();
        }
        // With nothing ready, a chain notices the missing token instead of spinning.
        let w = Watched::new(&pipes, 3).unwrap();
        assert_eq!(rust_once(Call::Poll, &w, 5).unwrap(), 0);
        assert_eq!(ffi::once(CCall::Poll, &w.read_raw, 5).unwrap(), 0);
    }
}
