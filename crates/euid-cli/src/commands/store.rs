//! The `--store` side of the data commands: which store a command works on (a data
//! directory or a PostgreSQL database), `euid init --store` and `euid import`.

use std::io::Write;
use std::path::{Path, PathBuf};

use euid_store::optout::OptOutRecord;
use euid_store::{
    write_demo_client, DataDirState, DataDirStore, InitOptions, SnapshotSource as _, Store,
    StoreWriter as _,
};
use euid_store_postgres::{redact_url, Import, PgSettings, PostgresStore};

use crate::cli::{ImportArgs, InitArgs, StoreUrl};
use crate::error::{CliError, CliResult};
use crate::io_util::print_json;

/// The store a data command works on.
pub(crate) enum Target {
    /// A data directory (the positional argument).
    Dir(PathBuf),
    /// A PostgreSQL database (`--store URL` or `EUID_STORE`).
    Db(String),
}

/// Exactly one of a data directory and `--store`.
pub(crate) fn target(data_dir: Option<PathBuf>, store: Option<StoreUrl>) -> CliResult<Target> {
    match (data_dir, store) {
        (Some(dir), None) => Ok(Target::Dir(dir)),
        (None, Some(url)) => Ok(Target::Db(url.0)),
        (Some(_), Some(_)) => Err(CliError::invalid(
            "give a data directory or --store (EUID_STORE), not both",
        )),
        (None, None) => Err(CliError::invalid(
            "give a data directory, or --store URL (or EUID_STORE) for a PostgreSQL database",
        )),
    }
}

/// Connects to a database; errors name it by its redacted URL.
fn connect(url: &str) -> CliResult<PostgresStore> {
    PostgresStore::connect(url, PgSettings::default())
        .map_err(|e| CliError::failed(format!("cannot connect to {}: {e}", redact_url(url))))
}

/// The store of `target`, for commands that only read and write through the traits.
pub(crate) fn open(target: &Target) -> CliResult<Box<dyn Store>> {
    Ok(match target {
        Target::Dir(dir) => Box::new(DataDirStore::at(dir)),
        Target::Db(url) => Box::new(connect(url)?),
    })
}

/// The current time, epoch seconds.
pub(crate) fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What `euid init --store` prints: never a credential or the password.
#[derive(serde::Serialize)]
struct DbInitialized<'a> {
    store: String,
    schema_version: i64,
    migrations_applied: Vec<String>,
    /// Tables seeded by this run.
    created: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    demo_client_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    site_id: Option<i32>,
}

/// `euid init --store URL (--demo-client FILE | --no-demo-client)`.
pub(crate) fn init(url: &str, args: &InitArgs, stdout: &mut dyn Write) -> CliResult<u8> {
    let demo_file = match (&args.demo_client, args.no_demo_client) {
        (Some(file), false) => Some(file.clone()),
        (None, true) => None,
        _ => {
            return Err(CliError::invalid(
                "--store needs --demo-client FILE or --no-demo-client",
            ))
        }
    };
    if args.allow_new_salts {
        return Err(CliError::invalid(
            "--allow-new-salts is for a data directory; a database is seeded only when empty",
        ));
    }
    // Checked before the database is touched: the credentials exist only in this file.
    if let Some(file) = &demo_file {
        if file.symlink_metadata().is_ok() {
            return Err(CliError::invalid(format!(
                "{} exists; it is not overwritten (choose another --demo-client FILE)",
                file.display()
            )));
        }
    }
    let store = connect(url)?;
    let location = store.location();
    let migrations = store
        .migrate()
        .map_err(|e| CliError::failed(format!("cannot migrate {location}: {e}")))?;
    let applied: Vec<String> = migrations
        .applied
        .iter()
        .map(|(v, name)| format!("{v}_{name}"))
        .collect();
    let has_data = store
        .has_data()
        .map_err(|e| CliError::failed(format!("cannot read {location}: {e}")))?;
    if has_data {
        return Err(CliError::failed(format!(
            "{location} already holds data: schema at version {} ({} migration(s) applied), \
             nothing seeded and no demo client written",
            migrations.version,
            applied.len()
        )));
    }
    let options = InitOptions {
        demo_client: demo_file.is_some(),
        ..InitOptions::default()
    };
    let report = store
        .initialize(&options)
        .map_err(|e| CliError::failed(format!("cannot initialize {location}: {e}")))?;
    if let (Some(file), Some(demo)) = (&demo_file, &report.demo_client) {
        write_demo_client(file, demo).map_err(|e| {
            CliError::failed(format!(
                "{location} was seeded but the demo client could not be written: {e}"
            ))
        })?;
    }
    print_json(
        stdout,
        &DbInitialized {
            store: location,
            schema_version: migrations.version,
            migrations_applied: applied,
            created: &report.created,
            demo_client_file: demo_file.map(|f| f.display().to_string()),
            site_id: report.demo_client.as_ref().map(|d| d.site_id),
        },
    )?;
    Ok(0)
}

/// What `euid import` prints.
#[derive(serde::Serialize)]
struct Imported {
    from: String,
    store: String,
    written: Vec<String>,
    optouts: u64,
}

/// `euid import --from DIR --store URL`: the snapshot, then every opt-out of `optout.db`.
pub(crate) fn import(args: &ImportArgs, stdout: &mut dyn Write) -> CliResult<u8> {
    let source = DataDirStore::at(&args.from);
    let from = args.from.display().to_string();
    let state = source
        .data_dir()
        .state()
        .map_err(|e| CliError::failed(format!("cannot read {from}: {e}")))?;
    if state != DataDirState::Complete {
        return Err(CliError::failed(format!(
            "{from} is not a complete data directory; nothing was imported"
        )));
    }
    let snapshot = source
        .load_snapshot()
        .map_err(|e| CliError::failed(format!("cannot load {from}: {e}")))?;
    let store = connect(&args.store.0)?;
    let location = store.location();
    // Checked before the schema is touched, and again in the import's transaction.
    if store
        .has_data()
        .map_err(|e| CliError::failed(format!("cannot read {location}: {e}")))?
    {
        return Err(CliError::failed(format!(
            "{location} already holds data; nothing was imported"
        )));
    }
    // One transaction: the snapshot and every opt-out commit together or not at all.
    let mut import = store
        .begin_import(&snapshot)
        .map_err(|e| CliError::failed(format!("cannot import into {location}: {e}")))?;
    let optout_db = source.data_dir().optout_db();
    if optout_db.exists() {
        copy_optouts(&optout_db, &mut import).map_err(|e| {
            CliError::failed(format!(
                "cannot import into {location}: {e}; nothing was imported"
            ))
        })?;
    }
    let (report, optouts) = import.commit().map_err(|e| {
        CliError::failed(format!(
            "cannot import into {location}: {e}; nothing was imported"
        ))
    })?;
    print_json(
        stdout,
        &Imported {
            from,
            store: location,
            written: report.written,
            optouts,
        },
    )?;
    Ok(0)
}

/// Copies the operator's `optout.db` (read-only) into the import's transaction, in pages.
fn copy_optouts(path: &Path, import: &mut Import) -> Result<(), String> {
    use rusqlite::{Connection, OpenFlags};
    const PAGE: usize = 10_000;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut stmt = conn
        .prepare(
            "SELECT first_level_hash, advertising_id, opted_out_ms FROM optout
              ORDER BY opted_out_ms, first_level_hash, advertising_id",
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = stmt
        .query([])
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut page = Vec::with_capacity(PAGE);
    loop {
        let row = rows
            .next()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(row) = row {
            let flh: Vec<u8> = row.get(0).map_err(|e| format!("{}: {e}", path.display()))?;
            let first_level_hash = <[u8; 32]>::try_from(flh.as_slice())
                .map_err(|_| format!("{}: a first-level hash is not 32 bytes", path.display()))?;
            page.push(OptOutRecord {
                first_level_hash,
                advertising_id: row.get(1).map_err(|e| format!("{}: {e}", path.display()))?,
                opted_out_ms: row.get(2).map_err(|e| format!("{}: {e}", path.display()))?,
            });
        }
        if page.len() == PAGE || (row.is_none() && !page.is_empty()) {
            let full = std::mem::replace(&mut page, Vec::with_capacity(PAGE));
            import.add_optouts(full).map_err(|e| e.to_string())?;
        }
        if row.is_none() {
            return Ok(());
        }
    }
}
