//! End-to-end benchmarks of the euid-rs operator: the in-process pipeline benchmark lives in
//! `benches/pipeline.rs` (its fixture in [`pipeline`], shared with the min-of-batches timer
//! `examples/pipeline_min.rs`), the HTTP load driver in [`load`] (binary `euid-load`).
//! The CSTG decode's two ECDH backends are compared on one fixture ([`cstg`]) by
//! `benches/cstg_backends.rs` and `examples/cstg_backends_min.rs`.
//! Per-crate micro-benchmarks live in each crate's own `benches/` folder.
#![forbid(unsafe_code)]

pub mod cstg;
pub mod load;
pub mod pipeline;
