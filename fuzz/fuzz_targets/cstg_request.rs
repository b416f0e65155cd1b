#![no_main]
//! Any body: decode_request returns a typed error or a request, never panics; the keypairs
//! file parser likewise. The keypair is the WebCrypto vector's, so seeds made from that
//! request reach the ECDH and GCM steps.
//!
//! A request that decodes names a keypair of the store, and a response sealed for it opens
//! with the request's shared key. The input as an `Origin` header value: the origin check
//! ignores case and allows nothing against an empty domain list.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::BatchedOsRandom;
use euid_cstg::{app_name_allowed, decode_request, origin_allowed, KeypairStore};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const PUBLIC: &str = "EUID-X-L-MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeHLpW9mMUl57JmVEavzln9X23MW+l1Cn+IK3BdWHw8DT/dj2CQC0hlyKtUUf80Y9K+wc9yoi6qUjYeiVOc+L6w==";
const PRIVATE: &str = "EUID-Y-L-MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7GVtmZngoX5I7kFmiS50WbzXi3DXJjHfNVvNmgl9PJmhRANCAAR4culb2YxSXnsmZURq/OWf1fbcxb6XUKf4grcF1YfDwNP92PYJALSGXIq1RR/zRj0r7Bz3KiLqpSNh6JU5z4vr";

fn store() -> &'static KeypairStore {
    static STORE: OnceLock<KeypairStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let file = format!(
            r#"[{{"subscription_id":"WebCrypto1","public_key":"{PUBLIC}","private_key":"{PRIVATE}","site_id":999,"domain_names":["localhost"],"app_names":["com.example.app"]}}]"#
        );
        KeypairStore::from_json(file.as_bytes()).expect("fuzz keypair")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = decode_request(store(), data, Some("http://localhost:3000")) {
        let subscription = &decoded.keypair.subscription_id;
        assert!(
            store().get(subscription).is_some(),
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
    let _ = decode_request(store(), data, None);
    let _ = KeypairStore::from_json(data);

    let text = String::from_utf8_lossy(data);
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
