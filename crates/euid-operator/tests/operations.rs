//! Operating the server: key rotation under traffic, restarts, kill -9 after many concurrent
//! logouts, health.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use euid_operator::DemoClient;
use euid_operator::{rotate_keys, OperatorConfig, RotateOptions};
use euid_store::write_atomic;
use euid_test_support::{
    now_ms, read_key_store, refresh, refresh_body, ApiClient, TestServer, SUFFICIENT_TCF,
};
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
        let store = read_key_store(dir.path());
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

/// The real binary on `dir`, with an optional `--config` file.
fn spawn_binary(dir: &std::path::Path, config: Option<&std::path::Path>) -> Spawned {
    let mut command = Command::new(env!("CARGO_BIN_EXE_euid-operator"));
    command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let mut child = command
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

/// One identity of the kill -9 test: how it is sent, the tokens minted for it before its
/// logout, and its raw UID.
struct Leaver {
    field: &'static str,
    value: String,
    tokens: serde_json::Value,
    raw_uid: String,
}

impl Leaver {
    fn json(&self) -> String {
        format!(r#""{}":"{}""#, self.field, self.value)
    }
}

/// 200 identities across the four input kinds.
fn leavers() -> Vec<(&'static str, String)> {
    let email_hash = |i: usize| {
        euid_normalize::hash_email(&format!("hashed-leaver-{i}@example.net"))
            .unwrap()
            .to_base64()
    };
    let phone_hash = |i: usize| {
        euid_normalize::hash_phone(&format!("+4477009{i:05}"))
            .unwrap()
            .to_base64()
    };
    (0..90)
        .map(|i| ("email", format!("Leaver.{i}@Example.org")))
        .chain((0..60).map(|i| ("phone", format!("+336123{i:05}"))))
        .chain((0..25).map(|i| ("email_hash", email_hash(i))))
        .chain((0..25).map(|i| ("phone_hash", phone_hash(i))))
        .collect()
}

#[test]
fn every_acknowledged_logout_survives_kill_9() {
    const THREADS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let first = spawn_binary(dir.path(), None);
    let demo: DemoClient =
        serde_json::from_slice(&std::fs::read(dir.path().join("demo-client.json")).unwrap())
            .unwrap();
    let client = ApiClient::new(first.addr, &demo.api_key, &demo.client_secret);
    let store = read_key_store(dir.path());
    let leavers: Vec<Leaver> = leavers()
        .into_iter()
        .map(|(field, value)| {
            let tokens = client.generate(&format!(r#""{field}":"{value}""#));
            let raw_uid = euid_token::decode_advertising_token(
                &store,
                tokens["advertising_token"].as_str().unwrap(),
                now_ms(),
            )
            .unwrap()
            .raw_uid
            .to_base64();
            Leaver {
                field,
                value,
                tokens,
                raw_uid,
            }
        })
        .collect();
    assert_eq!(leavers.len(), 200);
    let stayer = client.generate(r#""email":"stays.after.the.crash@example.org""#);

    // Concurrent logouts; the thread that reads the last acknowledgement kills the
    // operator at once (SIGKILL: no graceful shutdown, nothing flushed on the way out).
    let leavers = Arc::new(leavers);
    let child = Arc::new(std::sync::Mutex::new(first.child));
    let acked = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (leavers, child, acked) = (leavers.clone(), child.clone(), acked.clone());
            let client = ApiClient::new(first.addr, &demo.api_key, &demo.client_secret);
            std::thread::spawn(move || {
                for leaver in leavers.iter().skip(t).step_by(THREADS) {
                    let ack = client.call("/v2/token/logout", &format!("{{{}}}", leaver.json()));
                    assert_eq!(ack["body"]["optout"], "OK", "{}", leaver.value);
                    if acked.fetch_add(1, Ordering::SeqCst) + 1 == leavers.len() {
                        child.lock().unwrap().kill().unwrap(); // SIGKILL on Unix
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(acked.load(Ordering::SeqCst), leavers.len());
    let status = child.lock().unwrap().wait().unwrap();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status:?}"
    );
    #[cfg(not(unix))]
    let _ = status;

    // Restart on the same directory, with the opt-out check on generate enabled.
    let config = dir.path().join("optout-on-generate.json");
    std::fs::write(&config, br#"{"optout_check_on_generate":true}"#).unwrap();
    let mut second = spawn_binary(dir.path(), Some(&config));
    let client = ApiClient::new(second.addr, &demo.api_key, &demo.client_secret);
    let optout = serde_json::json!({"status":"optout"});
    for leaver in leavers.iter() {
        assert_eq!(
            refresh_body(second.addr, &leaver.tokens),
            optout,
            "refresh of {}",
            leaver.value
        );
        let generated = client.call(
            "/v2/token/generate",
            &format!(
                r#"{{{},"tcf_consent_string":"{SUFFICIENT_TCF}"}}"#,
                leaver.json()
            ),
        );
        assert_eq!(generated, optout, "generate for {}", leaver.value);
    }
    for field in ["email", "phone", "email_hash", "phone_hash"] {
        let values: Vec<&str> = leavers
            .iter()
            .filter(|l| l.field == field)
            .map(|l| l.value.as_str())
            .collect();
        let mapped = client.call(
            "/v2/identity/map",
            &serde_json::json!({ field: values }).to_string(),
        );
        assert!(
            mapped["body"]["mapped"].as_array().unwrap().is_empty(),
            "{mapped}"
        );
        let unmapped = mapped["body"]["unmapped"].as_array().unwrap();
        assert_eq!(unmapped.len(), values.len(), "{field}: {mapped}");
        assert!(unmapped.iter().all(|u| u["reason"] == "optout"), "{mapped}");
    }
    let ids: Vec<&str> = leavers.iter().map(|l| l.raw_uid.as_str()).collect();
    let status = client.call(
        "/v2/optout/status",
        &serde_json::json!({ "advertising_ids": ids }).to_string(),
    );
    let listed = status["body"]["opted_out"].as_array().unwrap();
    assert_eq!(listed.len(), leavers.len(), "{status}");
    // The identity that did not log out is untouched: these checks can tell the difference.
    assert_eq!(refresh_body(second.addr, &stayer)["status"], "success");
    assert_eq!(
        client.generate(r#""email":"stays.after.the.crash@example.org""#)["advertising_token"]
            .as_str()
            .unwrap()
            .len(),
        // v4 token around a 32-byte v2 raw UID (the live default).
        218
    );
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}

#[test]
fn generate_without_an_active_key_is_500_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // Rotation off: this test breaks the keys on purpose and must see it.
    let mut config = fast_reload();
    config.auto_rotate_keys = false;
    let server = TestServer::start_in(dir.path(), config);
    let client = ApiClient::demo(&server);
    let health = || server.request("GET", "/ops/healthcheck", &[], b"");
    let keys_path = dir.path().join("keyset_keys.json");
    let original = std::fs::read(&keys_path).unwrap();
    let store = read_key_store(dir.path());
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
        // v4 token around a 32-byte v2 raw UID (the live default).
        218
    );
}
