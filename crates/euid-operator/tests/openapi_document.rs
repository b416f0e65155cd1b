//! The API reference is true (issue #22): every endpoint and every outcome `openapi.yaml`
//! documents is sent to the real server over real HTTP, each answer opened, and the whole set
//! validated against the document by `tests/interop/openapi_check.py` (the `jsonschema`
//! package of the interop venv). An answer the document does not describe fails, and so does
//! a documented outcome, field, array item or enum value that no request here produced.
//!
//! Also: the served `GET /openapi.yaml` is the crate's file, and `docs/openapi.yaml` the same
//! bytes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::AesGcmKey;
use euid_cstg::ClientIdentity;
use euid_envelope::{open_refresh_response, open_response, seal_request};
use euid_operator::SqliteOptOutStore;
use euid_operator::{OperatorConfig, OPENAPI_YAML};
use euid_store::clients::Role;
use euid_store::write_atomic;
use euid_test_support::{
    add_client, cstg_request, http, interop_python, now_ms, parse_response, read_key_store,
    repo_root, run_interop_script, ApiClient, HttpResponse, RouterServer, SwitchableOptOuts,
    TestServer, INSUFFICIENT_TCF, SUFFICIENT_TCF,
};
use euid_token::{Key, KeyStore, REFRESH_KEYSET_ID};
use serde_json::{json, Value};

/// The places of the document this test does not reach, each with why; any other unreached
/// place fails the test, and so does one of these once it is reached (then delete it here).
const NOT_PRODUCED: &[(&str, &str)] = &[];

/// Every exchange, as the checker reads it.
#[derive(Default)]
struct Exchanges(Vec<Value>);

impl Exchanges {
    fn record(
        &mut self,
        case: &str,
        method: &str,
        path: &str,
        resp: &HttpResponse,
        request: Option<Value>,
        decrypted: Option<Value>,
    ) {
        let mut entry = json!({
            "case": case,
            "method": method,
            "path": path,
            "status": resp.status,
            "headers": resp.headers,
            "content_type": resp.header("content-type"),
            "body_text": resp.text(),
        });
        let obj = entry.as_object_mut().expect("object");
        if let Ok(body) = serde_json::from_slice::<Value>(&resp.body) {
            obj.insert("body_json".into(), body);
        }
        if let Some(request) = request {
            obj.insert("request".into(), request);
        }
        if let Some(decrypted) = decrypted {
            obj.insert("decrypted".into(), decrypted);
        }
        self.0.push(entry);
    }

    /// An enveloped request (`binary`: raw bytes, `application/octet-stream`); a 200 opened
    /// with the client's secret and the nonce sent.
    fn envelope(&mut self, client: &ApiClient, case: &str, path: &str, json: &str, binary: bool) {
        let nonce: [u8; 8] = rand_bytes();
        let mut rng = euid_crypto::BatchedOsRandom::new();
        let raw = seal_request(&client.secret, now_ms(), nonce, json.as_bytes(), &mut rng);
        let resp = if binary {
            client.post(path, &raw, &[("Content-Type", "application/octet-stream")])
        } else {
            client.post(path, STANDARD.encode(raw).as_bytes(), &[])
        };
        let (request, decrypted) = if resp.status == 200 {
            let opened = open_response(&client.secret, &resp.body, Some(nonce))
                .unwrap_or_else(|e| panic!("{case}: the answer does not open: {e}"));
            let request =
                (!json.is_empty()).then(|| serde_json::from_str(json).expect("request JSON"));
            (
                request,
                Some(serde_json::from_slice(&opened.json).expect("answer JSON")),
            )
        } else {
            (None, None)
        };
        self.record(case, "POST", path, &resp, request, decrypted);
    }

    /// Envelope requests that do not open.
    fn bad_envelopes(&mut self, client: &ApiClient, path: &str) {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty body", Vec::new()),
            ("plain JSON", br#"{"email":"a@example.com"}"#.to_vec()),
            ("not base64", b"!!!!".to_vec()),
            ("too short", STANDARD.encode([1u8; 10]).into_bytes()),
            ("version 2", STANDARD.encode([2u8; 60]).into_bytes()),
            ("wrong secret", STANDARD.encode([1u8; 60]).into_bytes()),
            (
                "ten minutes old",
                STANDARD
                    .encode(seal_request(
                        &client.secret,
                        now_ms() - 600_000,
                        [0; 8],
                        b"{}",
                        &mut euid_crypto::BatchedOsRandom::new(),
                    ))
                    .into_bytes(),
            ),
            (
                "not JSON inside",
                STANDARD
                    .encode(seal_request(
                        &client.secret,
                        now_ms(),
                        [0; 8],
                        b"not json",
                        &mut euid_crypto::BatchedOsRandom::new(),
                    ))
                    .into_bytes(),
            ),
        ];
        for (case, body) in cases {
            let resp = client.post(path, &body, &[]);
            self.record(case, "POST", path, &resp, None, None);
        }
        let resp = http(client.addr, "POST", path, &[], b"");
        self.record("no API key", "POST", path, &resp, None, None);
    }

    /// A refresh; a 200 opened with `key_b64`.
    fn refresh(
        &mut self,
        addr: SocketAddr,
        case: &str,
        body: &[u8],
        key_b64: Option<&str>,
        api_key: Option<&str>,
        binary: bool,
    ) {
        let auth = api_key.map(|k| format!("Bearer {k}"));
        let content_type = if binary {
            "application/octet-stream"
        } else {
            "text/plain"
        };
        let mut headers = vec![
            ("Content-Type", content_type),
            ("Origin", "https://publisher.example"),
        ];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let resp = http(addr, "POST", "/v2/token/refresh", &headers, body);
        let decrypted = (resp.status == 200).then(|| {
            let key = AesGcmKey::from_base64(key_b64.expect("a key for a 200")).expect("key");
            let json = open_refresh_response(&key, &resp.body)
                .unwrap_or_else(|e| panic!("{case}: the refresh answer does not open: {e}"));
            serde_json::from_slice(&json).expect("refresh JSON")
        });
        self.record(case, "POST", "/v2/token/refresh", &resp, None, decrypted);
    }

    /// A client-side generate for `identity` from `origin`; a 200 opened with the session.
    fn cstg(
        &mut self,
        server: &TestServer,
        case: &str,
        identity: ClientIdentity<'_>,
        app_name: Option<&str>,
        origin: Option<&str>,
        edit: impl FnOnce(&mut Value),
    ) {
        let request = cstg_request(&server.demo, identity, app_name);
        let mut body: Value = serde_json::from_str(&request.body).expect("CSTG body");
        edit(&mut body);
        let mut headers = vec![("Content-Type", "text/plain")];
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        let path = "/v2/token/client-generate";
        let resp = http(
            server.addr,
            "POST",
            path,
            &headers,
            body.to_string().as_bytes(),
        );
        let decrypted = (resp.status == 200).then(|| {
            let json = request
                .session
                .open_response(&resp.text())
                .unwrap_or_else(|e| panic!("{case}: the CSTG answer does not open: {e}"));
            serde_json::from_slice(&json).expect("CSTG JSON")
        });
        let payload = match identity {
            ClientIdentity::EmailHash(h) => json!({ "email_hash": h }),
            ClientIdentity::PhoneHash(h) => json!({ "phone_hash": h }),
        };
        self.record(case, "POST", path, &resp, Some(payload), decrypted);
    }
}

/// Sets every `disabled` field in `value` to `true`.
fn disable_all(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key == "disabled" {
                    *field = Value::Bool(true);
                } else {
                    disable_all(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(disable_all),
        _ => {}
    }
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    use euid_crypto::RandomSource as _;
    let mut out = [0u8; N];
    euid_crypto::BatchedOsRandom::new().fill(&mut out);
    out
}

fn email_hash(email: &str) -> String {
    euid_normalize::hash_email(email)
        .expect("an email")
        .to_base64()
}

/// A request whose body never arrives: the 408 after `request_timeout_ms`.
fn stalled(addr: SocketAddr, method: &str, path: &str) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 100\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("write head");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const ENVELOPE_PATHS: [&str; 9] = [
    "/v2/token/generate",
    "/v2/token/validate",
    "/v2/token/logout",
    "/v2/key/bidstream",
    "/v2/key/sharing",
    "/v2/identity/map",
    "/v3/identity/map",
    "/v2/identity/buckets",
    "/v2/optout/status",
];

fn emails(n: usize) -> String {
    let list: Vec<String> = (0..n).map(|i| format!("\"u{i}@example.com\"")).collect();
    list.join(",")
}

/// Every outcome of the main server (the working one).
fn main_server_exchanges(out: &mut Exchanges) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config =
        OperatorConfig::from_json(br#"{"reload_interval_ms":50,"optout_check_on_generate":true}"#)
            .expect("config");
    let server = TestServer::start_in(dir.path(), config);
    let client = ApiClient::demo(&server);
    let generate = "/v2/token/generate";

    for path in ENVELOPE_PATHS {
        out.bad_envelopes(&client, path);
    }

    // Generate.
    let tokens_json =
        |identity: &str| format!(r#"{{{identity},"tcf_consent_string":"{SUFFICIENT_TCF}"}}"#);
    out.envelope(
        &client,
        "email",
        generate,
        &tokens_json(r#""email":"a@example.com""#),
        false,
    );
    out.envelope(
        &client,
        "phone, binary",
        generate,
        &tokens_json(r#""phone":"+12345678901""#),
        true,
    );
    out.envelope(
        &client,
        "test opt-out",
        generate,
        &tokens_json(r#""email":"optout@example.com""#),
        false,
    );
    out.envelope(
        &client,
        "insufficient consent",
        generate,
        &format!(r#"{{"email":"a@example.com","tcf_consent_string":"{INSUFFICIENT_TCF}"}}"#),
        false,
    );
    out.envelope(
        &client,
        "no identity",
        generate,
        &format!(r#"{{"tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
        false,
    );
    out.envelope(
        &client,
        "bad email",
        generate,
        &tokens_json(r#""email":"not an email""#),
        false,
    );
    out.envelope(
        &client,
        "no consent",
        generate,
        r#"{"email":"a@example.com"}"#,
        false,
    );
    out.envelope(
        &client,
        "empty consent",
        generate,
        r#"{"email":"a@example.com","tcf_consent_string":""}"#,
        false,
    );

    // Validate.
    let validate = "/v2/token/validate";
    let token = client.generate(r#""email":"v@example.com""#)["advertising_token"]
        .as_str()
        .expect("token")
        .to_owned();
    out.envelope(
        &client,
        "its identity",
        validate,
        &format!(r#"{{"token":"{token}","email":"v@example.com"}}"#),
        false,
    );
    out.envelope(
        &client,
        "another identity, binary",
        validate,
        &format!(r#"{{"token":"{token}","email":"w@example.com"}}"#),
        true,
    );
    out.envelope(
        &client,
        "no identity",
        validate,
        &format!(r#"{{"token":"{token}"}}"#),
        false,
    );
    out.envelope(
        &client,
        "bad email",
        validate,
        &format!(r#"{{"token":"{token}","email":"nope"}}"#),
        false,
    );
    out.envelope(
        &client,
        "bad token",
        validate,
        r#"{"token":"AAAA","email":"v@example.com"}"#,
        false,
    );
    let other = add_client(&server, dir.path(), 4242, &[Role::Generator]);
    let other_token = other.generate(r#""email":"v@example.com""#)["advertising_token"]
        .as_str()
        .expect("token")
        .to_owned();
    out.envelope(
        &client,
        "another site's token",
        validate,
        &format!(r#"{{"token":"{other_token}","email":"v@example.com"}}"#),
        false,
    );

    // Logout (and what it changes: opt-out status, refresh).
    let logout = "/v2/token/logout";
    let gone = client.call("/v2/identity/map", r#"{"email":["gone@example.com"]}"#)["body"]
        ["mapped"][0]["advertising_id"]
        .as_str()
        .expect("advertising_id")
        .to_owned();
    let leaving = client.generate(r#""email":"gone@example.com""#);
    out.envelope(
        &client,
        "email",
        logout,
        r#"{"email":"gone@example.com"}"#,
        false,
    );
    out.envelope(
        &client,
        "phone, binary",
        logout,
        r#"{"phone":"+15550000001"}"#,
        true,
    );
    out.envelope(&client, "no identity", logout, "{}", false);
    out.envelope(&client, "bad phone", logout, r#"{"phone":"12"}"#, false);

    // Keys.
    out.envelope(&client, "no JSON", "/v2/key/bidstream", "", false);
    out.envelope(&client, "binary", "/v2/key/bidstream", "{}", true);
    out.envelope(&client, "no JSON", "/v2/key/sharing", "", false);
    out.envelope(&client, "empty object", "/v2/key/sharing", "{}", true);

    // Identity map v2.
    let map = "/v2/identity/map";
    out.envelope(
        &client,
        "binary",
        map,
        r#"{"phone":["+12345678901"]}"#,
        true,
    );
    out.envelope(
        &client,
        "mapped and unmapped",
        map,
        r#"{"email":["a@example.com","not an email","optout@example.com"]}"#,
        false,
    );
    out.envelope(
        &client,
        "not an array",
        map,
        r#"{"email":"a@example.com"}"#,
        false,
    );
    out.envelope(
        &client,
        "two arrays",
        map,
        r#"{"email":[],"phone":[]}"#,
        false,
    );
    out.envelope(
        &client,
        "5001",
        map,
        &format!(r#"{{"email":[{}]}}"#, emails(5001)),
        false,
    );

    // Identity map v3.
    let map3 = "/v3/identity/map";
    out.envelope(&client, "binary", map3, r#"{"phone_hash":[]}"#, true);
    out.envelope(
        &client,
        "mixed",
        map3,
        r#"{"email":["a@example.com","not an email","optout@example.com"],"email_hash":["ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/c=","bad","DYsnJ8r5+cjRDHue98gIGDKvLIMuqAm/RRLODrjqK50="],"phone":["+12345678901","12","+00000000000"],"phone_hash":["EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=","bad","313yQvZOTb0vjjEU7sTO/UWxGPzVppIbCyQEJEnfxLo="]}"#,
        false,
    );
    out.envelope(&client, "empty", map3, "{}", false);
    out.envelope(&client, "unknown field", map3, r#"{"emails":[]}"#, false);
    out.envelope(
        &client,
        "5001",
        map3,
        &format!(r#"{{"email":[{}]}}"#, emails(5001)),
        false,
    );

    // Buckets.
    let buckets = "/v2/identity/buckets";
    out.envelope(
        &client,
        "binary",
        buckets,
        r#"{"since_timestamp":"2000-01-01T00:00:00.5"}"#,
        true,
    );
    out.envelope(
        &client,
        "since 2000",
        buckets,
        r#"{"since_timestamp":"2000-01-01T00:00:00"}"#,
        false,
    );
    out.envelope(&client, "missing", buckets, "{}", false);
    out.envelope(
        &client,
        "not a date",
        buckets,
        r#"{"since_timestamp":"yesterday"}"#,
        false,
    );

    // Opt-out status.
    let status = "/v2/optout/status";
    out.envelope(&client, "binary", status, r#"{"advertising_ids":[]}"#, true);
    out.envelope(
        &client,
        "one opted out",
        status,
        &format!(r#"{{"advertising_ids":["{gone}","AAAA"]}}"#),
        false,
    );
    out.envelope(&client, "missing", status, "{}", false);
    let many: Vec<String> = (0..5001).map(|_| "\"AAAA\"".to_owned()).collect();
    out.envelope(
        &client,
        "5001",
        status,
        &format!(r#"{{"advertising_ids":[{}]}}"#, many.join(",")),
        false,
    );

    // Refresh.
    let addr = server.addr;
    let body = client.generate(r#""email":"r@example.com""#);
    let rt = body["refresh_token"].as_str().expect("refresh_token");
    let key = body["refresh_response_key"].as_str().expect("key");
    out.refresh(addr, "text", rt.as_bytes(), Some(key), None, false);
    let body = client.generate(r#""email":"r2@example.com""#);
    out.refresh(
        addr,
        "binary",
        body["refresh_token"].as_str().expect("rt").as_bytes(),
        body["refresh_response_key"].as_str(),
        None,
        true,
    );
    out.refresh(
        addr,
        "opted out since",
        leaving["refresh_token"].as_str().expect("rt").as_bytes(),
        leaving["refresh_response_key"].as_str(),
        None,
        false,
    );
    out.refresh(addr, "not base64", &[b'!'; 388], None, None, false);
    let mut unknown_key = vec![0x10, 0x7f, 0xff, 0xff, 0x7f];
    unknown_key.resize(291, 0);
    out.refresh(
        addr,
        "unknown key",
        STANDARD.encode(&unknown_key).as_bytes(),
        None,
        None,
        false,
    );
    let store = read_key_store(dir.path());
    let refresh_key = store
        .keys()
        .filter(|k| k.keyset_id == REFRESH_KEYSET_ID)
        .max_by_key(|k| k.activates)
        .expect("a refresh key");
    let mut wrong = vec![0x10];
    wrong.extend_from_slice(&refresh_key.id.to_be_bytes());
    wrong.resize(291, 7);
    out.refresh(
        addr,
        "garbage under the refresh key",
        STANDARD.encode(&wrong).as_bytes(),
        None,
        None,
        false,
    );
    let mut bad_json = vec![0x10];
    bad_json.extend_from_slice(&refresh_key.id.to_be_bytes());
    bad_json.extend_from_slice(&refresh_key.secret().seal(&rand_bytes(), &[b'x'; 258]));
    assert_eq!(bad_json.len(), 291);
    out.refresh(
        addr,
        "not JSON under the refresh key",
        STANDARD.encode(&bad_json).as_bytes(),
        None,
        None,
        false,
    );
    out.refresh(
        addr,
        "short, with a key",
        b"short",
        None,
        Some(&client.api_key),
        false,
    );
    // Expired: from a server whose tokens live a second.
    let short = OperatorConfig::from_json(
        br#"{"identity_token_expires_after_seconds":1,"refresh_identity_token_after_seconds":1,"refresh_token_expires_after_seconds":1}"#,
    )
    .expect("config");
    let brief = TestServer::start(short);
    let brief_client = ApiClient::demo(&brief);
    let body = brief_client.generate(r#""email":"brief@example.com""#);
    let expires = body["refresh_expires"].as_i64().expect("refresh_expires");
    while now_ms() <= expires {
        std::thread::sleep(Duration::from_millis(100));
    }
    out.refresh(
        brief.addr,
        "expired, with a key",
        body["refresh_token"].as_str().expect("rt").as_bytes(),
        None,
        Some(&brief_client.api_key),
        false,
    );
    out.refresh(addr, "short, no key", b"short", None, None, false);
    let preflight =
        |path: &str, headers: &[(&str, &str)]| http(addr, "OPTIONS", path, headers, b"");
    for path in ["/v2/token/refresh", "/v2/token/client-generate"] {
        let resp = preflight(
            path,
            &[
                ("Origin", "https://publisher.example"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
        );
        out.record("preflight", "OPTIONS", path, &resp, None, None);
        let resp = preflight(path, &[("Origin", "https://publisher.example")]);
        out.record(
            "preflight, no request headers",
            "OPTIONS",
            path,
            &resp,
            None,
            None,
        );
    }

    // Client-side generate.
    let origin = Some("http://localhost:5173");
    let hash = email_hash("c@example.com");
    let optout_hash = email_hash("optout@example.com");
    out.cstg(
        &server,
        "email hash",
        ClientIdentity::EmailHash(&hash),
        None,
        origin,
        |_| {},
    );
    out.cstg(
        &server,
        "opted out",
        ClientIdentity::EmailHash(&optout_hash),
        None,
        origin,
        |_| {},
    );
    out.cstg(
        &server,
        "no payload",
        ClientIdentity::EmailHash(&hash),
        None,
        origin,
        |b| {
            b.as_object_mut().expect("object").remove("payload");
        },
    );
    out.cstg(
        &server,
        "unknown subscription",
        ClientIdentity::EmailHash(&hash),
        None,
        origin,
        |b| {
            b["subscription_id"] = json!("nope");
        },
    );
    out.cstg(
        &server,
        "bad public key",
        ClientIdentity::EmailHash(&hash),
        None,
        origin,
        |b| {
            b["public_key"] = json!("AAAA");
        },
    );
    out.cstg(
        &server,
        "bad iv",
        ClientIdentity::EmailHash(&hash),
        None,
        origin,
        |b| {
            b["iv"] = json!("AAAA");
        },
    );
    out.cstg(
        &server,
        "payload tampered",
        ClientIdentity::EmailHash(&hash),
        None,
        origin,
        |b| {
            b["payload"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        },
    );
    out.cstg(
        &server,
        "not a hash",
        ClientIdentity::EmailHash("not a hash"),
        None,
        origin,
        |_| {},
    );
    out.cstg(
        &server,
        "another origin",
        ClientIdentity::EmailHash(&hash),
        None,
        Some("https://evil.example"),
        |_| {},
    );
    out.cstg(
        &server,
        "another app",
        ClientIdentity::EmailHash(&hash),
        Some("com.unknown.app"),
        None,
        |_| {},
    );

    // Payloads the SDK never sends, sealed with the shared key of a real request (found
    // with the server's own keypair from the data directory).
    let keypairs_path = dir.path().join(euid_operator::KEYPAIRS_FILE);
    let store =
        euid_cstg::KeypairStore::from_json(&std::fs::read(&keypairs_path).expect("keypairs"))
            .expect("keypairs parse");
    for (case, plaintext) in [
        ("payload not JSON", &b"not json"[..]),
        ("two hashes", br#"{"email_hash":"a","phone_hash":"b"}"#),
    ] {
        let request = cstg_request(&server.demo, ClientIdentity::EmailHash(&hash), None);
        let decoded = euid_cstg::decode_request(&store, request.body.as_bytes(), origin)
            .expect("a real request decodes");
        let mut body: Value = serde_json::from_str(&request.body).expect("CSTG body");
        let timestamp = body["timestamp"].as_i64().expect("timestamp");
        let iv: [u8; 12] = rand_bytes();
        let mut sealed = Vec::new();
        decoded.shared_key().seal_into(
            &iv,
            &euid_cstg::aad_for(timestamp, None),
            plaintext,
            &mut sealed,
        );
        body["iv"] = json!(STANDARD.encode(iv));
        body["payload"] = json!(STANDARD.encode(&sealed[12..]));
        let path = "/v2/token/client-generate";
        let resp = http(
            server.addr,
            "POST",
            path,
            &[("Origin", "http://localhost:5173")],
            body.to_string().as_bytes(),
        );
        out.record(case, "POST", path, &resp, None, None);
    }

    // A disabled keypair: 401.
    let mut keypairs: Value =
        serde_json::from_slice(&std::fs::read(&keypairs_path).expect("keypairs")).expect("JSON");
    disable_all(&mut keypairs);
    write_atomic(&keypairs_path, keypairs.to_string().as_bytes()).expect("write keypairs");
    let operator = server.server.as_ref().expect("running").operator().clone();
    wait_until("the disabled keypair", || {
        operator
            .snapshot()
            .cstg_keypairs
            .iter()
            .all(|kp| kp.disabled)
    });
    out.cstg(
        &server,
        "disabled keypair",
        ClientIdentity::EmailHash(&hash),
        None,
        origin,
        |_| {},
    );

    // The document itself, and an unknown path.
    let resp = server.request("GET", "/openapi.yaml", &[], b"");
    assert_eq!(resp.body, OPENAPI_YAML.as_bytes(), "the served document");
    out.record("the document", "GET", "/openapi.yaml", &resp, None, None);
    let resp = server.request("POST", "/v2/nothing/here", &[], b"");
    out.record(
        "unknown path",
        "POST",
        "/v2/nothing/here",
        &resp,
        None,
        None,
    );
}

/// The 408, 413 and 500 answers, from a server with short limits over a store that fails.
fn fault_server_exchanges(out: &mut Exchanges) {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = euid_operator::init_data_dir(dir.path(), &euid_operator::InitOptions::default())
        .expect("init")
        .demo_client
        .expect("a demo client");
    let store = Arc::new(SwitchableOptOuts::new(
        SqliteOptOutStore::open(&dir.path().join("optout.db")).expect("store"),
    ));
    let config = OperatorConfig::from_json(
        br#"{"optout_check_on_generate":true,"request_timeout_ms":1000,"max_body_bytes":2000,"reload_interval_ms":50,"auto_rotate_keys":false}"#,
    )
    .expect("config");
    let server = RouterServer::start(dir.path(), config, store.clone());
    let client = ApiClient::new(server.addr, &demo.api_key, &demo.client_secret);
    let mut paths: Vec<&str> = ENVELOPE_PATHS.to_vec();
    paths.extend(["/v2/token/refresh", "/v2/token/client-generate"]);
    // The stalls wait out request_timeout_ms together; it is long enough that the other
    // requests here never meet it on a busy machine.
    let addr = server.addr;
    let stalls: Vec<HttpResponse> = std::thread::scope(|scope| {
        let waits: Vec<_> = paths
            .iter()
            .map(|path| scope.spawn(move || stalled(addr, "POST", path)))
            .collect();
        waits
            .into_iter()
            .map(|w| w.join().expect("stalled request"))
            .collect()
    });
    for (path, resp) in paths.iter().zip(&stalls) {
        out.record("body never sent", "POST", path, resp, None, None);
        let resp = client.post(path, &[b'A'; 2001], &[]);
        out.record("2001 bytes", "POST", path, &resp, None, None);
    }

    let tokens = client.generate(r#""email":"f@example.com""#);
    let cstg_body = |email: &str| {
        euid_cstg::ClientRequest::encode(
            demo.server_public_key.as_deref().expect("key"),
            demo.subscription_id.as_deref().expect("subscription"),
            ClientIdentity::EmailHash(&email_hash(email)),
            now_ms(),
            None,
            &mut euid_crypto::BatchedOsRandom::new(),
        )
        .expect("CSTG request")
        .body
    };
    let cstg = |out: &mut Exchanges, case: &str| {
        let resp = http(
            server.addr,
            "POST",
            "/v2/token/client-generate",
            &[("Origin", "http://localhost:5173")],
            cstg_body("f@example.com").as_bytes(),
        );
        out.record(case, "POST", "/v2/token/client-generate", &resp, None, None);
    };
    let generate_json =
        format!(r#"{{"email":"f@example.com","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#);

    store.set_away(true);
    for (path, json) in [
        ("/v2/token/generate", generate_json.as_str()),
        ("/v2/token/logout", r#"{"email":"f@example.com"}"#),
        ("/v2/identity/map", r#"{"email":["f@example.com"]}"#),
        ("/v3/identity/map", r#"{"email":["f@example.com"]}"#),
        ("/v2/optout/status", r#"{"advertising_ids":["AAAA"]}"#),
    ] {
        out.envelope(&client, "opt-outs unavailable", path, json, false);
    }
    out.refresh(
        server.addr,
        "opt-outs unavailable",
        tokens["refresh_token"].as_str().expect("rt").as_bytes(),
        None,
        None,
        false,
    );
    cstg(out, "opt-outs unavailable");
    store.set_away(false);

    // The database answers but the write fails: a 500, not the 503 of a store that is away.
    store.set_failing_writes(true);
    out.envelope(
        &client,
        "opt-out write fails",
        "/v2/token/logout",
        r#"{"email":"f@example.com"}"#,
        false,
    );
    store.set_failing_writes(false);

    // No key to mint with: every key expired.
    let keys_path = dir.path().join("keyset_keys.json");
    let keys = read_key_store(dir.path());
    let expired: Vec<Key> = keys
        .keys()
        .map(|k| Key::new(k.id, k.keyset_id, 1, 1, 2, k.secret().clone()))
        .collect();
    let expired = KeyStore::new(keys.keysets().cloned().collect(), expired).expect("key store");
    write_atomic(&keys_path, expired.keyset_keys_json().as_bytes()).expect("write keys");
    let operator = server.operator.clone();
    wait_until("the expired keys", || {
        operator.reload_if_changed();
        operator.snapshot().keys.keys().all(|k| k.expires == 2)
    });
    out.envelope(
        &client,
        "no active key",
        "/v2/token/generate",
        &generate_json,
        false,
    );
    out.refresh(
        server.addr,
        "no active key",
        tokens["refresh_token"].as_str().expect("rt").as_bytes(),
        None,
        None,
        false,
    );
    cstg(out, "no active key");
}

/// `GET /openapi.yaml` needs no key, says `application/yaml`, and is counted in `/metrics`
/// like every endpoint.
#[test]
fn the_document_is_served_without_a_key_and_counted() {
    let server = TestServer::start(OperatorConfig::default());
    let resp = server.request("GET", "/openapi.yaml", &[], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/yaml"));
    assert_eq!(resp.body, OPENAPI_YAML.as_bytes());
    let posted = server.request("POST", "/openapi.yaml", &[], b"");
    assert_eq!(posted.status, 405, "{}", posted.text());
    let metrics = server.request("GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains(r#"euid_http_requests_total{endpoint="/openapi.yaml",status="200"} 1"#),
        "{metrics}"
    );
}

#[test]
fn the_served_document_is_the_crate_file_and_docs_holds_the_same_bytes() {
    let docs =
        std::fs::read_to_string(repo_root().join("docs/openapi.yaml")).expect("docs/openapi.yaml");
    assert!(
        docs == OPENAPI_YAML,
        "docs/openapi.yaml differs from crates/euid-operator/openapi.yaml: copy it"
    );
}

#[test]
fn every_documented_outcome_is_produced_and_every_answer_is_documented() {
    let Some(python) = interop_python("the OpenAPI document check") else {
        return;
    };
    let mut out = Exchanges::default();
    main_server_exchanges(&mut out);
    fault_server_exchanges(&mut out);
    let request = json!({
        "document": repo_root().join("crates/euid-operator/openapi.yaml"),
        "exchanges": out.0,
    });
    // For working on the document: the checker's input, to run it by hand.
    if let Some(path) = std::env::var_os("EUID_OPENAPI_EXCHANGES") {
        std::fs::write(path, request.to_string()).expect("write the exchanges");
    }
    let report = run_interop_script(
        &python,
        &repo_root().join("tests/interop/openapi_check.py"),
        "check",
        &request,
    );
    let errors: Vec<&str> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let uncovered: Vec<&str> = report["uncovered"]
        .as_array()
        .expect("uncovered")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let allowed: Vec<&str> = NOT_PRODUCED.iter().map(|(place, _)| *place).collect();
    let unexpected: Vec<&str> = uncovered
        .iter()
        .copied()
        .filter(|place| !allowed.iter().any(|a| place.starts_with(a)))
        .collect();
    assert!(
        errors.is_empty() && unexpected.is_empty(),
        "answers the document does not describe:\n{}\n\ndocumented but never produced by this test:\n{}",
        errors.join("\n"),
        unexpected.join("\n")
    );
    for place in allowed {
        assert!(
            uncovered.iter().any(|u| u.starts_with(place)),
            "{place} is produced now: remove it from NOT_PRODUCED"
        );
    }
    assert!(report["outcomes"].as_u64().unwrap_or(0) > 500, "{report}");
}
