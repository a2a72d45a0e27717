//! libcurl itself: `curl_global_init` and what was linked (TLS or not), and one easy
//! handle per transfer, set up the same way (`curl_easy_init` + `curl_easy_setopt`).

use super::{Options, Transfer};
use crate::narrate::{Narrator, Style};
use curl::easy::{Easy2, Handler, WriteError};
use serde_json::json;
use std::os::raw::c_int;

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
    if let Some(bytes) = options.max_speed {
        easy.max_recv_speed(bytes)?;
    }
    // CURLOPT_NOSIGNAL: without it libcurl may use SIGALRM for DNS timeouts, which is
    // unsafe in a program with threads (the local server runs on threads).
    easy.signal(false)?;
    easy.useragent("aio-lab")?;
    Ok(easy)
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
            format!("warning: {count} https URL{} given, but {NO_TLS_HELP}", super::plural(count)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::plan;
    use std::time::Duration;

    #[test]
    fn file_urls_are_refused_by_curlopt_protocols() {
        let t = &plan(&["file:///etc/hostname".into()], None)[0];
        let easy = easy_handle(t, &Options { timeout: Duration::from_secs(5), max_speed: None }).unwrap();
        let err = easy.perform().unwrap_err();
        assert!(err.is_unsupported_protocol(), "{err}");
        assert_eq!(easy.get_ref().bytes, 0);
    }
}
