#![no_main]
//! Any text opened as a refresh envelope, or decoded as an inner refresh token, fails cleanly
//! or decodes; never panics. Keys 1–4 exist with fixed secrets.

use euid_crypto::AesGcmKey;
use euid_token::{decode_refresh_token, open_refresh_envelope, Key, KeyStore};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn keys() -> &'static KeyStore {
    static KEYS: OnceLock<KeyStore> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = |id: i32, keyset: i32| {
            Key::new(
                id,
                keyset,
                0,
                0,
                i64::MAX / 1000,
                AesGcmKey::from_bytes([id as u8; 32]),
            )
        };
        KeyStore::new(vec![], vec![key(1, -1), key(2, -2), key(3, 2), key(4, 100)])
            .expect("fixed key store")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = open_refresh_envelope(keys(), text);
        let _ = decode_refresh_token(keys(), text);
    }
});
