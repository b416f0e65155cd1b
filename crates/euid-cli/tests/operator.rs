//! The built `euid` binary against a real operator, started in process from the
//! euid-operator library on 127.0.0.1 with a fresh data directory.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{euid, euid_env, Run};
use euid_operator::OperatorConfig;
use euid_test_support::{http, testdata, TestServer, SUFFICIENT_TCF};

/// The operator in process (euid-test-support's harness) and its demo client's credentials.
struct Operator {
    server: TestServer,
    url: String,
    api_key: String,
    secret: String,
}

impl Operator {
    fn start() -> Self {
        let server = TestServer::start(OperatorConfig::default());
        let (url, api_key, secret) = server.creds();
        Self {
            server,
            url,
            api_key,
            secret,
        }
    }

    fn data_dir(&self) -> &Path {
        self.server.data_dir()
    }

    fn data_dir_str(&self) -> &str {
        self.data_dir().to_str().expect("UTF-8 temp path")
    }

    /// `euid generate --demo DIR --url URL ARGS`.
    fn generate(&self, args: &[&str]) -> Run {
        let mut all = vec![
            "generate",
            "--demo",
            self.data_dir_str(),
            "--url",
            &self.url,
        ];
        all.extend_from_slice(args);
        euid(&all, b"")
    }
}

fn have_curl() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// POSTs `body` like `curl -X POST URL [-H 'Authorization: Bearer KEY'] -d @-` (curl when the
/// machine has it, else the same request over a plain TCP socket) and returns the body.
fn post(url: &str, api_key: Option<&str>, body: &[u8]) -> Vec<u8> {
    if have_curl() {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-X", "POST", url, "-d", "@-", "--max-time", "30"]);
        if let Some(key) = api_key {
            cmd.args(["-H", &format!("Authorization: Bearer {key}")]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("curl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(body)
            .expect("write");
        let out = child.wait_with_output().expect("curl runs");
        assert!(out.status.success(), "curl failed");
        return out.stdout;
    }
    raw_post(url, api_key, body)
}

/// A minimal HTTP/1.1 POST (what curl -d @- sends: newlines stripped), for machines without curl.
fn raw_post(url: &str, api_key: Option<&str>, body: &[u8]) -> Vec<u8> {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .expect("path");
    let body: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| *b != b'\n' && *b != b'\r')
        .collect();
    let auth = api_key.map(|key| format!("Bearer {key}"));
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    let addr = host.parse().expect("host:port");
    http(addr, "POST", &path, &headers, &body).body
}

/// The seed's pipeline: `echo JSON | euid encrypt-request S | curl … -d @- | euid decrypt-response S`.
fn seed_pipeline(op: &Operator, path: &str, json: &str, secret: &str, api_key: &str) -> Run {
    let envelope = euid(&["encrypt-request", secret], format!("{json}\n").as_bytes());
    assert_eq!(envelope.code, 0, "{}", envelope.stderr);
    let response = post(
        &format!("{}{path}", op.url),
        Some(api_key),
        envelope.stdout.as_bytes(),
    );
    euid(&["decrypt-response", secret], &response)
}

#[test]
fn the_seeds_pipeline_works_verbatim() {
    let op = Operator::start();
    let json = format!(
        r#"{{"email_hash": "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=", "tcf_consent_string": "{SUFFICIENT_TCF}"}}"#
    );
    let out = seed_pipeline(&op, "/v2/token/generate", &json, &op.secret, &op.api_key).json();
    assert_eq!(out["status"], "success");
    let body = &out["body"];
    assert!(body["advertising_token"]
        .as_str()
        .expect("token")
        .starts_with("E4"));
    assert_eq!(body["refresh_token"].as_str().expect("refresh").len(), 388);
    assert!(body["refresh_response_key"].is_string());
    for field in ["identity_expires", "refresh_from", "refresh_expires"] {
        assert!(body[field].is_i64(), "{field}");
    }

    // With a chosen nonce, decrypt-response checks the echo.
    let envelope = euid(
        &["encrypt-request", &op.secret, "--nonce", "0102030405060708"],
        json.as_bytes(),
    );
    let response = post(
        &format!("{}/v2/token/generate", op.url),
        Some(&op.api_key),
        envelope.stdout.as_bytes(),
    );
    let ok = euid(
        &[
            "decrypt-response",
            &op.secret,
            "--nonce",
            "0102030405060708",
        ],
        &response,
    );
    assert_eq!(ok.json()["status"], "success");
    euid(
        &[
            "decrypt-response",
            &op.secret,
            "--nonce",
            "0102030405060709",
        ],
        &response,
    )
    .assert_error(1, "nonce mismatch", &[&op.secret]);

    // Insufficient consent: HTTP 200, encrypted, printed like any answer.
    let tcf = testdata("tcf.json");
    let insufficient = tcf["valid"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["euid"]["sufficient"] == false)
        .expect("an insufficient string");
    let json = format!(
        r#"{{"email": "user@example.com", "tcf_consent_string": "{}"}}"#,
        common::s(insufficient, "input")
    );
    let out = seed_pipeline(&op, "/v2/token/generate", &json, &op.secret, &op.api_key).json();
    assert_eq!(out["status"], "insufficient_user_consent");
    assert!(out.get("body").is_none());
}

#[test]
fn operator_errors_are_reported_on_one_line() {
    let op = Operator::start();
    // An invalid identifier: HTTP 400 with plain JSON, shown on stderr.
    let json = format!(r#"{{"email": "not an email", "tcf_consent_string": "{SUFFICIENT_TCF}"}}"#);
    seed_pipeline(&op, "/v2/token/generate", &json, &op.secret, &op.api_key).assert_error(
        1,
        "Invalid Identifier",
        &[&op.secret, "not an email"],
    );
    // A wrong client secret: the operator cannot open the envelope.
    let wrong = "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo=";
    seed_pipeline(&op, "/v2/token/generate", &json, wrong, &op.api_key).assert_error(
        1,
        "Check encryption key",
        &[wrong, &op.secret],
    );
    // A wrong API key: 401.
    seed_pipeline(
        &op,
        "/v2/token/generate",
        &json,
        &op.secret,
        "EUID-C-L-999-wrongk.ey",
    )
    .assert_error(1, "unauthorized", &[&op.secret]);
    // The same through euid generate.
    let run = euid(
        &[
            "generate",
            "--url",
            &op.url,
            "--api-key",
            "EUID-C-L-999-wrongk.ey",
            "--secret",
            &op.secret,
            "--email",
            "user@example.com",
        ],
        b"",
    );
    run.assert_error(1, "HTTP 401", &[&op.secret, "EUID-C-L-999-wrongk.ey"]);
    let run = op.generate(&["--email", "user@example.com", "--tcf", "not-a-tc-string"]);
    run.assert_error(1, "HTTP 400", &[&op.secret, &op.api_key]);
}

#[test]
fn generate_then_refresh_round_trips() {
    let op = Operator::start();
    let first = op.generate(&["--email", "user@example.com"]);
    let generated = first.json();
    assert_eq!(generated["status"], "success");

    // euid generate | euid refresh
    let refreshed = euid(&["refresh", "--url", &op.url], first.stdout.as_bytes()).json();
    assert_eq!(refreshed["status"], "success");
    assert_ne!(
        refreshed["body"]["refresh_token"],
        generated["body"]["refresh_token"]
    );
    assert_ne!(
        refreshed["body"]["refresh_response_key"],
        generated["body"]["refresh_response_key"]
    );

    // ... and again from the refresh's own output, with flags this time.
    let body = &refreshed["body"];
    let again = euid(
        &[
            "refresh",
            "--url",
            &op.url,
            "--refresh-token",
            body["refresh_token"].as_str().expect("token"),
            "--refresh-response-key",
            body["refresh_response_key"].as_str().expect("key"),
        ],
        b"",
    )
    .json();
    assert_eq!(again["status"], "success");

    // The refresh through curl and decrypt-response --refresh.
    let token = again["body"]["refresh_token"].as_str().expect("token");
    let key = again["body"]["refresh_response_key"].as_str().expect("key");
    let response = post(
        &format!("{}/v2/token/refresh", op.url),
        None,
        token.as_bytes(),
    );
    let out = euid(&["decrypt-response", "--refresh", key], &response).json();
    assert_eq!(out["status"], "success");

    // A used refresh key cannot open the next answer.
    let response = post(
        &format!("{}/v2/token/refresh", op.url),
        None,
        out["body"]["refresh_token"].as_str().expect("t").as_bytes(),
    );
    euid(&["decrypt-response", "--refresh", key], &response).assert_error(
        1,
        "cannot decrypt",
        &[key],
    );

    // Opt-out identities refresh to a logout.
    let optout = op.generate(&["--email", "optout@example.com"]);
    let out = euid(&["refresh", "--url", &op.url], optout.stdout.as_bytes()).json();
    assert_eq!(out["status"], "optout");

    // Credentials from the environment, and phone identities.
    let run = euid_env(
        &["generate", "--url", &op.url, "--phone", "+12345678901"],
        b"",
        &[("EUID_API_KEY", &op.api_key), ("EUID_SECRET", &op.secret)],
    );
    assert!(run.json()["body"]["advertising_token"]
        .as_str()
        .expect("token")
        .starts_with("F4"));
}

#[test]
fn token_decrypt_with_the_operators_bidstream_keys() {
    let op = Operator::start();
    let generated = op.generate(&["--email", "User.Name@Example.com"]).json();
    let token = generated["body"]["advertising_token"]
        .as_str()
        .expect("token")
        .to_owned();

    // Keys as an SDK fetches them: an envelope without JSON.
    let envelope = euid(&["encrypt-request", &op.secret], b"");
    let response = post(
        &format!("{}/v2/key/bidstream", op.url),
        Some(&op.api_key),
        envelope.stdout.as_bytes(),
    );
    let keys = euid(&["decrypt-response", &op.secret], &response);
    assert_eq!(keys.code, 0, "{}", keys.stderr);
    let keys_file = op.data_dir().join("bidstream-keys.json");
    std::fs::write(&keys_file, &keys.stdout).expect("write keys");
    let keys_file = keys_file.to_str().expect("path");

    let decoded = euid(&["token", "decrypt", &token, "--keys", keys_file], b"").json();
    assert_eq!(decoded["version"], 4);
    assert_eq!(decoded["scope"], "EUID");
    assert_eq!(decoded["identity_type"], "email");
    assert_eq!(decoded["privacy_bits"], 1);
    assert_eq!(decoded["is_client_side_generated"], false);
    assert_eq!(decoded["expires"], generated["body"]["identity_expires"]);
    let demo: serde_json::Value = serde_json::from_slice(
        &std::fs::read(op.data_dir().join("demo-client.json")).expect("demo"),
    )
    .expect("json");
    assert_eq!(decoded["site_id"], demo["site_id"]);

    // The same raw UID as /v2/identity/map gives for that email.
    let map = seed_pipeline(
        &op,
        "/v2/identity/map",
        r#"{"email": ["User.Name@Example.com"]}"#,
        &op.secret,
        &op.api_key,
    )
    .json();
    assert_eq!(
        map["body"]["mapped"][0]["advertising_id"],
        decoded["raw_uid"]
    );
}

#[test]
fn init_and_keys_rotate_a_data_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let data_s = data.to_str().expect("path");
    let init = euid(&["init", data_s], b"").json();
    assert!(!init["created"].as_array().expect("created").is_empty());
    let demo_text = std::fs::read_to_string(data.join("demo-client.json")).expect("demo");
    let demo: serde_json::Value = serde_json::from_str(&demo_text).expect("json");
    // init says where the credentials are, never what they are.
    let printed = serde_json::to_string(&init).expect("json");
    assert!(!printed.contains(demo["api_key"].as_str().expect("key")));
    assert!(!printed.contains(demo["client_secret"].as_str().expect("secret")));

    // Again: the directory is reused, the demo client unchanged.
    let again = euid(&["init", data_s], b"").json();
    assert_eq!(again["created"], serde_json::json!([]));
    assert_eq!(
        std::fs::read_to_string(data.join("demo-client.json")).expect("demo"),
        demo_text
    );

    let before: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(data.join("keyset_keys.json")).expect("keys"),
    )
    .expect("json");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let rotated = euid(&["keys", "rotate", data_s, "--activates-in", "600"], b"").json();
    let rotated = rotated["rotated"].as_array().expect("rotated").clone();
    assert!(!rotated.is_empty());
    let after: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(data.join("keyset_keys.json")).expect("keys"),
    )
    .expect("json");
    assert_eq!(after.len(), before.len() + rotated.len());
    for old in &before {
        assert!(
            after.iter().any(|k| k["id"] == old["id"]),
            "old key {} kept",
            old["id"]
        );
    }
    for key in &rotated {
        let activates = key["activates"].as_i64().expect("activates");
        assert!(
            (now + 590..=now + 700).contains(&activates),
            "activates {activates}, now {now}"
        );
        assert!(after.iter().any(|k| k["id"] == key["key_id"]));
        // One-hour keys by default (docs/KEYS.md: well under 2^32 random-IV messages).
        assert_eq!(key["expires"].as_i64().expect("expires") - activates, 3600);
    }

    euid(
        &[
            "keys",
            "rotate",
            dir.path().join("missing").to_str().expect("path"),
        ],
        b"",
    )
    .assert_error(1, "cannot rotate", &[]);
}
