//! `euid init` and `euid keys rotate`: euid-store's data-directory functions, or the same
//! through a PostgreSQL store (`--store`).

use std::io::Write;

use euid_store::{init_data_dir, DataDir, InitOptions, RotateOptions};

use crate::cli::InitArgs;
use crate::commands::store::{self, Target};
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
/// creates what is missing and never overwrites. `euid init --store URL`: the database's
/// migrations and seed.
pub(crate) fn init(
    args: &InitArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> CliResult<u8> {
    let data_dir = match store::target(args.data_dir.clone(), args.store.clone())? {
        Target::Db(url) => return store::init(&url, args, stdout),
        Target::Dir(dir) => dir,
    };
    if args.demo_client.is_some() {
        return Err(CliError::invalid(
            "--demo-client FILE goes with --store; a data directory gets its demo-client.json",
        ));
    }
    let args = InitArgs {
        data_dir: Some(data_dir.clone()),
        store: None,
        demo_client: None,
        no_demo_client: args.no_demo_client,
        allow_new_salts: args.allow_new_salts,
    };
    let data_dir = &data_dir;
    let options = InitOptions {
        demo_client: !args.no_demo_client,
        allow_new_salts: args.allow_new_salts,
        ..InitOptions::default()
    };
    let report = init_data_dir(data_dir, &options)
        .map_err(|e| CliError::failed(format!("cannot initialize {}: {e}", data_dir.display())))?;
    // Modes of what existed before are the user's: reported, not changed.
    for warning in DataDir::new(data_dir).permission_warnings() {
        let _ = writeln!(stderr, "euid: warning: {warning}");
    }
    // The secrets stay in demo-client.json; only where to find them is printed.
    let demo = report.demo_client.as_ref();
    print_json(
        stdout,
        &Initialized {
            data_dir: data_dir.display().to_string(),
            created: &report.created,
            demo_client_file: demo
                .map(|_| DataDir::new(data_dir).demo_client().display().to_string()),
            site_id: demo.map(|d| d.site_id),
        },
    )?;
    Ok(0)
}

/// `euid keys rotate DATA_DIR | --store URL`: new keys that activate later; old ones stay
/// until they expire.
pub(crate) fn rotate(
    target: &Target,
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
    let store = store::open(target)?;
    let rotated = store.rotate_keys(&options, store::now_s()).map_err(|e| {
        CliError::failed(format!("cannot rotate keys in {}: {e}", store.location()))
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
