#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod migrations;
mod rows;
mod settings;
mod store;

pub use migrations::{MigrationReport, SCHEMA_VERSION};
pub use settings::{redact_url, PgSettings, TlsMode};
pub use store::PostgresStore;
