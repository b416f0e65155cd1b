//! Connection settings ([`PgSettings`], [`TlsMode`], [`RootCertificates`]), [`redact_url`],
//! and the URL parameters the store reads itself (`sslmode`, `sslrootcert`).

use std::time::Duration;

use euid_store::StoreError;

/// Whether the connection to PostgreSQL uses TLS, and what it checks of the server's
/// certificate: libpq's `sslmode` words and rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsMode {
    /// Plain TCP (a database on the same host or a private network).
    Disable,
    /// TLS if the server offers it, plain TCP if it does not; the certificate is checked
    /// only when root certificates are named (`sslrootcert`), as with libpq.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is checked only when root certificates are
    /// named (`sslrootcert`), as with libpq. Protects against eavesdropping, not against a
    /// server that impersonates the database.
    Require,
    /// TLS, and the certificate chain must lead to a trusted root; the host name is not
    /// compared.
    VerifyCa,
    /// TLS, a chain to a trusted root, and a certificate for the host name the URL names.
    VerifyFull,
}

impl TlsMode {
    /// The `sslmode` word of this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl std::str::FromStr for TlsMode {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "disable" => Ok(Self::Disable),
            // libpq's `allow` tries plain first; TLS first is no less safe.
            "prefer" | "allow" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            other => Err(StoreError::Settings {
                message: format!(
                    "unknown TLS mode {other:?} (expected disable, prefer, require, verify-ca or \
                     verify-full)"
                ),
            }),
        }
    }
}

/// Which certificates a TLS connection trusts (`sslrootcert`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootCertificates {
    /// The Mozilla root program's certificates (`webpki-root-certs`), for a database whose
    /// certificate a public CA signed; libpq's `sslrootcert=system`.
    #[default]
    Mozilla,
    /// The PEM certificates in this file only (a private CA, a managed database's CA bundle).
    File(std::path::PathBuf),
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
    /// How long an opt-out write (a logout) waits for PostgreSQL to commit before it answers
    /// [`OptOutError::Unavailable`](euid_store::optout::OptOutError::Unavailable); keep it
    /// below the operator's request timeout, so a hung database gets a clear 503 rather than
    /// a 408. A write whose time ran out before its `COMMIT` was sent is rolled back. Default
    /// 4 s (at most the connect plus statement timeout plus 1 s).
    pub write_timeout: Duration,
    /// How long loading the whole snapshot (keys, the full salt set, clients, keypairs) may
    /// take, per statement and in all; it is never on a request's path. Default 60 s.
    pub snapshot_timeout: Duration,
    /// TLS mode; a `sslmode` in the URL must agree with it unless this is the default.
    /// Default [`TlsMode::Prefer`].
    pub tls: TlsMode,
    /// The certificates TLS trusts; an `sslrootcert` in the URL (a path, or `system`) wins.
    /// Default [`RootCertificates::Mozilla`].
    pub root_certificates: RootCertificates,
    /// How often a replica's listener polls for opt-outs and changes it was not notified of.
    /// A listener that has heard nothing from the database for this plus the connect timeout
    /// counts as down (the health check says so). Default 500 ms.
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
            write_timeout: Duration::from_secs(4),
            snapshot_timeout: Duration::from_secs(60),
            tls: TlsMode::Prefer,
            root_certificates: RootCertificates::Mozilla,
            poll_interval: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// The TLS parameters the store reads itself (the driver knows neither `verify-*` nor
/// `sslrootcert`), and the URL without them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsParams {
    pub(crate) sslmode: Option<String>,
    pub(crate) sslrootcert: Option<String>,
}

/// Splits `sslmode` and `sslrootcert` off a URL's query (values percent-decoded) or off a
/// `key=value` string.
pub(crate) fn take_tls_params(url: &str) -> (String, TlsParams) {
    let mut params = TlsParams::default();
    let mut keep = |key: &str, value: String| -> bool {
        match key {
            "sslmode" => params.sslmode = Some(value),
            "sslrootcert" => params.sslrootcert = Some(value),
            _ => return true,
        }
        false
    };
    let rest = if url.contains("://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|p| match p.split_once('=') {
                        Some((k, v)) => keep(k, percent_decode(v)),
                        None => true,
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_owned(),
        }
    } else {
        url.split(' ')
            .filter(|p| match p.split_once('=') {
                Some((k, v)) => keep(k, v.to_owned()),
                None => true,
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, params)
}

/// `%XX` escapes decoded (a malformed one is kept as it is).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    fn tls_parameters_are_split_off_and_the_rest_kept() {
        let (rest, p) = take_tls_params(
            "postgres://u:pw@h:1/d?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Fetc%2Fca%20x.pem",
        );
        assert_eq!(rest, "postgres://u:pw@h:1/d?connect_timeout=3");
        assert_eq!(p.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(p.sslrootcert.as_deref(), Some("/etc/ca x.pem"));
        let (rest, p) = take_tls_params("postgres://h/d?sslmode=require");
        assert_eq!((rest.as_str(), p.sslrootcert), ("postgres://h/d", None));
        let (rest, p) = take_tls_params("host=h sslrootcert=/ca.pem dbname=d");
        assert_eq!(rest, "host=h dbname=d");
        assert_eq!(p.sslrootcert.as_deref(), Some("/ca.pem"));
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn tls_modes_parse_and_unknown_ones_are_refused() {
        assert_eq!("disable".parse::<TlsMode>().unwrap(), TlsMode::Disable);
        assert_eq!(
            "verify-full".parse::<TlsMode>().unwrap(),
            TlsMode::VerifyFull
        );
        assert_eq!("verify-ca".parse::<TlsMode>().unwrap(), TlsMode::VerifyCa);
        assert_eq!("require".parse::<TlsMode>().unwrap(), TlsMode::Require);
        assert!(matches!(
            "sometimes".parse::<TlsMode>(),
            Err(StoreError::Settings { .. })
        ));
    }
}
