//! `demo-client.json`: the demo client's credentials, written by `init` for a person or a
//! tool to pick up (`euid generate --demo DATA_DIR`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data_dir::{read, write_json};
use crate::error::{json_error_position, StoreError};

/// The demo client's credentials, as written to `demo-client.json`.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct DemoClient {
    /// The API key (Bearer token).
    pub api_key: String,
    /// The client secret, base64.
    pub client_secret: String,
    /// The client's site id.
    pub site_id: i32,
    /// Where the operator listens, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The demo site's client-side token generation subscription id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// The demo site's CSTG server public key (`EUID-X-L-…`), for the browser SDK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_public_key: Option<String>,
}

impl std::fmt::Debug for DemoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoClient")
            .field("site_id", &self.site_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Reads a `demo-client.json` file written by `init`; a parse error gives the position only.
pub fn read_demo_client(path: &Path) -> Result<DemoClient, StoreError> {
    let bytes = read(path)?;
    serde_json::from_slice::<DemoClient>(&bytes)
        .map_err(|e| StoreError::invalid(path, json_error_position(&e)))
}

/// Writes a `demo-client.json` file (pretty JSON, atomically, mode 0600).
pub fn write_demo_client(path: &Path, demo: &DemoClient) -> Result<(), StoreError> {
    write_json(path, demo)
}

/// What a client tool needs from a demo-client file: the API key, the client secret and,
/// if given, the operator's URL.
///
/// Read leniently by [`DemoCredentials::from_json`], so hand-written files work too: the key
/// may be `api_key` or `key`, the secret `secret` or `client_secret` (the first of each that
/// is a string wins), and nothing else is required.
#[derive(Clone, PartialEq, Eq)]
pub struct DemoCredentials {
    /// The API key (Bearer token).
    pub api_key: String,
    /// The client secret, base64.
    pub secret: String,
    /// Where the operator listens, if the file says.
    pub base_url: Option<String>,
}

impl std::fmt::Debug for DemoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCredentials")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Why [`DemoCredentials::from_json`] refused a file (never quoting it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DemoCredentialsError {
    /// Not JSON.
    #[error("is not valid JSON")]
    NotJson,
    /// No string under any of the key's names.
    #[error("has no \"api_key\" string")]
    NoApiKey,
    /// No string under any of the secret's names.
    #[error("has no \"secret\" string")]
    NoSecret,
}

impl DemoCredentials {
    /// The names the API key may have, in the order they are tried.
    pub const API_KEY_FIELDS: [&'static str; 2] = ["api_key", "key"];
    /// The names the client secret may have, in the order they are tried.
    pub const SECRET_FIELDS: [&'static str; 2] = ["secret", "client_secret"];

    /// Reads the credentials from a demo-client file's bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DemoCredentialsError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|_| DemoCredentialsError::NotJson)?;
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| value.get(*name).and_then(|v| v.as_str()).map(str::to_owned))
        };
        let api_key = field(&Self::API_KEY_FIELDS).ok_or(DemoCredentialsError::NoApiKey)?;
        let secret = field(&Self::SECRET_FIELDS).ok_or(DemoCredentialsError::NoSecret)?;
        Ok(Self {
            api_key,
            secret,
            base_url: field(&["base_url"]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_read_what_init_writes_and_hand_written_files() {
        let demo = DemoClient {
            api_key: "EUID-C-L-999-abc".into(),
            client_secret: "c2VjcmV0".into(),
            site_id: 999,
            base_url: "http://127.0.0.1:1".into(),
            subscription_id: None,
            server_public_key: None,
        };
        let creds = DemoCredentials::from_json(&serde_json::to_vec(&demo).unwrap()).unwrap();
        assert_eq!(creds.api_key, demo.api_key);
        assert_eq!(creds.secret, demo.client_secret);
        assert_eq!(creds.base_url.as_deref(), Some("http://127.0.0.1:1"));
        let hand = DemoCredentials::from_json(br#"{"key":"k","secret":"s","api_key":7}"#).unwrap();
        assert_eq!((hand.api_key.as_str(), hand.secret.as_str()), ("k", "s"));
        assert_eq!(hand.base_url, None);
        assert_eq!(
            DemoCredentials::from_json(b"{"),
            Err(DemoCredentialsError::NotJson)
        );
        assert_eq!(
            DemoCredentials::from_json(br#"{"secret":"s"}"#),
            Err(DemoCredentialsError::NoApiKey)
        );
        assert_eq!(
            DemoCredentials::from_json(br#"{"api_key":"k"}"#),
            Err(DemoCredentialsError::NoSecret)
        );
    }

    #[test]
    fn debug_and_errors_hide_the_secrets() {
        let creds = DemoCredentials {
            api_key: "EUID-C-L-1-topsecretkey".into(),
            secret: "dG9wc2VjcmV0".into(),
            base_url: None,
        };
        let shown = format!("{creds:?}");
        assert!(
            !shown.contains("topsecret") && !shown.contains("dG9w"),
            "{shown}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-client.json");
        std::fs::write(
            &path,
            br#"{"api_key":"EUID-C-L-1-topsecretkey","site_id":"dG9w"}"#,
        )
        .unwrap();
        let err = read_demo_client(&path).unwrap_err().to_string();
        assert!(!err.contains("topsecret") && !err.contains("dG9w"), "{err}");
    }
}
