//! Where `generate` and `refresh` get the API key and client secret from.

use std::path::Path;

use euid_store::{DataDir, DemoCredentials};

use crate::cli::{ConnectionArgs, DEFAULT_URL};
use crate::error::{CliError, CliResult};
use crate::io_util::read_file;

/// Where to send requests, with which API key and client secret (base64 text); neither
/// secret is ever printed.
pub(crate) struct Credentials {
    pub(crate) url: String,
    pub(crate) api_key: Option<String>,
    pub(crate) secret: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

impl Credentials {
    /// The URL, API key and client secret of a command that needs both secrets; which one is
    /// missing, and where it can come from, otherwise.
    pub(crate) fn require_both(self) -> CliResult<(String, String, String)> {
        let api_key = self.api_key.ok_or_else(|| {
            CliError::invalid(
                "no API key: give --api-key, set EUID_API_KEY, or use --demo DATA_DIR",
            )
        })?;
        let secret = self.secret.ok_or_else(|| {
            CliError::invalid(
                "no client secret: give --secret, set EUID_SECRET, or use --demo DATA_DIR",
            )
        })?;
        Ok((self.url, api_key, secret))
    }
}

/// Flags and environment variables win over `--demo`; `--demo` fills in what they leave out.
pub(crate) fn resolve(args: &ConnectionArgs) -> CliResult<Credentials> {
    let mut creds = Credentials {
        url: args.url.clone().unwrap_or_default(),
        api_key: args.api_key.clone(),
        secret: args.secret.clone(),
    };
    if let Some(dir) = &args.demo {
        let demo = read_demo_client(dir)?;
        creds.api_key = creds.api_key.or(Some(demo.api_key));
        creds.secret = creds.secret.or(Some(demo.secret));
        if creds.url.is_empty() {
            creds.url = demo.base_url.unwrap_or_default();
        }
    }
    if creds.url.is_empty() {
        DEFAULT_URL.clone_into(&mut creds.url);
    }
    Ok(creds)
}

fn read_demo_client(dir: &Path) -> CliResult<DemoCredentials> {
    let path = DataDir::new(dir).demo_client();
    let bytes = read_file(&path)?;
    DemoCredentials::from_json(&bytes)
        .map_err(|e| CliError::invalid(format!("{} {e}", path.display())))
}
