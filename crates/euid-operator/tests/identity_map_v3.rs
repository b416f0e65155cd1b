//! `/v3/identity/map` and `/v2/identity/buckets` over HTTP on a real server: the four arrays
//! mixed, order, `p` and `r`, opt-outs, every 400, the limit, the binary envelope and its
//! base64 fallback, and the raw UID choice (`identity_v3`) shared with tokens and the v2 map.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_operator::OperatorConfig;
use euid_test_support::*;

fn b64_len(v: &serde_json::Value) -> usize {
    STANDARD
        .decode(v.as_str().expect("a string"))
        .unwrap()
        .len()
}

fn map_v3(client: &ApiClient, json: &str) -> serde_json::Value {
    let out = client.call("/v3/identity/map", json);
    assert_eq!(out["status"], "success", "{out}");
    out["body"].clone()
}

/// POSTs the raw envelope bytes as `application/octet-stream`, like the SDK's v3 client.
fn post_binary(client: &ApiClient, json: &str) -> (HttpResponse, [u8; 8]) {
    let (b64, nonce) = client.envelope(json, now_ms());
    let raw = STANDARD.decode(&b64).unwrap();
    let resp = client.post(
        "/v3/identity/map",
        &raw,
        &[("Content-Type", "application/octet-stream")],
    );
    (resp, nonce)
}

#[test]
fn all_four_kinds_mixed_answer_in_order_with_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = ApiClient::demo(&server);
    client.call("/v2/token/logout", r#"{"email":"left@example.org"}"#);
    let email_hash = euid_normalize::hash_email("hashed@example.org")
        .unwrap()
        .to_base64();
    let phone_hash = euid_normalize::hash_phone("+12025550199")
        .unwrap()
        .to_base64();
    let before_s = now_ms() / 1000;
    let body = map_v3(
        &client,
        &format!(
            r#"{{"email":["a@example.org","not an email","left@example.org","optout@example.com","B@Example.org"],
                "email_hash":["{email_hash}","short"],
                "phone":["+12025550123","12025550123"],
                "phone_hash":["{phone_hash}"]}}"#
        ),
    );
    let after_s = now_ms() / 1000;
    // Fresh salts have no refreshFrom: `r` is the next UTC midnight after the request's
    // clock, which is within [before, after] (midnight may pass during the call).
    let next_midnight = |t: i64| (t.div_euclid(86_400) + 1) * 86_400;
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{body}");
    let emails = body["email"].as_array().unwrap();
    assert_eq!(emails.len(), 5);
    for i in [0, 4] {
        let e = &emails[i];
        assert_eq!(b64_len(&e["u"]), 32, "{e}");
        // `p` is there, null: a fresh data directory has no previous salts.
        assert!(
            e.as_object().unwrap().contains_key("p") && e["p"].is_null(),
            "{e}"
        );
        let r = e["r"].as_i64().unwrap();
        assert!(
            r == next_midnight(before_s) || r == next_midnight(after_s),
            "r in seconds: {e}"
        );
        assert_eq!(e.as_object().unwrap().len(), 3);
    }
    assert_ne!(emails[0]["u"], emails[4]["u"]);
    assert_eq!(emails[1], serde_json::json!({"e": "invalid identifier"}));
    assert_eq!(emails[2], serde_json::json!({"e": "optout"}));
    assert_eq!(emails[3], serde_json::json!({"e": "optout"}));
    assert_eq!(
        body["email_hash"][1],
        serde_json::json!({"e": "invalid identifier"})
    );
    assert_eq!(
        body["phone"][1],
        serde_json::json!({"e": "invalid identifier"})
    );
    assert_eq!(b64_len(&body["phone"][0]["u"]), 32);
    assert_eq!(b64_len(&body["phone_hash"][0]["u"]), 32);

    // The same raw UIDs as /v2/identity/map and as the tokens.
    let v2 = client.call(
        "/v2/identity/map",
        &format!(r#"{{"email_hash":["{email_hash}"]}}"#),
    );
    assert_eq!(
        v2["body"]["mapped"][0]["advertising_id"],
        body["email_hash"][0]["u"]
    );
    let tokens = client.generate(&format!(r#""phone_hash":"{phone_hash}""#));
    let decoded = euid_token::decode_advertising_token(
        &read_key_store(dir.path()),
        tokens["advertising_token"].as_str().unwrap(),
        now_ms(),
    )
    .unwrap();
    assert_eq!(
        serde_json::json!(decoded.raw_uid.to_base64()),
        body["phone_hash"][0]["u"]
    );
    let by_email = map_v3(&client, r#"{"phone":["+12025550199"]}"#);
    assert_eq!(by_email["phone"][0], body["phone_hash"][0]);

    // Arrays present but empty, or some absent: all four keys, empty.
    let empty = map_v3(&client, r#"{"email":[],"phone_hash":[]}"#);
    assert_eq!(
        empty,
        serde_json::json!({"email": [], "email_hash": [], "phone": [], "phone_hash": []})
    );
    let one = map_v3(&client, r#"{"phone":null,"email":["a@example.org"]}"#);
    assert_eq!(one["email"][0], emails[0]);
    assert_eq!(one["phone"], serde_json::json!([]));
}

const INVALID_PAYLOAD: &str = "Invalid payload in body: Data is not valid json string.";

#[test]
fn malformed_requests_get_the_live_400s_and_the_limit_holds() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = ApiClient::demo(&server);
    let missing = "Required Parameter Missing: one or more of [email, email_hash, phone, phone_hash] must be specified";
    for (json, message) in [
        ("{}", missing),
        ("", missing),
        (
            r#"{"email":["a@b.com"],"extra":1}"#,
            "Incorrect request format",
        ),
        (r#"{"emails":["a@b.com"]}"#, "Incorrect request format"),
        (r#"{"email":[null]}"#, "Incorrect request format"),
        (r#"{"email":["a@b.com",null]}"#, "Incorrect request format"),
        (r#"{"email":"a@b.com"}"#, "Incorrect request format"),
        (r#"{"email":[1]}"#, "Incorrect request format"),
        (r#"{"phone":{"a":1}}"#, "Incorrect request format"),
        // Not a JSON object: the envelope layer's 400, as for every endpoint.
        ("{not json", INVALID_PAYLOAD),
        ("null", INVALID_PAYLOAD),
        (r#"[["a@b.com"]]"#, INVALID_PAYLOAD),
    ] {
        let (r, _) = client.send("/v3/identity/map", json);
        r.assert_error(400, "client_error", Some(message));
    }
    // 5,000 identities across the arrays are fine; one more is the too-many 400.
    let ids = |n: usize, f: &dyn Fn(usize) -> String| -> Vec<String> { (0..n).map(f).collect() };
    let emails = ids(2500, &|i| format!("u{i}@example.org"));
    let phones = ids(2500, &|i| format!("+1202555{i:04}"));
    let at_limit = map_v3(
        &client,
        &serde_json::json!({ "email": emails, "phone": phones }).to_string(),
    );
    assert_eq!(at_limit["email"].as_array().unwrap().len(), 2500);
    assert_eq!(at_limit["phone"].as_array().unwrap().len(), 2500);
    let (r, _) = client.send(
        "/v3/identity/map",
        &serde_json::json!({ "email": emails, "phone": phones, "phone_hash": ["x"] }).to_string(),
    );
    r.assert_error(
        400,
        "client_error",
        Some("Request payload is too large: at most 5000 identities per request"),
    );
    // MAPPER only: the demo client has every role, an unknown key is refused.
    let stranger = ApiClient::new(server.addr, "not-a-key", &server.demo.client_secret);
    let (r, _) = stranger.send("/v3/identity/map", r#"{"email":[]}"#);
    assert_eq!(r.status, 401);
}

#[test]
fn binary_envelopes_are_answered_in_binary_and_base64_bodies_labelled_binary_in_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = ApiClient::demo(&server);
    let json = r#"{"email":["a@example.org"]}"#;
    let text = map_v3(&client, json);

    let (resp, nonce) = post_binary(&client, json);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(
        STANDARD.decode(&resp.body).is_err(),
        "raw bytes, not base64"
    );
    let out = client.open(&resp, nonce);
    assert_eq!(out["body"], text);

    // The live fallback: a body labelled binary that is really base64 text is read as base64,
    // and answered as base64 text.
    let (b64, nonce) = client.envelope(json, now_ms());
    let resp = client.post(
        "/v3/identity/map",
        &b64,
        &[("Content-Type", "application/octet-stream")],
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(STANDARD.decode(&resp.body).is_ok(), "base64 text");
    assert_eq!(client.open(&resp, nonce)["body"], text);
}

#[test]
fn identity_v3_config_gives_33_byte_raw_uids_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = OperatorConfig::default();
    config.identity_v3 = true;
    let server = TestServer::start_in(dir.path(), config);
    let client = ApiClient::demo(&server);
    let body = map_v3(
        &client,
        r#"{"email":["v3@example.org"],"phone":["+12025550123"]}"#,
    );
    let u = body["email"][0]["u"].as_str().unwrap();
    assert!(
        u.starts_with('E') && b64_len(&body["email"][0]["u"]) == 33,
        "{u}"
    );
    assert!(body["phone"][0]["u"].as_str().unwrap().starts_with('F'));
    let v2 = client.call("/v2/identity/map", r#"{"email":["v3@example.org"]}"#);
    assert_eq!(v2["body"]["mapped"][0]["advertising_id"], u);
    let tokens = client.generate(r#""email":"v3@example.org""#);
    assert_eq!(tokens["advertising_token"].as_str().unwrap().len(), 219);
    let decoded = euid_token::decode_advertising_token(
        &read_key_store(dir.path()),
        tokens["advertising_token"].as_str().unwrap(),
        now_ms(),
    )
    .unwrap();
    assert_eq!(decoded.raw_uid.to_base64(), u);
    let valid = client.call(
        "/v2/token/validate",
        &format!(
            r#"{{"email":"v3@example.org","token":"{}"}}"#,
            tokens["advertising_token"].as_str().unwrap()
        ),
    );
    assert_eq!(valid["body"], true);
    // Logout records this raw UID; opt-out status finds it.
    client.call("/v2/token/logout", r#"{"email":"v3@example.org"}"#);
    let status = client.call(
        "/v2/optout/status",
        &serde_json::json!({ "advertising_ids": [u] }).to_string(),
    );
    assert_eq!(status["body"]["opted_out"][0]["advertising_id"], u);
}

#[test]
fn default_config_validate_and_optout_status_use_the_v2_raw_uid() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = ApiClient::demo(&server);
    let body = map_v3(&client, r#"{"email":["v2@example.org"]}"#);
    let u = body["email"][0]["u"].as_str().unwrap().to_owned();
    let tokens = client.generate(r#""email":"v2@example.org""#);
    let token = tokens["advertising_token"].as_str().unwrap();
    let valid = client.call(
        "/v2/token/validate",
        &format!(r#"{{"email":"v2@example.org","token":"{token}"}}"#),
    );
    assert_eq!(valid["body"], true);
    client.call("/v2/token/logout", r#"{"email":"v2@example.org"}"#);
    let status = client.call(
        "/v2/optout/status",
        &serde_json::json!({ "advertising_ids": [u] }).to_string(),
    );
    assert_eq!(status["body"]["opted_out"][0]["advertising_id"], u.as_str());
    assert_eq!(
        map_v3(&client, r#"{"email":["v2@example.org"]}"#)["email"][0],
        serde_json::json!({"e": "optout"})
    );
}

#[test]
fn buckets_take_an_iso_local_time_and_answer_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = ApiClient::demo(&server);
    let all = client.call(
        "/v2/identity/buckets",
        r#"{"since_timestamp":"1970-01-01T00:00:00"}"#,
    );
    assert_eq!(all["status"], "success");
    let all = all["body"].as_array().unwrap().clone();
    assert!(!all.is_empty());
    for b in &all {
        assert!(!b["bucket_id"].as_str().unwrap().is_empty());
        let t = b["last_updated"].as_str().unwrap();
        assert_eq!(t.len(), 23, "{t}");
        assert_eq!(&t[19..20], ".");
    }
    let future = client.call(
        "/v2/identity/buckets",
        r#"{"since_timestamp":"2999-01-01T00:00:00.123456789"}"#,
    );
    assert_eq!(future["body"], serde_json::json!([]));
    // At or after: a bucket's own last_updated includes it.
    let first = all[0]["last_updated"].as_str().unwrap();
    let since = client.call(
        "/v2/identity/buckets",
        &format!(r#"{{"since_timestamp":"{first}"}}"#),
    );
    assert!(since["body"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["bucket_id"] == all[0]["bucket_id"]));
    for (json, message) in [
        ("{}", "missing parameter since_timestamp"),
        (
            r#"{"since_timestamp":null}"#,
            "missing parameter since_timestamp",
        ),
        (
            r#"{"since":"2020-01-01T00:00:00"}"#,
            "missing parameter since_timestamp",
        ),
        (
            r#"{"since_timestamp":"2020-01-01"}"#,
            "invalid date, must conform to ISO 8601",
        ),
        (
            r#"{"since_timestamp":"2020-01-01T00:00:00Z"}"#,
            "invalid date, must conform to ISO 8601",
        ),
        (
            r#"{"since_timestamp":"2020-02-30T00:00:00"}"#,
            "invalid date, must conform to ISO 8601",
        ),
        (
            r#"{"since_timestamp":1577836800}"#,
            "invalid date, must conform to ISO 8601",
        ),
    ] {
        let (r, _) = client.send("/v2/identity/buckets", json);
        r.assert_error(400, "client_error", Some(message));
    }
}

#[test]
fn tokens_minted_with_v3_raw_uids_still_decode_and_refresh_under_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = OperatorConfig::default();
    config.identity_v3 = true;
    let old = {
        let server = TestServer::start_in(dir.path(), config);
        ApiClient::demo(&server).generate(r#""email":"before@example.org""#)
    };
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let keys = read_key_store(dir.path());
    let token = old["advertising_token"].as_str().unwrap();
    let decoded = euid_token::decode_advertising_token(&keys, token, now_ms()).unwrap();
    assert_eq!(decoded.raw_uid.as_bytes().len(), 33);
    let refreshed = refresh(
        server.addr,
        old["refresh_token"].as_str().unwrap(),
        old["refresh_response_key"].as_str().unwrap(),
        None,
    )
    .expect("refreshes");
    assert_eq!(refreshed["status"], "success", "{refreshed}");
    let fresh = euid_token::decode_advertising_token(
        &read_key_store(dir.path()),
        refreshed["body"]["advertising_token"].as_str().unwrap(),
        now_ms(),
    )
    .unwrap();
    // Re-derived from the first-level hash under the current setting: the v2 raw UID, which
    // is the v3 one without its prefix byte.
    assert_eq!(fresh.raw_uid.as_bytes(), &decoded.raw_uid.as_bytes()[1..]);
    let client = ApiClient::demo(&server);
    let mapped = map_v3(&client, r#"{"email":["before@example.org"]}"#);
    assert_eq!(mapped["email"][0]["u"], fresh.raw_uid.to_base64().as_str());
}
