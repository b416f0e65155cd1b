//! Creating a data directory (`init_data_dir`), for the server's first start and `euid init`.

use std::path::Path;

use euid_crypto::BatchedOsRandom;

use crate::clients::{new_client, ClientRecord, RoleSet};
use crate::data_dir::{self, write_atomic, DataDir, DataDirError, DemoClient};

/// What a new data directory gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitOptions {
    /// The demo client's site id (must be > 2). Default 999.
    pub demo_site_id: i32,
    /// Number of salt buckets. Default 1024 (production has 1,048,576).
    pub salt_bucket_count: usize,
    /// Lifetime of generated keys, seconds. Default 365 days.
    pub key_lifetime_seconds: i64,
    /// The `base_url` written to `demo-client.json`. Default `http://127.0.0.1:8080`.
    pub base_url: String,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            demo_site_id: 999,
            salt_bucket_count: 1024,
            key_lifetime_seconds: 365 * 86_400,
            base_url: format!("http://{}", crate::config::DEFAULT_LISTEN),
        }
    }
}

/// What [`init_data_dir`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct InitReport {
    /// Files created by this call (empty when the directory was complete).
    pub created: Vec<String>,
    /// The demo client (read back from `demo-client.json` when it already existed).
    pub demo_client: DemoClient,
}

fn now_s() -> i64 {
    crate::server::now_ms() / 1000
}

/// Creates whatever is missing in the data directory at `path`: keysets and keys (master,
/// refresh, fallback publisher, the demo site's default keyset), salts, `clients.json` with
/// one demo client holding every role, and `demo-client.json`. Existing files are reused,
/// never overwritten, so calling it again is harmless. `demo-client.json`'s `base_url` is
/// updated to `options.base_url`.
pub fn init_data_dir(path: &Path, options: &InitOptions) -> Result<InitReport, DataDirError> {
    if options.demo_site_id <= 2 {
        return Err(DataDirError::invalid(
            path,
            "the demo site id must be greater than 2",
        ));
    }
    let dir = DataDir::new(path);
    std::fs::create_dir_all(path).map_err(|e| DataDirError::io(path, e))?;
    let mut rng = BatchedOsRandom::new();
    let now = now_s();
    let mut created = Vec::new();

    let demo_path = dir.demo_client();
    let clients_path = dir.clients();
    let mut demo = if clients_path.exists() {
        if demo_path.exists() {
            let bytes = data_dir::read(&demo_path)?;
            Some(
                serde_json::from_slice::<DemoClient>(&bytes)
                    .map_err(|e| DataDirError::invalid(&demo_path, e))?,
            )
        } else {
            None
        }
    } else {
        let client = new_client(options.demo_site_id, "demo", RoleSet::ALL, now, &mut rng);
        let records: Vec<ClientRecord> = vec![client.record];
        write_json(&clients_path, &records)?;
        created.push("clients.json".to_owned());
        let demo = DemoClient {
            api_key: client.api_key,
            client_secret: client.client_secret,
            site_id: options.demo_site_id,
            base_url: options.base_url.clone(),
        };
        write_json(&demo_path, &demo)?;
        created.push("demo-client.json".to_owned());
        Some(demo)
    };
    if let Some(d) = demo.as_mut() {
        if d.base_url != options.base_url {
            d.base_url = options.base_url.clone();
            write_json(&demo_path, &*d)?;
        }
    }
    let demo_client = demo.ok_or_else(|| {
        DataDirError::invalid(
            &demo_path,
            "clients.json exists but demo-client.json does not: the demo credentials are unknown",
        )
    })?;
    Ok(InitReport {
        created,
        demo_client,
    })
}

pub(crate) fn write_json<T: serde::Serialize + ?Sized>(
    path: &Path,
    value: &T,
) -> Result<(), DataDirError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| DataDirError::invalid(path, e))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}
