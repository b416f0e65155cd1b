//! HTTP transports: a timeout on every attempt, and retries with exponential backoff and full
//! jitter on 429, 5xx and transport errors for idempotent calls. [`Transport`] is blocking
//! (feature `blocking`, ureq); `AsyncTransport` runs on tokio (feature `tokio`, hyper). With
//! feature `tls` (on by default) both speak `https://` too (rustls on ring; the Mozilla roots
//! plus [`TransportConfig::extra_root_certificates`]).

// Without a transport feature only the shared types are used.
#![cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::ClientError;

#[cfg(feature = "blocking")]
mod blocking;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "tokio")]
pub use self::tokio::AsyncTransport;
#[cfg(feature = "blocking")]
pub use blocking::Transport;

/// The largest response body accepted.
pub(crate) const MAX_BODY: u64 = 16 * 1024 * 1024;

/// Timeouts and retries of a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// The whole exchange (connect, send, receive) of one attempt.
    pub timeout: Duration,
    /// How many times an idempotent call is retried after a 429, a 5xx or a transport error.
    pub max_retries: u32,
    /// The backoff ceiling before the first retry; it doubles each retry.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// Roots trusted for `https://` besides the Mozilla roots: a private CA, or a test's
    /// self-signed certificate. Empty by default; see [`Self::with_root_certificate_pem`].
    /// Unused without the `tls` feature.
    pub extra_root_certificates: Vec<RootCertificate>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            extra_root_certificates: Vec::new(),
        }
    }
}

impl TransportConfig {
    /// Also trusts every certificate of `pem` (one or more `BEGIN CERTIFICATE` blocks) as a
    /// root for `https://`, beside the Mozilla roots.
    ///
    /// ```
    /// use euid_client::transport::TransportConfig;
    ///
    /// # let pem = rcgen::generate_simple_self_signed(vec!["ca.internal".to_owned()]).unwrap();
    /// # let pem = pem.cert.pem().into_bytes();
    /// // pem: a CA certificate, PEM.
    /// let config = TransportConfig::default().with_root_certificate_pem(&pem)?;
    /// assert_eq!(config.extra_root_certificates.len(), 1);
    /// assert!(TransportConfig::default().with_root_certificate_pem(b"no PEM here").is_err());
    /// # Ok::<(), euid_client::transport::TransportError>(())
    /// ```
    pub fn with_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, TransportError> {
        self.extra_root_certificates
            .extend(RootCertificate::from_pem(pem)?);
        Ok(self)
    }
}

/// A root certificate (DER) to trust for `https://`. `Debug` shows its size only.
#[derive(Clone, PartialEq, Eq)]
pub struct RootCertificate {
    der: Vec<u8>,
}

impl std::fmt::Debug for RootCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootCertificate({} bytes)", self.der.len())
    }
}

impl RootCertificate {
    /// A certificate from its DER bytes. Whether they are a usable certificate is checked
    /// when a transport is built with it ([`TransportError::RootCertificate`]).
    pub fn from_der(der: impl Into<Vec<u8>>) -> Self {
        Self { der: der.into() }
    }

    /// Every `CERTIFICATE` block of a PEM text (other blocks, such as keys, are skipped);
    /// at least one is required.
    pub fn from_pem(pem: &[u8]) -> Result<Vec<Self>, TransportError> {
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
        const END: &str = "-----END CERTIFICATE-----";
        let text = std::str::from_utf8(pem)
            .map_err(|_| TransportError::RootCertificate("the PEM is not text"))?;
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(BEGIN) {
            let after = &rest[start + BEGIN.len()..];
            let end = after.find(END).ok_or(TransportError::RootCertificate(
                "a CERTIFICATE block has no END line",
            ))?;
            let base64: String = after[..end]
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let der = STANDARD.decode(base64).map_err(|_| {
                TransportError::RootCertificate("a CERTIFICATE block is not base64")
            })?;
            if der.is_empty() {
                return Err(TransportError::RootCertificate(
                    "a CERTIFICATE block is empty",
                ));
            }
            out.push(Self { der });
            rest = &after[end + END.len()..];
        }
        if out.is_empty() {
            return Err(TransportError::RootCertificate(
                "no BEGIN CERTIFICATE block in the PEM",
            ));
        }
        Ok(out)
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// Why an HTTP exchange failed. Never contains the API key or a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The base URL is not `http://host[:port][/prefix]` or `https://…` (`https://` only with
    /// the `tls` feature).
    #[error("unsupported base URL: {0}")]
    Url(&'static str),
    /// An extra root certificate is not a PEM certificate, or not one rustls can use.
    #[error("invalid root certificate: {0}")]
    RootCertificate(&'static str),
    /// The server's TLS certificate was refused. Not retried.
    #[error("POST {url} failed: the server's certificate was refused: {problem}")]
    Certificate {
        /// The URL.
        url: String,
        /// Why it was refused.
        problem: CertificateProblem,
    },
    /// The TLS handshake failed for another reason (no common protocol version or cipher
    /// suite, an alert from the server, ...). Not retried.
    #[error("POST {url} failed: TLS handshake: {reason}")]
    Tls {
        /// The URL.
        url: String,
        /// What failed, in rustls' words.
        reason: String,
    },
    /// An attempt timed out.
    #[error("POST {url} timed out after {timeout_ms} ms")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout, ms.
        timeout_ms: u128,
    },
    /// Connecting, sending or receiving failed.
    #[error("POST {url} failed: {reason}")]
    Io {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
}

/// Why a server's certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// It does not chain to a trusted root (self-signed, or a private CA not given in
    /// [`TransportConfig::extra_root_certificates`]).
    #[error("not issued by a trusted root")]
    UnknownIssuer,
    /// Its signature does not verify under the trusted root it names (a root of the same
    /// name but another key).
    #[error("its signature does not verify")]
    BadSignature,
    /// It is not valid for the host name (or IP address) of the base URL.
    #[error("not valid for the host name")]
    NotValidForName,
    /// It has expired.
    #[error("expired")]
    Expired,
    /// It is not valid yet.
    #[error("not valid yet")]
    NotValidYet,
    /// It was revoked.
    #[error("revoked")]
    Revoked,
    /// Another problem, in rustls' words.
    #[error("{0}")]
    Other(String),
}

/// Whether a call may be sent again when no answer (or a 429/5xx) came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Reads (key fetches, identity map, opt-out status): retried.
    Idempotent,
    /// Token generate and refresh: each attempt mints new tokens, and a refresh whose answer
    /// was lost may already have superseded the identity, so the caller decides.
    Once,
}

/// An HTTP answer, whatever its status.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl TransportConfig {
    /// How many attempts a call gets.
    pub(crate) fn attempts(&self, retry: Retry) -> u32 {
        match retry {
            Retry::Idempotent => self.max_retries.saturating_add(1),
            Retry::Once => 1,
        }
    }

    /// Full jitter: uniform in `[0, min(max, initial * 2^retry)]`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        // Fresh SipHash keys per call: good enough randomness for jitter, no extra dependency.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Duration::from_nanos(random % (nanos + 1))
    }
}

/// Whether an answer or failure may be retried: 429, 5xx and transport errors, but not a
/// refused certificate or a failed TLS handshake (the next attempt would fail the same way).
pub(crate) fn is_retryable(result: &Result<HttpResponse, TransportError>) -> bool {
    match result {
        Ok(r) => r.status == 429 || (500..600).contains(&r.status),
        Err(TransportError::Certificate { .. } | TransportError::Tls { .. }) => false,
        Err(_) => true,
    }
}

/// `http://` or `https://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// A checked base URL, split for the transports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    /// `scheme://authority[/prefix]`, trailing slashes dropped: paths are appended to it.
    pub(crate) base: String,
    pub(crate) scheme: Scheme,
    /// `host[:port]` as written, for the `Host` header.
    pub(crate) authority: String,
    /// The host without IPv6 brackets, for the TLS server name.
    pub(crate) host: String,
    /// `host:port`, the port defaulting to 80 or 443.
    pub(crate) connect_to: String,
    /// The path before each endpoint's (`/euid` in `http://proxy/euid`), or empty.
    pub(crate) path_prefix: String,
}

impl BaseUrl {
    /// Checks a base URL (`http[s]://host[:port][/prefix]`, trailing slashes dropped).
    pub(crate) fn parse(base_url: &str) -> Result<Self, ClientError> {
        let base = base_url.trim().trim_end_matches('/');
        let (scheme, rest) = if let Some(rest) = base.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = base.strip_prefix("https://") {
            if cfg!(not(feature = "tls")) {
                return Err(TransportError::Url(
                    "https needs euid-client's `tls` feature; this build speaks plain http:// only",
                )
                .into());
            }
            (Scheme::Https, rest)
        } else {
            return Err(TransportError::Url(
                "the URL must start with http:// or https:// and name a host",
            )
            .into());
        };
        let (authority, path_prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains(['@', ' ', '?', '#']) {
            return Err(TransportError::Url("the URL must name a host").into());
        }
        // A bracketed IPv6 host has colons of its own; a port follows the closing bracket.
        let (host, port) = match authority.rfind(']') {
            Some(close) => (
                &authority[..=close],
                authority[close + 1..].strip_prefix(':'),
            ),
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .map_err(|_| TransportError::Url("the URL's port is not a number"))?,
            None if scheme == Scheme::Https => 443,
            None => 80,
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.is_empty() {
            return Err(TransportError::Url("the URL must name a host").into());
        }
        Ok(Self {
            base: base.to_owned(),
            scheme,
            authority: authority.to_owned(),
            host: bare.to_owned(),
            connect_to: format!("{host}:{port}"),
            path_prefix: path_prefix.to_owned(),
        })
    }
}

/// Checks an API key for use in an `Authorization` header.
pub(crate) fn check_api_key(api_key: &str) -> Result<(), ClientError> {
    if api_key.is_empty() || api_key.chars().any(|c| c.is_control()) {
        return Err(ClientError::ApiKey);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_urls_and_keys() {
        assert!(BaseUrl::parse("ftp://x").is_err());
        assert!(BaseUrl::parse("http://").is_err());
        assert!(BaseUrl::parse("http://user@host").is_err());
        assert!(BaseUrl::parse("http://host:http").is_err());
        assert!(BaseUrl::parse("http://[]:80").is_err());
        assert!(matches!(check_api_key(""), Err(ClientError::ApiKey)));
        assert!(matches!(check_api_key("a\nb"), Err(ClientError::ApiKey)));
        assert!(check_api_key("k").is_ok());
        assert_eq!(BaseUrl::parse(" http://x:1// ").unwrap().base, "http://x:1");
        let https = BaseUrl::parse("https://prod.euid.eu");
        if cfg!(feature = "tls") {
            let https = https.unwrap();
            assert_eq!(https.scheme, Scheme::Https);
            assert_eq!(https.connect_to, "prod.euid.eu:443");
        } else {
            assert!(matches!(
                https,
                Err(ClientError::Transport(TransportError::Url(_)))
            ));
        }
    }

    #[test]
    fn splits_the_base_url() {
        let split = |url: &str| {
            let u = BaseUrl::parse(url).unwrap();
            (u.authority, u.host, u.connect_to, u.path_prefix)
        };
        let own = |a: &str, b: &str, c: &str, d: &str| {
            (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned())
        };
        assert_eq!(
            split("http://127.0.0.1:8080/"),
            own("127.0.0.1:8080", "127.0.0.1", "127.0.0.1:8080", "")
        );
        assert_eq!(
            split("http://example.org/euid"),
            own("example.org", "example.org", "example.org:80", "/euid")
        );
        assert_eq!(split("http://[::1]"), own("[::1]", "::1", "[::1]:80", ""));
        assert_eq!(
            split("http://[::1]:9/a/b"),
            own("[::1]:9", "::1", "[::1]:9", "/a/b")
        );
    }

    #[test]
    fn reads_pem_certificates() {
        let pem = "junk\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n\
                   -----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\r\nBQY=\r\n-----END CERTIFICATE-----\r\n";
        let certs = RootCertificate::from_pem(pem.as_bytes()).unwrap();
        let ders: Vec<&[u8]> = certs.iter().map(RootCertificate::der).collect();
        assert_eq!(ders, [&[1u8, 2, 3, 4][..], &[5, 6][..]]);
        assert_eq!(format!("{:?}", certs[0]), "RootCertificate(4 bytes)");
        for bad in [
            &b"no PEM"[..],
            b"-----BEGIN CERTIFICATE-----\nAQID",
            b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----",
            b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(
                    RootCertificate::from_pem(bad),
                    Err(TransportError::RootCertificate(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let c = TransportConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            ..TransportConfig::default()
        };
        let samples: Vec<Duration> = (0..50).map(|_| c.backoff(5)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(300)));
        assert!(samples.iter().any(|d| *d != samples[0]), "no jitter");
        assert!((0..50).all(|_| c.backoff(0) <= Duration::from_millis(100)));
        assert_eq!(c.attempts(Retry::Idempotent), 4);
        assert_eq!(c.attempts(Retry::Once), 1);
    }
}
