//! The shared token vectors (`testdata/tokens_and_envelopes.json`).

use base64::Engine as _;
use euid_crypto::AesGcmKey;
use euid_test_support::{keyset, testdata};
use euid_token::{
    decode_advertising_token, mint_advertising_token, AdvertisingTokenFields, IdentityScope,
    IdentityType, Key, KeyStore, Keyset, OperatorIdentity, RawUid, TokenVersion,
};

fn hex12(s: &str) -> [u8; 12] {
    let mut out = [0u8; 12];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Key 164 in the master keyset, key 165 in keyset 99 of site 9000 (as the SDK tests use them).
fn vector_keys(v: &serde_json::Value) -> KeyStore {
    let secret = |id: &str| AesGcmKey::from_base64(v["keys"][id].as_str().unwrap()).unwrap();
    let mut site = keyset(99, 9000);
    site.name = "site 9000".into();
    let sets: Vec<Keyset> = vec![keyset(-1, -1), site];
    KeyStore::new(
        sets,
        vec![
            Key::new(
                164,
                -1,
                1_600_000_000,
                1_600_000_000,
                2_500_000_000,
                secret("164"),
            ),
            Key::new(
                165,
                99,
                1_600_000_000,
                1_600_000_000,
                2_500_000_000,
                secret("165"),
            ),
        ],
    )
    .unwrap()
}

#[test]
fn sdk_cross_platform_token_decodes() {
    let v = testdata("tokens_and_envelopes.json");
    let keys = vector_keys(&v);
    let t = &v["advertising_tokens"][0];
    let now = 1_672_534_861_000; // 2023-01-01T01:01:01Z, when it was generated
    let token = decode_advertising_token(&keys, t["token"].as_str().unwrap(), now).unwrap();
    let expect = &t["expect"];
    assert_eq!(
        token.raw_uid.to_base64(),
        expect["raw_uid"].as_str().unwrap()
    );
    assert_eq!(
        i64::from(token.site_id),
        expect["site_id"].as_i64().unwrap()
    );
    assert_eq!(
        i64::from(token.scope.wire_value()),
        expect["identity_scope"].as_i64().unwrap()
    );
    assert_eq!(
        i64::from(token.identity_type.wire_value()),
        expect["identity_type"].as_i64().unwrap()
    );
    assert_eq!(
        i64::from(token.version.wire_value()),
        expect["version"].as_i64().unwrap()
    );
    assert_eq!(
        token.master_key_id,
        t["master_key_id"].as_i64().unwrap() as i32
    );
    assert_eq!(token.site_key_id, t["site_key_id"].as_i64().unwrap() as i32);
    assert_eq!(token.created_ms, Some(now));
    assert_eq!(token.established_ms, now - 3_600_000);
    assert_eq!(token.raw_uid.as_bytes().len(), 32);
    // It expires on 2042-12-27; after that it must be refused.
    let err = decode_advertising_token(&keys, t["token"].as_str().unwrap(), 2_303_254_861_001)
        .unwrap_err();
    assert!(
        matches!(err, euid_token::TokenError::Expired { .. }),
        "{err:?}"
    );
}

#[test]
fn golden_euid_token_is_reproduced_byte_for_byte() {
    let v = testdata("tokens_and_envelopes.json");
    let keys = vector_keys(&v);
    let t = &v["advertising_tokens"][1];
    let i = &t["inputs"];
    let n = |k: &str| i[k].as_i64().unwrap();
    let raw_uid = RawUid::from_base64(i["raw_uid"].as_str().unwrap()).unwrap();
    let fields = AdvertisingTokenFields {
        version: TokenVersion::V4,
        scope: IdentityScope::from_wire_value(n("identity_scope") as u8).unwrap(),
        identity_type: IdentityType::from_wire_value(n("identity_type") as u8).unwrap(),
        expires_ms: n("expires_ms"),
        created_ms: n("generated_ms"),
        operator: OperatorIdentity {
            site_id: n("operator_site_id") as i32,
            operator_type: n("operator_type") as u8,
            version: n("operator_version") as i32,
            key_id: n("operator_key_id") as i32,
        },
        site_id: n("site_id") as i32,
        publisher_id: n("publisher_id"),
        client_key_id: n("client_key_id") as i32,
        privacy_bits: n("privacy_bits") as u32,
        established_ms: n("established_ms"),
        refreshed_ms: n("refreshed_ms"),
        raw_uid: &raw_uid,
    };
    let master = keys.key_by_id(n("master_key_id") as i32).unwrap();
    let site = keys.key_by_id(n("site_key_id") as i32).unwrap();
    let token = mint_advertising_token(
        &fields,
        master,
        site,
        &hex12(i["master_iv_hex"].as_str().unwrap()),
        &hex12(i["site_iv_hex"].as_str().unwrap()),
    )
    .unwrap();
    let want = t["token"].as_str().unwrap();
    assert_eq!(token, want);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token)
        .unwrap();
    assert_eq!(
        bytes.len() as i64,
        t["expect"]["length_bytes"].as_i64().unwrap()
    );

    // And it decodes back to every input.
    let decoded = decode_advertising_token(&keys, want, n("generated_ms")).unwrap();
    assert_eq!(decoded.version, TokenVersion::V4);
    assert_eq!(decoded.scope, IdentityScope::Euid);
    assert_eq!(decoded.identity_type, IdentityType::Email);
    assert_eq!(decoded.expires_ms, fields.expires_ms);
    assert_eq!(decoded.created_ms, Some(fields.created_ms));
    assert_eq!(decoded.operator, Some(fields.operator));
    assert_eq!(decoded.site_id, fields.site_id);
    assert_eq!(decoded.publisher_id, fields.publisher_id);
    assert_eq!(decoded.client_key_id, fields.client_key_id);
    assert_eq!(decoded.privacy_bits, fields.privacy_bits);
    assert_eq!(decoded.established_ms, fields.established_ms);
    assert_eq!(decoded.refreshed_ms, Some(fields.refreshed_ms));
    assert_eq!(decoded.raw_uid, raw_uid);
    assert_eq!(decoded.master_key_id, 164);
    assert_eq!(decoded.site_key_id, 165);
}
