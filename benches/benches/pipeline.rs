//! The whole `/v2/token/generate` and `/v2/token/refresh` pipeline in process (auth, envelope,
//! JSON, normalization, TCF, derivation, minting, sealing), without HTTP: what one request
//! costs the operator on one core.
#![allow(missing_docs)] // criterion_group! generates undocumented items

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
}

criterion_group!(benches, bench);
criterion_main!(benches);
