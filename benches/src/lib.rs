//! End-to-end benchmarks of the euid-rs operator: the in-process pipeline benchmark lives in
//! `benches/pipeline.rs`, the HTTP load driver in [`load`] (binary `euid-load`). Per-crate
//! micro-benchmarks live in each crate's own `benches/` folder.
#![forbid(unsafe_code)]

pub mod load;
