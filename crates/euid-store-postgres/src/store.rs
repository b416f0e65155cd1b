//! [`PostgresStore`]: the store itself (skeleton).

use std::time::Duration;

use euid_store::optout::{OptOutError, OptOutRecord, OptOutStore, SequencedOptOut};
use euid_store::{
    ChangeToken, ImportReport, InitOptions, InitReport, KeyMaintenance, RotateOptions, RotatedKey,
    RotationPolicy, SaltValidity, SnapshotSource, StoreError, StoreSnapshot, StoreWriter,
};
use euid_token::SaltStore;

use crate::migrations::MigrationReport;
use crate::settings::{redact_url, PgSettings};

/// Keys, salts, clients, keypairs and opt-outs in one PostgreSQL database.
pub struct PostgresStore {
    location: String,
    settings: PgSettings,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.location)
            .finish_non_exhaustive()
    }
}

fn not_yet(what: &str) -> StoreError {
    StoreError::Settings {
        message: format!("{what}: not implemented yet (skeleton)"),
    }
}

impl PostgresStore {
    /// Connects without looking at the schema (for `euid init`).
    pub fn connect(url: &str, settings: PgSettings) -> Result<Self, StoreError> {
        Ok(Self {
            location: redact_url(url),
            settings,
        })
    }

    /// Applies pending versioned migrations; reports what it applied.
    pub fn migrate(&self) -> Result<MigrationReport, StoreError> {
        Err(not_yet("migrate"))
    }

    /// Whether the database already holds data (keys, salts, clients, keypairs, opt-outs).
    pub fn has_data(&self) -> Result<bool, StoreError> {
        Err(not_yet("has_data"))
    }

    /// For a replica: refuses an uninitialised database or an unknown schema version, loads
    /// the opt-out mirror and starts the listener thread.
    pub fn open_replica(url: &str, settings: PgSettings) -> Result<Self, StoreError> {
        let _ = (url, settings);
        Err(not_yet("open_replica"))
    }

    /// Health of the database link: Ok, or why not (no secrets).
    pub fn health(&self) -> Result<(), StoreError> {
        let _ = &self.settings;
        Err(not_yet("health"))
    }

    /// Copies opt-outs (from another store's `records_since`) into this one, in order.
    pub fn import_optouts(&self, records: &[SequencedOptOut]) -> Result<(), StoreError> {
        let _ = records;
        Err(not_yet("import_optouts"))
    }
}

impl SnapshotSource for PostgresStore {
    fn load_snapshot(&self) -> Result<StoreSnapshot, StoreError> {
        Err(not_yet("load_snapshot"))
    }

    fn change_token(&self) -> ChangeToken {
        ChangeToken::unavailable()
    }

    fn wait_for_change(&self, timeout: Duration) -> bool {
        let _ = timeout;
        false
    }

    fn public_reason(&self, err: &StoreError) -> String {
        let _ = err;
        "database unavailable".to_owned()
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

impl StoreWriter for PostgresStore {
    fn initialize(&self, options: &InitOptions) -> Result<InitReport, StoreError> {
        let _ = options;
        Err(not_yet("initialize"))
    }

    fn rotate_keys(
        &self,
        options: &RotateOptions,
        now_s: i64,
    ) -> Result<Vec<RotatedKey>, StoreError> {
        let _ = (options, now_s);
        Err(not_yet("rotate_keys"))
    }

    fn maintain_keys(
        &self,
        policy: &RotationPolicy,
        now_s: i64,
    ) -> Result<KeyMaintenance, StoreError> {
        let _ = (policy, now_s);
        Err(not_yet("maintain_keys"))
    }

    fn write_salts(&self, salts: &SaltStore, validity: &SaltValidity) -> Result<(), StoreError> {
        let _ = (salts, validity);
        Err(not_yet("write_salts"))
    }

    fn import(&self, snapshot: &StoreSnapshot) -> Result<ImportReport, StoreError> {
        let _ = snapshot;
        Err(not_yet("import"))
    }
}

impl OptOutStore for PostgresStore {
    fn record(&self, record: &OptOutRecord) -> Result<(), OptOutError> {
        let _ = record;
        Err(OptOutError::Unavailable)
    }

    fn opted_out_since(&self, first_level_hash: &[u8; 32]) -> Result<Option<i64>, OptOutError> {
        let _ = first_level_hash;
        Err(OptOutError::Unavailable)
    }

    fn advertising_id_opted_out_since(
        &self,
        advertising_id: &[u8],
    ) -> Result<Option<i64>, OptOutError> {
        let _ = advertising_id;
        Err(OptOutError::Unavailable)
    }

    fn available(&self) -> Result<(), OptOutError> {
        Err(OptOutError::Unavailable)
    }

    fn len(&self) -> usize {
        0
    }

    fn latest_sequence(&self) -> Result<u64, OptOutError> {
        Err(OptOutError::Unavailable)
    }

    fn records_since(&self, after: u64, limit: usize) -> Result<Vec<SequencedOptOut>, OptOutError> {
        let _ = (after, limit);
        Err(OptOutError::Unavailable)
    }
}
