//! Generate, refresh, validate, logout and the test identities, over real HTTP.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_operator::OperatorConfig;
use euid_test_support::{
    assert_token_body, now_ms, read_key_store, refresh, refresh_body, ApiClient, TestServer,
    INSUFFICIENT_TCF, SUFFICIENT_TCF,
};

fn server() -> (tempfile::TempDir, TestServer, ApiClient) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = ApiClient::demo(&server);
    (dir, server, client)
}

#[test]
fn generate_and_refresh_every_input_kind() {
    let (dir, server, client) = server();
    let email_hash = "dvECjPKZHya0/SIhSGwP0m8SgTv1vzLxPULUOsm880M="; // test.test@test.com
    let hex: String = STANDARD
        .decode(email_hash)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let keys = read_key_store(dir.path());
    let mut uids = Vec::new();
    for (input, phone) in [
        (r#""email":"TEst.TEST@Test.com ""#.to_owned(), false),
        (format!(r#""email_hash":"{email_hash}""#), false),
        (format!(r#""email_hash":"{hex}""#), false),
        (r#""phone":"+12025550123""#.to_owned(), true),
    ] {
        let body = client.generate(&input);
        assert_token_body(&body, phone);
        let token = euid_token::decode_advertising_token(
            &keys,
            body["advertising_token"].as_str().unwrap(),
            now_ms(),
        )
        .unwrap();
        assert_eq!(token.site_id, server.demo.site_id);
        assert_eq!(token.privacy_bits, 1);
        if !phone {
            uids.push(token.raw_uid.to_base64());
        }
        // Two chained refreshes, each decrypted with the previous response key.
        let first = refresh_body(server.addr, &body);
        assert_eq!(first["status"], "success", "{first}");
        assert_token_body(&first["body"], phone);
        assert_ne!(
            first["body"]["refresh_response_key"],
            body["refresh_response_key"]
        );
        let second = refresh_body(server.addr, &first["body"]);
        assert_eq!(second["status"], "success", "{second}");
        let refreshed = euid_token::decode_advertising_token(
            &keys,
            second["body"]["advertising_token"].as_str().unwrap(),
            now_ms(),
        )
        .unwrap();
        assert_eq!(refreshed.raw_uid, token.raw_uid);
        assert_eq!(refreshed.established_ms, token.established_ms);
    }
    // The email, its hash and its hex hash are the same identity.
    assert!(uids.windows(2).all(|w| w[0] == w[1]), "{uids:?}");
}

#[test]
fn generate_error_rows_and_consent() {
    let (_dir, _server, client) = server();
    let exactly_one = "Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified";
    let cases: &[(&str, &str)] = &[
        (
            &format!(r#"{{"tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
            exactly_one,
        ),
        (
            &format!(
                r#"{{"email":"a@b.com","phone":"+12025550123","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#
            ),
            exactly_one,
        ),
        ("{}", exactly_one),
        (
            &format!(r#"{{"email":"not-an-email","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
            "Invalid Identifier",
        ),
        (
            &format!(r#"{{"email":123,"tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
            "Invalid Identifier",
        ),
        (
            // 43 characters: unpadded base64 is not accepted.
            &format!(
                r#"{{"email_hash":"dvECjPKZHya0/SIhSGwP0m8SgTv1vzLxPULUOsm880M","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#
            ),
            "Invalid Identifier",
        ),
        (
            &format!(r#"{{"phone":"12025550123","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
            "Invalid Identifier",
        ),
        (
            r#"{"email":"a@b.com"}"#,
            "Required Parameter Missing: tcf_consent_string",
        ),
        (
            r#"{"email":"a@b.com","tcf_consent_string":""}"#,
            "User consent is invalid",
        ),
        (
            r#"{"email":"a@b.com","tcf_consent_string":"invalid_consent_string"}"#,
            "User consent is invalid",
        ),
        (
            r#"{"email":"a@b.com","tcf_consent_string":7}"#,
            "User consent is invalid",
        ),
        // DII is validated before consent.
        (
            r#"{"email":"bad","tcf_consent_string":"invalid_consent_string"}"#,
            "Invalid Identifier",
        ),
    ];
    for (json, message) in cases {
        let (resp, _) = client.send("/v2/token/generate", json);
        resp.assert_error(400, "client_error", Some(message));
    }
    // Insufficient consent: HTTP 200, encrypted, no body.
    let out = client.call(
        "/v2/token/generate",
        &format!(r#"{{"email":"a@b.com","tcf_consent_string":"{INSUFFICIENT_TCF}"}}"#),
    );
    assert_eq!(
        out,
        serde_json::json!({"status":"insufficient_user_consent"})
    );
    // Legacy policy fields are accepted and ignored.
    let out = client.call(
        "/v2/token/generate",
        &format!(r#"{{"email":"a@b.com","policy":1,"optout_check":1,"tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
    );
    assert_eq!(out["status"], "success");
}

#[test]
fn envelope_error_rows() {
    let (_dir, _server, client) = server();
    let hint = " See https://euid.eu/docs/getting-started/gs-encryption-decryption for details on the request envelope format.";
    let post = |body: &[u8]| client.post("/v2/token/generate", body, &[]);
    post(b"").assert_error(400, "client_error", Some("Invalid body: Body is missing."));
    post(b"!!!not base64!!!").assert_error(
        400,
        "client_error",
        Some(&format!("Invalid body: Body is not valid base64.{hint}")),
    );
    let r = post(br#"{"email":"a@b.com"}"#);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("unencrypted JSON"),
        "{}",
        r.text()
    );
    post(STANDARD.encode([1u8; 20]).as_bytes()).assert_error(
        400,
        "client_error",
        Some(&format!(
            "Invalid body: Body too short. Check encryption method.{hint}"
        )),
    );
    let (good, _) = client.envelope(r#"{"email":"a@b.com"}"#, now_ms());
    let mut raw = STANDARD.decode(&good).unwrap();
    raw[0] = 2;
    post(STANDARD.encode(&raw).as_bytes()).assert_error(
        400,
        "client_error",
        Some(&format!(
            "Invalid body: Invalid request envelope format version: received 2, must be 1.{hint}"
        )),
    );
    raw[0] = 1;
    let last = raw.len() - 1;
    raw[last] ^= 1;
    post(STANDARD.encode(&raw).as_bytes()).assert_error(
        400,
        "client_error",
        Some(&format!(
            "Invalid body: Check encryption key (ClientSecret).{hint}"
        )),
    );
    for offset in [-180_000, 180_000] {
        let (body, _) = client.envelope(r#"{"email":"a@b.com"}"#, now_ms() + offset);
        post(&body).assert_error(
            400,
            "client_error",
            Some("Invalid timestamp: Request too old or client time drift."),
        );
    }
    let (body, _) = client.envelope("[1,2]", now_ms());
    post(&body).assert_error(
        400,
        "client_error",
        Some("Invalid payload in body: Data is not valid json string."),
    );
}

#[test]
fn binary_requests_get_binary_answers() {
    let (_dir, _server, client) = server();
    let (b64, nonce) = client.envelope(
        &format!(r#"{{"email":"a@b.com","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
        now_ms(),
    );
    let raw = STANDARD.decode(&b64).unwrap();
    let resp = client.post(
        "/v2/token/generate",
        &raw,
        &[("Content-Type", "application/octet-stream")],
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(client.open(&resp, nonce)["status"], "success");
    // Base64 text sent as octet-stream falls back to base64 and is answered in base64.
    let (b64, nonce) = client.envelope(r#"{"email":"a@b.com","tcf_consent_string":"x"}"#, now_ms());
    let _ = nonce;
    let resp = client.post(
        "/v2/token/generate",
        &b64,
        &[("Content-Type", "application/octet-stream")],
    );
    resp.assert_error(400, "client_error", Some("User consent is invalid"));
}

#[test]
fn refresh_error_rows() {
    let (_dir, server, client) = server();
    let body = client.generate(r#""email":"refresh-errors@example.org""#);
    let token = body["refresh_token"].as_str().unwrap();
    let key = body["refresh_response_key"].as_str().unwrap();
    let demo_key = Some(server.demo.api_key.as_str());

    // Any other length is not a v2 refresh token.
    for (auth, status, message) in [
        (None, "error", "Error refreshing token"),
        (demo_key, "invalid_token", "Invalid Token presented"),
    ] {
        refresh(server.addr, &format!("{token}\n"), key, auth)
            .unwrap_err()
            .assert_error(400, status, Some(message));
        refresh(server.addr, "abc", key, auth)
            .unwrap_err()
            .assert_error(400, status, Some(message));
    }
    // 388 characters that are not base64.
    refresh(server.addr, &"*".repeat(388), key, None)
        .unwrap_err()
        .assert_error(
            400,
            "client_error",
            Some("Invalid body: Body is not valid base64."),
        );
    // An unknown refresh key id.
    let mut raw = STANDARD.decode(token).unwrap();
    raw[1..5].copy_from_slice(&777_777i32.to_be_bytes());
    refresh(server.addr, &STANDARD.encode(&raw), key, None)
        .unwrap_err()
        .assert_error(
            400,
            "client_error",
            Some("Invalid key: Generator of this token (Key ID: 777777) does not exist."),
        );
    // Tampered ciphertext.
    let mut raw = STANDARD.decode(token).unwrap();
    raw[100] ^= 1;
    refresh(server.addr, &STANDARD.encode(&raw), key, None)
        .unwrap_err()
        .assert_error(
            400,
            "client_error",
            Some("Invalid data: Check encryption method and encryption key."),
        );
    let _ = client;
}

#[test]
fn expired_refresh_tokens_get_400() {
    let dir = tempfile::tempdir().unwrap();
    let config = OperatorConfig::from_json(
        br#"{"identity_token_expires_after_seconds":1,"refresh_identity_token_after_seconds":1,"refresh_token_expires_after_seconds":1}"#,
    )
    .unwrap();
    let server = TestServer::start_in(dir.path(), config);
    let client = ApiClient::demo(&server);
    let body = client.generate(r#""email":"expires@example.org""#);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let token = body["refresh_token"].as_str().unwrap();
    let key = body["refresh_response_key"].as_str().unwrap();
    refresh(server.addr, token, key, Some(&server.demo.api_key))
        .unwrap_err()
        .assert_error(400, "expired_token", Some("Expired Token presented"));
    refresh(server.addr, token, key, None)
        .unwrap_err()
        .assert_error(400, "error", Some("Error refreshing token"));
}

#[test]
fn test_identities_through_generate_and_refresh() {
    let (_dir, server, client) = server();
    let optout_on_refresh = [
        r#""email":"optout@email.com""#,
        r#""email":"optout@example.com""#,
        r#""email":"refresh-optout@example.com""#,
        r#""email_hash":"NaNI8RU0bL1Jpp1jJLC5aJO/lchc6gGhgXQIAwJ7cV4=""#,
        r#""phone":"+00000000000""#,
        r#""phone":"+00000000002""#,
        r#""phone_hash":"0VoxsIuk88qt7TnZaTC//C9Vur3pR1zBMIr1cJe7xjE=""#,
    ];
    for input in optout_on_refresh {
        let body = client.generate(input);
        let refreshed = refresh_body(server.addr, &body);
        assert_eq!(refreshed, serde_json::json!({"status":"optout"}), "{input}");
    }
    for input in [
        r#""email":"validate@email.com""#,
        r#""email":"validate@example.com""#,
        r#""email_hash":"ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/c=""#,
        r#""phone":"+12345678901""#,
    ] {
        let body = client.generate(input);
        assert_eq!(
            refresh_body(server.addr, &body)["status"],
            "success",
            "{input}"
        );
        // Validate identities are never opted out, even when logged out.
        let logout = client.call("/v2/token/logout", &format!("{{{input}}}"));
        assert_eq!(logout["body"]["optout"], "OK");
        assert_eq!(
            refresh_body(server.addr, &body)["status"],
            "success",
            "{input}"
        );
    }
}

#[test]
fn logout_then_refresh_is_optout_and_status_lists_it() {
    let (dir, server, client) = server();
    let body = client.generate(r#""email":"leaving@example.org""#);
    let out = client.call("/v2/token/logout", r#"{"email":"Leaving@Example.org"}"#);
    assert_eq!(
        out,
        serde_json::json!({"status":"success","body":{"optout":"OK"}})
    );
    assert_eq!(
        refresh_body(server.addr, &body),
        serde_json::json!({"status":"optout"})
    );
    // Generate still issues tokens (decision 4).
    client.generate(r#""email":"leaving@example.org""#);

    let keys = read_key_store(dir.path());
    let uid = euid_token::decode_advertising_token(
        &keys,
        body["advertising_token"].as_str().unwrap(),
        now_ms(),
    )
    .unwrap()
    .raw_uid
    .to_base64();
    let other = "EAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let status = client.call(
        "/v2/optout/status",
        &format!(r#"{{"advertising_ids":["{uid}","{other}","%%%"]}}"#),
    );
    let listed = status["body"]["opted_out"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{status}");
    assert_eq!(listed[0]["advertising_id"], uid.as_str());
    let since = listed[0]["opted_out_since"].as_i64().unwrap();
    assert!((now_ms() - since).abs() < 60_000);

    let (r, _) = client.send("/v2/optout/status", "{}");
    r.assert_error(
        400,
        "client_error",
        Some("Required Parameter Missing: advertising_ids"),
    );
    let many: Vec<String> = (0..5001).map(|_| other.to_owned()).collect();
    let (r, _) = client.send(
        "/v2/optout/status",
        &serde_json::json!({"advertising_ids": many}).to_string(),
    );
    r.assert_error(400, "client_error", Some("Request payload is too large"));
    let (r, _) = client.send("/v2/token/logout", "{}");
    r.assert_error(400, "client_error", Some("Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified"));
}

#[test]
fn validate_compares_raw_uids_for_the_callers_own_tokens() {
    let (_dir, _server, client) = server();
    let body = client.generate(r#""email":"someone@example.org""#);
    let token = body["advertising_token"].as_str().unwrap();
    let check = |identity: &str| {
        client.call(
            "/v2/token/validate",
            &format!(r#"{{"token":"{token}",{identity}}}"#),
        )
    };
    assert_eq!(
        check(r#""email":"Someone@example.org""#),
        serde_json::json!({"status":"success","body":true})
    );
    assert_eq!(check(r#""email":"other@example.org""#)["body"], false);
    assert_eq!(check(r#""phone":"+12025550123""#)["body"], false);
    let (r, _) = client.send(
        "/v2/token/validate",
        r#"{"token":"E4AAAA","email":"a@b.com"}"#,
    );
    r.assert_error(400, "client_error", Some("Invalid token"));
    let (r, _) = client.send("/v2/token/validate", &format!(r#"{{"token":"{token}"}}"#));
    r.assert_error(400, "client_error", Some("Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified"));
}

/// The response envelope carries the server's clock (`wire.md` §1.2), not the client's:
/// a request stamped a minute in the past is answered with a timestamp taken while the
/// request was served. (The SDKs never read it, so only this test checks it.)
#[test]
fn responses_carry_the_server_timestamp() {
    let (_dir, _server, client) = server();
    let client_time = now_ms() - 60_000;
    let (body, nonce) = client.envelope(
        &format!(r#"{{"email":"clock@example.com","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
        client_time,
    );
    let before = now_ms();
    let resp = client.post("/v2/token/generate", &body, &[]);
    let after = now_ms();
    assert_eq!(resp.status, 200, "body: {}", resp.text());
    let opened = euid_envelope::open_response(&client.secret, &resp.body, Some(nonce))
        .expect("the response opens and echoes the nonce");
    assert!(
        (before..=after).contains(&opened.timestamp_ms),
        "response timestamp {} outside the request's {before}..={after} (client sent {client_time})",
        opened.timestamp_ms
    );
}
