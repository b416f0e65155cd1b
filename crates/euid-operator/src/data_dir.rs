//! The data directory: where keys, keysets, salts, clients and opt-outs live, in the live
//! operator's store formats where `wire.md` specifies them.
//!
//! ```text
//! euid-data/
//!   keysets.json        keysets (wire.md §5)
//!   keyset_keys.json    keys of every keyset (wire.md §5)
//!   salts/metadata.json salt metadata: first-level salt, bucket-id prefix and secret (wire.md §3)
//!   salts/salts.txt     one salt bucket per line (wire.md §3)
//!   clients.json        API clients, keys stored as salted SHA-512 hashes (wire.md §11)
//!   optout.db           opt-out records (SQLite)
//!   demo-client.json    the demo client's api_key, client_secret, site_id and base_url
//! ```

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use euid_cstg::KeypairStore;
use serde::{Deserialize, Serialize};

/// The keypairs file, in the data directory.
pub const KEYPAIRS_FILE: &str = "client_side_keypairs.json";

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
        self.root.join("demo-client.json")
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
    pub fn state(&self) -> Result<DataDirState, DataDirError> {
        let root = &self.root;
        let meta = match fs::metadata(root) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DataDirState::Empty),
            Err(e) => return Err(DataDirError::io(root, e)),
        };
        if !meta.is_dir() {
            return Err(DataDirError::invalid(root, "not a directory"));
        }
        let mut entries = fs::read_dir(root).map_err(|e| DataDirError::io(root, e))?;
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

/// The demo client's credentials, as written to `demo-client.json`.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct DemoClient {
    /// The API key (Bearer token).
    pub api_key: String,
    /// The client secret, base64.
    pub client_secret: String,
    /// The client's site id.
    pub site_id: i32,
    /// Where the operator listens, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The demo site's client-side token generation subscription id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// The demo site's CSTG server public key (`EUID-X-L-…`), for the browser SDK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_public_key: Option<String>,
}

impl std::fmt::Debug for DemoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoClient")
            .field("site_id", &self.site_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Why the data directory could not be created, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataDirError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The directory is not empty but some required files are missing.
    #[error(
        "{path} is missing {}; nothing was created or changed (keys and salts are generated \
         only in an empty directory or by `euid init`): restore the files from a backup",
        missing.join(", ")
    )]
    Incomplete {
        /// The data directory.
        path: String,
        /// The missing files, relative to it.
        missing: Vec<String>,
    },
    /// The salts are missing next to an opt-out database recorded under them.
    #[error(
        "{path}: salts/metadata.json and salts/salts.txt are missing but optout.db is there; \
         new salts would silently unmatch every opt-out it holds: restore salts/ from a backup, \
         or pass --allow-new-salts to create new ones anyway"
    )]
    SaltsLost {
        /// The data directory.
        path: String,
    },
    /// A file's content is not valid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong (never a secret).
        message: String,
    },
}

impl DataDirError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, message: impl std::fmt::Display) -> Self {
        Self::Invalid {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}

/// A JSON parse error of a file that holds secrets, by kind and position only: serde's
/// messages quote the offending value (`invalid type: string "…"`), which can be a secret,
/// and they reach the log and the unauthenticated healthcheck.
pub(crate) fn json_error_position(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

/// Reads a whole file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, DataDirError> {
    fs::read(path).map_err(|e| DataDirError::io(path, e))
}

/// The mode of every directory the operator and the CLI create: the owner's only.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file the operator and the CLI write: the owner's only.
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` and its missing ancestors, each with mode 0700. The mode is set explicitly
/// after creation, so it does not depend on the umask; directories that already exist are
/// left as they are (see [`DataDir::permission_warnings`]).
pub fn create_private_dir_all(path: &Path) -> Result<(), DataDirError> {
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
        Ok(()) => set_mode(path, DIR_MODE).map_err(|e| DataDirError::io(path, e)),
        // Another process made it in between: it is not ours to chmod.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(DataDirError::io(path, e)),
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
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    create_private_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut file) = create_temp_file(dir, &name).map_err(|e| DataDirError::io(path, e))?;
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
        DataDirError::io(path, e)
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

/// Where the keypairs live in `dir`.
pub fn keypairs_path(dir: &DataDir) -> PathBuf {
    dir.client_side_keypairs()
}

/// Loads the keypairs; a data directory without the file has none (CSTG answers
/// `bad subscription_id`).
pub fn load_keypairs(dir: &DataDir) -> Result<KeypairStore, DataDirError> {
    let path = keypairs_path(dir);
    if !path.exists() {
        return Ok(KeypairStore::new());
    }
    KeypairStore::from_json(&read(&path)?).map_err(|e| DataDirError::invalid(&path, e))
}

/// Loads `keysets.json` and `keyset_keys.json`; an error names the file that is wrong, so the
/// log and the healthcheck point at it.
pub fn load_key_store(dir: &DataDir) -> Result<euid_token::KeyStore, DataDirError> {
    let keys_path = dir.keyset_keys();
    euid_token::KeyStore::from_json(&read(&dir.keysets())?, &read(&keys_path)?).map_err(|e| {
        let path = match &e {
            euid_token::KeyStoreError::Json { file, .. } if *file == "keysets.json" => {
                dir.keysets()
            }
            _ => keys_path.clone(),
        };
        DataDirError::invalid(&path, e)
    })
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
