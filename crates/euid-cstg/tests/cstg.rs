//! CSTG decoding against a WebCrypto-made vector, every refusal, and round-trip properties.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::BatchedOsRandom;
use euid_cstg::{
    aad_for, decode_request, ClientIdentity, ClientRequest, CstgError, KeypairStore, ServerKeypair,
};
use euid_normalize::IdentityType;
use proptest::prelude::*;
use serde_json::{json, Value};

const HASH: &str = "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=";
const SUB: &str = "Subscr1234";
const ORIGIN: &str = "http://localhost:8080";

fn vector() -> Value {
    serde_json::from_str(include_str!("data/webcrypto_vector.json")).unwrap()
}

fn vector_store(v: &Value, disabled: bool) -> KeypairStore {
    let file = json!([{
        "subscription_id": "WebCrypto1",
        "public_key": v["server_public_key"],
        "private_key": v["server_private_key"],
        "site_id": 999,
        "created": 1_700_000_000,
        "disabled": disabled,
        "domain_names": ["localhost"],
    }]);
    KeypairStore::from_json(file.to_string().as_bytes()).unwrap()
}

fn store_with(app_names: Vec<String>) -> (KeypairStore, String) {
    let mut rng = BatchedOsRandom::new();
    let kp = ServerKeypair::generate(
        SUB,
        42,
        vec!["localhost".into(), "127.0.0.1".into()],
        app_names,
        0,
        &mut rng,
    );
    let public = kp.public_key_text().to_owned();
    let mut store = KeypairStore::new();
    store.insert(kp).unwrap();
    (store, public)
}

fn encode(public: &str, identity: ClientIdentity<'_>, app: Option<&str>) -> ClientRequest {
    ClientRequest::encode(
        public,
        SUB,
        identity,
        1_764_316_800_000,
        app,
        &mut BatchedOsRandom::new(),
    )
    .unwrap()
}

fn with_field(body: &str, field: &str, value: Value) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    v[field] = value;
    v.to_string()
}

fn without_field(body: &str, field: &str) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    v.as_object_mut().unwrap().remove(field);
    v.to_string()
}

#[test]
fn decodes_a_request_made_by_webcrypto_like_the_sdk() {
    let v = vector();
    let store = vector_store(&v, false);
    let body = v["request_body"].as_str().unwrap();
    let decoded = decode_request(&store, body.as_bytes(), Some("http://localhost:3000")).unwrap();
    assert_eq!(decoded.identity.identity_type, IdentityType::Email);
    assert_eq!(decoded.identity.hash, v["email_hash"].as_str().unwrap());
    assert_eq!(decoded.timestamp_ms, v["timestamp"].as_i64().unwrap());
    assert_eq!(decoded.keypair.site_id, 999);
    // Same shared secret as WebCrypto's deriveKey: its sealed answer opens with ours.
    let sealed = STANDARD
        .decode(v["response_sealed_by_webcrypto"].as_str().unwrap())
        .unwrap();
    let opened = decoded.shared_key().open(&sealed).unwrap();
    assert_eq!(opened, v["response_plaintext"].as_str().unwrap().as_bytes());
}

#[test]
fn webcrypto_vector_is_refused_for_a_disabled_keypair_and_other_origins() {
    let v = vector();
    let body = v["request_body"].as_str().unwrap();
    let err = decode_request(&vector_store(&v, true), body.as_bytes(), Some(ORIGIN)).unwrap_err();
    assert_eq!(
        (err.http_status(), err.to_json_body().as_str()),
        (401, r#"{"status":"unauthorized"}"#)
    );
    let store = vector_store(&v, false);
    for origin in [None, Some("http://evil.test"), Some("null")] {
        let err = decode_request(&store, body.as_bytes(), origin).unwrap_err();
        assert_eq!(err, CstgError::InvalidHttpOrigin);
    }
}

#[test]
fn store_json_round_trips_and_keeps_keys_working() {
    let v = vector();
    let store = vector_store(&v, false);
    let again = KeypairStore::from_json(store.to_json_pretty().as_bytes()).unwrap();
    let kp = again.get("WebCrypto1").unwrap();
    assert_eq!(
        kp.public_key_text(),
        v["server_public_key"].as_str().unwrap()
    );
    assert_eq!(kp.domain_names, vec!["localhost".to_owned()]);
    let body = v["request_body"].as_str().unwrap();
    assert!(decode_request(&again, body.as_bytes(), Some(ORIGIN)).is_ok());
    // Private keys never show in Debug.
    let debug = format!("{again:?}");
    let private_b64 = &v["server_private_key"].as_str().unwrap()[9..];
    assert!(!debug.contains(private_b64) && !debug.contains("EUID-Y-L-"));
}

#[test]
fn store_rejects_bad_files() {
    let v = vector();
    let good = json!({
        "subscription_id": "a", "public_key": v["server_public_key"],
        "private_key": v["server_private_key"], "site_id": 1 });
    let mut other = good.clone();
    other["public_key"] =
        json!(
            ServerKeypair::generate("b", 1, vec![], vec![], 0, &mut BatchedOsRandom::new())
                .public_key_text()
        );
    let mut no_prefix = good.clone();
    no_prefix["private_key"] = json!(v["server_private_key"].as_str().unwrap()[9..].to_owned());
    for (file, want) in [
        (json!([other]).to_string(), "public key does not match"),
        (json!([no_prefix]).to_string(), "bad private key"),
        (json!([good, good]).to_string(), "duplicate subscription id"),
        ("{".to_owned(), "invalid JSON"),
    ] {
        let err = KeypairStore::from_json(file.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn a_misplaced_private_key_is_not_quoted_in_the_error() {
    let v = vector();
    let private = v["server_private_key"].as_str().unwrap();
    // The private key where a number belongs: serde would quote it in its message.
    let file = json!([{
        "subscription_id": "a", "public_key": v["server_public_key"],
        "private_key": private, "site_id": private }]);
    let err = KeypairStore::from_json(file.to_string().as_bytes()).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("invalid JSON"), "{text}");
    assert!(!text.contains(&private[9..40]), "{text}");
}

#[test]
fn every_client_error_has_its_exact_message() {
    let (store, public) = store_with(vec![]);
    let body = encode(&public, ClientIdentity::EmailHash(HASH), None).body;
    let other_key = ServerKeypair::generate("x", 1, vec![], vec![], 0, &mut BatchedOsRandom::new());
    let wrong_key_body = encode(
        other_key.public_key_text(),
        ClientIdentity::EmailHash(HASH),
        None,
    )
    .body;
    let wrong_key_body = with_field(&wrong_key_body, "subscription_id", json!(SUB));
    let cases: Vec<(String, &str)> = vec![
        (
            "not json".into(),
            "required parameters: payload, iv, public_key",
        ),
        (
            without_field(&body, "payload"),
            "required parameters: payload, iv, public_key",
        ),
        (
            without_field(&body, "iv"),
            "required parameters: payload, iv, public_key",
        ),
        (
            without_field(&body, "public_key"),
            "required parameters: payload, iv, public_key",
        ),
        (
            without_field(&body, "subscription_id"),
            "bad subscription_id",
        ),
        (
            with_field(&body, "subscription_id", json!("nope")),
            "bad subscription_id",
        ),
        (
            with_field(&body, "public_key", json!("AAAA")),
            "bad public key",
        ),
        (
            with_field(&body, "public_key", json!("!!")),
            "bad public key",
        ),
        (
            with_field(&body, "iv", json!("AAAAAAAAAAAAAAAAAAAA")),
            "bad iv",
        ),
        (with_field(&body, "iv", json!("%%%")), "bad iv"),
        (
            with_field(&body, "timestamp", json!(1)),
            "payload decryption failed",
        ),
        (
            with_field(&body, "payload", json!("AAAA")),
            "payload decryption failed",
        ),
        (
            with_field(&body, "payload", json!("***")),
            "payload decryption failed",
        ),
        (wrong_key_body, "payload decryption failed"),
    ];
    for (case, want) in cases {
        let err = decode_request(&store, case.as_bytes(), Some(ORIGIN)).unwrap_err();
        assert_eq!(err.to_string(), want, "{case}");
        assert_eq!((err.http_status(), err.status()), (400, "client_error"));
        let json: Value = serde_json::from_str(&err.to_json_body()).unwrap();
        assert_eq!(json, json!({"status": "client_error", "message": want}));
    }
}

#[test]
fn payload_contents_are_checked() {
    let (store, public) = store_with(vec![]);
    let request = encode(&public, ClientIdentity::EmailHash(HASH), None);
    let decoded = decode_request(&store, request.body.as_bytes(), Some(ORIGIN)).unwrap();
    let key = decoded.shared_key();
    let ts = 1_764_316_800_000_i64;
    let cases: [(&[u8], &str); 7] = [
        (b"not json", "encrypted payload contains invalid json"),
        (b"[1,2]", "encrypted payload contains invalid json"),
        (
            b"{}",
            "please provide exactly one of: email_hash, phone_hash",
        ),
        (
            br#"{"email":"a@b.c"}"#,
            "please provide exactly one of: email_hash, phone_hash",
        ),
        (
            br#"{"email_hash":"x","phone_hash":"y"}"#,
            "please provide exactly one of: email_hash, phone_hash",
        ),
        (
            br#"{"email_hash":5}"#,
            "please provide exactly one of: email_hash, phone_hash",
        ),
        (
            br#"{"phone_hash":null}"#,
            "please provide exactly one of: email_hash, phone_hash",
        ),
    ];
    for (plaintext, want) in cases {
        let iv = [7u8; 12];
        let mut sealed = Vec::new();
        key.seal_into(&iv, &aad_for(ts, None), plaintext, &mut sealed);
        let body = with_field(
            &request.body,
            "payload",
            json!(STANDARD.encode(&sealed[12..])),
        );
        let body = with_field(&body, "iv", json!(STANDARD.encode(iv)));
        let err = decode_request(&store, body.as_bytes(), Some(ORIGIN)).unwrap_err();
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn app_name_replaces_the_origin_check() {
    let (store, public) = store_with(vec!["com.example.App".into()]);
    let ok = encode(
        &public,
        ClientIdentity::PhoneHash(HASH),
        Some("COM.EXAMPLE.app"),
    );
    let decoded = decode_request(&store, ok.body.as_bytes(), None).unwrap();
    assert_eq!(decoded.identity.identity_type, IdentityType::Phone);
    assert_eq!(decoded.app_name.as_deref(), Some("COM.EXAMPLE.app"));
    let bad = encode(&public, ClientIdentity::EmailHash(HASH), Some("com.other"));
    let err = decode_request(&store, bad.body.as_bytes(), Some(ORIGIN)).unwrap_err();
    assert_eq!(
        (err.http_status(), err.status(), err.to_string().as_str()),
        (403, "invalid_app_name", "unexpected app name")
    );
    // The app name is authenticated: dropping it from the body breaks the AAD.
    let stripped = without_field(&ok.body, "app_name");
    let err = decode_request(&store, stripped.as_bytes(), Some(ORIGIN)).unwrap_err();
    assert_eq!(err, CstgError::PayloadDecryptionFailed);
}

#[test]
fn a_browser_origin_is_checked_even_when_the_body_names_an_app() {
    let (store, public) = store_with(vec!["com.example.App".into()]);
    let request = encode(
        &public,
        ClientIdentity::EmailHash(HASH),
        Some("com.example.App"),
    );
    // A page on another site copies the app name: its Origin gives it away.
    for origin in [
        "https://evil.test",
        "null",
        "http://localhost@evil.test",
        "",
    ] {
        let err = decode_request(&store, request.body.as_bytes(), Some(origin)).unwrap_err();
        assert_eq!(
            (err.http_status(), err.status()),
            (403, "invalid_http_origin"),
            "{origin:?}"
        );
    }
    // A listed origin with a listed app name, and an app without any Origin, both pass.
    assert!(decode_request(&store, request.body.as_bytes(), Some(ORIGIN)).is_ok());
    assert!(decode_request(&store, request.body.as_bytes(), None).is_ok());
    // A web request without an app name needs its Origin.
    let web = encode(&public, ClientIdentity::EmailHash(HASH), None);
    let err = decode_request(&store, web.body.as_bytes(), None).unwrap_err();
    assert_eq!(err, CstgError::InvalidHttpOrigin);
}

#[test]
fn aad_matches_json_stringify() {
    assert_eq!(aad_for(1_764_316_800_123, None), b"[1764316800123]");
    assert_eq!(aad_for(5, Some("a\"b")), br#"[5,"a\"b"]"#);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(hash in "[A-Za-z0-9+/=]{0,64}", phone in any::<bool>(), ts in any::<i64>(),
                  app in proptest::option::of("[ -~]{1,30}"), answer in proptest::collection::vec(any::<u8>(), 0..400)) {
        let apps = app.iter().cloned().collect();
        let (store, public) = store_with(apps);
        let identity = if phone { ClientIdentity::PhoneHash(&hash) } else { ClientIdentity::EmailHash(&hash) };
        let mut rng = BatchedOsRandom::new();
        let request = ClientRequest::encode(&public, SUB, identity, ts, app.as_deref(), &mut rng).unwrap();
        let decoded = decode_request(&store, request.body.as_bytes(), Some(ORIGIN)).unwrap();
        prop_assert_eq!(&decoded.identity.hash, &hash);
        prop_assert_eq!(decoded.identity.identity_type, if phone { IdentityType::Phone } else { IdentityType::Email });
        prop_assert_eq!(decoded.timestamp_ms, ts);
        let sealed = decoded.seal_response(&answer, &mut rng);
        prop_assert_eq!(request.session.open_response(&sealed).unwrap(), answer);
    }

    #[test]
    fn any_payload_bit_flip_is_refused(byte in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (store, public) = store_with(vec![]);
        let request = encode(&public, ClientIdentity::EmailHash(HASH), None);
        let v: Value = serde_json::from_str(&request.body).unwrap();
        let mut payload = STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
        let i = byte.index(payload.len());
        payload[i] ^= 1 << bit;
        let body = with_field(&request.body, "payload", json!(STANDARD.encode(payload)));
        prop_assert_eq!(decode_request(&store, body.as_bytes(), Some(ORIGIN)).unwrap_err(), CstgError::PayloadDecryptionFailed);
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (store, _) = store_with(vec![]);
        let _ = decode_request(&store, &body, Some(ORIGIN));
    }
}
