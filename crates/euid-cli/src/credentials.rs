//! Where `generate` and `refresh` get the API key and client secret from.

use std::path::Path;

use crate::cli::{ConnectionArgs, DEFAULT_URL};
use crate::error::{CliError, CliResult};
use crate::io_util::read_file;

/// The file `--demo DATA_DIR` reads.
pub(crate) const DEMO_CLIENT_FILE: &str = "demo-client.json";

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

struct DemoClient {
    api_key: String,
    secret: String,
    base_url: Option<String>,
}

fn read_demo_client(dir: &Path) -> CliResult<DemoClient> {
    let path = dir.join(DEMO_CLIENT_FILE);
    let bytes = read_file(&path)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| CliError::invalid(format!("{} is not valid JSON", path.display())))?;
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| value.get(*name).and_then(|v| v.as_str()).map(str::to_owned))
    };
    let api_key = field(&["api_key", "key"]).ok_or_else(|| {
        CliError::invalid(format!("{} has no \"api_key\" string", path.display()))
    })?;
    let secret = field(&["secret", "client_secret"])
        .ok_or_else(|| CliError::invalid(format!("{} has no \"secret\" string", path.display())))?;
    let base_url = field(&["base_url"]);
    Ok(DemoClient {
        api_key,
        secret,
        base_url,
    })
}
