//! Operator state: an immutable [`Snapshot`] of everything loaded from the data directory,
//! swapped atomically when files change, plus the long-lived opt-out store and metrics.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::clients::ClientStore;
use crate::config::OperatorConfig;
use crate::data_dir::{self, DataDir, DataDirError};
use crate::metrics::Metrics;
use crate::optout::OptOutStore;

/// Everything a request needs that only changes when files change: held as `Arc<Snapshot>`
/// for the length of one request, so a reload never changes state under a request.
#[derive(Debug)]
pub struct Snapshot {
    /// Operator settings.
    pub config: Arc<OperatorConfig>,
    /// API clients.
    pub clients: ClientStore,
}

impl Snapshot {
    /// Loads a snapshot from a data directory.
    pub fn load(dir: &DataDir, config: Arc<OperatorConfig>) -> Result<Snapshot, DataDirError> {
        let clients_path = dir.clients();
        let clients = ClientStore::from_json(&data_dir::read(&clients_path)?)
            .map_err(|e| DataDirError::invalid(&clients_path, e))?;
        Ok(Snapshot { config, clients })
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
