#![no_main]
//! Any bytes as keysets.json + keyset_keys.json (split at the first NUL) load or fail
//! cleanly; a loaded store answers lookups, and what it writes back loads to a store that
//! writes the same files.

use euid_token::KeyStore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (keysets, keys) = data.split_at(split);
    let keys = keys.get(1..).unwrap_or_default();
    if let Ok(store) = KeyStore::from_json(keysets, keys) {
        for k in store.keys() {
            let _ = store.key_by_id(k.id);
            let _ = store.active_key(k.keyset_id, k.activates.saturating_mul(1000));
            let _ = k.to_sdk_json(None);
        }
        for ks in store.keysets() {
            let _ = store.site_key(ks.site_id, 0);
        }
        let keysets = store.keysets_json();
        let keys = store.keyset_keys_json();
        let again = KeyStore::from_json(keysets.as_bytes(), keys.as_bytes())
            .expect("a written key store loads");
        assert_eq!(
            again.keysets_json(),
            keysets,
            "keysets.json round trip differs"
        );
        assert!(
            again.keyset_keys_json() == keys,
            "keyset_keys.json round trip differs"
        );
    }
});
