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

use serde::{Deserialize, Serialize};

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
        self.root.join(crate::cstg::KEYPAIRS_FILE)
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

/// Writes a file atomically: a temporary file in the same directory, fsynced, then renamed
/// over the target, so readers (and the reloader) see the old or the new content, never a
/// torn one. Secrets files get mode 0600 on Unix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(|e| DataDirError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // Persist the rename itself.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e: std::io::Error| {
        let _ = fs::remove_file(&tmp);
        DataDirError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
