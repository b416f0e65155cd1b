//! The built `euid` binary, run as a user would, against a real operator on 127.0.0.1.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SUFFICIENT_TCF: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `euid ARGS` with `stdin`, bounded to 60 s by the HTTP timeouts of the commands.
fn euid(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_euid"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("euid runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// A failure is exit code `code` and exactly one line on stderr, never a panic.
fn assert_one_line_error(out: &Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.starts_with("euid: "), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    stderr
}

struct Operator {
    rt: tokio::runtime::Runtime,
    server: Option<euid_operator::RunningServer>,
    dir: tempfile::TempDir,
}

impl Operator {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt
            .block_on(euid_operator::start(euid_operator::ServerOptions {
                data_dir: dir.path().to_path_buf(),
                listen: Some("127.0.0.1:0".to_owned()),
                config: euid_operator::OperatorConfig::default(),
                init: euid_operator::InitOptions::default(),
            }))
            .expect("operator starts");
        Self { rt, server: Some(server), dir }
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.as_ref().unwrap().local_addr())
    }

    fn demo(&self) -> euid_operator::data_dir::DemoClient {
        self.server.as_ref().unwrap().demo_client().clone()
    }

    fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.rt.block_on(server.shutdown());
        }
    }
}

/// The seed's pipeline: `echo JSON | euid encrypt-request S | curl ... -d @- | euid decrypt-response S`.
fn seed_pipeline(op: &Operator, path: &str, json: &str) -> Output {
    let demo = op.demo();
    let envelope = euid(&["encrypt-request", &demo.client_secret], json.as_bytes());
    assert!(envelope.status.success(), "{}", String::from_utf8_lossy(&envelope.stderr));
    let curl = Command::new("curl")
        .args(["-s", "-X", "POST", &format!("{}{path}", op.url())])
        .args(["-H", &format!("Authorization: Bearer {}", demo.api_key)])
        .args(["-d", "@-", "--max-time", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut curl) = curl else {
        panic!("curl is needed for the seed's pipeline test");
    };
    curl.stdin.take().unwrap().write_all(&envelope.stdout).unwrap();
    let response = curl.wait_with_output().unwrap();
    euid(&["decrypt-response", &demo.client_secret], &response.stdout)
}

#[test]
fn seed_pipeline_generates_a_token() {
    let op = Operator::start();
    let out = seed_pipeline(
        &op,
        "/v2/token/generate",
        &format!(r#"{{"email_hash": "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=", "tcf_consent_string": "{SUFFICIENT_TCF}"}}"#),
    );
    let json = stdout_json(&out);
    assert_eq!(json["status"], "success");
    assert!(json["body"]["advertising_token"].as_str().unwrap().starts_with("E4"));
    assert_eq!(json["body"]["refresh_token"].as_str().unwrap().len(), 388);

    // An operator error answer is plain JSON: reported on one line, exit 1.
    let out = seed_pipeline(&op, "/v2/token/generate", r#"{"email": "a@b.com"}"#);
    let err = assert_one_line_error(&out, 1);
    assert!(err.contains("tcf_consent_string"), "{err}");
}

#[test]
fn generate_refresh_and_decrypt_the_token() {
    let op = Operator::start();
    let dir = op.data_dir().to_str().unwrap().to_owned();
    let url = op.url();
    let generated = euid(&["generate", "--url", &url, "--demo", &dir, "--email", "User.Name@Example.com"], b"");
    let json = stdout_json(&generated);
    assert_eq!(json["status"], "success");
    let token = json["body"]["advertising_token"].as_str().unwrap().to_owned();

    // Refresh from the JSON `euid generate` printed, twice in a row.
    let refreshed = euid(&["refresh", "--url", &url], &generated.stdout);
    let again = euid(&["refresh", "--url", &url], &refreshed.stdout);
    let json = stdout_json(&again);
    assert_eq!(json["status"], "success");
    assert_ne!(json["body"]["advertising_token"].as_str().unwrap(), token);

    // Keys from /v2/key/bidstream through the seed's pipeline, then `euid token decrypt`.
    let keys = seed_pipeline(&op, "/v2/key/bidstream", "");
    assert!(keys.status.success(), "{}", String::from_utf8_lossy(&keys.stderr));
    let keys_file = op.data_dir().join("bidstream-keys.json");
    std::fs::write(&keys_file, &keys.stdout).unwrap();
    let decoded = stdout_json(&euid(&["token", "decrypt", &token, "--keys", keys_file.to_str().unwrap()], b""));
    assert_eq!(decoded["site_id"], op.demo().site_id);
    assert_eq!(decoded["identity_scope"], "EUID");
    assert_eq!(decoded["identity_type"], "email");
    assert_eq!(decoded["version"], 128);
    assert_eq!(decoded["privacy_bits"], 1);
    assert!(decoded["raw_uid"].as_str().unwrap().starts_with('E'));

    // The same raw UID as /v2/identity/map gives for that email.
    let map = seed_pipeline(&op, "/v2/identity/map", r#"{"email": ["User.Name@Example.com"]}"#);
    let map = stdout_json(&map);
    assert_eq!(map["body"]["mapped"][0]["advertising_id"], decoded["raw_uid"]);

    // A tampered token is refused on one line.
    let mut bad = token.into_bytes();
    let i = bad.len() / 2;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let out = euid(&["token", "decrypt", std::str::from_utf8(&bad).unwrap(), "--keys", keys_file.to_str().unwrap()], b"");
    assert_one_line_error(&out, 1);
}

#[test]
fn normalize_and_hash_match_the_vectors() {
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo().join("testdata/normalization.json")).unwrap()).unwrap();
    for case in vectors["email"]["valid"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let json = stdout_json(&euid(&["normalize", "email", input], b""));
        assert_eq!(json["normalized"], case["normalized"], "{input:?}");
        assert_eq!(json["hash"], case["email_hash"], "{input:?}");
        let hash = euid(&["hash", "email", input], b"");
        assert_eq!(String::from_utf8_lossy(&hash.stdout).trim(), case["email_hash"].as_str().unwrap());
    }
    for case in vectors["phone"]["valid"].as_array().unwrap() {
        let json = stdout_json(&euid(&["normalize", "phone", case["input"].as_str().unwrap()], b""));
        assert_eq!(json["hash"], case["phone_hash"]);
    }
    for input in vectors["email"]["invalid"].as_array().unwrap() {
        let input = input.as_str().unwrap();
        let out = euid(&["normalize", "email", input], b"");
        let err = assert_one_line_error(&out, 2);
        if input.len() > 3 {
            assert!(!err.contains(input), "the error echoes the email: {err}");
        }
    }
}

#[test]
fn tcf_decode_and_check_match_the_vectors() {
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo().join("testdata/tcf.json")).unwrap()).unwrap();
    for case in vectors["valid"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let json = stdout_json(&euid(&["tcf", "decode", input], b""));
        assert_eq!(json["version"], case["version"], "{input}");
        assert_eq!(json["created"], case["created"]["ms"], "{input}");
        assert_eq!(json["cmp_id"], case["cmpId"], "{input}");
        assert_eq!(json["purpose_consents"], case["purposeConsents"], "{input}");
        assert_eq!(json["purpose_legitimate_interests"], case["purposeLegitimateInterests"], "{input}");
        assert_eq!(json["vendor_consents"], case["vendorConsents"], "{input}");
        assert_eq!(json["publisher_country_code"], case["publisherCountryCode"], "{input}");
        let check = euid(&["tcf", "check", input], b"");
        let sufficient = case["euid"]["sufficient"].as_bool().unwrap();
        assert_eq!(check.status.code(), Some(if sufficient { 0 } else { 1 }), "{input}");
    }
    for case in vectors["invalid"].as_array().unwrap() {
        let out = euid(&["tcf", "decode", case["input"].as_str().unwrap()], b"");
        assert_one_line_error(&out, 2);
    }
}

#[test]
fn init_and_rotate_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let init = stdout_json(&euid(&["init", data_s], b""));
    assert!(!init["created"].as_array().unwrap().is_empty());
    let demo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("demo-client.json")).unwrap()).unwrap();
    assert!(demo["api_key"].as_str().unwrap().starts_with("EUID-C-L-"));
    // Init again reuses the directory: the demo client is unchanged.
    stdout_json(&euid(&["init", data_s], b""));
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("demo-client.json")).unwrap()).unwrap();
    assert_eq!(demo, again);

    let keys_before = std::fs::read_to_string(data.join("keyset_keys.json")).unwrap();
    let rotated = stdout_json(&euid(&["keys", "rotate", data_s], b""));
    let rotated = rotated["rotated"].as_array().unwrap();
    assert!(!rotated.is_empty());
    let keys_after = std::fs::read_to_string(data.join("keyset_keys.json")).unwrap();
    for key in rotated {
        assert!(keys_after.contains(&format!("\"id\":{}", key["key_id"])) || keys_after.contains(&format!("\"id\": {}", key["key_id"])));
    }
    assert!(keys_after.len() > keys_before.len());
}

#[test]
fn bad_input_is_one_line_and_never_echoes_secrets() {
    let secret = "c2VjcmV0LXRoYXQtaXMtbm90LTMyLWJ5dGVzLWxvbmc=";
    let out = euid(&["encrypt-request", secret], b"{}");
    let err = assert_one_line_error(&out, 2);
    assert!(!err.contains(secret));
    let out = euid(&["encrypt-request", "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo="], b"[1,2]");
    assert_one_line_error(&out, 2);
    let out = euid(&["decrypt-response", "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo="], b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_one_line_error(&out, 1);
    let out = euid(&["tcf", "decode", "not a tc string"], b"");
    assert_one_line_error(&out, 2);
    let out = euid(&["no-such-command"], b"");
    assert_one_line_error(&out, 2);
    let out = euid(&["generate", "--url", "http://127.0.0.1:9", "--api-key", "k", "--secret", "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo=", "--email", "a@b.c"], b"");
    assert_one_line_error(&out, 1);
}
