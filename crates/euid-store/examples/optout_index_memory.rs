//! Resident memory per record of [`OptOutIndex`], the in-memory mirror of every opt-out store
//! (SQLite and PostgreSQL): `cargo run --release -p euid-store --example optout_index_memory
//! -- 10000000`. Records have 32-byte hashes and 32-byte raw UIDs, as the operator records
//! them; the index is sized for them up front, as the PostgreSQL mirror does, and grown from
//! empty, as the SQLite store does.

use euid_store::{OptOutIndex, OptOutRecord};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

fn record(i: u64) -> OptOutRecord {
    let mut first_level_hash = [0x5Au8; 32];
    first_level_hash[..8].copy_from_slice(&i.to_le_bytes());
    let mut advertising_id = vec![0xA5u8; 32];
    advertising_id[..8].copy_from_slice(&i.to_le_bytes());
    OptOutRecord {
        first_level_hash,
        advertising_id,
        opted_out_ms: 1_700_000_000_000,
    }
}

fn measure(n: u64, presized: bool) {
    let before = rss_bytes();
    let mut index = if presized {
        OptOutIndex::with_capacity(usize::try_from(n).unwrap_or(0))
    } else {
        OptOutIndex::default()
    };
    for i in 0..n {
        index.insert(&record(i));
    }
    let after = rss_bytes();
    println!(
        "{n} records ({}): {:.1} MiB, {:.1} bytes/record, {:.2} M records/GiB",
        if presized { "presized" } else { "grown" },
        (after - before) as f64 / 1048576.0,
        (after - before) as f64 / n as f64,
        n as f64 / ((after - before) as f64 / 1073741824.0) / 1e6
    );
    assert_eq!(index.len() as u64, n);
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    measure(n, true);
    measure(n, false);
}
