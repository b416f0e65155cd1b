//! The access log of the real binary: one line per request by default, none with
//! `--access-log off` or a log level above info, one in N with `sample:N`, and a refused mode
//! is a usage error. Lines are written by the log thread; a graceful stop writes them all.

use euid_test_support::{http, ApiClient, SpawnedOperator};

const LINE: &str = "euid_operator::access: request endpoint=";

/// Runs 7 generates and 3 unauthenticated calls against the binary, stops it, and returns
/// its access lines.
fn access_lines(args: &[&str], envs: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let op = SpawnedOperator::spawn(env!("CARGO_BIN_EXE_euid-operator"), &data, args, envs);
    let demo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("demo-client.json")).unwrap()).unwrap();
    let client = ApiClient::new(
        op.addr,
        demo["api_key"].as_str().unwrap(),
        demo["client_secret"].as_str().unwrap(),
    );
    for i in 0..7 {
        client.generate(&format!(r#""email":"user{i}@example.com""#));
    }
    for _ in 0..3 {
        let resp = http(op.addr, "POST", "/v2/token/generate", &[], b"x");
        assert_eq!(resp.status, 401);
    }
    let log = op.stop();
    log.lines()
        .filter(|l| l.contains(LINE))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_request_gets_one_line_by_default() {
    let lines = access_lines(&[], &[]);
    assert_eq!(lines.len(), 10, "{lines:#?}");
    let ok: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" status=200 "))
        .collect();
    assert_eq!(ok.len(), 7);
    for l in &ok {
        assert!(
            l.contains("endpoint=\"/v2/token/generate\"") && l.ends_with(" site_id=999"),
            "{l}"
        );
        assert!(l.contains("  INFO "), "{l}");
    }
    let refused = lines.iter().filter(|l| l.contains(" status=401 ")).count();
    assert_eq!(refused, 3);
}

#[test]
fn off_sample_and_the_log_level_choose_the_lines() {
    assert!(access_lines(&["--access-log", "off"], &[]).is_empty());
    assert!(access_lines(&[], &[("EUID_ACCESS_LOG", "off")]).is_empty());
    assert!(access_lines(&[], &[("RUST_LOG", "warn")]).is_empty());
    // The 1st, 4th, 7th and 10th request.
    assert_eq!(access_lines(&["--access-log", "sample:3"], &[]).len(), 4);
}

#[test]
fn an_unknown_mode_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_euid-operator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--access-log",
            "sometimes",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("on, off or sample:N"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created on a usage error"
    );
}
