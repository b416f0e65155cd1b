//! Builds a data set at scale in an empty database and measures a replica's start-up and
//! memory: `cargo run --release -p euid-store-postgres --example scale -- URL OPTOUTS BUCKETS`
//! (URL of an empty database you created; e.g. 10000000 and 1048576 for the #19 figures).
//! `scale URL open` then opens a replica on it in a fresh process, so the resident memory
//! it reports is the mirror's alone (the seeding's freed memory would otherwise be reused).
//!
//! Prints, for the record: the time to seed, to bulk-insert the opt-outs (server-side
//! `generate_series`), to open a replica (schema check + mirror load), to load the snapshot
//! (the salts among it), and the process's resident memory before and after the mirror, per
//! opt-out record.

use std::time::Instant;

use euid_store::optout::OptOutStore as _;
use euid_store::{InitOptions, SnapshotSource as _, StoreWriter as _};
use euid_store_postgres::{PgSettings, PostgresStore};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, url, open] = args.as_slice() {
        if open == "open" {
            return open_replica(url);
        }
    }
    let [_, url, optouts, buckets] = args.as_slice() else {
        return Err("usage: scale URL OPTOUTS BUCKETS | scale URL open".into());
    };
    let optouts: i64 = optouts.parse()?;
    let buckets: usize = buckets.parse()?;

    let t = Instant::now();
    let cli = PostgresStore::connect(url, PgSettings::default())?;
    cli.initialize(&InitOptions {
        salt_bucket_count: buckets,
        ..InitOptions::default()
    })?;
    println!(
        "seed ({buckets} salt buckets): {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut admin = postgres::Client::connect(url, postgres::NoTls)?;
    // 32-byte hashes and raw UIDs, as the operator records them.
    admin.execute(
        "INSERT INTO optouts (first_level_hash, advertising_id, opted_out_ms, seq)
         SELECT sha256(int8send(i)), sha256(int8send(-i)), 1700000000000 + i, nextval('optout_seq')
           FROM generate_series(1, $1::bigint) AS i",
        &[&optouts],
    )?;
    admin.batch_execute("ANALYZE optouts")?;
    println!(
        "insert {optouts} opt-outs: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    drop(cli);
    open_replica(url)
}

fn open_replica(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let before = rss_bytes();
    let t = Instant::now();
    let replica = PostgresStore::open_replica(url, PgSettings::default())?;
    let open_s = t.elapsed().as_secs_f64();
    let after = rss_bytes();
    println!(
        "open_replica (mirror of {} records): {open_s:.2} s; RSS {:.1} MiB -> {:.1} MiB: {:.1} bytes/record",
        replica.len(),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        (after.saturating_sub(before)) as f64 / replica.len().max(1) as f64
    );
    let t = Instant::now();
    let snap = replica.load_snapshot()?;
    println!(
        "load_snapshot ({} salt buckets, {} keys): {:.2} s",
        snap.salts.len(),
        snap.keys.keys().count(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
