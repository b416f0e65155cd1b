//! Opt-out records: a durable store behind a trait, with lookups served from memory.
//!
//! Records are keyed by first-level hash (refresh, identity map, generate when enabled) and
//! by raw UID (`/v2/optout/status`), as in `wire.md` §10.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use rusqlite::{params, Connection};

/// One opt-out: who, under which advertising id, and when.
#[derive(Clone, PartialEq, Eq)]
pub struct OptOutRecord {
    /// The identity's first-level hash.
    pub first_level_hash: [u8; 32],
    /// The raw UID (advertising id) bytes at the time of the opt-out.
    pub advertising_id: Vec<u8>,
    /// When the opt-out was recorded, Unix ms.
    pub opted_out_ms: i64,
}

impl std::fmt::Debug for OptOutRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptOutRecord")
            .field("opted_out_ms", &self.opted_out_ms)
            .finish_non_exhaustive()
    }
}

/// Why the opt-out store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptOutError {
    /// The database refused an operation.
    #[error("opt-out database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// A stored row is malformed.
    #[error("opt-out database holds a malformed row")]
    Malformed,
    /// The database file could not be created or its mode set.
    #[error("opt-out database file: {0}")]
    Io(std::io::Error),
    /// A lock was poisoned by a panicking thread.
    #[error("opt-out store lock poisoned")]
    Poisoned,
}

/// Where opt-outs live. `record` must be durable when it returns (an acknowledged logout
/// survives a crash); lookups are on the request hot path and must not touch the disk.
pub trait OptOutStore: Send + Sync {
    /// Stores an opt-out durably and makes it visible to lookups.
    fn record(&self, record: &OptOutRecord) -> Result<(), OptOutError>;
    /// When the identity with this first-level hash opted out (Unix ms), if it did.
    fn opted_out_since(&self, first_level_hash: &[u8; 32]) -> Option<i64>;
    /// When the identity with this raw UID opted out (Unix ms), if it did.
    fn advertising_id_opted_out_since(&self, advertising_id: &[u8]) -> Option<i64>;
    /// Number of distinct opted-out identities.
    fn len(&self) -> usize;
    /// Whether no identity opted out.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Default)]
struct Index {
    by_flh: HashMap<[u8; 32], i64>,
    by_advertising_id: HashMap<Vec<u8>, i64>,
}

impl Index {
    fn insert(&mut self, r: &OptOutRecord) {
        // The latest opt-out time wins, as when the live operator re-records one.
        let t = self
            .by_flh
            .entry(r.first_level_hash)
            .or_insert(r.opted_out_ms);
        *t = (*t).max(r.opted_out_ms);
        if !r.advertising_id.is_empty() {
            let t = self
                .by_advertising_id
                .entry(r.advertising_id.clone())
                .or_insert(r.opted_out_ms);
            *t = (*t).max(r.opted_out_ms);
        }
    }
}

/// Opt-outs in an embedded SQLite database (WAL, `synchronous=FULL`: a committed record is
/// on disk before `record` returns), mirrored in memory for lookups.
pub struct SqliteOptOutStore {
    conn: Mutex<Connection>,
    index: RwLock<Index>,
}

impl std::fmt::Debug for SqliteOptOutStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteOptOutStore")
            .field("len", &self.len())
            .finish()
    }
}

impl SqliteOptOutStore {
    /// Opens (creating if needed) the database at `path` and loads every record into memory.
    /// A new database file is created with mode 0600, and so are its `-wal` and `-shm` files.
    pub fn open(path: &Path) -> Result<Self, OptOutError> {
        // Created here rather than by SQLite (which uses 0644 less the umask): SQLite gives
        // the -wal and -shm files the database file's mode, so they are 0600 too. An empty
        // file is an empty database to SQLite.
        let created = match crate::data_dir::create_private_file(path) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(OptOutError::Io(e)),
        };
        let conn = Connection::open(path)?;
        // WAL + FULL: the commit is fsynced to the WAL before returning, so it survives
        // kill -9 and power loss; NORMAL would only survive process crashes.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS optout (
                first_level_hash BLOB NOT NULL,
                advertising_id BLOB NOT NULL,
                opted_out_ms INTEGER NOT NULL,
                PRIMARY KEY (first_level_hash, advertising_id)
            ) WITHOUT ROWID;",
        )?;
        let mut index = Index::default();
        {
            let mut stmt =
                conn.prepare("SELECT first_level_hash, advertising_id, opted_out_ms FROM optout")?;
            let rows = stmt.query_map([], |row| {
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (flh, advertising_id, opted_out_ms) = row?;
                let first_level_hash: [u8; 32] =
                    flh.try_into().map_err(|_| OptOutError::Malformed)?;
                index.insert(&OptOutRecord {
                    first_level_hash,
                    advertising_id,
                    opted_out_ms,
                });
            }
        }
        if created {
            // The reads above made the -wal and -shm files; make sure of their modes rather
            // than trust the SQLite build.
            restrict_companions(path)?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            index: RwLock::new(index),
        })
    }
}

/// Sets mode 0600 on the `-wal` and `-shm` files next to a database this process created.
fn restrict_companions(path: &Path) -> Result<(), OptOutError> {
    #[cfg(unix)]
    for suffix in ["-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let companion = std::path::PathBuf::from(name);
        match std::fs::symlink_metadata(&companion) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o777 != 0o600 => {
                std::fs::set_permissions(
                    &companion,
                    std::fs::Permissions::from_mode(crate::data_dir::FILE_MODE),
                )
                .map_err(OptOutError::Io)?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(OptOutError::Io(e)),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl OptOutStore for SqliteOptOutStore {
    fn record(&self, r: &OptOutRecord) -> Result<(), OptOutError> {
        {
            let conn = self.conn.lock().map_err(|_| OptOutError::Poisoned)?;
            conn.execute(
                "INSERT INTO optout (first_level_hash, advertising_id, opted_out_ms)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (first_level_hash, advertising_id)
                 DO UPDATE SET opted_out_ms = max(opted_out_ms, excluded.opted_out_ms)",
                params![&r.first_level_hash[..], &r.advertising_id, r.opted_out_ms],
            )?;
        }
        self.index
            .write()
            .map_err(|_| OptOutError::Poisoned)?
            .insert(r);
        Ok(())
    }

    fn opted_out_since(&self, first_level_hash: &[u8; 32]) -> Option<i64> {
        self.index
            .read()
            .ok()?
            .by_flh
            .get(first_level_hash)
            .copied()
    }

    fn advertising_id_opted_out_since(&self, advertising_id: &[u8]) -> Option<i64> {
        self.index
            .read()
            .ok()?
            .by_advertising_id
            .get(advertising_id)
            .copied()
    }

    fn len(&self) -> usize {
        self.index.read().map(|i| i.by_flh.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(b: u8, t: i64) -> OptOutRecord {
        OptOutRecord {
            first_level_hash: [b; 32],
            advertising_id: vec![b; 33],
            opted_out_ms: t,
        }
    }

    #[test]
    fn records_persist_across_reopen_and_latest_time_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optout.db");
        {
            let store = SqliteOptOutStore::open(&path).unwrap();
            assert!(store.is_empty());
            store.record(&rec(1, 100)).unwrap();
            store.record(&rec(1, 300)).unwrap();
            store.record(&rec(1, 200)).unwrap();
            store.record(&rec(2, 50)).unwrap();
            assert_eq!(store.opted_out_since(&[1; 32]), Some(300));
            assert_eq!(store.advertising_id_opted_out_since(&[2; 33]), Some(50));
        }
        let store = SqliteOptOutStore::open(&path).unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.opted_out_since(&[1; 32]), Some(300));
        assert_eq!(store.opted_out_since(&[3; 32]), None);
        assert_eq!(store.advertising_id_opted_out_since(&[1; 33]), Some(300));
        assert_eq!(store.advertising_id_opted_out_since(&[1; 32]), None);
    }

    #[test]
    fn a_new_advertising_id_for_the_same_identity_is_also_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteOptOutStore::open(&dir.path().join("o.db")).unwrap();
        store.record(&rec(1, 10)).unwrap();
        let mut later = rec(1, 20);
        later.advertising_id = vec![9; 33];
        store.record(&later).unwrap();
        assert_eq!(store.len(), 1);
        assert_eq!(store.advertising_id_opted_out_since(&[1; 33]), Some(10));
        assert_eq!(store.advertising_id_opted_out_since(&[9; 33]), Some(20));
    }
}
