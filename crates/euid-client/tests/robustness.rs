//! Every parser of operator answers and tokens gets arbitrary input and must answer with a
//! typed error or status, never a panic.

use euid_client::{
    decrypt_token, open_refresh, ClientType, EnvelopeRequest, IdentityMapInput, IdentityMapV3Input,
    IdentityTokens, KeySnapshot, ResponseJson, TokenResponse,
};
use proptest::prelude::*;

const SECRET: &str = "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo=";

fn keys() -> KeySnapshot {
    KeySnapshot::from_body(&serde_json::json!({
        "identity_scope": "EUID", "caller_site_id": 1, "master_keyset_id": 9999999,
        "default_keyset_id": 20, "max_bidstream_lifetime_seconds": 259210,
        "keys": [
            {"id": 164, "keyset_id": 9999999, "created": 1, "activates": 1,
             "expires": 4_000_000_000_i64, "secret": "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs="},
            {"id": 165, "keyset_id": 20, "created": 1, "activates": 1,
             "expires": 4_000_000_000_i64, "secret": "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U="},
        ],
    }))
    .unwrap()
}

/// JSON-ish text: braces, quotes, the field names the parsers look for, and noise.
fn jsonish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("null".to_owned()),
            Just("\"status\"".to_owned()),
            Just("\"body\"".to_owned()),
            Just("\"success\"".to_owned()),
            Just("\"keys\"".to_owned()),
            Just("\"id\"".to_owned()),
            Just("\"secret\"".to_owned()),
            Just("\"site_data\"".to_owned()),
            Just("\"domain_names\"".to_owned()),
            Just("\"token_expiry_seconds\"".to_owned()),
            Just("\"mapped\"".to_owned()),
            Just("\"email_hash\"".to_owned()),
            Just("\"u\"".to_owned()),
            Just("\"r\"".to_owned()),
            Just("\"e\"".to_owned()),
            Just("\"advertising_token\"".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            "[a-zA-Z0-9+/=\"]{0,12}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn answer_parsers_never_panic(text in jsonish(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for input in [text.as_bytes(), &bytes[..]] {
            let _ = KeySnapshot::from_json(input);
            if let Ok(response) = ResponseJson::parse(input) {
                let _ = KeySnapshot::from_body(&response.body);
                let _ = TokenResponse::from_generate(response.clone());
                let _ = TokenResponse::from_refresh(response.clone(), 0);
                let map = IdentityMapInput::from_hashed_emails(&["abc"]).unwrap();
                let _ = map.parse_response(&response.body);
                let v3 = IdentityMapV3Input::new().with_email("a@example.com").unwrap();
                let _ = v3.parse_response(&response.body);
                let _ = euid_client::parse_optout_status(&response.body);
            }
        }
        let _ = IdentityTokens::from_json_str(&text);
    }

    #[test]
    fn envelopes_never_panic(body in prop::collection::vec(any::<u8>(), 0..300), status in 0u16..600) {
        let secret = euid_client::ClientSecret::from_base64(SECRET).unwrap();
        let mut rng = euid_crypto::BatchedOsRandom::new();
        let request = EnvelopeRequest::seal(&secret, "/v2/key/sharing", b"", 0, &mut rng);
        let _ = request.open(&secret, status, &body);
        let key = euid_crypto::AesGcmKey::from_bytes([3; 32]);
        let _ = open_refresh(&key, status, &body);
    }

    #[test]
    fn token_decryption_never_panics(token in "[A-Za-z0-9+/=_-]{0,300}", name in proptest::option::of("[a-z.]{0,12}")) {
        let keys = keys();
        for client_type in [ClientType::Bidstream, ClientType::Sharing] {
            let out = decrypt_token(Some(&keys), &token, name.as_deref(), client_type, 1_700_000_000_000);
            prop_assert!(!out.is_success() || out.uid.is_some());
        }
    }
}

#[test]
fn tampering_any_byte_of_a_real_token_is_a_status_not_a_panic() {
    let keys = keys();
    let mut rng = euid_crypto::BatchedOsRandom::new();
    let uid = "EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb";
    let now = 1_700_000_000_000;
    let token = euid_client::encrypt_raw_uid(Some(&keys), uid, None, now, &mut rng).unwrap();
    let chars: Vec<char> = token.chars().collect();
    for i in 0..chars.len() {
        let mut t = chars.clone();
        t[i] = if t[i] == 'A' { 'B' } else { 'A' };
        let t: String = t.into_iter().collect();
        let out = decrypt_token(Some(&keys), &t, None, ClientType::Sharing, now);
        // Only the version/scope characters may still decode; nothing else authenticates.
        assert!(
            !out.is_success() || out.uid.as_deref() == Some(uid),
            "byte {i} changed the raw UID"
        );
    }
}
