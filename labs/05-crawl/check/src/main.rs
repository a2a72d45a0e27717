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
//! fetched, how often, how many at once, and when. A second server on the same host,
//! another port, serves the web too: a page links to it, and a crawler must not follow
//! (another port is another site); its record shows whether one did.

use lab_marking::child::{run_limited, shorten, Ran};
use lab_marking::marking::{Lab, Marking, Submission};
use offline::http::{peak_overlap, Served, Server};
use offline::lab_web::{fetch_counts, CrawlWeb, WEB_START};
use std::collections::{BTreeSet, VecDeque};
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
    /// `http://127.0.0.1:OTHER`: the second server (another site, same host).
    other_base: String,
    /// That server's record: a correct crawler never asks it for anything.
    elsewhere: Vec<Served>,
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
    // Another site on the same host: the same web, served on another port.
    let other = Server::start_site(Arc::new(CrawlWeb::new(seed)))
        .map_err(|e| format!("could not start the second web server: {e}"))?;
    let web = CrawlWeb::new(seed).with_other_port(other.addr().port());
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
    let other_base = other.url("");
    let elsewhere = other.stop_and_collect();
    let lines = std::fs::read(&out).ok().map(|b| {
        String::from_utf8_lossy(&b).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
    });
    let _ = std::fs::remove_file(&out);
    Ok(Run { n, m, web, base, ran, lines, served, peak, other_base, elsewhere })
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

/// `http://host:port` of an absolute URL.
fn origin_of(url: &str) -> &str {
    let rest = url.find("://").map_or(0, |i| i + 3);
    url[rest..].find('/').map_or(url, |end| &url[..rest + end])
}

/// The host of `http://host:port`, without the port.
fn host_of(origin: &str) -> &str {
    let rest = origin.find("://").map_or(origin, |i| &origin[i + 3..]);
    rest.rsplit_once(':').map_or(rest, |(host, _)| host)
}

/// Every line must be a distinct, real image URL of the web (and one this program
/// could have seen); returns the set.
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
            let other_site = site.filter(|&site| line.starts_with("http://") && origin_of(line) != site);
            let hint = if other_site.is_some_and(|site| host_of(origin_of(line)) == host_of(site)) {
                "on another site: the same host on another port is another site; follow only links to \
                 the start page's own http://host:port"
            } else if other_site.is_some() {
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
    if !run.elsewhere.is_empty() {
        let asked: Vec<String> = run.elsewhere.iter().map(|s| s.path.clone()).collect();
        return Err(format!(
            "{}: the server at {} (the same host, another port: another site) was asked for {}: \
             follow only links to the start page's own http://host:port",
            run.label(),
            run.other_base,
            some(&asked)
        ));
    }
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
    Ok(format!(
        "{}: all {} reachable image URLs, each once, nothing fetched from another site",
        run.label(),
        images.len()
    ))
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
        "{}: all {} pages fetched, and the {} broken links (404, or an answer cut off) were tried and skipped",
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

fn check_stops_at_m(runs: &[&Run]) -> Result<String, String> {
    let mut seen = Vec::new();
    for run in runs {
        let set = judge_lines(run)?;
        if set.len() != run.m {
            return Err(format!("{}: {} lines, expected exactly {}", run.label(), set.len(), run.m));
        }
        seen.push(format!("{}: exactly {} distinct image URLs of this web", run.label(), run.m));
    }
    Ok(seen.join("; "))
}

fn check_stops_soon(runs: &[&Run]) -> Result<String, String> {
    runs.iter().map(|r| stops_soon(r)).collect::<Result<Vec<_>, _>>().map(|seen| seen.join("; "))
}

/// No request may start once the server has sent pages holding M images: with -t 1
/// none at all (nothing else is in flight, so the program had read every page the
/// server sent before it could ask for another), with more, none after [`STOP_GRACE`].
fn stops_soon(run: &Run) -> Result<String, String> {
    let grace = if run.n == 1 { Duration::ZERO } else { STOP_GRACE };
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
    let late: Vec<&Served> = run.served.iter().filter(|s| s.started > found + grace).collect();
    if !late.is_empty() {
        let paths: Vec<String> = late.iter().map(|s| s.path.clone()).collect();
        let when = if grace.is_zero() {
            "after the server had sent (one page at a time) the page that brought the".to_string()
        } else {
            format!("more than {} ms after the server had sent pages holding", grace.as_millis())
        };
        return Err(format!(
            "{}: {} request{} started {when} {}{} image{} ({}): stop adding transfers once you have M \
             (count a page's images before you start the transfer that replaces it)",
            run.label(),
            late.len(),
            if late.len() == 1 { "" } else { "s" },
            run.m,
            if grace.is_zero() { "th" } else { "" },
            if grace.is_zero() { "" } else { "s" },
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
/// Answers that may go without their refills: one (slack for the very end of a crawl),
/// and one in ten more (a correct crawler on a busy machine is sometimes not scheduled
/// for 50 ms). A crawler that works in batches leaves half its answers or more
/// unrefilled, one that lets idle slots die most answers late in the crawl.
fn max_empty_slots(answers: usize) -> usize {
    1 + answers / 10
}

/// `replaces_at_once`: whenever pages are waiting and fewer than N requests are in
/// flight, new requests follow at once. Judged by the server's record and the web's
/// known links: a page is waiting once a page delivered by then links to it, until a
/// request for it arrives.
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
                "{}: {empty} of the {with_work} answers that left a slot free while other pages were waiting \
                 (linked from pages already delivered, not yet asked for) were not followed by enough new \
                 requests within {} ms (e.g. {}): start the next pages as soon as one finishes, not when a \
                 whole batch has, and keep N in flight whenever pages wait, even after a moment with none",
                r.label(),
                EMPTY_SLOT.as_millis(),
                example.unwrap_or_default()
            ));
        }
        seen.push(format!(
            "{}: {with_work} answers left slots to fill, {empty} not refilled within {} ms",
            r.label(),
            EMPTY_SLOT.as_millis()
        ));
    }
    Ok(seen.join("; "))
}

/// Replays the server's record, answers and requests in time order. After each answer,
/// the slots the program could fill are min(pages waiting, N - requests in flight);
/// each is owed a new request within [`EMPTY_SLOT`] (requests fill the oldest owed slot
/// first). Returns (answers that left slots to fill, how many of them had one filled
/// late or never, an example). An answer counts once however many of its slots were
/// late, so one stall of a busy machine costs one answer, as in a batch it costs one.
fn unrefilled(r: &Run) -> (usize, usize, Option<String>) {
    // Only pages it did ask for some time count as waiting: a page it never asks for
    // (a link it misread) is all_images' business, not a slot left empty.
    let ever_asked: BTreeSet<&str> = r.served.iter().map(|s| s.path.as_str()).collect();
    // (when, answer or request, index into served); at one instant answers first.
    let mut events: Vec<(Instant, bool, usize)> = Vec::new();
    for (i, s) in r.served.iter().enumerate() {
        events.push((s.started, true, i));
        events.push((s.finished, false, i));
    }
    events.sort_by_key(|&(at, is_request, _)| (at, is_request));
    let mut known: BTreeSet<String> = BTreeSet::from([WEB_START.to_string()]);
    let mut asked: BTreeSet<&str> = BTreeSet::new();
    let mut in_flight = 0usize;
    // Slots owed a request: (freed when, by which answer).
    let mut owed: VecDeque<(Instant, usize)> = VecDeque::new();
    let mut answers_late = BTreeSet::new();
    let (mut with_work, mut example) = (0, None);
    for (at, is_request, i) in events {
        let s = &r.served[i];
        if is_request {
            in_flight += 1;
            asked.insert(s.path.as_str());
        } else {
            in_flight = in_flight.saturating_sub(1);
            if s.status == Some(200) && s.complete {
                known.extend(r.web.links_on(&s.path));
            }
        }
        let waiting =
            known.iter().filter(|k| !asked.contains(k.as_str()) && ever_asked.contains(k.as_str())).count();
        let could = waiting.min(r.n.saturating_sub(in_flight));
        while owed.len() > could {
            let Some((freed, by)) = owed.pop_front() else { break };
            if at > freed + EMPTY_SLOT && answers_late.insert(by) {
                example.get_or_insert_with(|| {
                    format!(
                        "after {} was answered, a free slot had no new request for {} ms",
                        r.served[by].path,
                        (at - freed).as_millis()
                    )
                });
            }
        }
        // (A slot still owed when the record ends, a run cut off, is not judged: every
        // page counted as waiting was asked for later, so that cannot happen otherwise.)
        if !is_request && owed.len() < could {
            with_work += 1;
            while owed.len() < could {
                owed.push_back((at, i));
            }
        }
    }
    (with_work, answers_late.len(), example)
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
        // (-t N, -m M, seed): the whole web at three concurrencies, then a short crawl,
        // then one that stops one image short of the web's 22 (past where images repeat:
        // a program that counts <img> tags, not distinct URLs, stops short of M there).
        // Seeds drawn afresh for every marking: image names learned once are no use.
        let seed = lab_marking::marking::run_seed();
        let plan =
            [(4, ALL, seed), (1, 6, seed ^ 1), (6, ALL, seed ^ 2), (2, 5, seed ^ 3), (4, 21, seed ^ 4)];
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
        let [full, one, six, short, most] = &runs[..] else { return };
        marking.check("all_images", 3, || check_all_images(full));
        marking.check("broken_links_skipped", 2, || check_broken_links(full));
        marking.check("no_page_twice", 2, || check_no_page_twice(&runs));
        marking.check("exactly_m", 2, || check_stops_at_m(&[short, one, most]));
        marking.check("stops_soon", 2, || check_stops_soon(&[short, one]));
        marking.check("in_flight_at_most_n", 2, || check_never_above(&runs));
        marking.check("in_flight_reaches_n", 3, || check_reaches(&[full, six, short]));
        marking.check("replaces_at_once", 3, || check_replaces(&[full, six]));
        marking.check("errors", 2, || check_errors(submission, limit.min(Duration::from_secs(5))));
        let info: Vec<String> = [one, full, six, short, most]
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
            other_base: "http://h:2".into(),
            elsewhere: Vec::new(),
        }
    }

    #[test]
    fn lines_must_be_real_distinct_and_seen() {
        let tag = CrawlWeb::new(1).tag;
        let logo = format!("http://h:1/web/img/logo-{tag}.png");
        let about = format!("http://h:1/web/img/about-{tag}.jpg");
        let index = ("/web/index.html", 0, 10);
        let run = fake_run(1, &[&logo], &[index]);
        assert!(check_stops_at_m(&[&run]).is_ok());
        let twice = fake_run(2, &[&logo, &logo], &[index]);
        assert!(check_stops_at_m(&[&twice]).is_err_and(|e| e.contains("twice")));
        let unseen = fake_run(2, &[&logo, &about], &[index]);
        assert!(check_stops_at_m(&[&unseen]).is_err_and(|e| e.contains("on no page")));
        let relative = fake_run(1, &["img/logo.png"], &[index]);
        assert!(check_stops_at_m(&[&relative]).is_err_and(|e| e.contains("absolute")));
        let other_port = fake_run(1, &[&format!("http://h:2/web/img/away-{tag}.png")], &[index]);
        assert!(check_stops_at_m(&[&other_port]).is_err_and(|e| e.contains("another port")));
    }

    #[test]
    fn every_free_slot_must_take_a_waiting_page() {
        // -t 2: the index links to about and gallery; both slots are free when it is in.
        let mut run = fake_run(ALL, &[], &[("/web/index.html", 0, 10), ("/web/about.html", 11, 40)]);
        run.n = 2;
        let both = |gallery_at| {
            let mut run = fake_run(
                ALL,
                &[],
                &[
                    ("/web/index.html", 0, 10),
                    ("/web/about.html", 11, 40),
                    ("/web/gallery/index.html", gallery_at, 40),
                ],
            );
            run.n = 2;
            unrefilled(&run)
        };
        assert_eq!(both(30).0, 1);
        assert_eq!(both(30).1, 0);
        // The second slot idle for 140 ms, though gallery was waiting: late.
        assert_eq!(both(150).1, 1);
        assert!(both(150).2.is_some_and(|e| e.contains("/web/index.html")));
        // Only pages it asks for some time count as waiting.
        assert_eq!(unrefilled(&run).1, 0);
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
        assert!(check_stops_soon(&[&run]).is_err_and(|e| e.contains("1 request started")));
        let mut run = fake_run(2, &[], &[("/web/index.html", 0, 10), ("/web/about.html", 100, 10)]);
        assert!(check_stops_soon(&[&run]).is_ok());
        // One at a time, nothing may start after the page that brought the M-th image.
        run.n = 1;
        assert!(check_stops_soon(&[&run]).is_err_and(|e| e.contains("one page at a time")));
    }
}
