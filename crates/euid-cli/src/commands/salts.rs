//! `euid salts rotate`: euid-token's sans-IO salt rotation with OS randomness, read and
//! written by the store in one step (`StoreWriter::rotate_salts`).

use std::io::Write;

use crate::commands::store::{self, Target};

use crate::error::{CliError, CliResult};
use crate::io_util::print_json;

/// What `euid salts rotate` prints: the rotated buckets (as `/v2/identity/buckets` names
/// them) out of how many; never a salt.
#[derive(serde::Serialize)]
struct Rotation {
    buckets: usize,
    rotated: Vec<String>,
    last_updated_ms: i64,
}

/// `euid salts rotate DATA_DIR | --store URL [--fraction F]`.
pub(crate) fn rotate(target: &Target, fraction: f64, stdout: &mut dyn Write) -> CliResult<u8> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(CliError::invalid("--fraction must be between 0 and 1"));
    }
    let store = store::open(target)?;
    let location = store.location();
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        CliError::failed(format!("cannot {what} {location}: {e}"))
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    // One read-modify-write in the store: two rotations at once run one after the other.
    // The salts' validity window is unchanged by a rotation (the live salt service keeps it).
    let rotation = store
        .rotate_salts(fraction, now_ms)
        .map_err(|e| failed("rotate the salts of", &e))?;
    let rotated = rotation
        .rotated
        .iter()
        .filter_map(|&i| rotation.salts.bucket(i))
        .map(|b| b.bucket_id())
        .collect();
    print_json(
        stdout,
        &Rotation {
            buckets: rotation.salts.len(),
            rotated,
            last_updated_ms: now_ms,
        },
    )?;
    Ok(0)
}
