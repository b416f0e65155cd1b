//! [`PostgresStore`]: the connection pool (threads the store owns), the replica's listener
//! and opt-out mirror, and the trait implementations.
//!
//! All database work runs on the store's own threads: the sync `postgres` client drives a
//! small tokio runtime of its own and panics when called from inside another one, and the
//! operator calls these traits from its async tasks. A caller hands a job to a pool thread
//! and waits on a channel for at most the connect timeout plus the statement timeout (plus
//! one second), so a database that hangs never hangs a caller.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use euid_crypto::BatchedOsRandom;
use euid_store::optout::{OptOutError, OptOutRecord, OptOutStore, SequencedOptOut};
use euid_store::{
    fresh_snapshot, plan_salt_rotation, ChangeToken, ImportReport, InitOptions, InitReport,
    KeyMaintenance, OptOutIndex, RotateOptions, RotatedKey, RotationPolicy, SaltValidity,
    SnapshotSource, StoreError, StoreSnapshot, StoreWriter,
};
use euid_token::{Keyset, SaltRotation, SaltStore};
use postgres::fallible_iterator::FallibleIterator as _;
use postgres::{Client, Config, GenericClient, IsolationLevel};
use zeroize::Zeroizing;

use crate::migrations::{MigrationReport, MIGRATIONS, SCHEMA_VERSION};
use crate::rows::{self, KeyRow, SnapshotRows};
use crate::settings::{redact_url, take_tls_params, PgSettings, RootCertificates, TlsMode};
use crate::tls::Connector;

/// Transaction-scoped advisory lock every writer of keys, salts, clients and keypairs takes.
const WRITER_LOCK: i64 = 0x6575_6964_0001;
/// Taken by every opt-out insert before its sequence number: sequence order is commit order.
const OPTOUT_LOCK: i64 = 0x6575_6964_0002;
/// Taken while migrating, so two `euid init` runs do not apply a migration twice.
const MIGRATION_LOCK: i64 = 0x6575_6964_0003;
/// NOTIFY channel of snapshot changes (payload: the change counter).
const CHANGE_CHANNEL: &str = "euid_change";
/// NOTIFY channel of opt-outs (payload: the sequence number).
const OPTOUT_CHANNEL: &str = "euid_optout";
/// Opt-outs read per query when loading or catching up.
const PAGE: i64 = 50_000;

/// Why a job failed, before it becomes a [`StoreError`] or an [`OptOutError`].
enum Failure {
    Db(postgres::Error),
    Store(StoreError),
    NoAnswer(Duration),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Self::Db(e)
    }
}

/// A database error as text the log and callers may see: the SQLSTATE and the server's
/// message (never its DETAIL, which can quote row values), or the client's own error (a
/// refused connection, a timeout). Neither holds the URL or its password.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PgError(String);

fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => {
            // The causes say why (a refused connection, the certificate check that failed);
            // the client's errors never quote the connection settings.
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text.push_str(": ");
                text.push_str(&c.to_string());
                cause = c.source();
            }
            text
        }
    }
}

/// Whether the error means the database cannot be reached or used right now (no connection,
/// the server shutting down, cancelling or out of resources, the login or the database
/// refused) rather than the database refusing one statement.
fn is_link_failure(e: &postgres::Error) -> bool {
    match e.as_db_error() {
        None => true,
        Some(db) => {
            let code = db.code().code();
            ["08", "57", "53", "28", "3D"]
                .iter()
                .any(|class| code.starts_with(class))
        }
    }
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// A pool thread's connection, opened on first use and again after it broke.
struct Conn {
    config: Config,
    connector: Connector,
    client: Option<Client>,
}

impl Conn {
    fn client(&mut self) -> Result<&mut Client, postgres::Error> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        let client = match self.client.take() {
            Some(c) => c,
            None => self.connector.connect(&self.config)?,
        };
        Ok(self.client.insert(client))
    }
}

/// What a replica's listener last saw.
#[derive(Default)]
struct Watch {
    counter: Option<i64>,
    last_seq: u64,
    generation: u64,
}

struct Shared {
    location: String,
    config: Config,
    connector: Connector,
    settings: PgSettings,
    jobs: Mutex<mpsc::Sender<Job>>,
    answer_within: Duration,
    /// How long an opt-out write waits for its commit (`PgSettings::write_timeout`).
    write_within: Duration,
    /// A listener silent for longer than this counts as down, even with its connection
    /// open (a hung server whose kernel still acknowledges every packet).
    stale_after: Duration,
    /// When the listener last heard from the database (its last catch-up).
    last_contact: Mutex<Instant>,
    replica: bool,
    index: RwLock<OptOutIndex>,
    watch: Mutex<Watch>,
    changed: Condvar,
    link_up: AtomicBool,
    stop: AtomicBool,
}

impl Shared {
    /// Runs `f` on a pool thread and waits for its answer, at most `answer_within`.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        self.run_within(self.answer_within, f)
    }

    /// Runs `f` on a pool thread and waits for its answer, at most `bound`. A job still
    /// queued when its caller gave up is dropped unrun, so a write that timed out is not
    /// committed behind the caller's back once the pool frees up.
    fn run_within<T: Send + 'static>(
        &self,
        bound: Duration,
        f: impl FnOnce(&mut Client) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let answer = self.submit(Instant::now() + bound, f)?;
        answer
            .recv_timeout(bound)
            .map_err(|_| Failure::NoAnswer(bound))?
    }

    /// Queues `f` for a pool thread, to be dropped unrun if no pool thread starts it by
    /// `deadline`; its answer arrives on the returned channel.
    fn submit<T: Send + 'static>(
        &self,
        deadline: Instant,
        f: impl FnOnce(&mut Client) -> Result<T, Failure> + Send + 'static,
    ) -> Result<mpsc::Receiver<Result<T, Failure>>, Failure> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn: &mut Conn| {
            if Instant::now() >= deadline {
                return;
            }
            let result = match conn.client() {
                Ok(client) => f(client),
                Err(e) => Err(Failure::Db(e)),
            };
            if let Err(Failure::Db(e)) = &result {
                if is_link_failure(e) {
                    conn.client = None;
                }
            }
            let _ = tx.send(result);
        });
        let sent = self
            .jobs
            .lock()
            .map_err(|_| Failure::NoAnswer(Duration::ZERO))?
            .send(job);
        if sent.is_err() {
            return Err(Failure::NoAnswer(Duration::ZERO));
        }
        Ok(rx)
    }

    /// Whether the replica's listener is connected and has heard from the database within
    /// `stale_after`.
    fn link_is_up(&self) -> bool {
        self.link_up.load(Ordering::SeqCst)
            && self
                .last_contact
                .lock()
                .is_ok_and(|t| t.elapsed() <= self.stale_after)
    }

    fn heard_from_database(&self) {
        if let Ok(mut t) = self.last_contact.lock() {
            *t = Instant::now();
        }
    }

    fn store_error(&self, what: &str, f: Failure) -> StoreError {
        match f {
            Failure::Store(e) => e,
            Failure::Db(e) => StoreError::Backend {
                what: format!("{what} on {}", self.location),
                source: Box::new(PgError(describe(&e))),
            },
            Failure::NoAnswer(after) => StoreError::Backend {
                what: format!("{what} on {}", self.location),
                source: Box::new(PgError(format!(
                    "no answer from the database within {} ms",
                    after.as_millis()
                ))),
            },
        }
    }

    fn optout_error(f: Failure) -> OptOutError {
        match f {
            Failure::Db(e) if !is_link_failure(&e) => OptOutError::database(PgError(describe(&e))),
            Failure::Store(StoreError::Invalid { .. }) => OptOutError::Malformed,
            _ => OptOutError::Unavailable,
        }
    }

    /// Records a change counter seen by a write or a poll; wakes waiters when it moved.
    fn saw_counter(&self, counter: i64) {
        let Ok(mut watch) = self.watch.lock() else {
            return;
        };
        if watch.counter.is_none_or(|c| c < counter) {
            let moved = watch.counter.is_some();
            watch.counter = Some(counter);
            if moved {
                watch.generation = watch.generation.wrapping_add(1);
                self.changed.notify_all();
            }
        }
    }
}

/// Keys, salts, clients, keypairs and opt-outs in one PostgreSQL database, shared by every
/// operator replica that opens it.
///
/// [`PostgresStore::connect`] gives a store for the CLI (migrations, seeding, rotation,
/// import); [`PostgresStore::open_replica`] gives an operator's store, which also keeps the
/// opt-out mirror and watches the database. `Debug` shows the redacted URL only.
///
/// ```no_run
/// use euid_store::SnapshotSource as _;
/// use euid_store_postgres::{PgSettings, PostgresStore};
/// let store = PostgresStore::open_replica("postgres://euid:pw@127.0.0.1/euid", PgSettings::default())?;
/// assert_eq!(store.location(), "postgres://euid:***@127.0.0.1/euid");
/// # Ok::<(), euid_store::StoreError>(())
/// ```
pub struct PostgresStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.shared.location)
            .field("replica", &self.shared.replica)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // The listener stops at its next wake-up; the pool threads when the last job
        // sender (held by the shared state) goes.
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

/// The client configuration and connector of `url` under `settings`. Errors never quote the
/// URL's password (nor the parser's message, which can).
fn client_config(url: &str, settings: &PgSettings) -> Result<(Config, Connector), StoreError> {
    let location = redact_url(url);
    let (rest, tls) = take_tls_params(url);
    let mut config: Config = rest.parse().map_err(|_| StoreError::Settings {
        message: format!("{location} is not a valid PostgreSQL URL"),
    })?;
    let url_mode = tls
        .sslmode
        .as_deref()
        .map(str::parse::<TlsMode>)
        .transpose()?;
    let mode = match url_mode {
        Some(m) if settings.tls != TlsMode::default() && m != settings.tls => {
            return Err(StoreError::Settings {
                message: format!(
                    "{location}: the URL's sslmode={} conflicts with the TLS setting {}",
                    m.as_str(),
                    settings.tls.as_str()
                ),
            })
        }
        Some(m) => m,
        None => settings.tls,
    };
    let roots = match tls.sslrootcert.as_deref() {
        Some("system") => RootCertificates::Mozilla,
        Some(path) => RootCertificates::File(path.into()),
        None => settings.root_certificates.clone(),
    };
    config.ssl_mode(match mode {
        TlsMode::Disable => postgres::config::SslMode::Disable,
        TlsMode::Prefer => postgres::config::SslMode::Prefer,
        _ => postgres::config::SslMode::Require,
    });
    let connector = Connector::new(mode, &roots, &location)?;
    // The URL's own `connect_timeout` and `options` (a `statement_timeout` in them) win over
    // the settings, as they would for libpq.
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(settings.connect_timeout);
    }
    let options = config.get_options().unwrap_or_default().to_owned();
    if !options.contains("statement_timeout") {
        let statement_ms = settings.statement_timeout.as_millis().max(1);
        config.options(format!("{options} -c statement_timeout={statement_ms}").trim());
    }
    // A link that silently dies (a partition) fails the listener's next read instead of
    // hanging it: keepalives, and unacknowledged data times out.
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(10));
    config.tcp_user_timeout(settings.connect_timeout + settings.statement_timeout);
    if config.get_application_name().is_none() {
        config.application_name("euid");
    }
    Ok((config, connector))
}

fn spawn_pool(
    config: &Config,
    connector: &Connector,
    n: usize,
) -> Result<mpsc::Sender<Job>, StoreError> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n.max(1) {
        let rx = Arc::clone(&rx);
        let mut conn = Conn {
            config: config.clone(),
            connector: connector.clone(),
            client: None,
        };
        std::thread::Builder::new()
            .name(format!("euid-pg-{i}"))
            .spawn(move || loop {
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(&mut conn),
                    Err(_) => return,
                }
            })
            .map_err(|e| StoreError::Backend {
                what: "starting the database pool".to_owned(),
                source: Box::new(e),
            })?;
    }
    Ok(tx)
}

impl PostgresStore {
    fn build(url: &str, settings: PgSettings, replica: bool) -> Result<Self, StoreError> {
        let (config, connector) = client_config(url, &settings)?;
        let jobs = spawn_pool(&config, &connector, settings.pool_size)?;
        let connect = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(settings.connect_timeout);
        let answer_within = connect + settings.statement_timeout + Duration::from_secs(1);
        let write_within = settings.write_timeout.min(answer_within);
        let stale_after = settings.poll_interval + connect;
        Ok(Self {
            shared: Arc::new(Shared {
                location: redact_url(url),
                config,
                connector,
                settings,
                jobs: Mutex::new(jobs),
                answer_within,
                write_within,
                stale_after,
                last_contact: Mutex::new(Instant::now()),
                replica,
                index: RwLock::new(OptOutIndex::default()),
                watch: Mutex::new(Watch::default()),
                changed: Condvar::new(),
                link_up: AtomicBool::new(false),
                stop: AtomicBool::new(false),
            }),
        })
    }

    /// Connects without looking at the schema (for `euid init`): checks the settings and
    /// that the database answers.
    pub fn connect(url: &str, settings: PgSettings) -> Result<Self, StoreError> {
        let store = Self::build(url, settings, false)?;
        store.health()?;
        Ok(store)
    }

    /// Applies pending versioned migrations (the SQL files under `migrations/`, each in the
    /// same transaction as its `schema_migrations` row, all under an advisory lock) and
    /// reports what it applied. A database at a newer version than this build knows is
    /// refused with [`StoreError::UnknownSchemaVersion`] and left unchanged.
    pub fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let location = self.shared.location.clone();
        self.shared
            .run(move |client| {
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                        version bigint PRIMARY KEY,
                        name text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )",
                )?;
                let current: i64 = tx
                    .query_one(
                        "SELECT coalesce(max(version), 0) FROM schema_migrations",
                        &[],
                    )?
                    .get(0);
                if current > SCHEMA_VERSION {
                    return Err(Failure::Store(StoreError::UnknownSchemaVersion {
                        store: location,
                        found: current,
                        known: SCHEMA_VERSION,
                    }));
                }
                let mut report = MigrationReport {
                    applied: Vec::new(),
                    version: current,
                };
                for m in MIGRATIONS.iter().filter(|m| m.version > current) {
                    tx.batch_execute(m.sql)?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        &[&m.version, &m.name],
                    )?;
                    report.applied.push((m.version, m.name.to_owned()));
                    report.version = m.version;
                }
                tx.commit()?;
                Ok(report)
            })
            .map_err(|e| self.shared.store_error("applying migrations", e))
    }

    /// Whether the database already holds data (keys, salts, clients, keypairs or
    /// opt-outs); `false` for a database without the schema.
    pub fn has_data(&self) -> Result<bool, StoreError> {
        self.shared
            .run(|client: &mut Client| has_data(client))
            .map_err(|e| self.shared.store_error("checking for data", e))
    }

    /// For a replica: refuses an uninitialised database ([`StoreError::Uninitialized`]: no
    /// schema, pending migrations, or never seeded) or an unknown schema version
    /// ([`StoreError::UnknownSchemaVersion`]), loads the opt-out mirror, and starts the
    /// listener thread (LISTEN/NOTIFY, a poll every `poll_interval` catching up by sequence
    /// number, reconnection with exponential backoff up to `max_backoff`). Returns once the
    /// mirror holds every opt-out committed before the call.
    pub fn open_replica(url: &str, settings: PgSettings) -> Result<Self, StoreError> {
        let store = Self::build(url, settings, true)?;
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let shared = Arc::clone(&store.shared);
        std::thread::Builder::new()
            .name("euid-pg-listener".to_owned())
            .spawn(move || listen(&shared, ready_tx))
            .map_err(|e| StoreError::Backend {
                what: "starting the database listener".to_owned(),
                source: Box::new(e),
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(store),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::Backend {
                what: format!("opening {}", store.shared.location),
                source: Box::new(PgError("the listener stopped".to_owned())),
            }),
        }
    }

    /// Health of the database link, for `/ops/healthcheck`: a replica answers from its
    /// listener's state without touching the database; other stores run `SELECT 1`. The
    /// error names the store by its redacted URL, never a password.
    pub fn health(&self) -> Result<(), StoreError> {
        if self.shared.replica {
            if self.shared.link_is_up() {
                return Ok(());
            }
            let state = if self.shared.link_up.load(Ordering::SeqCst) {
                format!(
                    "no answer for more than {} ms",
                    self.shared.stale_after.as_millis()
                )
            } else {
                "down, reconnecting".to_owned()
            };
            return Err(StoreError::Backend {
                what: format!("link to {}", self.shared.location),
                source: Box::new(PgError(state)),
            });
        }
        self.shared
            .run(|client| {
                client.simple_query("SELECT 1")?;
                Ok(())
            })
            .map_err(|e| self.shared.store_error("connecting", e))
    }

    /// Starts `euid import`'s one transaction: applies pending migrations, then, on a pool
    /// thread, refuses a database that holds data ([`StoreError::NotEmpty`]) and writes the
    /// snapshot; opt-outs follow with [`Import::add_optouts`] and everything commits at once
    /// with [`Import::commit`]. Dropped without `commit` (the source failed half-way), it rolls
    /// back: the database is left as empty as it was, and the import can simply run again.
    pub fn begin_import(&self, snapshot: &StoreSnapshot) -> Result<Import, StoreError> {
        self.migrate()?;
        let rows = rows::snapshot_rows(snapshot, euid_now_s())?;
        let location = self.shared.location.clone();
        let (pages, incoming) = mpsc::sync_channel::<ImportPage>(2);
        let answer = self
            .shared
            .submit(Instant::now() + self.shared.answer_within, move |client| {
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&OPTOUT_LOCK])?;
                let written = write_snapshot(&mut tx, &rows, &location)?;
                loop {
                    match incoming.recv() {
                        Ok(ImportPage::Records(page)) => insert_imported(&mut tx, &page)?,
                        Ok(ImportPage::Done) => break,
                        // The importer went away without finishing: roll back.
                        Err(_) => return Err(Failure::NoAnswer(Duration::ZERO)),
                    }
                }
                let optouts: i64 = tx.query_one("SELECT count(*) FROM optouts", &[])?.get(0);
                let counter = bump(&mut tx)?;
                tx.execute("SELECT pg_notify($1, 'import')", &[&OPTOUT_CHANNEL])?;
                tx.commit()?;
                Ok((written, u64::try_from(optouts).unwrap_or(0), counter))
            })
            .map_err(|e| self.shared.store_error("importing", e))?;
        Ok(Import {
            shared: Arc::clone(&self.shared),
            pages: Some(pages),
            answer,
        })
    }

    /// The sequence number up to which this replica's mirror has applied every opt-out (0
    /// for a store that is not a replica).
    pub fn mirrored_sequence(&self) -> u64 {
        self.shared.watch.lock().map(|w| w.last_seq).unwrap_or(0)
    }

    fn write<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (value, counter) = self
            .shared
            .run(move |client| {
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])?;
                let value = f(&mut tx)?;
                let counter = bump(&mut tx)?;
                tx.commit()?;
                Ok((value, counter))
            })
            .map_err(|e| self.shared.store_error(what, e))?;
        self.shared.saw_counter(counter);
        Ok(value)
    }
}

/// What an [`Import`] hands its transaction.
enum ImportPage {
    Records(Vec<OptOutRecord>),
    Done,
}

/// The answer of an import's transaction: tables written, opt-out rows, change counter.
type ImportAnswer = (Vec<String>, u64, i64);

/// `euid import`'s open transaction ([`PostgresStore::begin_import`]): the snapshot is
/// written, opt-outs are added page by page, nothing is visible until
/// [`Import::commit`], and dropping it rolls everything back.
#[must_use = "an import that is not committed is rolled back"]
pub struct Import {
    shared: Arc<Shared>,
    pages: Option<mpsc::SyncSender<ImportPage>>,
    answer: mpsc::Receiver<Result<ImportAnswer, Failure>>,
}

impl std::fmt::Debug for Import {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Import")
            .field("store", &self.shared.location)
            .finish_non_exhaustive()
    }
}

impl Import {
    /// Adds opt-outs, in their order (each takes the next sequence number; an identity
    /// already added keeps its latest time). Waits while the database writes the previous
    /// pages, at most as long as any store call.
    pub fn add_optouts(&mut self, records: Vec<OptOutRecord>) -> Result<(), StoreError> {
        self.send(ImportPage::Records(records))
    }

    /// Commits the snapshot and every opt-out added; returns what was written and how many
    /// opt-out rows the database now holds.
    pub fn commit(mut self) -> Result<(ImportReport, u64), StoreError> {
        self.send(ImportPage::Done)?;
        let (written, optouts, counter) = self.answer()?;
        self.shared.saw_counter(counter);
        Ok((ImportReport::new(written), optouts))
    }

    fn send(&mut self, page: ImportPage) -> Result<(), StoreError> {
        let bound = self.shared.answer_within;
        let until = Instant::now() + bound;
        let Some(pages) = self.pages.as_ref() else {
            return Err(self.answer().err().unwrap_or_else(|| self.ended()));
        };
        let mut page = page;
        loop {
            match pages.try_send(page) {
                Ok(()) => return Ok(()),
                Err(mpsc::TrySendError::Full(back)) if Instant::now() < until => {
                    page = back;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(mpsc::TrySendError::Full(_)) => {
                    return Err(self
                        .shared
                        .store_error("importing", Failure::NoAnswer(bound)))
                }
                // The transaction ended early (refused or failed): its answer says why.
                Err(mpsc::TrySendError::Disconnected(_)) => {
                    self.pages = None;
                    return Err(self.answer().err().unwrap_or_else(|| self.ended()));
                }
            }
        }
    }

    fn ended(&self) -> StoreError {
        self.shared
            .store_error("importing", Failure::NoAnswer(Duration::ZERO))
    }

    fn answer(&self) -> Result<ImportAnswer, StoreError> {
        let bound = self.shared.answer_within;
        self.answer
            .recv_timeout(bound)
            .map_err(|_| Failure::NoAnswer(bound))
            .and_then(|r| r)
            .map_err(|e| self.shared.store_error("importing", e))
    }
}

/// One page of imported opt-outs, in one statement, sequence numbers in page order.
fn insert_imported(
    tx: &mut postgres::Transaction<'_>,
    page: &[OptOutRecord],
) -> Result<(), postgres::Error> {
    let flh: Vec<&[u8]> = page.iter().map(|r| r.first_level_hash.as_slice()).collect();
    let ids: Vec<&[u8]> = page.iter().map(|r| r.advertising_id.as_slice()).collect();
    let times: Vec<i64> = page.iter().map(|r| r.opted_out_ms).collect();
    tx.execute(
        "INSERT INTO optouts (first_level_hash, advertising_id, opted_out_ms, seq)
         SELECT f, a, t, nextval('optout_seq')
           FROM (SELECT f, a, t FROM unnest($1::bytea[], $2::bytea[], $3::bigint[])
                   WITH ORDINALITY AS u(f, a, t, n) ORDER BY n) AS ordered
         ON CONFLICT (first_level_hash, advertising_id) DO UPDATE SET
           seq = CASE WHEN EXCLUDED.opted_out_ms > optouts.opted_out_ms
                      THEN EXCLUDED.seq ELSE optouts.seq END,
           opted_out_ms = GREATEST(optouts.opted_out_ms, EXCLUDED.opted_out_ms)",
        &[&flh, &ids, &times],
    )?;
    Ok(())
}

/// Moves the change counter and notifies, in the caller's transaction (so the notification
/// goes out exactly when the change commits).
fn bump(tx: &mut postgres::Transaction<'_>) -> Result<i64, postgres::Error> {
    let counter: i64 = tx
        .query_one(
            "UPDATE store_state SET change_counter = change_counter + 1 WHERE id = 1 \
             RETURNING change_counter",
            &[],
        )?
        .get(0);
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANGE_CHANNEL, &counter.to_string()],
    )?;
    Ok(counter)
}

fn has_data(client: &mut impl GenericClient) -> Result<bool, Failure> {
    let schema: bool = client
        .query_one("SELECT to_regclass('store_state') IS NOT NULL", &[])?
        .get(0);
    if !schema {
        return Ok(false);
    }
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM keysets) OR EXISTS (SELECT 1 FROM keyset_keys)
                 OR EXISTS (SELECT 1 FROM salts) OR EXISTS (SELECT 1 FROM clients)
                 OR EXISTS (SELECT 1 FROM client_side_keypairs) OR EXISTS (SELECT 1 FROM optouts)",
            &[],
        )?
        .get(0))
}

/// The replica's check: schema at this build's version, and seeded.
fn check_schema(client: &mut Client, location: &str) -> Result<(), Failure> {
    let uninitialized = || {
        Failure::Store(StoreError::Uninitialized {
            store: location.to_owned(),
        })
    };
    let has_table: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
        .get(0);
    if !has_table {
        return Err(uninitialized());
    }
    let version: i64 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )?
        .get(0);
    if version > SCHEMA_VERSION {
        return Err(Failure::Store(StoreError::UnknownSchemaVersion {
            store: location.to_owned(),
            found: version,
            known: SCHEMA_VERSION,
        }));
    }
    if version < SCHEMA_VERSION {
        return Err(uninitialized());
    }
    let seeded: bool = client
        .query_one(
            "SELECT seeded_at IS NOT NULL FROM store_state WHERE id = 1",
            &[],
        )?
        .get(0);
    if !seeded {
        return Err(uninitialized());
    }
    Ok(())
}

fn optout_rows(rows: &[postgres::Row]) -> Result<Vec<SequencedOptOut>, Failure> {
    rows.iter()
        .map(|row| {
            let seq: i64 = row.try_get(0)?;
            let flh: &[u8] = row.try_get(1)?;
            let advertising_id: Vec<u8> = row.try_get(2)?;
            let opted_out_ms: i64 = row.try_get(3)?;
            let first_level_hash = rows::hash_from_bytes(flh).ok_or_else(|| {
                Failure::Store(StoreError::Invalid {
                    path: "optouts".to_owned(),
                    message: "a first-level hash is not 32 bytes".to_owned(),
                })
            })?;
            Ok(SequencedOptOut {
                sequence: u64::try_from(seq).unwrap_or(0),
                record: OptOutRecord {
                    first_level_hash,
                    advertising_id,
                    opted_out_ms,
                },
            })
        })
        .collect()
}

fn records_after(
    client: &mut impl GenericClient,
    after: u64,
    limit: i64,
) -> Result<Vec<SequencedOptOut>, Failure> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let rows = client.query(
        "SELECT seq, first_level_hash, advertising_id, opted_out_ms FROM optouts
          WHERE seq > $1 ORDER BY seq LIMIT $2",
        &[&after, &limit],
    )?;
    optout_rows(&rows)
}

/// Applies every opt-out after the mirror's last sequence number, then reads the change
/// counter. Because inserts take their sequence numbers under [`OPTOUT_LOCK`], a row with a
/// lower number can never commit after one with a higher number was read.
fn catch_up(shared: &Shared, client: &mut Client) -> Result<(), Failure> {
    loop {
        let after = shared.watch.lock().map(|w| w.last_seq).unwrap_or(0);
        let records = records_after(client, after, PAGE)?;
        if let Some(last) = records.last() {
            let mut index = shared
                .index
                .write()
                .map_err(|_| Failure::NoAnswer(Duration::ZERO))?;
            for r in &records {
                index.insert(&r.record);
            }
            drop(index);
            if let Ok(mut w) = shared.watch.lock() {
                w.last_seq = w.last_seq.max(last.sequence);
            }
        }
        if records.len() < usize::try_from(PAGE).unwrap_or(usize::MAX) {
            break;
        }
    }
    let counter: i64 = client
        .query_one("SELECT change_counter FROM store_state WHERE id = 1", &[])?
        .get(0);
    shared.saw_counter(counter);
    shared.heard_from_database();
    Ok(())
}

/// The listener thread of a replica: connects, LISTENs, catches up, then waits for a
/// notification or the poll interval and catches up again; on any error marks the link
/// down and reconnects with exponential backoff. The first session's outcome is sent on
/// `ready` (and a failure there ends the thread: `open_replica` fails).
fn listen(shared: &Shared, ready: mpsc::SyncSender<Result<(), StoreError>>) {
    const FIRST_RETRY: Duration = Duration::from_millis(50);
    let mut ready = Some(ready);
    let mut backoff = FIRST_RETRY;
    while !shared.stop.load(Ordering::SeqCst) {
        let outcome = match shared.connector.connect(&shared.config) {
            Ok(mut client) => session(shared, &mut client, &mut ready),
            Err(e) => Err(Failure::Db(e)),
        };
        // A session that got as far as serving resets the backoff: the first retry after a
        // drop comes quickly, later ones ever slower while the database stays away.
        let was_up = shared.link_up.swap(false, Ordering::SeqCst);
        if let Err(e) = outcome {
            if let Some(r) = ready.take() {
                let _ = r.send(Err(shared.store_error("opening the replica", e)));
                return;
            }
        }
        if was_up {
            backoff = FIRST_RETRY;
        }
        sleep_unless_stopped(shared, backoff);
        backoff = (backoff * 2).min(shared.settings.max_backoff.max(FIRST_RETRY));
    }
}

fn sleep_unless_stopped(shared: &Shared, total: Duration) {
    let until = Instant::now() + total;
    while !shared.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

fn session(
    shared: &Shared,
    client: &mut Client,
    ready: &mut Option<mpsc::SyncSender<Result<(), StoreError>>>,
) -> Result<(), Failure> {
    if ready.is_some() {
        check_schema(client, &shared.location)?;
        let count: i64 = client
            .query_one("SELECT count(*) FROM optouts", &[])?
            .get(0);
        if let Ok(mut index) = shared.index.write() {
            *index = OptOutIndex::with_capacity(usize::try_from(count).unwrap_or(0));
        }
    }
    // LISTEN before catching up: whatever commits in between is either read now or
    // announced later.
    client.batch_execute(&format!("LISTEN {CHANGE_CHANNEL}; LISTEN {OPTOUT_CHANNEL}"))?;
    catch_up(shared, client)?;
    shared.link_up.store(true, Ordering::SeqCst);
    if let Some(r) = ready.take() {
        let _ = r.send(Ok(()));
    }
    let poll = shared.settings.poll_interval.max(Duration::from_millis(10));
    while !shared.stop.load(Ordering::SeqCst) {
        {
            let mut notes = client.notifications();
            // One notification or the poll interval, then whatever else is already there.
            let _ = notes.timeout_iter(poll).next()?;
            let mut rest = notes.iter();
            while rest.next()?.is_some() {}
        }
        catch_up(shared, client)?;
    }
    Ok(())
}

/// The stored salts and their validity window.
fn load_salts(tx: &mut impl GenericClient) -> Result<(SaltStore, Option<SaltValidity>), Failure> {
    let salt_row = tx.query_opt(
        "SELECT metadata_json, salts_csv, generated_s, effective_ms, expires_ms FROM salts WHERE id = 1",
        &[],
    )?;
    let Some(salt_row) = salt_row else {
        return Err(Failure::Store(StoreError::Invalid {
            path: "salts".to_owned(),
            message: "no salts are stored".to_owned(),
        }));
    };
    let metadata: Zeroizing<String> = Zeroizing::new(salt_row.try_get(0)?);
    let csv: Zeroizing<String> = Zeroizing::new(salt_row.try_get(1)?);
    let salts = rows::salts_from_row(&metadata, &csv).map_err(Failure::Store)?;
    let validity = SaltValidity {
        generated_s: salt_row.try_get(2)?,
        effective_ms: salt_row.try_get(3)?,
        expires_ms: salt_row.try_get(4)?,
    };
    Ok((salts, Some(validity)))
}

/// Reads the whole snapshot in one read-only, repeatable-read transaction.
/// Its statements may take up to `limit` each (the salts are tens of megabytes).
fn load_snapshot(client: &mut Client, limit: Duration) -> Result<StoreSnapshot, Failure> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {}",
        limit.as_millis().max(1)
    ))?;
    let keysets = load_keysets(&mut tx)?;
    let keys = load_keys(&mut tx)?;
    let keys = rows::key_store(&keysets, &keys).map_err(Failure::Store)?;
    let (salts, salt_validity) = load_salts(&mut tx)?;
    let clients: Vec<Zeroizing<String>> = tx
        .query("SELECT record FROM clients ORDER BY position", &[])?
        .iter()
        .map(|r| r.try_get::<_, String>(0).map(Zeroizing::new))
        .collect::<Result<_, _>>()?;
    let clients = rows::clients_from_rows(&clients).map_err(Failure::Store)?;
    let keypairs: Vec<Zeroizing<String>> = tx
        .query(
            "SELECT record FROM client_side_keypairs ORDER BY position",
            &[],
        )?
        .iter()
        .map(|r| r.try_get::<_, String>(0).map(Zeroizing::new))
        .collect::<Result<_, _>>()?;
    let keypairs = rows::keypairs_from_rows(&keypairs).map_err(Failure::Store)?;
    tx.commit()?;
    Ok(StoreSnapshot {
        keys,
        salts,
        salt_validity,
        clients,
        keypairs,
    })
}

fn load_keysets(tx: &mut impl GenericClient) -> Result<Vec<Keyset>, Failure> {
    tx.query(
        "SELECT keyset_id, site_id, name, allowed_sites, created, enabled, is_default
           FROM keysets ORDER BY position",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(Keyset {
            keyset_id: r.try_get(0)?,
            site_id: r.try_get(1)?,
            name: r.try_get(2)?,
            allowed_sites: r.try_get(3)?,
            created: r.try_get(4)?,
            enabled: r.try_get(5)?,
            default: r.try_get(6)?,
        })
    })
    .collect()
}

fn load_keys(tx: &mut impl GenericClient) -> Result<Vec<KeyRow>, Failure> {
    tx.query(
        "SELECT key_id, keyset_id, created, activates, expires, secret
           FROM keyset_keys ORDER BY position",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(KeyRow {
            id: r.try_get(0)?,
            keyset_id: r.try_get(1)?,
            created: r.try_get(2)?,
            activates: r.try_get(3)?,
            expires: r.try_get(4)?,
            secret: r.try_get(5)?,
        })
    })
    .collect()
}

fn write_keys(tx: &mut postgres::Transaction<'_>, keys: &[KeyRow]) -> Result<(), postgres::Error> {
    tx.execute("DELETE FROM keyset_keys", &[])?;
    let insert = tx.prepare(
        "INSERT INTO keyset_keys (key_id, position, keyset_id, created, activates, expires, secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )?;
    for (i, k) in keys.iter().enumerate() {
        let position = i32::try_from(i).unwrap_or(i32::MAX);
        tx.execute(
            &insert,
            &[
                &k.id,
                &position,
                &k.keyset_id,
                &k.created,
                &k.activates,
                &k.expires,
                &k.secret,
            ],
        )?;
    }
    Ok(())
}

fn write_salts(
    tx: &mut postgres::Transaction<'_>,
    s: &rows::SaltRow,
) -> Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO salts (id, metadata_json, salts_csv, bucket_count, generated_s, effective_ms, expires_ms)
         VALUES (1, $1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET metadata_json = EXCLUDED.metadata_json,
           salts_csv = EXCLUDED.salts_csv, bucket_count = EXCLUDED.bucket_count,
           generated_s = EXCLUDED.generated_s, effective_ms = EXCLUDED.effective_ms,
           expires_ms = EXCLUDED.expires_ms",
        &[
            &s.metadata_json.as_str(),
            &s.salts_csv.as_str(),
            &s.bucket_count,
            &s.validity.generated_s,
            &s.validity.effective_ms,
            &s.validity.expires_ms,
        ],
    )?;
    Ok(())
}

/// Writes a whole snapshot into an empty database (refusing one with data), in the
/// caller's transaction. Returns the tables written.
fn write_snapshot(
    tx: &mut postgres::Transaction<'_>,
    rows: &SnapshotRows,
    location: &str,
) -> Result<Vec<String>, Failure> {
    if has_data(tx)? {
        return Err(Failure::Store(StoreError::NotEmpty {
            path: location.to_owned(),
        }));
    }
    let keyset_insert = tx.prepare(
        "INSERT INTO keysets (keyset_id, position, site_id, name, allowed_sites, created, enabled, is_default)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )?;
    for (i, k) in rows.keysets.iter().enumerate() {
        let position = i32::try_from(i).unwrap_or(i32::MAX);
        tx.execute(
            &keyset_insert,
            &[
                &k.keyset_id,
                &position,
                &k.site_id,
                &k.name,
                &k.allowed_sites,
                &k.created,
                &k.enabled,
                &k.default,
            ],
        )?;
    }
    write_keys(tx, &rows.keys)?;
    write_salts(tx, &rows.salts)?;
    for (i, c) in rows.clients.iter().enumerate() {
        let position = i32::try_from(i).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO clients (position, key_id, site_id, record) VALUES ($1, $2, $3, $4)",
            &[&position, &c.key_id, &c.site_id, &c.record.as_str()],
        )?;
    }
    for (i, k) in rows.keypairs.iter().enumerate() {
        let position = i32::try_from(i).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO client_side_keypairs (position, subscription_id, record) VALUES ($1, $2, $3)",
            &[&position, &k.subscription_id, &k.record.as_str()],
        )?;
    }
    tx.execute("UPDATE store_state SET seeded_at = now() WHERE id = 1", &[])?;
    Ok([
        "keysets",
        "keyset_keys",
        "salts",
        "clients",
        "client_side_keypairs",
    ]
    .map(str::to_owned)
    .to_vec())
}

impl SnapshotSource for PostgresStore {
    /// Waits at most `PgSettings::snapshot_timeout`: a snapshot load is never on a request's
    /// path (start-up, and reloads beside the serving snapshot).
    fn load_snapshot(&self) -> Result<StoreSnapshot, StoreError> {
        let limit = self.shared.settings.snapshot_timeout;
        self.shared
            .run_within(limit + Duration::from_secs(1), move |client| {
                load_snapshot(client, limit)
            })
            .map_err(|e| self.shared.store_error("loading the snapshot", e))
    }

    /// A replica answers from memory (the change counter its listener last read, or its
    /// own last write's); a store opened with [`PostgresStore::connect`] reads the counter.
    fn change_token(&self) -> ChangeToken {
        if !self.shared.replica {
            let counter = self.shared.run(|client| {
                let c: i64 = client
                    .query_one("SELECT change_counter FROM store_state WHERE id = 1", &[])?
                    .get(0);
                Ok(c)
            });
            if let Ok(c) = counter {
                self.shared.saw_counter(c);
            }
        }
        match self.shared.watch.lock().ok().and_then(|w| w.counter) {
            Some(c) => ChangeToken::from_words([u64::try_from(c).unwrap_or(0)]),
            None => ChangeToken::unavailable(),
        }
    }

    fn wait_for_change(&self, timeout: Duration) -> bool {
        let Ok(watch) = self.shared.watch.lock() else {
            return false;
        };
        let start = watch.generation;
        match self
            .shared
            .changed
            .wait_timeout_while(watch, timeout, |w| w.generation == start)
        {
            Ok((w, _)) => w.generation != start,
            Err(_) => false,
        }
    }

    fn public_reason(&self, err: &StoreError) -> String {
        match err {
            StoreError::Uninitialized { .. } => "database not initialised".to_owned(),
            StoreError::UnknownSchemaVersion { .. } => "database schema version unknown".to_owned(),
            StoreError::Invalid { path, .. } => format!("database table {path} is not valid"),
            StoreError::NotEmpty { .. } => "database already holds data".to_owned(),
            _ => "database unavailable".to_owned(),
        }
    }

    fn location(&self) -> String {
        self.shared.location.clone()
    }
}

impl StoreWriter for PostgresStore {
    /// Applies pending migrations, then seeds an empty database with
    /// [`fresh_snapshot`](euid_store::fresh_snapshot) (the same initial data as a fresh data
    /// directory). A database that holds data is refused with [`StoreError::NotEmpty`]
    /// (after the migrations, which are safe to apply).
    fn initialize(&self, options: &InitOptions) -> Result<InitReport, StoreError> {
        self.migrate()?;
        let now = euid_now_s();
        let (snapshot, demo) = fresh_snapshot(options, now, &mut BatchedOsRandom::new())?;
        let rows = rows::snapshot_rows(&snapshot, now)?;
        let location = self.shared.location.clone();
        let created = self.write("seeding the database", move |tx| {
            write_snapshot(tx, &rows, &location)
        })?;
        Ok(InitReport::new(created, demo))
    }

    fn rotate_keys(
        &self,
        options: &RotateOptions,
        now_s: i64,
    ) -> Result<Vec<RotatedKey>, StoreError> {
        options.validate().map_err(|m| StoreError::Invalid {
            path: "rotate options".to_owned(),
            message: m.to_owned(),
        })?;
        let options = options.clone();
        self.write("rotating keys", move |tx| {
            let keysets = load_keysets(tx)?;
            let keys = load_keys(tx)?;
            let store = rows::key_store(&keysets, &keys).map_err(Failure::Store)?;
            let (new, rotated) = euid_store::keys::plan_rotation(
                &store,
                &options,
                now_s,
                &mut BatchedOsRandom::new(),
            )
            .map_err(|e| {
                Failure::Store(StoreError::Invalid {
                    path: "keyset_keys".to_owned(),
                    message: e.to_string(),
                })
            })?;
            write_keys(tx, &rows::key_rows(&new).map_err(Failure::Store)?)?;
            Ok(rotated)
        })
    }

    fn maintain_keys(
        &self,
        policy: &RotationPolicy,
        now_s: i64,
    ) -> Result<KeyMaintenance, StoreError> {
        policy.validate().map_err(|m| StoreError::Invalid {
            path: "rotation policy".to_owned(),
            message: m.to_owned(),
        })?;
        let policy = *policy;
        let (report, changed) = self
            .shared
            .run(move |client| {
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])?;
                let keysets = load_keysets(&mut tx)?;
                let keys = load_keys(&mut tx)?;
                let store = rows::key_store(&keysets, &keys).map_err(Failure::Store)?;
                let (new, report) = euid_store::keys::plan_maintenance(
                    &store,
                    &policy,
                    now_s,
                    &mut BatchedOsRandom::new(),
                )
                .map_err(|e| {
                    Failure::Store(StoreError::Invalid {
                        path: "keyset_keys".to_owned(),
                        message: e.to_string(),
                    })
                })?;
                // Writes (and moves the counter) only when something changed.
                let Some(new) = new else {
                    return Ok((report, None));
                };
                write_keys(&mut tx, &rows::key_rows(&new).map_err(Failure::Store)?)?;
                let counter = bump(&mut tx)?;
                tx.commit()?;
                Ok((report, Some(counter)))
            })
            .map_err(|e| self.shared.store_error("maintaining keys", e))?;
        if let Some(c) = changed {
            self.shared.saw_counter(c);
        }
        Ok(report)
    }

    fn write_salts(&self, salts: &SaltStore, validity: &SaltValidity) -> Result<(), StoreError> {
        let row = rows::salt_row(salts, validity)?;
        self.write("writing salts", move |tx| {
            write_salts(tx, &row)?;
            Ok(())
        })
    }

    /// Reads the salts inside the write's transaction, under the writer lock.
    fn rotate_salts(&self, fraction: f64, now_ms: i64) -> Result<SaltRotation, StoreError> {
        self.write("rotating salts", move |tx| {
            let (salts, validity) = load_salts(tx)?;
            let validity = validity.unwrap_or_else(|| SaltValidity::starting_at(now_ms / 1000));
            let rotation = plan_salt_rotation(&salts, fraction, now_ms, Path::new("salts"))
                .map_err(Failure::Store)?;
            write_salts(
                tx,
                &rows::salt_row(&rotation.salts, &validity).map_err(Failure::Store)?,
            )?;
            Ok(rotation)
        })
    }

    fn import(&self, snapshot: &StoreSnapshot) -> Result<ImportReport, StoreError> {
        self.migrate()?;
        let rows = rows::snapshot_rows(snapshot, euid_now_s())?;
        let location = self.shared.location.clone();
        let written = self.write("importing", move |tx| write_snapshot(tx, &rows, &location))?;
        Ok(ImportReport::new(written))
    }
}

fn euid_now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Lookups are answered from the replica's mirror, never from the database; a store opened
/// with [`PostgresStore::connect`] has no mirror and answers them with
/// [`OptOutError::Unavailable`] (it still records and pages through records).
impl OptOutStore for PostgresStore {
    /// Inserts (or, for an identity already there, moves to the later time) under the
    /// opt-out advisory lock, so sequence order is commit order, and notifies in the same
    /// transaction. Returns once PostgreSQL committed; the own mirror has it at once.
    fn record(&self, record: &OptOutRecord) -> Result<(), OptOutError> {
        let r = record.clone();
        let bound = self.shared.write_within;
        let deadline = Instant::now() + bound;
        self.shared
            .run_within(bound, move |client| {
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&OPTOUT_LOCK])?;
                let seq: i64 = tx
                    .query_one(
                        "INSERT INTO optouts (first_level_hash, advertising_id, opted_out_ms, seq)
                         VALUES ($1, $2, $3, nextval('optout_seq'))
                         ON CONFLICT (first_level_hash, advertising_id) DO UPDATE SET
                           seq = CASE WHEN EXCLUDED.opted_out_ms > optouts.opted_out_ms
                                      THEN EXCLUDED.seq ELSE optouts.seq END,
                           opted_out_ms = GREATEST(optouts.opted_out_ms, EXCLUDED.opted_out_ms)
                         RETURNING seq",
                        &[
                            &r.first_level_hash.as_slice(),
                            &r.advertising_id,
                            &r.opted_out_ms,
                        ],
                    )?
                    .get(0);
                tx.execute(
                    "SELECT pg_notify($1, $2)",
                    &[&OPTOUT_CHANNEL, &seq.to_string()],
                )?;
                // The caller has answered "unavailable" by now (a server that stalled before
                // this point): roll back rather than commit what was refused.
                if Instant::now() >= deadline {
                    return Err(Failure::NoAnswer(bound));
                }
                tx.commit()?;
                Ok(())
            })
            .map_err(Shared::optout_error)?;
        if self.shared.replica {
            self.shared
                .index
                .write()
                .map_err(|_| OptOutError::Poisoned)?
                .insert(record);
        }
        Ok(())
    }

    fn opted_out_since(&self, first_level_hash: &[u8; 32]) -> Result<Option<i64>, OptOutError> {
        if !self.shared.replica {
            return Err(OptOutError::Unavailable);
        }
        let index = self
            .shared
            .index
            .read()
            .map_err(|_| OptOutError::Poisoned)?;
        Ok(index.opted_out_since(first_level_hash))
    }

    fn advertising_id_opted_out_since(
        &self,
        advertising_id: &[u8],
    ) -> Result<Option<i64>, OptOutError> {
        if !self.shared.replica {
            return Err(OptOutError::Unavailable);
        }
        let index = self
            .shared
            .index
            .read()
            .map_err(|_| OptOutError::Poisoned)?;
        Ok(index.advertising_id_opted_out_since(advertising_id))
    }

    /// `Err(Unavailable)` while the replica's link to the database is down (lookups keep
    /// answering from the mirror meanwhile), and always for a store without a mirror.
    fn available(&self) -> Result<(), OptOutError> {
        if self.shared.index.is_poisoned() {
            return Err(OptOutError::Poisoned);
        }
        if self.shared.replica && self.shared.link_is_up() {
            Ok(())
        } else {
            Err(OptOutError::Unavailable)
        }
    }

    fn len(&self) -> usize {
        self.shared.index.read().map(|i| i.len()).unwrap_or(0)
    }

    fn latest_sequence(&self) -> Result<u64, OptOutError> {
        self.shared
            .run(|client| {
                let seq: i64 = client
                    .query_one("SELECT coalesce(max(seq), 0) FROM optouts", &[])?
                    .get(0);
                Ok(u64::try_from(seq).unwrap_or(0))
            })
            .map_err(Shared::optout_error)
    }

    fn records_since(&self, after: u64, limit: usize) -> Result<Vec<SequencedOptOut>, OptOutError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.shared
            .run(move |client| records_after(client, after, limit))
            .map_err(Shared::optout_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_are_checked_up_front_and_errors_hide_the_password() {
        let settings = PgSettings {
            tls: TlsMode::Disable,
            ..PgSettings::default()
        };
        let err = client_config(
            "postgres://euid:hunter2@127.0.0.1:1/euid?sslmode=prefer",
            &settings,
        )
        .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("conflicts") && !text.contains("hunter2"),
            "{text}"
        );
        let err = client_config("postgres://euid:hunter2@[::1/x", &settings).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"));
        assert!(client_config(
            "postgres://euid:pw@127.0.0.1:1/euid?sslmode=disable",
            &settings
        )
        .is_ok());
        // Every libpq mode is understood; the driver never sees the verify-* words.
        for mode in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            let url = format!("postgres://euid:pw@127.0.0.1:1/euid?sslmode={mode}");
            assert!(
                client_config(&url, &PgSettings::default()).is_ok(),
                "{mode}"
            );
        }
        let err = client_config(
            "postgres://euid:hunter2@127.0.0.1:1/euid?sslmode=sometimes",
            &PgSettings::default(),
        )
        .unwrap_err();
        assert!(matches!(err, StoreError::Settings { .. }));
        // A root file that is missing or holds no certificate fails now, not at first use.
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for (file, says) in [(&missing, "No such file"), (&empty, "no certificate")] {
            let url = format!(
                "postgres://euid:hunter2@127.0.0.1:1/euid?sslmode=verify-full&sslrootcert={}",
                file.display()
            );
            let err = client_config(&url, &PgSettings::default()).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(
                matches!(err, StoreError::Settings { .. })
                    && text.contains(says)
                    && !text.contains("hunter2"),
                "{text}"
            );
        }
    }

    #[test]
    fn an_unreachable_database_is_a_prompt_error_without_the_password() {
        // Port 1 on loopback refuses at once.
        let settings = PgSettings {
            connect_timeout: Duration::from_secs(2),
            ..PgSettings::default()
        };
        let err = PostgresStore::connect("postgres://euid:hunter2@127.0.0.1:1/euid", settings)
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("euid:***@127.0.0.1:1") && !text.contains("hunter2"),
            "{text}"
        );
    }
}
