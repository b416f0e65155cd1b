//! The CLI's side of euid-client's blocking transport: its URL rules and error lines.

use std::time::Duration;

use euid_client::transport::{Transport, TransportConfig, TransportError};
use euid_client::ClientError;

use crate::cli::ConnectionArgs;
use crate::error::{CliError, CliResult};

/// A transport to `base_url`, sending `Authorization: Bearer KEY` when a key is given, with
/// the `--timeout` of `args` per attempt.
pub(crate) fn connect(
    base_url: &str,
    api_key: Option<&str>,
    args: &ConnectionArgs,
) -> CliResult<Transport> {
    check_url(base_url)?;
    let config = transport_config(args);
    let transport = match api_key {
        Some(key) => Transport::new(base_url, key, config),
        None => Transport::without_api_key(base_url, config),
    };
    // ClientError::ApiKey's text never holds the key.
    transport.map_err(|e| CliError::invalid(e.to_string()))
}

/// `--timeout` per attempt; euid-client's default retries for the calls it retries.
pub(crate) fn transport_config(args: &ConnectionArgs) -> TransportConfig {
    TransportConfig {
        timeout: Duration::from_secs(args.timeout.max(1)),
        ..TransportConfig::default()
    }
}

/// The URL rules: `http://` or `https://` (euid-client's `tls` feature, which the CLI
/// builds with: the Mozilla roots, the certificate checked against the host name).
pub(crate) fn check_url(base_url: &str) -> CliResult {
    let base = base_url.trim().trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("https://"));
    if rest.is_none_or(str::is_empty) {
        return Err(CliError::invalid(
            "the URL must start with http:// or https:// and name a host",
        ));
    }
    Ok(())
}

/// A failed HTTP exchange: `POST URL failed: REASON`, exit 1.
pub(crate) fn transport_error(err: &TransportError) -> CliError {
    match err {
        TransportError::Timeout { url, .. } => {
            CliError::failed(format!("POST {url} failed: timed out"))
        }
        TransportError::Io { url, reason } => {
            CliError::failed(format!("POST {url} failed: {reason}"))
        }
        other => CliError::failed(other.to_string()),
    }
}

/// An answer that did not open: the operator's error answer (non-200, plain JSON) as
/// `the operator answered HTTP N: BODY`, or `WHAT: WHY` for an envelope that did not open.
pub(crate) fn answer_error(err: ClientError, what: &str) -> CliError {
    match err {
        ClientError::HttpStatus { status, body } => {
            let body = crate::io_util::excerpt(body.as_bytes().trim_ascii());
            CliError::failed(format!("the operator answered HTTP {status}: {body}"))
        }
        ClientError::Envelope(e) => CliError::failed(format!("{what}: {e}")),
        other => CliError::failed(other.to_string()),
    }
}
