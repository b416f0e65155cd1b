//! The async transport: HTTP/1.1 over hyper on a tokio TCP stream (TLS with feature `tls`,
//! by tokio-rustls), one connection per attempt, the whole attempt under a tokio timeout.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{
    check_api_key, is_retryable, BaseUrl, HttpResponse, Retry, Scheme, TransportConfig,
    TransportError, MAX_BODY,
};
use crate::{ClientError, CLIENT_VERSION};

/// An async POST transport bound to one operator and API key. `Debug` never shows the key.
#[derive(Clone)]
pub struct AsyncTransport {
    url: BaseUrl,
    /// The TLS connector and server name, for `https://`.
    #[cfg(feature = "tls")]
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    auth_header: String,
    config: TransportConfig,
}

impl std::fmt::Debug for AsyncTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncTransport")
            .field("base_url", &self.url.base)
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
    /// A transport for `base_url` (`http[s]://host[:port][/prefix]`, trailing slashes
    /// ignored; `https://` with feature `tls`).
    pub fn new(
        base_url: &str,
        api_key: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        check_api_key(api_key)?;
        let url = BaseUrl::parse(base_url)?;
        #[cfg(feature = "tls")]
        let tls = match url.scheme {
            Scheme::Https => {
                let client = super::tls::client_config(&url.base, &config.extra_root_certificates)?;
                let name =
                    rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(|_| {
                        TransportError::Url("the URL's host is not a DNS name or IP address")
                    })?;
                Some((tokio_rustls::TlsConnector::from(client), name))
            }
            Scheme::Http => None,
        };
        Ok(Self {
            url,
            #[cfg(feature = "tls")]
            tls,
            auth_header: format!("Bearer {api_key}"),
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
        let url = format!("{}{path}", self.url.base);
        let target = format!("{}{path}", self.url.path_prefix);
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
        let stream = tokio::net::TcpStream::connect(&self.url.connect_to)
            .await
            .map_err(|e| io_error(url, format!("connect: {e}")))?;
        #[cfg(feature = "tls")]
        if let Some((connector, name)) = &self.tls {
            let stream = connector.connect(name.clone(), stream).await.map_err(|e| {
                match super::tls::rustls_error(&e) {
                    Some(e) => super::tls::error(url, e),
                    None => io_error(url, format!("TLS handshake: {e}")),
                }
            })?;
            return self.exchange(stream, url, target, body, content_type).await;
        }
        debug_assert_eq!(self.url.scheme, Scheme::Http);
        self.exchange(stream, url, target, body, content_type).await
    }

    /// One request and its answer on a connected stream.
    async fn exchange<S>(
        &self,
        stream: S,
        url: &str,
        target: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<HttpResponse, TransportError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = |reason: String| io_error(url, reason);
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| io(format!("handshake: {e}")))?;
        let _connection = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let request = hyper::Request::post(target)
            .header(hyper::header::HOST, &self.url.authority)
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

fn io_error(url: &str, reason: String) -> TransportError {
    TransportError::Io {
        url: url.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_the_key() {
        let c = TransportConfig::default();
        let t = AsyncTransport::new("http://127.0.0.1:8080/", "SECRET-KEY", c.clone()).unwrap();
        assert_eq!(t.url.connect_to, "127.0.0.1:8080");
        assert!(!format!("{t:?}").contains("SECRET-KEY"));
        assert!(AsyncTransport::new("http://user@host", "k", c).is_err());
    }
}
