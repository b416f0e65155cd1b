//! `Debug` of opened envelopes shows no JSON: a request holds identities, a response tokens.

use euid_crypto::BatchedOsRandom;
use euid_envelope::{
    open_request, open_response, seal_request, seal_response, BodyEncoding, ClientSecret,
    SkewPolicy,
};
use euid_test_support::now_ms;

const SECRET: &str = "ioG0j1dtiNYgRY3xs7mP0bV8ggxE/Qv4ho+bFyMRQXs=";

#[test]
fn opened_requests_and_responses_do_not_debug_their_json() {
    let secret = ClientSecret::from_base64(SECRET).unwrap();
    let mut rng = BatchedOsRandom::new();
    let now = now_ms();
    let request_json = br#"{"email":"debug.person@example.com"}"#;
    let sealed = seal_request(&secret, now, [1; 8], request_json, &mut rng);
    let opened = open_request(
        &sealed,
        BodyEncoding::Binary,
        &secret,
        now,
        &SkewPolicy::default(),
    )
    .unwrap();
    assert_eq!(opened.json, request_json);
    let debug = format!("{opened:?}");
    assert!(!debug.contains("debug.person"), "{debug}");
    // Nor as the byte list a derived Debug of Vec<u8> prints.
    assert!(!debug.contains("123, 34"), "{debug}");
    assert!(
        debug.contains(&format!("json_len: {}", request_json.len())),
        "{debug}"
    );

    let response_json = br#"{"status":"success","body":{"refresh_response_key":"c2VjcmV0"}}"#;
    let sealed = seal_response(&secret, now, [2; 8], response_json, &mut rng);
    let opened = open_response(&secret, &sealed, Some([2; 8])).unwrap();
    assert_eq!(opened.json, response_json);
    let debug = format!("{opened:?}");
    assert!(
        !debug.contains("c2VjcmV0") && !debug.contains("123, 34"),
        "{debug}"
    );
    assert!(debug.contains("nonce: [2, 2, 2, 2, 2, 2, 2, 2]"), "{debug}");
}
