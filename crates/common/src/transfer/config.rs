//! The command line both curl demos share, and the settings it gives each easy handle.

use std::time::Duration;

/// What the user asked for: the command line both curl demos share, flattened into
/// each one's clap parser (`#[command(flatten)] config: Config`).
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct Config {
    /// URLs to fetch (http:// or https:// only). Default: the local server's URLs
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,

    /// Keep at most N transfers in flight; start the next as soon as one finishes
    #[arg(long, value_name = "N", value_parser = parse_parallel, conflicts_with = "sequential", allow_negative_numbers = true)]
    pub parallel: Option<usize>,

    /// Run the transfers one at a time with curl_easy_perform (the blocking baseline)
    #[arg(long)]
    pub sequential: bool,

    /// Give up on a transfer after SECS seconds (CURLOPT_TIMEOUT)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs, allow_negative_numbers = true)]
    pub timeout: Duration,

    /// Let each transfer receive at most BYTES per second (CURLOPT_MAX_RECV_SPEED_LARGE).
    /// Between bursts curl stops watching the socket and only keeps a timer, so it has
    /// no fd to wait on: see what each wait does then
    #[arg(long, value_name = "BYTES", value_parser = parse_speed, allow_negative_numbers = true)]
    pub max_speed: Option<u64>,

    /// Fill the fd table below N first, so curl's sockets get numbers >= N (try 1100
    /// in both curl demos: a libcurl that waits with poll() does not mind, select does)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(3..65536), allow_negative_numbers = true)]
    pub fd_floor: Option<i32>,
}

/// `--parallel`: a whole number of at least 1.
fn parse_parallel(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

/// `--max-speed`: bytes per second, at least 1.
fn parse_speed(s: &str) -> std::result::Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of bytes per second, at least 1")),
    }
}

/// `--timeout`: a positive number of seconds, at most an hour (`0.5`, `10`).
fn parse_secs(s: &str) -> std::result::Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("{s:?} is not a number of seconds more than 0 and at most 3600 (e.g. 0.5 or 10)")),
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            urls: Vec::new(),
            parallel: None,
            sequential: false,
            timeout: Duration::from_secs(5),
            max_speed: None,
            fd_floor: None,
        }
    }
}

impl Config {
    /// The easy-handle settings this config asks for.
    pub fn options(&self) -> Options {
        Options { timeout: self.timeout, max_speed: self.max_speed }
    }

    /// How many transfers may be in flight at once, out of `total`.
    pub fn limit(&self, total: usize) -> usize {
        self.parallel.unwrap_or(total).max(1)
    }
}

/// Settings every easy handle gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// CURLOPT_TIMEOUT: the most one transfer may take, connect included.
    pub timeout: Duration,
    /// CURLOPT_MAX_RECV_SPEED_LARGE, bytes per second; None: as fast as it comes.
    pub max_speed: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Config::default().options()
    }
}
