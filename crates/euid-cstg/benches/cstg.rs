//! CSTG request decode (ECDH + GCM open) and response seal.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use euid_crypto::BatchedOsRandom;
use euid_cstg::{decode_request, ClientIdentity, ClientRequest, KeypairStore, ServerKeypair};

fn bench(c: &mut Criterion) {
    let mut rng = BatchedOsRandom::new();
    let keypair = ServerKeypair::generate(
        "bench00001",
        7,
        vec!["localhost".into()],
        vec![],
        0,
        &mut rng,
    );
    let public = keypair.public_key_text().to_owned();
    let mut store = KeypairStore::new();
    store.insert(keypair).unwrap();
    let hash = "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=";
    let request = ClientRequest::encode(
        &public,
        "bench00001",
        ClientIdentity::EmailHash(hash),
        1_700_000_000_000,
        None,
        &mut rng,
    )
    .unwrap();
    let body = request.body.as_bytes();
    c.bench_function("cstg_decode_request", |b| {
        b.iter(|| decode_request(&store, body, Some("http://localhost:8080")).unwrap())
    });
    let decoded = decode_request(&store, body, Some("http://localhost:8080")).unwrap();
    let response = vec![b'x'; 900];
    c.bench_function("cstg_seal_response_900B", |b| {
        b.iter(|| decoded.seal_response(&response, &mut rng))
    });
    c.bench_function("cstg_client_encode", |b| {
        b.iter(|| {
            ClientRequest::encode(
                &public,
                "bench00001",
                ClientIdentity::EmailHash(hash),
                1_700_000_000_000,
                None,
                &mut rng,
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
