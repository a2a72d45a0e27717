//! The plan: which URLs to fetch, numbered, each with a short label for the lines and
//! the timeline.

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
}
