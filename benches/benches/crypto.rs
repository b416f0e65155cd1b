//! The crypto primitives under the pipeline: AES-GCM sealing and randomness.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use euid_crypto::{AesGcmKey, BatchedOsRandom, FastRandom, RandomSource};
use std::hint::black_box;

fn seal_200_bytes(c: &mut Criterion) {
    let key = AesGcmKey::from_bytes([42; 32]);
    let mut rng = BatchedOsRandom::new();
    let body = [b'x'; 200];
    let mut group = c.benchmark_group("crypto");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("aes_gcm_seal_200B", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            let mut iv = [0u8; 12];
            rng.fill(&mut iv);
            out.clear();
            key.seal_into(&iv, &[], black_box(&body), &mut out);
            black_box(&out);
        })
    });
    group.finish();
}

/// The randomness of one generate: four IVs and a 32-byte refresh response key.
fn random_80_bytes(c: &mut Criterion) {
    let mut group = c.benchmark_group("random_80B");
    let mut os = BatchedOsRandom::new();
    group.bench_function("batched_os", |b| {
        b.iter(|| {
            let mut buf = [0u8; 80];
            os.fill(&mut buf);
            black_box(buf)
        })
    });
    let mut fast = FastRandom::new();
    group.bench_function("fast_aes_ctr", |b| {
        b.iter(|| {
            let mut buf = [0u8; 80];
            fast.fill(&mut buf);
            black_box(buf)
        })
    });
    group.finish();
}

criterion_group!(benches, seal_200_bytes, random_80_bytes);
criterion_main!(benches);
