//! Operator state: an immutable [`Snapshot`] of everything loaded from the data directory,
//! swapped atomically when files change, plus the long-lived opt-out store and metrics.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use euid_envelope::SkewPolicy;
use euid_normalize::IdentityHash;
use euid_tcf::ConsentPolicy;
use euid_token::{
    first_level_hash, IdentityScope, KeyStore, SaltStore, TokenConfig, TokenGenerator,
};

use crate::clients::ClientStore;
use crate::config::OperatorConfig;
use crate::data_dir::{self, DataDir, DataDirError};
use crate::metrics::Metrics;
use crate::optout::OptOutStore;

/// Everything a request needs that only changes when files change: held as `Arc<Snapshot>`
/// for the length of one request, so a reload never changes state under a request.
pub struct Snapshot {
    /// Operator settings.
    pub config: Arc<OperatorConfig>,
    /// API clients.
    pub clients: ClientStore,
    /// Keysets and keys.
    pub keys: KeyStore,
    /// Salts.
    pub salts: SaltStore,
    /// Token minting with the configured lifetimes.
    pub generator: TokenGenerator,
    /// The TCF consent policy.
    pub consent: ConsentPolicy,
    /// The request envelope's timestamp window.
    pub skew: SkewPolicy,
    /// First-level hashes of the test identities under these salts.
    pub test_identities: TestIdentities,
    /// Client-side token generation keypairs (`client_side_keypairs.json`).
    pub cstg_keypairs: euid_cstg::KeypairStore,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("clients", &self.clients.len())
            .field("keys", &self.keys)
            .field("salt_buckets", &self.salts.len())
            .finish_non_exhaustive()
    }
}

/// The test identities of decision 5, as first-level hashes under one salt snapshot (so the
/// email, its hash and its hex hash all match).
#[derive(Clone, Default)]
pub struct TestIdentities {
    /// Never treated as opted out.
    pub validate: Vec<[u8; 32]>,
    /// Refresh answers `optout`.
    pub refresh_optout: Vec<[u8; 32]>,
    /// Opted out wherever opt-outs are checked (identity map; generate when enabled).
    pub optout: Vec<[u8; 32]>,
}

impl std::fmt::Debug for TestIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestIdentities")
    }
}

const VALIDATE_EMAILS: [&str; 2] = ["validate@email.com", "validate@example.com"];
const VALIDATE_PHONES: [&str; 1] = ["+12345678901"];
const OPTOUT_EMAILS: [&str; 1] = ["optout@example.com"];
const OPTOUT_PHONES: [&str; 1] = ["+00000000000"];
const REFRESH_OPTOUT_EMAILS: [&str; 3] = [
    "optout@email.com",
    "optout@example.com",
    "refresh-optout@example.com",
];
const REFRESH_OPTOUT_PHONES: [&str; 2] = ["+00000000000", "+00000000002"];

impl TestIdentities {
    /// The test identities' first-level hashes under `salts`.
    pub fn new(salts: &SaltStore) -> Self {
        fn flhs(salts: &SaltStore, emails: &[&str], phones: &[&str]) -> Vec<[u8; 32]> {
            let email = emails
                .iter()
                .filter_map(|e| euid_normalize::hash_email(e).ok());
            let phone = phones
                .iter()
                .filter_map(|p| euid_normalize::hash_phone(p).ok());
            email
                .chain(phone)
                .map(|h: IdentityHash| first_level_hash(h.as_bytes(), salts))
                .collect()
        }
        Self {
            validate: flhs(salts, &VALIDATE_EMAILS, &VALIDATE_PHONES),
            refresh_optout: flhs(salts, &REFRESH_OPTOUT_EMAILS, &REFRESH_OPTOUT_PHONES),
            optout: flhs(salts, &OPTOUT_EMAILS, &OPTOUT_PHONES),
        }
    }

    /// Whether this is a validate identity (never opted out).
    pub fn is_validate(&self, flh: &[u8; 32]) -> bool {
        self.validate.contains(flh)
    }
}

/// The token settings of a config.
pub fn token_config(config: &OperatorConfig) -> TokenConfig {
    TokenConfig {
        identity_expires_after_ms: config
            .identity_token_expires_after_seconds
            .saturating_mul(1000),
        refresh_identity_after_ms: config
            .refresh_identity_token_after_seconds
            .saturating_mul(1000),
        refresh_expires_after_ms: config
            .refresh_token_expires_after_seconds
            .saturating_mul(1000),
        scope: IdentityScope::Euid,
        raw_uid_v3: true,
    }
}

impl Snapshot {
    /// Loads a snapshot from a data directory.
    pub fn load(dir: &DataDir, config: Arc<OperatorConfig>) -> Result<Snapshot, DataDirError> {
        let clients_path = dir.clients();
        let clients = ClientStore::from_json(&data_dir::read(&clients_path)?)
            .map_err(|e| DataDirError::invalid(&clients_path, e))?;
        let keys_path = dir.keyset_keys();
        let keys = KeyStore::from_json(
            &data_dir::read(&dir.keysets())?,
            &data_dir::read(&keys_path)?,
        )
        .map_err(|e| DataDirError::invalid(&keys_path, e))?;
        let salts_path = dir.salts_file();
        let salts = SaltStore::from_files(
            &data_dir::read(&dir.salts_metadata())?,
            &data_dir::read(&salts_path)?,
        )
        .map_err(|e| DataDirError::invalid(&salts_path, e))?;
        let generator = TokenGenerator::new(token_config(&config))
            .map_err(|e| DataDirError::invalid(dir.root(), e))?;
        let consent = ConsentPolicy {
            vendor_id: config.tcf_vendor_id,
            purposes: config.tcf_purposes.clone(),
        };
        let skew_ms = config.envelope_max_skew_seconds.saturating_mul(1000);
        let skew = SkewPolicy {
            max_past_ms: skew_ms,
            max_future_ms: skew_ms,
        };
        let test_identities = TestIdentities::new(&salts);
        let cstg_keypairs = crate::cstg::load_keypairs(dir)?;
        Ok(Snapshot {
            config,
            clients,
            keys,
            salts,
            generator,
            consent,
            skew,
            test_identities,
            cstg_keypairs,
        })
    }
}

/// Modification stamps of the watched files, to notice changes cheaply.
pub(crate) type FileStamps = Vec<Option<(SystemTime, u64)>>;

pub(crate) fn file_stamps(dir: &DataDir) -> FileStamps {
    dir.watched_files()
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// The whole operator: current snapshot, opt-outs, metrics and reload status.
pub struct Operator {
    snapshot: ArcSwap<Snapshot>,
    optouts: Arc<dyn OptOutStore>,
    metrics: Metrics,
    data_dir: DataDir,
    config: Arc<OperatorConfig>,
    reload: Mutex<ReloadStatus>,
}

#[derive(Default)]
struct ReloadStatus {
    stamps: FileStamps,
    /// Set while the files on disk differ from the snapshot and do not load.
    failing_since: Option<SystemTime>,
    last_error: Option<String>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Operator {
    /// Loads the data directory into a first snapshot.
    pub fn load(
        data_dir: DataDir,
        config: Arc<OperatorConfig>,
        optouts: Arc<dyn OptOutStore>,
    ) -> Result<Operator, DataDirError> {
        let stamps = file_stamps(&data_dir);
        let snapshot = Snapshot::load(&data_dir, config.clone())?;
        Ok(Operator {
            snapshot: ArcSwap::from_pointee(snapshot),
            optouts,
            metrics: Metrics::default(),
            data_dir,
            config,
            reload: Mutex::new(ReloadStatus {
                stamps,
                ..ReloadStatus::default()
            }),
        })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The opt-out store.
    pub fn optouts(&self) -> &dyn OptOutStore {
        &*self.optouts
    }

    /// Request metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The operator settings.
    pub fn config(&self) -> &OperatorConfig {
        &self.config
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// Reloads the snapshot if a watched file changed. A failed load keeps the old snapshot
    /// (and is retried on the next change or call); returns whether a new snapshot was
    /// swapped in.
    pub fn reload_if_changed(&self) -> bool {
        let stamps = file_stamps(&self.data_dir);
        let Ok(mut status) = self.reload.lock() else {
            return false;
        };
        if stamps == status.stamps && status.failing_since.is_none() {
            return false;
        }
        match Snapshot::load(&self.data_dir, self.config.clone()) {
            Ok(snapshot) => {
                self.snapshot.store(Arc::new(snapshot));
                status.stamps = stamps;
                status.failing_since = None;
                status.last_error = None;
                tracing::info!("data directory changed: new snapshot loaded");
                true
            }
            Err(err) => {
                let message = err.to_string();
                if status.last_error.as_deref() != Some(message.as_str()) {
                    tracing::warn!(error = %message, "data directory changed but does not load; keeping the previous snapshot");
                }
                status.failing_since.get_or_insert_with(SystemTime::now);
                status.last_error = Some(message);
                status.stamps = stamps;
                false
            }
        }
    }

    /// Why the operator is unhealthy, if it is: a data directory that changed but fails to
    /// load means the snapshot in use is stale.
    pub fn health_problem(&self) -> Option<String> {
        let status = self.reload.lock().ok()?;
        status.last_error.as_ref().map(|e| {
            let since = status
                .failing_since
                .and_then(|t| t.elapsed().ok())
                .unwrap_or(Duration::ZERO);
            format!(
                "stale: data directory does not reload ({}s): {e}",
                since.as_secs()
            )
        })
    }
}
