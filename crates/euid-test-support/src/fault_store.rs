//! Store faults for the failure-path tests: a real opt-out store that can be switched away
//! (every call `Unavailable`, as a database that does not answer) or made to fail its writes
//! (as a database that answers but refuses the insert), and the operator's own router and
//! accept loop over such a store.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use euid_operator::{DataDir, Operator, OperatorConfig};
use euid_operator::{OptOutError, OptOutRecord, OptOutStore};

/// A real opt-out store behind two switches; with both off it is the store itself.
pub struct SwitchableOptOuts<S> {
    inner: S,
    away: AtomicBool,
    failing_writes: AtomicBool,
}

impl<S: OptOutStore> SwitchableOptOuts<S> {
    /// `inner`, with both switches off.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            away: AtomicBool::new(false),
            failing_writes: AtomicBool::new(false),
        }
    }

    /// While on, every call fails with [`OptOutError::Unavailable`].
    pub fn set_away(&self, on: bool) {
        self.away.store(on, Ordering::SeqCst);
    }

    /// While on, `record` fails with [`OptOutError::Malformed`] (a write the database refused);
    /// lookups still answer.
    pub fn set_failing_writes(&self, on: bool) {
        self.failing_writes.store(on, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), OptOutError> {
        if self.away.load(Ordering::SeqCst) {
            return Err(OptOutError::Unavailable);
        }
        Ok(())
    }
}

impl<S: OptOutStore> OptOutStore for SwitchableOptOuts<S> {
    fn record(&self, record: &OptOutRecord) -> Result<(), OptOutError> {
        self.check()?;
        if self.failing_writes.load(Ordering::SeqCst) {
            return Err(OptOutError::Malformed);
        }
        self.inner.record(record)
    }
    fn opted_out_since(&self, flh: &[u8; 32]) -> Result<Option<i64>, OptOutError> {
        self.check()?;
        self.inner.opted_out_since(flh)
    }
    fn advertising_id_opted_out_since(&self, id: &[u8]) -> Result<Option<i64>, OptOutError> {
        self.check()?;
        self.inner.advertising_id_opted_out_since(id)
    }
    fn available(&self) -> Result<(), OptOutError> {
        self.check()?;
        self.inner.available()
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
}

/// The operator's own router and accept loop (two worker threads, 127.0.0.1) over the data
/// directory `dir` and a chosen opt-out store; stopped when dropped.
pub struct RouterServer {
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The operator it serves, for reloads and snapshots.
    pub operator: Arc<Operator>,
}

impl RouterServer {
    /// Loads `dir` with `config` and `store` and starts serving. Panics when it cannot.
    pub fn start(dir: &Path, config: OperatorConfig, store: Arc<dyn OptOutStore>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let operator =
            Arc::new(Operator::load(DataDir::new(dir), Arc::new(config), store).expect("load"));
        let app = euid_operator::router(operator.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(euid_operator::serve_connections(
            listener,
            app,
            Duration::from_secs(10),
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            runtime,
            stop: Some(tx),
            task: Some(task),
            addr,
            operator,
        }
    }
}

impl Drop for RouterServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self.runtime.block_on(task);
        }
    }
}
