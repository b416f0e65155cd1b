#![no_main]
//! Any bytes as salts metadata.json + salts CSV (split at the first NUL) load or fail cleanly;
//! a loaded store derives identities and writes itself back without panicking.

use euid_token::{first_level_hash, raw_uid, IdentityScope, IdentityType, SaltStore};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (meta, csv) = data.split_at(split);
    let csv = csv.get(1..).unwrap_or_default();
    if let Ok(salts) = SaltStore::from_files(meta, csv) {
        let flh = first_level_hash(data, &salts);
        let _ = raw_uid(&flh, IdentityScope::Euid, IdentityType::Phone, &salts);
        let _ = salts.bucket_for(&flh).bucket_id();
        let _ = salts.salts_csv();
    }
});
