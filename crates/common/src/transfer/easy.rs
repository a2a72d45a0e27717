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
        json!({"version": version.version(), "tls": tls, "vendored": version.vendored(),
               "waits_with": if waits_with_poll() { "poll" } else { "select" }}),
        format!(
            "curl_global_init: libcurl {} ({}, {})",
            version.version(),
            tls.as_deref().map_or("no TLS: http only".to_string(), |t| format!("TLS: {t}")),
            if version.vendored() { "bundled copy" } else { "system library" },
        ),
    );
    if !waits_with_poll() {
        narrator.explain(
            "this libcurl was built without HAVE_POLL: it waits with select() inside curl_multi_wait, \
             curl_easy_perform and its connect checks, not poll() (strace shows pselect6), and fails \
             on any socket numbered 1024 or more",
        );
    }
}

/// True when this libcurl waits with poll(), false when it waits with select() and so
/// cannot use an fd of 1024 (FD_SETSIZE) or more. Probed once, by asking
/// curl_multi_wait to watch a pipe numbered 1100: select() refuses it.
///
/// A system libcurl on Linux uses poll(). curl-sys's bundled copy defines the
/// HAVE_POLL_FINE that curl 8.11 stopped reading, so it uses select() unless built
/// with `-DHAVE_POLL`, which the workspace's `.cargo/config.toml` adds (HOST_CFLAGS)
/// and a build outside the workspace lacks.
pub fn waits_with_poll() -> bool {
    static PROBED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PROBED.get_or_init(|| probe_poll().unwrap_or(!curl::Version::get().vendored()))
}

/// The probe behind [`waits_with_poll`]: None when it could not be made (the fd
/// limit's hard cap is under 1101). The soft limit is put back as it was.
fn probe_poll() -> Option<bool> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    const HIGH: i32 = 1100;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if hard <= HIGH as u64 {
        return None;
    }
    setrlimit(Resource::RLIMIT_NOFILE, soft.max(HIGH as u64 + 1), hard).ok()?;
    let answer = (|| {
        let (reader, _writer) = nix::unistd::pipe().ok()?;
        let high = crate::sys::curl::dup_at_least(&reader, HIGH).ok()?;
        let mut wait = curl::multi::WaitFd::new();
        wait.set_fd(std::os::fd::AsRawFd::as_raw_fd(&high));
        wait.poll_on_read(true);
        let multi = curl::multi::Multi::new();
        Some(multi.wait(&mut [wait], std::time::Duration::ZERO).is_ok())
    })();
    let _ = setrlimit(Resource::RLIMIT_NOFILE, soft, hard);
    answer
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
