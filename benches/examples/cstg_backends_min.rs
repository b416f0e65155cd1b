//! The CSTG decode with each ECDH backend, timed alternately (one batch of each in turn) as
//! the minimum over batches, so a busy machine slows both alike; ends with the ratio.
//!
//! ```sh
//! cargo run --release -p euid-benches --example cstg_backends_min
//! ```
//!
//! With `--only aws-lc|pure-rust CALLS` it just decodes CALLS times with one backend, for
//! counting instructions (`valgrind --tool=callgrind`; run it with CALLS and with 0 and take the
//! difference, so set-up is left out).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use euid_benches::cstg::CstgFixture;
use euid_cstg::EcdhBackend;

const BATCHES: u32 = 200;
const CALLS_PER_BATCH: u32 = 50;

fn backend(name: &str) -> Option<EcdhBackend> {
    EcdhBackend::COMPILED
        .iter()
        .copied()
        .find(|b| b.name() == name)
}

fn main() {
    let fixture = CstgFixture::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, name, calls] = args.as_slice() {
        let (Some(chosen), Ok(calls), "--only") = (backend(name), calls.parse::<u32>(), &**flag)
        else {
            eprintln!("usage: cstg_backends_min [--only aws-lc|pure-rust CALLS]");
            std::process::exit(2);
        };
        for _ in 0..calls {
            assert_eq!(black_box(fixture.decode(black_box(chosen))), Ok(7));
        }
        return;
    }
    let backends = EcdhBackend::COMPILED;
    let mut best = vec![f64::MAX; backends.len()];
    for _ in 0..BATCHES {
        for (i, &b) in backends.iter().enumerate() {
            let started = Instant::now();
            for _ in 0..CALLS_PER_BATCH {
                assert_eq!(black_box(fixture.decode(black_box(b))), Ok(7));
            }
            let per_call = started.elapsed().as_nanos() as f64 / f64::from(CALLS_PER_BATCH);
            best[i] = best[i].min(per_call);
        }
    }
    for (b, ns) in backends.iter().zip(&best) {
        println!(
            "cstg decode {:>9}: {:7.1} µs (min of {BATCHES} batches of {CALLS_PER_BATCH})",
            b.name(),
            ns / 1000.0
        );
    }
    if let [fast, pure] = best.as_slice() {
        println!("ratio pure-rust/aws-lc = {:.2}", pure / fast);
    }
}
