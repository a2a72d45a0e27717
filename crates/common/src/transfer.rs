//! What the two curl demos share (notes: "Using cURL Asynchronously"): the list of
//! transfers, one easy handle per transfer set up the same way, the bookkeeping of
//! which transfers are in flight, the per-transfer results, and the closing timeline
//! and summary line.
//!
//! The demos differ only in how they *wait*: curl-multi asks libcurl to wait
//! (`curl_multi_wait`), curl-select gets libcurl's fds and waits itself
//! (`curl_multi_fdset` + `curl_multi_timeout` + `select`). Everything on either side of
//! that wait lives here, so a diff of the two demos shows the wait and little else.

use crate::error::{Context, Error, Result};
use crate::narrate::{Narrator, Style};
use crate::timeline::Timeline;
use curl::easy::{Easy2, Handler, WriteError};
use curl::multi::{Easy2Handle, Multi};
use serde_json::json;
use std::collections::VecDeque;
use std::os::raw::c_int;
use std::time::{Duration, Instant};

/// The notes section both curl demos follow.
pub const NOTES: &str = "Using cURL Asynchronously";

/// The delays of the default run's local transfers, in the order they are started:
/// not sorted, so the finishing order visibly differs from the starting order.
pub const DEFAULT_DELAYS_MS: [u64; 5] = [600, 200, 1000, 400, 800];

/// One URL to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// 1, 2, 3... in the order given; also the easy handle's token (CURLOPT_PRIVATE).
    pub id: usize,
    /// The URL exactly as given.
    pub url: String,
    /// A short name for narration and the timeline (the path, for local URLs).
    pub label: String,
}

/// The default run's URLs: five delays on the local server, a 404, and a port that
/// refuses connections, so a student sees failures not stopping the rest.
pub fn default_urls(base: &str, refused_port: u16) -> Vec<String> {
    let mut urls: Vec<String> = DEFAULT_DELAYS_MS.iter().map(|ms| format!("{base}/delay/{ms}")).collect();
    urls.push(format!("{base}/status/404"));
    urls.push(format!("http://127.0.0.1:{refused_port}/refused"));
    urls
}

/// Numbers the URLs and gives each a label: the path for URLs on `local_base` (the
/// fixture server), `:PORT/path` for other loopback ports, otherwise the URL without
/// `http://`, cut to 32 characters.
pub fn plan(urls: &[String], local_base: Option<&str>) -> Vec<Transfer> {
    urls.iter()
        .enumerate()
        .map(|(i, url)| {
            let local = local_base.and_then(|base| url.strip_prefix(base)).filter(|p| p.starts_with('/'));
            // Another port on the loopback address (the refused one): `:PORT/path`.
            let loopback =
                local_base.and_then(|_| url.strip_prefix("http://127.0.0.1")).filter(|p| p.starts_with(':'));
            let label = match local.or(loopback) {
                Some(path) => path.to_string(),
                None => {
                    // Drop "http://" only: https and other schemes stay visible.
                    let bare = url.strip_prefix("http://").unwrap_or(url);
                    let mut label: String = bare.chars().take(32).collect();
                    if bare.chars().count() > 32 {
                        label.push_str("...");
                    }
                    // An empty argument (`curl-multi ""`) still needs a name in the lines.
                    if label.trim().is_empty() {
                        label = format!("{url:?}");
                    }
                    label
                }
            };
            Transfer { id: i + 1, url: url.clone(), label }
        })
        .collect()
}

/// What the user asked for: the command line both curl demos share, flattened into
/// each one's clap parser (`#[command(flatten)] config: Config`).
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct Config {
    /// URLs to fetch (http:// or https:// only). Default: the local server's URLs
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,

    /// Keep at most N transfers in flight; start the next as soon as one finishes
    #[arg(long, value_name = "N", value_parser = parse_parallel, conflicts_with = "sequential")]
    pub parallel: Option<usize>,

    /// Run the transfers one at a time with curl_easy_perform (the blocking baseline)
    #[arg(long)]
    pub sequential: bool,

    /// Give up on a transfer after SECS seconds (CURLOPT_TIMEOUT)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub timeout: Duration,

    /// Fill the fd table below N first, so curl's sockets get numbers >= N (try 1100
    /// in both curl demos: a libcurl that waits with poll() does not mind, select does)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(3..65536))]
    pub fd_floor: Option<i32>,
}

/// `--parallel`: a whole number of at least 1.
fn parse_parallel(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

/// `--timeout`: a positive number of seconds, at most an hour (`0.5`, `10`).
fn parse_secs(s: &str) -> std::result::Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 3600")),
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            urls: Vec::new(),
            parallel: None,
            sequential: false,
            timeout: Duration::from_secs(5),
            fd_floor: None,
        }
    }
}

impl Config {
    /// The easy-handle settings this config asks for.
    pub fn options(&self) -> Options {
        Options { timeout: self.timeout }
    }

    /// How many transfers may be in flight at once, out of `total`.
    pub fn limit(&self, total: usize) -> usize {
        self.parallel.unwrap_or(total).max(1)
    }
}

/// Counts the open fds again at the end and says whether every socket and handle was
/// closed (`open_fds` event). Checked by the tests: no fd may leak, whatever failed.
pub fn report_open_fds(before: usize, narrator: &Narrator) -> Result<usize> {
    let after = crate::fd::count_open_fds()?;
    let (style, verdict) = if after == before {
        (Style::Good, "every socket and pipe curl and the server opened is closed again".to_string())
    } else {
        (Style::Warn, format!("{} fd(s) still open", after as i64 - before as i64))
    };
    narrator.event_styled(
        "open_fds",
        json!({"before": before, "after": after}),
        style,
        format!("open fds: {before} before the run, {after} after: {verdict}"),
    );
    Ok(after)
}

/// Settings every easy handle gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// CURLOPT_TIMEOUT: the most one transfer may take, connect included.
    pub timeout: Duration,
}

/// The easy handle's callbacks: counts the body bytes (and throws them away, as the
/// notes' write callback does), and opens each socket curl asks for, so the demos can
/// name a transfer's fd.
#[derive(Debug, Default)]
pub struct Body {
    /// Body bytes received so far.
    pub bytes: u64,
    /// Every socket fd curl opened for this transfer, oldest first.
    pub sockets: Vec<i32>,
}

impl Handler for Body {
    /// CURLOPT_WRITEFUNCTION. Returning fewer bytes than given would abort the transfer
    /// with CURLE_WRITE_ERROR; the notes' `cb` returns `n*l` for the same reason.
    fn write(&mut self, data: &[u8]) -> std::result::Result<usize, WriteError> {
        self.bytes += data.len() as u64;
        Ok(data.len())
    }

    /// CURLOPT_OPENSOCKETFUNCTION: open the socket ourselves to learn its number.
    fn open_socket(&mut self, family: c_int, socktype: c_int, protocol: c_int) -> Option<i32> {
        let fd = crate::sys::curl::open_socket(family, socktype, protocol)?;
        self.sockets.push(fd);
        Some(fd)
    }
}

/// Creates and sets up one easy handle (`curl_easy_init` + `curl_easy_setopt`s).
pub fn easy_handle(transfer: &Transfer, options: &Options) -> std::result::Result<Easy2<Body>, curl::Error> {
    let mut easy = Easy2::new(Body::default());
    easy.url(&transfer.url)?;
    // Only http and https, whatever the URL says: without this, a URL from the command
    // line could read local files (file://) or speak any protocol libcurl has.
    crate::sys::curl::restrict_to_http(&mut easy).map_err(|code| curl::Error::new(code as _))?;
    easy.timeout(options.timeout)?;
    // CURLOPT_NOSIGNAL: without it libcurl may use SIGALRM for DNS timeouts, which is
    // unsafe in a program with threads (the local server runs on threads).
    easy.signal(false)?;
    easy.useragent("aio-lab")?;
    Ok(easy)
}

/// Why a transfer failed, as curl put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The CURLcode number.
    pub code: i32,
    /// Its C name, e.g. `CURLE_COULDNT_CONNECT`.
    pub name: String,
    /// curl_easy_strerror's text, plus the handle's error buffer when it has one.
    pub message: String,
    /// What it means here, for a student.
    pub hint: Option<String>,
}

/// How one transfer ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Which transfer.
    pub transfer: Transfer,
    /// When it was handed to curl, and when its result came back.
    pub start: Instant,
    /// See `start`.
    pub end: Instant,
    /// The HTTP status, if a response arrived (CURLINFO_RESPONSE_CODE is 0 otherwise).
    pub http_status: Option<u32>,
    /// Body bytes received.
    pub bytes: u64,
    /// None when curl says CURLE_OK (whatever the HTTP status).
    pub failure: Option<Failure>,
}

impl Outcome {
    /// Builds the outcome from a finished easy handle and curl's result for it.
    pub fn new(
        transfer: Transfer,
        easy: &Easy2<Body>,
        result: std::result::Result<(), curl::Error>,
        start: Instant,
        end: Instant,
    ) -> Outcome {
        let http_status = easy.response_code().ok().filter(|&code| code != 0);
        let failure = result.err().map(|e| failure(&e, &transfer.url));
        Outcome { transfer, start, end, http_status, bytes: easy.get_ref().bytes, failure }
    }

    /// A transfer that never reached curl (its easy handle could not be set up).
    pub fn not_started(transfer: Transfer, error: &curl::Error, at: Instant) -> Outcome {
        let failure = Some(failure(error, &transfer.url));
        Outcome { transfer, start: at, end: at, http_status: None, bytes: 0, failure }
    }

    /// True when curl completed the transfer (a 404 is a completed transfer).
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// `200 OK`, `404 Not Found`, or the CURLE name.
    pub fn status_text(&self) -> String {
        match (&self.failure, self.http_status) {
            (Some(f), _) => f.name.clone(),
            (None, Some(code)) => format!("{code} {}", reason(code)),
            (None, None) => "no status".into(),
        }
    }

    /// How long it took.
    pub fn elapsed(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }
}

/// Reason phrases for the statuses the demos meet.
fn reason(code: u32) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// The C name of a CURLcode, for the codes a student meets here.
pub fn curl_code_name(code: i32) -> String {
    let name = match code {
        0 => "CURLE_OK",
        1 => "CURLE_UNSUPPORTED_PROTOCOL",
        2 => "CURLE_FAILED_INIT",
        3 => "CURLE_URL_MALFORMAT",
        4 => "CURLE_NOT_BUILT_IN",
        5 => "CURLE_COULDNT_RESOLVE_PROXY",
        6 => "CURLE_COULDNT_RESOLVE_HOST",
        7 => "CURLE_COULDNT_CONNECT",
        8 => "CURLE_WEIRD_SERVER_REPLY",
        18 => "CURLE_PARTIAL_FILE",
        22 => "CURLE_HTTP_RETURNED_ERROR",
        23 => "CURLE_WRITE_ERROR",
        27 => "CURLE_OUT_OF_MEMORY",
        28 => "CURLE_OPERATION_TIMEDOUT",
        35 => "CURLE_SSL_CONNECT_ERROR",
        42 => "CURLE_ABORTED_BY_CALLBACK",
        43 => "CURLE_BAD_FUNCTION_ARGUMENT",
        47 => "CURLE_TOO_MANY_REDIRECTS",
        48 => "CURLE_UNKNOWN_OPTION",
        52 => "CURLE_GOT_NOTHING",
        55 => "CURLE_SEND_ERROR",
        56 => "CURLE_RECV_ERROR",
        60 => "CURLE_PEER_FAILED_VERIFICATION",
        61 => "CURLE_BAD_CONTENT_ENCODING",
        75 => "CURLE_CONV_FAILED",
        77 => "CURLE_SSL_CACERT_BADFILE",
        _ => return format!("CURLE_{code}"),
    };
    name.to_string()
}

/// True when the linked libcurl can do https.
pub fn has_tls() -> bool {
    curl::Version::get().feature_ssl()
}

/// What to tell a student whose libcurl has no TLS.
pub const NO_TLS_HELP: &str = "this libcurl was built without TLS, so https:// cannot work: curl-sys \
compiled its bundled copy because it found no system libcurl. Install one with TLS and rebuild \
(Debian/Ubuntu: apt-get install libcurl4-openssl-dev pkg-config; macOS: the system libcurl has TLS), \
then `cargo clean -p curl-sys`";

fn failure(error: &curl::Error, url: &str) -> Failure {
    let code = error.code() as i32;
    // curl's own words, plus the handle's error buffer (CURLOPT_ERRORBUFFER), which
    // says more ("Failed to connect to 127.0.0.1 port 1 after 0 ms") and often
    // already ends with the short text.
    let short = error.description();
    let message = match error.extra_description() {
        Some(extra) if extra.contains(short) => extra.to_string(),
        Some(extra) => format!("{extra} ({short})"),
        None => short.to_string(),
    };
    let https = url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    let hint = match code {
        1 if https && !has_tls() => Some(NO_TLS_HELP.to_string()),
        1 => Some("only http:// and https:// are allowed (CURLOPT_PROTOCOLS)".into()),
        3 => Some("curl could not parse the URL; nothing was sent".into()),
        6 => Some("the host name did not resolve (no such host, or no network)".into()),
        7 => Some("nothing listens there: the connection was refused or unreachable".into()),
        18 => Some("the server closed the connection before sending the body it promised".into()),
        28 => Some("the per-transfer timeout (--timeout) ran out; the other transfers went on".into()),
        42 => Some("the demo gave up on it: the run's deadline passed".into()),
        52 => Some("the server closed the connection without answering".into()),
        _ => None,
    };
    Failure { code, name: curl_code_name(code), message, hint }
}

/// Narrates a transfer handed to curl (`how`: `multi` for curl_multi_add_handle,
/// `easy` for curl_easy_perform).
pub fn report_started(narrator: &Narrator, transfer: &Transfer, how: &str, in_flight: usize) {
    let call = if how == "easy" { "curl_easy_perform" } else { "curl_multi_add_handle" };
    narrator.event(
        "transfer_started",
        json!({"id": transfer.id, "url": transfer.url, "label": transfer.label, "how": how, "in_flight": in_flight}),
        if how == "easy" {
            format!("{call}: #{} {} (returns when the transfer is over)", transfer.id, transfer.url)
        } else {
            format!("{call}: #{} {} ({in_flight} in flight)", transfer.id, transfer.url)
        },
    );
}

/// Narrates a finished transfer: `transfer_done` with its status and byte count.
pub fn report_done(narrator: &Narrator, outcome: &Outcome) {
    let t = &outcome.transfer;
    let secs = outcome.elapsed().as_secs_f64();
    let fields = json!({
        "id": t.id,
        "url": t.url,
        "label": t.label,
        "ok": outcome.ok(),
        "http_status": outcome.http_status,
        "bytes": outcome.bytes,
        "start_ms": round3(narrator.ms_at(outcome.start)),
        "end_ms": round3(narrator.ms_at(outcome.end)),
        "time_ms": round3(secs * 1000.0),
        "curl_code": outcome.failure.as_ref().map_or(0, |f| f.code),
        "curl_error": outcome.failure.as_ref().map(|f| f.name.clone()),
        "error": outcome.failure.as_ref().map(|f| f.message.clone()),
    });
    match &outcome.failure {
        None => {
            let style = if outcome.http_status.is_some_and(|s| s < 400) { Style::Good } else { Style::Warn };
            let text = format!(
                "done #{} {}: {}, {} bytes in {secs:.3} s",
                t.id,
                t.label,
                outcome.status_text(),
                outcome.bytes
            );
            narrator.event_styled("transfer_done", fields, style, text);
            if outcome.http_status.is_some_and(|s| s >= 400) {
                narrator.explain(
                    "curl says CURLE_OK: the transfer worked, and the server's answer was an error status \
                     (CURLOPT_FAILONERROR would make curl call it a failure)",
                );
            }
        }
        Some(f) => {
            let text = format!("failed #{} {}: {} after {secs:.3} s: {}", t.id, t.label, f.name, f.message);
            narrator.event_styled("transfer_done", fields, Style::Bad, text);
            if let Some(hint) = &f.hint {
                narrator.explain(hint);
            }
        }
    }
}

/// Milliseconds to three decimals (a microsecond): enough for any reader of `--json`.
pub fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// A transfer curl is working on: its handle inside the multi handle.
struct Running {
    transfer: Transfer,
    handle: Easy2Handle<Body>,
    start: Instant,
    /// How many of `handle.get_ref().sockets` have been narrated.
    sockets_seen: usize,
}

/// The transfers of one multi-handle run: those waiting their turn, those in flight
/// (at most `limit`), and the results so far.
///
/// The demo's loop calls [`Pool::fill`] to add handles, `curl_multi_perform` and its
/// own wait, then [`Pool::drain`] to collect what finished, which frees slots for
/// `fill` to add the next transfers as soon as one finishes (`--parallel N`).
pub struct Pool {
    pending: VecDeque<Transfer>,
    running: Vec<Running>,
    outcomes: Vec<Outcome>,
    limit: usize,
    options: Options,
    most_in_flight: usize,
    removed_once: bool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("pending", &self.pending.len())
            .field("in_flight", &self.running.len())
            .field("done", &self.outcomes.len())
            .finish()
    }
}

impl Pool {
    /// `limit` is the most transfers in flight at once (`--parallel N`; at least 1).
    pub fn new(transfers: Vec<Transfer>, limit: usize, options: Options) -> Pool {
        Pool {
            pending: transfers.into(),
            running: Vec::new(),
            outcomes: Vec::new(),
            limit: limit.max(1),
            options,
            most_in_flight: 0,
            removed_once: false,
        }
    }

    /// How many transfers curl is working on now.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// The most transfers that were ever in flight at once.
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight
    }

    /// True when every transfer has finished.
    pub fn is_done(&self) -> bool {
        self.pending.is_empty() && self.running.is_empty()
    }

    /// The results, in the order the transfers finished.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// How long a run of these transfers may take at worst: every batch of `limit`
    /// running into its timeout, plus some slack. The demos' wait loops stop there.
    pub fn deadline(&self, from: Instant) -> Instant {
        let total = self.pending.len() + self.running.len();
        let batches = total.div_ceil(self.limit).max(1) as u32;
        from + self.options.timeout * batches + Duration::from_secs(5)
    }

    /// Adds pending transfers to the multi handle until `limit` are in flight
    /// (curl_easy_init, the setopts, curl_multi_add_handle). Returns how many it added.
    /// A transfer whose handle cannot be set up fails on its own; the rest go on.
    pub fn fill(&mut self, multi: &Multi, narrator: &Narrator) -> Result<usize> {
        let mut added = 0;
        while self.running.len() < self.limit {
            let Some(transfer) = self.pending.pop_front() else { break };
            let easy = match easy_handle(&transfer, &self.options) {
                Ok(easy) => easy,
                Err(e) => {
                    let outcome = Outcome::not_started(transfer, &e, Instant::now());
                    report_done(narrator, &outcome);
                    self.outcomes.push(outcome);
                    continue;
                }
            };
            let start = Instant::now();
            let mut handle = multi
                .add2(easy)
                .map_err(|e| Error::msg(format!("curl_multi_add_handle #{}", transfer.id), e.to_string()))?;
            // The token is CURLOPT_PRIVATE: how a CURLMSG_DONE message names its transfer.
            handle
                .set_token(transfer.id)
                .map_err(|e| Error::msg(format!("set CURLOPT_PRIVATE on #{}", transfer.id), e.to_string()))?;
            self.running.push(Running { transfer, handle, start, sockets_seen: 0 });
            self.most_in_flight = self.most_in_flight.max(self.running.len());
            added += 1;
            if let Some(r) = self.running.last() {
                report_started(narrator, &r.transfer, "multi", self.running.len());
            }
        }
        Ok(added)
    }

    /// Narrates every socket curl opened since the last call (`socket_opened`), so the
    /// fds in the wait lines can be matched to transfers.
    pub fn report_new_sockets(&mut self, narrator: &Narrator) {
        for r in &mut self.running {
            let sockets = &r.handle.get_ref().sockets;
            for &fd in &sockets[r.sockets_seen..] {
                narrator.event(
                    "socket_opened",
                    json!({"id": r.transfer.id, "label": r.transfer.label, "fd": fd}),
                    format!("  curl opened socket fd {fd} for #{} {}", r.transfer.id, r.transfer.label),
                );
            }
            r.sockets_seen = sockets.len();
        }
    }

    /// The newest socket of each transfer in flight: `(fd, label)`.
    pub fn sockets(&self) -> Vec<(i32, String)> {
        self.running
            .iter()
            .filter_map(|r| r.handle.get_ref().sockets.last().map(|&fd| (fd, r.transfer.label.clone())))
            .collect()
    }

    /// The label of the transfer in flight whose newest socket is `fd`.
    pub fn owner_of(&self, fd: i32) -> Option<String> {
        self.sockets().into_iter().find(|(s, _)| *s == fd).map(|(_, label)| label)
    }

    /// Reads every waiting message (curl_multi_info_read until it returns NULL); for
    /// each CURLMSG_DONE: the result, the status and byte count, then
    /// curl_multi_remove_handle and curl_easy_cleanup. Returns how many finished.
    ///
    /// Call it after every curl_multi_perform, including the one that reports 0
    /// running: the last transfers' messages are waiting then, and a loop that stops
    /// at "0 running" without draining loses them.
    pub fn drain(&mut self, multi: &Multi, narrator: &Narrator) -> Result<usize> {
        // Collect first: a message borrows the multi handle, and removing a handle
        // while reading messages is allowed by curl but clearer done afterwards.
        let mut finished: Vec<(usize, std::result::Result<(), curl::Error>)> = Vec::new();
        multi.messages(|message| {
            let Ok(token) = message.token() else { return };
            if let Some(r) = self.running.iter().find(|r| r.transfer.id == token) {
                if let Some(result) = message.result_for2(&r.handle) {
                    finished.push((token, result));
                }
            }
        });
        let end = Instant::now();
        let count = finished.len();
        for (token, result) in finished {
            let Some(at) = self.running.iter().position(|r| r.transfer.id == token) else { continue };
            let r = self.running.remove(at);
            let easy = multi
                .remove2(r.handle)
                .map_err(|e| Error::msg(format!("curl_multi_remove_handle #{token}"), e.to_string()))?;
            let outcome = Outcome::new(r.transfer, &easy, result, r.start, end);
            drop(easy); // curl_easy_cleanup
            report_done(narrator, &outcome);
            narrator.data("handle_removed", json!({"id": token, "in_flight": self.running.len()}));
            if !self.removed_once {
                self.removed_once = true;
                narrator.explain(
                    "a finished handle is taken out of the multi handle and freed at once \
                     (curl_multi_remove_handle, curl_easy_cleanup)",
                );
            }
            self.outcomes.push(outcome);
        }
        Ok(count)
    }

    /// Gives up on everything left (the run's deadline passed): each transfer in
    /// flight is removed and cleaned up and reported as failed, and pending ones are
    /// reported as never started.
    pub fn abandon(&mut self, multi: &Multi, narrator: &Narrator) {
        let now = Instant::now();
        let gave_up = curl::Error::new(42 as _); // CURLE_ABORTED_BY_CALLBACK: we stopped it
        for r in std::mem::take(&mut self.running) {
            let id = r.transfer.id;
            let outcome = match multi.remove2(r.handle) {
                Ok(easy) => Outcome::new(r.transfer, &easy, Err(gave_up.clone()), r.start, now),
                Err(_) => Outcome::not_started(r.transfer, &gave_up, now),
            };
            report_done(narrator, &outcome);
            narrator.data("handle_removed", json!({"id": id, "in_flight": 0}));
            self.outcomes.push(outcome);
        }
        for transfer in std::mem::take(&mut self.pending) {
            let outcome = Outcome::not_started(transfer, &gave_up, now);
            report_done(narrator, &outcome);
            self.outcomes.push(outcome);
        }
    }
}

/// Runs the transfers one at a time with curl_easy_perform, the blocking baseline
/// (`--sequential`). Each call returns only when its transfer is over.
pub fn run_sequential(transfers: Vec<Transfer>, options: &Options, narrator: &Narrator) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for transfer in transfers {
        let easy = match easy_handle(&transfer, options) {
            Ok(easy) => easy,
            Err(e) => {
                let outcome = Outcome::not_started(transfer, &e, Instant::now());
                report_done(narrator, &outcome);
                outcomes.push(outcome);
                continue;
            }
        };
        report_started(narrator, &transfer, "easy", 1);
        let start = Instant::now();
        let result = easy.perform();
        let outcome = Outcome::new(transfer, &easy, result, start, Instant::now());
        report_done(narrator, &outcome);
        outcomes.push(outcome);
    }
    outcomes
}

/// Narrates `curl_global_init` (the curl crate's `curl::init`) and what was linked.
pub fn global_init(narrator: &Narrator) {
    curl::init();
    let version = curl::Version::get();
    let tls = version.ssl_version().map(str::to_string);
    narrator.event(
        "curl_global_init",
        json!({"version": version.version(), "tls": tls, "vendored": version.vendored()}),
        format!(
            "curl_global_init: libcurl {} ({}, {})",
            version.version(),
            tls.as_deref().map_or("no TLS: http only".to_string(), |t| format!("TLS: {t}")),
            if version.vendored() { "bundled copy" } else { "system library" },
        ),
    );
}

/// Warns up front when https URLs meet a libcurl without TLS (each such transfer
/// then fails on its own with CURLE_UNSUPPORTED_PROTOCOL and the same advice).
pub fn warn_if_no_tls(transfers: &[Transfer], narrator: &Narrator) {
    let https =
        transfers.iter().filter(|t| t.url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")));
    let count = https.count();
    if count > 0 && !has_tls() {
        narrator.event_styled(
            "no_tls",
            json!({"https_urls": count}),
            Style::Warn,
            format!("warning: {count} https URL(s) given, but {NO_TLS_HELP}"),
        );
    }
}

/// Occupies every free fd below `floor` with /dev/null, so the sockets curl opens next
/// are numbered `floor` or above: how a student reproduces the FD_SETSIZE trap without
/// opening a thousand connections. Keep the returned files until the run ends.
pub fn occupy_fds_below(floor: i32) -> Result<Vec<std::fs::File>> {
    let floor = floor.max(0);
    crate::fd::raise_nofile_limit(floor as u64 + 256)?;
    let mut held = Vec::new();
    for _ in 0..floor {
        let file = std::fs::File::open("/dev/null")
            .context("open /dev/null to fill the fd table (is `ulimit -n` too low for --fd-floor?)")?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        if fd >= floor {
            break; // every fd below the floor is taken
        }
        held.push(file);
        if fd == floor - 1 {
            break;
        }
    }
    Ok(held)
}

/// The end of a run: the timeline chart, the summary line, and the exit-code rule
/// (Ok when at least one transfer completed; an error, so exit 1, when every one
/// failed). `mode` is `multi`, `select` or `sequential`.
pub fn summarize(
    outcomes: &[Outcome],
    mode: &str,
    most_in_flight: usize,
    narrator: &Narrator,
) -> Result<Summary> {
    let mut sorted: Vec<&Outcome> = outcomes.iter().collect();
    sorted.sort_by_key(|o| o.transfer.id);
    let mut timeline = Timeline::new("timeline");
    let notes: Vec<String> = sorted
        .iter()
        .map(|o| match &o.failure {
            None => format!("{}, {} B", o.status_text(), o.bytes),
            Some(f) => f.name.clone(),
        })
        .collect();
    let width = notes.iter().map(|n| n.len()).max().unwrap_or(0);
    for (o, note) in sorted.iter().zip(notes) {
        timeline.add(
            o.transfer.label.clone(),
            narrator.ms_at(o.start),
            narrator.ms_at(o.end),
            format!("{note:<width$}"),
        );
    }
    narrator.say("");
    narrator.timeline(&timeline);
    let summary = Summary {
        transfers: outcomes.len(),
        completed: outcomes.iter().filter(|o| o.ok()).count(),
        work_ms: timeline.work_ms(),
        span_ms: timeline.span_ms(),
        most_in_flight,
    };
    let speedup = if summary.span_ms > 0.0 { summary.work_ms / summary.span_ms } else { 1.0 };
    let failed = summary.transfers - summary.completed;
    narrator.event_styled(
        "summary",
        json!({
            "mode": mode,
            "transfers": summary.transfers,
            "completed": summary.completed,
            "failed": failed,
            "work_ms": round3(summary.work_ms),
            "span_ms": round3(summary.span_ms),
            "speedup": round3(speedup),
            "most_in_flight": most_in_flight,
        }),
        Style::Bold,
        format!(
            "{} transfer{}, {:.1} s of work, done in {:.1} s ({speedup:.1}x): {} completed, {failed} failed",
            summary.transfers,
            if summary.transfers == 1 { "" } else { "s" },
            summary.work_ms / 1000.0,
            summary.span_ms / 1000.0,
            summary.completed,
        ),
    );
    if mode == "sequential" {
        narrator.explain(
            "one at a time, the run takes the sum of the transfers; run without --sequential to overlap them",
        );
    } else {
        narrator.explain(format!(
            "one thread, up to {most_in_flight} transfer{} in flight; --sequential would take about {:.1} s (the sum)",
            if most_in_flight == 1 { "" } else { "s" },
            summary.work_ms / 1000.0
        ));
    }
    if summary.transfers > 0 && summary.completed == 0 {
        // Name the first failure the way every other error names its errno: curl's
        // symbolic code first, then its words.
        let first = sorted.iter().find_map(|o| o.failure.as_ref().map(|f| (o, f)));
        let cause = first
            .map(|(o, f)| format!("; the first, {}: {} ({})", o.transfer.url, f.name, f.message))
            .unwrap_or_default();
        return Err(Error::msg("transfers", format!("every one of the {} failed{cause}", summary.transfers)));
    }
    Ok(summary)
}

/// The numbers behind the summary line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many transfers ran.
    pub transfers: usize,
    /// How many curl completed (any HTTP status).
    pub completed: usize,
    /// The sum of each transfer's time.
    pub work_ms: f64,
    /// First start to last end.
    pub span_ms: f64,
    /// Most transfers in flight at once.
    pub most_in_flight: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_paths_for_local_urls_and_short_otherwise() {
        let base = "http://127.0.0.1:4000";
        let urls = default_urls(base, 9);
        let plan = plan(&urls, Some(base));
        assert_eq!(plan.len(), 7);
        assert_eq!(plan[0], Transfer { id: 1, url: format!("{base}/delay/600"), label: "/delay/600".into() });
        assert_eq!(plan[5].label, "/status/404");
        assert_eq!(plan[6].label, ":9/refused");
        let long = super::plan(&["https://example.com/a/very/long/path/that/goes/on".into()], None);
        assert_eq!(long[0].label, "https://example.com/a/very/long/...");
        assert_eq!(super::plan(&["".into()], None)[0].label, "\"\"");
    }

    #[test]
    fn curl_codes_have_their_c_names() {
        assert_eq!(curl_code_name(7), "CURLE_COULDNT_CONNECT");
        assert_eq!(curl_code_name(28), "CURLE_OPERATION_TIMEDOUT");
        assert_eq!(curl_code_name(999), "CURLE_999");
    }

    #[test]
    fn file_urls_are_refused_by_curlopt_protocols() {
        let t = &plan(&["file:///etc/hostname".into()], None)[0];
        let easy = easy_handle(t, &Options { timeout: Duration::from_secs(5) }).unwrap();
        let err = easy.perform().unwrap_err();
        assert!(err.is_unsupported_protocol(), "{err}");
        assert_eq!(easy.get_ref().bytes, 0);
    }

    #[test]
    fn abandoning_removes_every_handle_and_reports_each_transfer() {
        // A listener that accepts (in the kernel's backlog) and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", silent.local_addr().unwrap());
        let transfers = plan(&[url.clone(), url.clone(), url], None);
        let narrator = Narrator::with_color(true, false);
        let multi = Multi::new();
        let mut pool = Pool::new(transfers, 2, Options { timeout: Duration::from_secs(30) });
        assert_eq!(pool.fill(&multi, &narrator).unwrap(), 2);
        assert_eq!(multi.perform().unwrap(), 2);
        multi.wait(&mut [], Duration::from_millis(50)).unwrap();
        assert_eq!(pool.drain(&multi, &narrator).unwrap(), 0);
        pool.abandon(&multi, &narrator);
        assert!(pool.is_done());
        assert_eq!(pool.outcomes().len(), 3);
        assert!(pool.outcomes().iter().all(|o| o.failure.as_ref().map(|f| f.code) == Some(42)));
        assert_eq!(multi.perform().unwrap(), 0, "nothing left in the multi handle");
    }

    #[test]
    fn occupying_fds_pushes_new_ones_past_the_floor() {
        let held = occupy_fds_below(300).unwrap();
        let next = std::fs::File::open("/dev/null").unwrap();
        assert!(std::os::fd::AsRawFd::as_raw_fd(&next) >= 300);
        drop(held);
    }
}
