#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod clients;
pub mod data_dir;
pub mod demo;
pub mod error;
pub mod init;
pub mod keys;
pub mod optout;
pub mod optout_index;
pub mod snapshot;
pub mod store;

pub use clients::{
    api_key_hash, new_client, parse_clients_json, ClientRecord, ClientsError, DecodedCredentials,
    NewClient, Role, RoleSet,
};
pub use data_dir::{
    create_private_dir_all, create_private_file, keypairs_path, load_key_store, load_keypairs,
    write_atomic, DataDir, DataDirState, DEFAULT_DATA_DIR, DEMO_CLIENT_FILE, DIR_MODE, FILE_MODE,
    KEYPAIRS_FILE, REQUIRED_FILES,
};
pub use demo::{
    read_demo_client, write_demo_client, DemoClient, DemoCredentials, DemoCredentialsError,
};
pub use error::{DataDirError, StoreError};
pub use init::{
    fresh_snapshot, init_data_dir, open_data_dir, InitOptions, InitReport, DEFAULT_BASE_URL,
    DEMO_DOMAINS, DEMO_KEYSET_ID,
};
pub use keys::{
    maintain_keys, rotate_keys, KeyMaintenance, RotateOptions, RotatedKey, RotationPolicy,
    DEFAULT_KEY_LIFETIME_SECONDS, DEFAULT_KEY_NOTICE_SECONDS,
};
pub use optout::{OptOutError, OptOutRecord, OptOutStore, SequencedOptOut};
pub use optout_index::OptOutIndex;
pub use snapshot::{ChangeToken, SaltValidity, StoreSnapshot};
pub use store::{
    plan_salt_rotation, DataDirStore, ImportReport, SnapshotSource, Store, StoreWriter,
};

/// The current time, epoch seconds: the one place this crate reads the clock (functions
/// that are tested at other times take `now_s`).
pub(crate) fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
