//! HTTP transports: a timeout on every attempt, and retries with exponential backoff and full
//! jitter on 429, 5xx and transport errors for idempotent calls. [`Transport`] is blocking
//! (feature `blocking`, ureq); `AsyncTransport` runs on tokio (feature `tokio`, hyper).

// Without a transport feature only the shared types are used.
#![cfg_attr(not(any(feature = "blocking", feature = "tokio")), allow(dead_code))]

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use crate::ClientError;

#[cfg(feature = "blocking")]
mod blocking;
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
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Why an HTTP exchange failed. Never contains the API key or a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The base URL is not `http://host[:port]` (this build speaks plain HTTP only).
    #[error("unsupported base URL: {0}")]
    Url(&'static str),
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

/// Whether an answer or failure may be retried: 429, 5xx and transport errors.
pub(crate) fn is_retryable(result: &Result<HttpResponse, TransportError>) -> bool {
    match result {
        Ok(r) => r.status == 429 || (500..600).contains(&r.status),
        Err(_) => true,
    }
}

/// Checks a base URL (`http://host[:port]`, trailing slashes dropped) and an API key.
pub(crate) fn check_target(base_url: &str, api_key: &str) -> Result<String, ClientError> {
    let base = check_base_url(base_url)?;
    if api_key.is_empty() || api_key.chars().any(|c| c.is_control()) {
        return Err(ClientError::ApiKey);
    }
    Ok(base)
}

/// Checks a base URL (`http://host[:port]`, trailing slashes dropped).
pub(crate) fn check_base_url(base_url: &str) -> Result<String, ClientError> {
    let base = base_url.trim().trim_end_matches('/');
    if base.starts_with("https://") {
        return Err(
            TransportError::Url("https is not supported by this build; use http://").into(),
        );
    }
    if !base.starts_with("http://") || base.len() <= "http://".len() {
        return Err(TransportError::Url("the URL must start with http:// and name a host").into());
    }
    Ok(base.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_urls_and_keys() {
        assert!(check_target("https://prod.euid.eu", "k").is_err());
        assert!(check_target("ftp://x", "k").is_err());
        assert!(check_target("http://", "k").is_err());
        assert!(matches!(
            check_target("http://x", ""),
            Err(ClientError::ApiKey)
        ));
        assert!(matches!(
            check_target("http://x", "a\nb"),
            Err(ClientError::ApiKey)
        ));
        assert_eq!(check_target(" http://x:1// ", "k").unwrap(), "http://x:1");
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
