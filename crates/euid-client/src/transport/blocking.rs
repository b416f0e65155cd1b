//! The blocking transport: HTTP, and HTTPS with feature `tls`, over ureq.

use super::{
    check_api_key, is_retryable, BaseUrl, HttpResponse, Retry, TransportConfig, TransportError,
    MAX_BODY,
};
use crate::{ClientError, CLIENT_VERSION};

/// A blocking POST transport bound to one operator and API key. `Debug` never shows the key.
#[derive(Clone)]
pub struct Transport {
    base_url: String,
    /// `Bearer KEY`, or `None` for a transport that sends no API key.
    auth_header: Option<String>,
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
    /// A transport for `base_url` (`http[s]://host[:port][/prefix]`, trailing slashes
    /// ignored; `https://` with feature `tls`).
    pub fn new(
        base_url: &str,
        api_key: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        check_api_key(api_key)?;
        Self::build(base_url, Some(format!("Bearer {api_key}")), config)
    }

    /// A transport that sends no `Authorization` header: `/v2/token/refresh` needs no API key
    /// (the refresh token authenticates the call), so a tool holding only a refresh token can
    /// still refresh. Every other endpoint answers it 401.
    pub fn without_api_key(base_url: &str, config: TransportConfig) -> Result<Self, ClientError> {
        Self::build(base_url, None, config)
    }

    fn build(
        base_url: &str,
        auth_header: Option<String>,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        let base_url = BaseUrl::parse(base_url)?.base;
        let agent_config = ureq::Agent::config_builder()
            // Error answers are read by the caller, not raised here.
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout));
        // Set for http:// too: ureq's own TLS defaults name no crypto provider, so a redirect
        // to https:// would otherwise find none.
        #[cfg(feature = "tls")]
        let agent_config =
            agent_config.tls_config(super::tls::ureq_config(&config.extra_root_certificates)?);
        Ok(Self {
            base_url,
            auth_header,
            agent: ureq::Agent::new_with_config(agent_config.build()),
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
        self.post_as(path, body, crate::envelope::TEXT, retry)
    }

    /// [`Self::post`] with a given `Content-Type`.
    pub fn post_as(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        retry: Retry,
    ) -> Result<HttpResponse, TransportError> {
        let url = format!("{}{path}", self.base_url);
        let attempts = self.config.attempts(retry);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.post_once(&url, body, content_type);
            if !is_retryable(&result) || attempt >= attempts {
                return result;
            }
            std::thread::sleep(self.config.backoff(attempt - 1));
        }
    }

    fn post_once(
        &self,
        url: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<HttpResponse, TransportError> {
        let mut request = self
            .agent
            .post(url)
            // The operator reads the raw body whatever the Content-Type.
            .header("Content-Type", content_type)
            .header("X-UID2-Client-Version", CLIENT_VERSION);
        if let Some(auth) = &self.auth_header {
            request = request.header("Authorization", auth);
        }
        let mut response = request.send(body).map_err(|e| self.error(url, &e))?;
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
        #[cfg(feature = "tls")]
        match err {
            ureq::Error::Rustls(e) => return super::tls::error(url, e),
            ureq::Error::Io(io) => {
                if let Some(e) = super::tls::rustls_error(io) {
                    return super::tls::error(url, e);
                }
            }
            ureq::Error::Tls(reason) => {
                return TransportError::Tls {
                    url: url.to_owned(),
                    reason: (*reason).to_owned(),
                }
            }
            _ => {}
        }
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
            // The OS's words ("Connection refused (os error 111)"), without ureq's prefix.
            ureq::Error::Io(io) => TransportError::Io {
                url: url.to_owned(),
                reason: io.to_string(),
            },
            ureq::Error::HostNotFound => TransportError::Io {
                url: url.to_owned(),
                reason: "host not found".to_owned(),
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
    fn debug_hides_the_key() {
        let t = Transport::new(
            "http://127.0.0.1:1/",
            "SECRET-KEY",
            TransportConfig::default(),
        )
        .unwrap();
        assert!(!format!("{t:?}").contains("SECRET-KEY"));
    }
}
