#![no_main]
//! Any text decoded as an advertising token (v2/v3/v4) fails cleanly or decodes; never panics.
//! Keys 1–4 exist with fixed secrets, and keys 164 (master) and 165 (site) with the golden
//! vectors' secrets, so inputs and the vector seeds reach every decryption layer.
//!
//! A v3/v4 token that decodes, minted again from its decoded fields under the same keys
//! (with other IVs), decodes to the same fields.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::AesGcmKey;
use euid_token::{
    decode_advertising_token, mint_advertising_token, AdvertisingTokenFields, Key, KeyStore,
    TokenVersion,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// `testdata/tokens_and_envelopes.json` keys 164 and 165.
const VECTOR_MASTER: &str = "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs=";
const VECTOR_SITE: &str = "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U=";

fn keys() -> &'static KeyStore {
    static KEYS: OnceLock<KeyStore> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = |id: i32, keyset: i32, secret: [u8; 32]| {
            Key::new(
                id,
                keyset,
                0,
                0,
                i64::MAX / 1000,
                AesGcmKey::from_bytes(secret),
            )
        };
        let vector = |text: &str| -> [u8; 32] {
            let bytes = STANDARD.decode(text).expect("vector key base64");
            bytes.try_into().expect("32-byte vector key")
        };
        KeyStore::new(
            vec![],
            vec![
                key(1, -1, [1; 32]),
                key(2, -2, [2; 32]),
                key(3, 2, [3; 32]),
                key(4, 100, [4; 32]),
                key(164, -1, vector(VECTOR_MASTER)),
                key(165, 9000, vector(VECTOR_SITE)),
            ],
        )
        .expect("fixed key store")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(token) = decode_advertising_token(keys(), text, 0) else {
        return;
    };
    if token.version == TokenVersion::V2 {
        return;
    }
    let (Some(created_ms), Some(operator), Some(refreshed_ms)) =
        (token.created_ms, token.operator, token.refreshed_ms)
    else {
        panic!("a v3/v4 token decoded without its v3 fields: {token:?}");
    };
    let fields = AdvertisingTokenFields {
        version: token.version,
        scope: token.scope,
        identity_type: token.identity_type,
        expires_ms: token.expires_ms,
        created_ms,
        operator,
        site_id: token.site_id,
        publisher_id: token.publisher_id,
        client_key_id: token.client_key_id,
        privacy_bits: token.privacy_bits,
        established_ms: token.established_ms,
        refreshed_ms,
        raw_uid: &token.raw_uid,
    };
    let master = keys().key_by_id(token.master_key_id).expect("master key");
    let site = keys().key_by_id(token.site_key_id).expect("site key");
    let minted = mint_advertising_token(&fields, master, site, &[0x5a; 12], &[0xa5; 12])
        .expect("a decoded v3/v4 token mints again");
    assert_eq!(
        decode_advertising_token(keys(), &minted, 0).as_ref(),
        Ok(&token),
        "re-minted token decodes differently"
    );
});
