//! Operator state, the shell side: a [`Snapshot`] built from the parts its store loads (the
//! data directory, through euid-store), and the [`Operator`] that swaps it atomically when
//! the store changes, beside the long-lived opt-out store, metrics, access log and batch
//! permits.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};
use euid_envelope::SkewPolicy;
use euid_store::{ChangeToken, DataDir, DataDirError, DataDirStore, StoreSnapshot};
use euid_tcf::ConsentPolicy;

use crate::access_log::AccessLog;
use crate::api_error::HealthProblem;
use crate::clients::ClientStore;
use crate::config::OperatorConfig;
use crate::metrics::Metrics;
use crate::optout::{OptOutError, OptOutStore};
use crate::snapshot::{token_generator, Snapshot, TestIdentities};

impl Snapshot {
    /// Loads a snapshot from a data directory.
    pub fn load(dir: &DataDir, config: Arc<OperatorConfig>) -> Result<Self, DataDirError> {
        Self::from_parts(
            euid_store::SnapshotSource::load_snapshot(&DataDirStore::new(dir.clone()))?,
            config,
        )
    }

    /// Prepares what a store loaded for requests: clients for authentication, the token
    /// generator, consent and skew policies, and the test identities under these salts.
    pub fn from_parts(
        parts: StoreSnapshot,
        config: Arc<OperatorConfig>,
    ) -> Result<Self, DataDirError> {
        let StoreSnapshot {
            keys,
            salts,
            clients,
            keypairs,
            ..
        } = parts;
        // A store hands out checked records, so this fails only for one that did not.
        let clients = ClientStore::from_records(&clients)
            .map_err(|e| DataDirError::invalid(Path::new("clients.json"), e))?;
        let generator = token_generator(&config)
            .map_err(|e| DataDirError::invalid(Path::new("token configuration"), e))?;
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
        Ok(Self {
            config,
            clients,
            keys,
            salts,
            generator,
            consent,
            skew,
            test_identities,
            cstg_keypairs: keypairs,
        })
    }
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
    store: Arc<dyn euid_store::Store>,
    config: Arc<OperatorConfig>,
    reload: Mutex<ReloadState>,
    reload_problem: ArcSwapOption<ReloadProblem>,
    reload_attempts: AtomicU64,
    batch_permits: tokio::sync::Semaphore,
    access_log: AccessLog,
    /// Whether the store is the data directory (`Operator::load`), for the healthcheck's
    /// wording; any other store is a database.
    data_dir_store: bool,
}

/// The reloader's bookkeeping.
#[derive(Default)]
struct ReloadState {
    token: ChangeToken,
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
            .field("store", &self.store.location())
            .finish_non_exhaustive()
    }
}

impl Operator {
    /// The operator with `log` as its access log (the default writes none).
    pub fn with_access_log(mut self, log: AccessLog) -> Self {
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
    ) -> Result<Self, DataDirError> {
        let mut operator =
            Self::from_store(Arc::new(DataDirStore::new(data_dir)), config, optouts)?;
        operator.data_dir_store = true;
        Ok(operator)
    }

    /// Loads a first snapshot from `store`, which the reload loop then watches. Blocks on the
    /// store: call it off the async workers.
    pub fn from_store(
        store: Arc<dyn euid_store::Store>,
        config: Arc<OperatorConfig>,
        optouts: Arc<dyn OptOutStore>,
    ) -> Result<Self, DataDirError> {
        let token = store.change_token();
        let snapshot = Snapshot::from_parts(store.load_snapshot()?, config.clone())?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            snapshot: ArcSwap::from_pointee(snapshot),
            optouts,
            metrics: Metrics::default(),
            store,
            config,
            reload: Mutex::new(ReloadState {
                token,
                failure: None,
            }),
            reload_problem: ArcSwapOption::empty(),
            reload_attempts: AtomicU64::new(0),
            // One core fewer than the machine has (at least one): with a permit per core, a
            // few map clients took every core and generate waited behind them (on 2 cores,
            // 2 map connections cut generate from 47k to 16k requests/s, p90 0.2 → 6 ms;
            // docs/PERFORMANCE.md, "How cost grows").
            batch_permits: tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1)),
            access_log: AccessLog::off(),
            data_dir_store: false,
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

    /// Where the snapshot comes from, and where key rotation writes.
    pub fn store(&self) -> &dyn euid_store::Store {
        &*self.store
    }

    /// Permits for batch requests' CPU work (one per core but one, at least one): a burst of
    /// large batches waits its turn instead of filling the blocking thread pool, and leaves
    /// a core to the short requests.
    pub fn batch_permits(&self) -> &tokio::sync::Semaphore {
        &self.batch_permits
    }

    /// How many times the data directory has been loaded since start (successful or not).
    pub fn reload_attempts(&self) -> u64 {
        self.reload_attempts.load(Ordering::Relaxed)
    }

    /// Reloads the snapshot if the store's change token moved (for the data directory: a
    /// watched file changed). A failed load keeps the old snapshot and is retried at once
    /// when the store changes again, else with a growing backoff
    /// (1 s or `reload_interval_ms` if longer, doubling up to 60 s) for transient errors;
    /// returns whether a new snapshot was swapped in.
    ///
    /// Blocks (it reads and parses files): call it off the async workers. Requests and the
    /// healthcheck never wait for it.
    pub fn reload_if_changed(&self) -> bool {
        // Only reloads take this lock; its state stays consistent even after a panic.
        let mut state = self.reload.lock().unwrap_or_else(PoisonError::into_inner);
        let token = self.store.change_token();
        let changed = token != state.token;
        let now = Instant::now();
        match &state.failure {
            None if !changed => return false,
            Some(f) if !changed && now < f.retry_at => return false,
            _ => {}
        }
        state.token = token;
        self.reload_attempts.fetch_add(1, Ordering::Relaxed);
        let loaded = self
            .store
            .load_snapshot()
            .and_then(|parts| Snapshot::from_parts(parts, self.config.clone()));
        match loaded {
            Ok(snapshot) => {
                self.snapshot.store(Arc::new(snapshot));
                state.failure = None;
                self.reload_problem.store(None);
                tracing::info!(store = %self.store.location(), "store changed: new snapshot loaded");
                true
            }
            Err(err) => {
                let message = err.to_string();
                let previous = state.failure.take();
                if previous.as_ref().map(|f| f.message.as_str()) != Some(message.as_str()) {
                    tracing::warn!(error = %message, "store changed but does not load; keeping the previous snapshot");
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
                    what: self.store.public_reason(&err),
                })));
                false
            }
        }
    }

    /// Why the operator is unhealthy, if it is: an opt-out store that takes no writes while
    /// its lookups still answer from memory (a shared database that is down: degraded), a
    /// store that changed but fails to load (the snapshot in use is stale), or opt-out
    /// records that cannot be read. Takes no lock and never waits on a database, so neither
    /// a reload in progress nor a database that hangs delays it.
    pub fn health_problem(&self) -> Option<HealthProblem> {
        let optouts = self.optouts.available();
        // Degraded first: it is what a database outage means for callers (logouts are
        // refused), while the stale snapshot beside it is still served as it was.
        if matches!(optouts, Err(OptOutError::Unavailable))
            && self.optouts.opted_out_since(&[0; 32]).is_ok()
        {
            return Some(HealthProblem::OptOutStoreDegraded);
        }
        if let Some(problem) = self.reload_problem.load().as_ref() {
            let seconds = problem.since.elapsed().unwrap_or(Duration::ZERO).as_secs();
            let what = problem.what.clone();
            return Some(if self.data_dir_store {
                HealthProblem::Stale { seconds, what }
            } else {
                HealthProblem::StaleDatabase { seconds, what }
            });
        }
        if optouts.is_err() {
            return Some(HealthProblem::OptOutsUnavailable);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    use euid_store::{
        InitOptions, InitReport, KeyMaintenance, RotateOptions, RotatedKey, RotationPolicy,
        SaltValidity, SnapshotSource, StoreError, StoreWriter,
    };
    use euid_token::SaltStore;

    use super::*;
    use crate::api_error::ApiError;
    use crate::optout::SqliteOptOutStore;

    /// A store whose change token the test sets, over a real data directory, that can be
    /// made to fail like a database that is down.
    struct Switched {
        inner: DataDirStore,
        token: Mutex<ChangeToken>,
        loads: AtomicUsize,
        down: AtomicBool,
    }

    impl SnapshotSource for Switched {
        fn load_snapshot(&self) -> Result<StoreSnapshot, StoreError> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Backend {
                    what: "loading the snapshot".into(),
                    source: "connection refused".into(),
                });
            }
            self.inner.load_snapshot()
        }
        fn change_token(&self) -> ChangeToken {
            self.token.lock().unwrap().clone()
        }
        fn public_reason(&self, err: &StoreError) -> String {
            match err {
                StoreError::Backend { .. } => "the database does not answer".to_owned(),
                other => self.inner.public_reason(other),
            }
        }
        fn location(&self) -> String {
            "test database".to_owned()
        }
    }

    impl StoreWriter for Switched {
        fn initialize(&self, options: &InitOptions) -> Result<InitReport, StoreError> {
            self.inner.initialize(options)
        }
        fn rotate_keys(&self, o: &RotateOptions, now: i64) -> Result<Vec<RotatedKey>, StoreError> {
            self.inner.rotate_keys(o, now)
        }
        fn maintain_keys(
            &self,
            p: &RotationPolicy,
            now: i64,
        ) -> Result<KeyMaintenance, StoreError> {
            self.inner.maintain_keys(p, now)
        }
        fn write_salts(&self, s: &SaltStore, v: &SaltValidity) -> Result<(), StoreError> {
            self.inner.write_salts(s, v)
        }
        fn rotate_salts(
            &self,
            fraction: f64,
            now_ms: i64,
        ) -> Result<euid_token::SaltRotation, StoreError> {
            self.inner.rotate_salts(fraction, now_ms)
        }
        fn import(&self, s: &StoreSnapshot) -> Result<euid_store::ImportReport, StoreError> {
            self.inner.import(s)
        }
    }

    #[test]
    fn reloads_follow_the_change_token_of_any_store() {
        let tmp = tempfile::tempdir().unwrap();
        let inner = DataDirStore::at(tmp.path());
        inner
            .initialize(&InitOptions {
                salt_bucket_count: 4,
                ..InitOptions::default()
            })
            .unwrap();
        let store = Arc::new(Switched {
            inner,
            token: Mutex::new(ChangeToken::from_words([1])),
            loads: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        });
        let optouts = Arc::new(SqliteOptOutStore::open(&tmp.path().join("optout.db")).unwrap());
        // A minute's backoff after a failed load, so the second poll below is surely inside it.
        let config = OperatorConfig::from_json(br#"{"reload_interval_ms":60000}"#).unwrap();
        let operator = Operator::from_store(store.clone(), Arc::new(config), optouts).unwrap();
        let loads = || store.loads.load(Ordering::SeqCst);
        let set = |token: ChangeToken| *store.token.lock().unwrap() = token;
        assert_eq!(loads(), 1);
        assert_eq!(
            format!("{operator:?}"),
            "Operator { store: \"test database\", .. }"
        );

        // The same token: nothing is read.
        assert!(!operator.reload_if_changed());
        assert_eq!(loads(), 1);
        set(ChangeToken::from_words([2]));
        assert!(operator.reload_if_changed());
        assert_eq!(loads(), 2);

        // The store goes down: the first poll tries once and reports it, later polls of the
        // same unavailable token wait for the backoff instead of loading again.
        store.down.store(true, Ordering::SeqCst);
        set(ChangeToken::unavailable());
        assert!(!operator.reload_if_changed());
        assert_eq!(loads(), 3);
        let problem = operator.health_problem().unwrap().to_string();
        assert!(
            problem.ends_with("): the database does not answer"),
            "{problem}"
        );
        assert!(!operator.reload_if_changed());
        assert_eq!(loads(), 3);

        // Back up, with a new token: loaded at once, healthy again.
        store.down.store(false, Ordering::SeqCst);
        set(ChangeToken::from_words([3]));
        assert!(operator.reload_if_changed());
        assert_eq!(loads(), 4);
        assert_eq!(operator.health_problem(), None);
    }

    /// Opt-outs like a shared database's: lookups from a real SQLite store's memory, and a
    /// switch that makes writes and `available` fail as when the database does not answer.
    struct Degradable {
        inner: SqliteOptOutStore,
        down: AtomicBool,
    }

    impl OptOutStore for Degradable {
        fn record(&self, r: &crate::optout::OptOutRecord) -> Result<(), OptOutError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(OptOutError::Unavailable);
            }
            self.inner.record(r)
        }
        fn opted_out_since(&self, flh: &[u8; 32]) -> Result<Option<i64>, OptOutError> {
            self.inner.opted_out_since(flh)
        }
        fn advertising_id_opted_out_since(&self, id: &[u8]) -> Result<Option<i64>, OptOutError> {
            self.inner.advertising_id_opted_out_since(id)
        }
        fn available(&self) -> Result<(), OptOutError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(OptOutError::Unavailable);
            }
            self.inner.available()
        }
        fn len(&self) -> usize {
            self.inner.len()
        }
    }

    #[test]
    fn an_unavailable_store_refuses_logouts_with_503_records_nothing_and_reports_degraded() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("data"));
        euid_store::init_data_dir(
            dir.root(),
            &InitOptions {
                salt_bucket_count: 4,
                ..InitOptions::default()
            },
        )
        .unwrap();
        let optouts = Arc::new(Degradable {
            inner: SqliteOptOutStore::open(&tmp.path().join("optout.db")).unwrap(),
            down: AtomicBool::new(false),
        });
        let operator =
            Operator::load(dir, Arc::new(OperatorConfig::default()), optouts.clone()).unwrap();
        let snapshot = operator.snapshot();
        let logout = |email: &str| {
            let json = format!(r#"{{"email":"{email}"}}"#);
            crate::endpoints::logout(&snapshot, operator.optouts(), json.as_bytes(), 1_000)
        };
        assert!(logout("before@example.com").is_ok());
        assert_eq!(operator.health_problem(), None);

        optouts.down.store(true, Ordering::SeqCst);
        let refused = logout("during@example.com").unwrap_err();
        assert_eq!(refused, ApiError::OptOutStoreUnavailable);
        assert_eq!(crate::ApiResponse::from(refused).http_status, 503);
        assert_eq!(optouts.len(), 1, "a refused logout records nothing");
        // Lookups still answer from memory: the earlier opt-out is still honoured.
        let hash = euid_normalize::IdentityInput::Email("before@example.com")
            .to_identity_hash()
            .unwrap();
        let flh = euid_token::first_level_hash(hash.as_bytes(), &snapshot.salts);
        assert_eq!(optouts.opted_out_since(&flh).unwrap(), Some(1_000));
        assert_eq!(
            operator.health_problem(),
            Some(HealthProblem::OptOutStoreDegraded)
        );

        optouts.down.store(false, Ordering::SeqCst);
        assert!(logout("during@example.com").is_ok());
        assert_eq!(optouts.len(), 2);
        assert_eq!(operator.health_problem(), None);
    }
}
