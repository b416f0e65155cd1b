//! Golden vectors from testdata/tokens_and_envelopes.json, every error message, and
//! round-trip properties.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, RandomSource};
use euid_envelope::*;
use proptest::prelude::*;
use serde_json::Value;

/// Replays fixed bytes, so sealing reproduces the vectors' IVs.
struct Fixed(Vec<u8>);
impl RandomSource for Fixed {
    fn fill(&mut self, dest: &mut [u8]) {
        let n = dest.len();
        dest.copy_from_slice(&self.0[..n]);
        self.0.drain(..n);
    }
}

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/tokens_and_envelopes.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn secret() -> ClientSecret {
    ClientSecret::from_base64(vectors()["client_secret"].as_str().unwrap()).unwrap()
}

const TS: i64 = 1_672_534_861_000;

#[test]
fn golden_request_reproduces_and_opens() {
    let v = &vectors()["request_envelope"];
    let nonce: [u8; 8] = hex(v["nonce_hex"].as_str().unwrap()).try_into().unwrap();
    let json = v["json"].as_str().unwrap().as_bytes();
    let ts = v["timestamp_ms"].as_i64().unwrap();
    let sealed = seal_request(
        &secret(),
        ts,
        nonce,
        json,
        &mut Fixed(hex(v["iv_hex"].as_str().unwrap())),
    );
    assert_eq!(
        STANDARD.encode(&sealed),
        v["expect_base64"].as_str().unwrap()
    );

    let body = v["expect_base64"].as_str().unwrap().as_bytes();
    let opened = open_request(
        body,
        BodyEncoding::Base64Text,
        &secret(),
        ts + 1000,
        &SkewPolicy::default(),
    )
    .unwrap();
    assert_eq!(opened.timestamp_ms, ts);
    assert_eq!(opened.nonce, nonce);
    assert_eq!(opened.json, json);
    assert_eq!(opened.response_encoding, BodyEncoding::Base64Text);
    // The same envelope as raw bytes, answered in kind.
    let raw = open_request(
        &sealed,
        BodyEncoding::Binary,
        &secret(),
        ts,
        &SkewPolicy::default(),
    )
    .unwrap();
    assert_eq!(raw.response_encoding, BodyEncoding::Binary);
    // Binary declared but base64 sent: the fallback opens it and answers in text.
    let fallback = open_request(
        body,
        BodyEncoding::Binary,
        &secret(),
        ts,
        &SkewPolicy::default(),
    )
    .unwrap();
    assert_eq!(fallback.response_encoding, BodyEncoding::Base64Text);
    assert_eq!(fallback.json, json);
}

#[test]
fn golden_response_reproduces_and_opens() {
    let v = &vectors()["response_envelope"];
    let nonce: [u8; 8] = hex(v["nonce_hex"].as_str().unwrap()).try_into().unwrap();
    let json = v["json"].as_str().unwrap().as_bytes();
    let sealed = seal_response(
        &secret(),
        v["timestamp_ms"].as_i64().unwrap(),
        nonce,
        json,
        &mut Fixed(hex(v["iv_hex"].as_str().unwrap())),
    );
    let expect = v["expect_base64"].as_str().unwrap();
    assert_eq!(STANDARD.encode(&sealed), expect);
    let opened = open_response(&secret(), format!("{expect}\n").as_bytes(), Some(nonce)).unwrap();
    assert_eq!(opened.json, json);
    assert_eq!(opened.timestamp_ms, v["timestamp_ms"].as_i64().unwrap());
    assert_eq!(open_response(&secret(), &sealed, None).unwrap().json, json);
    assert_eq!(
        open_response(&secret(), expect.as_bytes(), Some([9; 8])).unwrap_err(),
        ResponseError::NonceMismatch
    );
    let other = ClientSecret::from_bytes([1; 32]);
    assert_eq!(
        open_response(&other, expect.as_bytes(), None).unwrap_err(),
        ResponseError::Decryption
    );
    assert_eq!(
        open_response(&other, b"AAAA", None).unwrap_err(),
        ResponseError::TooShort
    );
}

#[test]
fn golden_refresh_response_reproduces_and_opens() {
    let v = &vectors()["refresh_response"];
    let key = AesGcmKey::from_base64(v["refresh_response_key"].as_str().unwrap()).unwrap();
    let json = v["json"].as_str().unwrap().as_bytes();
    let sealed = seal_refresh_response(&key, json, &mut Fixed(hex(v["iv_hex"].as_str().unwrap())));
    let expect = v["expect_base64"].as_str().unwrap();
    assert_eq!(STANDARD.encode(&sealed), expect);
    assert_eq!(
        open_refresh_response(&key, expect.as_bytes()).unwrap(),
        json
    );
}

fn open_text(body: &[u8], now: i64) -> Result<OpenedRequest, RequestError> {
    open_request(
        body,
        BodyEncoding::Base64Text,
        &secret(),
        now,
        &SkewPolicy::default(),
    )
}

fn sealed_b64(ts: i64, json: &[u8]) -> String {
    STANDARD.encode(seal_request(
        &secret(),
        ts,
        [3; 8],
        json,
        &mut Fixed(vec![5; 12]),
    ))
}

const HINT: &str = " See https://euid.eu/docs/getting-started/gs-encryption-decryption for details on the request envelope format.";

#[test]
fn every_error_has_the_operators_message() {
    let msg = |r: Result<OpenedRequest, RequestError>| r.unwrap_err().to_string();
    assert_eq!(msg(open_text(b"", TS)), "Invalid body: Body is missing.");
    assert_eq!(
        msg(open_text(b"not base64!", TS)),
        format!("Invalid body: Body is not valid base64.{HINT}")
    );
    assert!(msg(open_text(br#"{"email":"a@b.com"}"#, TS))
        .starts_with("Invalid body: The request body is unencrypted JSON."));
    assert_eq!(
        msg(open_text(b"AQAAAA==", TS)),
        format!("Invalid body: Body too short. Check encryption method.{HINT}")
    );
    let mut wrong_version = STANDARD.decode(sealed_b64(TS, b"{}")).unwrap();
    wrong_version[0] = 0xff;
    assert_eq!(
        msg(open_text(STANDARD.encode(&wrong_version).as_bytes(), TS)),
        format!(
            "Invalid body: Invalid request envelope format version: received -1, must be 1.{HINT}"
        )
    );
    let wrong_secret = ClientSecret::from_bytes([0; 32]);
    assert_eq!(
        open_request(
            sealed_b64(TS, b"{}").as_bytes(),
            BodyEncoding::Base64Text,
            &wrong_secret,
            TS,
            &SkewPolicy::default()
        )
        .unwrap_err()
        .to_string(),
        format!("Invalid body: Check encryption key (ClientSecret).{HINT}")
    );
    let skewed = "Invalid timestamp: Request too old or client time drift.";
    assert_eq!(
        msg(open_text(sealed_b64(TS - 120_001, b"{}").as_bytes(), TS)),
        skewed
    );
    assert_eq!(
        msg(open_text(sealed_b64(TS + 120_001, b"{}").as_bytes(), TS)),
        skewed
    );
    assert!(open_text(sealed_b64(TS - 120_000, b"{}").as_bytes(), TS).is_ok());
    assert!(open_text(sealed_b64(TS + 120_000, b"{}").as_bytes(), TS).is_ok());
    let not_object = "Invalid payload in body: Data is not valid json string.";
    for bad in [
        &b"[1,2]"[..],
        b"\"s\"",
        b"{",
        b"{\"a\":1} x",
        b"\xff\xfe",
        b" ",
        // Invalid UTF-8 inside a string or a key of an otherwise well-formed object.
        b"{\"email\":\"\xff\xfe@b.com\"}",
        b"{\"\xc3\x28\":1}",
        b"{\"a\":\"\xed\xa0\x80\"}",
    ] {
        assert_eq!(
            msg(open_text(sealed_b64(TS, bad).as_bytes(), TS)),
            not_object,
            "{bad:?}"
        );
    }
    // Deep nesting is still an object: skipped iteratively, without recursion.
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let opened = open_text(sealed_b64(TS, deep.as_bytes()).as_bytes(), TS);
    assert!(opened.is_ok_and(|o| o.json.len() == deep.len()));
    // An empty payload is allowed (key endpoints send none).
    assert_eq!(
        open_text(sealed_b64(TS, b"").as_bytes(), TS).unwrap().json,
        b""
    );
    // Unpadded base64 is accepted, as Java's decoder does.
    let unpadded = sealed_b64(TS, b"{}").trim_end_matches('=').to_owned();
    assert!(open_text(unpadded.as_bytes(), TS).is_ok());
    // Whitespace is not base64 to the strict decoder.
    assert_eq!(
        msg(open_text(
            format!("{}\n", sealed_b64(TS, b"{}")).as_bytes(),
            TS
        )),
        format!("Invalid body: Body is not valid base64.{HINT}")
    );
}

proptest! {
    #[test]
    fn request_round_trips_inside_the_window(
        keys in proptest::collection::btree_map("[a-z]{1,8}", any::<i32>(), 0..8),
        nonce in any::<[u8; 8]>(),
        iv in any::<[u8; 12]>(),
        offset in -120_000i64..=120_000,
    ) {
        let json = serde_json::to_vec(&keys).unwrap();
        let body = STANDARD.encode(seal_request(&secret(), TS + offset, nonce, &json, &mut Fixed(iv.to_vec())));
        let opened = open_text(body.as_bytes(), TS).unwrap();
        prop_assert_eq!(opened.nonce, nonce);
        prop_assert_eq!(opened.timestamp_ms, TS + offset);
        prop_assert_eq!(opened.json, json);
    }

    #[test]
    fn any_bit_flip_is_refused(flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut raw = seal_request(&secret(), TS, [1; 8], br#"{"email":"x@y.z"}"#, &mut Fixed(vec![2; 12]));
        let i = flip.index(raw.len());
        raw[i] ^= 1 << bit;
        let err = open_request(&raw, BodyEncoding::Binary, &secret(), TS, &SkewPolicy::default()).unwrap_err();
        let expected = if i == 0 { RequestError::Version(i8::from_be_bytes([1 ^ (1 << bit)])) } else { RequestError::Decryption };
        prop_assert_eq!(err, expected);
    }

    #[test]
    fn response_round_trips(json in proptest::collection::vec(any::<u8>(), 0..300), nonce in any::<[u8; 8]>(), ts in any::<i64>()) {
        let sealed = seal_response(&secret(), ts, nonce, &json, &mut euid_crypto::FastRandom::new());
        let opened = open_response(&secret(), STANDARD.encode(&sealed).as_bytes(), Some(nonce)).unwrap();
        prop_assert_eq!(opened.json, json);
        prop_assert_eq!(opened.timestamp_ms, ts);
    }

    #[test]
    fn open_request_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200), binary in any::<bool>()) {
        let encoding = if binary { BodyEncoding::Binary } else { BodyEncoding::Base64Text };
        let _ = open_request(&body, encoding, &secret(), TS, &SkewPolicy::default());
        let _ = open_response(&secret(), &body, None);
    }
}
