//! `euid-optout-db`: a data directory for the growth benchmarks (`scripts/bench-growth.sh`):
//! `--salt-buckets` salt buckets (production has 1,048,576) and `--count` opt-out records in
//! its `optout.db`, written fast: one transaction, one prepared statement, keys in ascending
//! order so every B-tree insert is an append.
//!
//! ```text
//! euid-optout-db --data-dir DIR --count N [--salt-buckets 1048576]
//! ```
//!
//! `DIR` must be empty or absent. The schema is the operator's own (made by opening the
//! directory's store through [`euid_operator::SqliteOptOutStore`]); the records carry a
//! first-level hash (big-endian record number, then filler), a 33-byte advertising id and a
//! sequence number, as the operator stores them. None of them is an identity a benchmark
//! sends, so lookups miss, as most do in production.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use euid_operator::{init_data_dir, DataDir, InitOptions, SqliteOptOutStore};

struct Args {
    data_dir: PathBuf,
    count: u64,
    salt_buckets: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut data_dir = None;
    let mut count = None;
    let mut salt_buckets = 1 << 20;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data-dir" => data_dir = Some(PathBuf::from(value)),
            "--count" => count = Some(value.parse().map_err(|_| "--count: not a number")?),
            "--salt-buckets" => {
                salt_buckets = value.parse().map_err(|_| "--salt-buckets: not a number")?;
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(Args {
        data_dir: data_dir.ok_or("--data-dir is required")?,
        count: count.ok_or("--count is required")?,
        salt_buckets,
    })
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let options = InitOptions {
        salt_bucket_count: args.salt_buckets,
        ..InitOptions::default()
    };
    init_data_dir(&args.data_dir, &options).map_err(|e| e.to_string())?;
    let db = DataDir::new(&args.data_dir).optout_db();
    // The operator's schema, made by the operator's store.
    drop(SqliteOptOutStore::open(&db).map_err(|e| e.to_string())?);
    let salts_done = started.elapsed();

    let mut conn = rusqlite::Connection::open(&db).map_err(|e| e.to_string())?;
    // A throw-away file written once: no fsync per page.
    conn.pragma_update(None, "synchronous", "OFF")
        .map_err(|e| e.to_string())?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO optout (first_level_hash, advertising_id, opted_out_ms, seq)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(|e| e.to_string())?;
        let mut flh = [0xA5u8; 32];
        let mut advertising_id = [0x5Au8; 33];
        let base_ms: i64 = 1_700_000_000_000;
        for i in 0..args.count {
            flh[..8].copy_from_slice(&i.to_be_bytes());
            advertising_id[1..9].copy_from_slice(&i.to_be_bytes());
            let seq = i64::try_from(i + 1).map_err(|_| "--count too large")?;
            insert
                .execute(rusqlite::params![
                    &flh[..],
                    &advertising_id[..],
                    base_ms + seq,
                    seq
                ])
                .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .map_err(|e| e.to_string())?;
    eprintln!(
        "euid-optout-db: {} salt buckets in {:.1} s, {} opt-outs in {:.1} s",
        args.salt_buckets,
        salts_done.as_secs_f64(),
        args.count,
        (started.elapsed() - salts_done).as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("euid-optout-db: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("euid-optout-db: {e}");
            ExitCode::from(1)
        }
    }
}
