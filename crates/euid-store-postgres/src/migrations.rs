//! The versioned schema: SQL files embedded at build time, applied in order, each recorded
//! in `schema_migrations`.

/// One migration: its version and name, and the SQL it runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration this build knows, in version order (the files under `migrations/`).
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: include_str!("../migrations/0001_initial.sql"),
}];

/// The newest schema version this build knows: a database at a later one is refused.
pub const SCHEMA_VERSION: i64 = 1;

/// What [`PostgresStore::migrate`](crate::PostgresStore::migrate) did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The migrations applied by this call, `(version, name)`, in order; empty when the
    /// schema was already current.
    pub applied: Vec<(i64, String)>,
    /// The schema version after the call.
    pub version: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one_to_the_current_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
            assert!(!m.sql.trim().is_empty());
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }
}
