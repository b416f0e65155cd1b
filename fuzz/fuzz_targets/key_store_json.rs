#![no_main]
//! Any bytes as keysets.json + keyset_keys.json (split at the first NUL) load or fail
//! cleanly; a loaded store's lookups are consistent, and what it writes back loads to a
//! store that writes the same files.
//!
//! Checked for every key of a loaded store: `key_by_id` finds it; the decoders' scoped
//! lookups find it exactly for its purpose (master keyset −1, refresh keyset −2, any other
//! keyset for site keys); `active_key` of its keyset at its activation, just before its
//! expiry and at 0 is a key of that keyset active then, and is some key whenever this one
//! is active; `to_sdk_json` names it and its secret; `site_key` answers only with active
//! keys.

use euid_fuzz::reached;
use euid_token::{KeyLookup, KeyStore, MASTER_KEYSET_ID, REFRESH_KEYSET_ID};
use libfuzzer_sys::fuzz_target;

fn active_at(activates: i64, expires: i64, t: i64) -> bool {
    activates.saturating_mul(1000) <= t && expires.saturating_mul(1000) > t
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (keysets, keys) = data.split_at(split);
    let keys = keys.get(1..).unwrap_or_default();
    let Ok(store) = KeyStore::from_json(keysets, keys) else {
        return;
    };
    reached("a loaded key store");
    for k in store.keys() {
        let found = store.key_by_id(k.id).expect("key_by_id finds every key");
        assert_eq!((found.id, found.keyset_id), (k.id, k.keyset_id));
        let purpose = (
            store.master_key(k.id).is_some(),
            store.refresh_key(k.id).is_some(),
            KeyLookup::site_key(&store, k.id).is_some(),
        );
        let expected = (
            k.keyset_id == MASTER_KEYSET_ID,
            k.keyset_id == REFRESH_KEYSET_ID,
            k.keyset_id != MASTER_KEYSET_ID && k.keyset_id != REFRESH_KEYSET_ID,
        );
        assert_eq!(purpose, expected, "key {} of keyset {}", k.id, k.keyset_id);
        for t in [
            k.activates.saturating_mul(1000),
            k.expires.saturating_mul(1000).saturating_sub(1),
            0,
        ] {
            match store.active_key(k.keyset_id, t) {
                Some(a) => {
                    assert_eq!(a.keyset_id, k.keyset_id, "active key of another keyset");
                    assert!(
                        active_at(a.activates, a.expires, t),
                        "key {} not active at {t}",
                        a.id
                    );
                }
                None => assert!(
                    !active_at(k.activates, k.expires, t),
                    "key {} is active at {t} but its keyset has no active key",
                    k.id
                ),
            }
        }
        let sdk = k.to_sdk_json(None);
        assert_eq!(sdk["id"], k.id);
        assert_eq!(sdk["secret"], k.secret().expose_secret_base64());
        assert!(sdk.get("keyset_id").is_none());
    }
    for ks in store.keysets() {
        for t in [0, ks.created.saturating_mul(1000)] {
            if let Some(key) = store.site_key(ks.site_id, t) {
                assert!(
                    active_at(key.activates, key.expires, t),
                    "inactive site key"
                );
            }
        }
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
});
