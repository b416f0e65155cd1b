//! The pipeline bench's requests timed as the minimum over batches rather than a mean.
//!
//! On these shared VMs a back-to-back rerun of the same criterion bench can differ by 40 %;
//! the fastest of many short batches is stable to a few per cent, so two builds can be
//! compared by running this example from each, alternately, in the same quiet window:
//!
//! ```sh
//! cargo run --release -p euid-benches --example pipeline_min
//! ```
#![allow(missing_docs)]

use std::time::Instant;

use euid_benches::pipeline::{generate_inputs, PipelineFixture};
use euid_operator::Endpoint;

const BATCHES: u32 = 300;
const CALLS_PER_BATCH: u32 = 500;

fn min_batch_ns(mut call: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..BATCHES {
        let started = Instant::now();
        for _ in 0..CALLS_PER_BATCH {
            call();
        }
        best = best.min(started.elapsed().as_nanos() as f64 / f64::from(CALLS_PER_BATCH));
    }
    best
}

fn main() {
    let mut fixture = PipelineFixture::new();
    for (name, json) in generate_inputs() {
        let body = fixture.envelope(&json, [1; 8]);
        let ns = min_batch_ns(|| {
            assert_eq!(
                fixture
                    .call(Endpoint::TokenGenerate, body.as_bytes())
                    .http_status,
                200
            );
        });
        println!("{name:20} {ns:6.0} ns (min of {BATCHES} batches of {CALLS_PER_BATCH})");
    }
    let token = fixture.refresh_token();
    let ns = min_batch_ns(|| {
        assert_eq!(
            fixture
                .call(Endpoint::TokenRefresh, token.as_bytes())
                .http_status,
            200
        );
    });
    println!(
        "{:20} {ns:6.0} ns (min of {BATCHES} batches of {CALLS_PER_BATCH})",
        "refresh"
    );
}
