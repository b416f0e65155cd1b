//! Hostile input against the running server (issue #11): random bodies, damaged envelopes,
//! bad JSON inside good envelopes, bad credentials and roles, oversized and slow requests.
//! Every case must get its documented 4xx, never a 5xx, and the server must keep serving a
//! good generate in between. Bounded in count: a few thousand requests in all.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::BatchedOsRandom;
use euid_envelope::seal_request;
use euid_operator::OperatorConfig;
use euid_operator::{new_client, ClientRecord, Role, RoleSet};
use euid_test_support::{
    assert_token_body, cstg_request, now_ms, parse_response, refresh, refresh_body, ApiClient,
    HttpResponse, TestServer, SUFFICIENT_TCF,
};

const HINT: &str = " See https://euid.eu/docs/getting-started/gs-encryption-decryption for details on the request envelope format.";
const MISSING: &str = "Invalid body: Body is missing.";
const INVALID_JSON: &str = "Invalid payload in body: Data is not valid json string.";
const EXACTLY_ONE: &str = "Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified";
const TIMESTAMP: &str = "Invalid timestamp: Request too old or client time drift.";

fn not_base64() -> String {
    format!("Invalid body: Body is not valid base64.{HINT}")
}
fn too_short() -> String {
    format!("Invalid body: Body too short. Check encryption method.{HINT}")
}
fn version(byte: u8) -> String {
    // The operator prints the byte as Java does: signed.
    let signed = i8::from_be_bytes([byte]);
    format!("Invalid body: Invalid request envelope format version: received {signed}, must be 1.{HINT}")
}
fn decryption() -> String {
    format!("Invalid body: Check encryption key (ClientSecret).{HINT}")
}

const GENERATE: &str = "/v2/token/generate";
const REFRESH: &str = "/v2/token/refresh";
const CSTG: &str = "/v2/token/client-generate";

/// The endpoints that take the §1 request envelope.
const ENVELOPED: [&str; 7] = [
    GENERATE,
    "/v2/token/validate",
    "/v2/token/logout",
    "/v2/key/bidstream",
    "/v2/key/sharing",
    "/v2/identity/map",
    "/v2/optout/status",
];

/// Every POST endpoint.
const ALL: [&str; 9] = [
    GENERATE,
    REFRESH,
    "/v2/token/validate",
    "/v2/token/logout",
    "/v2/key/bidstream",
    "/v2/key/sharing",
    "/v2/identity/map",
    "/v2/optout/status",
    CSTG,
];

/// A request JSON each enveloped endpoint accepts with a 200.
fn good_json(path: &str) -> String {
    match path {
        GENERATE => {
            format!(r#"{{"email":"good@example.org","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#)
        }
        "/v2/token/validate" => r#"{"token":"x","email":"good@example.org"}"#.to_owned(),
        "/v2/token/logout" => r#"{"email":"hostile-logout@example.org"}"#.to_owned(),
        "/v2/identity/map" => r#"{"email":["good@example.org"]}"#.to_owned(),
        "/v2/optout/status" => r#"{"advertising_ids":[]}"#.to_owned(),
        _ => String::new(),
    }
}

/// SplitMix64: a small seeded generator, so every run sends the same bytes.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Asserts `resp` is not a server failure: a 4xx with a JSON `status`, never a 5xx.
#[track_caller]
fn assert_plain_4xx(resp: &HttpResponse, context: &str) {
    assert!(
        (400..500).contains(&resp.status),
        "{context}: HTTP {} {}",
        resp.status,
        resp.text()
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/json"),
        "{context}"
    );
    assert!(
        resp.json()["status"].is_string(),
        "{context}: {}",
        resp.text()
    );
}

/// A good generate still gets tokens.
#[track_caller]
fn assert_still_serving(client: &ApiClient) {
    let body = client.generate(r#""email":"still-serving@example.org""#);
    assert_token_body(&body, false);
}

/// Base64 as the server reads it: standard alphabet, padding optional.
fn lenient_b64(text: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(text).ok()
}

/// The §1.1 error for decoded envelope bytes that cannot decrypt under the client secret.
fn decoded_error(raw: &[u8]) -> String {
    if raw.len() < 45 {
        too_short()
    } else if raw[0] != 1 {
        version(raw[0])
    } else {
        decryption()
    }
}

/// The §1.1 error for a body that is not a good envelope (the spec's validation order).
fn envelope_error(body: &[u8], binary: bool) -> String {
    if body.is_empty() {
        return MISSING.to_owned();
    }
    if binary {
        // Binary first, then the base64 fallback.
        return match lenient_b64(body) {
            Some(decoded) => decoded_error(&decoded),
            None => decoded_error(body),
        };
    }
    match lenient_b64(body) {
        Some(decoded) => decoded_error(&decoded),
        None => {
            let t = body.trim_ascii();
            if matches!(t.first(), Some(b'{' | b'['))
                && serde_json::from_slice::<serde::de::IgnoredAny>(t).is_ok()
            {
                "unencrypted JSON".to_owned()
            } else {
                not_base64()
            }
        }
    }
}

#[track_caller]
fn assert_envelope_error(resp: &HttpResponse, expected: &str, context: &str) {
    assert_eq!(resp.status, 400, "{context}: {}", resp.text());
    let json = resp.json();
    assert_eq!(json["status"], "client_error", "{context}");
    let message = json["message"].as_str().unwrap_or_default();
    if expected == "unencrypted JSON" {
        assert!(message.contains(expected), "{context}: {message}");
    } else {
        assert_eq!(message, expected, "{context}");
    }
}

fn start(config: OperatorConfig) -> (tempfile::TempDir, TestServer, ApiClient) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), config);
    let client = ApiClient::demo(&server);
    (dir, server, client)
}

fn binary_header() -> [(&'static str, &'static str); 1] {
    [("Content-Type", "application/octet-stream")]
}

#[test]
fn random_bodies_get_the_documented_400s() {
    let (_dir, server, client) = start(OperatorConfig::default());
    // Good traffic alongside the hostile one, on its own connections.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let good = {
        let (stop, client) = (stop.clone(), ApiClient::demo(&server));
        std::thread::spawn(move || {
            let mut served = 0;
            // Bounded in count as well as by the stop flag.
            while served < 500 && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert_still_serving(&client);
                served += 1;
            }
            served
        })
    };
    let mut rng = SplitMix(0x5EED_0011);
    // Length classes: empty, inside the IV, under the 45-byte minimum, around it, the refresh
    // token's 388 characters (291 bytes in base64), and larger.
    let lengths = [
        0, 1, 2, 3, 4, 12, 13, 30, 44, 45, 46, 64, 291, 300, 388, 389, 1000, 4000,
    ];
    // The demo key comes along, which selects the authenticated refresh texts.
    let refresh_messages = [
        "Invalid Token presented",
        "Invalid body: Body is not valid base64.",
    ];
    for i in 0..324 {
        let path = ALL[i % ALL.len()];
        let len = lengths[rng.below(lengths.len())];
        let kind = (i / ALL.len()) % 3;
        let raw = rng.bytes(len);
        // Kinds: raw bytes as text, raw bytes as octet-stream, base64 of random bytes.
        let (body, binary) = match kind {
            0 => (raw, false),
            1 => (raw, true),
            _ => (STANDARD.encode(&raw).into_bytes(), false),
        };
        let headers: &[(&str, &str)] = if binary { &binary_header() } else { &[] };
        let context = format!("#{i} {path} kind {kind} len {}", body.len());
        let resp = client.post(path, &body, headers);
        assert_plain_4xx(&resp, &context);
        match path {
            REFRESH => {
                assert_eq!(resp.status, 400, "{context}");
                let message = resp.json()["message"].as_str().unwrap().to_owned();
                // A 291-byte random envelope names a key id that does not exist.
                assert!(
                    refresh_messages.contains(&message.as_str())
                        || message.starts_with("Invalid key: Generator of this token"),
                    "{context}: {message}"
                );
            }
            CSTG => assert_eq!(resp.status, 400, "{context}: {}", resp.text()),
            _ => assert_envelope_error(&resp, &envelope_error(&body, binary), &context),
        }
        if i % 40 == 39 {
            assert_still_serving(&client);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let served = good.join().expect("good traffic never failed");
    assert!(served > 0);
    assert_still_serving(&client);
    assert_no_5xx(&server);
}

/// The raw envelope bytes of `json` for `client`, timestamped now.
fn raw_envelope(client: &ApiClient, json: &str, timestamp_ms: i64) -> Vec<u8> {
    let (b64, _) = client.envelope(json, timestamp_ms);
    STANDARD.decode(b64).unwrap()
}

#[test]
fn truncated_and_bit_flipped_envelopes_get_the_documented_400s() {
    let (_dir, server, client) = start(OperatorConfig::default());
    let mut sent = 0;
    for path in ENVELOPED {
        let raw = raw_envelope(&client, &good_json(path), now_ms());
        let n = raw.len();
        // Every truncation length, as base64 text; one per length class as binary too.
        for len in 0..n {
            let context = format!("{path} truncated to {len}");
            let resp = client.post(path, STANDARD.encode(&raw[..len]).as_bytes(), &[]);
            let expected = if len == 0 {
                MISSING.to_owned()
            } else if len < 45 {
                too_short()
            } else {
                decryption()
            };
            assert_envelope_error(&resp, &expected, &context);
            sent += 1;
            if sent % 100 == 0 {
                assert_still_serving(&client);
            }
        }
        for len in [1, 12, 13, 28, 44, 45, n - 17, n - 16, n - 1] {
            if len >= n {
                continue; // the key endpoints' envelopes are exactly 45 bytes
            }
            let resp = client.post(path, &raw[..len], &binary_header());
            assert_envelope_error(
                &resp,
                &envelope_error(&raw[..len], true),
                &format!("{path} binary truncated to {len}"),
            );
        }
        // Bit flips: version byte, IV, first and last ciphertext bytes, tag.
        let positions = [
            0,
            1,
            6,
            12,
            13,
            14,
            28,
            29,
            n / 2,
            n - 17,
            n - 16,
            n - 8,
            n - 1,
        ];
        for pos in positions {
            for bit in [0, 3, 7] {
                let mut flipped = raw.clone();
                flipped[pos] ^= 1 << bit;
                let expected = if pos == 0 {
                    version(flipped[0])
                } else {
                    decryption()
                };
                let context = format!("{path} bit {bit} of byte {pos} flipped");
                let resp = client.post(path, STANDARD.encode(&flipped).as_bytes(), &[]);
                assert_envelope_error(&resp, &expected, &context);
                let resp = client.post(path, &flipped, &binary_header());
                assert_envelope_error(&resp, &expected, &format!("{context} (binary)"));
            }
        }
        // The undamaged envelope still works (for a validate: a 400 about the token).
        let resp = client.post(path, STANDARD.encode(&raw).as_bytes(), &[]);
        if path == "/v2/token/validate" {
            resp.assert_error(400, "client_error", Some("Invalid token"));
        } else {
            assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        }
        assert_still_serving(&client);
    }
    assert_no_5xx(&server);
}

#[test]
fn wrong_versions_secrets_and_timestamps_get_the_documented_400s() {
    let (_dir, server, client) = start(OperatorConfig::default());
    // Every version byte but 1, on generate.
    let raw = raw_envelope(&client, &good_json(GENERATE), now_ms());
    for v in 0..=255u8 {
        if v == 1 {
            continue;
        }
        let mut bad = raw.clone();
        bad[0] = v;
        let resp = client.post(GENERATE, STANDARD.encode(&bad).as_bytes(), &[]);
        assert_envelope_error(&resp, &version(v), &format!("version {v}"));
        if v % 64 == 0 {
            assert_still_serving(&client);
        }
    }
    let mut rng = SplitMix(0xBAD_5EC);
    let other_secret = STANDARD.encode(rng.bytes(32));
    let wrong = ApiClient::new(server.addr, &server.demo.api_key, &other_secret);
    for path in ENVELOPED {
        // Version 0 and 0xFF on every endpoint.
        let raw = raw_envelope(&client, &good_json(path), now_ms());
        for v in [0u8, 2, 0xFF] {
            let mut bad = raw.clone();
            bad[0] = v;
            let resp = client.post(path, STANDARD.encode(&bad).as_bytes(), &[]);
            assert_envelope_error(&resp, &version(v), &format!("{path} version {v}"));
        }
        // Sealed under another secret.
        let (resp, _) = wrong.send(path, &good_json(path));
        assert_envelope_error(&resp, &decryption(), &format!("{path} wrong secret"));
        // Timestamps outside the 120 s window, either way, and absurd ones.
        for ts in [
            now_ms() - 130_000,
            now_ms() + 130_000,
            now_ms() - 365 * 86_400_000,
            now_ms() + 365 * 86_400_000,
            0,
            -1,
            i64::MIN,
            i64::MAX,
        ] {
            let (body, _) = client.envelope(&good_json(path), ts);
            let resp = client.post(path, &body, &[]);
            assert_envelope_error(&resp, TIMESTAMP, &format!("{path} timestamp {ts}"));
        }
    }
    // Inside the window both ways is accepted.
    for offset in [-100_000, 100_000] {
        let (body, nonce) = client.envelope(&good_json(GENERATE), now_ms() + offset);
        let out = client.open(&client.post(GENERATE, &body, &[]), nonce);
        assert_eq!(out["status"], "success", "{offset}");
    }
    assert_still_serving(&client);
    assert_no_5xx(&server);
}

/// Writes raw request bytes on a fresh connection and reads the answer; write errors are
/// ignored because the server may answer and close before reading everything.
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = stream.write_all(request);
    read_response(&mut stream).expect("a response")
}

/// Reads until the server closes; `None` when it closed without a byte.
fn read_response(stream: &mut TcpStream) -> Option<HttpResponse> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after the answer (unread request bytes) still leaves the answer.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e} after {} bytes", raw.len()),
        }
    }
    if raw.is_empty() {
        None
    } else {
        Some(parse_response(&raw))
    }
}

fn head(path: &str, addr: SocketAddr, auth: &str, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {auth}\r\nOrigin: http://localhost\r\n{extra}\r\n"
    )
}

#[test]
fn bodies_over_the_limit_get_413() {
    let config = OperatorConfig::from_json(br#"{"max_body_bytes":4096}"#).unwrap();
    let (_dir, server, client) = start(config);
    let key = server.demo.api_key.clone();
    let too_large = |resp: &HttpResponse, context: &str| {
        assert_eq!(resp.status, 413, "{context}: {}", resp.text());
        resp.assert_error(413, "client_error", Some("Request body is too large"));
    };
    for path in ALL {
        // With a Content-Length over the limit.
        let mut req = head(path, server.addr, &key, "Content-Length: 5000\r\n").into_bytes();
        req.extend_from_slice(&[b'A'; 5000]);
        too_large(&raw_exchange(server.addr, &req), &format!("{path} 5000"));
        // A Content-Length that only claims to be huge: refused before any body arrives.
        let req = head(path, server.addr, &key, "Content-Length: 1000000000000\r\n");
        too_large(
            &raw_exchange(server.addr, req.as_bytes()),
            &format!("{path} claim"),
        );
        // Chunked, no Content-Length: the limit is counted as chunks arrive.
        let mut req = head(path, server.addr, &key, "Transfer-Encoding: chunked\r\n").into_bytes();
        for _ in 0..3 {
            req.extend_from_slice(b"7d0\r\n");
            req.extend_from_slice(&[b'A'; 2000]);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"0\r\n\r\n");
        too_large(&raw_exchange(server.addr, &req), &format!("{path} chunked"));
        // Exactly at the limit is read, and rejected for what it is, not for its size.
        let at_limit = vec![b'A'; 4096];
        let resp = client.post(path, &at_limit, &[]);
        match path {
            REFRESH => resp.assert_error(400, "invalid_token", Some("Invalid Token presented")),
            CSTG => assert_plain_4xx(&resp, path),
            _ => assert_envelope_error(&resp, &version(0), path),
        }
        assert_still_serving(&client);
    }
    assert_no_5xx(&server);
}

/// What an enveloped request must get: a 400 with this message, or a 200 with this status.
#[derive(Clone, Copy, Debug)]
enum Want<'a> {
    Error(&'a str),
    Status(&'a str),
}

#[track_caller]
fn check(client: &ApiClient, path: &str, json: &[u8], want: Want<'_>, context: &str) {
    let mut rng = BatchedOsRandom::new();
    let raw = seal_request(&client.secret, now_ms(), [7; 8], json, &mut rng);
    let resp = client.post(path, STANDARD.encode(raw).as_bytes(), &[]);
    match want {
        Want::Error(message) => {
            assert_eq!(resp.status, 400, "{context}: {}", resp.text());
            assert_eq!(
                resp.json()["message"].as_str(),
                Some(message),
                "{context}: {}",
                resp.text()
            );
            assert_eq!(resp.json()["status"], "client_error", "{context}");
        }
        Want::Status(status) => {
            let out = client.open(&resp, [7; 8]);
            assert_eq!(out["status"], status, "{context}: {out}");
        }
    }
}

#[test]
fn hostile_json_inside_valid_envelopes() {
    let (_dir, server, client) = start(OperatorConfig::default());
    let tcf = SUFFICIENT_TCF;
    // Not JSON objects, or not JSON at all: every enveloped endpoint refuses them.
    let deep_arrays = "[".repeat(100_000);
    let deep_closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000));
    let mut not_objects: Vec<Vec<u8>> = [
        "[]",
        "[1,2]",
        "1",
        "-0.5",
        "\"s\"",
        "null",
        "true",
        " ",
        "\n",
        "{",
        "}",
        "{}x",
        "{} {}",
        "{\"a\"}",
        "{\"a\":}",
        "{'a':1}",
        "{\"a\":1,}",
        "{a:1}",
        "NaN",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    not_objects.push(deep_arrays.into_bytes());
    not_objects.push(deep_closed.clone().into_bytes());
    not_objects.push(vec![0xFF, 0xFE, b'{', b'}']);
    not_objects.push(b"{\"email\":\"a@b.com\"}\0".to_vec());
    // Invalid UTF-8 in a string (JSON text must be UTF-8).
    not_objects.push(b"{\"email\":\"\xff\xfe@b.com\"}".to_vec());
    not_objects.push(b"{\"\xc3\x28\":1}".to_vec());
    not_objects.push(b"{\"email\":\"\xed\xa0\x80\"}".to_vec());
    for path in ENVELOPED {
        for json in &not_objects {
            let context = format!(
                "{path} {:?}",
                String::from_utf8_lossy(&json[..json.len().min(20)])
            );
            check(&client, path, json, Want::Error(INVALID_JSON), &context);
        }
        assert_still_serving(&client);
    }
    // Deeply nested values inside an object: refused where the field is read.
    let nested_email_arrays = format!(r#"{{"email":{deep_closed},"tcf_consent_string":"{tcf}"}}"#);
    let nested_email_objects = format!(r#"{{"email":{deep_objects}}}"#);
    // Huge strings.
    let huge = "a".repeat(300_000);
    let huge_email = format!(r#"{{"email":"{huge}","tcf_consent_string":"{tcf}"}}"#);
    let huge_tcf = format!(r#"{{"email":"a@b.com","tcf_consent_string":"{huge}"}}"#);
    let huge_key = format!(r#"{{"{huge}":1,"email":"a@b.com","tcf_consent_string":"{tcf}"}}"#);
    let huge_token = format!(r#"{{"token":"{huge}","email":"a@b.com"}}"#);
    let huge_map = format!(r#"{{"email":["{huge}"]}}"#);
    let huge_ids = format!(r#"{{"advertising_ids":["{huge}"]}}"#);
    let cases: Vec<(&str, String, Want<'_>)> = vec![
        (
            GENERATE,
            nested_email_arrays,
            Want::Error("Invalid Identifier"),
        ),
        (
            GENERATE,
            nested_email_objects.clone(),
            Want::Error("Invalid Identifier"),
        ),
        (
            "/v2/token/logout",
            nested_email_objects.clone(),
            Want::Error("Invalid Identifier"),
        ),
        (
            "/v2/identity/map",
            format!(r#"{{"email":[{deep_closed}]}}"#),
            Want::Error(INVALID_JSON),
        ),
        (
            "/v2/optout/status",
            format!(r#"{{"advertising_ids":{deep_closed}}}"#),
            Want::Error(INVALID_JSON),
        ),
        (
            "/v2/key/sharing",
            nested_email_objects,
            Want::Status("success"),
        ),
        (GENERATE, huge_email, Want::Error("Invalid Identifier")),
        (GENERATE, huge_tcf, Want::Error("User consent is invalid")),
        (GENERATE, huge_key, Want::Status("success")),
        (
            "/v2/token/validate",
            huge_token,
            Want::Error("Invalid token"),
        ),
        ("/v2/identity/map", huge_map, Want::Status("success")),
        ("/v2/optout/status", huge_ids, Want::Status("success")),
        (
            "/v2/key/bidstream",
            format!(r#"{{"x":"{huge}"}}"#),
            Want::Status("success"),
        ),
    ];
    for (path, json, want) in &cases {
        check(
            &client,
            path,
            json.as_bytes(),
            *want,
            &format!("{path} {want:?}"),
        );
    }
    assert_still_serving(&client);
    assert_no_5xx(&server);
}

#[test]
fn wrong_types_duplicates_and_unknown_fields() {
    let (_dir, server, client) = start(OperatorConfig::default());
    let tcf = format!(r#""tcf_consent_string":"{SUFFICIENT_TCF}""#);
    let wrong_values = [
        "1",
        "-1",
        "1.5",
        "1e300",
        "true",
        "false",
        "[]",
        r#"["a@b.com"]"#,
        "{}",
        r#"{"email":"a@b.com"}"#,
    ];
    let identity_fields = ["email", "email_hash", "phone", "phone_hash"];
    for value in wrong_values {
        for field in identity_fields {
            let context = format!("{field}: {value}");
            let generate = format!(r#"{{"{field}":{value},{tcf}}}"#);
            check(
                &client,
                GENERATE,
                generate.as_bytes(),
                Want::Error("Invalid Identifier"),
                &context,
            );
            let validate = format!(r#"{{"{field}":{value},"token":"x"}}"#);
            check(
                &client,
                "/v2/token/validate",
                validate.as_bytes(),
                Want::Error("Invalid Identifier"),
                &context,
            );
            let logout = format!(r#"{{"{field}":{value}}}"#);
            check(
                &client,
                "/v2/token/logout",
                logout.as_bytes(),
                Want::Error("Invalid Identifier"),
                &context,
            );
            let map = format!(r#"{{"{field}":{value}}}"#);
            let message = format!("{field} must be an array");
            let want = if value.starts_with('[') {
                Want::Status("success")
            } else {
                Want::Error(&message)
            };
            check(&client, "/v2/identity/map", map.as_bytes(), want, &context);
            // Array items of the wrong type are unmapped, not fatal.
            let items = format!(r#"{{"{field}":[{value},null,{value}]}}"#);
            check(
                &client,
                "/v2/identity/map",
                items.as_bytes(),
                Want::Status("success"),
                &context,
            );
        }
        let context = format!("tcf_consent_string: {value}");
        let generate = format!(r#"{{"email":"a@b.com","tcf_consent_string":{value}}}"#);
        check(
            &client,
            GENERATE,
            generate.as_bytes(),
            Want::Error("User consent is invalid"),
            &context,
        );
        let validate = format!(r#"{{"email":"a@b.com","token":{value}}}"#);
        check(
            &client,
            "/v2/token/validate",
            validate.as_bytes(),
            Want::Error("Invalid token"),
            &context,
        );
        let status = format!(r#"{{"advertising_ids":{value}}}"#);
        let want = if value.starts_with('[') {
            Want::Status("success")
        } else {
            Want::Error("Required Parameter Missing: advertising_ids")
        };
        check(
            &client,
            "/v2/optout/status",
            status.as_bytes(),
            want,
            &context,
        );
        let items = format!(r#"{{"advertising_ids":[{value},null,"%%%"]}}"#);
        check(
            &client,
            "/v2/optout/status",
            items.as_bytes(),
            Want::Status("success"),
            &context,
        );
        for path in ["/v2/key/bidstream", "/v2/key/sharing"] {
            let any = format!(r#"{{"keys":{value},"site_id":{value}}}"#);
            check(
                &client,
                path,
                any.as_bytes(),
                Want::Status("success"),
                &context,
            );
        }
    }
    assert_still_serving(&client);
    // null counts as absent.
    for field in identity_fields {
        let json = format!(r#"{{"{field}":null,{tcf}}}"#);
        check(
            &client,
            GENERATE,
            json.as_bytes(),
            Want::Error(EXACTLY_ONE),
            field,
        );
        let json = format!(r#"{{"{field}":null}}"#);
        check(
            &client,
            "/v2/identity/map",
            json.as_bytes(),
            Want::Error(EXACTLY_ONE),
            field,
        );
    }
    // A number out of f64 range is refused as JSON, wherever it is.
    let huge_number = format!(r#"{{"email":1e400,{tcf}}}"#);
    check(
        &client,
        GENERATE,
        huge_number.as_bytes(),
        Want::Error(INVALID_JSON),
        "1e400",
    );
    check(
        &client,
        "/v2/identity/map",
        br#"{"email":[1e400]}"#,
        Want::Error(INVALID_JSON),
        "1e400",
    );
    let json = r#"{"email":"a@b.com","tcf_consent_string":null}"#;
    check(
        &client,
        GENERATE,
        json.as_bytes(),
        Want::Error("Required Parameter Missing: tcf_consent_string"),
        "null tcf",
    );
    check(
        &client,
        "/v2/optout/status",
        br#"{"advertising_ids":null}"#,
        Want::Error("Required Parameter Missing: advertising_ids"),
        "null ids",
    );

    // Duplicate keys: generate, validate and logout refuse them; the map and status endpoints
    // read the last one, as Jackson does on the live operator.
    let dup = format!(r#"{{"email":"a@b.com","email":"c@d.com",{tcf}}}"#);
    check(
        &client,
        GENERATE,
        dup.as_bytes(),
        Want::Error(INVALID_JSON),
        "duplicate email",
    );
    let dup = format!(r#"{{"email":"a@b.com",{tcf},{tcf}}}"#);
    check(
        &client,
        GENERATE,
        dup.as_bytes(),
        Want::Error(INVALID_JSON),
        "duplicate tcf",
    );
    check(
        &client,
        "/v2/token/logout",
        br#"{"email":"a@b.com","email":"a@b.com"}"#,
        Want::Error(INVALID_JSON),
        "duplicate logout",
    );
    check(
        &client,
        "/v2/token/validate",
        br#"{"token":"x","token":"y","email":"a@b.com"}"#,
        Want::Error(INVALID_JSON),
        "duplicate token",
    );
    check(
        &client,
        "/v2/identity/map",
        br#"{"email":"x","email":["a@b.com"]}"#,
        Want::Status("success"),
        "duplicate map",
    );
    check(
        &client,
        "/v2/optout/status",
        br#"{"advertising_ids":1,"advertising_ids":[]}"#,
        Want::Status("success"),
        "duplicate status",
    );

    // Unknown fields are ignored; case matters in field names.
    let unknown = format!(
        r#"{{"email":"a@b.com","nope":[1,{{"x":null}}],"policy":"x","optout_check":[],{tcf}}}"#
    );
    check(
        &client,
        GENERATE,
        unknown.as_bytes(),
        Want::Status("success"),
        "unknown fields",
    );
    let upper = format!(r#"{{"Email":"a@b.com",{tcf}}}"#);
    check(
        &client,
        GENERATE,
        upper.as_bytes(),
        Want::Error(EXACTLY_ONE),
        "Email",
    );
    check(
        &client,
        "/v2/identity/map",
        br#"{"email":["a@b.com"],"extra":{"a":[1]}}"#,
        Want::Status("success"),
        "unknown map field",
    );
    check(
        &client,
        "/v2/key/sharing",
        br#"{"nope":1}"#,
        Want::Status("success"),
        "unknown sharing field",
    );
    assert_still_serving(&client);
    assert_no_5xx(&server);
}

/// Appends clients with the given roles (and a disabled generator) to `clients.json`; the
/// server must be restarted to load them.
fn add_clients(dir: &Path, roles: &[Role]) -> (Vec<(Role, String, String)>, String) {
    let path = dir.join("clients.json");
    let mut records: Vec<ClientRecord> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut rng = BatchedOsRandom::new();
    let mut out = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let site = 2000 + i32::try_from(i).unwrap();
        let new = new_client(site, "hostile", RoleSet::of(&[*role]), 0, &mut rng);
        records.push(new.record.clone());
        out.push((*role, new.api_key, new.client_secret));
    }
    let mut disabled = new_client(2100, "disabled", RoleSet::of(&Role::ALL), 0, &mut rng);
    disabled.record.disabled = true;
    records.push(disabled.record.clone());
    euid_store::write_atomic(&path, &serde_json::to_vec(&records).unwrap()).unwrap();
    (out, disabled.api_key)
}

/// The roles that may call each enveloped endpoint (`wire.md` §7).
fn allowed(path: &str, role: Role) -> bool {
    match path {
        GENERATE | "/v2/token/validate" => role == Role::Generator,
        "/v2/token/logout" => role == Role::Optout,
        "/v2/key/bidstream" => role == Role::IdReader,
        "/v2/key/sharing" => matches!(role, Role::Sharer | Role::IdReader),
        "/v2/identity/map" => role == Role::Mapper,
        "/v2/optout/status" => matches!(role, Role::Mapper | Role::Sharer | Role::IdReader),
        _ => unreachable!("{path}"),
    }
}

#[test]
fn bad_credentials_and_wrong_roles_get_401() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = TestServer::start_in(dir.path(), OperatorConfig::default());
    first.stop();
    let (role_clients, disabled_key) = add_clients(dir.path(), &Role::ALL);
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let demo = ApiClient::demo(&server);
    let good = server.demo.api_key.clone();
    let unknown = "EUID-C-L-999-AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let long_key = format!("Bearer {}", "A".repeat(64 * 1024));
    let headers: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some(format!("Bearer  {good}")),
        Some(format!("Basic {good}")),
        Some(format!("Bearer{good}")),
        Some(good.clone()),
        Some(format!("Bearer {good}x")),
        Some(format!("Bearer {}", &good[..good.len() - 1])),
        Some(format!("Bearer {unknown}")),
        Some(format!("Bearer {disabled_key}")),
        Some(format!("Bearer {}", server.demo.client_secret)),
        Some("Bearer EUID-C-L-999999999999999999999-x".to_owned()),
        Some("Bearer EUID-C-L--1-AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned()),
        Some(format!("Bearer {good}\u{e9}")),
        Some(long_key),
    ];
    let mut sent = 0;
    for path in ENVELOPED {
        let (body, _) = demo.envelope(&good_json(path), now_ms());
        for auth in &headers {
            let mut h: Vec<(&str, &str)> = Vec::new();
            if let Some(a) = auth {
                h.push(("Authorization", a));
            }
            let resp = server.request("POST", path, &h, &body);
            let shown: String = auth
                .as_deref()
                .unwrap_or("<none>")
                .chars()
                .take(40)
                .collect();
            assert_eq!(resp.status, 401, "{path} {shown}: {}", resp.text());
            resp.assert_error(401, "unauthorized", None);
            sent += 1;
            if sent % 50 == 0 {
                assert_still_serving(&demo);
            }
        }
    }
    // Too many headers, or a head larger than hyper buffers: hyper's 431, not a 5xx.
    let mut many = head(GENERATE, server.addr, &good, "Content-Length: 0\r\n");
    many.truncate(many.len() - 2);
    for i in 0..200 {
        many.push_str(&format!("X-Junk-{i}: {i}\r\n"));
    }
    many.push_str("\r\n");
    let resp = raw_exchange(server.addr, many.as_bytes());
    assert_eq!(resp.status, 431, "{}", resp.text());
    let mut huge = head(GENERATE, server.addr, &good, "Content-Length: 0\r\n");
    huge.truncate(huge.len() - 2);
    huge.push_str(&format!("X-Junk: {}\r\n\r\n", "j".repeat(512 * 1024)));
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = stream.write_all(huge.as_bytes());
    // hyper stops reading at its buffer limit; closing with our bytes unread may reset the
    // connection before the 431 is read, which is still not a 5xx.
    if let Some(resp) = read_response(&mut stream) {
        assert_eq!(resp.status, 431, "{}", resp.text());
    }
    // A valid key but none of the endpoint's roles: 401; with one of them: not a 401.
    for (role, key, secret) in &role_clients {
        let client = ApiClient::new(server.addr, key, secret);
        for path in ENVELOPED {
            let (resp, nonce) = client.send(path, &good_json(path));
            if allowed(path, *role) {
                if path == "/v2/token/validate" {
                    resp.assert_error(400, "client_error", Some("Invalid token"));
                } else {
                    assert_eq!(
                        client.open(&resp, nonce)["status"],
                        "success",
                        "{role:?} {path}"
                    );
                }
            } else {
                resp.assert_error(401, "unauthorized", None);
            }
        }
    }
    // Refresh takes no key: a bad one is ignored, a good token still refreshes.
    let body = demo.generate(r#""email":"refresh-with-junk-auth@example.org""#);
    let out = refresh(
        server.addr,
        body["refresh_token"].as_str().unwrap(),
        body["refresh_response_key"].as_str().unwrap(),
        Some(disabled_key.as_str()),
    )
    .unwrap_or_else(|r| panic!("{} {}", r.status, r.text()));
    assert_eq!(out["status"], "success");
    assert_still_serving(&demo);
    assert_no_5xx(&server);
}

#[test]
fn refresh_tokens_replayed_after_logout_or_expiry() {
    let config = OperatorConfig::from_json(
        br#"{"identity_token_expires_after_seconds":1,"refresh_identity_token_after_seconds":1,"refresh_token_expires_after_seconds":1}"#,
    )
    .unwrap();
    let (_dir, server, client) = start(config);
    // There is no replay cache (as upstream): an old refresh token refreshes again while valid,
    // and the same envelope can be posted twice.
    let first = client.generate(r#""email":"replay@example.org""#);
    let second = refresh_body(server.addr, &first);
    assert_eq!(second["status"], "success");
    assert_eq!(refresh_body(server.addr, &first)["status"], "success");
    let (env, nonce) = client.envelope(&good_json(GENERATE), now_ms());
    for _ in 0..2 {
        let out = client.open(&client.post(GENERATE, &env, &[]), nonce);
        assert_eq!(out["status"], "success");
    }
    // After logout every earlier refresh token answers optout (encrypted, 200).
    let out = client.call("/v2/token/logout", r#"{"email":"replay@example.org"}"#);
    assert_eq!(out["body"]["optout"], "OK");
    for body in [&first, &second["body"]] {
        assert_eq!(
            refresh_body(server.addr, body),
            serde_json::json!({"status":"optout"})
        );
    }
    // After expiry, the original and its refreshed successor are both refused.
    let a = client.generate(r#""email":"expiring@example.org""#);
    let b = refresh_body(server.addr, &a);
    let b = &b["body"];
    let last_expiry = b["refresh_expires"].as_i64().unwrap();
    while now_ms() <= last_expiry + 50 {
        std::thread::sleep(Duration::from_millis(50));
    }
    for body in [&a, b] {
        let token = body["refresh_token"].as_str().unwrap();
        let key = body["refresh_response_key"].as_str().unwrap();
        refresh(server.addr, token, key, Some(&server.demo.api_key))
            .unwrap_err()
            .assert_error(400, "expired_token", Some("Expired Token presented"));
        refresh(server.addr, token, key, None)
            .unwrap_err()
            .assert_error(400, "error", Some("Error refreshing token"));
    }
    assert_still_serving(&client);
    assert_no_5xx(&server);
}

/// Opens a connection, sends `request` (headers and part of a body) and leaves it open.
fn stall(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(request).expect("write");
    // Bounds the test if the server never times the request out.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

#[test]
fn slow_and_idle_clients_are_timed_out_while_others_are_served() {
    let config = OperatorConfig::from_json(br#"{"request_timeout_ms":500}"#).unwrap();
    let (_dir, server, client) = start(config);
    let key = server.demo.api_key.clone();
    // Headers and 10 of 100 body bytes, on every endpoint; then chunked with one chunk.
    let mut slow = Vec::new();
    for path in ALL {
        let mut req = head(path, server.addr, &key, "Content-Length: 100\r\n").into_bytes();
        req.extend_from_slice(b"AAAAAAAAAA");
        slow.push((format!("{path} content-length"), stall(server.addr, &req)));
        let mut req = head(path, server.addr, &key, "Transfer-Encoding: chunked\r\n").into_bytes();
        req.extend_from_slice(b"a\r\nAAAAAAAAAA\r\n");
        slow.push((format!("{path} chunked"), stall(server.addr, &req)));
    }
    // Many idle connections that never send a byte, and some with half a request head.
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    let half_heads: Vec<TcpStream> = (0..5)
        .map(|_| {
            stall(
                server.addr,
                b"POST /v2/token/generate HTTP/1.1\r\nHost: x\r\nContent-Le",
            )
        })
        .collect();
    // Meanwhile good requests are served.
    for _ in 0..5 {
        assert_still_serving(&client);
    }
    for (context, mut stream) in slow {
        // The socket's read timeout bounds the wait if the server never answers.
        let resp = read_response(&mut stream)
            .unwrap_or_else(|| panic!("{context}: closed without an answer"));
        resp.assert_error(408, "client_error", Some("Request timed out"));
    }
    // Half-sent heads and silent connections are closed by the server once the head timeout
    // passes, not held open for good.
    for (what, streams) in [
        ("a half-sent head", half_heads),
        ("an idle connection", idle),
    ] {
        for mut stream in streams {
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let mut buf = [0u8; 1024];
            match stream.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => panic!(
                    "{what} got {n} bytes: {:?}",
                    String::from_utf8_lossy(&buf[..n])
                ),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => panic!("{what} was not closed: {e}"),
            }
        }
    }
    assert_still_serving(&client);
    assert_no_5xx(&server);
}

/// A CSTG request body as the browser SDK encodes it, as a JSON object to damage.
fn cstg_body(server: &TestServer) -> serde_json::Map<String, serde_json::Value> {
    let hash = euid_normalize::hash_email("cstg-hostile@example.org")
        .unwrap()
        .to_base64();
    let request = cstg_request(
        &server.demo,
        euid_cstg::ClientIdentity::EmailHash(&hash),
        None,
    );
    match serde_json::from_str(&request.body).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn client_generate_refuses_malformed_requests() {
    let (_dir, server, client) = start(OperatorConfig::default());
    let origin = "http://localhost:5173";
    let post = |body: &[u8]| {
        server.request(
            "POST",
            CSTG,
            &[("Origin", origin), ("Content-Type", "text/plain")],
            body,
        )
    };
    let required = "required parameters: payload, iv, public_key";
    let good = cstg_body(&server);
    assert_eq!(
        post(
            serde_json::Value::Object(good.clone())
                .to_string()
                .as_bytes()
        )
        .status,
        200
    );
    // Not a JSON object of the expected shape.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for body in [
        &b""[..],
        b"null",
        b"[]",
        b"1",
        b"\"s\"",
        b"{",
        b"\xff\xfe{}",
        deep.as_bytes(),
    ] {
        post(body).assert_error(400, "client_error", Some(required));
    }
    // Each field with a wrong type; null counts as absent.
    let fields = [
        "payload",
        "iv",
        "public_key",
        "timestamp",
        "subscription_id",
        "app_name",
    ];
    let wrong = [
        serde_json::json!(1),
        serde_json::json!(true),
        serde_json::json!([]),
        serde_json::json!({"a": "b"}),
        serde_json::json!(null),
        serde_json::json!("x".repeat(300_000)),
    ];
    for field in fields {
        for value in &wrong {
            let mut body = good.clone();
            body.insert(field.to_owned(), value.clone());
            let is_str = value.is_string();
            let is_null = value.is_null();
            let want: Option<(u16, &str, &str)> = match field {
                // Java reads a long: anything but a number is refused, and another number
                // breaks the AAD.
                "timestamp" if value.is_number() => {
                    Some((400, "client_error", "payload decryption failed"))
                }
                "timestamp" => Some((400, "client_error", required)),
                "subscription_id" if is_str || is_null => {
                    Some((400, "client_error", "bad subscription_id"))
                }
                "app_name" if is_null => None,
                "app_name" if is_str => Some((403, "invalid_app_name", "unexpected app name")),
                "payload" if is_str => Some((400, "client_error", "payload decryption failed")),
                "iv" if is_str => Some((400, "client_error", "bad iv")),
                "public_key" if is_str => Some((400, "client_error", "bad public key")),
                _ => Some((400, "client_error", required)),
            };
            let resp = post(serde_json::Value::Object(body).to_string().as_bytes());
            let shown: String = value.to_string().chars().take(20).collect();
            match want {
                Some((http, status, message)) => {
                    assert_eq!(resp.status, http, "{field}={shown}: {}", resp.text());
                    resp.assert_error(http, status, Some(message));
                }
                None => assert_eq!(resp.status, 200, "{field}={shown}: {}", resp.text()),
            }
        }
    }
    // Damaged values: a short IV, a truncated payload, a flipped payload bit.
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let iv = STANDARD.decode(text(&good["iv"])).unwrap();
    let payload = STANDARD.decode(text(&good["payload"])).unwrap();
    let mut flipped = payload.clone();
    flipped[0] ^= 1;
    for (field, value, message) in [
        ("iv", STANDARD.encode(&iv[..11]), "bad iv"),
        (
            "payload",
            STANDARD.encode(&payload[..payload.len() - 1]),
            "payload decryption failed",
        ),
        (
            "payload",
            STANDARD.encode(&flipped),
            "payload decryption failed",
        ),
        ("payload", String::new(), "payload decryption failed"),
        (
            "public_key",
            text(&good["public_key"])[..40].to_owned(),
            "bad public key",
        ),
    ] {
        let mut body = good.clone();
        body.insert(field.to_owned(), serde_json::Value::String(value));
        post(serde_json::Value::Object(body).to_string().as_bytes()).assert_error(
            400,
            "client_error",
            Some(message),
        );
    }
    // A duplicate field is not JSON serde accepts for a struct.
    let dup = format!(
        r#"{{"iv":"x",{}}}"#,
        &serde_json::Value::Object(good).to_string()[1..].trim_end_matches('}')
    );
    post(dup.as_bytes()).assert_error(400, "client_error", Some(required));
    assert_still_serving(&client);
    assert_no_5xx(&server);
}

/// The server's own count of 5xx answers is zero (a handler panic would also drop the
/// connection, which the harness reports as a failed read).
#[track_caller]
fn assert_no_5xx(server: &TestServer) {
    let metrics = server.request("GET", "/metrics", &[], b"").text();
    let bad: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("euid_http_requests_total") && l.contains("status=\"5"))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}

/// Reads exactly one response with a `Content-Length` from a kept-alive connection.
fn read_one(stream: &mut TcpStream) -> HttpResponse {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("response head");
        raw.push(byte[0]);
    }
    let head = parse_response(&raw);
    let len: usize = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).expect("response body");
    raw.extend_from_slice(&body);
    parse_response(&raw)
}

#[test]
fn keep_alive_connections_serve_requests_then_close_when_idle() {
    let config = OperatorConfig::from_json(br#"{"request_timeout_ms":500}"#).unwrap();
    let (_dir, server, client) = start(config);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let auth = format!("Bearer {}", server.demo.api_key);
    // Several requests on one connection, the second one a hostile body: the head timeout
    // does not cut a busy connection, and an error does not close it.
    for (i, json) in [good_json(GENERATE), String::new(), good_json(GENERATE)]
        .iter()
        .enumerate()
    {
        let (body, nonce) = if json.is_empty() {
            (b"%%%".to_vec(), [0; 8])
        } else {
            client.envelope(json, now_ms())
        };
        let head = format!(
            "POST {GENERATE} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
            server.addr,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
        let resp = read_one(&mut stream);
        if json.is_empty() {
            assert_envelope_error(&resp, &not_base64(), "kept-alive hostile body");
        } else {
            assert_eq!(
                client.open(&resp, nonce)["status"],
                "success",
                "request {i}"
            );
        }
    }
    // Then silence: the server closes the connection once the head timeout passes.
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("an idle kept-alive connection was not closed: {other:?}"),
    }
    assert_still_serving(&client);
    assert_no_5xx(&server);
}
