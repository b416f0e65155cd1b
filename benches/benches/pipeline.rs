//! The whole `/v2/token/generate` and `/v2/token/refresh` pipeline (and the largest
//! `/v3/identity/map`) in process (auth, envelope,
//! JSON, normalization, TCF, derivation, minting, sealing), without HTTP: what one request
//! costs the operator on one core.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use euid_benches::pipeline::{generate_inputs, PipelineFixture};
use euid_operator::Endpoint;

fn bench(c: &mut Criterion) {
    let mut fixture = PipelineFixture::new();
    let key = fixture.api_key().to_owned();
    let snapshot = fixture.snapshot();
    c.bench_function("authenticate", |b| {
        b.iter(|| snapshot.clients.authenticate(&key).map(|c| c.site_id))
    });
    let mut group = c.benchmark_group("pipeline");
    for (name, json) in generate_inputs() {
        let body = fixture.envelope(&json, [1; 8]);
        group.bench_function(name, |b| {
            b.iter(|| {
                let r = fixture.call(Endpoint::TokenGenerate, body.as_bytes());
                assert_eq!(r.http_status, 200);
                r
            })
        });
    }
    let refresh_token = fixture.refresh_token();
    group.bench_function("refresh", |b| {
        b.iter(|| {
            let r = fixture.call(Endpoint::TokenRefresh, refresh_token.as_bytes());
            assert_eq!(r.http_status, 200);
            r
        })
    });
    group.finish();

    // The largest `/v3/identity/map` request: 5,000 identities, the four kinds mixed.
    let mut group = c.benchmark_group("identity_map_v3");
    group.sample_size(20);
    let json = identity_map_v3_5000();
    let body = fixture.envelope(&json, [3; 8]);
    group.bench_function("5000_mixed", |b| {
        b.iter(|| {
            let r = fixture.call(Endpoint::IdentityMapV3, body.as_bytes());
            assert_eq!(r.http_status, 200);
            r
        })
    });
    group.finish();
}

/// 1,250 each of emails, email hashes, phones and phone hashes.
fn identity_map_v3_5000() -> String {
    let n = 1250;
    let emails: Vec<String> = (0..n).map(|i| format!("user.{i}@example.com")).collect();
    let phones: Vec<String> = (0..n).map(|i| format!("+1202555{i:04}")).collect();
    // Any 32 bytes are a valid hash: distinct ones per identity.
    let hash = |kind: u8, i: usize| {
        let mut bytes = [kind; 32];
        bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
        STANDARD.encode(bytes)
    };
    let email_hashes: Vec<String> = (0..n).map(|i| hash(1, i)).collect();
    let phone_hashes: Vec<String> = (0..n).map(|i| hash(2, i)).collect();
    serde_json::json!({
        "email": emails,
        "email_hash": email_hashes,
        "phone": phones,
        "phone_hash": phone_hashes,
    })
    .to_string()
}

criterion_group!(benches, bench);
criterion_main!(benches);
