//! The checker for lab 05, "Crawl" (labs/05-crawl/README.md).
//!
//! ```text
//! just lab crawl                      # builds and marks your starter crate
//! just lab crawl --solution           # marks the reference solution
//! just lab crawl -- ./crawl           # marks any program (a C one, say)
//! ```
//!
//! For each run it serves its own fixture web (offline::lab_web::CrawlWeb, image
//! names changed by a seed each run), runs `PROGRAM -t N -m M -o FILE URL` under a
//! deadline, and judges by the web's known answer (which images and pages can be
//! reached) and by the server's OWN record of every request: which pages were
//! fetched, how often, how many at once, and when.

use lab_marking::child::{run_limited, shorten, Ran};
use lab_marking::marking::{Lab, Marking, Submission};
use offline::http::{peak_overlap, Served, Server};
use offline::lab_web::{fetch_counts, CrawlWeb, WEB_START};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LAB: Lab = Lab {
    name: "crawl",
    folder: "05-crawl",
    title: "crawl a small web with curl multi, at most N pages in flight, until M image URLs are found",
};

/// -m for "everything": more than the web has.
const ALL: usize = 1000;
/// A run that takes longer is killed (a crawl of the whole web one page at a time
/// takes about 3 s); after one run hung, the rest get [`SHORT_LIMIT`].
const RUN_LIMIT: Duration = Duration::from_secs(8);
const SHORT_LIMIT: Duration = Duration::from_secs(2);
/// How long after the server delivered pages holding M images a new request may
/// still start (the program has to read those pages first).
const STOP_GRACE: Duration = Duration::from_millis(300);

/// One run of the submission against its own fixture web.
struct Run {
    n: usize,
    m: usize,
    web: CrawlWeb,
    /// `http://127.0.0.1:PORT`
    base: String,
    ran: Ran,
    /// The output file's lines, if it was written.
    lines: Option<Vec<String>>,
    served: Vec<Served>,
    peak: usize,
}

impl Run {
    fn label(&self) -> String {
        format!("-t {} -m {}", self.n, self.m)
    }

    /// The known answer: (pages, broken links, images), images as full URLs.
    fn answer(&self) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
        let (pages, broken, images) = self.web.reachable();
        (pages, broken, images.iter().map(|i| format!("{}{i}", self.base)).collect())
    }

    /// Image URLs on the pages the server delivered whole to this program.
    fn delivered_images(&self) -> BTreeSet<String> {
        self.served
            .iter()
            .filter(|s| s.complete && s.status == Some(200))
            .flat_map(|s| self.web.images_on(&s.path))
            .map(|i| format!("{}{i}", self.base))
            .collect()
    }

    /// When the server had delivered pages holding `m` distinct images, if it had.
    fn found_at(&self, m: usize) -> Option<Instant> {
        let mut done: Vec<&Served> =
            self.served.iter().filter(|s| s.complete && s.status == Some(200)).collect();
        done.sort_by_key(|s| s.finished);
        let mut images = BTreeSet::new();
        for s in done {
            images.extend(self.web.images_on(&s.path));
            if images.len() >= m {
                return Some(s.finished);
            }
        }
        None
    }

    /// The output's lines, or why there are none to judge.
    fn lines(&self) -> Result<&[String], String> {
        match &self.lines {
            Some(lines) if self.ran.code == Some(0) => Ok(lines),
            Some(_) => Err(format!("{}: {}", self.label(), self.ran.ending())),
            None => Err(format!("{}: no output file was written ({})", self.label(), self.ran.ending())),
        }
    }
}

fn run_once(submission: &Submission, n: usize, m: usize, seed: u64, limit: Duration) -> Result<Run, String> {
    let web = CrawlWeb::new(seed);
    let server = Server::start_site(Arc::new(web.clone()))
        .map_err(|e| format!("could not start the web server: {e}"))?;
    let out = std::env::temp_dir().join(format!("aio-lab-crawl-check-{}-{seed}.txt", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let cmd = submission.command([
        "-t".into(),
        n.to_string().into(),
        "-m".into(),
        m.to_string().into(),
        "-o".into(),
        out.clone().into_os_string(),
        server.url(WEB_START).into(),
    ]);
    let ran = run_limited(cmd, limit);
    let peak = server.peak_in_flight();
    let base = server.url("");
    let served = server.stop_and_collect();
    let lines = std::fs::read(&out).ok().map(|b| {
        String::from_utf8_lossy(&b).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
    });
    let _ = std::fs::remove_file(&out);
    Ok(Run { n, m, web, base, ran, lines, served, peak })
}

/// Up to three items, then "and N more".
fn some<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<&String> = items.into_iter().collect();
    let mut shown: Vec<String> = items.iter().take(3).map(|s| s.to_string()).collect();
    if items.len() > 3 {
        shown.push(format!("and {} more", items.len() - 3));
    }
    shown.join(", ")
}

/// Every line must be a distinct, real image URL of the web (and one this program
/// could have seen); returns the set.
/// `http://host:port` of an absolute URL.
fn origin_of(url: &str) -> &str {
    let rest = url.find("://").map_or(0, |i| i + 3);
    url[rest..].find('/').map_or(url, |end| &url[..rest + end])
}

fn judge_lines(run: &Run) -> Result<BTreeSet<String>, String> {
    let lines = run.lines()?;
    let (_, _, images) = run.answer();
    let mut set = BTreeSet::new();
    for line in lines {
        let shown = shorten(line, 90);
        if !set.insert(line.clone()) {
            return Err(format!("{}: {shown} is listed twice", run.label()));
        }
        if !images.contains(line) {
            let site = images.iter().next().map(|i| origin_of(i));
            let hint = if line.starts_with("http://") && site.is_some_and(|site| origin_of(line) != site) {
                "on another site: follow only links to the start page's own http://host:port \
                 (`localhost` is another host name than `127.0.0.1`)"
            } else if line.starts_with("http") {
                "not an image reachable in this web (a relative src must be resolved against its page, \
                 and . and .. removed)"
            } else {
                "not an absolute URL like http://127.0.0.1:PORT/web/img/NAME.png"
            };
            return Err(format!("{}: {shown:?} is {hint}", run.label()));
        }
    }
    let delivered = run.delivered_images();
    if let Some(unseen) = set.iter().find(|i| !delivered.contains(*i)) {
        return Err(format!("{}: {unseen} is on no page the server sent this program", run.label()));
    }
    Ok(set)
}

fn check_all_images(run: &Run) -> Result<String, String> {
    let set = judge_lines(run)?;
    let (_, _, images) = run.answer();
    let missing: Vec<&String> = images.difference(&set).collect();
    if !missing.is_empty() {
        return Err(format!(
            "{}: found {} of the {} reachable images; missing {}",
            run.label(),
            set.len(),
            images.len(),
            some(missing)
        ));
    }
    Ok(format!("{}: all {} reachable image URLs, each once", run.label(), images.len()))
}

fn check_broken_links(run: &Run) -> Result<String, String> {
    let (pages, broken, _) = run.answer();
    let counts = fetch_counts(&run.served);
    let unfetched: Vec<&String> = pages.iter().filter(|p| !counts.contains_key(*p)).collect();
    let untried: Vec<&String> = broken.iter().filter(|p| !counts.contains_key(*p)).collect();
    if !untried.is_empty() || !unfetched.is_empty() {
        return Err(format!(
            "{}: the crawl stopped short ({}): never fetched {}",
            run.label(),
            run.ran.ending(),
            some(unfetched.into_iter().chain(untried))
        ));
    }
    if run.ran.code != Some(0) {
        return Err(format!("{}: every page fetched, but {}", run.label(), run.ran.ending()));
    }
    Ok(format!(
        "{}: all {} pages fetched, and the {} broken links (404) were tried and skipped",
        run.label(),
        pages.len(),
        broken.len()
    ))
}

fn check_no_page_twice(runs: &[Run]) -> Result<String, String> {
    for r in runs {
        let counts = fetch_counts(&r.served);
        let twice: Vec<String> =
            counts.iter().filter(|(_, &c)| c > 1).map(|(p, c)| format!("{p} {c} times")).collect();
        if !twice.is_empty() {
            return Err(format!(
                "{}: fetched {} (a cycle followed again, or one page under two spellings: \
                 team.html, ./team.html and team.html#alice are the same page)",
                r.label(),
                some(&twice)
            ));
        }
    }
    let total: usize = runs.iter().map(|r| r.served.len()).sum();
    if total == 0 {
        return Err("not judged, since the server saw no request at all".into());
    }
    Ok(format!("{} runs, {total} requests, no page fetched twice", runs.len()))
}

fn check_stops_at_m(run: &Run) -> Result<String, String> {
    let set = judge_lines(run)?;
    if set.len() != run.m {
        return Err(format!("{}: {} lines, expected exactly {}", run.label(), set.len(), run.m));
    }
    Ok(format!("{}: exactly {} distinct image URLs of this web", run.label(), run.m))
}

fn check_stops_soon(run: &Run) -> Result<String, String> {
    let Some(found) = run.found_at(run.m) else {
        return Err(format!(
            "{}: the server never sent pages holding {} images (it fetched {} page{}; {})",
            run.label(),
            run.m,
            run.served.len(),
            if run.served.len() == 1 { "" } else { "s" },
            run.ran.ending()
        ));
    };
    let late: Vec<&Served> = run.served.iter().filter(|s| s.started > found + STOP_GRACE).collect();
    if !late.is_empty() {
        let paths: Vec<String> = late.iter().map(|s| s.path.clone()).collect();
        return Err(format!(
            "{}: {} request{} started more than {} ms after the server had sent pages holding {} images \
             ({}): stop adding transfers once you have M",
            run.label(),
            late.len(),
            if late.len() == 1 { "" } else { "s" },
            STOP_GRACE.as_millis(),
            run.m,
            some(&paths)
        ));
    }
    let (pages, broken, _) = run.answer();
    Ok(format!(
        "{}: {} of the {} pages and links fetched, none started after the {}th image was in",
        run.label(),
        run.served.len(),
        pages.len() + broken.len(),
        run.m
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

/// A slot left empty this long, while pages known to the program were waiting, counts
/// as not refilled. A crawler that starts the next page when one finishes takes a few
/// ms (it parses the page first), and now and then 50 ms and more on a crowded machine;
/// one that waits for a whole batch waits for the batch's slowest page, and some pages
/// take 0.4-0.6 s.
const EMPTY_SLOT: Duration = Duration::from_millis(100);
/// Answers that may go without a refill: one (slack for the very end of a crawl), and
/// one in ten more (a correct crawler on a busy machine is sometimes not scheduled for
/// 50 ms). A crawler that works in batches leaves half its answers or more unrefilled.
fn max_empty_slots(answers: usize) -> usize {
    1 + answers / 10
}

/// `replaces_at_once`: each page's answer is followed at once by the next request
/// while pages are waiting. Judged by the server's record and the web's known links:
/// when an answer went out, a page was waiting if some page delivered by then links
/// to it and no request for it had arrived.
fn check_replaces(runs: &[&Run]) -> Result<String, String> {
    let mut seen = Vec::new();
    for r in runs {
        if r.peak < r.n {
            return Err(format!(
                "{}: not judged, since the server never saw {} requests in flight at once (see in_flight_reaches_n)",
                r.label(),
                r.n
            ));
        }
        let (with_work, empty, example) = unrefilled(r);
        if empty > max_empty_slots(with_work) {
            return Err(format!(
                "{}: {empty} of the {with_work} answers that went out while other pages were waiting (linked from \
                 pages already delivered, not yet asked for) were not followed by a new request within {} ms \
                 (e.g. {}): start the next page as soon as one finishes, not when a whole batch has",
                r.label(),
                EMPTY_SLOT.as_millis(),
                example.unwrap_or_default()
            ));
        }
        seen.push(format!(
            "{}: {with_work} answers with pages waiting, {empty} not refilled within {} ms",
            r.label(),
            EMPTY_SLOT.as_millis()
        ));
    }
    Ok(seen.join("; "))
}

/// (answers that went out while pages were waiting, how many of them had no new
/// request within [`EMPTY_SLOT`], an example of one).
fn unrefilled(r: &Run) -> (usize, usize, Option<String>) {
    let mut answers: Vec<&Served> = r.served.iter().collect();
    answers.sort_by_key(|s| s.finished);
    let mut starts: Vec<Instant> = r.served.iter().map(|s| s.started).collect();
    starts.sort();
    let Some(end) = starts.last().copied() else { return (0, 0, None) };
    let ever_asked: BTreeSet<&str> = r.served.iter().map(|s| s.path.as_str()).collect();
    let (mut next, mut with_work, mut empty, mut example) = (0, 0, 0, None);
    // Answers with pages waiting so far: (when the slot was freed, when it was refilled).
    let mut open: Vec<(Instant, Option<Instant>)> = Vec::new();
    for a in &answers {
        if a.finished + EMPTY_SLOT > end {
            break;
        }
        // Known by then: the start page and every link on pages delivered by then.
        let mut known: BTreeSet<String> = BTreeSet::from([WEB_START.to_string()]);
        for d in answers.iter().filter(|d| d.finished <= a.finished && d.status == Some(200) && d.complete) {
            known.extend(r.web.links_on(&d.path));
        }
        let asked: BTreeSet<&str> =
            r.served.iter().filter(|s| s.started <= a.finished).map(|s| s.path.as_str()).collect();
        // Only pages it did ask for later count as waiting: a page it never asks for
        // (a link it misread) is all_images' business, not a slot left empty.
        let waiting =
            known.iter().filter(|k| !asked.contains(k.as_str()) && ever_asked.contains(k.as_str())).count();
        // Slots freed just before this one and not refilled yet claim waiting pages
        // first: with one page waiting and two slots free, one slot stays empty, rightly.
        let claimed = open
            .iter()
            .filter(|&&(freed, refilled): &&(Instant, Option<Instant>)| {
                freed + EMPTY_SLOT > a.finished && refilled.is_none_or(|t| t > a.finished)
            })
            .count();
        if waiting <= claimed {
            continue; // nothing left waiting for this slot: an empty slot is right
        }
        with_work += 1;
        while next < starts.len() && starts[next] <= a.finished {
            next += 1;
        }
        match starts.get(next) {
            Some(&start) if start.saturating_duration_since(a.finished) <= EMPTY_SLOT => {
                next += 1;
                open.push((a.finished, Some(start)));
            }
            _ => {
                empty += 1;
                open.push((a.finished, None));
                example.get_or_insert_with(|| format!("after {} was answered", a.path));
            }
        }
    }
    (with_work, empty, example)
}

fn check_reaches(runs: &[&Run]) -> Result<String, String> {
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

fn check_errors(submission: &Submission, limit: Duration) -> Result<String, String> {
    let refused = offline::http::refused_port().map_err(|e| e.to_string())?;
    let server = Server::start_site(Arc::new(CrawlWeb::new(9))).map_err(|e| e.to_string())?;
    let cases = [
        ("a refused port", format!("http://127.0.0.1:{refused}{WEB_START}")),
        ("a start page that answers 404", server.url("/web/no-such-page.html")),
    ];
    let mut seen = Vec::new();
    for (what, url) in cases {
        let out: PathBuf =
            std::env::temp_dir().join(format!("aio-lab-crawl-check-{}-error.txt", std::process::id()));
        let cmd = submission.command(
            ["-t", "2", "-m", "5", "-o"]
                .map(Into::into)
                .into_iter()
                .chain([out.clone().into_os_string(), url.into()]),
        );
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
        // (-t N, -m M, seed): the whole web at three concurrencies, then a short crawl.
        // Seeds drawn afresh for every marking: image names learned once are no use.
        let seed = lab_marking::marking::run_seed();
        let plan = [(4, ALL, seed), (1, ALL, seed ^ 1), (6, ALL, seed ^ 2), (2, 5, seed ^ 3)];
        let mut runs = Vec::new();
        let mut limit = RUN_LIMIT;
        for (n, m, seed) in plan {
            match run_once(submission, n, m, seed, limit) {
                Ok(run) => {
                    if run.ran.timed_out {
                        limit = SHORT_LIMIT; // one hang is enough to know
                    }
                    runs.push(run);
                }
                Err(why) => {
                    marking.check("setup", 0, || Err(why));
                    return;
                }
            }
        }
        let [full, one, six, short] = &runs[..] else { return };
        marking.check("all_images", 3, || check_all_images(full));
        marking.check("broken_links_skipped", 2, || check_broken_links(full));
        marking.check("no_page_twice", 2, || check_no_page_twice(&runs));
        marking.check("exactly_m", 2, || check_stops_at_m(short));
        marking.check("stops_soon", 2, || check_stops_soon(short));
        marking.check("in_flight_at_most_n", 2, || check_never_above(&runs));
        marking.check("in_flight_reaches_n", 3, || check_reaches(&[full, six, short]));
        marking.check("replaces_at_once", 3, || check_replaces(&[full, six]));
        marking.check("errors", 2, || check_errors(submission, limit.min(Duration::from_secs(5))));
        let info: Vec<String> = [one, full, six, short]
            .iter()
            .map(|r| {
                let n = r.served.len();
                format!(
                    "{}: {:.2} s, {n} request{}",
                    r.label(),
                    r.ran.took.as_secs_f64(),
                    if n == 1 { "" } else { "s" }
                )
            })
            .collect();
        marking.check("times", 0, || Ok(info.join("; ")));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose server record is `pages`, each (path, ms after start it began, ms it took).
    fn fake_run(m: usize, lines: &[&str], pages: &[(&str, u64, u64)]) -> Run {
        let t0 = Instant::now();
        let served = pages
            .iter()
            .map(|&(path, at, took)| Served {
                method: "GET".into(),
                path: path.into(),
                status: Some(200),
                body_bytes: 100,
                complete: true,
                started: t0 + Duration::from_millis(at),
                finished: t0 + Duration::from_millis(at + took),
                headers: Vec::new(),
            })
            .collect();
        Run {
            n: 2,
            m,
            web: CrawlWeb::new(1),
            base: "http://h:1".into(),
            ran: Ran { code: Some(0), ..Ran::default() },
            lines: Some(lines.iter().map(|l| l.to_string()).collect()),
            served,
            peak: 1,
        }
    }

    #[test]
    fn lines_must_be_real_distinct_and_seen() {
        let tag = CrawlWeb::new(1).tag;
        let logo = format!("http://h:1/web/img/logo-{tag}.png");
        let about = format!("http://h:1/web/img/about-{tag}.jpg");
        let index = ("/web/index.html", 0, 10);
        let run = fake_run(1, &[&logo], &[index]);
        assert!(check_stops_at_m(&run).is_ok());
        let twice = fake_run(2, &[&logo, &logo], &[index]);
        assert!(check_stops_at_m(&twice).is_err_and(|e| e.contains("twice")));
        let unseen = fake_run(2, &[&logo, &about], &[index]);
        assert!(check_stops_at_m(&unseen).is_err_and(|e| e.contains("on no page")));
        let relative = fake_run(1, &["img/logo.png"], &[index]);
        assert!(check_stops_at_m(&relative).is_err_and(|e| e.contains("absolute")));
    }

    #[test]
    fn a_page_fetched_twice_and_a_crawl_that_goes_on_are_caught() {
        let run = fake_run(
            2,
            &[],
            &[("/web/index.html", 0, 10), ("/web/about.html", 20, 10), ("/web/index.html", 40, 10)],
        );
        assert!(check_no_page_twice(&[run]).is_err_and(|e| e.contains("/web/index.html 2 times")));
        // The index holds 2 images, delivered at 10 ms: a request at 500 ms is too late.
        let run = fake_run(
            2,
            &[],
            &[("/web/index.html", 0, 10), ("/web/about.html", 100, 10), ("/web/news.html", 500, 10)],
        );
        assert!(check_stops_soon(&run).is_err_and(|e| e.contains("1 request started")));
        let run = fake_run(2, &[], &[("/web/index.html", 0, 10), ("/web/about.html", 100, 10)]);
        assert!(check_stops_soon(&run).is_ok());
    }
}
