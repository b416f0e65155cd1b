//! The blocking HTTP transport: plain HTTP over ureq, a timeout on every request, and retries
//! with exponential backoff and full jitter for idempotent calls.

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use crate::{ClientError, CLIENT_VERSION};

/// The largest response body accepted.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// Timeouts and retries of a [`Transport`].
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
        TransportConfig {
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

/// A blocking POST transport bound to one operator and API key. `Debug` never shows the key.
#[derive(Clone)]
pub struct Transport {
    base_url: String,
    auth_header: String,
    agent: ureq::Agent,
    config: TransportConfig,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport for `base_url` (`http://host[:port]`, trailing slashes ignored).
    pub fn new(
        base_url: &str,
        api_key: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        let base = base_url.trim().trim_end_matches('/');
        if base.starts_with("https://") {
            return Err(
                TransportError::Url("https is not supported by this build; use http://").into(),
            );
        }
        if !base.starts_with("http://") || base.len() <= "http://".len() {
            return Err(
                TransportError::Url("the URL must start with http:// and name a host").into(),
            );
        }
        if api_key.is_empty() || api_key.chars().any(|c| c.is_control()) {
            return Err(ClientError::ApiKey);
        }
        let agent_config = ureq::Agent::config_builder()
            // Error answers are read by the caller, not raised here.
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .build();
        Ok(Transport {
            base_url: base.to_owned(),
            auth_header: format!("Bearer {api_key}"),
            agent: ureq::Agent::new_with_config(agent_config),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// POSTs `body` to `path`. With [`Retry::Idempotent`], a 429, a 5xx or a transport error
    /// is retried up to `max_retries` times after a jittered backoff; the last answer or error
    /// is returned.
    pub fn post(
        &self,
        path: &str,
        body: &[u8],
        retry: Retry,
    ) -> Result<HttpResponse, TransportError> {
        let url = format!("{}{path}", self.base_url);
        let attempts = match retry {
            Retry::Idempotent => self.config.max_retries.saturating_add(1),
            Retry::Once => 1,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.post_once(&url, body);
            let retryable = match &result {
                Ok(r) => r.status == 429 || (500..600).contains(&r.status),
                Err(_) => true,
            };
            if !retryable || attempt >= attempts {
                return result;
            }
            std::thread::sleep(self.backoff(attempt - 1));
        }
    }

    /// Full jitter: uniform in `[0, min(max, initial * 2^retry)]`.
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .config
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.config.max_backoff);
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

    fn post_once(&self, url: &str, body: &[u8]) -> Result<HttpResponse, TransportError> {
        let mut response = self
            .agent
            .post(url)
            // The operator reads the raw body whatever the Content-Type.
            .header("Content-Type", "text/plain")
            .header("Authorization", &self.auth_header)
            .header("X-UID2-Client-Version", CLIENT_VERSION)
            .send(body)
            .map_err(|e| self.error(url, &e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| self.error(url, &e))?;
        Ok(HttpResponse { status, body })
    }

    fn error(&self, url: &str, err: &ureq::Error) -> TransportError {
        match err {
            ureq::Error::Timeout(_) => TransportError::Timeout {
                url: url.to_owned(),
                timeout_ms: self.config.timeout.as_millis(),
            },
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                TransportError::Timeout {
                    url: url.to_owned(),
                    timeout_ms: self.config.timeout.as_millis(),
                }
            }
            ureq::Error::BodyExceedsLimit(_) => TransportError::Io {
                url: url.to_owned(),
                reason: "the response is larger than 16 MiB".to_owned(),
            },
            other => TransportError::Io {
                url: url.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_urls_and_keys_and_hides_the_key() {
        let c = TransportConfig::default();
        assert!(Transport::new("https://prod.euid.eu", "k", c.clone()).is_err());
        assert!(Transport::new("ftp://x", "k", c.clone()).is_err());
        assert!(Transport::new("http://", "k", c.clone()).is_err());
        assert!(matches!(
            Transport::new("http://x", "", c.clone()),
            Err(ClientError::ApiKey)
        ));
        assert!(matches!(
            Transport::new("http://x", "a\nb", c.clone()),
            Err(ClientError::ApiKey)
        ));
        let t = Transport::new("http://127.0.0.1:1/", "SECRET-KEY", c).unwrap();
        assert!(!format!("{t:?}").contains("SECRET-KEY"));
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let t = Transport::new(
            "http://x",
            "k",
            TransportConfig {
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_millis(300),
                ..TransportConfig::default()
            },
        )
        .unwrap();
        let samples: Vec<Duration> = (0..50).map(|_| t.backoff(5)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(300)));
        assert!(samples.iter().any(|d| *d != samples[0]), "no jitter");
        assert!((0..50).all(|_| t.backoff(0) <= Duration::from_millis(100)));
    }
}
