//! Cross-checks with the official Python SDK `uid2-client` (PyPI, pinned in
//! `scripts/test-setup.sh`) through `tests/interop/sdk_client.py`: sharing tokens
//! [`SharingClient`] encrypts decrypt in the SDK and the SDK's decrypt here; for the same
//! tokens, keys and time both SDKs give the same raw UIDs and the same statuses where the
//! Python SDK checks (expired, not authorized for key, version not supported). Where it raises
//! instead of answering (a tampered token) this crate answers `InvalidPayload`; the domain
//! check the Python SDK skips is covered in tests/operator.rs. `docs/INTEROP.md` lists both.
//!
//! Without the interop venv these tests fail; outside CI, `EUID_SKIP_INTEROP=1` makes them
//! skip with a notice instead.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_client::transport::{Retry, Transport, TransportConfig};
use euid_client::{
    decrypt_token, encrypt_raw_uid, ClientSecret, ClientType, DecryptionStatus, EnvelopeRequest,
    KeySnapshot, SharingClient,
};
use euid_test_support::{interop_python, now_ms, run_interop_script, TestServer};
use serde_json::{json, Value};

fn sdk(python: &std::path::Path, command: &str, request: &Value) -> Vec<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/sdk_client.py");
    match run_interop_script(python, &script, command, request) {
        Value::Array(answers) => answers,
        other => panic!("not a list: {other}"),
    }
}

/// The Python SDK's name for one of our statuses (`NotAuthorizedForKey` →
/// `NOT_AUTHORIZED_FOR_KEY`).
fn python_name(status: DecryptionStatus) -> String {
    let mut out = String::new();
    for (i, c) in format!("{status:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Distinct raw UIDs (base64 of 32 bytes), as identity map answers them.
fn raw_uids(n: u8) -> Vec<String> {
    (0..n)
        .map(|i| STANDARD.encode([i.wrapping_mul(37).wrapping_add(1); 32]))
        .collect()
}

#[test]
fn sharing_tokens_cross_between_the_sdks_with_keys_from_the_operator() {
    let Some(python) = interop_python("the euid-client SDK cross-checks") else {
        return;
    };
    let server = TestServer::start(Default::default());
    let (url, api_key, secret) = server.creds();
    let sharer = SharingClient::new(&url, &api_key, &secret).unwrap();
    sharer.refresh().unwrap();

    // The same /v2/key/sharing body, whole, for the Python SDK.
    let secret_key = ClientSecret::from_base64(&secret).unwrap();
    let transport = Transport::new(&url, &api_key, TransportConfig::default()).unwrap();
    let request = EnvelopeRequest::seal(
        &secret_key,
        "/v2/key/sharing",
        b"",
        now_ms(),
        &mut euid_crypto::BatchedOsRandom::new(),
    );
    let answer = transport
        .post(request.path, &request.body, Retry::Idempotent)
        .unwrap();
    let body = request
        .open(&secret_key, answer.status, &answer.body)
        .unwrap()
        .into_success_body()
        .unwrap();

    let uids = raw_uids(6);
    // Ours → theirs.
    let ours: Vec<String> = uids
        .iter()
        .map(|u| sharer.encrypt_raw_uid_into_token(u).unwrap())
        .collect();
    let decrypted = sdk(
        &python,
        "decrypt",
        &json!({"key_response": body, "client": "sharing", "tokens": ours}),
    );
    assert_eq!(decrypted.len(), uids.len());
    for (d, uid) in decrypted.iter().zip(&uids) {
        assert_eq!(d["status"], "SUCCESS", "{d}");
        assert_eq!(d["uid"], uid.as_str());
    }

    // Theirs → ours.
    let theirs = sdk(
        &python,
        "encrypt",
        &json!({"key_response": body, "raw_uids": uids}),
    );
    assert_eq!(theirs.len(), uids.len());
    for (t, uid) in theirs.iter().zip(&uids) {
        assert_eq!(t["status"], "SUCCESS", "{t}");
        let out = sharer.decrypt_token_into_raw_uid(t["token"].as_str().unwrap());
        assert_eq!(out.status, DecryptionStatus::Success);
        assert_eq!(out.uid.as_deref(), Some(uid.as_str()));
    }
}

/// A sharing key answer: master keyset 1 (key 101), site keysets 20 (key 201, the default)
/// and 40 (key 401, left out of `without_401`).
fn key_body(with_401: bool) -> Value {
    let key = |id: i32, keyset: i32, secret: u8| {
        json!({"id": id, "keyset_id": keyset, "created": 1_600_000_000, "activates": 1_600_000_000,
               "expires": 2_500_000_000_i64, "secret": STANDARD.encode([secret; 32])})
    };
    let mut keys = vec![key(101, 1, 11), key(201, 20, 22)];
    if with_401 {
        keys.push(key(401, 40, 44));
    }
    json!({
        "identity_scope": "EUID", "caller_site_id": 9000, "master_keyset_id": 1,
        "default_keyset_id": 20, "token_expiry_seconds": "2592000",
        "max_sharing_lifetime_seconds": 2_592_010, "allow_clock_skew_seconds": 1800,
        "keys": keys,
    })
}

#[test]
fn both_sdks_answer_the_same_status_where_the_python_sdk_checks() {
    let Some(python) = interop_python("the euid-client SDK cross-checks") else {
        return;
    };
    let mut rng = euid_crypto::BatchedOsRandom::new();
    let full = KeySnapshot::from_body(&key_body(true)).unwrap();
    let partial = KeySnapshot::from_body(&key_body(false)).unwrap();
    let minted_ms = 1_700_000_000_000;
    let uids = raw_uids(2);
    let mut token = |uid: &str, keyset: Option<i32>| {
        encrypt_raw_uid(Some(&full), uid, keyset, minted_ms, &mut rng).unwrap()
    };
    let default_keyset = token(&uids[0], None);
    let other_keyset = token(&uids[1], Some(40));
    // A version byte no SDK knows, in a token-sized payload.
    let mut unknown = vec![0x55u8; 150];
    unknown[0] = 0x01;
    let unknown_version = STANDARD.encode(&unknown);
    let tokens = [default_keyset.clone(), other_keyset, unknown_version];

    // (decrypt time, keys): live, after the 30-day expiry, and without keyset 40's key.
    let expired_ms = minted_ms + 2_592_000_000 + 1_000;
    let cases = [
        (
            minted_ms + 60_000,
            true,
            ["SUCCESS", "SUCCESS", "VERSION_NOT_SUPPORTED"],
        ),
        (
            expired_ms,
            true,
            ["EXPIRED_TOKEN", "EXPIRED_TOKEN", "VERSION_NOT_SUPPORTED"],
        ),
        (
            minted_ms + 60_000,
            false,
            ["SUCCESS", "NOT_AUTHORIZED_FOR_KEY", "VERSION_NOT_SUPPORTED"],
        ),
    ];
    for (now_ms, with_401, expected) in cases {
        let snapshot = if with_401 { &full } else { &partial };
        let theirs = sdk(
            &python,
            "decrypt",
            &json!({"key_response": key_body(with_401), "client": "sharing",
                    "now_ms": now_ms, "tokens": tokens}),
        );
        assert_eq!(theirs.len(), tokens.len());
        for (i, (token, their)) in tokens.iter().zip(&theirs).enumerate() {
            let ours = decrypt_token(Some(snapshot), token, None, ClientType::Sharing, now_ms);
            assert_eq!(
                their["status"], expected[i],
                "token {i} at {now_ms}: {their}"
            );
            assert_eq!(
                python_name(ours.status),
                expected[i],
                "token {i} at {now_ms}"
            );
            // Same raw UID where both succeed, none where both fail.
            assert_eq!(their["uid"].as_str(), ours.uid.as_deref(), "token {i}");
        }
    }

    // A tampered token: the Python SDK raises; ours answers InvalidPayload.
    let tampered = tamper(&default_keyset);
    let theirs = sdk(
        &python,
        "decrypt",
        &json!({"key_response": key_body(true), "client": "sharing",
                "now_ms": minted_ms + 60_000, "tokens": [tampered]}),
    );
    assert!(theirs[0].get("raised").is_some(), "{}", theirs[0]);
    let ours = decrypt_token(
        Some(&full),
        &tampered,
        None,
        ClientType::Sharing,
        minted_ms + 60_000,
    );
    assert_eq!(ours.status, DecryptionStatus::InvalidPayload);
    assert_eq!(ours.uid, None);
}

/// The token with its last byte (in the GCM tag) flipped; v4 tokens are base64url without
/// padding.
fn tamper(token: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = URL_SAFE_NO_PAD.decode(token).expect("a v4 token");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    URL_SAFE_NO_PAD.encode(bytes)
}
