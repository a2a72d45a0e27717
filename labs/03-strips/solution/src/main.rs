//! Lab 03, "Paste the strips": the reference solution.
//!
//! Fetches random strips of a picture from URL until it holds every one, with libcurl's
//! multi interface keeping at most `-t N` transfers in flight, and replacing each
//! finished transfer with a new one at once (notes: "Using cURL Asynchronously").
//! Then writes the picture as a PPM file and reports the time.
//!
//! ```text
//! strips-solution -t 8 -o out.ppm http://127.0.0.1:8080/strips
//! ```
//!
//! The loop is the one the notes teach (perform, read the messages, wait), with one
//! change that is the point of the lab: a finished handle is removed and a fresh one
//! added *inside* the message loop, so the number in flight drops below N only for the
//! moment between one transfer's end and the next one's start.

use clap::Parser;
use common::{Context, Error, Result};
use curl::easy::{Easy2, Handler, WriteError};
use curl::multi::{Easy2Handle, Multi};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Fetch every strip of a picture, N at a time, and paste them into a PPM file.
#[derive(Debug, Parser)]
#[command(
    name = "strips-solution",
    after_help = "examples:\n  strips-solution -t 8 -o out.ppm http://127.0.0.1:8080/strips\n  \
                  strips-solution -t 1 -o slow.ppm http://127.0.0.1:8080/strips   (one at a time)"
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

/// The transfers in flight, by the token (CURLOPT_PRIVATE) curl gives back when one ends.
struct InFlight {
    handles: HashMap<usize, Easy2Handle<Response>>,
    next_token: usize,
    started: usize,
}

impl InFlight {
    /// curl_multi_add_handle for one new transfer.
    fn add(&mut self, multi: &Multi, url: &str) -> Result<()> {
        let mut handle =
            multi.add2(new_transfer(url)?).map_err(|e| Error::msg("curl_multi_add_handle", e.to_string()))?;
        handle.set_token(self.next_token).map_err(|e| Error::msg("set CURLOPT_PRIVATE", e.to_string()))?;
        self.handles.insert(self.next_token, handle);
        self.next_token += 1;
        self.started += 1;
        Ok(())
    }
}

fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    let limit = args.transfers as usize;
    let url = args.url.as_str();
    let multi = Multi::new();
    let mut in_flight = InFlight { handles: HashMap::new(), next_token: 0, started: 0 };
    // Start with N transfers: we do not know the strip count yet, but there is
    // always at least one strip to fetch.
    for _ in 0..limit {
        in_flight.add(&multi, url)?;
    }
    let mut picture: Option<Picture> = None;
    loop {
        // Do whatever reading and writing the sockets allow right now.
        multi.perform().map_err(|e| Error::msg("curl_multi_perform", e.to_string()))?;

        // Which transfers finished? (curl_multi_info_read until it has no more.)
        let mut finished = Vec::new();
        multi.messages(|message| {
            let Ok(token) = message.token() else { return };
            if let Some(result) = in_flight.handles.get(&token).and_then(|h| message.result_for2(h)) {
                finished.push((token, result));
            }
        });
        for (token, result) in finished {
            let Some(handle) = in_flight.handles.remove(&token) else { continue };
            let mut easy =
                multi.remove2(handle).map_err(|e| Error::msg("curl_multi_remove_handle", e.to_string()))?;
            result.map_err(|e| Error::msg(format!("GET {url}"), e.to_string()))?;
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
            // The point of the lab: a slot is free, so fill it now, not when the
            // others have finished too. Keep all N going even when fewer strips than
            // that are missing: each answer is a random strip, so every extra request
            // is another chance at the last ones.
            if picture.missing() > 0 {
                in_flight.add(&multi, url)?;
            }
        }

        if let Some(picture) = &picture {
            if picture.missing() == 0 {
                break;
            }
            if in_flight.started > MAX_REQUESTS_PER_STRIP * picture.strips.len() {
                return Err(Error::msg(
                    "fetch the strips",
                    format!(
                        "{} requests and {} strips still missing: giving up",
                        in_flight.started,
                        picture.missing()
                    ),
                ));
            }
        }
        if started.elapsed() > RUN_DEADLINE {
            return Err(Error::msg("fetch the strips", format!("still not done after {RUN_DEADLINE:?}")));
        }
        // Sleep until a socket has news or curl's next timer is due (at most 1 s).
        multi
            .wait(&mut [], Duration::from_secs(1))
            .map_err(|e| Error::msg("curl_multi_wait", e.to_string()))?;
    }
    // Transfers still in flight fetch strips we no longer need: remove them.
    for (_, handle) in in_flight.handles.drain() {
        let _ = multi.remove2(handle);
    }
    let Some(picture) = picture else {
        return Err(Error::msg("fetch the strips", "no strip arrived"));
    };
    let file = picture.ppm();
    std::fs::write(&args.output, &file).with_context(|| format!("write {}", args.output.display()))?;
    println!(
        "fetched {} strips in {} requests, at most {limit} at once: {:.3} s ({} bytes to {})",
        picture.strips.len(),
        in_flight.started,
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
