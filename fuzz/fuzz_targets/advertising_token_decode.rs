#![no_main]
//! Advertising tokens behind their two AES-GCM layers. Keys 164 (master keyset −1) and 165
//! (site keyset 9000) carry the golden vectors' secrets, keys 1–4 fixed ones, each in the
//! keyset its purpose needs (#16: master keys open only the outer layer, site keys only the
//! inner one).
//!
//! Input: one mode byte, then:
//! - mode 0: prefix byte, version byte (even: v3, odd: v4), the 33 bytes of the master
//!   payload's fixed part, then the site payload. The target seals the site payload under
//!   key 165 and the master payload (with site key id 165 written in) under key 164, so the
//!   mutated bytes reach both payload readers.
//! - mode 1: prefix byte, version byte, then the whole master payload, sealed under key 164:
//!   the inner layer's key id and ciphertext are the input's.
//! - mode 2 and above: the rest as token text (the golden vectors are seeds).
//!
//! Checked: a token made in modes 0 and 1 fails only with a payload, header, expiry or
//! site-key error, never at the outer layer; one that decodes names keys 164 (and in mode 0
//! 165) and carries the site payload's raw UID; a v3/v4 token that decodes, minted again
//! from its decoded fields under the same keys (other IVs), decodes to the same fields; a
//! v2 token the legacy decoder reads is refused by the operator's decoder.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use euid_crypto::AesGcmKey;
use euid_fuzz::{key_bytes, reached, GOLDEN_MASTER_KEY, GOLDEN_SITE_KEY};
use euid_token::{
    decode_advertising_token, decode_advertising_token_with_legacy, mint_advertising_token,
    AdvertisingToken, AdvertisingTokenFields, Key, KeyStore, TokenError, TokenVersion,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const MASTER_ID: i32 = 164;
const SITE_ID: i32 = 165;
const MASTER_FIXED_LEN: usize = 33;
const SITE_FIXED_LEN: usize = 36;

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
        KeyStore::new(
            vec![],
            vec![
                key(1, -1, [1; 32]),
                key(2, -2, [2; 32]),
                key(3, 2, [3; 32]),
                key(4, 100, [4; 32]),
                key(MASTER_ID, -1, key_bytes(GOLDEN_MASTER_KEY)),
                key(SITE_ID, 9000, key_bytes(GOLDEN_SITE_KEY)),
            ],
        )
        .expect("fixed key store")
    })
}

fn secret(id: i32) -> &'static AesGcmKey {
    keys().key_by_id(id).expect("fixture key").secret()
}

/// Header, then the master payload sealed under key 164, as the version's text.
fn token_text(prefix: u8, version_byte: u8, master_payload: &[u8]) -> String {
    let v4 = version_byte & 1 == 1;
    let mut bytes = vec![prefix, if v4 { 128 } else { 112 }];
    bytes.extend_from_slice(&MASTER_ID.to_be_bytes());
    bytes.extend_from_slice(&secret(MASTER_ID).seal(&[0x11; 12], master_payload));
    if v4 {
        URL_SAFE_NO_PAD.encode(bytes)
    } else {
        STANDARD.encode(bytes)
    }
}

/// Minted again from its fields under the same keys, it decodes to the same token.
fn check_remint(token: &AdvertisingToken, text: &str) {
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
        Ok(token),
        "re-minted token decodes differently: {text}"
    );
}

fn sealed_case(text: &str, prefix: u8, site_payload: Option<&[u8]>) {
    match decode_advertising_token(keys(), text, 0) {
        Ok(token) => {
            reached("a token sealed in the target decodes");
            assert_eq!(token.master_key_id, MASTER_ID);
            if let Some(site) = site_payload {
                assert_eq!(token.site_key_id, SITE_ID);
                assert_eq!(token.raw_uid.as_bytes(), &site[SITE_FIXED_LEN..]);
            }
            check_remint(&token, text);
        }
        Err(
            TokenError::Malformed(_)
            | TokenError::InvalidHeader
            | TokenError::Expired { .. }
            | TokenError::UnknownSiteKey(_),
        ) => reached("the master payload"),
        // A prefix byte of 2 reads as a legacy v2 token, which the operator refuses.
        Err(TokenError::VersionNotSupported) if prefix == 2 => {}
        // The inner layer: only where the input supplies it (mode 1).
        Err(TokenError::Decryption) if site_payload.is_none() => reached("the master payload"),
        Err(e) => panic!("a token sealed under key 164 refused with {e:?}: {text}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 | 1 => {
            let [prefix, version, rest @ ..] = rest else {
                return;
            };
            if mode == 1 {
                sealed_case(&token_text(*prefix, *version, rest), *prefix, None);
                return;
            }
            let Some((fixed, site)) = rest.split_at_checked(MASTER_FIXED_LEN) else {
                return;
            };
            let mut master = fixed.to_vec();
            master[MASTER_FIXED_LEN - 4..].copy_from_slice(&SITE_ID.to_be_bytes());
            master.extend_from_slice(&secret(SITE_ID).seal(&[0x22; 12], site));
            sealed_case(&token_text(*prefix, *version, &master), *prefix, Some(site));
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(token) = decode_advertising_token_with_legacy(keys(), text, 0) {
                reached("a token text that decodes");
                if token.version == TokenVersion::V2 {
                    assert_eq!(
                        decode_advertising_token(keys(), text, 0),
                        Err(TokenError::VersionNotSupported),
                        "the operator's decoder accepted a v2 token"
                    );
                } else {
                    assert_eq!(
                        decode_advertising_token(keys(), text, 0).as_ref(),
                        Ok(&token)
                    );
                    check_remint(&token, text);
                }
            }
        }
    }
});
