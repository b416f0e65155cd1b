#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod migrations;
mod rows;
mod settings;
mod store;
mod tls;

pub use migrations::{MigrationReport, SCHEMA_VERSION};
pub use settings::{redact_url, PgSettings, RootCertificates, TlsMode};
pub use store::{Import, PostgresStore};
