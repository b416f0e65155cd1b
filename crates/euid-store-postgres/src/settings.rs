//! Connection settings ([`PgSettings`], [`TlsMode`]) and [`redact_url`].

use std::time::Duration;

use euid_store::StoreError;

/// Whether the connection to PostgreSQL uses TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsMode {
    /// Plain TCP (a database on the same host or a private network).
    Disable,
    /// TLS if the server offers it; this build has no TLS connector, so it connects in plain
    /// TCP (libpq's `prefer` does the same when TLS is not compiled in).
    #[default]
    Prefer,
    /// TLS or nothing: refused by this build with [`StoreError::Settings`] (no TLS connector
    /// is linked), rather than silently connecting in the clear.
    Require,
}

impl TlsMode {
    /// The `sslmode` word of this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
        }
    }
}

impl std::str::FromStr for TlsMode {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "disable" => Ok(Self::Disable),
            "prefer" | "allow" => Ok(Self::Prefer),
            "require" | "verify-ca" | "verify-full" => Ok(Self::Require),
            other => Err(StoreError::Settings {
                message: format!(
                    "unknown TLS mode {other:?} (expected disable, prefer or require)"
                ),
            }),
        }
    }
}

/// How a [`PostgresStore`](crate::PostgresStore) connects. `Default` gives the documented
/// values (see the crate README).
///
/// ```
/// let s = euid_store_postgres::PgSettings::default();
/// assert_eq!(s.pool_size, 8);
/// assert_eq!(s.connect_timeout, std::time::Duration::from_secs(5));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgSettings {
    /// Connections for reads and writes (each on its own thread). Default 8.
    pub pool_size: usize,
    /// How long a connection attempt may take. Default 5 s.
    pub connect_timeout: Duration,
    /// How long the server lets one statement run (`statement_timeout`), and, with the
    /// connect timeout, how long a caller waits for an answer. Default 10 s.
    pub statement_timeout: Duration,
    /// TLS mode; a `sslmode` in the URL must agree with it unless this is the default.
    /// Default [`TlsMode::Prefer`].
    pub tls: TlsMode,
    /// How often a replica's listener polls for opt-outs and changes it was not notified of.
    /// Default 500 ms.
    pub poll_interval: Duration,
    /// The longest wait between two reconnection attempts of the listener. Default 5 s.
    pub max_backoff: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            tls: TlsMode::Prefer,
            poll_interval: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// `url` with its password replaced by `***` (and nothing else changed), for every log
/// line, error and `Debug` output. A string that is not a URL with a password is returned as
/// it is, except that anything between `://` and the last `@` before the host that holds a
/// `:` is treated as credentials.
///
/// ```
/// use euid_store_postgres::redact_url;
/// assert_eq!(redact_url("postgres://euid:s3cret@db:5432/euid"), "postgres://euid:***@db:5432/euid");
/// assert_eq!(redact_url("postgres://euid@db/euid"), "postgres://euid@db/euid");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_keyword_password(url);
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    // The authority ends at the first '/', '?' or '#'; the userinfo at its last '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..rest_start]);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    out.push_str(&redact_query_password(&rest[authority_end..]));
    out
}

/// A `password=` query parameter is a password too.
fn redact_query_password(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_owned();
    };
    let (path, query) = tail.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_owned(),
        })
        .collect();
    format!("{path}{}", parts.join("&"))
}

/// The `key=value` form (`host=db password=x`): the password's value is replaced.
fn redact_keyword_password(conninfo: &str) -> String {
    conninfo
        .split(' ')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_replaced_wherever_they_are() {
        for (url, want) in [
            (
                "postgres://u:p%40ss@h:1/d?sslmode=disable",
                "postgres://u:***@h:1/d?sslmode=disable",
            ),
            ("postgresql://u:pw@h/d", "postgresql://u:***@h/d"),
            (
                "postgres://h/d?password=pw&x=1",
                "postgres://h/d?password=***&x=1",
            ),
            ("host=h password=pw user=u", "host=h password=*** user=u"),
            ("postgres://u@h/d", "postgres://u@h/d"),
            ("postgres://h", "postgres://h"),
        ] {
            assert_eq!(redact_url(url), want);
        }
    }

    #[test]
    fn tls_modes_parse_and_unknown_ones_are_refused() {
        assert_eq!("disable".parse::<TlsMode>().unwrap(), TlsMode::Disable);
        assert_eq!("verify-full".parse::<TlsMode>().unwrap(), TlsMode::Require);
        assert!(matches!(
            "sometimes".parse::<TlsMode>(),
            Err(StoreError::Settings { .. })
        ));
    }
}
