use std::net::{Ipv4Addr, Ipv6Addr};

/// The host part of a parsed `Origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// A DNS name, lower-cased.
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// Parses an `Origin` header value as RFC 6454 serializes it: `scheme "://" host [":" port]`
/// with an `http` or `https` scheme, and nothing else. Returns the host, or `None` for `null`,
/// userinfo, a path (even a lone `/`), a query, a fragment, percent-escapes, whitespace, an
/// empty or malformed host, or a port that is not 0–65535. A browser never sends any of
/// those, so each one means the value was made by hand.
fn parse_origin(origin: &str) -> Option<Host> {
    // Visible ASCII only: a browser sends the ASCII (punycode) serialization.
    if !origin.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let (scheme, rest) = origin.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    if rest.contains(['/', '?', '#', '@', '\\', '%']) {
        return None;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (inside, after) = v6.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (Host::V6(inside.parse().ok()?), port)
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        (parse_host(host)?, port)
    };
    if let Some(port) = port {
        // Validated but not compared: a site's domain names carry no port (as upstream).
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        port.parse::<u16>().ok()?;
    }
    Some(host)
}

/// A DNS name (RFC 1123 labels, `_` allowed, no trailing dot) or a dotted-quad IPv4 address.
fn parse_host(host: &str) -> Option<Host> {
    if host.is_empty() || host.len() > 253 {
        return None;
    }
    let host = host.to_ascii_lowercase();
    let last = host.rsplit('.').next()?;
    // A name whose last label is numeric is an IPv4 address to a browser (WHATWG URL): only
    // the canonical dotted quad is accepted, never `127.1`, `0x7f.1` or leading zeros.
    if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
        return host.parse().ok().map(Host::V4);
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    host.split('.').all(label_ok).then_some(Host::Name(host))
}

/// Whether an `Origin` header value is one of `domain_names` or a subdomain of one, ignoring
/// scheme, port and case.
///
/// The value must be a well-formed `http`/`https` origin (see the crate README); anything
/// else, `null` included, is refused. IP addresses match only the same address, never as a
/// "subdomain" of a shorter entry.
pub fn origin_allowed(origin: &str, domain_names: &[String]) -> bool {
    let Some(host) = parse_origin(origin) else {
        return false;
    };
    domain_names.iter().any(|domain| {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        match &host {
            Host::Name(name) => {
                !domain.is_empty()
                    && (*name == domain
                        || name
                            .strip_suffix(domain.as_str())
                            .is_some_and(|sub| sub.ends_with('.')))
            }
            Host::V4(ip) => domain.parse::<Ipv4Addr>().is_ok_and(|d| d == *ip),
            Host::V6(ip) => {
                let bare = domain
                    .strip_prefix('[')
                    .and_then(|d| d.strip_suffix(']'))
                    .unwrap_or(&domain);
                bare.parse::<Ipv6Addr>().is_ok_and(|d| d == *ip)
            }
        }
    })
}

/// Whether `app_name` is one of `app_names`, ignoring case.
pub fn app_name_allowed(app_name: &str, app_names: &[String]) -> bool {
    app_names.iter().any(|a| a.eq_ignore_ascii_case(app_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn hosts_ports_and_subdomains() {
        let d = domains(&["localhost", "127.0.0.1", "Example.com"]);
        assert!(origin_allowed("http://localhost:8080", &d));
        assert!(origin_allowed("http://127.0.0.1:3000", &d));
        assert!(origin_allowed("https://www.EXAMPLE.com", &d));
        assert!(origin_allowed("https://example.com", &d));
        assert!(origin_allowed("HTTPS://example.com:443", &d));
        assert!(origin_allowed("https://a.b-c.example.com:65535", &d));
        assert!(!origin_allowed("https://notexample.com", &d));
        assert!(!origin_allowed("https://example.com.evil.net", &d));
        assert!(!origin_allowed("http://127.0.0.2:3000", &d));
        assert!(!origin_allowed("null", &d));
        assert!(!origin_allowed("", &d));
        assert!(origin_allowed("http://[::1]:80", &domains(&["::1"])));
        assert!(origin_allowed("http://[0:0::1]", &domains(&["[::1]"])));
        assert!(!origin_allowed("http://[::2]", &domains(&["::1"])));
    }

    #[test]
    fn userinfo_paths_and_other_oddities_are_refused() {
        let d = domains(&["localhost", "127.0.0.1", "example.com", "::1"]);
        for origin in [
            // Userinfo: the host a naive split finds is not the host the URL names.
            "https://example.com@evil.net",
            "https://user:pass@example.com",
            "https://evil.net\\@example.com",
            "https://example.com:@evil.net",
            // Paths, queries, fragments, even when the host is right.
            "https://example.com/",
            "https://example.com/path",
            "https://evil.net/.example.com",
            "https://example.com?x=1",
            "https://evil.net?.example.com",
            "https://example.com#frag",
            "https://evil.net#.example.com",
            // Schemes other than http(s), and missing ones.
            "file://example.com",
            "ftp://example.com",
            "chrome-extension://example.com",
            "javascript://example.com",
            "//example.com",
            "example.com",
            "https:/example.com",
            // Empty or malformed hosts and ports.
            "https://",
            "https://:443",
            "https://.example.com",
            "https://example.com.",
            "https://www..example.com",
            "https://-www.example.com",
            "https://exa%6dple.com",
            "https://exa mple.com",
            " https://example.com",
            "https://example.com\t",
            "https://example.com:",
            "https://example.com:99999",
            "https://example.com:+80",
            "https://example.com:80:80",
            "https://example.com:http",
            // IPv4 spellings a browser would have normalized.
            "http://127.1",
            "http://0x7f.0.0.1",
            "http://127.0.0.01",
            "http://2130706433",
            "http://1.2.3.4.5",
            // IPv6 oddities.
            "http://[::1",
            "http://[::1]x",
            "http://[::1]:",
            "http://[fe80::1%25eth0]",
            "http://[example.com]",
        ] {
            assert!(!origin_allowed(origin, &d), "{origin:?} was allowed");
        }
    }

    #[test]
    fn ip_entries_match_only_the_same_address() {
        // Today's suffix rule made "0.0.1" cover every address ending in .0.0.1.
        assert!(!origin_allowed("http://127.0.0.1", &domains(&["0.0.1"])));
        assert!(!origin_allowed("http://127.0.0.1", &domains(&["0.1"])));
        assert!(origin_allowed("http://10.0.0.1", &domains(&["10.0.0.1"])));
    }

    #[test]
    fn app_names_ignore_case() {
        let a = domains(&["com.example.App"]);
        assert!(app_name_allowed("COM.EXAMPLE.APP", &a));
        assert!(!app_name_allowed("com.example", &a));
    }
}
