//! Operating the server: key rotation under traffic, restarts, kill -9, health.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use euid_operator::data_dir::{write_atomic, DemoClient};
use euid_operator::{rotate_keys, OperatorConfig, RotateOptions};
use euid_token::{Key, KeyStore, MASTER_KEYSET_ID};

fn fast_reload() -> OperatorConfig {
    OperatorConfig::from_json(br#"{"reload_interval_ms":50}"#).unwrap()
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn key_rotation_under_traffic_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), fast_reload());
    let before = ApiClient::demo(&server).generate(r#""email":"before@example.org""#);
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let client = ApiClient::demo(&server);
            let (failures, done, stop) = (failures.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                // Bounded in count and time.
                for i in 0..2000 {
                    if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(30) {
                        break;
                    }
                    let json = format!(
                        r#"{{"email":"user{w}-{i}@example.org","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#
                    );
                    let (resp, nonce) = client.send("/v2/token/generate", &json);
                    if resp.status != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let out = client.open(&resp, nonce);
                    match refresh(client.addr, out["body"]["refresh_token"].as_str().unwrap(), out["body"]["refresh_response_key"].as_str().unwrap(), None) {
                        Ok(r) if r["status"] == "success" => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    wait_until("traffic", || done.load(Ordering::Relaxed) >= 20);
    let rotated = rotate_keys(
        dir.path(),
        &RotateOptions {
            activates_in_seconds: 1,
            lifetime_seconds: 86_400,
        },
    )
    .unwrap();
    assert!(rotated.len() >= 4, "{rotated:?}");
    let new_master = rotated
        .iter()
        .find(|k| k.keyset_id == MASTER_KEYSET_ID)
        .unwrap()
        .key_id;
    // Past the activation, with traffic still running, tokens use the new master key.
    let checker = ApiClient::demo(&server);
    wait_until("the new master key in use", || {
        let body = checker.generate(r#""email":"probe@example.org""#);
        let at = body["advertising_token"].as_str().unwrap().to_owned();
        let store = key_store(dir.path());
        euid_token::decode_advertising_token(&store, &at, now_ms())
            .unwrap()
            .master_key_id
            == new_master
    });
    let at_rotation = done.load(Ordering::Relaxed);
    wait_until("traffic after rotation", || {
        done.load(Ordering::Relaxed) >= at_rotation + 20
    });
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    // Tokens from before the rotation still refresh.
    assert_eq!(refresh_body(server.addr, &before)["status"], "success");
}

#[test]
fn a_restart_keeps_opt_outs_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, gone) = {
        let server = TestServer::start_in(dir.path(), OperatorConfig::default());
        let client = ApiClient::demo(&server);
        let kept = client.generate(r#""email":"stays@example.org""#);
        let gone = client.generate(r#""email":"goes@example.org""#);
        client.call("/v2/token/logout", r#"{"email":"goes@example.org"}"#);
        (kept, gone)
    };
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    assert_eq!(refresh_body(server.addr, &kept)["status"], "success");
    assert_eq!(
        refresh_body(server.addr, &gone),
        serde_json::json!({"status":"optout"})
    );
}

struct Spawned {
    child: Child,
    addr: std::net::SocketAddr,
}

fn spawn_binary(dir: &std::path::Path) -> Spawned {
    let mut child = Command::new(env!("CARGO_BIN_EXE_euid-operator"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn euid-operator");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut addr = None;
    for _ in 0..50 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.strip_prefix("euid-operator is listening on http://") {
            addr = rest.trim().parse().ok();
            break;
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Spawned {
        child,
        addr: addr.expect("the binary prints its address"),
    }
}

#[test]
fn an_acknowledged_logout_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = spawn_binary(dir.path());
    let demo: DemoClient =
        serde_json::from_slice(&std::fs::read(dir.path().join("demo-client.json")).unwrap())
            .unwrap();
    let client = ApiClient::new(first.addr, &demo.api_key, &demo.client_secret);
    let tokens = client.generate(r#""email":"crash@example.org""#);
    let ack = client.call("/v2/token/logout", r#"{"email":"crash@example.org"}"#);
    assert_eq!(ack["body"]["optout"], "OK");
    first.child.kill().unwrap(); // SIGKILL on Unix
    first.child.wait().unwrap();

    let mut second = spawn_binary(dir.path());
    assert_eq!(
        refresh_body(second.addr, &tokens),
        serde_json::json!({"status":"optout"})
    );
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}

#[test]
fn generate_without_an_active_key_is_500_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), fast_reload());
    let client = ApiClient::demo(&server);
    let health = || server.request("GET", "/ops/healthcheck", &[], b"");
    let keys_path = dir.path().join("keyset_keys.json");
    let original = std::fs::read(&keys_path).unwrap();
    let store = key_store(dir.path());
    let expired: Vec<Key> = store
        .keys()
        .map(|k| Key::new(k.id, k.keyset_id, 1, 1, 2, k.secret().clone()))
        .collect();
    let expired = KeyStore::new(store.keysets().cloned().collect(), expired).unwrap();
    write_atomic(&keys_path, expired.keyset_keys_json().as_bytes()).unwrap();
    wait_until("503", || health().status == 503);
    let (r, _) = client.send(
        "/v2/token/generate",
        &format!(r#"{{"email":"a@b.com","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
    );
    r.assert_error(500, "unknown", Some("No active encryption key available"));
    write_atomic(&keys_path, &original).unwrap();
    wait_until("200", || health().status == 200);
    assert_eq!(
        client.generate(r#""email":"back@example.org""#)["advertising_token"]
            .as_str()
            .unwrap()
            .len(),
        219
    );
}
