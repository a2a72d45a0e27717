//! Lab 05, "Crawl": the reference solution.
//!
//! A small web crawler on libcurl's multi interface (notes: "Using cURL
//! Asynchronously"): from a start page it follows `<a href>` links on the same site,
//! at most `-t N` pages in flight at once, collects the addresses in `<img src>` until
//! it has `-m M` distinct ones, writes them to `-o FILE` (one per line), and stops.
//!
//! ```text
//! crawl-solution -t 4 -m 10 -o images.txt http://127.0.0.1:8080/web/index.html
//! ```
//!
//! What makes a crawler correct here:
//! - every URL is resolved against its page and stripped of its `#fragment` *before*
//!   it is compared, so `team.html`, `./team.html` and `team.html#alice` are one page;
//! - a URL is marked as seen when it is *queued*, not when it is fetched, so a cycle
//!   (a -> b -> a) or two pages linking to the same third never fetch a page twice;
//! - a broken link (404) or a failed page is reported and skipped: only the start
//!   page is essential;
//! - once M images are known, no new transfer starts, and the ones in flight are
//!   removed.

mod html;

use clap::Parser;
use common::{Context, Error, Result};
use curl::easy::{Easy2, Handler, WriteError};
use curl::multi::{Easy2Handle, Multi};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Crawl a small web from a start page, N pages at once, and list the images found.
#[derive(Debug, Parser)]
#[command(
    name = "crawl-solution",
    after_help = "examples:\n  crawl-solution -t 4 -m 10 -o images.txt http://127.0.0.1:8080/web/index.html\n  \
                  crawl-solution -t 1 -m 1000 -o all.txt http://127.0.0.1:8080/web/index.html   (everything, one page at a time)"
)]
struct Args {
    /// The most pages in flight at once.
    #[arg(short = 't', value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    transfers: u32,
    /// Stop when this many distinct image URLs are found.
    #[arg(short = 'm', value_name = "M", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    max_images: u32,
    /// Where to write the image URLs, one per line.
    #[arg(short = 'o', value_name = "FILE")]
    output: PathBuf,
    /// The start page.
    url: String,
}

/// The most one page may take (connect included) before curl gives up on it.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole crawl's deadline: the program never hangs, whatever the server does.
const RUN_DEADLINE: Duration = Duration::from_secs(60);
/// Pages bigger than this are cut off (a crawler must not eat all memory).
const MAX_PAGE: usize = 1024 * 1024;
/// The most pages one crawl fetches.
const MAX_PAGES: usize = 10_000;

/// One page's body, as curl hands it over.
#[derive(Debug, Default)]
struct Page {
    body: Vec<u8>,
}

impl Handler for Page {
    /// CURLOPT_WRITEFUNCTION: keep the body (up to MAX_PAGE; returning fewer bytes than
    /// given would abort the transfer, so the rest is dropped instead).
    fn write(&mut self, data: &[u8]) -> std::result::Result<usize, WriteError> {
        let room = MAX_PAGE.saturating_sub(self.body.len());
        self.body.extend_from_slice(&data[..data.len().min(room)]);
        Ok(data.len())
    }
}

/// curl_easy_init and the options every page request gets.
fn new_transfer(url: &str) -> Result<Easy2<Page>> {
    let mut easy = Easy2::new(Page::default());
    let fail = |e: curl::Error| Error::msg(format!("set up a transfer for {url}"), e.to_string());
    easy.url(url).map_err(fail)?;
    easy.timeout(TRANSFER_TIMEOUT).map_err(fail)?;
    easy.signal(false).map_err(fail)?;
    Ok(easy)
}

/// Everything the crawl knows.
struct Crawl {
    /// `http://host:port` of the start page: only links there are followed.
    origin: String,
    /// Pages found and not yet fetched, oldest first (breadth first).
    frontier: VecDeque<String>,
    /// Every page URL ever queued: the guard against cycles.
    seen: HashSet<String>,
    /// Image URLs in the order found, and the same as a set.
    images: Vec<String>,
    image_set: HashSet<String>,
    max_images: usize,
    /// Transfers in flight: token -> (URL, handle).
    in_flight: HashMap<usize, (String, Easy2Handle<Page>)>,
    next_token: usize,
    fetched: usize,
}

impl Crawl {
    fn enough(&self) -> bool {
        self.images.len() >= self.max_images
    }

    /// Starts transfers from the frontier until N are in flight (none once enough
    /// images are known).
    fn fill(&mut self, multi: &Multi, limit: usize) -> Result<()> {
        while self.in_flight.len() < limit && !self.enough() && self.fetched < MAX_PAGES {
            let Some(url) = self.frontier.pop_front() else { break };
            let mut handle = multi
                .add2(new_transfer(&url)?)
                .map_err(|e| Error::msg("curl_multi_add_handle", e.to_string()))?;
            handle
                .set_token(self.next_token)
                .map_err(|e| Error::msg("set CURLOPT_PRIVATE", e.to_string()))?;
            self.in_flight.insert(self.next_token, (url, handle));
            self.next_token += 1;
            self.fetched += 1;
        }
        Ok(())
    }

    /// Takes what a fetched page offers: its images (until M), and its links to
    /// pages on the same site not seen before.
    fn take_page(&mut self, page_url: &str, body: &[u8]) {
        let text = String::from_utf8_lossy(body);
        for src in html::attribute_values(&text, "img", "src") {
            let Some(image) = html::resolve(page_url, &src) else { continue };
            if !self.enough() && self.image_set.insert(image.clone()) {
                self.images.push(image);
            }
        }
        for href in html::attribute_values(&text, "a", "href") {
            let Some(link) = html::resolve(page_url, &href) else { continue };
            let same_site = html::split_origin(&link).is_some_and(|(origin, _)| origin == self.origin);
            if same_site && self.seen.insert(link.clone()) {
                self.frontier.push_back(link);
            }
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    let limit = args.transfers as usize;
    let start = html::resolve(&args.url, "")
        .ok_or_else(|| Error::msg(format!("crawl {}", args.url), "not an http:// or https:// URL"))?;
    let origin = html::split_origin(&start).map(|(o, _)| o.to_string()).unwrap_or_default();
    let mut crawl = Crawl {
        origin,
        frontier: VecDeque::from([start.clone()]),
        seen: HashSet::from([start.clone()]),
        images: Vec::new(),
        image_set: HashSet::new(),
        max_images: args.max_images as usize,
        in_flight: HashMap::new(),
        next_token: 0,
        fetched: 0,
    };
    let multi = Multi::new();
    let mut broken = 0;
    crawl.fill(&multi, limit)?;
    while !crawl.in_flight.is_empty() {
        multi.perform().map_err(|e| Error::msg("curl_multi_perform", e.to_string()))?;
        let mut finished = Vec::new();
        multi.messages(|message| {
            let Ok(token) = message.token() else { return };
            if let Some(result) = crawl.in_flight.get(&token).and_then(|(_, h)| message.result_for2(h)) {
                finished.push((token, result));
            }
        });
        for (token, result) in finished {
            let Some((url, handle)) = crawl.in_flight.remove(&token) else { continue };
            let easy =
                multi.remove2(handle).map_err(|e| Error::msg("curl_multi_remove_handle", e.to_string()))?;
            let status = easy.response_code().unwrap_or(0);
            let problem = match result {
                Err(e) => Some(e.to_string()),
                Ok(()) if status != 200 => Some(format!("HTTP {status}")),
                Ok(()) => None,
            };
            match problem {
                // Without the start page there is no crawl.
                Some(why) if url == start => return Err(Error::msg(format!("GET {url}"), why)),
                // Any other page: a broken link, not a reason to stop.
                Some(why) => {
                    broken += 1;
                    println!("skipped {url}: {why}");
                }
                None => crawl.take_page(&url, &easy.get_ref().body),
            }
        }
        if crawl.enough() {
            break;
        }
        // Each finished page freed a slot: refill now.
        crawl.fill(&multi, limit)?;
        if crawl.in_flight.is_empty() {
            break;
        }
        if started.elapsed() > RUN_DEADLINE {
            return Err(Error::msg("crawl", format!("still not done after {RUN_DEADLINE:?}")));
        }
        multi
            .wait(&mut [], Duration::from_secs(1))
            .map_err(|e| Error::msg("curl_multi_wait", e.to_string()))?;
    }
    // Enough images: the pages still in flight are not needed.
    for (_, (_, handle)) in crawl.in_flight.drain() {
        let _ = multi.remove2(handle);
    }
    let mut list = crawl.images.join("\n");
    if !list.is_empty() {
        list.push('\n');
    }
    std::fs::write(&args.output, list).with_context(|| format!("write {}", args.output.display()))?;
    println!(
        "found {} image URLs on {} pages ({broken} broken), at most {limit} at once: {:.3} s",
        crawl.images.len(),
        crawl.fetched,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    common::error::main_wrapper(|| run(&args))
}
