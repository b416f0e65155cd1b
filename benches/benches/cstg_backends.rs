//! A CSTG request decode (SPKI parse, P-256 ECDH with the static server key, GCM open,
//! payload JSON) with each of euid-cstg's ECDH backends, side by side in one run:
//! `cstg_decode_request/aws-lc` (the default) and `cstg_decode_request/pure-rust` (p256).
//!
//! ```sh
//! cargo bench -p euid-benches --bench cstg_backends
//! ```
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use euid_benches::cstg::CstgFixture;
use euid_cstg::EcdhBackend;
use std::hint::black_box;

fn decode(c: &mut Criterion) {
    let fixture = CstgFixture::new();
    let mut group = c.benchmark_group("cstg_decode_request");
    for &backend in EcdhBackend::COMPILED {
        assert_eq!(fixture.decode(backend), Ok(7), "{} decodes", backend.name());
        group.bench_function(BenchmarkId::from_parameter(backend.name()), |b| {
            b.iter(|| black_box(fixture.decode(black_box(backend))))
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
