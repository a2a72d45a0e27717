//! How a transfer ended: curl's result code, its C name, the HTTP status, the bytes.

use super::{easy::has_tls, Body, Transfer};
use curl::easy::Easy2;
use std::time::{Duration, Instant};

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
        // The whole story (NO_TLS_HELP) was told once, up front, by `warn_if_no_tls`.
        1 if https && !has_tls() => {
            Some("this libcurl has no TLS, so https cannot work (see the warning above)".into())
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_codes_have_their_c_names() {
        assert_eq!(curl_code_name(7), "CURLE_COULDNT_CONNECT");
        assert_eq!(curl_code_name(28), "CURLE_OPERATION_TIMEDOUT");
        assert_eq!(curl_code_name(999), "CURLE_999");
    }
}
