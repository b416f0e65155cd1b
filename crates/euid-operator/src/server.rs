//! The HTTP transport: axum routes over the sans-IO pipeline, request limits, metrics and
//! logs, the reload loop and graceful shutdown.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use euid_crypto::FastRandom;
use euid_store::{open_data_dir, DataDir, DataDirError, DemoClient, InitOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::access_log::{AccessLog, AccessLogMode};
use crate::api::{self, ApiRequest, ApiResponse, Endpoint};
use crate::api_error::{ApiError, HealthProblem};
use crate::config::{OperatorConfig, DEFAULT_LISTEN};
use crate::optout::SqliteOptOutStore;
use crate::state::Operator;

thread_local! {
    // One AES-CTR generator per worker thread, keyed from the OS: no syscall per request, no lock.
    static RNG: RefCell<FastRandom> = RefCell::new(FastRandom::new());
}

use crate::clock::now_ms;

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The data directory: created when empty or absent; with required files missing the
    /// server does not start.
    pub data_dir: PathBuf,
    /// Listen address; `None` = the config's `listen`, else `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// Operator settings.
    pub config: OperatorConfig,
    /// What a first start creates (`init.demo_client: false` is `--no-demo-client`).
    pub init: InitOptions,
    /// Access lines, written to stderr by a thread of their own (`--access-log`; off here by
    /// default, on in the `euid-operator` binary).
    pub access_log: AccessLogMode,
    /// A store shared with other replicas (`--store postgres://…`): keys, salts, clients,
    /// keypairs and opt-outs come from it, and `data_dir` and `init` are not used. `None`
    /// (the default) is the data directory.
    pub store: Option<SharedStore>,
}

/// A store several replicas share, opened by the caller (the binary opens PostgreSQL): the
/// snapshot source and writer, and the opt-outs, usually one object behind both.
#[derive(Clone)]
pub struct SharedStore {
    /// Where snapshots come from and where automatic key rotation writes.
    pub store: Arc<dyn euid_store::Store>,
    /// The opt-out records.
    pub optouts: Arc<dyn crate::optout::OptOutStore>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("store", &self.store.location())
            .finish_non_exhaustive()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(euid_store::DEFAULT_DATA_DIR),
            listen: None,
            config: OperatorConfig::default(),
            init: InitOptions::default(),
            access_log: AccessLogMode::Off,
            store: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The data directory could not be created or loaded.
    #[error("data directory: {0}")]
    DataDir(#[from] DataDirError),
    /// The shared store's first snapshot could not be loaded (the message names no password).
    #[error("store: {0}")]
    Store(DataDirError),
    /// The start-up work on the blocking pool did not finish (it panicked).
    #[error("start-up task failed: {0}")]
    StartTask(String),
    /// The access log thread could not be started.
    #[error("access log: {source}")]
    AccessLog {
        /// Why.
        source: std::io::Error,
    },
    /// The opt-out database could not be opened.
    #[error("{0}")]
    OptOut(#[from] crate::optout::OptOutError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A server running in the background of the current tokio runtime.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    operator: Arc<Operator>,
    demo: Option<DemoClient>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    reloader: JoinHandle<()>,
}

impl RunningServer {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared operator state.
    pub fn operator(&self) -> &Arc<Operator> {
        &self.operator
    }

    /// The demo client's credentials (as in `demo-client.json`), if the data directory has
    /// one and the server was not started with `--no-demo-client`.
    pub fn demo_client(&self) -> Option<&DemoClient> {
        self.demo.as_ref()
    }

    /// Stops accepting connections, lets requests in flight finish, and waits.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.reloader.abort();
        let served = match self.task.await {
            Ok(result) => result,
            Err(join) => Err(std::io::Error::other(join)),
        };
        // The process may exit before the operator is dropped: write the last access lines.
        let operator = self.operator.clone();
        let _ = tokio::task::spawn_blocking(move || {
            operator.access_log().flush(Duration::from_secs(2));
        })
        .await;
        served
    }

    /// Runs until `signal` completes, then shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        signal.await;
        self.shutdown().await
    }
}

/// Creates the data directory if it is empty or absent (see [`open_data_dir`]), loads it, binds the listen address and serves in
/// the background. Must be called inside a tokio runtime.
pub async fn start(options: ServerOptions) -> Result<RunningServer, ServerError> {
    let config = Arc::new(options.config);
    let addr = options
        .listen
        .clone()
        .or_else(|| config.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: addr.clone(),
        source,
    })?;
    let access_log = AccessLog::start(options.access_log, Box::new(std::io::stderr()))
        .map_err(|source| ServerError::AccessLog { source })?;
    let (operator, demo) = match options.store {
        None => {
            let (operator, demo) = open_data_dir_operator(
                DataDir::new(&options.data_dir),
                options.init.clone(),
                local_addr,
                config.clone(),
            )?;
            (operator, demo)
        }
        Some(shared) => {
            // The first load and key maintenance read and write the database: off the
            // async workers, like every later reload.
            let config = config.clone();
            let operator = tokio::task::spawn_blocking(move || {
                let maintained = crate::key_rotation::maintain_store_if_enabled(
                    &*shared.store,
                    &config,
                    now_ms() / 1000,
                );
                if let Err(e) = maintained {
                    tracing::warn!(error = %e, "automatic key rotation failed at start");
                }
                Operator::from_store(shared.store, config, shared.optouts)
            })
            .await
            .map_err(|e| ServerError::StartTask(e.to_string()))?
            .map_err(ServerError::Store)?;
            (operator, None)
        }
    };
    let operator = Arc::new(operator.with_access_log(access_log));

    let reloader = {
        let operator = operator.clone();
        let every = Duration::from_millis(config.reload_interval_ms);
        let rotate_every = crate::key_rotation::check_interval(&config);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut rotated_at = Instant::now();
            loop {
                tick.tick().await;
                let op = operator.clone();
                let rotate = rotated_at.elapsed() >= rotate_every;
                if rotate {
                    rotated_at = Instant::now();
                }
                // Loading a large salt file, or reading a database, takes a while: keep it
                // off the request workers.
                let _ = tokio::task::spawn_blocking(move || {
                    if rotate {
                        crate::key_rotation::maintain_logged(&op);
                    }
                    op.reload_if_changed();
                    // A store with notifications (PostgreSQL) wakes this wait as soon as
                    // another replica or the CLI writes, so a change is loaded at once
                    // rather than at the next tick; the data directory returns at once.
                    if op.store().wait_for_change(every) {
                        op.reload_if_changed();
                    }
                })
                .await;
            }
        })
    };

    let (tx, rx) = oneshot::channel::<()>();
    let app = router(operator.clone());
    let head_timeout = Duration::from_millis(config.request_timeout_ms);
    let stop = async move {
        // A dropped sender stops the server too.
        let _ = rx.await;
    };
    let task = tokio::spawn(serve_connections(listener, app, head_timeout, stop));
    tracing::info!(%local_addr, "euid-operator listening");
    Ok(RunningServer {
        local_addr,
        operator,
        demo,
        shutdown: Some(tx),
        task,
        reloader,
    })
}

/// The data directory's operator: created if empty or absent, keys maintained, opt-outs
/// opened, permission warnings logged.
fn open_data_dir_operator(
    dir: DataDir,
    mut init: InitOptions,
    local_addr: SocketAddr,
    config: Arc<OperatorConfig>,
) -> Result<(Operator, Option<DemoClient>), ServerError> {
    init.base_url = format!("http://{local_addr}");
    if config.auto_rotate_keys {
        init.key_lifetime_seconds = config.key_lifetime_seconds;
    }
    let demo = open_data_dir(dir.root(), &init)?;
    // Before the first load, so an operator that was stopped past its keys' expiry starts
    // with keys it can mint with.
    crate::key_rotation::maintain_if_enabled(dir.root(), &config, now_ms() / 1000)?;
    let optouts = Arc::new(SqliteOptOutStore::open(&dir.optout_db())?);
    // Modes of an existing directory are the user's: reported, not changed.
    for warning in dir.permission_warnings() {
        tracing::warn!("{warning}");
    }
    Ok((Operator::load(dir, config, optouts)?, demo))
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the open connections
/// finish their requests. Public so a benchmark can serve its baseline on the same stack.
///
/// This is `axum::serve` plus a request-head timeout: without a timer hyper waits forever
/// for a head, so idle connections and half-sent heads would each hold a socket and a task
/// for good. The body and the handler are bounded by the per-request timeout in the handlers.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    head_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let mut shutdown = std::pin::pin!(shutdown);
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut closing = closing_rx.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(head_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = closing.wait_for(|c| *c) => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
        // Reap finished connections so the set only holds open ones.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// The axum router of every endpoint, over `operator`: every [`Endpoint`] is served by the
/// one request wrapper (body limit, timeout, blocking-pool decision, metrics, access log)
/// around `api::handle`.
pub fn router(operator: Arc<Operator>) -> Router {
    let mut router = Router::new()
        .route("/ops/healthcheck", get(healthcheck))
        .route("/metrics", get(metrics));
    for endpoint in Endpoint::ALL {
        let handler = move |State(op): State<Arc<Operator>>, headers: HeaderMap, body: Body| {
            serve_api(op, endpoint, headers, body)
        };
        let method_router = if endpoint.method() == "GET" {
            get(handler)
        } else {
            post(handler)
        };
        router = router.route(endpoint.path(), method_router);
    }
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn(crate::cors::cors))
        .with_state(operator)
}

/// The whole body, or 413 once it passes `limit`. A `Content-Length` over the limit is
/// refused at once, before waiting for bytes that would be refused anyway.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiResponse> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(ApiError::BodyTooLarge.into());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::BodyTooLarge.into())
}

async fn not_found() -> Response {
    to_http(ApiError::UnknownEndpoint.into())
}

async fn healthcheck(State(op): State<Arc<Operator>>) -> Response {
    let problem = op
        .health_problem()
        .or_else(|| api::health_problem(&op.snapshot(), now_ms()));
    to_http(HealthProblem::healthcheck(problem.as_ref()))
}

async fn metrics(State(op): State<Arc<Operator>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        op.metrics().render(),
    )
        .into_response()
}

/// The request's `Origin` for the client-side generation check: `None` only when there is no
/// such header. A header that is not visible ASCII, or more than one, is passed on as `""`,
/// which never matches: dropping it would let the request skip the check when it names an app.
fn origin_header(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::ORIGIN).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some("");
    }
    Some(first.to_str().unwrap_or(""))
}

fn is_octet_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(api::OCTET_STREAM))
}

async fn serve_api(
    op: Arc<Operator>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let limit = op.config().max_body_bytes;
    let timeout = Duration::from_millis(op.config().request_timeout_ms);
    let work = async {
        let bytes = match read_body(&headers, body, limit).await {
            Ok(b) => b,
            Err(e) => return e,
        };
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let origin = if endpoint.reads_origin() {
            origin_header(&headers).map(str::to_owned)
        } else {
            None
        };
        let binary = is_octet_stream(&headers);
        let read = RequestHeaders {
            authorization,
            origin,
            binary,
        };
        if runs_off_workers(endpoint) {
            // Batches wait for one of a few permits without blocking a worker, so a burst
            // of them neither starves the other endpoints nor fills the blocking pool.
            let _permit = if is_batch(endpoint) {
                match op.batch_permits().acquire().await {
                    Ok(permit) => Some(permit),
                    Err(_) => return ApiError::Internal.into(),
                }
            } else {
                None
            };
            let op = op.clone();
            tokio::task::spawn_blocking(move || run_pipeline(&op, endpoint, &read, &bytes))
                .await
                .unwrap_or_else(|_| ApiError::Internal.into())
        } else {
            run_pipeline(&op, endpoint, &read, &bytes)
        }
    };
    // The same limit for every endpoint: a browser endpoint is the easiest to reach for a
    // client that sends half a body and stalls.
    let response = tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| ApiError::TimedOut.into());
    let elapsed = started.elapsed();
    op.metrics()
        .observe(endpoint.path(), response.http_status, elapsed);
    // Only the endpoint, status, latency and site: never bodies, keys, tokens or identities.
    op.access_log().record(
        endpoint.path(),
        response.http_status,
        elapsed,
        response.site_id,
    );
    to_http(response)
}

/// Endpoints whose work runs on the blocking pool, never on an async worker: logout commits
/// to the database (an fsync), and the batch endpoints (identity map, opt-out status, and
/// any map endpoint to come) take CPU in proportion to their item count.
fn runs_off_workers(endpoint: Endpoint) -> bool {
    endpoint == Endpoint::TokenLogout || is_batch(endpoint)
}

/// Endpoints whose requests carry a list of items (see `endpoints::MAX_IDENTITY_MAP_ITEMS`
/// and `endpoints::MAX_OPTOUT_STATUS_IDS` for their limits), or whose answer lists up to every
/// salt bucket (`/v2/identity/buckets`).
fn is_batch(endpoint: Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::IdentityMap
            | Endpoint::IdentityMapV3
            | Endpoint::OptoutStatus
            | Endpoint::IdentityBuckets
    )
}

/// The request headers the pipeline reads, owned so they can move to the blocking pool.
struct RequestHeaders {
    authorization: Option<String>,
    origin: Option<String>,
    binary: bool,
}

fn run_pipeline(
    op: &Operator,
    endpoint: Endpoint,
    headers: &RequestHeaders,
    body: &Bytes,
) -> ApiResponse {
    let snapshot = op.snapshot();
    let request = ApiRequest {
        endpoint,
        authorization: headers.authorization.as_deref(),
        origin: headers.origin.as_deref(),
        binary: headers.binary,
        body,
    };
    RNG.with(|rng| {
        let mut rng = rng.borrow_mut();
        api::handle(&snapshot, op.optouts(), &request, now_ms(), &mut *rng)
    })
}

fn to_http(response: ApiResponse) -> Response {
    let status = StatusCode::from_u16(response.http_status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(response.content_type),
        )],
        response.body,
    )
        .into_response()
}
