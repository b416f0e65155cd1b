#![no_main]
//! `/v2/token/client-generate` bodies, with the decrypted payload as the fuzzed part. The
//! keypair is the WebCrypto vector's. A fixture request (made with `ClientRequest::encode`)
//! gives a client public key and the ECDH key it shares with the server; the target seals
//! each input's payload under that key with the request's AAD, so the payload parser sees
//! the mutated bytes.
//!
//! Input: one mode byte, then:
//! - mode 0 / 1: the payload plaintext, sent with the `Origin` header (0) or with an
//!   `app_name` (1). The request decodes iff the payload is a JSON object with exactly one
//!   non-null `email_hash` / `phone_hash`, a string, and then carries that string; else it
//!   fails with `InvalidPayloadJson` (not a JSON object) or `ExactlyOneHash`. A payload
//!   sealed with another AAD (the app name added or dropped) is `PayloadDecryptionFailed`.
//! - mode 2 and above: the rest is the whole body, decoded with and without an `Origin`:
//!   a request that decodes names a keypair of the store, and a response sealed for it
//!   opens with the request's shared key; the keypairs-file parser gets the same bytes.
//!
//! Every mode: the input as an `Origin` header value: the origin check ignores case and
//! allows nothing against an empty domain list.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, BatchedOsRandom};
use euid_cstg::{
    aad_for, app_name_allowed, decode_request, origin_allowed, ClientIdentity, ClientRequest,
    CstgError, KeypairStore,
};
use euid_fuzz::reached;
use euid_normalize::IdentityType;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

const PUBLIC: &str = "EUID-X-L-MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeHLpW9mMUl57JmVEavzln9X23MW+l1Cn+IK3BdWHw8DT/dj2CQC0hlyKtUUf80Y9K+wc9yoi6qUjYeiVOc+L6w==";
const PRIVATE: &str = "EUID-Y-L-MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7GVtmZngoX5I7kFmiS50WbzXi3DXJjHfNVvNmgl9PJmhRANCAAR4culb2YxSXnsmZURq/OWf1fbcxb6XUKf4grcF1YfDwNP92PYJALSGXIq1RR/zRj0r7Bz3KiLqpSNh6JU5z4vr";
const SUBSCRIPTION: &str = "WebCrypto1";
const ORIGIN: &str = "http://localhost:3000";
const APP: &str = "com.example.app";
const TIMESTAMP: i64 = 1_764_316_800_123;

struct Fixture {
    store: KeypairStore,
    client_public_key: String,
    shared_key: AesGcmKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let file = format!(
            r#"[{{"subscription_id":"{SUBSCRIPTION}","public_key":"{PUBLIC}","private_key":"{PRIVATE}","site_id":999,"domain_names":["localhost"],"app_names":["{APP}"]}}]"#
        );
        let store = KeypairStore::from_json(file.as_bytes()).expect("fuzz keypair");
        let request = ClientRequest::encode(
            PUBLIC,
            SUBSCRIPTION,
            ClientIdentity::EmailHash("tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="),
            TIMESTAMP,
            None,
            &mut BatchedOsRandom::new(),
        )
        .expect("fixture request");
        let body: Value = serde_json::from_str(&request.body).expect("fixture body");
        let client_public_key = body["public_key"].as_str().expect("public_key").to_owned();
        let shared_key = decode_request(&store, request.body.as_bytes(), Some(ORIGIN))
            .expect("the fixture request decodes")
            .shared_key()
            .clone();
        Fixture {
            store,
            client_public_key,
            shared_key,
        }
    })
}

/// A body around `payload`, sealed with AAD for `sealed_app`, sent with `sent_app`.
fn body(payload: &[u8], sealed_app: Option<&str>, sent_app: Option<&str>) -> Vec<u8> {
    let f = fixture();
    let iv = [0x33; 12];
    let mut sealed = Vec::new();
    f.shared_key
        .seal_into(&iv, &aad_for(TIMESTAMP, sealed_app), payload, &mut sealed);
    let mut body = serde_json::json!({
        "payload": STANDARD.encode(&sealed[12..]),
        "iv": STANDARD.encode(iv),
        "public_key": f.client_public_key,
        "timestamp": TIMESTAMP,
        "subscription_id": SUBSCRIPTION,
    });
    if let Some(app) = sent_app {
        body["app_name"] = app.into();
    }
    serde_json::to_vec(&body).expect("body serializes")
}

/// What the payload rule (`wire.md` §7) says of a payload.
fn expected(payload: &[u8]) -> Result<(IdentityType, String), CstgError> {
    let Some(object) = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| v.as_object().cloned())
    else {
        return Err(CstgError::InvalidPayloadJson);
    };
    let field = |name: &str| object.get(name).filter(|v| !v.is_null()).cloned();
    match (field("email_hash"), field("phone_hash")) {
        (Some(Value::String(h)), None) => Ok((IdentityType::Email, h)),
        (None, Some(Value::String(h))) => Ok((IdentityType::Phone, h)),
        _ => Err(CstgError::ExactlyOneHash),
    }
}

fn payload_case(payload: &[u8], app: Option<&str>) {
    let f = fixture();
    let origin = app.is_none().then_some(ORIGIN);
    let got = decode_request(&f.store, &body(payload, app, app), origin)
        .map(|d| (d.identity.identity_type, d.identity.hash.clone()));
    reached("the decrypted CSTG payload");
    assert_eq!(
        got,
        expected(payload),
        "payload {:?}",
        String::from_utf8_lossy(payload)
    );
    // The AAD binds the app name: sealed for one, sent with the other, it does not open.
    let other = if app.is_some() { None } else { Some(APP) };
    assert_eq!(
        decode_request(&f.store, &body(payload, other, app), origin).map(|_| ()),
        Err(CstgError::PayloadDecryptionFailed)
    );
}

fn raw_case(data: &[u8]) {
    let store = &fixture().store;
    if let Ok(decoded) = decode_request(store, data, Some(ORIGIN)) {
        reached("a raw CSTG body that decodes");
        let subscription = &decoded.keypair.subscription_id;
        assert!(
            store.get(subscription).is_some(),
            "decoded for an unknown keypair"
        );
        let sealed =
            decoded.seal_response(b"{\"status\":\"success\"}", &mut BatchedOsRandom::new());
        let sealed = STANDARD
            .decode(sealed)
            .expect("a sealed response is base64");
        assert_eq!(
            decoded.shared_key().open(&sealed).as_deref(),
            Ok(&b"{\"status\":\"success\"}"[..]),
            "a response does not open with the request's key"
        );
    }
    let _ = decode_request(store, data, None);
    let _ = KeypairStore::from_json(data);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => payload_case(rest, None),
        1 => payload_case(rest, Some(APP)),
        _ => raw_case(rest),
    }

    let text = String::from_utf8_lossy(rest);
    let domains = ["localhost".to_owned(), "Example.com.".to_owned()];
    let allowed = origin_allowed(&text, &domains);
    assert_eq!(
        origin_allowed(&text.to_ascii_uppercase(), &domains),
        allowed,
        "the origin check depends on case"
    );
    assert!(!origin_allowed(&text, &[]));
    let _ = app_name_allowed(&text, &domains);
});
