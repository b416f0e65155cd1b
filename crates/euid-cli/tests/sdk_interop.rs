//! Conformance: the official SDK (`uid2-client`, pinned in scripts/test-setup.sh) end to
//! end against a real operator on 127.0.0.1, driven by tests/interop/sdk_e2e.py through
//! the SDK's public API only; then `euid token decrypt` reads the token the SDK minted.
//!
//! Without the venv this fails, saying how to set it up. Outside CI, `EUID_SKIP_INTEROP=1`
//! turns that into a skip with a notice; under CI (env `CI` set) nothing skips it.

use std::path::PathBuf;
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> Option<PathBuf> {
    let path = std::env::var_os("EUID_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/interop-venv/bin/python"));
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "the interop venv is missing at {} (run scripts/test-setup.sh)",
        path.display()
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}; CI must not skip this suite"
    );
    assert!(
        std::env::var_os("EUID_SKIP_INTEROP").is_some(),
        "{why}, or set EUID_SKIP_INTEROP=1 to skip the SDK interop suite"
    );
    eprintln!("NOTICE: EUID_SKIP_INTEROP set, skipping the SDK interop suite: {why}");
    None
}

#[test]
fn official_sdk_end_to_end() {
    let Some(python) = python() else { return };
    let data_dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(euid_operator::start(euid_operator::ServerOptions {
            data_dir: data_dir.path().to_path_buf(),
            listen: Some("127.0.0.1:0".to_owned()),
            config: euid_operator::OperatorConfig::default(),
            ..euid_operator::ServerOptions::default()
        }))
        .expect("operator starts");
    let demo = server.demo_client().cloned().expect("demo client");
    let base_url = format!("http://{}", server.local_addr());
    // An opt-out for the script's v3 map to report (the SDK has no logout call).
    let opted_out_email = "logged.out@example.org";
    let logout = post_encrypted(
        server.local_addr(),
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
    let keys_file = data_dir.path().join("sharing-keys.json");
    let sharing_keys = post_encrypted(
        server.local_addr(),
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

    rt.block_on(server.shutdown()).unwrap();
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
    use std::io::{Read, Write};
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
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api_key}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP response")
        + 4;
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
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
        .write_all(&response[split..])
        .unwrap();
    let out = decrypt.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}
