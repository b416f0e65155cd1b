//! The client-side keypairs in the data directory (`client_side_keypairs.json`) that
//! `POST /v2/token/client-generate` decodes requests with (the endpoint itself is
//! `Endpoint::ClientGenerate`, served by `api::handle` like every other).

use std::path::Path;

use euid_crypto::RandomSource;
use euid_cstg::ServerKeypair;

use crate::data_dir::{write_atomic, DataDir, DataDirError, DemoClient};

pub use crate::data_dir::KEYPAIRS_FILE;
/// Origins the demo site's keypair accepts: a publisher page on this machine.
pub const DEMO_DOMAINS: [&str; 2] = ["localhost", "127.0.0.1"];

pub use crate::data_dir::{keypairs_path, load_keypairs};

/// First-start part of `init_data_dir`: creates `client_side_keypairs.json` with one keypair
/// for the demo site (domains `localhost` and `127.0.0.1`) when missing, and makes sure
/// `demo-client.json` carries its `subscription_id` and `server_public_key`.
pub(crate) fn ensure_demo_keypair(
    root: &Path,
    demo: &mut DemoClient,
    now_s: i64,
    rng: &mut impl RandomSource,
    created: &mut Vec<String>,
) -> Result<bool, DataDirError> {
    let dir = DataDir::new(root);
    let path = keypairs_path(&dir);
    let mut store = load_keypairs(&dir)?;
    let existing = store
        .iter()
        .find(|k| k.site_id == demo.site_id && !k.disabled)
        .map(|k| (k.subscription_id.clone(), k.public_key_text().to_owned()));
    let (subscription_id, public_key) = match existing {
        Some(found) => found,
        None => {
            let keypair = ServerKeypair::generate(
                euid_cstg::generate_subscription_id(rng),
                demo.site_id,
                DEMO_DOMAINS.iter().map(|d| (*d).to_owned()).collect(),
                Vec::new(),
                now_s,
                rng,
            );
            let found = (
                keypair.subscription_id.clone(),
                keypair.public_key_text().to_owned(),
            );
            store
                .insert(keypair)
                .map_err(|e| DataDirError::invalid(&path, e))?;
            write_atomic(&path, store.to_json_pretty().as_bytes())?;
            created.push(KEYPAIRS_FILE.to_owned());
            found
        }
    };
    let changed = demo.subscription_id.as_deref() != Some(subscription_id.as_str())
        || demo.server_public_key.as_deref() != Some(public_key.as_str());
    demo.subscription_id = Some(subscription_id);
    demo.server_public_key = Some(public_key);
    Ok(changed)
}
