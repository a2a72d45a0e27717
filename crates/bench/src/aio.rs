//! Part 4: POSIX AIO and io_uring, what they cost and what they buy (notes:
//! "Asynchronous I/O with AIO"; io_uring is beyond them).
//!
//! * **Cost.** A 4 KiB read of a file already in the page cache, with pread(), with
//!   aio_read() (waiting with aio_suspend, or spinning on aio_error), and with io_uring
//!   at queue depth 1 and 32. glibc's AIO is not kernel AIO: every request is handed to
//!   a worker thread, which calls pread and wakes the caller. For data that is already
//!   in memory, that hand-off is all overhead, and it is measured here honestly;
//!   io_uring's read runs in the kernel, in the io_uring_enter call itself.
//! * **On a slow device.** 32 reads of the simulated device, one at a time (read) or
//!   all requested at once (aio_read, io_uring at depth 32).
//! * **Gain.** Double-buffering (the aio-poll-loop demo's own code) on the simulated
//!   slow device: read input i+1 with aio_read while processing input i. With read time
//!   R and process time P, the best speed-up over read-then-process is
//!   (R+P)/max(R,P): 2 when P = R, less either side. The ratio measured/ideal says how
//!   much of that the real loop gets.

use crate::harness::{calibrate, interleave, stats, LoadSeen, Measured, Variant};
use crate::plot::{self, Series};
use crate::report::{fmt_ns, Bench, Goal, Table};
use crate::uring_reads;
use aio_poll_loop::{Options, WaitStyle};
use common::aio::sample_text;
use common::sys::aio::{aio_suspend, AioRead, Status};
use common::{Context, Error, Narrator, Result};
use offline::slow::SlowDevice;
use serde_json::json;
use std::cell::RefCell;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One 4 KiB block: the size of a page, and of the reads being compared.
const BLOCK: usize = 4096;

/// How long any one aio_read may take before the benchmark gives up.
const DEADLINE: Duration = Duration::from_secs(5);

/// How the aio_read variant waits for its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AioWait {
    /// aio_suspend: sleep until the worker thread is done.
    Suspend,
    /// aio_error in a tight loop: the lowest latency AIO can give, at the price of a core.
    Spin,
}

/// `iters` preads of the first 4 KiB of `fd`.
fn preads(fd: &OwnedFd, iters: u64) -> Result<()> {
    let mut buf = vec![0u8; BLOCK];
    for _ in 0..iters {
        let got = nix::sys::uio::pread(fd, &mut buf, 0).context("pread")?;
        if got != BLOCK {
            return Err(Error::msg("pread", format!("short read: {got} of {BLOCK} bytes")));
        }
    }
    Ok(())
}

// ANCHOR: aio_cost
/// `iters` aio_reads of the first 4 KiB of `fd`, one at a time, each collected with
/// aio_return before the next is issued (the same work as [`preads`], through glibc's
/// worker thread).
fn aio_reads(fd: &Arc<OwnedFd>, iters: u64, wait: AioWait) -> Result<()> {
    for _ in 0..iters {
        let mut req = AioRead::new(Arc::clone(fd), 0, vec![0u8; BLOCK]);
        req.aio_read().context("aio_read")?;
        let deadline = Instant::now() + DEADLINE;
        while req.aio_error() == Status::InProgress {
            if Instant::now() > deadline {
                return Err(Error::msg("aio_read", "not finished within 5 s"));
            }
            if wait == AioWait::Suspend {
                match aio_suspend(&[&req], DEADLINE) {
                    Ok(()) | Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                    Err(e) => return Err(Error::os("aio_suspend", e)),
                }
            }
        }
        let done = req.aio_return().map_err(|_| Error::msg("aio_return", "request not finished"))?;
        if done.ret != BLOCK as isize {
            return Err(Error::msg(
                "aio_read",
                format!("returned {} ({}), wanted {BLOCK}", done.ret, done.status.c_name()),
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: aio_cost

/// A batch of `iters` reads, done one way.
type Reads<'a> = &'a dyn Fn(u64) -> Result<()>;

/// Queue depth of the io_uring variant that keeps many reads in flight.
const DEPTH: usize = 32;

/// The cached-read comparison: ns per 4 KiB read, pread vs aio_read vs io_uring.
fn cost(bench: &mut Bench) -> Result<()> {
    // DEPTH blocks, so the deep io_uring variant reads DEPTH different cached pages.
    let file = offline::TempFile::with_contents("bench-4k", &sample_text(0, BLOCK * DEPTH))?;
    let fd: Arc<OwnedFd> = Arc::new(OwnedFd::from(
        std::fs::File::open(file.path()).with_context(|| format!("open {}", file.path().display()))?,
    ));
    // One read first, so the page is in the cache and every variant reads memory.
    preads(&fd, 1)?;
    let ring = uring_reads::ring(2 * DEPTH as u32).map(RefCell::new);
    let (target, rounds) =
        if bench.quick { (Duration::from_micros(500), 5) } else { (Duration::from_millis(2), 60) };
    let timed = |f: Reads<'_>, iters: u64| -> Result<Duration> {
        let start = Instant::now();
        f(iters)?;
        Ok(start.elapsed())
    };
    let pread_fn = |iters: u64| preads(&fd, iters);
    let suspend_fn = |iters: u64| aio_reads(&fd, iters, AioWait::Suspend);
    let spin_fn = |iters: u64| aio_reads(&fd, iters, AioWait::Spin);
    let uring_fn = |depth: usize, iters: u64| match &ring {
        Ok(ring) => uring_reads::reads(&mut ring.borrow_mut(), fd.as_fd(), BLOCK, depth, iters),
        Err(why) => Err(Error::msg("io_uring", why.clone())),
    };
    let uring_1 = |iters: u64| uring_fn(1, iters);
    let uring_bare = |iters: u64| {
        common::sys::uring::bare_reads(fd.as_fd(), BLOCK, iters, Duration::from_secs(5))
            .map_err(|e| Error::os("io_uring bare read loop", e))
    };
    let uring_deep = |iters: u64| uring_fn(DEPTH, iters);
    let mut fns: Vec<(String, Reads<'_>)> = vec![
        ("pread".into(), &pread_fn),
        ("aio_read + aio_suspend".into(), &suspend_fn),
        ("aio_read + aio_error spin".into(), &spin_fn),
    ];
    if ring.is_ok() {
        fns.push(("io_uring, queue depth 1".into(), &uring_1));
        fns.push((format!("io_uring, queue depth {DEPTH}"), &uring_deep));
        fns.push(("io_uring, depth 1, bare loop".into(), &uring_bare));
    }
    let mut variants = Vec::new();
    for (name, f) in fns {
        let iters = calibrate(target, |iters| timed(f, iters))?;
        variants.push(Variant::new(name, move || Ok(timed(f, iters)?.as_secs_f64() * 1e9 / iters as f64)));
    }
    let measured = interleave(&mut variants, rounds)?;
    drop(variants);

    bench.n.say("\n   one 4 KiB read of a cached file, median time per read");
    let mut table = Table::new(&["how", "per read", "p10-p90", "vs pread", "reads/s"]);
    let base = measured[0].stats.median;
    for m in &measured {
        table.row(vec![
            m.name.clone(),
            fmt_ns(m.stats.median),
            format!("{}-{}", fmt_ns(m.stats.p10), fmt_ns(m.stats.p90)),
            format!("{:.1}x", m.stats.median / base),
            format!("{:.2} M", 1e3 / m.stats.median),
        ]);
        bench.measurement("aio", m, "ns_per_read", json!({"test": "cached_4k_read"}));
    }
    bench.table(&table);
    let load = measured[0].load;
    bench.load_line(&load);
    bench.n.say(
        "   glibc's aio_read hands the request to a worker thread, which calls pread and wakes the caller:",
    );
    bench.n.say(
        "   on data already in memory the hand-off is pure overhead. io_uring reads in the kernel, inside io_uring_enter;",
    );
    bench.n.say(format!(
        "   at depth {DEPTH} one io_uring_enter submits and reaps {DEPTH} reads, so the system call is shared."
    ));
    if ring.is_ok() {
        bench.n.say(
            "   the bare loop is io_uring's own floor at depth 1: one entry, one io_uring_enter, one completion, no bookkeeping.",
        );
    }
    bench.ratio(
        "aio",
        "aio_read+aio_suspend / pread (cached 4 KiB)",
        measured[1].stats.median / base,
        Goal::Info,
        &load,
    );
    bench.ratio(
        "aio",
        "aio_read+spin / pread (cached 4 KiB)",
        measured[2].stats.median / base,
        Goal::Info,
        &load,
    );
    match &ring {
        Ok(_) => {
            bench.ratio(
                "aio",
                "io_uring depth 1 / pread per read (cached 4 KiB)",
                measured[3].stats.median / base,
                Goal::AtMost(2.0),
                &load,
            );
            bench.ratio(
                "aio",
                format!("io_uring depth {DEPTH} reads/s / pread reads/s (cached 4 KiB)"),
                base / measured[4].stats.median,
                Goal::AtLeast(1.0),
                &load,
            );
            bench.ratio(
                "aio",
                "io_uring depth 1, bare loop / pread per read (cached 4 KiB): the floor",
                measured[5].stats.median / base,
                Goal::Info,
                &load,
            );
        }
        Err(why) => bench.n.say(format!("   io_uring not measured: {why}")),
    }
    Ok(())
}

/// 32 reads of the simulated device, one chunk each: one at a time with read(), all
/// requested at once with aio_read, and with io_uring at depth 1 and 32.
fn device_reads(bench: &mut Bench) -> Result<()> {
    let (chunk_ms, rounds) = if bench.quick { (1u64, 2usize) } else { (2, 7) };
    let count = DEPTH;
    let texts: Vec<Vec<u8>> = (0..count).map(|i| sample_text(i, BLOCK)).collect();
    let device = SlowDevice::new(texts, Duration::from_millis(chunk_ms))?;
    let ring = uring_reads::ring(2 * DEPTH as u32).map(RefCell::new);
    let one_by_one = || -> Result<f64> {
        let started = Instant::now();
        let mut buf = vec![0u8; BLOCK];
        for i in 0..count {
            let fd = device.open(i)?;
            let n = common::fd::retry_eintr(|| nix::unistd::read(fd.as_fd(), &mut buf)).context("read")?;
            if n != BLOCK {
                return Err(Error::msg("read", format!("short read: {n} of {BLOCK}")));
            }
        }
        Ok(started.elapsed().as_secs_f64() * 1e3)
    };
    let aio_all = || -> Result<f64> {
        let started = Instant::now();
        let mut reqs = Vec::new();
        for i in 0..count {
            let mut req = AioRead::new(Arc::new(device.open(i)?), 0, vec![0u8; BLOCK]);
            req.aio_read().context("aio_read")?;
            reqs.push(req);
        }
        for req in reqs {
            let deadline = Instant::now() + DEADLINE;
            while req.aio_error() == Status::InProgress {
                if Instant::now() > deadline {
                    return Err(Error::msg("aio_read", "not finished within 5 s"));
                }
                match aio_suspend(&[&req], DEADLINE) {
                    Ok(()) | Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                    Err(e) => return Err(Error::os("aio_suspend", e)),
                }
            }
            let done = req.aio_return().map_err(|_| Error::msg("aio_return", "request not finished"))?;
            if done.ret != BLOCK as isize {
                return Err(Error::msg("aio_read", format!("returned {}", done.ret)));
            }
        }
        Ok(started.elapsed().as_secs_f64() * 1e3)
    };
    let uring = |depth: usize| -> Result<f64> {
        let Ok(ring) = &ring else { return Err(Error::msg("io_uring", "unavailable")) };
        let started = Instant::now();
        uring_reads::device_reads(&mut ring.borrow_mut(), &device, 0..count, BLOCK, depth)?;
        Ok(started.elapsed().as_secs_f64() * 1e3)
    };
    let mut variants = vec![
        Variant::new("read(), one at a time", one_by_one),
        Variant::new("aio_read, all at once", aio_all),
    ];
    if ring.is_ok() {
        variants.push(Variant::new("io_uring, queue depth 1", || uring(1)));
        variants.push(Variant::new(format!("io_uring, queue depth {DEPTH}"), || uring(DEPTH)));
    }
    let measured = interleave(&mut variants, rounds)?;
    drop(variants);
    bench.n.say(format!(
        "\n   {count} reads of the simulated device ({} ms each, from request to data): time for all of them",
        device.latency(0).as_millis()
    ));
    let mut table = Table::new(&["how", "all reads", "p10-p90", "vs one latency"]);
    let latency_ms = device.latency(0).as_secs_f64() * 1e3;
    for m in &measured {
        table.row(vec![
            m.name.clone(),
            format!("{:.1} ms", m.stats.median),
            format!("{:.1}-{:.1} ms", m.stats.p10, m.stats.p90),
            format!("{:.1}x", m.stats.median / latency_ms),
        ]);
        bench.measurement("aio", m, "ms_for_all", json!({"test": "device_reads", "reads": count}));
    }
    bench.table(&table);
    let load = measured[0].load;
    bench.load_line(&load);
    bench.n.say("   one at a time, the latencies add up; requested together, they overlap.");
    Ok(())
}

/// One double-buffering measurement: speed-up and its ideals.
struct Trial {
    measured: f64,
    ideal: f64,
    ideal_n: f64,
    r_ms: f64,
    p_ms: f64,
}

/// The double-buffering comparison at several P/L.
fn double_buffering(bench: &mut Bench) -> Result<()> {
    // L: the device's latency per input (4 chunks of 4 KiB).
    let (chunk_ms, inputs, rounds) = if bench.quick { (1u64, 6usize, 1usize) } else { (3, 24, 5) };
    let ratios = [0.25, 0.5, 1.0, 2.0];
    let texts: Vec<Vec<u8>> = (0..inputs).map(|i| sample_text(i, 4 * BLOCK)).collect();
    let device = SlowDevice::new(texts, Duration::from_millis(chunk_ms))?;
    let latency = device.latency(0);
    let quiet = Narrator::quiet();
    let mut trials: Vec<Vec<Trial>> = ratios.iter().map(|_| Vec::new()).collect();
    // io_uring's double buffering (the io-uring demo's own code): measured / the ideal
    // for this many inputs, per ratio.
    let mut ring = uring_reads::ring(8);
    let mut uring: Vec<Vec<f64>> = ratios.iter().map(|_| Vec::new()).collect();
    let mut load = LoadSeen::new();
    for round in 0..rounds {
        load.sample();
        let mut order: Vec<usize> = (0..ratios.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let o = Options {
                wait: WaitStyle::Suspend,
                process_extra: latency.mul_f64(ratios[index]),
                poll_sleep: Duration::from_millis(1),
                suspend_timeout: Duration::from_secs(1),
            };
            // Alternate which run goes first, so neither always gets a warmer start.
            let (overlapped, baseline) = if round % 2 == 0 {
                let a = aio_poll_loop::run_overlapped(&quiet, &device, &o)?;
                (a, aio_poll_loop::run_sequential(&quiet, &device, &o)?)
            } else {
                let b = aio_poll_loop::run_sequential(&quiet, &device, &o)?;
                (aio_poll_loop::run_overlapped(&quiet, &device, &o)?, b)
            };
            let s = aio_poll_loop::speedup(&overlapped, &baseline);
            if let Ok(ring) = &mut ring {
                let extra = o.process_extra;
                let over = io_uring_demo::double_buffer(&quiet, ring, &device, 0..inputs, extra)?;
                let base = io_uring_demo::sequential(&quiet, &device, 0..inputs, extra)?;
                let u = io_uring_demo::speedup(&over, &base);
                uring[index].push(u.measured / u.ideal);
            }
            trials[index].push(Trial {
                measured: s.measured,
                ideal: s.ideal,
                ideal_n: s.ideal_n,
                r_ms: s.r.as_secs_f64() * 1e3,
                p_ms: s.p.as_secs_f64() * 1e3,
            });
        }
    }
    load.sample();

    bench.n.say(format!(
        "\n   double-buffering on the simulated device: {inputs} inputs, L = {} ms per read; speed-up over read-then-process",
        latency.as_millis()
    ));
    let mut table = Table::new(&[
        "P/L",
        "R",
        "P",
        "measured",
        "ideal (R+P)/max",
        "measured/ideal",
        "ideal for n inputs",
        "aio / ideal for n",
        "io_uring / ideal for n",
    ]);
    let mut lines: [Vec<(f64, f64, f64, f64)>; 3] = Default::default();
    for (index, ratio) in ratios.iter().enumerate() {
        let t = &trials[index];
        let measured = stats(&t.iter().map(|t| t.measured).collect::<Vec<_>>());
        let ideal = stats(&t.iter().map(|t| t.ideal).collect::<Vec<_>>());
        let ideal_n = stats(&t.iter().map(|t| t.ideal_n).collect::<Vec<_>>());
        let of_ideal = stats(&t.iter().map(|t| t.measured / t.ideal).collect::<Vec<_>>());
        let r = stats(&t.iter().map(|t| t.r_ms).collect::<Vec<_>>());
        let p = stats(&t.iter().map(|t| t.p_ms).collect::<Vec<_>>());
        table.row(vec![
            format!("{ratio}"),
            format!("{:.1} ms", r.median),
            format!("{:.1} ms", p.median),
            format!("{:.2}x", measured.median),
            format!("{:.2}x", ideal.median),
            format!("{:.2}", of_ideal.median),
            format!("{:.2}x", ideal_n.median),
            format!("{:.2}", stats(&t.iter().map(|t| t.measured / t.ideal_n).collect::<Vec<_>>()).median),
            if uring[index].is_empty() { "-".into() } else { format!("{:.2}", stats(&uring[index]).median) },
        ]);
        if !uring[index].is_empty() {
            let u = Measured {
                name: format!("io_uring double-buffering P/L={ratio}"),
                stats: stats(&uring[index]),
                load,
            };
            bench.measurement(
                "aio",
                &u,
                "speedup_over_ideal_n",
                json!({"test": "uring_double_buffering", "p_over_l": ratio, "inputs": inputs}),
            );
            bench.ratio(
                "aio",
                format!("io_uring double-buffering P/L={ratio}: measured/ideal for n"),
                u.stats.median,
                Goal::AtLeast(0.95),
                &load,
            );
        }
        let m = Measured { name: format!("double-buffering P/L={ratio}"), stats: of_ideal, load };
        bench.measurement(
            "aio",
            &m,
            "speedup_over_ideal",
            json!({"test": "double_buffering", "p_over_l": ratio, "inputs": inputs, "r_ms": r.median, "p_ms": p.median,
                   "speedup": measured.median, "ideal": ideal.median, "ideal_n": ideal_n.median}),
        );
        bench.ratio(
            "aio",
            format!("double-buffering P/L={ratio}: measured/ideal"),
            of_ideal.median,
            Goal::AtLeast(0.9),
            &load,
        );
        lines[0].push((*ratio, measured.median, measured.p10, measured.p90));
        lines[1].push((*ratio, ideal.median, ideal.median, ideal.median));
        lines[2].push((*ratio, ideal_n.median, ideal_n.median, ideal_n.median));
    }
    bench.table(&table);
    bench.load_line(&load);
    bench.n.say(format!(
        "   with n = {inputs} inputs the first read and the last process overlap nothing, so even a perfect loop\n   reaches only the last column: at P = L that is n/(n+1) = {:.2} of the ideal.",
        inputs as f64 / (inputs as f64 + 1.0)
    ));

    if let Some(dir) = bench.plots.clone() {
        let [measured, ideal, ideal_n] = lines;
        let series = vec![
            Series {
                name: "ideal (R+P)/max(R,P)".into(),
                points: ideal,
                color: plot::color(3),
                dashed: true,
            },
            Series {
                name: format!("ideal for {inputs} inputs"),
                points: ideal_n,
                color: plot::color(2),
                dashed: true,
            },
            Series {
                name: "measured (aio_read double-buffering)".into(),
                points: measured,
                color: plot::color(0),
                dashed: false,
            },
        ];
        let path = dir.join("aio-double-buffering.svg");
        plot::draw(
            &path,
            "Double-buffering with aio_read: speed-up over read-then-process",
            "P/L (process time / read latency)",
            "speed-up",
            &series,
            plot::Axes::linear(),
        )?;
        bench.plot_written(&path);
    }
    Ok(())
}

/// Runs part 4 and reports it.
pub fn run(bench: &mut Bench) -> Result<()> {
    bench.part(
        4,
        "aio",
        "AIO and io_uring: what a read costs on cached data, and what overlap buys on a slow device",
    );
    cost(bench)?;
    device_reads(bench)?;
    double_buffering(bench)
}
