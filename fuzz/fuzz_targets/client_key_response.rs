#![no_main]
//! euid-client's key answers (`/v2/key/bidstream`, `/v2/key/sharing`): the mutated bytes are
//! the decrypted JSON, sealed here under the golden client secret with the nonce of a request
//! `EnvelopeRequest::seal` made, so they reach `EnvelopeRequest::open`'s JSON read and
//! `KeySnapshot::from_body` behind the crypto.
//!
//! Input: the answer's JSON.
//!
//! Checked: the sealed answer always opens (only the JSON may be refused, as
//! `ClientError::InvalidResponse`); a body is read into a snapshot or refused as
//! `ClientError::Keys`, never anything else; a snapshot holds every key the body lists by id;
//! a raw UID encrypted with a snapshot decrypts with it (bidstream and sharing) to that raw
//! UID or to a status, never `InvalidPayload` or `VersionNotSupported`; decrypting arbitrary
//! text against it answers a status.

use euid_client::{
    decrypt_token, encrypt_raw_uid, ClientError, ClientSecret, ClientType, DecryptionStatus,
    EnvelopeRequest, KeySnapshot,
};
use euid_crypto::BatchedOsRandom;
use euid_envelope::BodyEncoding;
use euid_fuzz::{key_bytes, reached, seal_answer, GOLDEN_CLIENT_SECRET, GOLDEN_TIMESTAMP_MS};
use libfuzzer_sys::fuzz_target;

const RAW_UID: &str = "EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb";

fuzz_target!(|data: &[u8]| {
    let secret = ClientSecret::from_bytes(key_bytes(GOLDEN_CLIENT_SECRET));
    let mut rng = BatchedOsRandom::new();
    let now = GOLDEN_TIMESTAMP_MS;
    let request = EnvelopeRequest::seal(&secret, "/v2/key/sharing", b"", now, &mut rng);
    let answer = seal_answer(&secret, &request.body, BodyEncoding::Base64Text, now, data);
    let response = match request.open(&secret, 200, &answer) {
        Ok(response) => response,
        Err(ClientError::InvalidResponse(_)) => return,
        Err(other) => panic!("a sealed answer did not open: {other:?}"),
    };
    reached("the key answer's JSON");
    let snapshot = match KeySnapshot::from_body(&response.body) {
        Ok(snapshot) => snapshot,
        Err(ClientError::Keys(_)) => return,
        Err(other) => panic!("a key answer refused with {other:?}"),
    };
    reached("a key snapshot");
    if let Some(keys) = response.body.get("keys").and_then(|k| k.as_array()) {
        for key in keys {
            let id = key["id"].as_i64().expect("a parsed key has an integer id");
            let id = i32::try_from(id).expect("a parsed key id fits i32");
            assert!(
                snapshot.key_store().key_by_id(id).is_some(),
                "key {id} lost"
            );
        }
    }
    for client in [ClientType::Sharing, ClientType::Bidstream] {
        let garbage = String::from_utf8_lossy(data);
        let out = decrypt_token(Some(&snapshot), &garbage, Some("example.com"), client, now);
        // A raw UID comes back exactly with success.
        assert_eq!(out.is_success(), out.uid.is_some(), "{:?}", out.status);
    }
    if let Ok(token) = encrypt_raw_uid(Some(&snapshot), RAW_UID, None, now, &mut rng) {
        reached("a token encrypted with the snapshot");
        for client in [ClientType::Sharing, ClientType::Bidstream] {
            let out = decrypt_token(Some(&snapshot), &token, None, client, now);
            assert!(
                !matches!(
                    out.status,
                    DecryptionStatus::InvalidPayload | DecryptionStatus::VersionNotSupported
                ),
                "our own token: {:?}",
                out.status
            );
            if out.is_success() {
                assert_eq!(out.uid.as_deref(), Some(RAW_UID));
            }
        }
    }
});
