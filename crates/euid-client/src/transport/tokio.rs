//! The async transport: plain HTTP/1.1 over hyper on a tokio TCP stream, one connection per
//! attempt, the whole attempt under a tokio timeout.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;

use super::{
    check_target, is_retryable, HttpResponse, Retry, TransportConfig, TransportError, MAX_BODY,
};
use crate::{ClientError, CLIENT_VERSION};

/// An async POST transport bound to one operator and API key. `Debug` never shows the key.
#[derive(Clone)]
pub struct AsyncTransport {
    base_url: String,
    // host[:port] for the Host header, and host:port to connect to.
    authority: String,
    connect_to: String,
    path_prefix: String,
    auth_header: String,
    config: TransportConfig,
}

impl std::fmt::Debug for AsyncTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncTransport")
            .field("base_url", &self.base_url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Aborts the spawned connection task when the attempt ends or is cancelled by its timeout.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl AsyncTransport {
    /// A transport for `base_url` (`http://host[:port][/prefix]`, trailing slashes ignored).
    pub fn new(
        base_url: &str,
        api_key: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        let base_url = check_target(base_url, api_key)?;
        let rest = &base_url["http://".len()..];
        let (authority, path_prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains(['@', ' ']) {
            return Err(TransportError::Url("the URL must name a host").into());
        }
        // A bracketed IPv6 host has colons of its own; a port follows the closing bracket.
        let has_port = match authority.rfind(']') {
            Some(close) => authority[close..].contains(':'),
            None => authority.contains(':'),
        };
        let connect_to = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Self {
            authority: authority.to_owned(),
            connect_to,
            path_prefix: path_prefix.to_owned(),
            auth_header: format!("Bearer {api_key}"),
            base_url,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// POSTs `body` to `path`, as [`super::Transport::post`] does, without blocking a thread.
    pub async fn post(
        &self,
        path: &str,
        body: &[u8],
        retry: Retry,
    ) -> Result<HttpResponse, TransportError> {
        self.post_as(path, body, crate::envelope::TEXT, retry).await
    }

    /// [`Self::post`] with a given `Content-Type`.
    pub async fn post_as(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        retry: Retry,
    ) -> Result<HttpResponse, TransportError> {
        let url = format!("{}{path}", self.base_url);
        let target = format!("{}{path}", self.path_prefix);
        let body = Bytes::copy_from_slice(body);
        let attempts = self.config.attempts(retry);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match tokio::time::timeout(
                self.config.timeout,
                self.post_once(&url, &target, body.clone(), content_type),
            )
            .await
            {
                Ok(result) => result,
                Err(_) => Err(TransportError::Timeout {
                    url: url.clone(),
                    timeout_ms: self.config.timeout.as_millis(),
                }),
            };
            if !is_retryable(&result) || attempt >= attempts {
                return result;
            }
            tokio::time::sleep(self.config.backoff(attempt - 1)).await;
        }
    }

    async fn post_once(
        &self,
        url: &str,
        target: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<HttpResponse, TransportError> {
        let io = |reason: String| TransportError::Io {
            url: url.to_owned(),
            reason,
        };
        let stream = tokio::net::TcpStream::connect(&self.connect_to)
            .await
            .map_err(|e| io(format!("connect: {e}")))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| io(format!("handshake: {e}")))?;
        let _connection = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let request = hyper::Request::post(target)
            .header(hyper::header::HOST, &self.authority)
            // The operator reads the raw body whatever the Content-Type.
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header(hyper::header::AUTHORIZATION, &self.auth_header)
            .header("X-UID2-Client-Version", CLIENT_VERSION)
            .body(Full::new(body))
            .map_err(|e| io(format!("request: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| io(e.to_string()))?;
        let status = response.status().as_u16();
        let limit = usize::try_from(MAX_BODY).unwrap_or(usize::MAX);
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| io(format!("reading the body: {e}")))?
            .to_bytes()
            .to_vec();
        Ok(HttpResponse { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_base_url_and_hides_the_key() {
        let c = TransportConfig::default();
        let t = AsyncTransport::new("http://127.0.0.1:8080/", "SECRET-KEY", c.clone()).unwrap();
        assert_eq!(
            (
                t.authority.as_str(),
                t.connect_to.as_str(),
                t.path_prefix.as_str()
            ),
            ("127.0.0.1:8080", "127.0.0.1:8080", "")
        );
        assert!(!format!("{t:?}").contains("SECRET-KEY"));
        let t = AsyncTransport::new("http://example.org/euid", "k", c.clone()).unwrap();
        assert_eq!(
            (
                t.authority.as_str(),
                t.connect_to.as_str(),
                t.path_prefix.as_str()
            ),
            ("example.org", "example.org:80", "/euid")
        );
        let t = AsyncTransport::new("http://[::1]", "k", c.clone()).unwrap();
        assert_eq!(t.connect_to, "[::1]:80");
        assert!(AsyncTransport::new("http://user@host", "k", c).is_err());
    }
}
