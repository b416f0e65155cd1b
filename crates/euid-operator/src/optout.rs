//! Opt-out records in the data directory's SQLite database, behind euid-store's
//! [`OptOutStore`] trait (re-exported here with its record and error types), with lookups
//! served from memory.
//!
//! Records are keyed by first-level hash (refresh, identity map, generate when enabled) and
//! by raw UID (`/v2/optout/status`), as in `wire.md` §10.

use std::path::Path;
use std::sync::{Mutex, RwLock};

use rusqlite::{params, Connection, OptionalExtension as _, TransactionBehavior};

pub(crate) use euid_store::optout::{OptOutError, OptOutRecord, OptOutStore, SequencedOptOut};
use euid_store::OptOutIndex;

fn db(e: rusqlite::Error) -> OptOutError {
    OptOutError::database(e)
}

/// Opt-outs in an embedded SQLite database (WAL, `synchronous=FULL`: a committed record is
/// on disk before `record` returns), mirrored in memory for lookups.
pub struct SqliteOptOutStore {
    conn: Mutex<Connection>,
    index: RwLock<OptOutIndex>,
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
        let created = match euid_store::create_private_file(path) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(OptOutError::Io(e)),
        };
        let mut conn = Connection::open(path).map_err(db)?;
        // WAL + FULL: the commit is fsynced to the WAL before returning, so it survives
        // kill -9 and power loss; NORMAL would only survive process crashes.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS optout (
                first_level_hash BLOB NOT NULL,
                advertising_id BLOB NOT NULL,
                opted_out_ms INTEGER NOT NULL,
                PRIMARY KEY (first_level_hash, advertising_id)
            ) WITHOUT ROWID;",
        )
        .map_err(db)?;
        migrate_sequence(&mut conn)?;
        let mut index = OptOutIndex::default();
        {
            let mut stmt = conn
                .prepare("SELECT first_level_hash, advertising_id, opted_out_ms FROM optout")
                .map_err(db)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })
                .map_err(db)?;
            for row in rows {
                let (flh, advertising_id, opted_out_ms) = row.map_err(db)?;
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

/// Gives every row a sequence number (the `seq` column, for catch-up by
/// [`OptOutStore::records_since`]), in place: databases made before the column existed get
/// it added, and rows without a number (all of theirs, or rows an older binary inserted
/// since) are numbered after the largest one, oldest opt-out first. Runs in one write
/// transaction, and does nothing when every row has a number.
fn migrate_sequence(conn: &mut Connection) -> Result<(), OptOutError> {
    let has_column = conn
        .prepare("SELECT 1 FROM pragma_table_info('optout') WHERE name = 'seq'")
        .and_then(|mut stmt| stmt.exists([]))
        .map_err(db)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    if !has_column {
        tx.execute_batch("ALTER TABLE optout ADD COLUMN seq INTEGER;")
            .map_err(db)?;
    }
    tx.execute_batch("CREATE UNIQUE INDEX IF NOT EXISTS optout_by_seq ON optout (seq);")
        .map_err(db)?;
    let unnumbered = tx
        .query_row("SELECT 1 FROM optout WHERE seq IS NULL LIMIT 1", [], |_| {
            Ok(())
        })
        .optional()
        .map_err(db)?
        .is_some();
    if unnumbered {
        tx.execute_batch(
            "WITH base AS (SELECT coalesce(max(seq), 0) AS top FROM optout),
             numbered AS (
                 SELECT first_level_hash AS f, advertising_id AS a,
                        row_number() OVER (
                            ORDER BY opted_out_ms, first_level_hash, advertising_id
                        ) AS n
                 FROM optout WHERE seq IS NULL
             )
             UPDATE optout SET seq = (SELECT top FROM base) + numbered.n
             FROM numbered
             WHERE optout.first_level_hash = numbered.f AND optout.advertising_id = numbered.a;",
        )
        .map_err(db)?;
    }
    tx.commit().map_err(db)
}

fn to_sql_u64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
                    std::fs::Permissions::from_mode(euid_store::FILE_MODE),
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
            let mut conn = self.conn.lock().map_err(|_| OptOutError::Poisoned)?;
            // IMMEDIATE: the write lock is taken before the next sequence number is read, so
            // two writers can never pick the same one.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            // A row whose time moves forward takes a new sequence number, so replicas that
            // catch up see the later time; one that does not change keeps its number.
            tx.execute(
                "INSERT INTO optout (first_level_hash, advertising_id, opted_out_ms, seq)
                 VALUES (?1, ?2, ?3, (SELECT coalesce(max(seq), 0) + 1 FROM optout))
                 ON CONFLICT (first_level_hash, advertising_id)
                 DO UPDATE SET
                     seq = CASE WHEN excluded.opted_out_ms > opted_out_ms
                                THEN excluded.seq ELSE seq END,
                     opted_out_ms = max(opted_out_ms, excluded.opted_out_ms)",
                params![&r.first_level_hash[..], &r.advertising_id, r.opted_out_ms],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        self.index
            .write()
            .map_err(|_| OptOutError::Poisoned)?
            .insert(r);
        Ok(())
    }

    fn opted_out_since(&self, first_level_hash: &[u8; 32]) -> Result<Option<i64>, OptOutError> {
        let index = self.index.read().map_err(|_| OptOutError::Poisoned)?;
        Ok(index.opted_out_since(first_level_hash))
    }

    fn advertising_id_opted_out_since(
        &self,
        advertising_id: &[u8],
    ) -> Result<Option<i64>, OptOutError> {
        let index = self.index.read().map_err(|_| OptOutError::Poisoned)?;
        Ok(index.advertising_id_opted_out_since(advertising_id))
    }

    fn available(&self) -> Result<(), OptOutError> {
        // A panic while the index was being written may have left it half-updated.
        if self.index.is_poisoned() {
            return Err(OptOutError::Poisoned);
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.index.read().map(|i| i.len()).unwrap_or(0)
    }

    fn latest_sequence(&self) -> Result<u64, OptOutError> {
        let conn = self.conn.lock().map_err(|_| OptOutError::Poisoned)?;
        let top: i64 = conn
            .query_row("SELECT coalesce(max(seq), 0) FROM optout", [], |row| {
                row.get(0)
            })
            .map_err(db)?;
        u64::try_from(top).map_err(|_| OptOutError::Malformed)
    }

    fn records_since(&self, after: u64, limit: usize) -> Result<Vec<SequencedOptOut>, OptOutError> {
        let conn = self.conn.lock().map_err(|_| OptOutError::Poisoned)?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT first_level_hash, advertising_id, opted_out_ms, seq FROM optout
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(
                params![to_sql_u64(after), to_sql_u64(limit as u64)],
                |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                },
            )
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (flh, advertising_id, opted_out_ms, seq) = row.map_err(db)?;
            out.push(SequencedOptOut {
                sequence: u64::try_from(seq).map_err(|_| OptOutError::Malformed)?,
                record: OptOutRecord {
                    first_level_hash: flh.try_into().map_err(|_| OptOutError::Malformed)?,
                    advertising_id,
                    opted_out_ms,
                },
            });
        }
        Ok(out)
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
            assert_eq!(store.opted_out_since(&[1; 32]).unwrap(), Some(300));
            assert_eq!(
                store.advertising_id_opted_out_since(&[2; 33]).unwrap(),
                Some(50)
            );
        }
        let store = SqliteOptOutStore::open(&path).unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.opted_out_since(&[1; 32]).unwrap(), Some(300));
        assert_eq!(store.opted_out_since(&[3; 32]).unwrap(), None);
        assert_eq!(
            store.advertising_id_opted_out_since(&[1; 33]).unwrap(),
            Some(300)
        );
        assert_eq!(
            store.advertising_id_opted_out_since(&[1; 32]).unwrap(),
            None
        );
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
        assert_eq!(
            store.advertising_id_opted_out_since(&[1; 33]).unwrap(),
            Some(10)
        );
        assert_eq!(
            store.advertising_id_opted_out_since(&[9; 33]).unwrap(),
            Some(20)
        );
    }

    fn since(store: &SqliteOptOutStore, after: u64, limit: usize) -> Vec<(u64, u8, i64)> {
        store
            .records_since(after, limit)
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    s.sequence,
                    s.record.first_level_hash[0],
                    s.record.opted_out_ms,
                )
            })
            .collect()
    }

    #[test]
    fn catch_up_by_sequence_pages_in_order_and_survives_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optout.db");
        let store = SqliteOptOutStore::open(&path).unwrap();
        assert_eq!(store.latest_sequence().unwrap(), 0);
        assert!(store.records_since(0, 10).unwrap().is_empty());
        for (b, t) in [(1, 100), (2, 200), (3, 300)] {
            store.record(&rec(b, t)).unwrap();
        }
        assert_eq!(store.latest_sequence().unwrap(), 3);
        // A replica pages through from the start...
        let first = since(&store, 0, 2);
        assert_eq!(first, vec![(1, 1, 100), (2, 2, 200)]);
        let applied = first.last().unwrap().0;
        // ...and misses every notification while these are written: new identities, an
        // older re-record (no change, no new number) and a newer one (a new number, leaving
        // a hole where the row was).
        store.record(&rec(4, 400)).unwrap();
        store.record(&rec(2, 150)).unwrap();
        store.record(&rec(1, 500)).unwrap();
        store.record(&rec(5, 450)).unwrap();
        // Catching up from the last number it applied gets everything it missed, once each,
        // in order, with the latest time.
        let caught = since(&store, applied, 100);
        assert_eq!(
            caught,
            vec![(3, 3, 300), (4, 4, 400), (5, 1, 500), (6, 5, 450)]
        );
        assert_eq!(store.latest_sequence().unwrap(), 6);
        // Sequence 1 is gone (row 1 moved to 5): a reader must not expect every number.
        assert_eq!(since(&store, 0, 1), vec![(2, 2, 200)]);
        assert!(since(&store, 6, 10).is_empty());
        assert!(since(&store, u64::MAX, 10).is_empty());
        // Numbers are durable: a reopened store answers the same.
        drop(store);
        let store = SqliteOptOutStore::open(&path).unwrap();
        assert_eq!(since(&store, applied, 100), caught);
        store.record(&rec(6, 600)).unwrap();
        assert_eq!(since(&store, 6, 10), vec![(7, 6, 600)]);
    }

    #[test]
    fn a_database_from_before_sequences_is_numbered_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optout.db");
        {
            // The schema and rows of an optout.db written by an earlier version.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE optout (
                    first_level_hash BLOB NOT NULL,
                    advertising_id BLOB NOT NULL,
                    opted_out_ms INTEGER NOT NULL,
                    PRIMARY KEY (first_level_hash, advertising_id)
                ) WITHOUT ROWID;",
            )
            .unwrap();
            for (b, t) in [(7u8, 300i64), (8, 100), (9, 200)] {
                conn.execute(
                    "INSERT INTO optout VALUES (?1, ?2, ?3)",
                    params![&[b; 32][..], &vec![b; 33], t],
                )
                .unwrap();
            }
        }
        let store = SqliteOptOutStore::open(&path).unwrap();
        assert_eq!(store.len(), 3);
        assert_eq!(store.opted_out_since(&[7; 32]).unwrap(), Some(300));
        // Oldest opt-out first.
        assert_eq!(
            since(&store, 0, 10),
            vec![(1, 8, 100), (2, 9, 200), (3, 7, 300)]
        );
        store.record(&rec(1, 50)).unwrap();
        assert_eq!(since(&store, 3, 10), vec![(4, 1, 50)]);
        drop(store);
        // A row an older binary adds afterwards (no number) is numbered at the next open,
        // and the others keep theirs.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute(
                "INSERT INTO optout (first_level_hash, advertising_id, opted_out_ms)
                 VALUES (?1, ?2, ?3)",
                params![&[2u8; 32][..], &vec![2u8; 33], 10i64],
            )
            .unwrap();
        }
        let store = SqliteOptOutStore::open(&path).unwrap();
        assert_eq!(store.latest_sequence().unwrap(), 5);
        assert_eq!(since(&store, 3, 10), vec![(4, 1, 50), (5, 2, 10)]);
        assert_eq!(store.opted_out_since(&[2; 32]).unwrap(), Some(10));
    }

    #[test]
    fn a_poisoned_index_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteOptOutStore::open(&dir.path().join("o.db")).unwrap();
        store.record(&rec(1, 10)).unwrap();
        assert!(store.available().is_ok());
        // A thread that panics while holding the index for writing poisons it.
        std::thread::scope(|s| {
            let poisoner = s.spawn(|| {
                let _guard = store.index.write().unwrap();
                panic!("poison the opt-out index");
            });
            assert!(poisoner.join().is_err());
        });
        assert!(matches!(store.available(), Err(OptOutError::Poisoned)));
        // Neither a known nor an unknown identity reads as "not opted out".
        for flh in [[1; 32], [2; 32]] {
            assert!(matches!(
                store.opted_out_since(&flh),
                Err(OptOutError::Poisoned)
            ));
        }
        assert!(store.advertising_id_opted_out_since(&[2; 33]).is_err());
    }
}
