//! This crate's encoder and decoder against the `base64` crate at the sizes one generate
//! request and answer carry.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use euid_base64::{decode, encode_into, Alphabet};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    // Advertising token, refresh envelope, sealed generate response.
    for len in [164usize, 291, 900] {
        let input: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        group.throughput(Throughput::Bytes(len as u64));
        let mut out = Vec::with_capacity(2 * len);
        group.bench_with_input(BenchmarkId::new("euid_base64", len), &input, |b, input| {
            b.iter(|| {
                out.clear();
                encode_into(input, Alphabet::Standard, &mut out);
                out.len()
            })
        });
        group.bench_with_input(BenchmarkId::new("base64_crate", len), &input, |b, input| {
            b.iter(|| STANDARD.encode(input))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode");
    // A generate request body, a refresh envelope.
    for len in [150usize, 291] {
        let input: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        let text = STANDARD.encode(&input);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("euid_base64", len), &text, |b, text| {
            b.iter(|| decode(text.as_bytes(), Alphabet::Standard))
        });
        group.bench_with_input(BenchmarkId::new("base64_crate", len), &text, |b, text| {
            b.iter(|| STANDARD.decode(text))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
