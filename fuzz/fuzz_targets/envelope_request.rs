#![no_main]
//! Request envelopes, sealed with the golden client secret of `testdata/` so the mutated
//! bytes reach the timestamp and JSON checks behind AES-GCM.
//!
//! Input: one mode byte, then the plaintext JSON (or, in raw mode, the whole body).
//! - bits 0–1: 0 seal and open as base64 text; 1 seal and open as binary; 2 seal, flip one
//!   byte after the version byte (at the index in the next input byte), open as base64
//!   text; 3 raw: the rest is the body, opened both ways at the golden vector's clock.
//! - bits 2–4 (sealed modes): the request's timestamp relative to "now": on either edge of
//!   the ±120 s window, or far away.
//!
//! Checked: a sealed request opens iff its timestamp is in the window and its JSON is empty
//! or an object, else with exactly `Timestamp` / `PayloadNotJsonObject`; what opens gives
//! back the timestamp, nonce and JSON sealed, and the response encoding asked for; every
//! JSON object serde_json reads is accepted; a tampered envelope is `Decryption`; a raw body
//! is `BodyMissing` iff empty, and what opens is empty or an object.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::BatchedOsRandom;
use euid_envelope::{
    open_request, seal_request, BodyEncoding, ClientSecret, RequestError, SkewPolicy,
};
use euid_fuzz::{key_bytes, reached, GOLDEN_CLIENT_SECRET, GOLDEN_NONCE, GOLDEN_TIMESTAMP_MS};
use libfuzzer_sys::fuzz_target;

const OFFSETS: [i64; 8] = [
    0,
    -120_000,
    120_000,
    -120_001,
    120_001,
    -86_400_000,
    i64::MIN / 2,
    i64::MAX / 2,
];

fn is_object(json: &[u8]) -> bool {
    std::str::from_utf8(json).is_ok()
        && serde_json::from_slice::<serde_json::Value>(json).is_ok_and(|v| v.is_object())
}

fn starts_like_object(json: &[u8]) -> bool {
    json.trim_ascii_start().first() == Some(&b'{') && std::str::from_utf8(json).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let secret = ClientSecret::from_bytes(key_bytes(GOLDEN_CLIENT_SECRET));
    let skew = SkewPolicy::default();
    let now = GOLDEN_TIMESTAMP_MS;

    if mode & 3 == 3 {
        for encoding in [BodyEncoding::Base64Text, BodyEncoding::Binary] {
            match open_request(rest, encoding, &secret, now, &skew) {
                Ok(opened) => {
                    assert!(opened.json.is_empty() || starts_like_object(&opened.json));
                    reached("a raw body that authenticates");
                }
                Err(e) => assert_eq!(
                    e == RequestError::BodyMissing,
                    rest.is_empty(),
                    "{e:?} for a body of {} bytes",
                    rest.len()
                ),
            }
        }
        return;
    }

    let timestamp = now + OFFSETS[usize::from(mode >> 2) & 7];
    let mut rng = BatchedOsRandom::new();
    let mut sealed = seal_request(&secret, timestamp, GOLDEN_NONCE, rest, &mut rng);
    let encoding = if mode & 3 == 1 {
        BodyEncoding::Binary
    } else {
        BodyEncoding::Base64Text
    };
    if mode & 3 == 2 {
        // Anything after the version byte: IV, ciphertext or tag.
        let index = 1 + usize::from(rest.first().copied().unwrap_or(0)) % (sealed.len() - 1);
        sealed[index] ^= 0x01;
        let body = STANDARD.encode(&sealed);
        assert_eq!(
            open_request(body.as_bytes(), encoding, &secret, now, &skew),
            Err(RequestError::Decryption),
            "a tampered envelope (byte {index})"
        );
        return;
    }
    let body = match encoding {
        BodyEncoding::Binary => sealed,
        BodyEncoding::Base64Text => STANDARD.encode(&sealed).into_bytes(),
    };
    let result = open_request(&body, encoding, &secret, now, &skew);
    if !skew.allows(timestamp, now) {
        assert_eq!(
            result,
            Err(RequestError::Timestamp),
            "timestamp {timestamp}"
        );
        return;
    }
    match result {
        Ok(opened) => {
            reached("the request JSON check");
            assert_eq!(opened.timestamp_ms, timestamp);
            assert_eq!(opened.nonce, GOLDEN_NONCE);
            assert_eq!(opened.json, rest, "the JSON differs from what was sealed");
            assert_eq!(opened.response_encoding, encoding);
            assert!(
                rest.is_empty() || starts_like_object(rest),
                "accepted a non-object"
            );
        }
        Err(RequestError::PayloadNotJsonObject) => {
            reached("the request JSON check");
            assert!(!rest.is_empty(), "refused an empty payload");
            assert!(!is_object(rest), "refused a JSON object serde_json reads");
        }
        Err(e) => panic!("a sealed in-window request refused with {e:?}"),
    }
});
