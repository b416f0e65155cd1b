//! The one error type of every store: what failed and where, never what a file holds.

use std::path::Path;

/// Why a store could not be created, read or written.
///
/// No variant ever carries file or row contents: keys, salts, client secrets and key hashes
/// live in the same files as the fields a parser might quote, and these errors reach the log
/// (and, reduced to [`SnapshotSource::public_reason`](crate::SnapshotSource::public_reason),
/// the unauthenticated healthcheck).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
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
    /// A file's content (or a stored part's) is not valid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file, or the part of the store.
        path: String,
        /// What is wrong (never a secret).
        message: String,
    },
    /// An import or a seed was refused because the target already holds data.
    #[error("{path} already holds data; nothing was changed")]
    NotEmpty {
        /// The store (a data directory's path).
        path: String,
    },
    /// A database has no schema or no data yet: `euid init --store …` creates them (a replica
    /// never does).
    #[error("{store} is not initialised (run `euid init --store …` first); nothing was changed")]
    Uninitialized {
        /// The store (a database's redacted URL).
        store: String,
    },
    /// A database's schema is newer than this build knows: it was migrated by a later
    /// release, whose tables this one could misread.
    #[error(
        "{store} has schema version {found}, this build knows versions up to {known}: \
         upgrade this binary"
    )]
    UnknownSchemaVersion {
        /// The store (a database's redacted URL).
        store: String,
        /// The version the database records.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A store's settings are not usable (a TLS mode this build cannot do, a malformed URL).
    /// The message never quotes a password.
    #[error("store settings: {message}")]
    Settings {
        /// What is wrong.
        message: String,
    },
    /// A storage backend other than the file system failed (a database connection, a
    /// transaction). Backends put only their own error text here, never row contents.
    #[error("{what}: {source}")]
    Backend {
        /// What the backend was doing.
        what: String,
        /// Its error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The name the data directory's functions have always used for [`StoreError`].
pub type DataDirError = StoreError;

impl StoreError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Invalid content in `path` (or the store part it names); `message` must not quote the
    /// content.
    pub fn invalid(path: &Path, message: impl std::fmt::Display) -> Self {
        Self::Invalid {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}

/// A JSON parse error of a file that holds secrets, by kind and position only: serde's
/// messages quote the offending value (`invalid type: string "…"`), which can be a secret,
/// and they reach the log and the unauthenticated healthcheck.
pub fn json_error_position(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}
