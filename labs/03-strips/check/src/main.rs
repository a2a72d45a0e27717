//! The checker for lab 03, "Paste the strips" (labs/03-strips/README.md).
//!
//! ```text
//! just lab strips                      # builds and marks your starter crate
//! just lab strips --solution           # marks the reference solution
//! just lab strips -- ./strips          # marks any program (a C one, say)
//! ```
//!
//! It judges from outside, honestly: for each run it starts its own strip server
//! (offline::lab_web::StripSite), runs `PROGRAM -t N -o FILE URL` under a deadline,
//! and then reads the server's OWN record of every request (when it arrived, when its
//! answer was out, which strip it carried). Concurrency is whatever that record shows,
//! never what the program prints; the picture must match byte for byte.

use lab_marking::child::{run_limited, shorten, Ran};
use lab_marking::marking::{Lab, Marking, Submission};
use offline::http::{peak_overlap, time_below, Served, Server};
use offline::lab_web::{fnv1a, StripImage, StripSite, STRIP_INDEX};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LAB: Lab = Lab {
    name: "strips",
    folder: "03-strips",
    title: "fetch every strip of a picture with curl multi, at most N in flight, and paste them together",
};

/// The runs: (-t N, strips, width, height). Each gets its own picture from a seed chosen
/// afresh for every marking (`lab_marking::marking::run_seed`), so a picture saved from
/// an earlier marking is wrong, and its own size, so a program must read the size from
/// the headers (each height is a multiple of its strip count).
const RUNS: [(usize, usize, usize, usize); 4] =
    [(1, 8, 128, 64), (4, 16, 256, 192), (8, 16, 320, 96), (12, 16, 200, 160)];
/// The runs whose refill timing is judged (`replaces_at_once`, `keeps_n_in_flight`):
/// N up to 8. The run at N = 12 is there for the picture and for N in flight (a program
/// that caps its transfers at 8 never reaches 12); with 12 in flight for 16 strips,
/// correct programs on a busy machine refill too unevenly to be timed fairly.
const TIMED_UP_TO: usize = 8;
/// Each answer is delayed by this much (ms), chosen per request from the seed.
const DELAY_MS: (u64, u64) = (40, 120);
/// How long a slot may stand empty (the median over the run) between one answer going
/// out and the next request arriving. A program that replaces each finished transfer
/// at once takes 1 to 7 ms here, even on a busy machine; one that waits for a whole
/// batch leaves each slot empty until the batch's slowest strip is in: 20 to 50 ms
/// with these delays.
const MAX_MEDIAN_GAP: Duration = Duration::from_millis(12);
/// A slot left empty this long after its answer went out counts as not refilled.
/// A program that refills at once takes about 1 ms; on a machine running dozens of
/// other jobs it is sometimes not scheduled for 50 ms and more (a correct program was
/// seen leaving 5 of 43 answers unrefilled for 50 ms). One that never refills a slot
/// (or only once a new strip comes) leaves it empty for hundreds of ms.
const EMPTY_SLOT: Duration = Duration::from_millis(100);
/// How many answers may go without a refill (one, for slack at the very end).
const MAX_EMPTY_SLOTS: usize = 1;
/// A program that waits in curl_multi_wait (or poll) uses a few ms of CPU in a run;
/// one that spins on curl_multi_perform uses a core. More than this share of the
/// run's wall time, and more than [`SPIN_CPU`] in all, is spinning.
const SPIN_SHARE: f64 = 0.5;
/// See [`SPIN_SHARE`].
const SPIN_CPU: Duration = Duration::from_millis(200);
/// The longest transfer timeout the README allows, and how long the checker waits for
/// a program facing a server that never answers.
const STALL_LIMIT: Duration = Duration::from_secs(14);

/// One run of the submission against its own strip server.
struct Run {
    n: usize,
    image: StripImage,
    /// Requests needed, and the time a one-at-a-time program would take.
    plan: (usize, Duration),
    ran: Ran,
    /// The output file's contents, if it was written.
    output: Option<Vec<u8>>,
    served: Vec<Served>,
    /// The server's own live count of the most requests in flight at once.
    peak: usize,
}

impl Run {
    fn label(&self) -> String {
        format!("-t {}", self.n)
    }

    /// When the server had handed out every strip (in complete answers), if it had.
    fn complete_at(&self) -> Option<Instant> {
        let mut done: Vec<&Served> =
            self.served.iter().filter(|s| s.complete && s.status == Some(200)).collect();
        done.sort_by_key(|s| s.finished);
        let mut seen = vec![false; self.image.strips];
        let mut missing = self.image.strips;
        for s in done {
            let Some(i) = s.header(STRIP_INDEX).and_then(|v| v.parse::<usize>().ok()) else { continue };
            if i < seen.len() && !seen[i] {
                seen[i] = true;
                missing -= 1;
                if missing == 0 {
                    return Some(s.finished);
                }
            }
        }
        None
    }
}

/// A fresh output path for one run (removed before and after).
fn out_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("aio-lab-strips-check-{}-{tag}.ppm", std::process::id()))
}

/// A site for this run's seed: seeds whose random strips take more than three times
/// the strip count to cover are skipped (so a one-at-a-time run stays short).
fn site_for(seed: u64, strips: usize, width: usize, height: usize) -> StripSite {
    let mut seed = seed;
    loop {
        let image = StripImage { seed, width, height, strips };
        let site = StripSite::new(image, DELAY_MS.0, DELAY_MS.1);
        if site.plan().0 <= 3 * strips {
            return site;
        }
        seed = seed.wrapping_add(1);
    }
}

fn run_once(
    submission: &Submission,
    (n, strips, width, height): (usize, usize, usize, usize),
    seed: u64,
    hung: bool,
) -> Result<Run, String> {
    let site = Arc::new(site_for(seed, strips, width, height));
    let image = site.image;
    let plan = site.plan();
    let server = Server::start_site(site).map_err(|e| format!("could not start the strip server: {e}"))?;
    let out = out_path(&format!("t{n}"));
    let _ = std::fs::remove_file(&out);
    let cmd = submission.command([
        "-t".into(),
        n.to_string().into(),
        "-o".into(),
        out.clone().into_os_string(),
        server.url("/strips").into(),
    ]);
    // Long enough for a correct program that fetches one strip at a time (so the
    // picture is judged apart from the concurrency), short enough to end a hang.
    // After one run hung, the others get a short limit: one hang is enough to know.
    let limit = if hung { Duration::from_secs(2) } else { plan.1.mul_f64(1.5) + Duration::from_secs(3) };
    let ran = run_limited(cmd, limit);
    let peak = server.peak_in_flight();
    let served = server.stop_and_collect();
    let output = std::fs::read(&out).ok();
    let _ = std::fs::remove_file(&out);
    Ok(Run { n, image, plan, ran, output, served, peak })
}

/// Says how `got` differs from the picture `image` should give, or None if it doesn't.
fn picture_problem(image: &StripImage, got: &[u8]) -> Option<String> {
    let want = image.ppm();
    if got == want.as_slice() {
        return None;
    }
    let header = image.ppm_header();
    if !got.starts_with(header.as_bytes()) {
        let got_head = String::from_utf8_lossy(&got[..got.len().min(header.len())]).into_owned();
        return Some(format!("the file must start with the header {header:?}, it starts with {got_head:?}"));
    }
    if got.len() != want.len() {
        return Some(format!(
            "{} bytes, expected {} ({} strips of {} bytes after the header)",
            got.len(),
            want.len(),
            image.strips,
            image.strip_len()
        ));
    }
    let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
    let strip = (at - header.len()) / image.strip_len();
    let len = image.strip_len();
    let body = &got[header.len()..];
    let held = &body[strip * len..(strip + 1) * len];
    let pixels = &want[header.len()..];
    let why = match (0..image.strips).find(|&j| &pixels[j * len..(j + 1) * len] == held) {
        Some(j) => format!("it holds strip {j} there: a strip pasted in the wrong place"),
        None => "it is none of this picture's strips (each marking draws a new picture: \
                 were the strips fetched from this server, in this run?)"
            .to_string(),
    };
    Some(format!("right size, but byte {at} differs, in strip {strip} of {}: {why}", image.strips))
}

/// The image check: every run's picture must be exact.
fn check_pictures(runs: &[Run]) -> Result<String, String> {
    let mut seen = Vec::new();
    for r in runs {
        let Some(got) = &r.output else {
            return Err(format!("{}: no output file was written ({})", r.label(), r.ran.ending()));
        };
        if let Some(problem) = picture_problem(&r.image, got) {
            return Err(format!("{}: {problem}", r.label()));
        }
        if r.ran.code != Some(0) {
            return Err(format!("{}: the picture is right, but {}", r.label(), r.ran.ending()));
        }
        seen.push(format!("{} in {:.2} s", r.label(), r.ran.took.as_secs_f64()));
    }
    let first = runs.first().map(|r| fnv1a(&r.image.ppm())).unwrap_or(0);
    Ok(format!("{} pictures exact ({}; e.g. FNV-1a {first:#018x})", runs.len(), seen.join(", ")))
}

/// The times on stdout, in seconds: each number followed by a unit of seconds
/// (`0.734 s`, `took 1.2s`, `3 seconds`; but not `16 strips`).
fn times_reported<'a>(stdout: &'a str) -> Vec<f64> {
    let words: Vec<&str> = stdout.split_whitespace().collect();
    let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
    let mut times = Vec::new();
    // Punctuation around a word is not part of it: `(0.86 seconds)`, `[1.2s]`, `0.5 s,`.
    let bare = |w: &'a str| {
        w.trim_start_matches(['(', '[', '=', ':']).trim_end_matches([',', ';', ')', ']', '.', ':'])
    };
    for (i, w) in words.iter().enumerate() {
        let w = bare(w);
        let unit_next = words
            .get(i + 1)
            .is_some_and(|next| matches!(bare(next), "s" | "sec" | "secs" | "second" | "seconds"));
        let glued = w.strip_suffix('s').and_then(number);
        if let Some(v) = glued.or_else(|| number(w).filter(|_| unit_next)) {
            times.push(v);
        }
    }
    times
}

/// `reports_time`: a time on stdout that is the run's own: at least half of what the
/// server saw (first request to last answer), at most the process's life and a bit.
fn check_time(r: &Run) -> Result<String, String> {
    let printed = shorten(r.ran.stdout.trim(), 100);
    let times = times_reported(&r.ran.stdout);
    if times.is_empty() {
        return Err(format!("print the time taken on stdout, e.g. \"took 0.734 s\"; it printed {printed:?}"));
    }
    let (Some(first), Some(last)) =
        (r.served.iter().map(|s| s.started).min(), r.served.iter().map(|s| s.finished).max())
    else {
        return Err(format!("{}: not judged, since the server saw no request", r.label()));
    };
    let span = last.saturating_duration_since(first).as_secs_f64();
    let took = r.ran.took.as_secs_f64();
    if times.iter().any(|&t| t >= span * 0.5 - 0.05 && t <= took + 0.5) {
        return Ok(format!("{printed:?} (the server saw {span:.2} s of requests)"));
    }
    Err(format!(
        "{}: it printed {printed:?}, but the server saw requests for {span:.2} s and the program ran {took:.2} s: \
         print the wall-clock time the fetching took (CPU time, clock(), is not it)",
        r.label()
    ))
}

fn check_never_above(runs: &[Run]) -> Result<String, String> {
    for r in runs {
        if r.served.is_empty() {
            return Err(format!(
                "{}: not judged, since the server saw no request at all ({})",
                r.label(),
                r.ran.ending()
            ));
        }
        let peak = r.peak.max(peak_overlap(&r.served));
        if peak > r.n {
            return Err(format!(
                "{}: the server saw {peak} requests in flight at once; -t {} allows at most {}",
                r.label(),
                r.n,
                r.n
            ));
        }
    }
    Ok(runs.iter().map(|r| format!("{}: at most {}", r.label(), r.peak)).collect::<Vec<_>>().join(", "))
}

fn check_reaches(runs: &[Run]) -> Result<String, String> {
    let short: Vec<String> =
        runs.iter().filter(|r| r.peak < r.n).map(|r| format!("{} asks for {}", r.label(), r.n)).collect();
    if short.is_empty() {
        return Ok(runs
            .iter()
            .map(|r| format!("{}: {} at once", r.label(), r.peak))
            .collect::<Vec<_>>()
            .join(", "));
    }
    let most = runs.iter().map(|r| r.peak).max().unwrap_or(0);
    Err(format!(
        "never more than {most} request{} in flight at the server; {}",
        if most == 1 { "" } else { "s" },
        short.join(", ")
    ))
}

fn check_replaces(runs: &[Run]) -> Result<String, String> {
    let mut seen = Vec::new();
    for r in runs.iter().filter(|r| r.n > 1 && r.n <= TIMED_UP_TO) {
        if r.peak < r.n {
            return Err(format!(
                "{}: not judged, since the server never saw {} requests in flight at once (see in_flight_reaches_n)",
                r.label(),
                r.n
            ));
        }
        let Some(from) = r.served.iter().map(|s| s.started).min() else {
            return Err(format!("{}: the server saw no request", r.label()));
        };
        let Some(to) = r.complete_at() else {
            return Err(format!(
                "{}: the server never handed out every strip ({})",
                r.label(),
                r.ran.ending()
            ));
        };
        let window = to.saturating_duration_since(from);
        let share = time_below(&r.served, r.n, from, to).as_secs_f64() / window.as_secs_f64().max(1e-9);
        let mut gaps = refill_gaps(&r.served, to);
        gaps.sort();
        let median = gaps.get(gaps.len() / 2).copied().unwrap_or_default();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        if median > MAX_MEDIAN_GAP {
            return Err(format!(
                "{}: when a strip's answer went out, the next request arrived {:.0} ms later \
                 (the median; allowed: {:.0} ms), and fewer than {} were in flight {:.0}% of the time: \
                 start a new transfer as soon as one finishes, not when the whole batch has",
                r.label(),
                ms(median),
                ms(MAX_MEDIAN_GAP),
                r.n,
                share * 100.0
            ));
        }
        seen.push(format!(
            "{}: next request {:.1} ms after an answer (median), below {} in flight {:.0}% of the time",
            r.label(),
            ms(median),
            r.n,
            share * 100.0
        ));
    }
    Ok(seen.join(", "))
}

/// `keeps_n_in_flight`: while strips are missing, N requests stay in flight (each is
/// another chance at a missing strip), judged by the server's record.
fn check_keeps_n(runs: &[Run]) -> Result<String, String> {
    let mut seen = Vec::new();
    // Every run with N > 1: once the first N requests are all answered, N in flight
    // again at least once while strips are missing. A slot lost for good (never
    // refilled, or a bit set of 8 slots behind -t 12) never gets back to N.
    for r in runs.iter().filter(|r| r.n > 1 && r.peak >= r.n) {
        let Some(to) = r.complete_at() else { continue };
        if let Some(most) = most_after_first_round(&r.served, r.n, to) {
            if most < r.n {
                return Err(format!(
                    "{}: once the first {} requests had all been answered, the server never again saw {} in \
                     flight (at most {most}) while strips were still missing: a slot that stops being \
                     refilled is lost for the rest of the run",
                    r.label(),
                    r.n,
                    r.n
                ));
            }
        }
    }
    for r in runs.iter().filter(|r| r.n > 1 && r.n <= TIMED_UP_TO) {
        if r.peak < r.n {
            return Err(format!(
                "{}: not judged, since the server never saw {} requests in flight at once (see in_flight_reaches_n)",
                r.label(),
                r.n
            ));
        }
        let (Some(from), Some(to)) = (r.served.iter().map(|s| s.started).min(), r.complete_at()) else {
            return Err(format!(
                "{}: not judged: the server never handed out every strip ({})",
                r.label(),
                r.ran.ending()
            ));
        };
        let window = to.saturating_duration_since(from).as_secs_f64().max(1e-9);
        let share = time_below(&r.served, r.n, from, to).as_secs_f64() / window;
        let (answers, empty) = unrefilled(&r.served, to);
        if empty > MAX_EMPTY_SLOTS {
            return Err(format!(
                "{}: {empty} of the {answers} answers that went out while strips were still missing were not \
                 followed by a new request within {} ms (fewer than {} in flight {:.0}% of the time): keep {} \
                 in flight until you hold every strip, even when fewer than {} are missing (each request is \
                 another chance at one)",
                r.label(),
                EMPTY_SLOT.as_millis(),
                r.n,
                share * 100.0,
                r.n,
                r.n
            ));
        }
        seen.push(format!("{}: below {} in flight {:.0}% of the time", r.label(), r.n, share * 100.0));
    }
    Ok(seen.join(", "))
}

/// The most requests in flight at the server, counted as each request arrived, after
/// the first `n` requests had all been answered and before `to`; None when no request
/// arrived then (the run was over by then: nothing to judge).
fn most_after_first_round(served: &[Served], n: usize, to: Instant) -> Option<usize> {
    let mut by_start: Vec<&Served> = served.iter().collect();
    by_start.sort_by_key(|s| s.started);
    let round_end = by_start.iter().take(n).map(|s| s.finished).max()?;
    by_start
        .iter()
        .filter(|s| s.started > round_end && s.started < to)
        .map(|s| served.iter().filter(|o| o.started <= s.started && o.finished > s.started).count())
        .max()
}

/// Matches each answer that went out more than [`EMPTY_SLOT`] before `to` with the
/// first request not yet matched that arrived after it; returns (those answers, how
/// many had no request within [`EMPTY_SLOT`]).
fn unrefilled(served: &[Served], to: Instant) -> (usize, usize) {
    let mut starts: Vec<Instant> = served.iter().map(|s| s.started).collect();
    starts.sort();
    let mut ends: Vec<Instant> = served.iter().map(|s| s.finished).filter(|&f| f + EMPTY_SLOT < to).collect();
    ends.sort();
    let (mut next, mut empty) = (0, 0);
    for &end in &ends {
        while next < starts.len() && starts[next] < end {
            next += 1;
        }
        match starts.get(next) {
            Some(&start) if start.saturating_duration_since(end) <= EMPTY_SLOT => next += 1,
            _ => empty += 1,
        }
    }
    (ends.len(), empty)
}

/// For each answer that went out while strips were still missing, how long its slot
/// stood empty: until the next request arrived (or, if none did, until the end).
fn refill_gaps(served: &[Served], to: Instant) -> Vec<Duration> {
    let mut starts: Vec<Instant> = served.iter().map(|s| s.started).collect();
    starts.sort();
    served
        .iter()
        .filter(|s| s.finished < to)
        .map(|s| {
            let next = starts.partition_point(|&t| t < s.finished);
            starts.get(next).map_or(to, |&t| t).saturating_duration_since(s.finished)
        })
        .collect()
}

/// `waits`: one thread, asleep while its transfers are in flight: CPU time well under
/// the run's wall time (from /proc/PID/stat while it ran).
fn check_waits(runs: &[Run]) -> Result<String, String> {
    for r in runs {
        if r.ran.most_threads > 1 {
            return Err(format!(
                "{}: the program ran {} threads at once (/proc/PID/stat): the lab asks for one thread, with \
                 libcurl's multi interface doing the overlapping",
                r.label(),
                r.ran.most_threads
            ));
        }
        let (cpu, wall) = (r.ran.cpu, r.ran.took);
        if cpu > SPIN_CPU && cpu.as_secs_f64() > SPIN_SHARE * wall.as_secs_f64() {
            return Err(format!(
                "{}: it used {:.2} s of CPU in {:.2} s: it spins instead of waiting (between calls to \
                 curl_multi_perform, wait in curl_multi_wait or curl_multi_poll with a timeout above 0: they \
                 sleep until a socket is ready or curl's timer is due)",
                r.label(),
                cpu.as_secs_f64(),
                wall.as_secs_f64()
            ));
        }
    }
    let cpu: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{}: {:.2} s of CPU in {:.2} s",
                r.label(),
                r.ran.cpu.as_secs_f64(),
                r.ran.took.as_secs_f64()
            )
        })
        .collect();
    Ok(format!("one thread; {}", cpu.join(", ")))
}

/// Bad URLs: each must give exit code 1 and one line on stderr, promptly.
fn check_errors(submission: &Submission) -> Result<String, String> {
    let refused = offline::http::refused_port().map_err(|e| e.to_string())?;
    let server = Server::start().map_err(|e| e.to_string())?;
    // A strip server that answers its first 3 requests, then 500 to every one: a
    // failure in the middle of a run, after some strips are in.
    let image = StripImage { seed: lab_marking::marking::run_seed(), width: 64, height: 32, strips: 16 };
    let broken = Server::start_site(Arc::new(StripSite::new(image, 40, 120).failing_from(3)))
        .map_err(|e| e.to_string())?;
    let quick = Duration::from_secs(5);
    let cases = [
        ("a refused port", format!("http://127.0.0.1:{refused}/strips"), quick),
        ("a URL that answers 404", server.url("/no-strips-here"), quick),
        ("a malformed URL", "http//not a url".to_string(), quick),
        ("a server that answers 500 after 3 strips", broken.url("/strips"), quick),
        (
            "a server that never answers (a transfer timeout of at most 10 s)",
            server.url("/hang"),
            STALL_LIMIT,
        ),
    ];
    let mut seen = Vec::new();
    for (what, url, limit) in cases {
        let out = out_path("error");
        let cmd = submission.command([
            "-t".into(),
            "2".into(),
            "-o".into(),
            out.clone().into_os_string(),
            url.into(),
        ]);
        let ran = run_limited(cmd, limit);
        let _ = std::fs::remove_file(&out);
        let lines: Vec<&str> = ran.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        if ran.code != Some(1) || lines.len() != 1 {
            return Err(format!(
                "with {what}: expected exit code 1 and one line on stderr, got {}{}",
                ran.ending(),
                if lines.len() > 1 { format!(" ({} lines)", lines.len()) } else { String::new() }
            ));
        }
        seen.push(format!("{what}: {:?}", shorten(lines[0], 70)));
    }
    Ok(seen.join("; "))
}

fn main() -> ExitCode {
    lab_marking::marking::main(LAB, |submission, marking: &mut Marking| {
        let mut runs = Vec::new();
        let seed = lab_marking::marking::run_seed();
        for (k, shape) in RUNS.into_iter().enumerate() {
            let hung = runs.iter().any(|r: &Run| r.ran.timed_out);
            let seed = seed.wrapping_add(1000 * k as u64);
            match run_once(submission, shape, seed, hung) {
                Ok(run) => runs.push(run),
                Err(why) => {
                    marking.check("setup", 0, || Err(why));
                    return;
                }
            }
        }
        marking.check("picture", 3, || check_pictures(&runs));
        marking.check("reports_time", 1, || check_time(&runs[1]));
        marking.check("in_flight_at_most_n", 2, || check_never_above(&runs));
        marking.check("in_flight_reaches_n", 3, || check_reaches(&runs));
        marking.check("replaces_at_once", 3, || check_replaces(&runs));
        marking.check("keeps_n_in_flight", 2, || check_keeps_n(&runs));
        marking.check("waits", 2, || check_waits(&runs));
        marking.check("errors", 2, || check_errors(submission));
        let info: Vec<String> = runs
            .iter()
            .map(|r| {
                format!(
                    "{}: {:.2} s, {} requests (picture seed {}; one at a time needs {} requests, {:.2} s of delays)",
                    r.label(),
                    r.ran.took.as_secs_f64(),
                    r.served.len(),
                    r.image.seed,
                    r.plan.0,
                    r.plan.1.as_secs_f64()
                )
            })
            .collect();
        marking.check("times", 0, || Ok(info.join("; ")));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_a_number_then_s() {
        assert_eq!(times_reported("fetched 16 strips: 0.734 s (147471 bytes)\n"), [0.734]);
        assert_eq!(times_reported("took 1.2s\n"), [1.2]);
        assert_eq!(times_reported("done in 3 seconds"), [3.0]);
        assert_eq!(times_reported("took 860 ms (0.860 seconds)"), [0.86]);
        assert_eq!(times_reported("[1.5s] done"), [1.5]);
        assert!(times_reported("fetched 16 strips\n").is_empty());
        assert!(times_reported("").is_empty());
    }

    #[test]
    fn a_wrong_picture_says_where() {
        let image = StripImage { seed: 1, width: 8, height: 4, strips: 2 };
        let good = image.ppm();
        assert_eq!(picture_problem(&image, &good), None);
        let mut swapped = image.ppm_header().into_bytes();
        let pixels = image.pixels();
        swapped.extend_from_slice(&pixels[image.strip_len()..]);
        swapped.extend_from_slice(&pixels[..image.strip_len()]);
        assert!(picture_problem(&image, &swapped).is_some_and(
            |p| p.contains("in strip 0 of 2: it holds strip 1 there: a strip pasted in the wrong place")
        ));
        let other = StripImage { seed: 2, ..image };
        assert!(picture_problem(&image, &other.ppm())
            .is_some_and(|p| p.contains("none of this picture's strips")));
        assert!(picture_problem(&image, b"P3\n").is_some_and(|p| p.contains("header")));
        assert!(
            picture_problem(&image, &good[..good.len() - 1]).is_some_and(|p| p.contains("bytes, expected"))
        );
    }
}

#[cfg(test)]
mod record_tests {
    use super::*;

    /// A run with -t 2 whose server record is `spans` (start ms, end ms): the last
    /// answer carries strip 1 of a 2-strip picture, the others strip 0.
    fn fake_run(spans: &[(u64, u64)]) -> Run {
        let t0 = Instant::now();
        let served = spans
            .iter()
            .enumerate()
            .map(|(i, &(from, to))| Served {
                method: "GET".into(),
                path: "/strips".into(),
                status: Some(200),
                body_bytes: 0,
                complete: true,
                started: t0 + Duration::from_millis(from),
                finished: t0 + Duration::from_millis(to),
                headers: vec![(STRIP_INDEX.into(), if i == spans.len() - 1 { "1" } else { "0" }.into())],
            })
            .collect();
        Run {
            n: 2,
            image: StripImage { seed: 1, width: 4, height: 2, strips: 2 },
            plan: (2, Duration::ZERO),
            ran: Ran::default(),
            output: None,
            served,
            peak: 2,
        }
    }

    #[test]
    fn batches_fail_and_replacing_at_once_passes() {
        // Batches of 2: each waits for its slower half (40 ms vs 100 ms).
        let batches = fake_run(&[(0, 40), (0, 100), (100, 140), (100, 200), (200, 240), (200, 300)]);
        assert!(check_replaces(&[batches]).is_err_and(|e| e.contains("not when the whole batch has")));
        // The same answers, each replaced 1 ms after it ends.
        let at_once =
            fake_run(&[(0, 40), (0, 100), (41, 141), (101, 141), (142, 182), (183, 260), (142, 242)]);
        assert!(check_replaces(&[at_once]).is_ok());
    }
}
