//! Automatic key rotation over HTTP: with two-second keys the operator adds each keyset's
//! next key ahead of time, new tokens move to the new keys, and a refresh token sealed under
//! a refresh key that has since expired still refreshes.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_operator::OperatorConfig;
use euid_test_support::{now_ms, read_key_store, refresh_body, ApiClient, TestServer};
use euid_token::{MASTER_KEYSET_ID, REFRESH_KEYSET_ID};

/// The id of the refresh key that sealed a 388-character refresh envelope.
fn envelope_key_id(refresh_token: &str) -> i32 {
    let bytes = STANDARD.decode(refresh_token).unwrap();
    i32::from_be_bytes(bytes[1..5].try_into().unwrap())
}

#[test]
fn short_lived_keys_rotate_and_old_refresh_tokens_still_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let config = OperatorConfig::from_json(
        br#"{"reload_interval_ms":50,"key_lifetime_seconds":2,"key_notice_seconds":1}"#,
    )
    .unwrap();
    let server = TestServer::start_in(dir.path(), config);
    let client = ApiClient::demo(&server);

    // Every key the operator made lives two seconds, and a successor is already in place.
    let store = read_key_store(dir.path());
    assert!(store.keys().all(|k| k.expires - k.activates <= 2));
    assert!(store.keys_of_keyset(MASTER_KEYSET_ID).count() >= 2);

    let first = client.generate(r#""email":"rotation@example.org""#);
    let token = |body: &serde_json::Value| {
        euid_token::decode_advertising_token(
            &read_key_store(dir.path()),
            body["advertising_token"].as_str().unwrap(),
            now_ms(),
        )
        .unwrap()
    };
    let first_master = token(&first).master_key_id;
    let first_refresh_key = envelope_key_id(first["refresh_token"].as_str().unwrap());

    // Wait until the refresh key that sealed the first token has expired.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let store = read_key_store(dir.path());
        let key = store
            .key_by_id(first_refresh_key)
            .expect("old refresh key kept");
        if key.expires * 1000 + 200 < now_ms() {
            break;
        }
        assert!(Instant::now() < deadline, "refresh key never expired");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The old refresh token still refreshes, into tokens under the new keys.
    let refreshed = refresh_body(server.addr, &first);
    assert_eq!(refreshed["status"], "success", "{refreshed}");
    let body = &refreshed["body"];
    let new_refresh_key = envelope_key_id(body["refresh_token"].as_str().unwrap());
    assert_ne!(new_refresh_key, first_refresh_key);
    assert_ne!(token(body).master_key_id, first_master);
    let store = read_key_store(dir.path());
    assert_eq!(
        store.key_by_id(new_refresh_key).unwrap().keyset_id,
        REFRESH_KEYSET_ID
    );
    // And a new generate uses a master key that is active now.
    let second = client.generate(r#""email":"rotation2@example.org""#);
    let second_master = token(&second).master_key_id;
    assert_ne!(second_master, first_master);
    let store = read_key_store(dir.path());
    let master = store.key_by_id(second_master).unwrap();
    assert_eq!(master.keyset_id, MASTER_KEYSET_ID);
    assert!(master.activates > store.key_by_id(first_master).unwrap().activates);
}
