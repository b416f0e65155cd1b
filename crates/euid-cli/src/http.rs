//! The one HTTP exchange the CLI needs: a blocking POST over plain HTTP (ureq, no TLS).

use std::time::Duration;

use crate::error::{CliError, CliResult};

/// An HTTP answer, whatever its status.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    /// The status code.
    pub(crate) status: u16,
    /// The body as received.
    pub(crate) body: Vec<u8>,
}

/// The largest response body accepted.
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// Joins the base URL and an endpoint path, refusing what this build cannot reach.
pub(crate) fn endpoint(base_url: &str, path: &str) -> CliResult<String> {
    let base = base_url.trim().trim_end_matches('/');
    if base.starts_with("https://") {
        return Err(CliError::invalid(
            "https URLs are not supported: this build speaks plain HTTP only (use an operator on localhost, or the encrypt-request | curl | decrypt-response pipeline)",
        ));
    }
    if !base.starts_with("http://") || base.len() <= "http://".len() {
        return Err(CliError::invalid(
            "the URL must start with http:// and name a host",
        ));
    }
    Ok(format!("{base}{path}"))
}

/// POSTs `body` as text to `url`, with `Authorization: Bearer KEY` when a key is given.
pub(crate) fn post(
    url: &str,
    api_key: Option<&str>,
    body: &[u8],
    timeout: Duration,
) -> CliResult<HttpResponse> {
    let config = ureq::Agent::config_builder()
        // Error answers are plain JSON the caller reports; they are not transport errors.
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut request = agent.post(url).header("Content-Type", "text/plain");
    if let Some(key) = api_key {
        if key.is_empty() || key.chars().any(|c| c.is_control()) {
            // Never echo the key itself.
            return Err(CliError::invalid(
                "the API key is empty or holds control characters",
            ));
        }
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let mut response = request.send(body).map_err(|e| transport_error(url, &e))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| transport_error(url, &e))?;
    Ok(HttpResponse { status, body })
}

fn transport_error(url: &str, err: &ureq::Error) -> CliError {
    let reason = match err {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::BodyExceedsLimit(_) => "the response is larger than 16 MiB".to_owned(),
        other => other.to_string(),
    };
    CliError::failed(format!("POST {url} failed: {reason}"))
}
