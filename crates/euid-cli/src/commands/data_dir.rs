//! `euid init` and `euid keys rotate`: euid-store's data-directory functions.

use std::io::Write;
use std::path::Path;

use euid_store::{init_data_dir, rotate_keys, DataDir, InitOptions, RotateOptions};

use crate::cli::InitArgs;
use crate::error::{CliError, CliResult};
use crate::io_util::print_json;

/// What `euid init` prints, in this order: never the credentials themselves.
#[derive(serde::Serialize)]
struct Initialized<'a> {
    data_dir: String,
    /// Files this run created (empty when the directory was complete).
    created: &'a [String],
    /// Absent when the directory has no demo client.
    #[serde(skip_serializing_if = "Option::is_none")]
    demo_client_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    site_id: Option<i32>,
}

/// One key added by `euid keys rotate` (times in epoch seconds).
#[derive(serde::Serialize)]
struct Rotated {
    keyset_id: i32,
    key_id: i32,
    activates: i64,
    expires: i64,
}

/// `euid init DATA_DIR`: what the operator does on first start; in an existing directory it
/// creates what is missing and never overwrites.
pub(crate) fn init(
    args: &InitArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> CliResult<u8> {
    let options = InitOptions {
        demo_client: !args.no_demo_client,
        allow_new_salts: args.allow_new_salts,
        ..InitOptions::default()
    };
    let report = init_data_dir(&args.data_dir, &options).map_err(|e| {
        CliError::failed(format!(
            "cannot initialize {}: {e}",
            args.data_dir.display()
        ))
    })?;
    // Modes of what existed before are the user's: reported, not changed.
    for warning in DataDir::new(&args.data_dir).permission_warnings() {
        let _ = writeln!(stderr, "euid: warning: {warning}");
    }
    // The secrets stay in demo-client.json; only where to find them is printed.
    let demo = report.demo_client.as_ref();
    print_json(
        stdout,
        &Initialized {
            data_dir: args.data_dir.display().to_string(),
            created: &report.created,
            demo_client_file: demo.map(|_| {
                DataDir::new(&args.data_dir)
                    .demo_client()
                    .display()
                    .to_string()
            }),
            site_id: demo.map(|d| d.site_id),
        },
    )?;
    Ok(0)
}

/// `euid keys rotate DATA_DIR`: new keys that activate later; old ones stay until they expire.
pub(crate) fn rotate(
    data_dir: &Path,
    activates_in_seconds: i64,
    lifetime_seconds: i64,
    stdout: &mut dyn Write,
) -> CliResult<u8> {
    if activates_in_seconds < 0 || lifetime_seconds <= 0 {
        return Err(CliError::invalid(
            "--activates-in must not be negative and --lifetime must be positive",
        ));
    }
    let options = RotateOptions {
        activates_in_seconds,
        lifetime_seconds,
    };
    let rotated = rotate_keys(data_dir, &options).map_err(|e| {
        CliError::failed(format!("cannot rotate keys in {}: {e}", data_dir.display()))
    })?;
    let keys: Vec<_> = rotated
        .iter()
        .map(|k| Rotated {
            keyset_id: k.keyset_id,
            key_id: k.key_id,
            activates: k.activates,
            expires: k.expires,
        })
        .collect();
    print_json(stdout, &serde_json::json!({ "rotated": keys }))?;
    Ok(0)
}
