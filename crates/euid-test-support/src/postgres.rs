//! The PostgreSQL server the storage tests run against: the throw-away cluster that
//! `scripts/pg-cluster.sh start DIR` starts (scripts/test.sh does it and exports
//! `EUID_TEST_POSTGRES_URL`), with the interop suites' rule for when it is missing.

use crate::interop::missing_with;

/// The URL of the test cluster (`EUID_TEST_POSTGRES_URL`: role `euid`, CREATEDB, so a test
/// can create a database of its own).
///
/// `None` (after a notice on stderr) when it is unset and the suite may be skipped
/// (`EUID_SKIP_INTEROP=1` outside CI); panics when it may not.
pub fn postgres_url(suite: &str) -> Option<String> {
    match std::env::var("EUID_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            missing_with(
                suite,
                "EUID_TEST_POSTGRES_URL is not set",
                "Start a cluster with `scripts/pg-cluster.sh start DIR` and export the URL it \
                 prints as EUID_TEST_POSTGRES_URL",
            );
            None
        }
    }
}
