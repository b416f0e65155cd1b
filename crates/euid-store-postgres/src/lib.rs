#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[allow(dead_code)] // Skeleton: used once migrate() is filled in.
mod migrations;
mod settings;
mod store;

pub use migrations::{MigrationReport, SCHEMA_VERSION};
pub use settings::{redact_url, PgSettings, TlsMode};
pub use store::PostgresStore;
