//! A database of its own for each test, on the cluster of `EUID_TEST_POSTGRES_URL`.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A fresh, empty database: its URL, and the cluster URL it was made from (for admin work).
pub struct TestDb {
    pub url: String,
    pub admin_url: String,
    pub name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `None` when the suite may be skipped (no cluster outside CI).
pub fn fresh_db(test: &str) -> Option<TestDb> {
    let admin_url = euid_test_support::postgres_url("euid-store-postgres")?;
    let name = format!(
        "t_{}_{}_{}",
        test,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin =
        postgres::Client::connect(&admin_url, postgres::NoTls).expect("admin connection");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .expect("URL with a database");
    Some(TestDb {
        url: format!("{base}/{name}"),
        admin_url,
        name,
    })
}

impl TestDb {
    /// Runs SQL on this database over a connection of its own.
    pub fn sql(&self, sql: &str) {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).expect("connection");
        c.batch_execute(sql).expect("sql");
    }

    /// Ends every other connection to this database (as a failover or a restart would).
    pub fn terminate_connections(&self) -> u64 {
        let mut admin =
            postgres::Client::connect(&self.admin_url, postgres::NoTls).expect("admin connection");
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .expect("terminate")
            .len() as u64
    }
}

/// Waits for `cond` with a generous failure deadline (not a timing assertion).
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
