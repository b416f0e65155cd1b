//! Conformance: the official SDK (`uid2-client`, pinned in scripts/test-setup.sh) end to
//! end against a real operator on 127.0.0.1, driven by tests/interop/sdk_e2e.py through
//! the SDK's public API only; then `euid token decrypt` reads the token the SDK minted.
//!
//! Without the venv this fails, saying how to set it up. Outside CI, `EUID_SKIP_INTEROP=1`
//! turns that into a skip with a notice; under CI (env `CI` set) nothing skips it.

use std::process::Command;

use euid_operator::OperatorConfig;
use euid_test_support::{http, interop_python, repo_root, TestServer};

#[test]
fn official_sdk_end_to_end() {
    let Some(python) = interop_python("the SDK interop suite") else {
        return;
    };
    let server = TestServer::start(OperatorConfig::default());
    let demo = &server.demo;
    let base_url = server.url();
    // An opt-out for the script's v3 map to report (the SDK has no logout call).
    let opted_out_email = "logged.out@example.org";
    let logout = post_encrypted(
        server.addr,
        "/v2/token/logout",
        &format!(r#"{{"email":"{opted_out_email}"}}"#),
        &demo.api_key,
        &demo.client_secret,
    );
    assert!(String::from_utf8_lossy(&logout).contains(r#""optout":"OK""#));

    let output = Command::new(&python)
        .arg(repo_root().join("tests/interop/sdk_e2e.py"))
        .args([
            &base_url,
            &demo.api_key,
            &demo.client_secret,
            &demo.site_id.to_string(),
            opted_out_email,
        ])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "SDK conformance run failed:\n{stdout}\n{stderr}"
    );
    let results: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    let checks = results["checks"].as_array().unwrap();
    for expected in [
        "insufficient_consent_raises",
        "invalid_consent_400",
        "generate_refresh_decrypt:email (hashed locally)",
        "generate_refresh_decrypt:email (sent raw)",
        "generate_refresh_decrypt:email_hash",
        "generate_refresh_decrypt:phone",
        "test_identity_optout:optout@email.com",
        "test_identity_optout:refresh-optout@example.com",
        "sharing_encrypt",
        "identity_map_v3",
        "identity_buckets",
    ] {
        assert!(
            checks.iter().any(|c| c == expected),
            "check {expected} did not run: {checks:?}"
        );
    }

    // `euid token decrypt` reads the SDK-minted sharing token with the sharing keys.
    let keys_file = server.data_dir().join("sharing-keys.json");
    let sharing_keys = post_encrypted(
        server.addr,
        "/v2/key/sharing",
        "",
        &demo.api_key,
        &demo.client_secret,
    );
    std::fs::write(&keys_file, sharing_keys).unwrap();
    let token = results["sdk_minted_token"].as_str().unwrap();
    let decrypt = Command::new(env!("CARGO_BIN_EXE_euid"))
        .args(["token", "decrypt", token, "--keys"])
        .arg(&keys_file)
        .output()
        .unwrap();
    assert!(
        decrypt.status.success(),
        "euid token decrypt failed: {}",
        String::from_utf8_lossy(&decrypt.stderr)
    );
    let decoded: serde_json::Value = serde_json::from_slice(&decrypt.stdout).expect("JSON");
    assert_eq!(decoded["raw_uid"], results["email_raw_uid"]);
    assert_eq!(decoded["site_id"], demo.site_id);
    assert_eq!(decoded["scope"], "EUID");
}

/// `echo JSON | euid encrypt-request S | POST PATH | euid decrypt-response S` (an empty
/// `json` makes an envelope without JSON, as the key endpoints expect).
fn post_encrypted(
    addr: std::net::SocketAddr,
    path: &str,
    json: &str,
    api_key: &str,
    secret: &str,
) -> Vec<u8> {
    use std::io::Write;
    let mut encrypt = Command::new(env!("CARGO_BIN_EXE_euid"))
        .args(["encrypt-request", secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    encrypt
        .stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .unwrap();
    let envelope = encrypt.wait_with_output().unwrap();
    assert!(envelope.status.success());
    let body = envelope.stdout.trim_ascii();
    let auth = format!("Bearer {api_key}");
    let response = http(addr, "POST", path, &[("Authorization", &auth)], body);
    assert_eq!(response.status, 200, "{}", response.text());
    let mut decrypt = Command::new(env!("CARGO_BIN_EXE_euid"))
        .args(["decrypt-response", secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    decrypt
        .stdin
        .take()
        .unwrap()
        .write_all(&response.body)
        .unwrap();
    let out = decrypt.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}
