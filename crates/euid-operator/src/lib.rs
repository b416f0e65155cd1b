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
pub mod cstg;
pub mod data_dir;
pub mod endpoints;
pub mod init;
pub mod key_rotation;
pub mod metrics;
pub mod optout;
mod route;
pub mod server;
pub mod snapshot;
pub mod state;

pub use access_log::{AccessLog, AccessLogMode};
pub use api::{handle, ApiRequest, ApiResponse, Endpoint};
pub use api_error::{ApiError, HealthProblem, SealedRefusal};
pub use config::OperatorConfig;
pub use init::{
    init_data_dir, open_data_dir, rotate_keys, InitOptions, InitReport, RotateOptions, RotatedKey,
};
pub use key_rotation::{maintain_keys, KeyMaintenance, RotationPolicy};
pub use server::{router, start, RunningServer, ServerError, ServerOptions};
pub use state::{Operator, Snapshot};
