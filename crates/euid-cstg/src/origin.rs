/// The host of an `Origin` header value (`scheme://host[:port]`), lower-cased, or `None`
/// for `null` and anything that is not an origin.
fn origin_host(origin: &str) -> Option<String> {
    let (_, rest) = origin.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if host.is_empty() {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// Whether an `Origin` header value is one of `domain_names` or a subdomain of one,
/// ignoring scheme, port and case.
pub fn origin_allowed(origin: &str, domain_names: &[String]) -> bool {
    let Some(host) = origin_host(origin) else {
        return false;
    };
    domain_names.iter().any(|domain| {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        !domain.is_empty()
            && (host == domain
                || host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|sub| sub.ends_with('.')))
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
        assert!(!origin_allowed("https://notexample.com", &d));
        assert!(!origin_allowed("https://example.com.evil.net", &d));
        assert!(!origin_allowed("http://127.0.0.2:3000", &d));
        assert!(!origin_allowed("null", &d));
        assert!(!origin_allowed("", &d));
        assert!(origin_allowed("http://[::1]:80", &domains(&["::1"])));
    }

    #[test]
    fn app_names_ignore_case() {
        let a = domains(&["com.example.App"]);
        assert!(app_name_allowed("COM.EXAMPLE.APP", &a));
        assert!(!app_name_allowed("com.example", &a));
    }
}
