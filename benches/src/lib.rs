//! End-to-end benchmarks of the euid-rs operator pipeline live in `benches/`;
//! per-crate micro-benchmarks live in each crate's own `benches/` folder.
#![forbid(unsafe_code)]
