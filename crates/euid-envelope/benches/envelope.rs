//! Open and seal of a 200-byte JSON request with a prepared secret.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use euid_crypto::FastRandom;
use euid_envelope::{
    open_request, seal_request, seal_response_into, BodyEncoding, ClientSecret, SkewPolicy,
};
use std::hint::black_box;

const NOW_MS: i64 = 1_700_000_000_000;

fn json_200() -> Vec<u8> {
    let mut json = br#"{"email_hash":"tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=","tcf_consent_string":"CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA","pad":""#.to_vec();
    json.resize(198, b'x');
    json.extend_from_slice(b"\"}");
    json
}

fn envelope(c: &mut Criterion) {
    let secret = ClientSecret::from_bytes([7; 32]);
    let mut rng = FastRandom::new();
    let json = json_200();
    let raw = seal_request(&secret, NOW_MS, [1; 8], &json, &mut rng);
    let skew = SkewPolicy::default();
    c.bench_function("open_request_200B", |b| {
        b.iter(|| {
            open_request(
                black_box(&raw),
                BodyEncoding::Binary,
                &secret,
                NOW_MS,
                &skew,
            )
            .unwrap()
        })
    });
    let mut out = Vec::with_capacity(512);
    c.bench_function("seal_response_200B", |b| {
        b.iter(|| {
            out.clear();
            seal_response_into(
                &secret,
                NOW_MS,
                [1; 8],
                black_box(&json),
                &mut rng,
                &mut out,
            );
            black_box(&out);
        })
    });
}

criterion_group!(benches, envelope);
criterion_main!(benches);
