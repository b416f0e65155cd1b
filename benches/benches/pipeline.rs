//! The whole `/v2/token/generate` and `/v2/token/refresh` pipeline in process (auth, envelope,
//! JSON, normalization, TCF, derivation, minting, sealing), without HTTP: what one request
//! costs the operator on one core.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use euid_crypto::FastRandom;
use euid_envelope::{open_response, seal_request, ClientSecret};
use euid_operator::data_dir::DataDir;
use euid_operator::optout::SqliteOptOutStore;
use euid_operator::server::now_ms;
use euid_operator::{
    handle, init_data_dir, ApiRequest, Endpoint, InitOptions, Operator, OperatorConfig,
};

const TCF: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = init_data_dir(dir.path(), &InitOptions::default())
        .expect("init")
        .demo_client;
    let data = DataDir::new(dir.path());
    let optouts = Arc::new(SqliteOptOutStore::open(&data.optout_db()).expect("optout db"));
    let operator =
        Operator::load(data, Arc::new(OperatorConfig::default()), optouts).expect("load");
    let snapshot = operator.snapshot();
    let secret = ClientSecret::from_base64(&demo.client_secret).expect("secret");
    let auth = format!("Bearer {}", demo.api_key);
    let mut rng = FastRandom::new();

    let key = demo.api_key.clone();
    c.bench_function("authenticate", |b| {
        b.iter(|| snapshot.clients.authenticate(&key).map(|c| c.site_id))
    });
    let mut group = c.benchmark_group("pipeline");
    for (name, json) in [
        (
            "generate_email",
            format!(r#"{{"email":"Jane.Doe@example.com","tcf_consent_string":"{TCF}"}}"#),
        ),
        (
            "generate_email_hash",
            format!(
                r#"{{"email_hash":"dvECjPKZHya0/SIhSGwP0m8SgTv1vzLxPULUOsm880M=","tcf_consent_string":"{TCF}"}}"#
            ),
        ),
        (
            "generate_phone",
            format!(r#"{{"phone":"+4915123456789","tcf_consent_string":"{TCF}"}}"#),
        ),
    ] {
        // One envelope reused: the operator keeps no replay cache, and the timestamp stays
        // within the skew window for the length of a run.
        let body = STANDARD.encode(seal_request(
            &secret,
            now_ms(),
            [1; 8],
            json.as_bytes(),
            &mut rng,
        ));
        group.bench_function(name, |b| {
            b.iter(|| {
                let request = ApiRequest {
                    endpoint: Endpoint::TokenGenerate,
                    authorization: Some(&auth),
                    binary: false,
                    body: body.as_bytes(),
                };
                let r = handle(&snapshot, operator.optouts(), &request, now_ms(), &mut rng);
                assert_eq!(r.http_status, 200);
                r
            })
        });
    }
    let body = STANDARD.encode(seal_request(
        &secret,
        now_ms(),
        [2; 8],
        format!(r#"{{"email":"Jane.Doe@example.com","tcf_consent_string":"{TCF}"}}"#).as_bytes(),
        &mut rng,
    ));
    let request = ApiRequest {
        endpoint: Endpoint::TokenGenerate,
        authorization: Some(&auth),
        binary: false,
        body: body.as_bytes(),
    };
    let generated = handle(&snapshot, operator.optouts(), &request, now_ms(), &mut rng);
    let opened = open_response(&secret, &generated.body, Some([2; 8])).expect("open");
    let json: serde_json::Value = serde_json::from_slice(&opened.json).expect("json");
    let refresh_token = json["body"]["refresh_token"]
        .as_str()
        .expect("token")
        .to_owned();
    group.bench_function("refresh", |b| {
        b.iter(|| {
            let request = ApiRequest {
                endpoint: Endpoint::TokenRefresh,
                authorization: None,
                binary: false,
                body: refresh_token.as_bytes(),
            };
            let r = handle(&snapshot, operator.optouts(), &request, now_ms(), &mut rng);
            assert_eq!(r.http_status, 200);
            r
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
