//! Lab 03, "Paste the strips": your starting point.
//!
//! Fetches random strips of a picture from URL until it holds every one, then writes
//! the picture as a PPM file and reports the time. It works, but slowly: it fetches
//! ONE strip at a time with a blocking `curl_easy_perform`, and ignores `-t N`.
//!
//! Your job (labs/03-strips/README.md): keep up to N transfers in flight with libcurl's
//! multi interface (notes: "Using cURL Asynchronously"), and start a new transfer the
//! moment one finishes. Look for the `// TODO` lines.
//!
//! ```text
//! just lab strips                 # build this and mark it
//! cargo run -q -p strips -- -t 4 -o out.ppm http://127.0.0.1:8080/strips   (after `just serve 127.0.0.1:8080`)
//! ```

use clap::Parser;
use common::{Context, Error, Result};
use curl::easy::{Easy2, Handler, WriteError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Fetch every strip of a picture, N at a time, and paste them into a PPM file.
#[derive(Debug, Parser)]
#[command(
    name = "strips",
    after_help = "examples:\n  strips -t 8 -o out.ppm http://127.0.0.1:8080/strips\n  \
                  strips -t 1 -o slow.ppm http://127.0.0.1:8080/strips   (one at a time)"
)]
struct Args {
    /// The most transfers in flight at once.
    #[arg(short = 't', value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    transfers: u32,
    /// Where to write the picture (PPM, P6).
    #[arg(short = 'o', value_name = "FILE")]
    output: PathBuf,
    /// The strip server's URL; every GET answers with one random strip.
    url: String,
}

/// The most one transfer may take (connect included) before curl gives up on it.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole run's deadline: the program never hangs, whatever the server does.
const RUN_DEADLINE: Duration = Duration::from_secs(60);
/// Requests per strip after which we give up (a server that never sends strip 7).
const MAX_REQUESTS_PER_STRIP: usize = 100;

/// One transfer's response: its headers and body, as curl hands them over.
#[derive(Debug, Default)]
struct Response {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Handler for Response {
    /// CURLOPT_WRITEFUNCTION: keep the body.
    fn write(&mut self, data: &[u8]) -> std::result::Result<usize, WriteError> {
        self.body.extend_from_slice(data);
        Ok(data.len())
    }

    /// CURLOPT_HEADERFUNCTION: called once per header line, `Name: value\r\n`.
    fn header(&mut self, line: &[u8]) -> bool {
        let line = String::from_utf8_lossy(line);
        if let Some((name, value)) = line.split_once(':') {
            self.headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        true
    }
}

impl Response {
    /// A header's value as a number, or an error naming the header.
    fn number(&self, name: &str) -> Result<usize> {
        let value = self
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| Error::msg("read the strip", format!("the response has no {name} header")))?;
        value.parse().map_err(|_| Error::msg("read the strip", format!("{name}: {value:?} is not a number")))
    }
}

/// The picture being put together.
#[derive(Debug)]
struct Picture {
    width: usize,
    height: usize,
    strips: Vec<Option<Vec<u8>>>,
}

impl Picture {
    /// The first response tells us the picture's size and strip count.
    fn from_first(response: &Response) -> Result<Picture> {
        let count = response.number("x-strip-count")?;
        let width = response.number("x-image-width")?;
        let height = response.number("x-image-height")?;
        if count == 0 || height % count != 0 || width == 0 {
            return Err(Error::msg(
                "read the strip",
                format!("{count} strips of a {width}x{height} picture do not fit"),
            ));
        }
        Ok(Picture { width, height, strips: vec![None; count] })
    }

    /// Keeps one strip (a repeat is simply dropped). Returns true if it was new.
    fn paste(&mut self, response: Response) -> Result<bool> {
        let index = response.number("x-strip-index")?;
        let expected = self.width * 3 * (self.height / self.strips.len());
        let count = self.strips.len();
        let slot = self.strips.get_mut(index).ok_or_else(|| {
            Error::msg("read the strip", format!("strip {index} of {count} is out of range"))
        })?;
        if response.body.len() != expected {
            return Err(Error::msg(
                "read the strip",
                format!("strip {index} has {} bytes, expected {expected}", response.body.len()),
            ));
        }
        let new = slot.is_none();
        *slot = Some(response.body);
        Ok(new)
    }

    fn missing(&self) -> usize {
        self.strips.iter().filter(|s| s.is_none()).count()
    }

    /// The PPM file: `P6\n{width} {height}\n255\n`, then the strips top to bottom.
    fn ppm(&self) -> Vec<u8> {
        let mut file = format!("P6\n{} {}\n255\n", self.width, self.height).into_bytes();
        for strip in self.strips.iter().flatten() {
            file.extend_from_slice(strip);
        }
        file
    }
}

/// curl_easy_init and the options every strip request gets.
fn new_transfer(url: &str) -> Result<Easy2<Response>> {
    let mut easy = Easy2::new(Response::default());
    let fail = |e: curl::Error| Error::msg(format!("set up a transfer for {url}"), e.to_string());
    easy.url(url).map_err(fail)?;
    easy.timeout(TRANSFER_TIMEOUT).map_err(fail)?;
    // No SIGALRM-based DNS timeouts: they are not safe with threads.
    easy.signal(false).map_err(fail)?;
    Ok(easy)
}

fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    // TODO: use this: the most transfers in flight at once (-t N).
    let _limit = args.transfers as usize;
    let url = args.url.as_str();
    // TODO: create one multi handle (curl::multi::Multi::new()) and add N easy handles
    // to it (multi.add2), each with its own token (set_token) so you can tell them apart.
    let mut requests = 0;
    let mut picture: Option<Picture> = None;
    loop {
        // TODO: this blocks until one whole transfer is over, so only one strip is ever
        // in flight. Replace it with the multi loop: multi.perform(), then
        // multi.messages(..) for the transfers that finished (result_for2 gives each
        // one's result), then multi.wait(..) until a socket has news.
        let mut easy = new_transfer(url)?;
        requests += 1;
        easy.perform().map_err(|e| Error::msg(format!("GET {url}"), e.to_string()))?;

        // TODO: for each finished transfer: multi.remove2(handle) gives the Easy2 back.
        let status = easy.response_code().unwrap_or(0);
        if status != 200 {
            return Err(Error::msg(format!("GET {url}"), format!("the server answered HTTP {status}")));
        }
        let response = std::mem::take(easy.get_mut());
        let picture = match &mut picture {
            Some(picture) => picture,
            None => picture.insert(Picture::from_first(&response)?),
        };
        picture.paste(response)?;
        // TODO: a transfer just finished, so a slot is free: add a new transfer to the
        // multi handle NOW (if strips are still missing), without waiting for the others.

        if picture.missing() == 0 {
            break;
        }
        if requests > MAX_REQUESTS_PER_STRIP * picture.strips.len() {
            return Err(Error::msg(
                "fetch the strips",
                format!("{requests} requests and {} strips still missing: giving up", picture.missing()),
            ));
        }
        if started.elapsed() > RUN_DEADLINE {
            return Err(Error::msg("fetch the strips", format!("still not done after {RUN_DEADLINE:?}")));
        }
    }
    // TODO: once every strip is held, remove the transfers still in flight.
    let Some(picture) = picture else {
        return Err(Error::msg("fetch the strips", "no strip arrived"));
    };
    let file = picture.ppm();
    std::fs::write(&args.output, &file).with_context(|| format!("write {}", args.output.display()))?;
    println!(
        "fetched {} strips in {requests} requests, one at a time: {:.3} s ({} bytes to {})",
        picture.strips.len(),
        started.elapsed().as_secs_f64(),
        file.len(),
        args.output.display()
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    common::error::main_wrapper(|| run(&args))
}
