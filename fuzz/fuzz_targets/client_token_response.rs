#![no_main]
//! euid-client's publisher answers: `/v2/token/generate` (sealed under the golden client
//! secret with the request's nonce), `/v2/token/refresh` (sealed under the golden
//! `refresh_response_key`), and the identity JSON the browser SDK stores
//! (`IdentityTokens::from_json_str`), so mutated bytes reach the JSON readers behind the
//! crypto.
//!
//! Input: one mode byte, then the JSON. Mode % 3: 0 generate answer, 1 refresh answer,
//! 2 stored identity.
//!
//! Checked: a sealed answer always opens; the answer is read into a `TokenResponse` or refused
//! as `InvalidResponse`, `UnexpectedStatus` or (refresh) `NotRefreshable`, never anything else;
//! an identity read from an answer or from stored JSON round-trips through
//! `to_json_string`/`from_json_str`; a refreshed identity is refreshable at the time it was
//! read; the verbatim opener (`open_json`, `open_refresh_json`) returns exactly the sealed bytes.

use euid_client::{
    open_refresh, open_refresh_json, ClientError, ClientSecret, EnvelopeRequest, IdentityTokens,
    TokenResponse,
};
use euid_crypto::{AesGcmKey, BatchedOsRandom};
use euid_envelope::{seal_refresh_response, BodyEncoding};
use euid_fuzz::{
    key_bytes, reached, seal_answer, GOLDEN_CLIENT_SECRET, GOLDEN_REFRESH_RESPONSE_KEY,
    GOLDEN_TIMESTAMP_MS,
};
use libfuzzer_sys::fuzz_target;

fn check_identity(identity: &IdentityTokens) {
    let again = IdentityTokens::from_json_str(&identity.to_json_string())
        .expect("an identity's own JSON reads back");
    assert_eq!(&again, identity);
}

fn check_read(read: Result<TokenResponse, ClientError>, refresh: bool, now: i64) {
    match read {
        Ok(response) => {
            reached("a token answer read");
            if let Some(identity) = response.identity() {
                check_identity(identity);
                if refresh {
                    assert!(identity.is_refreshable(now));
                }
            }
        }
        Err(ClientError::InvalidResponse(_) | ClientError::UnexpectedStatus(_)) => {}
        Err(ClientError::NotRefreshable) if refresh => {}
        Err(other) => panic!("a token answer refused with {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, json)) = data.split_first() else {
        return;
    };
    let now = GOLDEN_TIMESTAMP_MS;
    let mut rng = BatchedOsRandom::new();
    match mode % 3 {
        0 => {
            let secret = ClientSecret::from_bytes(key_bytes(GOLDEN_CLIENT_SECRET));
            let request =
                EnvelopeRequest::seal(&secret, "/v2/token/generate", b"{}", now, &mut rng);
            let answer = seal_answer(&secret, &request.body, BodyEncoding::Base64Text, now, json);
            let verbatim = request
                .open_json(&secret, 200, &answer)
                .expect("a sealed answer opens");
            assert_eq!(verbatim, json);
            reached("the generate answer's JSON");
            check_read(
                request
                    .open(&secret, 200, &answer)
                    .and_then(TokenResponse::from_generate),
                false,
                now,
            );
        }
        1 => {
            let key = AesGcmKey::from_bytes(key_bytes(GOLDEN_REFRESH_RESPONSE_KEY));
            let answer = seal_refresh_response(&key, json, &mut rng);
            let verbatim = open_refresh_json(&key, 200, &answer).expect("a sealed answer opens");
            assert_eq!(verbatim, json);
            reached("the refresh answer's JSON");
            check_read(
                open_refresh(&key, 200, &answer).and_then(|r| TokenResponse::from_refresh(r, now)),
                true,
                now,
            );
        }
        _ => {
            let Ok(text) = std::str::from_utf8(json) else {
                return;
            };
            match IdentityTokens::from_json_str(text) {
                Ok(identity) => {
                    reached("a stored identity");
                    check_identity(&identity);
                    // The key opens exactly when the stored field is base64 of 32 bytes.
                    let stored: serde_json::Value =
                        serde_json::from_str(text).expect("a read identity is JSON");
                    // (A trailing line break is allowed, as for every key the crates read.)
                    let is_key = stored["refresh_response_key"].as_str().is_some_and(|k| {
                        base64::Engine::decode(
                            &base64::engine::general_purpose::STANDARD,
                            k.trim_end_matches(['\n', '\r']),
                        )
                        .is_ok_and(|b| b.len() == 32)
                    });
                    assert_eq!(identity.refresh_response_key().is_ok(), is_key, "{stored}");
                }
                Err(ClientError::InvalidResponse(_)) => {}
                Err(other) => panic!("a stored identity refused with {other:?}"),
            }
        }
    }
});
