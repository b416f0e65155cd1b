#![no_main]
//! Refresh tokens behind their AES-GCM layers: the mutated bytes are the inner token's
//! payload and the envelope's JSON, sealed inside the target under the fixture's refresh key
//! (keyset −2), so the payload reader and the envelope JSON parser are what gets fuzzed.
//!
//! Input: one mode byte, then:
//! - mode 0: the inner token's prefix byte and its 90 payload bytes, sealed as a v3 inner
//!   token under refresh key 2. A token that decodes mints again (same key and IV) to a
//!   token that decodes to the same fields, and sealed into a refresh envelope of its own
//!   scope it opens to the same token and `refresh_response_key`. One that does not decode
//!   fails with `InvalidToken` (its payload, prefix or version).
//! - mode 1: the envelope JSON's two strings, 44 bytes of `refresh_response_key` then 168
//!   bytes of refresh token, sealed as a 388-character envelope under refresh key 2. It
//!   opens to exactly what `decode_refresh_token` says of the token, or fails with `Format`
//!   or an `InvalidToken` kind of error, never an envelope-layer one.
//! - mode 2 and above: the rest as text, opened as an envelope and decoded as an inner
//!   token: a typed error or a decode; nothing opens under a key outside keyset −2.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::AesGcmKey;
use euid_fuzz::{reached, GOLDEN_REFRESH_RESPONSE_KEY};
use euid_token::{
    decode_refresh_token, open_refresh_envelope, seal_refresh_envelope, IdentityScope, Key,
    KeyStore, RefreshError, RefreshErrorKind, REFRESH_ENVELOPE_LEN,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const REFRESH_KEY_ID: i32 = 2;
const IV: [u8; 12] = [0x42; 12];

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
        // Only key 2 is a refresh key; 1 is master, 3 and 4 site keys.
        KeyStore::new(vec![], vec![key(1, -1), key(2, -2), key(3, 2), key(4, 100)])
            .expect("fixed key store")
    })
}

fn refresh_key() -> &'static Key {
    keys().key_by_id(REFRESH_KEY_ID).expect("refresh key")
}

/// A v3 inner refresh token around `payload`: prefix, version 112, key id, then AES-GCM.
fn inner_token(prefix: u8, payload: &[u8]) -> String {
    let mut bytes = vec![prefix, 112];
    bytes.extend_from_slice(&REFRESH_KEY_ID.to_be_bytes());
    bytes.extend_from_slice(&refresh_key().secret().seal(&IV, payload));
    STANDARD.encode(bytes)
}

fn scope_of(byte: u8) -> IdentityScope {
    if byte & 1 == 0 {
        IdentityScope::Uid2
    } else {
        IdentityScope::Euid
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => {
            let Some((&prefix, rest)) = rest.split_first() else {
                return;
            };
            let Some(payload) = rest.get(..90) else {
                return;
            };
            let inner = inner_token(prefix, payload);
            let token = match decode_refresh_token(keys(), &inner) {
                Ok(token) => token,
                Err(e) => {
                    assert!(matches!(e, RefreshError::InvalidToken(_)), "{e:?}");
                    return;
                }
            };
            reached("the inner refresh token payload");
            assert_eq!(token.key_id, REFRESH_KEY_ID);
            let again = euid_token::mint_refresh_token(&token, refresh_key(), &IV);
            assert_eq!(
                decode_refresh_token(keys(), &again).as_ref(),
                Ok(&token),
                "a re-minted refresh token decodes differently"
            );
            let envelope = seal_refresh_envelope(
                token.scope,
                refresh_key(),
                &inner,
                GOLDEN_REFRESH_RESPONSE_KEY,
                &IV,
            );
            assert_eq!(envelope.len(), REFRESH_ENVELOPE_LEN);
            let opened = open_refresh_envelope(keys(), &envelope).expect("own envelope opens");
            assert_eq!(opened.token, token);
            assert_eq!(
                opened.refresh_response_key.expose_secret_base64(),
                GOLDEN_REFRESH_RESPONSE_KEY
            );
        }
        1 => {
            let (Some(rrk), Some(inner)) = (rest.get(..44), rest.get(44..212)) else {
                return;
            };
            let (Ok(rrk), Ok(inner)) = (std::str::from_utf8(rrk), std::str::from_utf8(inner))
            else {
                return;
            };
            let scope = scope_of(rest.get(212).copied().unwrap_or(1));
            let envelope = seal_refresh_envelope(scope, refresh_key(), inner, rrk, &IV);
            assert_eq!(envelope.len(), REFRESH_ENVELOPE_LEN);
            match open_refresh_envelope(keys(), &envelope) {
                Ok(opened) => {
                    reached("the refresh envelope JSON and its token");
                    assert_eq!(
                        decode_refresh_token(keys(), inner).as_ref(),
                        Ok(&opened.token),
                        "the envelope's token differs from the token decoded alone"
                    );
                    assert_eq!(opened.token.scope, scope);
                }
                Err(RefreshError::Format) => reached("the refresh envelope JSON"),
                Err(e) => {
                    reached("the refresh envelope JSON");
                    assert_eq!(e.kind(), RefreshErrorKind::InvalidToken, "{e:?}");
                }
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            match open_refresh_envelope(keys(), text) {
                Ok(opened) => {
                    reached("a raw refresh envelope that opens");
                    assert_eq!(opened.token.key_id, REFRESH_KEY_ID);
                }
                Err(RefreshError::UnknownKey(id)) => {
                    assert!(keys().key_by_id(id).is_none_or(|k| k.id != REFRESH_KEY_ID))
                }
                Err(_) => {}
            }
            if let Ok(token) = decode_refresh_token(keys(), text) {
                reached("a raw inner refresh token that decodes");
                assert_eq!(token.key_id, REFRESH_KEY_ID, "opened outside keyset -2");
            }
        }
    }
});
