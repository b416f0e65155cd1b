//! Every `euid` row of `testdata/raw_uid/vectors.jsonl` (the live operator's own raw UIDs)
//! through the request pipeline (`euid_operator::handle`, the clock as a parameter) on a data
//! directory holding the live test salt file and metadata: `/v2/identity/map`'s
//! `advertising_id` and `bucket_id`, and `/v3/identity/map`'s `u`, `p` and `r`, for both
//! environments and both `identity_v3` settings.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::BatchedOsRandom;
use euid_envelope::{open_response, seal_request, ClientSecret};
use euid_operator::SqliteOptOutStore;
use euid_operator::{
    handle, init_data_dir, ApiRequest, DataDir, Endpoint, InitOptions, OperatorConfig, Snapshot,
};

fn testdata(name: &str) -> std::path::PathBuf {
    euid_test_support::testdata_path(&format!("raw_uid/{name}"))
}

struct Pipeline {
    _dir: tempfile::TempDir,
    snapshot: Snapshot,
    optouts: SqliteOptOutStore,
    secret: ClientSecret,
    authorization: String,
}

impl Pipeline {
    fn new(identity_v3: bool, environment: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let demo = init_data_dir(dir.path(), &InitOptions::default())
            .unwrap()
            .demo_client
            .unwrap();
        let data = DataDir::new(dir.path());
        std::fs::copy(testdata("salts.txt"), data.salts_file()).unwrap();
        std::fs::copy(testdata("metadata.json"), data.salts_metadata()).unwrap();
        let config = OperatorConfig::from_json(
            serde_json::json!({
                "identity_v3": identity_v3,
                "identity_environment": environment,
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let snapshot = Snapshot::load(&data, Arc::new(config)).unwrap();
        Self {
            optouts: SqliteOptOutStore::open(&data.optout_db()).unwrap(),
            _dir: dir,
            snapshot,
            secret: ClientSecret::from_base64(&demo.client_secret).unwrap(),
            authorization: format!("Bearer {}", demo.api_key),
        }
    }

    /// One request at `now_ms`, its envelope stamped then too; the decrypted body.
    fn call(&self, endpoint: Endpoint, json: &serde_json::Value, now_ms: i64) -> serde_json::Value {
        let mut rng = BatchedOsRandom::new();
        let nonce = [7; 8];
        let sealed = seal_request(
            &self.secret,
            now_ms,
            nonce,
            json.to_string().as_bytes(),
            &mut rng,
        );
        let body = STANDARD.encode(sealed);
        let response = handle(
            &self.snapshot,
            &self.optouts,
            &ApiRequest {
                endpoint,
                authorization: Some(&self.authorization),
                origin: None,
                binary: false,
                body: body.as_bytes(),
            },
            now_ms,
            &mut rng,
        );
        assert_eq!(
            response.http_status,
            200,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        let opened = open_response(&self.secret, &response.body, Some(nonce)).unwrap();
        let out: serde_json::Value = serde_json::from_slice(&opened.json).unwrap();
        assert_eq!(out["status"], "success", "{out}");
        out["body"].clone()
    }
}

#[test]
fn every_euid_row_maps_as_the_live_operator_does() {
    let text = std::fs::read_to_string(testdata("vectors.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["scope"] == "euid")
        .collect();
    assert_eq!(rows.len(), 40);
    let mut checked = 0;
    for identity_v3 in [false, true] {
        for env in ["test", "prod"] {
            let pipeline = Pipeline::new(identity_v3, env);
            for row in rows
                .iter()
                .filter(|r| r["identity_v3"] == identity_v3 && r["env"] == env)
            {
                let now_ms = row["as_of_ms"].as_i64().unwrap();
                let kind = row["kind"].as_str().unwrap();
                let request = serde_json::json!({ kind: [row["value"]] });
                let v2 = pipeline.call(Endpoint::IdentityMap, &request, now_ms);
                let mapped = &v2["mapped"][0];
                assert_eq!(mapped["identifier"], row["value"], "{row}");
                assert_eq!(
                    mapped["advertising_id"], row["raw_uid_b64"],
                    "v2 map: {row}"
                );
                assert_eq!(mapped["bucket_id"], row["bucket_id"], "v2 map: {row}");

                let v3 = pipeline.call(Endpoint::IdentityMapV3, &request, now_ms);
                let answer = &v3[kind][0];
                assert_eq!(answer["u"], row["raw_uid_b64"], "v3 u: {row}");
                assert_eq!(answer["p"], row["previous_raw_uid_b64"], "v3 p: {row}");
                let r_ms = row["refresh_from_ms"].as_i64().unwrap();
                assert_eq!(answer["r"], r_ms / 1000, "v3 r: {row}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 40);
}
