//! The storage traits an operator is built on, and [`DataDirStore`], their implementation
//! for the data directory.
//!
//! The traits are synchronous: an operator calls them from a blocking thread (its reload
//! loop, a logout on the blocking pool), never from an async worker. A backend is a
//! [`SnapshotSource`] (what replicas serve from memory), a [`StoreWriter`] (what `init`, key
//! and salt rotation and an import change) and, for opt-outs, an
//! [`OptOutStore`](crate::OptOutStore).

use std::time::Duration;

use euid_crypto::BatchedOsRandom;
use euid_token::{SaltRotation, SaltStore};

use crate::data_dir::{self, write_atomic, write_json, DataDir, DataDirState};
use crate::demo::DemoClient;
use crate::error::StoreError;
use crate::init::{init_data_dir, open_data_dir, InitOptions, InitReport};
use crate::keys::{self, KeyMaintenance, RotateOptions, RotatedKey, RotationPolicy};
use crate::snapshot::{ChangeToken, SaltValidity, StoreSnapshot};

/// Where an operator's snapshot comes from.
///
/// A reload loop takes [`SnapshotSource::change_token`] before each
/// [`SnapshotSource::load_snapshot`], and loads again when a later token differs; a write
/// through [`StoreWriter`], by this process or another, must change the token every reader
/// sees once it returns. Backends with notifications also wake
/// [`SnapshotSource::wait_for_change`], so replicas learn of a change before their next poll.
pub trait SnapshotSource: Send + Sync {
    /// One consistent read of everything the operator serves from memory. Client records
    /// are checked ([`ClientRecord::check`](crate::ClientRecord::check)); an error names the
    /// file or part that is wrong, never its content.
    fn load_snapshot(&self) -> Result<StoreSnapshot, StoreError>;

    /// A cheap token of the store's state: file stamps, a change counter. Must not block on
    /// the data itself; a store that cannot read its marker returns
    /// [`ChangeToken::unavailable`].
    fn change_token(&self) -> ChangeToken;

    /// Whether the store changed since `token` was taken.
    fn changed_since(&self, token: &ChangeToken) -> bool {
        self.change_token() != *token
    }

    /// Blocks until the store signals a change or `timeout` passes, and says whether a
    /// signal came. Stores without notifications (the data directory) return `false` at once:
    /// the caller polls [`SnapshotSource::change_token`] on its own schedule either way.
    fn wait_for_change(&self, timeout: Duration) -> bool {
        let _ = timeout;
        false
    }

    /// What an unauthenticated caller (the healthcheck) may be told about a load failure:
    /// which part, and whether it could not be read or is not valid. Never a path outside the
    /// store, an OS or database error text, or content.
    fn public_reason(&self, err: &StoreError) -> String;

    /// Where the store is, for logs and `Debug`: a directory's path, a database's host and
    /// name. Never a password.
    fn location(&self) -> String;
}

/// The writes a store takes. Each one is atomic: readers see all of it or none of it. A
/// backend shared by replicas must also serialize writers, so that two replicas running
/// [`StoreWriter::maintain_keys`] never both add a successor; the data directory does not
/// (its writes are read, plan, rename, without a lock), so one process writes a data
/// directory at a time (`docs/KEYS.md`). Once a write returns, every reader's
/// [`SnapshotSource::change_token`] differs, and readers waiting in
/// [`SnapshotSource::wait_for_change`] are woken where the backend can.
pub trait StoreWriter: Send + Sync {
    /// Gives the store its initial data ([`fresh_snapshot`](crate::fresh_snapshot)). The
    /// data directory creates whatever files are missing and never overwrites one
    /// ([`init_data_dir`]); a database creates its schema and refuses, with
    /// [`StoreError::NotEmpty`], to seed one that holds data.
    fn initialize(&self, options: &InitOptions) -> Result<InitReport, StoreError>;

    /// Adds a key to the master, refresh and every enabled default site keyset
    /// ([`keys::plan_rotation`]), activating `options.activates_in_seconds` after `now_s`.
    fn rotate_keys(
        &self,
        options: &RotateOptions,
        now_s: i64,
    ) -> Result<Vec<RotatedKey>, StoreError>;

    /// Automatic rotation ([`keys::plan_maintenance`]): successors ahead of expiry, dead keys
    /// pruned; writes only when something changed.
    fn maintain_keys(
        &self,
        policy: &RotationPolicy,
        now_s: i64,
    ) -> Result<KeyMaintenance, StoreError>;

    /// Replaces the salts (salt rotation).
    fn write_salts(&self, salts: &SaltStore, validity: &SaltValidity) -> Result<(), StoreError>;

    /// Rotates `fraction` of the salt buckets ([`euid_token::rotate_salts`], OS randomness)
    /// at `now_ms`, keeping the validity window, as one read-modify-write: a backend shared
    /// by replicas reads the salts under its writer lock, so two rotations run one after the
    /// other and neither is lost (the data directory has one writer at a time). A fraction
    /// outside 0..=1 is [`StoreError::Invalid`].
    fn rotate_salts(&self, fraction: f64, now_ms: i64) -> Result<SaltRotation, StoreError>;

    /// Writes a whole snapshot into an empty store (copying a data directory into a
    /// database, seeding one): keys and keysets, salts with their validity, clients and
    /// keypairs, nothing left out. A store that holds data refuses with
    /// [`StoreError::NotEmpty`] and is left unchanged. Opt-outs are copied separately, by
    /// paging through the source's [`OptOutStore::records_since`](crate::OptOutStore::records_since).
    fn import(&self, snapshot: &StoreSnapshot) -> Result<ImportReport, StoreError>;
}

/// [`euid_token::rotate_salts`] with OS randomness, its error as [`StoreError::Invalid`] of
/// `what` (the salts' file or table): the rotation every backend writes.
pub fn plan_salt_rotation(
    salts: &SaltStore,
    fraction: f64,
    now_ms: i64,
    what: &std::path::Path,
) -> Result<SaltRotation, StoreError> {
    euid_token::rotate_salts(salts, fraction, now_ms, &mut BatchedOsRandom::new())
        .map_err(|e| StoreError::invalid(what, e.to_string()))
}

/// A whole backend: read and write.
pub trait Store: SnapshotSource + StoreWriter {}

impl<T: SnapshotSource + StoreWriter + ?Sized> Store for T {}

/// What [`StoreWriter::import`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// The files (or tables) written, in order.
    pub written: Vec<String>,
}

impl ImportReport {
    /// A report of the parts (files or tables) written, in order, for other stores.
    pub fn new(written: Vec<String>) -> Self {
        Self { written }
    }
}

/// The data directory as a [`Store`]: the files of [`DataDir`], watched by their
/// modification times, written atomically (a rename, which is also how running operators
/// notice: there are no notifications).
#[derive(Clone, Debug)]
pub struct DataDirStore {
    dir: DataDir,
}

impl DataDirStore {
    /// The store of the data directory at `dir` (nothing is read or created).
    pub fn new(dir: DataDir) -> Self {
        Self { dir }
    }

    /// The data directory at `path`.
    pub fn at(path: impl Into<std::path::PathBuf>) -> Self {
        Self::new(DataDir::new(path))
    }

    /// The directory's layout.
    pub fn data_dir(&self) -> &DataDir {
        &self.dir
    }

    /// What a server does at startup (see [`open_data_dir`]): initializes an empty or absent
    /// directory, refuses one with required files missing, and returns the demo client.
    pub fn open(&self, options: &InitOptions) -> Result<Option<DemoClient>, StoreError> {
        open_data_dir(self.dir.root(), options)
    }
}

impl SnapshotSource for DataDirStore {
    fn load_snapshot(&self) -> Result<StoreSnapshot, StoreError> {
        let dir = &self.dir;
        let clients = data_dir::load_clients(dir)?;
        let keys = data_dir::load_key_store(dir)?;
        let salts = data_dir::load_salts(dir)?;
        let salt_validity = data_dir::load_salt_validity(dir)?;
        let keypairs = data_dir::load_keypairs(dir)?;
        Ok(StoreSnapshot {
            keys,
            salts,
            salt_validity,
            clients,
            keypairs,
        })
    }

    fn change_token(&self) -> ChangeToken {
        self.dir.change_token()
    }

    fn public_reason(&self, err: &StoreError) -> String {
        self.dir.public_reason(err)
    }

    fn location(&self) -> String {
        self.dir.root().display().to_string()
    }
}

impl StoreWriter for DataDirStore {
    fn initialize(&self, options: &InitOptions) -> Result<InitReport, StoreError> {
        init_data_dir(self.dir.root(), options)
    }

    fn rotate_keys(
        &self,
        options: &RotateOptions,
        now_s: i64,
    ) -> Result<Vec<RotatedKey>, StoreError> {
        keys::rotate_keys_at(self.dir.root(), options, now_s)
    }

    fn maintain_keys(
        &self,
        policy: &RotationPolicy,
        now_s: i64,
    ) -> Result<KeyMaintenance, StoreError> {
        keys::maintain_keys(self.dir.root(), policy, now_s)
    }

    fn write_salts(&self, salts: &SaltStore, validity: &SaltValidity) -> Result<(), StoreError> {
        data_dir::write_salts(&self.dir, salts, validity)
    }

    fn rotate_salts(&self, fraction: f64, now_ms: i64) -> Result<SaltRotation, StoreError> {
        let dir = &self.dir;
        let salts = data_dir::load_salts(dir)?;
        let validity = data_dir::load_salt_validity(dir)?
            .unwrap_or_else(|| SaltValidity::starting_at(now_ms / 1000));
        let rotation = plan_salt_rotation(&salts, fraction, now_ms, &dir.salts_file())?;
        data_dir::write_salts(dir, &rotation.salts, &validity)?;
        Ok(rotation)
    }

    fn import(&self, snapshot: &StoreSnapshot) -> Result<ImportReport, StoreError> {
        let dir = &self.dir;
        if dir.state()? != DataDirState::Empty {
            return Err(StoreError::NotEmpty {
                path: dir.root().display().to_string(),
            });
        }
        data_dir::create_private_dir_all(dir.root())?;
        let mut written = Vec::new();
        write_atomic(&dir.keysets(), snapshot.keys.keysets_json().as_bytes())?;
        write_atomic(
            &dir.keyset_keys(),
            snapshot.keys.keyset_keys_json().as_bytes(),
        )?;
        written.extend(["keysets.json", "keyset_keys.json"].map(str::to_owned));
        let validity = snapshot
            .salt_validity
            .unwrap_or_else(|| SaltValidity::starting_at(crate::now_s()));
        data_dir::write_salts(dir, &snapshot.salts, &validity)?;
        written.extend(["salts/salts.txt", "salts/metadata.json"].map(str::to_owned));
        if !snapshot.keypairs.is_empty() {
            let path = dir.client_side_keypairs();
            write_atomic(&path, snapshot.keypairs.to_json_pretty().as_bytes())?;
            written.push(data_dir::KEYPAIRS_FILE.to_owned());
        }
        // Last: a directory is complete (and loads) only once clients.json is there.
        write_json(&dir.clients(), &snapshot.clients)?;
        written.push("clients.json".to_owned());
        Ok(ImportReport { written })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::fresh_snapshot;
    use euid_crypto::BatchedOsRandom;
    use euid_token::MASTER_KEYSET_ID;

    fn small() -> InitOptions {
        InitOptions {
            salt_bucket_count: 8,
            ..InitOptions::default()
        }
    }

    fn initialized() -> (tempfile::TempDir, DataDirStore) {
        let tmp = tempfile::tempdir().unwrap();
        let store = DataDirStore::at(tmp.path());
        store.initialize(&small()).unwrap();
        (tmp, store)
    }

    #[test]
    fn a_snapshot_holds_every_part_of_the_directory() {
        let (_tmp, store) = initialized();
        let snap = store.load_snapshot().unwrap();
        assert_eq!(snap.salts.len(), 8);
        assert_eq!(snap.clients.len(), 1);
        assert_eq!(snap.keypairs.len(), 1);
        assert_eq!(snap.keys.keysets().count(), 4);
        let validity = snap.salt_validity.unwrap();
        assert_eq!(validity.effective_ms, validity.generated_s * 1000);
        let shown = format!("{snap:?}");
        assert!(!shown.contains(&snap.clients[0].secret), "{shown}");
    }

    #[test]
    fn the_change_token_moves_with_every_write_and_only_then() {
        let (_tmp, store) = initialized();
        let before = store.change_token();
        assert_eq!(store.change_token(), before);
        assert!(!store.changed_since(&before));
        // A file the operator does not watch changes nothing.
        std::fs::write(store.data_dir().root().join("notes.txt"), b"x").unwrap();
        assert!(!store.changed_since(&before));
        store
            .rotate_keys(&RotateOptions::default(), crate::now_s())
            .unwrap();
        assert!(store.changed_since(&before));
        let after_rotation = store.change_token();
        // Writing the same bytes again is a new file, with a new modification time.
        let snap = store.load_snapshot().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        store
            .write_salts(&snap.salts, &snap.salt_validity.unwrap())
            .unwrap();
        assert!(store.changed_since(&after_rotation));
        // A watched file that disappears changes the token as well.
        let now = store.change_token();
        std::fs::remove_file(store.data_dir().client_side_keypairs()).unwrap();
        assert!(store.changed_since(&now));
        assert!(!store.wait_for_change(Duration::from_secs(5)));
    }

    #[test]
    fn import_copies_a_directory_without_loss_and_only_into_an_empty_one() {
        let (_tmp, source) = initialized();
        let original = source.load_snapshot().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let target = DataDirStore::at(tmp.path().join("copy"));
        let report = target.import(&original).unwrap();
        assert_eq!(
            report.written.last().map(String::as_str),
            Some("clients.json")
        );
        let copy = target.load_snapshot().unwrap();
        assert_eq!(copy.clients, original.clients);
        assert_eq!(copy.salt_validity, original.salt_validity);
        assert_eq!(
            copy.keypairs.to_json_pretty(),
            original.keypairs.to_json_pretty()
        );
        for name in [
            "keysets.json",
            "keyset_keys.json",
            "salts/metadata.json",
            "salts/salts.txt",
            "clients.json",
            data_dir::KEYPAIRS_FILE,
        ] {
            assert_eq!(
                std::fs::read(tmp.path().join("copy").join(name)).unwrap(),
                std::fs::read(source.data_dir().root().join(name)).unwrap(),
                "{name}"
            );
        }
        assert_eq!(target.data_dir().state().unwrap(), DataDirState::Complete);
        let before = target.change_token();
        assert!(matches!(
            target.import(&original),
            Err(StoreError::NotEmpty { .. })
        ));
        assert!(!target.changed_since(&before));
    }

    #[test]
    fn a_fresh_snapshot_is_what_init_makes() {
        let mut rng = BatchedOsRandom::new();
        let now = crate::now_s();
        let (fresh, demo) = fresh_snapshot(&small(), now, &mut rng).unwrap();
        let demo = demo.unwrap();
        assert_eq!(fresh.clients.len(), 1);
        assert_eq!(fresh.clients[0].site_id, demo.site_id);
        assert!(fresh
            .keypairs
            .get(demo.subscription_id.as_deref().unwrap())
            .is_some());
        assert!(fresh
            .keys
            .active_key(MASTER_KEYSET_ID, now * 1000)
            .is_some());
        let tmp = tempfile::tempdir().unwrap();
        let seeded = DataDirStore::at(tmp.path());
        seeded.import(&fresh).unwrap();
        let (_init_tmp, initialized) = initialized();
        let names = |s: &DataDirStore| {
            let mut v: Vec<_> = std::fs::read_dir(s.data_dir().root())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            v.sort();
            v
        };
        let mut expected = names(&initialized);
        expected.retain(|n| n != "demo-client.json");
        assert_eq!(names(&seeded), expected);
        let (none, no_demo) = fresh_snapshot(
            &InitOptions {
                demo_client: false,
                ..small()
            },
            now,
            &mut rng,
        )
        .unwrap();
        assert!(no_demo.is_none() && none.clients.is_empty() && none.keypairs.is_empty());
    }

    #[test]
    fn load_errors_name_the_file_but_never_quote_it() {
        let (_tmp, store) = initialized();
        let dir = store.data_dir();
        let clients = std::fs::read_to_string(dir.clients()).unwrap();
        let records: Vec<crate::ClientRecord> = serde_json::from_str(&clients).unwrap();
        let secret = records[0].secret.clone();
        let mut value: serde_json::Value = serde_json::from_str(&clients).unwrap();
        value[0]["site_id"] = serde_json::Value::String(secret.clone());
        write_atomic(&dir.clients(), value.to_string().as_bytes()).unwrap();
        let err = store.load_snapshot().unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(&secret), "{shown}");
            assert!(shown.contains("clients.json"), "{shown}");
        }
        assert_eq!(store.public_reason(&err), "clients.json is not valid");
        // A record whose secret is not 32 bytes of base64 is refused by name.
        let mut bad = records.clone();
        bad[0].secret = "c2hvcnQ=".to_owned();
        write_json(&dir.clients(), &bad).unwrap();
        let err = store.load_snapshot().unwrap_err().to_string();
        assert!(
            err.contains(&records[0].key_id) && !err.contains("c2hvcnQ="),
            "{err}"
        );
        std::fs::remove_file(dir.keysets()).unwrap();
        write_json(&dir.clients(), &records).unwrap();
        let err = store.load_snapshot().unwrap_err();
        assert_eq!(store.public_reason(&err), "keysets.json cannot be read");
        assert!(!store.public_reason(&err).contains(&store.location()));
    }
}
