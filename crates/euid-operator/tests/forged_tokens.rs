//! The attack of issue #16, over real HTTP: a partner takes every key that `/v2/key/sharing`
//! and `/v2/key/bidstream` hand to SHARER and ID_READER clients, forges refresh envelopes
//! and inner refresh tokens under each (any identity, site, privacy bits, established time)
//! and posts them to `/v2/token/refresh`, which needs no API key. Every one must be refused
//! with a 400 and no token; the same forgery under the real refresh key (read from the data
//! directory, which no endpoint hands out) is the control that shows the forgery is sound.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use euid_crypto::AesGcmKey;
use euid_operator::Role;
use euid_test_support::{
    add_client, fast_reload, http, now_ms, read_key_store, ApiClient, TestServer,
};
use euid_token::{
    mint_refresh_token, seal_refresh_envelope, IdentityScope, IdentityType, Key, KeyStore,
    OperatorIdentity, RefreshToken, MASTER_KEYSET_ID, REFRESH_KEYSET_ID,
};

/// A key as the key endpoints publish it: id and secret (the keyset id, when present, is
/// the SDK-facing one and plays no part in the forgery).
fn published_keys(body: &serde_json::Value) -> Vec<(i32, String)> {
    body["body"]["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| {
            (
                i32::try_from(k["id"].as_i64().unwrap()).unwrap(),
                k["secret"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A refresh envelope whose both layers are sealed under `key`, for an identity and site of
/// the forger's choosing.
fn forge(key: &Key, site_id: i32, flh: [u8; 32], now: i64) -> String {
    let token = RefreshToken {
        scope: IdentityScope::Euid,
        identity_type: IdentityType::Email,
        key_id: key.id,
        expires_ms: now + 86_400_000,
        created_ms: now,
        operator: OperatorIdentity::SERVICE,
        site_id,
        publisher_id: 0,
        client_key_id: 0,
        privacy_bits: 0,
        established_ms: now,
        first_level_hash: flh,
    };
    let inner = mint_refresh_token(&token, key, &[7; 12]);
    seal_refresh_envelope(
        IdentityScope::Euid,
        key,
        &inner,
        &AesGcmKey::from_bytes([9; 32]).expose_secret_base64(),
        &[8; 12],
    )
}

fn key_from(id: i32, secret_b64: &str) -> Key {
    Key::new(
        id,
        0,
        0,
        0,
        i64::MAX / 1000,
        AesGcmKey::from_base64(secret_b64).unwrap(),
    )
}

#[test]
fn keys_handed_to_partners_cannot_forge_refresh_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), fast_reload());
    let sharer = add_client(&server, dir.path(), 1001, &[Role::Sharer]);
    let reader = add_client(&server, dir.path(), 1002, &[Role::IdReader]);
    let demo = ApiClient::demo(&server);

    // Every key any partner is given, by id.
    let mut handed_out: BTreeMap<i32, String> = BTreeMap::new();
    for (client, path) in [
        (&sharer, "/v2/key/sharing"),
        (&reader, "/v2/key/sharing"),
        (&reader, "/v2/key/bidstream"),
        (&demo, "/v2/key/sharing"),
        (&demo, "/v2/key/bidstream"),
    ] {
        handed_out.extend(published_keys(&client.call(path, "")));
    }
    let store = read_key_store(dir.path());
    let kinds = |keyset: i32| {
        handed_out
            .keys()
            .filter(|&&id| store.key_by_id(id).map(|k| k.keyset_id) == Some(keyset))
            .count()
    };
    assert!(kinds(MASTER_KEYSET_ID) >= 1, "master key among the keys");
    assert!(
        handed_out.len() > kinds(MASTER_KEYSET_ID),
        "site keys among the keys"
    );
    assert_eq!(kinds(REFRESH_KEYSET_ID), 0, "a refresh key was handed out");

    let now = now_ms();
    for (i, (&id, secret)) in handed_out.iter().enumerate() {
        let key = key_from(id, secret);
        let envelope = forge(&key, 4242, [i as u8; 32], now);
        assert_eq!(envelope.len(), 388);
        for api_key in [None, Some(server.demo.api_key.as_str())] {
            let auth = api_key.map(|k| format!("Bearer {k}"));
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("Authorization", a.as_str())).collect();
            let resp = http(
                server.addr,
                "POST",
                "/v2/token/refresh",
                &headers,
                envelope.as_bytes(),
            );
            assert_eq!(resp.status, 400, "key {id}: {}", resp.text());
            let text = resp.text();
            assert!(
                !text.contains("advertising_token") && !text.contains("refresh_token"),
                "key {id}: {text}"
            );
        }
    }

    // The control: the same forgery under the refresh key does open, so the refusals above
    // are the key scoping at work and not a malformed forgery.
    let refresh = store
        .active_key(REFRESH_KEYSET_ID, now)
        .expect("refresh key");
    let resp = http(
        server.addr,
        "POST",
        "/v2/token/refresh",
        &[],
        forge(refresh, 4242, [0xEE; 32], now).as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[test]
fn key_endpoints_leave_out_keys_no_token_can_use_any_more() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), fast_reload());
    let demo = ApiClient::demo(&server);

    // Two extra master keys: one expired just now (tokens made with it still live), one
    // expired longer ago than any token can live (identity lifetime 259,200 s or sharing
    // lifetime 2,592,000 s, plus 1,800 s of skew).
    let store = read_key_store(dir.path());
    let now_s = now_ms() / 1000;
    let secret = AesGcmKey::from_bytes([3; 32]);
    let mut keys: Vec<Key> = store.keys().cloned().collect();
    keys.push(Key::new(
        900_001,
        MASTER_KEYSET_ID,
        now_s - 400_000,
        now_s - 400_000,
        now_s - 10,
        secret.clone(),
    ));
    keys.push(Key::new(
        900_002,
        MASTER_KEYSET_ID,
        now_s - 9_000_000,
        now_s - 9_000_000,
        now_s - 3_000_000,
        secret.clone(),
    ));
    // Expired 300,000 s ago: past an advertising token's life, within a sharing token's.
    keys.push(Key::new(
        900_003,
        MASTER_KEYSET_ID,
        now_s - 900_000,
        now_s - 900_000,
        now_s - 300_000,
        secret,
    ));
    let updated = KeyStore::new(store.keysets().cloned().collect(), keys).unwrap();
    let (keysets_json, keys_json) = updated.to_json();
    euid_store::write_atomic(&dir.path().join("keysets.json"), keysets_json.as_bytes()).unwrap();
    euid_store::write_atomic(&dir.path().join("keyset_keys.json"), keys_json.as_bytes()).unwrap();
    let operator = server.server.as_ref().unwrap().operator().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while operator.snapshot().keys.key_by_id(900_001).is_none() {
        assert!(Instant::now() < deadline, "keys were not reloaded");
        std::thread::sleep(Duration::from_millis(20));
    }

    let ids = |path: &str| -> Vec<i32> {
        published_keys(&demo.call(path, ""))
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    };
    let bidstream = ids("/v2/key/bidstream");
    assert!(bidstream.contains(&900_001));
    assert!(!bidstream.contains(&900_002));
    assert!(!bidstream.contains(&900_003));
    let sharing = ids("/v2/key/sharing");
    assert!(sharing.contains(&900_001));
    assert!(!sharing.contains(&900_002));
    assert!(sharing.contains(&900_003));
}
