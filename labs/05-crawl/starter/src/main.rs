//! Lab 05, "Crawl": your starting point.
//!
//! A web crawler that does not crawl yet: it fetches the start page with one blocking
//! `curl_easy_perform`, lists the images on that page (at most `-m M`) in `-o FILE`,
//! and stops. It never follows a link, and it ignores `-t N`.
//!
//! Your job (labs/05-crawl/README.md): follow the `<a href>` links on the same site,
//! never fetching a page twice, with up to N pages in flight at once on libcurl's
//! multi interface (notes: "Using cURL Asynchronously"), until M distinct images are
//! found. Look for the `// TODO` lines. `html.rs` (given) finds links and images and
//! resolves relative URLs.
//!
//! ```text
//! just lab crawl                 # build this and mark it
//! cargo run -q -p crawl -- -t 4 -m 10 -o images.txt http://127.0.0.1:8080/web/index.html   (after `just serve 127.0.0.1:8080`)
//! ```

mod html;

use clap::Parser;
use common::{Context, Error, Result};
use curl::easy::{Easy2, Handler, WriteError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Crawl a small web from a start page, N pages at once, and list the images found.
#[derive(Debug, Parser)]
#[command(
    name = "crawl",
    after_help = "examples:\n  crawl -t 4 -m 10 -o images.txt http://127.0.0.1:8080/web/index.html\n  \
                  crawl -t 1 -m 1000 -o all.txt http://127.0.0.1:8080/web/index.html   (everything, one page at a time)"
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
/// Pages bigger than this are cut off (a crawler must not eat all memory).
const MAX_PAGE: usize = 1024 * 1024;

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

fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    // TODO: use this: the most pages in flight at once (-t N).
    let _limit = args.transfers as usize;
    let max_images = args.max_images as usize;
    let start = html::resolve(&args.url, "")
        .ok_or_else(|| Error::msg(format!("crawl {}", args.url), "not an http:// or https:// URL"))?;
    // TODO: keep a frontier (pages found, not yet fetched) and a set of every page URL
    // ever queued, so that no page is fetched twice (the web has cycles). Follow only
    // links on the start page's site (html::split_origin gives `http://host:port`).

    // TODO: instead of one blocking transfer, keep up to N in a curl::multi::Multi:
    // add2 + set_token, then loop: perform, messages (result_for2), remove2, refill
    // from the frontier, wait. A page that fails or answers 404 is skipped: only the
    // start page is essential.
    let easy = new_transfer(&start)?;
    easy.perform().map_err(|e| Error::msg(format!("GET {start}"), e.to_string()))?;
    let status = easy.response_code().unwrap_or(0);
    if status != 200 {
        return Err(Error::msg(format!("GET {start}"), format!("HTTP {status}")));
    }
    let text = String::from_utf8_lossy(&easy.get_ref().body).into_owned();

    let mut images: Vec<String> = Vec::new();
    for src in html::attribute_values(&text, "img", "src") {
        let Some(image) = html::resolve(&start, &src) else { continue };
        if images.len() < max_images && !images.contains(&image) {
            images.push(image);
        }
    }
    // TODO: take the page's links too: html::attribute_values(&text, "a", "href"),
    // each resolved with html::resolve(page_url, href) (None means "not http: skip").

    // TODO: once M images are known, start no new transfer, and remove the ones still
    // in flight.
    let mut list = images.join("\n");
    if !list.is_empty() {
        list.push('\n');
    }
    std::fs::write(&args.output, list).with_context(|| format!("write {}", args.output.display()))?;
    println!("found {} image URLs on 1 page: {:.3} s", images.len(), started.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    common::error::main_wrapper(|| run(&args))
}
