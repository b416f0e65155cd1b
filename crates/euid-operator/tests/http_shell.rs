//! The HTTP shell: health, metrics, unknown routes, limits, authentication, restarts.

use euid_operator::OperatorConfig;
use euid_test_support::TestServer;

#[test]
fn healthcheck_metrics_and_unknown_routes() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let health = server.request("GET", "/ops/healthcheck", &[], b"");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.text(), "OK");

    server
        .request("POST", "/v2/token/generate", &[], b"")
        .assert_error(401, "unauthorized", None);
    server.request("POST", "/nope", &[], b"").assert_error(
        404,
        "client_error",
        Some("Unknown endpoint"),
    );

    let metrics = server.request("GET", "/metrics", &[], b"");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.contains("euid_http_requests_total{endpoint=\"/v2/token/generate\",status=\"401\"} 1"),
        "{text}"
    );
    assert!(text.contains("euid_http_request_duration_seconds_count{endpoint=\"/v2/token/generate\",status=\"401\"} 1"));
}

#[test]
fn unknown_disabled_or_malformed_keys_get_401() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let good = server.demo.api_key.clone();
    let cases = [
        "Bearer EUID-C-L-999-AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        format!("Bearer  {good}"),
        format!("Basic {good}"),
        good,
        "Bearer".to_owned(),
    ];
    for auth in &cases {
        server
            .request("POST", "/v2/key/sharing", &[("Authorization", auth)], b"")
            .assert_error(401, "unauthorized", None);
    }
}

#[test]
fn oversized_bodies_get_413() {
    let dir = tempfile::tempdir().unwrap();
    let config = OperatorConfig::from_json(br#"{"max_body_bytes":1000}"#).unwrap();
    let server = TestServer::start_in(dir.path(), config);
    server
        .post_auth("/v2/token/generate", &vec![b'A'; 5000])
        .assert_error(413, "client_error", Some("Request body is too large"));
}

#[test]
fn a_restart_reuses_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let mut server = TestServer::start_in(dir.path(), OperatorConfig::default());
        let demo = server.demo.clone();
        server.stop();
        demo
    };
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    assert_eq!(server.demo.api_key, first.api_key);
    assert_eq!(server.demo.client_secret, first.client_secret);
    let stored = std::fs::read_to_string(dir.path().join("demo-client.json")).unwrap();
    assert!(stored.contains(&format!("http://{}", server.addr)));
    // The API key itself is not in clients.json, only its salted hash.
    let clients = std::fs::read_to_string(dir.path().join("clients.json")).unwrap();
    assert!(!clients.contains(&first.api_key));
}

#[test]
fn healthcheck_reports_missing_keys_and_stale_data() {
    use euid_token::{Key, KeyStore};
    let dir = tempfile::tempdir().unwrap();
    // Rotation off: this test breaks the keys on purpose and must see it.
    let config =
        OperatorConfig::from_json(br#"{"reload_interval_ms":50,"auto_rotate_keys":false}"#)
            .unwrap();
    let server = TestServer::start_in(dir.path(), config);
    let health = || server.request("GET", "/ops/healthcheck", &[], b"");
    let wait_for = |status: u16| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while health().status != status {
            assert!(std::time::Instant::now() < deadline, "no {status}");
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    };
    assert_eq!(health().text(), "OK");

    // Every key expired: no active master key.
    let keys_path = dir.path().join("keyset_keys.json");
    let original = std::fs::read(&keys_path).unwrap();
    let store = KeyStore::from_json(
        &std::fs::read(dir.path().join("keysets.json")).unwrap(),
        &original,
    )
    .unwrap();
    let expired: Vec<Key> = store
        .keys()
        .map(|k| Key::new(k.id, k.keyset_id, 1, 1, 2, k.secret().clone()))
        .collect();
    let expired = KeyStore::new(store.keysets().cloned().collect(), expired).unwrap();
    euid_store::write_atomic(&keys_path, expired.keyset_keys_json().as_bytes()).unwrap();
    wait_for(503);
    assert_eq!(health().text(), "no active master key");

    // A broken file keeps the last snapshot and reports it as stale.
    euid_store::write_atomic(&keys_path, &original).unwrap();
    wait_for(200);
    euid_store::write_atomic(&dir.path().join("keysets.json"), b"{not json").unwrap();
    wait_for(503);
    assert!(health().text().starts_with("stale:"), "{}", health().text());
}
