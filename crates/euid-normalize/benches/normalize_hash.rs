//! normalize + SHA-256 + base64 of a typical 25-character email (goal ≤ 200 ns), plus
//! the neighbouring paths, and an allocating variant to show what the stack buffer saves.
#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use euid_normalize::{
    hash_email, hash_phone, normalize_email, normalize_email_into, parse_email_hash,
};

/// 25 characters, mixed case, a dot: the common shape.
const EMAIL: &str = "Jane.Doe.1985@Example.com";
const GMAIL: &str = " Jane.Doe+news@GMail.com ";

fn bench(c: &mut Criterion) {
    assert_eq!(EMAIL.len(), 25);
    let mut group = c.benchmark_group("normalize_hash");

    group.bench_function("email_25/hash_email+to_base64", |b| {
        b.iter(|| hash_email(black_box(EMAIL)).map(|hash| hash.to_base64()))
    });

    let mut out = String::with_capacity(64);
    group.bench_function("email_25/hash_email+write_base64_reused", |b| {
        b.iter(|| {
            out.clear();
            if let Ok(hash) = hash_email(black_box(EMAIL)) {
                hash.write_base64(&mut out);
            }
            out.len()
        })
    });

    // What the stack buffer saves: normalize into a fresh String, then hash it.
    group.bench_function("email_25/alloc_normalize_then_sha256+to_base64", |b| {
        b.iter(|| {
            normalize_email(black_box(EMAIL)).map(|normalized| {
                use sha2::Digest as _;
                base64_of(&sha2::Sha256::digest(normalized.as_bytes()))
            })
        })
    });

    group.bench_function("gmail_25/hash_email+to_base64", |b| {
        b.iter(|| hash_email(black_box(GMAIL)).map(|hash| hash.to_base64()))
    });

    let mut normalized = String::with_capacity(64);
    group.bench_function("email_25/normalize_email_into_reused", |b| {
        b.iter(|| {
            normalize_email_into(black_box(EMAIL), &mut normalized).map(|()| normalized.len())
        })
    });

    group.bench_function("phone/hash_phone+to_base64", |b| {
        b.iter(|| hash_phone(black_box("+12345678901")).map(|hash| hash.to_base64()))
    });

    group.bench_function("email_hash/base64", |b| {
        b.iter(|| parse_email_hash(black_box("ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/c=")))
    });

    group.bench_function("email_hash/hex", |b| {
        b.iter(|| {
            parse_email_hash(black_box(
                "9ed236e386514d7c00c29922ebf3397320585bb87f5aae7bea59cdde5f7e5bf7",
            ))
        })
    });

    group.finish();
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

criterion_group!(benches, bench);
criterion_main!(benches);
