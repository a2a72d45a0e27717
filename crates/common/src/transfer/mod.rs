//! What the two curl demos share (notes: "Using cURL Asynchronously"), one concern a
//! file:
//!
//! * [`config`]: the command line (`--parallel`, `--sequential`, `--timeout`, ...) and
//!   the settings it gives each easy handle;
//! * [`plan`]: the URLs to fetch, numbered and labelled;
//! * [`easy`]: `curl_global_init`, and one easy handle per transfer set up the same way;
//! * [`pool`]: which transfers wait their turn, which are in flight, what finished;
//! * [`outcome`]: how a transfer ended (CURLcode, its C name, HTTP status, bytes);
//! * [`report`]: the one-line narration of a transfer starting and ending;
//! * [`sequential`]: the blocking baseline, one curl_easy_perform after another;
//! * [`fds`]: `--fd-floor`, and the check that every socket was closed again;
//! * [`summary`]: the closing timeline, the summary line and the exit-code rule;
//! * [`run`]: one whole run, whichever way the demo waits (the demos' `run` calls it).
//!
//! The demos differ only in how they *wait*: curl-multi asks libcurl to wait
//! (`curl_multi_wait`), curl-select gets libcurl's fds and waits itself
//! (`curl_multi_fdset` + `curl_multi_timeout` + `select`). Everything on either side of
//! that wait lives here, so a diff of the two demos shows the wait and little else.

pub mod config;
pub mod easy;
pub mod fds;
pub mod outcome;
pub mod plan;
pub mod pool;
pub mod report;
pub mod run;
pub mod sequential;
pub mod summary;

pub use config::{Config, Options};
pub use easy::{easy_handle, global_init, has_tls, warn_if_no_tls, Body, NO_TLS_HELP};
pub use fds::{occupy_fds_below, report_open_fds};
pub use outcome::{curl_code_name, Failure, Outcome};
pub use plan::{default_urls, plan, Transfer, DEFAULT_DELAYS_MS};
pub use pool::Pool;
pub use report::{
    plural, report_cleanup, report_done, report_multi_init, report_perform, report_started, round3,
};
pub use run::{run, Demo, Local};
pub use sequential::run_sequential;
pub use summary::{summarize, Summary};

/// The notes section both curl demos follow.
pub const NOTES: &str = "Using cURL Asynchronously";
