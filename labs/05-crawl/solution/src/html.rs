//! Just enough HTML and URL handling for the fixture web (given to you: the lab is
//! about curl multi, not about parsing).
//!
//! The fixture web writes tags in lower case with double-quoted attribute values, so a
//! plain text search finds every `<a href="...">` and `<img src="...">`. Real pages
//! need a real parser.

/// Every value of attribute `attr` in tags `<tag ...>`, in page order.
/// `attribute_values(html, "img", "src")` gives the images' addresses as written.
pub fn attribute_values(html: &str, tag: &str, attr: &str) -> Vec<String> {
    let open = format!("<{tag} ");
    let needle = format!(" {attr}=\"");
    let mut values = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len() - 1..];
        let Some(end) = after.find('>') else { break };
        let inside = &after[..end];
        if let Some(at) = inside.find(&needle) {
            let value = &inside[at + needle.len()..];
            if let Some(close) = value.find('"') {
                values.push(value[..close].to_string());
            }
        }
        rest = &after[end..];
    }
    values
}

/// The absolute URL a link `href` on page `base` leads to, as a browser would resolve
/// it (RFC 3986, section 5): relative paths, `./` and `../`, `/absolute/paths`,
/// `?queries`, whole `http://` URLs. The `#fragment` is dropped: it names a place in
/// a page, not a page. None for other schemes (`mailto:`, `javascript:`).
///
/// In C, libcurl does this for you: `curl_url_set(u, CURLUPART_URL, base, 0)`, then
/// `curl_url_set(u, CURLUPART_URL, href, 0)` and `curl_url_get(u, CURLUPART_URL, ...)`.
pub fn resolve(base: &str, href: &str) -> Option<String> {
    let href = href.split('#').next().unwrap_or("");
    // A scheme is letters before a ':' that comes before any '/', '?'.
    if let Some(colon) = href.find(':') {
        if !href[..colon].contains(['/', '?']) {
            let scheme = href[..colon].to_ascii_lowercase();
            if scheme != "http" && scheme != "https" {
                return None;
            }
            let (origin, path) = split_origin(href)?;
            return Some(format!("{origin}{}", normalize(path)));
        }
    }
    let (origin, base_path) = split_origin(base)?;
    let base_path = base_path.split('#').next().unwrap_or("");
    if let Some(rest) = href.strip_prefix("//") {
        let scheme = origin.split("://").next().unwrap_or("http");
        return resolve(base, &format!("{scheme}://{rest}"));
    }
    let joined = if href.is_empty() {
        base_path.to_string()
    } else if href.starts_with('/') {
        href.to_string()
    } else if href.starts_with('?') {
        format!("{}{href}", base_path.split('?').next().unwrap_or(""))
    } else {
        let dir = base_path.split('?').next().unwrap_or("");
        let dir = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{href}")
    };
    Some(format!("{origin}{}", normalize(&joined)))
}

/// `http://host:port` and the rest (`/path?query`, at least `/`).
pub fn split_origin(url: &str) -> Option<(&str, &str)> {
    let after_scheme = url.find("://")? + 3;
    let path_at = url[after_scheme..].find(['/', '?']).map_or(url.len(), |i| after_scheme + i);
    let path = &url[path_at..];
    Some((&url[..path_at], if path.is_empty() { "/" } else { path }))
}

/// Removes `.` and `..` segments from the path (not the query): `/a/./b/../c` is `/a/c`.
fn normalize(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.find('?') {
        Some(i) => path_and_query.split_at(i),
        None => (path_and_query, ""),
    };
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
        // `a/.` and `a/..` name a directory: keep the trailing slash.
        if last && (*segment == "." || *segment == "..") {
            out.push("");
        }
    }
    format!("/{}{query}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_a_browser() {
        let base = "http://h:1/web/blog/post2.html";
        assert_eq!(resolve(base, "post1.html").as_deref(), Some("http://h:1/web/blog/post1.html"));
        assert_eq!(resolve(base, "../about.html").as_deref(), Some("http://h:1/web/about.html"));
        assert_eq!(resolve(base, "./pics/a.png").as_deref(), Some("http://h:1/web/blog/pics/a.png"));
        assert_eq!(resolve(base, "/web/blog/").as_deref(), Some("http://h:1/web/blog/"));
        assert_eq!(resolve(base, "x.html#top").as_deref(), Some("http://h:1/web/blog/x.html"));
        assert_eq!(resolve(base, "#top").as_deref(), Some("http://h:1/web/blog/post2.html"));
        assert_eq!(resolve(base, "item.html?id=2").as_deref(), Some("http://h:1/web/blog/item.html?id=2"));
        assert_eq!(resolve(base, "http://h:1/web/./a/../b.html").as_deref(), Some("http://h:1/web/b.html"));
        assert_eq!(resolve(base, "mailto:x@example.com"), None);
        assert_eq!(
            resolve("http://h:1/web/blog/", "post1.html").as_deref(),
            Some("http://h:1/web/blog/post1.html")
        );
        assert_eq!(resolve("http://h:1", "a.html").as_deref(), Some("http://h:1/a.html"));
    }

    #[test]
    fn finds_attributes_in_tags() {
        let html = "<p><a class=\"x\" href=\"a.html\"><img alt=\"p\" src=\"i.png\"></a> <a href=\"b.html\">b</a></p>\
                    <img src=\"j.jpg\" width=\"2\"><area href=\"no.html\">";
        assert_eq!(attribute_values(html, "a", "href"), ["a.html", "b.html"]);
        assert_eq!(attribute_values(html, "img", "src"), ["i.png", "j.jpg"]);
    }
}
