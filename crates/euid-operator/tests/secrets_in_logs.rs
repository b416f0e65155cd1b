//! The real `euid-operator` binary at `RUST_LOG=trace` through a whole lifecycle (every
//! endpoint, error cases, a key rotation picked up by the reload loop, a graceful stop): its
//! stdout and stderr together must not hold any secret, token or identity that went through it.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use euid_cstg::ClientIdentity;
use euid_operator::DemoClient;
use euid_operator::{rotate_keys, RotateOptions};
use euid_test_support::{
    cstg_request, http, now_ms, read_key_store, refresh, refresh_body, ApiClient, SpawnedOperator,
    SUFFICIENT_TCF,
};
use euid_token::MASTER_KEYSET_ID;

/// Raw email as a caller sends it, and its normalized form (gmail: dots and `+tag` dropped).
const EMAIL: (&str, &str) = (" Secret.Person+Promo@GMail.com ", "secretperson@gmail.com");
const EMAIL_2: (&str, &str) = ("Another.Secret@Example.ORG", "another.secret@example.org");
/// Sent only as a hash (`email_hash`), and through client-side generation.
const HASHED_EMAIL: &str = "hashed.only.person@example.net";
const CSTG_EMAIL: &str = "browser.person@example.com";
const PHONE: &str = "+12025550187";
/// Sent only as a hash (`phone_hash`).
const HASHED_PHONE: &str = "+447700900123";
/// Only ever inside a malformed or unencrypted request body.
const BAD_JSON_EMAIL: &str = "malformed.body.person@example.com";
const PLAINTEXT_EMAIL: &str = "sent.unencrypted@example.com";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything that must not appear, with a label for the failure message.
#[derive(Default)]
struct Needles(Vec<(String, String)>);

impl Needles {
    fn add(&mut self, label: impl Into<String>, value: impl Into<String>) {
        let value = value.into();
        assert!(value.len() >= 8, "needle too short to search: {value:?}");
        self.0.push((label.into(), value));
    }

    /// Raw bytes as base64 (standard and URL-safe) and hex.
    fn add_bytes(&mut self, label: &str, bytes: &[u8]) {
        self.add(format!("{label} (base64)"), STANDARD.encode(bytes));
        self.add(
            format!("{label} (base64url)"),
            URL_SAFE_NO_PAD.encode(bytes),
        );
        self.add(format!("{label} (hex)"), hex(bytes));
    }

    fn add_base64(&mut self, label: &str, b64: &str) {
        self.add(label, b64);
        self.add_bytes(label, &STANDARD.decode(b64).expect("base64"));
    }

    fn add_email(&mut self, label: &str, raw: &str) {
        let normalized = euid_normalize::normalize_email(raw).unwrap();
        self.add(format!("{label} (raw)"), raw.trim());
        self.add(format!("{label} (normalized)"), normalized);
        let hash = euid_normalize::hash_email(raw).unwrap();
        self.add_bytes(&format!("{label} SHA-256"), hash.as_bytes());
    }

    fn add_phone(&mut self, label: &str, phone: &str) {
        self.add(format!("{label} (raw)"), phone);
        self.add(format!("{label} (digits)"), &phone[1..]);
        let hash = euid_normalize::hash_phone(phone).unwrap();
        self.add_bytes(&format!("{label} SHA-256"), hash.as_bytes());
    }

    /// The advertising token, refresh token and response key of a token body.
    fn add_tokens(&mut self, label: &str, body: &serde_json::Value) {
        let at = body["advertising_token"]
            .as_str()
            .expect("advertising_token");
        self.add(format!("{label} advertising_token"), at);
        // A log line could be cut; a 40-character window of a token is still a leak.
        self.add(format!("{label} advertising_token (middle)"), &at[60..100]);
        let rt = body["refresh_token"].as_str().expect("refresh_token");
        self.add(format!("{label} refresh_token"), rt);
        self.add(format!("{label} refresh_token (middle)"), &rt[100..140]);
        self.add_base64(
            &format!("{label} refresh_response_key"),
            body["refresh_response_key"].as_str().expect("key"),
        );
    }

    /// Every needle found in `log` (hex compared case-insensitively).
    fn found_in(&self, log: &str) -> Vec<String> {
        let lower = log.to_ascii_lowercase();
        self.0
            .iter()
            .filter(|(_, v)| log.contains(v.as_str()) || lower.contains(&v.to_ascii_lowercase()))
            .map(|(label, v)| format!("{label}: {v}"))
            .collect()
    }
}

/// Spawns the binary with `RUST_LOG=trace`, both output streams captured in full.
fn spawn_traced(dir: &std::path::Path) -> SpawnedOperator {
    let config = dir.join("operator-config.json");
    std::fs::write(&config, br#"{"reload_interval_ms":50}"#).unwrap();
    SpawnedOperator::spawn(
        env!("CARGO_BIN_EXE_euid-operator"),
        &dir.join("data"),
        &["--config", config.to_str().unwrap()],
        &[("RUST_LOG", "trace")],
    )
}

#[test]
fn a_trace_level_log_of_a_full_lifecycle_holds_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let operator = spawn_traced(dir.path());
    let data = dir.path().join("data");
    let demo: DemoClient =
        serde_json::from_slice(&std::fs::read(data.join("demo-client.json")).unwrap()).unwrap();
    let client = ApiClient::new(operator.addr, &demo.api_key, &demo.client_secret);
    let mut needles = Needles::default();
    needles.add("API key", demo.api_key.as_str());
    // The random part after the public `key_id` prefix.
    needles.add(
        "API key (secret part)",
        &demo.api_key[demo.api_key.len() - 40..],
    );
    needles.add_base64("client secret", &demo.client_secret);
    needles.add_email("email", EMAIL.0);
    needles.add_email("email 2", EMAIL_2.0);
    needles.add_email("hashed email", HASHED_EMAIL);
    needles.add_email("CSTG email", CSTG_EMAIL);
    needles.add_email("bad-JSON email", BAD_JSON_EMAIL);
    needles.add_email("plaintext email", PLAINTEXT_EMAIL);
    needles.add_phone("phone", PHONE);
    needles.add_phone("hashed phone", HASHED_PHONE);
    assert_eq!(
        euid_normalize::normalize_email(EMAIL.0).unwrap(),
        EMAIL.1,
        "the gmail rules changed the normalized form"
    );
    assert_eq!(
        euid_normalize::normalize_email(EMAIL_2.0).unwrap(),
        EMAIL_2.1
    );

    let email_hash = euid_normalize::hash_email(HASHED_EMAIL)
        .unwrap()
        .to_base64();
    let phone_hash = euid_normalize::hash_phone(HASHED_PHONE)
        .unwrap()
        .to_base64();

    // Generate for every input kind, refresh twice, validate.
    let inputs = [
        format!(r#""email":"{}""#, EMAIL.0),
        format!(r#""email_hash":"{email_hash}""#),
        format!(r#""phone":"{PHONE}""#),
        format!(r#""phone_hash":"{phone_hash}""#),
    ];
    let mut advertising_ids = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let body = client.generate(input);
        needles.add_tokens(&format!("generate #{i}"), &body);
        let first = refresh_body(operator.addr, &body);
        assert_eq!(first["status"], "success", "{first}");
        needles.add_tokens(&format!("refresh #{i}"), &first["body"]);
        let second = refresh_body(operator.addr, &first["body"]);
        needles.add_tokens(&format!("second refresh #{i}"), &second["body"]);
        let token = body["advertising_token"].as_str().unwrap();
        let valid = client.call(
            "/v2/token/validate",
            &format!(r#"{{"token":"{token}",{input}}}"#),
        );
        assert_eq!(valid["status"], "success", "{valid}");
        let store = read_key_store(&data);
        let raw_uid = euid_token::decode_advertising_token(&store, token, now_ms())
            .unwrap()
            .raw_uid
            .to_base64();
        needles.add(format!("raw UID #{i}"), raw_uid.as_str());
        advertising_ids.push(raw_uid);
    }

    // Logout, then the refresh of a token minted before it is an opt-out.
    let leaving = client.generate(&format!(r#""email":"{}""#, EMAIL_2.0));
    needles.add_tokens("leaving", &leaving);
    let ack = client.call(
        "/v2/token/logout",
        &format!(r#"{{"email":"{}"}}"#, EMAIL_2.0),
    );
    assert_eq!(ack["body"]["optout"], "OK");
    assert_eq!(
        refresh_body(operator.addr, &leaving),
        serde_json::json!({"status":"optout"})
    );

    // Identity map, opt-out status, key endpoints.
    let mapped = client.call(
        "/v2/identity/map",
        &serde_json::json!({"email": [EMAIL.0, EMAIL_2.0, "not-an-email"]}).to_string(),
    );
    assert_eq!(mapped["body"]["mapped"].as_array().unwrap().len(), 1);
    let mapped_phones = client.call(
        "/v2/identity/map",
        &serde_json::json!({"phone_hash": [phone_hash]}).to_string(),
    );
    assert_eq!(mapped_phones["status"], "success");
    let status = client.call(
        "/v2/optout/status",
        &serde_json::json!({ "advertising_ids": advertising_ids }).to_string(),
    );
    assert_eq!(status["status"], "success");
    let (body, nonce) = client.envelope("", now_ms());
    let bidstream = client.open(&client.post("/v2/key/bidstream", &body, &[]), nonce);
    assert!(!bidstream["body"]["keys"].as_array().unwrap().is_empty());
    let sharing = client.call("/v2/key/sharing", "{}");
    assert!(!sharing["body"]["keys"].as_array().unwrap().is_empty());

    // Client-side generation, as the browser SDK sends it.
    let cstg_hash = euid_normalize::hash_email(CSTG_EMAIL).unwrap().to_base64();
    let request = cstg_request(&demo, ClientIdentity::EmailHash(&cstg_hash), None);
    let resp = http(
        operator.addr,
        "POST",
        "/v2/token/client-generate",
        &[
            ("Origin", "http://localhost:5173"),
            ("Content-Type", "text/plain;charset=UTF-8"),
        ],
        request.body.as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let cstg: serde_json::Value =
        serde_json::from_slice(&request.session.open_response(&resp.text()).unwrap()).unwrap();
    assert_eq!(cstg["status"], "success", "{cstg}");
    needles.add_tokens("client-generate", &cstg["body"]);
    // The browser's encrypted payload is not a secret to the operator's log readers, but
    // it has no business in a log either.
    let payload: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    needles.add("CSTG payload", payload["payload"].as_str().unwrap());

    // Error cases: wrong secret, unknown API key, malformed and unencrypted bodies, bad
    // refresh tokens.
    let wrong_secret = ApiClient::new(operator.addr, &demo.api_key, &STANDARD.encode([7u8; 32]));
    let (r, _) = wrong_secret.send(
        "/v2/token/generate",
        &format!(
            r#"{{"email":"{}","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#,
            EMAIL.0
        ),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let unknown_key = format!(
        "{}{}",
        &demo.api_key[..demo.api_key.len() - 40],
        "Q".repeat(40)
    );
    needles.add("unknown API key", unknown_key.as_str());
    let stranger = ApiClient::new(operator.addr, &unknown_key, &demo.client_secret);
    let (r, _) = stranger.send("/v2/token/generate", r#"{"email":"a@b.com"}"#);
    r.assert_error(401, "unauthorized", None);
    let (r, _) = client.send(
        "/v2/token/generate",
        &format!(r#"{{"email":"{BAD_JSON_EMAIL}","tcf_consent_string":"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = client.post(
        "/v2/token/generate",
        format!(r#"{{"email":"{PLAINTEXT_EMAIL}"}}"#).as_bytes(),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let token = leaving["refresh_token"].as_str().unwrap();
    let key = leaving["refresh_response_key"].as_str().unwrap();
    let mut tampered = STANDARD.decode(token).unwrap();
    tampered[1..5].copy_from_slice(&777_777i32.to_be_bytes());
    let tampered = STANDARD.encode(&tampered);
    needles.add("tampered refresh token", &tampered[100..140]);
    assert!(refresh(operator.addr, &tampered, key, None).is_err());
    assert!(refresh(
        operator.addr,
        &format!("{token}x"),
        key,
        Some(&demo.api_key)
    )
    .is_err());

    // A key rotation, picked up by the running binary.
    let rotated = rotate_keys(
        &data,
        &RotateOptions {
            activates_in_seconds: 0,
            lifetime_seconds: 86_400,
        },
    )
    .unwrap();
    let new_master = rotated
        .iter()
        .find(|k| k.keyset_id == MASTER_KEYSET_ID)
        .unwrap()
        .key_id;
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let body = client.generate(&format!(r#""email":"{}""#, EMAIL.0));
        let decoded = euid_token::decode_advertising_token(
            &read_key_store(&data),
            body["advertising_token"].as_str().unwrap(),
            now_ms(),
        )
        .unwrap();
        if decoded.master_key_id == new_master {
            break body;
        }
        assert!(Instant::now() < deadline, "the rotation was not picked up");
        std::thread::sleep(Duration::from_millis(50));
    };
    needles.add_tokens("after rotation", &after);
    needles.add_tokens(
        "refresh after rotation",
        &refresh_body(operator.addr, &after)["body"],
    );

    // The data directory's secrets, read after the rotation so new keys are included.
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("keyset_keys.json")).unwrap()).unwrap();
    let keys = keys.as_array().unwrap();
    assert!(keys.len() >= 8, "{}", keys.len());
    for key in keys {
        needles.add_base64(
            &format!("key {} secret", key["id"]),
            key["secret"].as_str().unwrap(),
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("salts/metadata.json")).unwrap()).unwrap();
    needles.add(
        "first-level salt",
        metadata["first_level"].as_str().unwrap(),
    );
    needles.add("bucket id secret", metadata["id_secret"].as_str().unwrap());
    let salts = std::fs::read_to_string(data.join("salts/salts.txt")).unwrap();
    let mut salt_count = 0;
    for line in salts.lines() {
        let salt = line.split(',').nth(2).unwrap();
        needles.add(format!("salt of bucket {line:.12}"), salt);
        salt_count += 1;
    }
    assert!(salt_count >= 1024, "{salt_count}");
    let pairs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("client_side_keypairs.json")).unwrap())
            .unwrap();
    for pair in pairs.as_array().unwrap() {
        let private = pair["private_key"].as_str().unwrap();
        assert!(private.starts_with("EUID-Y-L-"), "{private}");
        needles.add("CSTG private key", private);
        needles.add_base64("CSTG private key (DER)", &private[9..]);
    }

    let log = operator.stop();

    // The log is there and says what happened: the search below is not over nothing.
    assert!(log.len() > 1000, "log too short:\n{log}");
    for expected in [
        "euid-operator listening",
        "endpoint=\"/v2/token/generate\"",
        "endpoint=\"/v2/token/refresh\"",
        "endpoint=\"/v2/token/logout\"",
        "endpoint=\"/v2/token/client-generate\"",
        "endpoint=\"/v2/identity/map\"",
        "status=401",
        "new snapshot loaded",
        "shutting down",
        "stopped",
    ] {
        assert!(log.contains(expected), "no {expected:?} in the log:\n{log}");
    }
    let leaks = needles.found_in(&log);
    assert!(
        leaks.is_empty(),
        "{} secrets in the trace-level log:\n{}\n\nlog:\n{log}",
        leaks.len(),
        leaks.join("\n")
    );
    // The search itself works: a needle planted in a copy of the log is found.
    let mut planted = Needles::default();
    planted.add("planted", "planted-needle-value");
    assert_eq!(
        planted
            .found_in(&format!("{log}planted-needle-value"))
            .len(),
        1
    );
}

/// Waits (bounded) until the healthcheck answers 503, and returns its body.
fn stale_health(addr: std::net::SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http(addr, "GET", "/ops/healthcheck", &[], b"");
        if r.status == 503 {
            return r.text();
        }
        assert!(Instant::now() < deadline, "the broken file was not noticed");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn healthy(addr: std::net::SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(addr, "GET", "/ops/healthcheck", &[], b"").status != 200 {
        assert!(
            Instant::now() < deadline,
            "the restored file was not reloaded"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A data file edited by hand with a secret where a number belongs: the parser's error
/// must not quote the secret, neither in the log nor in the healthcheck's answer.
#[test]
fn a_malformed_data_file_does_not_echo_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let operator = spawn_traced(dir.path());
    let data = dir.path().join("data");
    let mut needles = Needles::default();
    let mut health = String::new();
    let files: [(&str, &str, &str); 4] = [
        ("keyset_keys.json", "secret", "id"),
        ("clients.json", "secret", "site_id"),
        ("client_side_keypairs.json", "private_key", "site_id"),
        ("salts/metadata.json", "first_level", "generated"),
    ];
    for (file, secret_field, number_field) in files {
        let path = data.join(file);
        let original = std::fs::read(&path).unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&original).unwrap();
        let target = match json.as_array_mut() {
            Some(items) => &mut items[0],
            None => &mut json,
        };
        let secret = target[secret_field].as_str().unwrap().to_owned();
        needles.add(format!("{file} {secret_field}"), secret.as_str());
        target[number_field] = serde_json::Value::String(secret);
        // Every one of these files is watched: writing it alone triggers the reload.
        euid_store::write_atomic(&path, &serde_json::to_vec(&json).unwrap()).unwrap();
        let body = stale_health(operator.addr);
        assert!(body.starts_with("stale"), "{body}");
        health.push_str(&body);
        health.push('\n');
        euid_store::write_atomic(&path, &original).unwrap();
        healthy(operator.addr);
    }
    let log = operator.stop();
    assert_eq!(
        log.matches("does not load; keeping the previous snapshot")
            .count(),
        files.len(),
        "{log}"
    );
    let leaks = needles.found_in(&format!("{log}\n{health}"));
    assert!(
        leaks.is_empty(),
        "{} secrets echoed:\n{}\n\nhealthcheck answers:\n{health}\nlog:\n{log}",
        leaks.len(),
        leaks.join("\n")
    );
}
