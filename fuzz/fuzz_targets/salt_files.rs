#![no_main]
//! Any bytes as salts metadata.json + salts CSV (split at the first NUL) load or fail cleanly;
//! a loaded store derives identities, and the files it writes load to a store that derives
//! the same identities and writes the same salts.

use euid_fuzz::reached;
use euid_token::{
    first_level_hash, raw_uid, IdentityScope, IdentityType, SaltFileLocation, SaltStore,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (meta, csv) = data.split_at(split);
    let csv = csv.get(1..).unwrap_or_default();
    if let Ok(salts) = SaltStore::from_files(meta, csv) {
        reached("a loaded salt store");
        let flh = first_level_hash(data, &salts);
        let uid = raw_uid(&flh, IdentityScope::Euid, IdentityType::Phone, &salts);
        let bucket_id = salts.bucket_for(&flh).bucket_id();
        let csv = salts.salts_csv();
        let location = SaltFileLocation {
            generated_s: 1,
            effective_ms: 2,
            expires_ms: 3,
            location: "salts.txt".to_owned(),
        };
        let meta = salts.metadata_json(&location);
        let again = SaltStore::from_files(meta.as_bytes(), csv.as_bytes())
            .expect("written salt files load");
        assert!(again.salts_csv() == csv, "salts CSV round trip differs");
        assert_eq!(first_level_hash(data, &again), flh);
        assert_eq!(
            raw_uid(&flh, IdentityScope::Euid, IdentityType::Phone, &again),
            uid
        );
        assert_eq!(again.bucket_for(&flh).bucket_id(), bucket_id);
    }
});
