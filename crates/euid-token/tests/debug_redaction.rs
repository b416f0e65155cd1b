//! `Debug` of a refresh outcome shows no token, response key or first-level hash.

use euid_crypto::AesGcmKey;
use euid_token::{IdentityTokens, IdentityType, RefreshOutcome};

const KEY: &str = "ioG0j1dtiNYgRY3xs7mP0bV8ggxE/Qv4ho+bFyMRQXs=";

#[test]
fn refresh_outcomes_debug_without_secrets() {
    let tokens = IdentityTokens {
        advertising_token: "A4AAAAdvertisingTokenForTheDebugTest".to_owned(),
        refresh_token: "RefreshTokenForTheDebugTest0123456789".to_owned(),
        refresh_response_key: "TmV3UmVzcG9uc2VLZXlGb3JUaGVEZWJ1Z1Rlc3Q=".to_owned(),
        identity_expires: 1,
        refresh_from: 2,
        refresh_expires: 3,
    };
    let refreshed = RefreshOutcome::Refreshed {
        tokens: tokens.clone(),
        first_level_hash: [0xAB; 32],
        identity_type: IdentityType::Email,
        site_id: 999,
        refresh_response_key: AesGcmKey::from_base64(KEY).unwrap(),
    };
    let debug = format!("{refreshed:?}");
    for secret in [
        tokens.advertising_token.as_str(),
        tokens.refresh_token.as_str(),
        tokens.refresh_response_key.as_str(),
        KEY,
        "171, 171", // the first-level hash as a derived Debug prints it
        "abab",
    ] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("site_id: 999"), "{debug}");
    let expired = RefreshOutcome::Expired {
        refresh_response_key: AesGcmKey::from_base64(KEY).unwrap(),
    };
    assert!(!format!("{expired:?}").contains(KEY));
}
