#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

// The sans-IO core: bytes, a snapshot, a clock value and randomness in; an answer out. None of
// these modules imports tokio, axum, hyper or rusqlite, nor any module of the shell
// (`scripts/check-import-cycles.py` checks both).
mod api;
mod api_document;
mod api_error;
mod api_response;
mod clients;
mod config;
mod endpoints;
mod route;
mod snapshot;
mod utc_time;

// The shell: sockets, threads, the OS clock, files and the database.
mod access_log;
mod clock;
mod cors;
mod key_rotation;
mod metrics;
mod optout;
mod server;
mod state;

pub use access_log::{AccessLog, AccessLogMode, AccessLogModeError};
pub use api::{authorize, handle, health_problem, ApiRequest};
pub use api_document::OPENAPI_YAML;
pub use api_error::{ApiError, HealthProblem, SealedRefusal};
pub use api_response::{ApiResponse, JSON, OCTET_STREAM, TEXT, YAML};
pub use clients::{bearer_key, site_id_of_api_key, Client, ClientStore};
pub use clock::now_ms;
pub use config::{ConfigError, OperatorConfig, DEFAULT_LISTEN};
pub use endpoints::{MAX_IDENTITY_MAP_ITEMS, MAX_OPTOUT_STATUS_IDS};
pub use key_rotation::rotation_policy;
pub use metrics::Metrics;
pub use optout::SqliteOptOutStore;
pub use route::Endpoint;
pub use server::{
    router, serve_connections, start, RunningServer, ServerError, ServerOptions, SharedStore,
};
pub use snapshot::{token_config, token_generator, Snapshot, TestIdentities};
pub use state::Operator;

// The data directory, init, key rotation, client records and the opt-out trait live in
// euid-store; these are the names the operator's API uses, re-exported so its callers need
// no second dependency.
pub use euid_store::clients::{new_client, ClientRecord, ClientsError, NewClient, Role, RoleSet};
pub use euid_store::optout::{OptOutError, OptOutRecord, OptOutStore, SequencedOptOut};
pub use euid_store::{
    init_data_dir, maintain_keys, open_data_dir, rotate_keys, DataDir, DataDirError, DataDirStore,
    DemoClient, InitOptions, InitReport, KeyMaintenance, RotateOptions, RotatedKey, RotationPolicy,
    Store, StoreError, DEFAULT_DATA_DIR, DEFAULT_KEY_LIFETIME_SECONDS, DEFAULT_KEY_NOTICE_SECONDS,
    KEYPAIRS_FILE,
};
