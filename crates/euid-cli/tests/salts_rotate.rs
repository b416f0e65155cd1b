//! `euid salts rotate` against a running operator over HTTP: the operator reloads the new
//! salts without a restart; `/v3/identity/map` gives rotated buckets a new `u` with the old
//! one as `p`, `/v2/identity/buckets` lists exactly the rotated ids, opt-outs recorded before
//! still hold, tokens minted after carry the new raw UID, and refresh tokens from before still
//! refresh.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::euid;
use euid_store::{DataDir, DataDirStore, SnapshotSource as _};
use euid_test_support::{now_ms, ApiClient, TestServer, SUFFICIENT_TCF};

/// The demo client's calls this test makes, over the shared harness's `ApiClient`.
struct Api(ApiClient);

impl Api {
    fn call(&self, path: &str, json: &serde_json::Value) -> serde_json::Value {
        self.0.call(path, &json.to_string())
    }

    /// The whole decrypted answer (`status` may be `optout`, which `ApiClient::generate`
    /// refuses).
    fn generate(&self, email: &str) -> serde_json::Value {
        self.call(
            "/v2/token/generate",
            &serde_json::json!({ "email": email, "tcf_consent_string": SUFFICIENT_TCF }),
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

    /// A refresh with `tokens`' refresh token and key; the decrypted answer.
    fn refresh(&self, tokens: &serde_json::Value) -> serde_json::Value {
        euid_test_support::refresh(
            self.0.addr,
            tokens["refresh_token"].as_str().unwrap(),
            tokens["refresh_response_key"].as_str().unwrap(),
            None,
        )
        .unwrap_or_else(|resp| panic!("refresh: HTTP {}: {}", resp.status, resp.text()))
    }
}

#[test]
fn a_running_operator_serves_rotated_salts_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = euid_operator::OperatorConfig::default();
    config.reload_interval_ms = 50;
    config.optout_check_on_generate = true;
    let server = TestServer::start_in(dir.path(), config);
    let api = Api(ApiClient::demo(&server));
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
            let refreshed = api.refresh(&before_tokens[i]);
            assert_eq!(refreshed["status"], "success", "{refreshed}");
            assert_eq!(token_uid(&refreshed["body"]), new["u"].as_str().unwrap());
        } else {
            assert_eq!(new["u"], old["u"], "{email}");
            assert!(new["p"].is_null(), "{email}");
            assert_eq!(api.refresh(&before_tokens[i])["status"], "success");
        }
    }
    assert!(moved > 0 && moved < emails.len(), "{moved} of 40 moved");

    // Opt-outs recorded before still stop generate, refresh and map.
    assert_eq!(api.generate(gone)["status"], "optout");
    assert_eq!(api.refresh(&gone_tokens)["status"], "optout");
    assert_eq!(
        api.map_v3(&[gone.to_owned()])[0],
        serde_json::json!({"e": "optout"})
    );
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
