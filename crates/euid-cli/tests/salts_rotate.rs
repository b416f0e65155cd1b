//! `euid salts rotate` against a running operator over HTTP: the operator reloads the new
//! salts without a restart; `/v3/identity/map` gives rotated buckets a new `u` with the old
//! one as `p`, `/v2/identity/buckets` lists exactly the rotated ids, opt-outs recorded before
//! still hold, tokens minted after carry the new raw UID, and refresh tokens from before still
//! refresh.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::euid;
use euid_crypto::{AesGcmKey, BatchedOsRandom, RandomSource};
use euid_envelope::{open_refresh_response, open_response, seal_request, ClientSecret};
use euid_store::{DataDir, DataDirStore, SnapshotSource as _};

const TCF: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn post(addr: SocketAddr, path: &str, auth: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = auth
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP response");
    let status = std::str::from_utf8(&response[9..12])
        .unwrap()
        .parse()
        .unwrap();
    (status, response[split + 4..].to_vec())
}

struct Api {
    addr: SocketAddr,
    api_key: String,
    secret: ClientSecret,
}

impl Api {
    fn call(&self, path: &str, json: &serde_json::Value) -> serde_json::Value {
        let mut rng = BatchedOsRandom::new();
        let mut nonce = [0u8; 8];
        rng.fill(&mut nonce);
        let sealed = seal_request(
            &self.secret,
            now_ms(),
            nonce,
            json.to_string().as_bytes(),
            &mut rng,
        );
        let (status, body) = post(
            self.addr,
            path,
            Some(&self.api_key),
            STANDARD.encode(sealed).as_bytes(),
        );
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let opened = open_response(&self.secret, &body, Some(nonce)).unwrap();
        serde_json::from_slice(&opened.json).unwrap()
    }

    fn generate(&self, email: &str) -> serde_json::Value {
        self.call(
            "/v2/token/generate",
            &serde_json::json!({ "email": email, "tcf_consent_string": TCF }),
        )
    }

    fn map_v3(&self, emails: &[String]) -> Vec<serde_json::Value> {
        let out = self.call("/v3/identity/map", &serde_json::json!({ "email": emails }));
        out["body"]["email"].as_array().unwrap().clone()
    }

    fn buckets_since(&self, since: &str) -> BTreeSet<String> {
        let out = self.call(
            "/v2/identity/buckets",
            &serde_json::json!({ "since_timestamp": since }),
        );
        out["body"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["bucket_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn refresh(addr: SocketAddr, tokens: &serde_json::Value) -> serde_json::Value {
    let (status, body) = post(
        addr,
        "/v2/token/refresh",
        None,
        tokens["refresh_token"].as_str().unwrap().as_bytes(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let key = AesGcmKey::from_base64(tokens["refresh_response_key"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&open_refresh_response(&key, &body).unwrap()).unwrap()
}

#[test]
fn a_running_operator_serves_rotated_salts_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = euid_operator::OperatorConfig::default();
    config.reload_interval_ms = 50;
    config.optout_check_on_generate = true;
    let server = rt
        .block_on(euid_operator::start(euid_operator::ServerOptions {
            data_dir: dir.path().to_path_buf(),
            listen: Some("127.0.0.1:0".to_owned()),
            config,
            ..euid_operator::ServerOptions::default()
        }))
        .expect("operator starts");
    let demo = server.demo_client().cloned().unwrap();
    let api = Api {
        addr: server.local_addr(),
        api_key: demo.api_key.clone(),
        secret: ClientSecret::from_base64(&demo.client_secret).unwrap(),
    };
    let keys = || {
        DataDirStore::new(DataDir::new(dir.path()))
            .load_snapshot()
            .unwrap()
            .keys
    };
    let token_uid = |tokens: &serde_json::Value| {
        euid_token::decode_advertising_token(
            &keys(),
            tokens["advertising_token"].as_str().unwrap(),
            now_ms(),
        )
        .unwrap()
        .raw_uid
        .to_base64()
    };

    // Before: 40 identities with tokens and mappings, one of them logged out afterwards.
    let emails: Vec<String> = (0..40).map(|i| format!("user{i}@example.org")).collect();
    let before_tokens: Vec<serde_json::Value> = emails
        .iter()
        .map(|e| api.generate(e)["body"].clone())
        .collect();
    let gone = "gone@example.org";
    let gone_tokens = api.generate(gone)["body"].clone();
    api.call("/v2/token/logout", &serde_json::json!({ "email": gone }));
    let before = api.map_v3(&emails);
    let v2 = api.call("/v2/identity/map", &serde_json::json!({ "email": emails }));
    let bucket_of: BTreeMap<String, String> = v2["body"]["mapped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["identifier"].as_str().unwrap().to_owned(),
                m["bucket_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Later than init's salts, no later than the rotation; in the request's format.
    std::thread::sleep(Duration::from_millis(20));
    let since = {
        let started = now_ms();
        let (y, m, d) = civil(started.div_euclid(86_400_000));
        let t = started.rem_euclid(86_400_000);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
            t / 3_600_000,
            t / 60_000 % 60,
            t / 1000 % 60,
            t % 1000
        )
    };
    assert!(api.buckets_since(&since).is_empty(), "nothing rotated yet");

    let run = euid(
        &[
            "salts",
            "rotate",
            dir.path().to_str().unwrap(),
            "--fraction",
            "0.5",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let printed = run.json();
    let rotated: BTreeSet<String> = printed["rotated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect();
    let total = printed["buckets"].as_u64().unwrap() as usize;
    assert_eq!(rotated.len(), total.div_ceil(2), "{printed}");

    // The reload loop picks the files up; the buckets endpoint then lists exactly them.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listed = api.buckets_since(&since);
        if !listed.is_empty() {
            assert_eq!(listed, rotated);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "salts never reloaded");
        std::thread::sleep(Duration::from_millis(50));
    }

    let after = api.map_v3(&emails);
    let mut moved = 0;
    for (i, email) in emails.iter().enumerate() {
        let (old, new) = (&before[i], &after[i]);
        if rotated.contains(&bucket_of[email]) {
            moved += 1;
            assert_ne!(new["u"], old["u"], "{email}");
            assert_eq!(new["p"], old["u"], "{email}");
            // Tokens minted after carry the new raw UID; refresh tokens from before refresh
            // into it.
            assert_eq!(
                token_uid(&api.generate(email)["body"]),
                new["u"].as_str().unwrap()
            );
            let refreshed = refresh(api.addr, &before_tokens[i]);
            assert_eq!(refreshed["status"], "success", "{refreshed}");
            assert_eq!(token_uid(&refreshed["body"]), new["u"].as_str().unwrap());
        } else {
            assert_eq!(new["u"], old["u"], "{email}");
            assert!(new["p"].is_null(), "{email}");
            assert_eq!(refresh(api.addr, &before_tokens[i])["status"], "success");
        }
    }
    assert!(moved > 0 && moved < emails.len(), "{moved} of 40 moved");

    // Opt-outs recorded before still stop generate, refresh and map.
    assert_eq!(api.generate(gone)["status"], "optout");
    assert_eq!(refresh(api.addr, &gone_tokens)["status"], "optout");
    assert_eq!(
        api.map_v3(&[gone.to_owned()])[0],
        serde_json::json!({"e": "optout"})
    );

    rt.block_on(server.shutdown()).unwrap();
}

#[test]
fn the_fraction_is_checked_and_a_missing_directory_is_an_error() {
    for bad in ["-0.1", "1.5", "NaN"] {
        let run = euid(&["salts", "rotate", "/nonexistent", "--fraction", bad], b"");
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none");
    let run = euid(&["salts", "rotate", missing.to_str().unwrap()], b"");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!missing.exists(), "rotate never creates a data directory");
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
