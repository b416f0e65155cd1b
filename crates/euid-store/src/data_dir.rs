//! The data directory: where keys, keysets, salts, clients and opt-outs live, in the live
//! operator's store formats where `wire.md` specifies them; its layout, file modes, atomic
//! writes, and reading each file with errors that name the file but never quote it.
//!
//! ```text
//! euid-data/
//!   keysets.json        keysets (wire.md §5)
//!   keyset_keys.json    keys of every keyset (wire.md §5)
//!   salts/metadata.json salt metadata: first-level salt, bucket-id prefix and secret (wire.md §3)
//!   salts/salts.txt     one salt bucket per line (wire.md §3)
//!   clients.json        API clients, keys stored as salted SHA-512 hashes (wire.md §11)
//!   client_side_keypairs.json  client-side token generation keypairs (optional)
//!   optout.db           opt-out records (SQLite, the operator's)
//!   demo-client.json    the demo client's api_key, client_secret, site_id and base_url
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use euid_cstg::KeypairStore;
use euid_token::{KeyStore, SaltFileLocation, SaltStore};

use crate::clients::{parse_clients_json, ClientRecord};
use crate::error::StoreError;
use crate::snapshot::{ChangeToken, SaltValidity};

/// The keypairs file, in the data directory.
pub const KEYPAIRS_FILE: &str = "client_side_keypairs.json";

/// The demo client's credentials file, in the data directory.
pub const DEMO_CLIENT_FILE: &str = "demo-client.json";

/// The default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "euid-data";

/// The paths of one data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory rooted at `root` (nothing is read or created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `keysets.json`.
    pub fn keysets(&self) -> PathBuf {
        self.root.join("keysets.json")
    }

    /// `keyset_keys.json`.
    pub fn keyset_keys(&self) -> PathBuf {
        self.root.join("keyset_keys.json")
    }

    /// `salts/metadata.json`.
    pub fn salts_metadata(&self) -> PathBuf {
        self.root.join("salts").join("metadata.json")
    }

    /// `salts/salts.txt`.
    pub fn salts_file(&self) -> PathBuf {
        self.root.join("salts").join("salts.txt")
    }

    /// `clients.json`.
    pub fn clients(&self) -> PathBuf {
        self.root.join("clients.json")
    }

    /// `optout.db`.
    pub fn optout_db(&self) -> PathBuf {
        self.root.join("optout.db")
    }

    /// `client_side_keypairs.json`.
    pub fn client_side_keypairs(&self) -> PathBuf {
        self.root.join(KEYPAIRS_FILE)
    }

    /// `demo-client.json`.
    pub fn demo_client(&self) -> PathBuf {
        self.root.join(DEMO_CLIENT_FILE)
    }

    /// The files whose changes trigger a reload.
    pub fn watched_files(&self) -> [PathBuf; 6] {
        [
            self.keysets(),
            self.keyset_keys(),
            self.salts_metadata(),
            self.salts_file(),
            self.clients(),
            self.client_side_keypairs(),
        ]
    }

    /// Whether the directory is empty (or absent), complete, or has files missing.
    ///
    /// "Empty" is strict: a directory holding anything at all, even unrelated or hidden
    /// files, is not empty. A mistyped `--data-dir` pointing at a home or project directory,
    /// or a data directory that lost its key files but kept `optout.db`, must not have keys
    /// and salts generated into it.
    pub fn state(&self) -> Result<DataDirState, StoreError> {
        let root = &self.root;
        let meta = match fs::metadata(root) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DataDirState::Empty),
            Err(e) => return Err(StoreError::io(root, e)),
        };
        if !meta.is_dir() {
            return Err(StoreError::invalid(root, "not a directory"));
        }
        let mut entries = fs::read_dir(root).map_err(|e| StoreError::io(root, e))?;
        let empty = entries.next().is_none();
        let missing: Vec<&'static str> = REQUIRED_FILES
            .iter()
            .copied()
            .filter(|f| !root.join(f).is_file())
            .collect();
        Ok(if missing.is_empty() {
            DataDirState::Complete
        } else if empty {
            DataDirState::Empty
        } else {
            DataDirState::Incomplete { missing }
        })
    }

    /// One line per directory or file of this data directory that group or others can
    /// access. Older versions created directories with the umask's mode (often 0755) and
    /// `optout.db` with 0644; existing modes are reported, never changed behind the user's
    /// back.
    pub fn permission_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let db = self.optout_db();
            let with_suffix = |suffix: &str| {
                let mut name = db.clone().into_os_string();
                name.push(suffix);
                PathBuf::from(name)
            };
            let dirs = [self.root.clone(), self.root.join("salts")];
            let files = [
                self.keysets(),
                self.keyset_keys(),
                self.salts_metadata(),
                self.salts_file(),
                self.clients(),
                self.client_side_keypairs(),
                self.demo_client(),
                db.clone(),
                with_suffix("-wal"),
                with_suffix("-shm"),
            ];
            for (path, is_dir) in dirs
                .iter()
                .map(|p| (p, true))
                .chain(files.iter().map(|p| (p, false)))
            {
                let Ok(meta) = fs::metadata(path) else {
                    continue;
                };
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    let want = if is_dir { DIR_MODE } else { FILE_MODE };
                    warnings.push(format!(
                        "{} is accessible to group or others (mode {mode:o}); run chmod {want:o} on it",
                        path.display()
                    ));
                }
            }
        }
        warnings
    }
}

/// The files without which the operator does not start, relative to the data directory.
pub const REQUIRED_FILES: [&str; 5] = [
    "keysets.json",
    "keyset_keys.json",
    "salts/metadata.json",
    "salts/salts.txt",
    "clients.json",
];

/// What [`DataDir::state`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataDirState {
    /// Absent, or a directory with nothing in it: a first start creates everything.
    Empty,
    /// Every file of [`REQUIRED_FILES`] is there.
    Complete,
    /// Not empty, yet some required files are missing: a startup error, never a reason to
    /// generate anything.
    Incomplete {
        /// The missing files, relative to the data directory.
        missing: Vec<&'static str>,
    },
}

/// Reads a whole file; an error names the file, never its content.
pub fn read(path: &Path) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(|e| StoreError::io(path, e))
}

/// The mode of every directory the operator and the CLI create: the owner's only.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file the operator and the CLI write: the owner's only.
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` and its missing ancestors, each with mode 0700. The mode is set explicitly
/// after creation, so it does not depend on the umask; directories that already exist are
/// left as they are (see [`DataDir::permission_warnings`]).
pub fn create_private_dir_all(path: &Path) -> Result<(), StoreError> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_private_dir_all(parent)?;
    }
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(DIR_MODE);
    }
    match builder.create(path) {
        Ok(()) => set_mode(path, DIR_MODE).map_err(|e| StoreError::io(path, e)),
        // Another process made it in between: it is not ours to chmod.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Creates a new file with mode 0600, failing if anything (a file, a planted symlink, even a
/// dangling one) is already at `path`: `create_new` is `O_CREAT | O_EXCL`, which never
/// follows a symlink. The mode is set on the open file, so the umask cannot widen or narrow it.
pub fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

/// Writes a file atomically: a temporary file in the same directory, created exclusively
/// with mode 0600, fsynced, then renamed over the target, so readers (and the reloader) see
/// the old or the new content, never a torn one. A parent directory that does not exist is
/// created with mode 0700.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    create_private_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut file) = create_temp_file(dir, &name).map_err(|e| StoreError::io(path, e))?;
    let result = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Persist the rename itself.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e: std::io::Error| {
        // Only ever the file this call created.
        let _ = fs::remove_file(&tmp);
        StoreError::io(path, e)
    })
}

/// A new temporary file next to `name` in `dir`. Whatever already sits at a candidate name
/// (a leftover of a crash, or a symlink someone planted) is left alone and the next name,
/// with a random suffix, is tried.
fn create_temp_file(dir: &Path, name: &str) -> std::io::Result<(PathBuf, fs::File)> {
    use euid_crypto::RandomSource as _;
    let pid = std::process::id();
    let mut last = None;
    for attempt in 0..16 {
        let tmp = if attempt == 0 {
            dir.join(format!(".{name}.tmp-{pid}"))
        } else {
            let mut suffix = [0u8; 8];
            euid_crypto::BatchedOsRandom::new().fill(&mut suffix);
            dir.join(format!(
                ".{name}.tmp-{pid}-{:016x}",
                u64::from_le_bytes(suffix)
            ))
        };
        match create_private_file(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no temporary file name left")))
}

/// Writes `value` as pretty JSON and a newline, atomically (see [`write_atomic`]).
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::invalid(path, e))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Where the keypairs live in `dir`.
pub fn keypairs_path(dir: &DataDir) -> PathBuf {
    dir.client_side_keypairs()
}

/// Loads the keypairs; a data directory without the file has none (CSTG answers
/// `bad subscription_id`).
pub fn load_keypairs(dir: &DataDir) -> Result<KeypairStore, StoreError> {
    let path = keypairs_path(dir);
    if !path.exists() {
        return Ok(KeypairStore::new());
    }
    KeypairStore::from_json(&read(&path)?).map_err(|e| StoreError::invalid(&path, e))
}

/// Loads `keysets.json` and `keyset_keys.json`; an error names the file that is wrong, so the
/// log and the healthcheck point at it.
pub fn load_key_store(dir: &DataDir) -> Result<KeyStore, StoreError> {
    let keys_path = dir.keyset_keys();
    KeyStore::from_json(&read(&dir.keysets())?, &read(&keys_path)?).map_err(|e| {
        let path = match &e {
            euid_token::KeyStoreError::Json { file, .. } if *file == "keysets.json" => {
                dir.keysets()
            }
            _ => keys_path.clone(),
        };
        StoreError::invalid(&path, e)
    })
}

/// Loads `salts/metadata.json` and `salts/salts.txt`; a content error names `salts.txt`.
pub fn load_salts(dir: &DataDir) -> Result<SaltStore, StoreError> {
    let salts_path = dir.salts_file();
    SaltStore::from_files(&read(&dir.salts_metadata())?, &read(&salts_path)?)
        .map_err(|e| StoreError::invalid(&salts_path, e))
}

/// The times `salts/metadata.json` gives its salts file, if it names them all as integers
/// (files written by another operator may not: that is `None`, never an error, so a file the
/// salts load from always loads). Reads only those fields, never the secrets beside them.
pub fn load_salt_validity(dir: &DataDir) -> Result<Option<SaltValidity>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Times {
        generated: i64,
        salts: Vec<FileTimes>,
    }
    #[derive(serde::Deserialize)]
    struct FileTimes {
        effective: i64,
        expires: i64,
    }
    let times = serde_json::from_slice::<Times>(&read(&dir.salts_metadata())?).ok();
    Ok(times.and_then(|t| {
        let file = t.salts.first()?;
        Some(SaltValidity {
            generated_s: t.generated,
            effective_ms: file.effective,
            expires_ms: file.expires,
        })
    }))
}

/// Writes the salts (`salts/salts.txt` first, then `salts/metadata.json`, so the metadata
/// never points at a missing file), each atomically.
pub fn write_salts(
    dir: &DataDir,
    salts: &SaltStore,
    validity: &SaltValidity,
) -> Result<(), StoreError> {
    let location = SaltFileLocation {
        generated_s: validity.generated_s,
        effective_ms: validity.effective_ms,
        expires_ms: validity.expires_ms,
        location: "salts.txt".to_owned(),
    };
    write_atomic(&dir.salts_file(), salts.salts_csv().as_bytes())?;
    write_atomic(
        &dir.salts_metadata(),
        salts.metadata_json(&location).as_bytes(),
    )
}

/// Loads `clients.json`: every record parsed and checked (see [`ClientRecord::check`]), so
/// the operator can prepare each one. Errors give the JSON error's kind and position, or the
/// record's key id, never a secret.
pub fn load_clients(dir: &DataDir) -> Result<Vec<ClientRecord>, StoreError> {
    let path = dir.clients();
    let records = parse_clients_json(&read(&path)?).map_err(|e| StoreError::invalid(&path, e))?;
    for record in &records {
        record.check().map_err(|e| StoreError::invalid(&path, e))?;
    }
    Ok(records)
}

impl DataDir {
    /// A cheap token of the watched files' state (modification time and length of each, or
    /// its absence): it differs after any atomic write to them, since the rename gives the
    /// file a new modification time. Reads metadata only, never a file, so a file that would
    /// block a reader does not block it.
    pub fn change_token(&self) -> ChangeToken {
        let mut words = Vec::with_capacity(4 * 6);
        for path in self.watched_files() {
            let stamp = fs::metadata(&path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            match stamp {
                None => words.push(0),
                Some((modified, len)) => {
                    let (flag, since) = match modified.duration_since(SystemTime::UNIX_EPOCH) {
                        Ok(d) => (1, d),
                        Err(before) => (2, before.duration()),
                    };
                    words.extend([flag, since.as_secs(), u64::from(since.subsec_nanos()), len]);
                }
            }
        }
        ChangeToken::from_words(words)
    }

    /// How a load failure may be named to unauthenticated callers: the data file, relative
    /// to the data directory and only if it is one of the watched files, and whether it
    /// could not be read or is not valid. The full error, with paths and OS error text, is
    /// for the log only.
    pub fn public_reason(&self, err: &StoreError) -> String {
        let (path, kind) = if let StoreError::Io { path, .. } = err {
            (path.as_str(), "cannot be read")
        } else if let StoreError::Invalid { path, .. } = err {
            (path.as_str(), "is not valid")
        } else {
            return "the data directory does not load".to_owned();
        };
        let file = self
            .watched_files()
            .into_iter()
            .find(|f| f.display().to_string() == path)
            .and_then(|f| {
                f.strip_prefix(self.root())
                    .ok()
                    .map(|p| p.display().to_string())
            });
        match file {
            Some(name) => format!("{name} {kind}"),
            None => format!("a data file {kind}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_strict_about_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let absent = DataDir::new(tmp.path().join("absent"));
        assert_eq!(absent.state().unwrap(), DataDirState::Empty);
        let dir = DataDir::new(tmp.path());
        assert_eq!(dir.state().unwrap(), DataDirState::Empty);
        fs::write(tmp.path().join(".hidden"), b"").unwrap();
        assert_eq!(
            dir.state().unwrap(),
            DataDirState::Incomplete {
                missing: REQUIRED_FILES.to_vec()
            }
        );
        for f in REQUIRED_FILES {
            write_atomic(&tmp.path().join(f), b"{}").unwrap();
        }
        assert_eq!(dir.state().unwrap(), DataDirState::Complete);
        let file = DataDir::new(tmp.path().join("clients.json"));
        assert!(file.state().is_err());
    }

    #[test]
    fn salt_validity_is_read_when_named_and_never_fails_a_load() {
        let tmp = tempfile::tempdir().unwrap();
        let options = crate::InitOptions {
            salt_bucket_count: 2,
            ..crate::InitOptions::default()
        };
        crate::init_data_dir(tmp.path(), &options).unwrap();
        let dir = DataDir::new(tmp.path());
        let validity = load_salt_validity(&dir).unwrap().unwrap();
        assert_eq!(validity.effective_ms, validity.generated_s * 1000);
        // A metadata file without `generated` (the live operator's may differ) still loads.
        let mut meta: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.salts_metadata()).unwrap()).unwrap();
        meta.as_object_mut().unwrap().remove("generated");
        write_atomic(&dir.salts_metadata(), meta.to_string().as_bytes()).unwrap();
        assert!(load_salts(&dir).is_ok());
        assert_eq!(load_salt_validity(&dir).unwrap(), None);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }
}
