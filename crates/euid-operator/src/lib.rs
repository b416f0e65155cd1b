#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod access_log;
pub mod api;
pub mod api_error;
mod api_response;
pub mod clients;
mod clock;
pub mod config;
pub mod cors;
pub mod endpoints;
pub mod key_rotation;
pub mod metrics;
pub mod optout;
mod route;
pub mod server;
pub mod snapshot;
pub mod state;
mod utc_time;

pub use access_log::{AccessLog, AccessLogMode};
pub use api::{handle, ApiRequest, ApiResponse, Endpoint};
pub use api_error::{ApiError, HealthProblem, SealedRefusal};
pub use config::OperatorConfig;
pub use key_rotation::rotation_policy;

// The data directory, init and key rotation live in euid-store; these are the names the
// operator's API uses, re-exported so its callers need no second dependency.
pub use euid_store::{
    init_data_dir, maintain_keys, open_data_dir, rotate_keys, DataDir, DataDirError, DataDirStore,
    DemoClient, InitOptions, InitReport, KeyMaintenance, RotateOptions, RotatedKey, RotationPolicy,
    Store, StoreError, DEFAULT_DATA_DIR, KEYPAIRS_FILE,
};
pub use server::{router, start, RunningServer, ServerError, ServerOptions};
pub use state::{Operator, Snapshot};
