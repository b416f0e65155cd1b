//! `POST /v2/token/client-generate` over HTTP with a request encoded like the browser SDK,
//! the demo keypair made by the first start, and CORS for the browser endpoints.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_cstg::{ClientIdentity, ClientRequest};
use euid_operator::OperatorConfig;
use euid_test_support::{
    assert_token_body, cstg_request, now_ms, read_key_store, refresh_body, ApiClient, HttpResponse,
    TestServer,
};

const EMAIL: &str = "cstg-user@example.com";
const ORIGIN: &str = "http://localhost:5173";

fn cstg(
    server: &TestServer,
    identity: ClientIdentity<'_>,
    origin: &str,
) -> (ClientRequest, HttpResponse) {
    let request = cstg_request(&server.demo, identity, None);
    // The SDK posts a string body with XHR: text/plain, a CORS "simple" request.
    let resp = server.request(
        "POST",
        "/v2/token/client-generate?client=euid-sdk-4.0.66",
        &[
            ("Origin", origin),
            ("Content-Type", "text/plain;charset=UTF-8"),
        ],
        request.body.as_bytes(),
    );
    (request, resp)
}

fn email_hash(email: &str) -> String {
    euid_normalize::hash_email(email).unwrap().to_base64()
}

#[test]
fn first_start_writes_the_demo_keypair_into_demo_client_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let demo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("demo-client.json")).unwrap())
            .unwrap();
    let public = demo["server_public_key"].as_str().unwrap();
    assert!(public.starts_with("EUID-X-L-"), "{public}");
    assert_eq!(demo["subscription_id"].as_str().unwrap().len(), 10);
    let pairs: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("client_side_keypairs.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(pairs[0]["public_key"].as_str().unwrap(), public);
    assert_eq!(pairs[0]["site_id"], demo["site_id"]);
    assert_eq!(
        pairs[0]["domain_names"],
        serde_json::json!(["localhost", "127.0.0.1"])
    );
    drop(server);
    // A restart keeps the same keypair.
    let again = TestServer::start_in(dir.path(), OperatorConfig::default());
    assert_eq!(again.demo.server_public_key.as_deref(), Some(public));
}

#[test]
fn client_side_tokens_carry_the_site_the_cstg_bit_and_the_mapped_raw_uid() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let hash = email_hash(EMAIL);
    let (request, resp) = cstg(&server, ClientIdentity::EmailHash(&hash), ORIGIN);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    let opened = request.session.open_response(&resp.text()).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&opened).unwrap();
    assert_eq!(json["status"], "success", "{json}");
    let body = &json["body"];
    assert_token_body(body, false);

    let keys = read_key_store(dir.path());
    let token = euid_token::decode_advertising_token(
        &keys,
        body["advertising_token"].as_str().unwrap(),
        now_ms(),
    )
    .unwrap();
    assert_eq!(token.site_id, server.demo.site_id);
    assert_eq!(token.privacy_bits, 3);
    let mapped = ApiClient::demo(&server).call(
        "/v2/identity/map",
        &serde_json::json!({ "email_hash": [hash] }).to_string(),
    );
    let raw_uid = mapped["body"]["mapped"][0]["advertising_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(STANDARD.encode(token.raw_uid.as_bytes()), raw_uid);

    // The browser refreshes it like any other identity.
    let refreshed = refresh_body(server.addr, body);
    assert_eq!(refreshed["status"], "success", "{refreshed}");
    let metrics = server.request("GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains(
            "euid_http_requests_total{endpoint=\"/v2/token/client-generate\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
}

#[test]
fn refusals_opt_outs_and_phone_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let hash = email_hash(EMAIL);
    let (_, resp) = cstg(
        &server,
        ClientIdentity::EmailHash(&hash),
        "https://unlisted.example",
    );
    resp.assert_error(403, "invalid_http_origin", Some("unexpected http origin"));
    let (_, resp) = cstg(&server, ClientIdentity::EmailHash("not-a-hash"), ORIGIN);
    resp.assert_error(400, "client_error", Some("Invalid Identifier"));
    server
        .request(
            "POST",
            "/v2/token/client-generate",
            &[("Origin", ORIGIN)],
            b"{}",
        )
        .assert_error(400, "client_error", Some("bad subscription_id"));

    let optout = email_hash("optout@example.com");
    let (request, resp) = cstg(&server, ClientIdentity::EmailHash(&optout), ORIGIN);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        request.session.open_response(&resp.text()).unwrap(),
        br#"{"status":"optout"}"#
    );

    let phone = euid_normalize::hash_phone("+12345678900")
        .unwrap()
        .to_base64();
    let (request, resp) = cstg(
        &server,
        ClientIdentity::PhoneHash(&phone),
        "http://127.0.0.1:9",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let json: serde_json::Value =
        serde_json::from_slice(&request.session.open_response(&resp.text()).unwrap()).unwrap();
    assert_token_body(&json["body"], true);
}

#[test]
fn browser_endpoints_answer_preflights_and_others_do_not_get_cors() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    for path in ["/v2/token/refresh", "/v2/token/client-generate"] {
        let pre = server.request(
            "OPTIONS",
            path,
            &[
                ("Origin", "https://any.example"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            b"",
        );
        assert_eq!(pre.status, 204, "{path}");
        // No credentials are read, so none are invited: `*`, and no Allow-Credentials.
        assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
        assert_eq!(pre.header("access-control-allow-credentials"), None);
        // The allowed headers echo the request's, so caches must key on them.
        let vary = pre.header("vary").unwrap_or_default().to_ascii_lowercase();
        assert!(
            vary.contains("access-control-request-headers") && vary.contains("origin"),
            "{vary}"
        );
        assert!(pre
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST"));
        assert_eq!(
            pre.header("access-control-allow-headers"),
            Some("content-type")
        );
    }
    let refresh = server.request(
        "POST",
        "/v2/token/refresh",
        &[("Origin", "https://any.example")],
        b"garbage",
    );
    assert_eq!(refresh.header("access-control-allow-origin"), Some("*"));
    assert_eq!(refresh.header("access-control-allow-credentials"), None);
    assert_eq!(refresh.header("vary"), Some("Origin"));
    let generate = server.request(
        "POST",
        "/v2/token/generate",
        &[("Origin", "https://any.example")],
        b"",
    );
    assert_eq!(generate.header("access-control-allow-origin"), None);
}

/// Posts a CSTG request that names `app` with the given raw `Origin` headers.
fn cstg_app(server: &TestServer, app: &str, origins: &[&str]) -> (ClientRequest, HttpResponse) {
    let hash = email_hash(EMAIL);
    let request = cstg_request(&server.demo, ClientIdentity::EmailHash(&hash), Some(app));
    let headers: Vec<(&str, &str)> = origins.iter().map(|o| ("Origin", *o)).collect();
    let resp = server.request(
        "POST",
        "/v2/token/client-generate",
        &headers,
        request.body.as_bytes(),
    );
    (request, resp)
}

#[test]
fn a_browser_origin_is_checked_even_when_the_request_names_an_app() {
    const APP: &str = "com.example.app";
    let dir = tempfile::tempdir().unwrap();
    drop(TestServer::start_in(dir.path(), OperatorConfig::default()));
    // Give the demo keypair an app name, as a site with a mobile app has.
    let path = dir.path().join("client_side_keypairs.json");
    let mut pairs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    pairs[0]["app_names"] = serde_json::json!([APP]);
    std::fs::write(&path, pairs.to_string()).unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());

    // A mobile app sends no Origin: the app name is enough.
    let (request, resp) = cstg_app(&server, APP, &[]);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let opened = request.session.open_response(&resp.text()).unwrap();
    assert!(String::from_utf8_lossy(&opened).contains("\"success\""));
    // From a listed page, too.
    let (_, resp) = cstg_app(&server, APP, &[ORIGIN]);
    assert_eq!(resp.status, 200, "{}", resp.text());

    // A page elsewhere that copies the app name is refused, whatever its Origin looks like:
    // another site, userinfo that hides the real host, a path, a non-ASCII value, two values.
    for origins in [
        &["https://evil.example"][..],
        &["http://localhost:80@evil.example"],
        &["http://localhost:5173/"],
        &["null"],
        &["https://\u{e9}vil.example"],
        &[ORIGIN, "https://evil.example"],
    ] {
        let (_, resp) = cstg_app(&server, APP, origins);
        resp.assert_error(403, "invalid_http_origin", Some("unexpected http origin"));
    }
    // Without an app name, the userinfo trick does not pass the web check either.
    let hash = email_hash(EMAIL);
    let (_, resp) = cstg(
        &server,
        ClientIdentity::EmailHash(&hash),
        "http://localhost:80@evil.example",
    );
    resp.assert_error(403, "invalid_http_origin", Some("unexpected http origin"));
}
