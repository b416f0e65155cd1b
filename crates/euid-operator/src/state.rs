//! Operator state, the shell side: loading a [`Snapshot`] from the data directory, and the
//! [`Operator`] that swaps it atomically when files change, beside the long-lived opt-out
//! store, metrics, access log and batch permits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};
use euid_envelope::SkewPolicy;
use euid_tcf::ConsentPolicy;
use euid_token::{SaltStore, TokenGenerator};

use crate::access_log::AccessLog;
use crate::api_error::HealthProblem;
use crate::clients::ClientStore;
use crate::config::OperatorConfig;
use crate::data_dir::{self, DataDir, DataDirError};
use crate::metrics::Metrics;
use crate::optout::OptOutStore;
pub use crate::snapshot::{token_config, Snapshot, TestIdentities};

impl Snapshot {
    /// Loads a snapshot from a data directory.
    pub fn load(dir: &DataDir, config: Arc<OperatorConfig>) -> Result<Snapshot, DataDirError> {
        let clients_path = dir.clients();
        let clients = ClientStore::from_json(&data_dir::read(&clients_path)?)
            .map_err(|e| DataDirError::invalid(&clients_path, e))?;
        let keys = data_dir::load_key_store(dir)?;
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
        let cstg_keypairs = crate::data_dir::load_keypairs(dir)?;
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
///
/// Nothing a request or `/ops/healthcheck` reads is behind a lock that a reload holds: the
/// snapshot and the reload problem are swapped atomically, and the reload's own bookkeeping
/// is locked only by reloads.
pub struct Operator {
    snapshot: ArcSwap<Snapshot>,
    optouts: Arc<dyn OptOutStore>,
    metrics: Metrics,
    data_dir: DataDir,
    config: Arc<OperatorConfig>,
    reload: Mutex<ReloadState>,
    reload_problem: ArcSwapOption<ReloadProblem>,
    reload_attempts: AtomicU64,
    batch_permits: tokio::sync::Semaphore,
    access_log: AccessLog,
}

/// The reloader's bookkeeping.
#[derive(Default)]
struct ReloadState {
    stamps: FileStamps,
    failure: Option<ReloadFailure>,
}

/// A data directory that changed and does not load.
struct ReloadFailure {
    /// The error, to log each distinct one once (it may name paths: the log is the
    /// operator's own).
    message: String,
    /// Unchanged files are loaded again only from this time on.
    retry_at: Instant,
    /// The wait before `retry_at`, doubled on each failed retry.
    backoff: Duration,
}

/// What the healthcheck says about a failing reload.
struct ReloadProblem {
    since: SystemTime,
    /// Which file and what kind of failure, without paths or OS error text.
    what: String,
}

/// The longest wait between two loads of a data directory whose files did not change.
const MAX_RELOAD_BACKOFF: Duration = Duration::from_secs(60);
/// The shortest: a failed load of unchanged files is not retried sooner than this.
const MIN_RELOAD_BACKOFF: Duration = Duration::from_secs(1);

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// How a load failure is named to unauthenticated callers: the data file, relative to the
/// data directory and only if it is one of the known files, and whether it could not be
/// read or is not valid. The full error, with paths and OS error text, goes to the log only.
fn public_reason(dir: &DataDir, err: &DataDirError) -> String {
    let (path, kind) = if let DataDirError::Io { path, .. } = err {
        (path.as_str(), "cannot be read")
    } else if let DataDirError::Invalid { path, .. } = err {
        (path.as_str(), "is not valid")
    } else {
        return "the data directory does not load".to_owned();
    };
    let file = dir
        .watched_files()
        .into_iter()
        .find(|f| f.display().to_string() == path)
        .and_then(|f| {
            f.strip_prefix(dir.root())
                .ok()
                .map(|p| p.display().to_string())
        });
    match file {
        Some(name) => format!("{name} {kind}"),
        None => format!("a data file {kind}"),
    }
}

impl Operator {
    /// The operator with `log` as its access log (the default writes none).
    pub fn with_access_log(mut self, log: AccessLog) -> Operator {
        self.access_log = log;
        self
    }

    /// The access log.
    pub fn access_log(&self) -> &AccessLog {
        &self.access_log
    }

    /// Loads the data directory into a first snapshot.
    pub fn load(
        data_dir: DataDir,
        config: Arc<OperatorConfig>,
        optouts: Arc<dyn OptOutStore>,
    ) -> Result<Operator, DataDirError> {
        let stamps = file_stamps(&data_dir);
        let snapshot = Snapshot::load(&data_dir, config.clone())?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Operator {
            snapshot: ArcSwap::from_pointee(snapshot),
            optouts,
            metrics: Metrics::default(),
            data_dir,
            config,
            reload: Mutex::new(ReloadState {
                stamps,
                failure: None,
            }),
            reload_problem: ArcSwapOption::empty(),
            reload_attempts: AtomicU64::new(0),
            batch_permits: tokio::sync::Semaphore::new(cores),
            access_log: AccessLog::off(),
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

    /// Permits for batch requests' CPU work (one per core): a burst of large batches waits
    /// its turn instead of filling the blocking thread pool.
    pub fn batch_permits(&self) -> &tokio::sync::Semaphore {
        &self.batch_permits
    }

    /// How many times the data directory has been loaded since start (successful or not).
    pub fn reload_attempts(&self) -> u64 {
        self.reload_attempts.load(Ordering::Relaxed)
    }

    /// Reloads the snapshot if a watched file changed. A failed load keeps the old snapshot
    /// and is retried at once when a file changes again, else with a growing backoff
    /// (1 s or `reload_interval_ms` if longer, doubling up to 60 s) for transient errors;
    /// returns whether a new snapshot was swapped in.
    ///
    /// Blocks (it reads and parses files): call it off the async workers. Requests and the
    /// healthcheck never wait for it.
    pub fn reload_if_changed(&self) -> bool {
        // Only reloads take this lock; its state stays consistent even after a panic.
        let mut state = self.reload.lock().unwrap_or_else(PoisonError::into_inner);
        let stamps = file_stamps(&self.data_dir);
        let changed = stamps != state.stamps;
        let now = Instant::now();
        match &state.failure {
            None if !changed => return false,
            Some(f) if !changed && now < f.retry_at => return false,
            _ => {}
        }
        state.stamps = stamps;
        self.reload_attempts.fetch_add(1, Ordering::Relaxed);
        match Snapshot::load(&self.data_dir, self.config.clone()) {
            Ok(snapshot) => {
                self.snapshot.store(Arc::new(snapshot));
                state.failure = None;
                self.reload_problem.store(None);
                tracing::info!("data directory changed: new snapshot loaded");
                true
            }
            Err(err) => {
                let message = err.to_string();
                let previous = state.failure.take();
                if previous.as_ref().map(|f| f.message.as_str()) != Some(message.as_str()) {
                    tracing::warn!(error = %message, "data directory changed but does not load; keeping the previous snapshot");
                }
                let interval = Duration::from_millis(self.config.reload_interval_ms);
                let backoff = match &previous {
                    Some(f) if !changed => (f.backoff * 2).min(MAX_RELOAD_BACKOFF),
                    _ => interval.clamp(MIN_RELOAD_BACKOFF, MAX_RELOAD_BACKOFF),
                };
                state.failure = Some(ReloadFailure {
                    message,
                    retry_at: now + backoff,
                    backoff,
                });
                let since = self
                    .reload_problem
                    .load()
                    .as_ref()
                    .map_or_else(SystemTime::now, |p| p.since);
                self.reload_problem.store(Some(Arc::new(ReloadProblem {
                    since,
                    what: public_reason(&self.data_dir, &err),
                })));
                false
            }
        }
    }

    /// Why the operator is unhealthy, if it is: a data directory that changed but fails to
    /// load (the snapshot in use is stale), or opt-out records that cannot be read. Takes no
    /// lock, so a reload in progress never delays it.
    pub fn health_problem(&self) -> Option<HealthProblem> {
        if let Some(problem) = self.reload_problem.load().as_ref() {
            let since = problem.since.elapsed().unwrap_or(Duration::ZERO);
            return Some(HealthProblem::Stale {
                seconds: since.as_secs(),
                what: problem.what.clone(),
            });
        }
        if self.optouts.available().is_err() {
            return Some(HealthProblem::OptOutsUnavailable);
        }
        None
    }
}
