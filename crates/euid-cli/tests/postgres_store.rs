//! `euid init --store`, `euid keys rotate --store`, `euid salts rotate --store` and
//! `euid import` with the built binary against the real test cluster
//! (`EUID_TEST_POSTGRES_URL`), each test on a database of its own.
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{euid, euid_env};
use euid_operator::{OptOutRecord, OptOutStore, SqliteOptOutStore};
use euid_store::{DataDirStore, SnapshotSource as _};
use euid_store_postgres::{PgSettings, PostgresStore};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A new empty database on the test cluster, or `None` when the suite may be skipped.
fn fresh_db(test: &str) -> Option<String> {
    let admin = euid_test_support::postgres_url("euid-cli --store")?;
    let name = format!(
        "cli_{test}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    postgres::Client::connect(&admin, postgres::NoTls)
        .expect("admin connection")
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let (base, _) = admin.rsplit_once('/').expect("URL with a database");
    Some(format!("{base}/{name}"))
}

fn password(url: &str) -> String {
    let userinfo = url.split("://").nth(1).unwrap().split('@').next().unwrap();
    userinfo.split(':').nth(1).unwrap().to_owned()
}

fn snapshot_parts(s: &euid_store::StoreSnapshot) -> Vec<String> {
    vec![
        s.keys.keysets_json(),
        s.keys.keyset_keys_json().to_string(),
        s.salts.salts_csv().to_string(),
        serde_json::to_string(&s.clients).unwrap(),
        s.keypairs.to_json_pretty(),
        format!("{:?}", s.salt_validity),
    ]
}

#[test]
fn init_seeds_an_empty_database_once_and_writes_the_demo_client_0600() {
    let Some(url) = fresh_db("init") else { return };
    let pw = password(&url);
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo-client.json");
    let demo_s = demo.to_str().unwrap();
    let out = euid(&["init", "--store", &url, "--demo-client", demo_s], b"");
    assert!(!out.stdout.contains(&pw) && !out.stderr.contains(&pw));
    let json = out.json();
    assert_eq!(json["migrations_applied"], serde_json::json!(["1_initial"]));
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["site_id"], 999);
    assert!(json["store"].as_str().unwrap().contains(":***@"), "{json}");
    let mode = std::fs::metadata(&demo).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let creds = euid_store::read_demo_client(&demo).unwrap();
    let store = PostgresStore::connect(&url, PgSettings::default()).unwrap();
    let snap = store.load_snapshot().unwrap();
    assert_eq!(snap.clients.len(), 1);
    assert_eq!(snap.clients[0].site_id, creds.site_id);
    assert_eq!(snap.keypairs.len(), 1);
    assert_eq!(
        creds.subscription_id.as_deref(),
        snap.keypairs
            .iter()
            .next()
            .map(|k| k.subscription_id.as_str())
    );
    let before = snapshot_parts(&snap);

    // Again: migrations only (none pending), a clear refusal, exit 1, no file written.
    let second = tmp.path().join("second.json");
    let out = euid(
        &[
            "init",
            "--store",
            &url,
            "--demo-client",
            second.to_str().unwrap(),
        ],
        b"",
    );
    out.assert_error(1, "already holds data", &[&pw]);
    assert!(!second.exists());
    assert_eq!(snapshot_parts(&store.load_snapshot().unwrap()), before);

    // An existing FILE is never overwritten, even on an empty database.
    let Some(other) = fresh_db("init_file") else {
        return;
    };
    euid(&["init", "--store", &other, "--demo-client", demo_s], b"").assert_error(
        2,
        "exists",
        &[&pw],
    );
}

#[test]
fn store_flags_are_checked_before_anything_is_touched() {
    let Some(url) = fresh_db("flags") else { return };
    let pw = password(&url);
    euid(&["init", "--store", &url], b"").assert_error(
        2,
        "--demo-client FILE or --no-demo-client",
        &[&pw],
    );
    euid(
        &["init", "/tmp/x", "--store", &url, "--no-demo-client"],
        b"",
    )
    .assert_error(2, "not both", &[&pw]);
    euid(&["keys", "rotate"], b"").assert_error(2, "--store", &[]);
    // Nothing was created by the refusals.
    let store = PostgresStore::connect(&url, PgSettings::default()).unwrap();
    assert!(!store.has_data().unwrap());
    // A wrong password is reported without it.
    let wrong = url.replace(&format!(":{pw}@"), ":wrong-password-here@");
    euid(&["keys", "rotate", "--store", &wrong], b"").assert_error(
        1,
        "cannot connect to",
        &["wrong-password-here", &pw],
    );
    // --no-demo-client seeds without a client, through EUID_STORE.
    let out = euid_env(&["init", "--no-demo-client"], b"", &[("EUID_STORE", &url)]);
    let json = out.json();
    assert!(json.get("demo_client_file").is_none(), "{json}");
    let snap = store.load_snapshot().unwrap();
    assert!(snap.clients.is_empty() && snap.keypairs.is_empty());
}

#[test]
fn keys_and_salts_rotate_in_the_database() {
    let Some(url) = fresh_db("rotate") else {
        return;
    };
    euid(&["init", "--store", &url, "--no-demo-client"], b"").json();
    let store = PostgresStore::connect(&url, PgSettings::default()).unwrap();
    let before = store.load_snapshot().unwrap();
    let token = euid_store::SnapshotSource::change_token(&store);

    let json = euid(
        &["keys", "rotate", "--store", &url, "--activates-in", "60"],
        b"",
    )
    .json();
    let rotated = json["rotated"].as_array().unwrap().len();
    assert!(rotated >= 3, "{json}");
    let after = store.load_snapshot().unwrap();
    assert_eq!(
        after.keys.keys().count(),
        before.keys.keys().count() + rotated
    );
    assert_ne!(euid_store::SnapshotSource::change_token(&store), token);

    let json = euid_env(
        &["salts", "rotate", "--fraction", "0.5"],
        b"",
        &[("EUID_STORE", &url)],
    )
    .json();
    assert_eq!(json["buckets"], 1024);
    let n = json["rotated"].as_array().unwrap().len();
    assert!(n > 0, "{json}");
    let salts = store.load_snapshot().unwrap();
    let changed = before
        .salts
        .buckets()
        .zip(salts.salts.buckets())
        .filter(|(a, b)| {
            a.current_salt() != b.current_salt()
                || a.current_key().map(|k| k.key()) != b.current_key().map(|k| k.key())
        })
        .count();
    assert_eq!(changed, n);
    assert_eq!(salts.salt_validity, before.salt_validity);
}

fn numbered(i: u32) -> OptOutRecord {
    let mut flh = [7u8; 32];
    flh[..4].copy_from_slice(&i.to_be_bytes());
    let mut id = vec![9u8; 32];
    id[..4].copy_from_slice(&i.to_be_bytes());
    OptOutRecord {
        first_level_hash: flh,
        advertising_id: id,
        opted_out_ms: 1_700_000_000_000 + i64::from(i),
    }
}

#[test]
fn import_copies_a_data_directory_without_loss_and_only_into_an_empty_database() {
    let Some(url) = fresh_db("import") else {
        return;
    };
    let pw = password(&url);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let dir_s = dir.to_str().unwrap();
    euid(&["init", dir_s], b"").json();
    euid(&["keys", "rotate", dir_s], b"").json();
    // Opt-outs as the operator records them (its store makes the file; the bulk goes in
    // with one transaction, as the store's own per-record fsync would take minutes), one
    // re-recorded later.
    let mut expected = BTreeSet::new();
    {
        let optouts = SqliteOptOutStore::open(&dir.join("optout.db")).unwrap();
        for i in 0..2u32 {
            optouts.record(&numbered(i)).unwrap();
        }
        drop(optouts);
        let mut conn = rusqlite::Connection::open(dir.join("optout.db")).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 2..25_000u32 {
            let r = numbered(i);
            tx.execute(
                "INSERT INTO optout (first_level_hash, advertising_id, opted_out_ms, seq)
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    &r.first_level_hash[..],
                    &r.advertising_id,
                    r.opted_out_ms,
                    i + 1
                ],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        drop(conn);
        let optouts = SqliteOptOutStore::open(&dir.join("optout.db")).unwrap();
        let mut flh = [7u8; 32];
        flh[..4].copy_from_slice(&3u32.to_be_bytes());
        let mut id = vec![9u8; 32];
        id[..4].copy_from_slice(&3u32.to_be_bytes());
        optouts
            .record(&OptOutRecord {
                first_level_hash: flh,
                advertising_id: id,
                opted_out_ms: 1_800_000_000_000,
            })
            .unwrap();
        let mut after = 0;
        loop {
            let page = optouts.records_since(after, 5000).unwrap();
            let Some(last) = page.last() else { break };
            after = last.sequence;
            for r in page {
                expected.insert((
                    r.record.first_level_hash,
                    r.record.advertising_id,
                    r.record.opted_out_ms,
                ));
            }
        }
    }
    assert_eq!(expected.len(), 25_000);

    let out = euid(&["import", "--from", dir_s, "--store", &url], b"");
    assert!(!out.stdout.contains(&pw));
    let json = out.json();
    assert_eq!(json["optouts"], 25_000, "{json}");

    let store = PostgresStore::connect(&url, PgSettings::default()).unwrap();
    let source = DataDirStore::at(&dir).load_snapshot().unwrap();
    assert_eq!(
        snapshot_parts(&store.load_snapshot().unwrap()),
        snapshot_parts(&source)
    );
    let mut got = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = store.records_since(after, 7000).unwrap();
        let Some(last) = page.last() else { break };
        after = last.sequence;
        for r in page {
            got.insert((
                r.record.first_level_hash,
                r.record.advertising_id,
                r.record.opted_out_ms,
            ));
        }
    }
    assert_eq!(got, expected);
    // A replica opened on it serves the latest time of the re-recorded identity.
    let replica = PostgresStore::open_replica(&url, PgSettings::default()).unwrap();
    let mut flh = [7u8; 32];
    flh[..4].copy_from_slice(&3u32.to_be_bytes());
    assert_eq!(
        replica.opted_out_since(&flh).unwrap(),
        Some(1_800_000_000_000)
    );
    assert_eq!(replica.len(), 25_000);

    // A second import is refused and changes nothing.
    euid(&["import", "--from", dir_s, "--store", &url], b"").assert_error(
        1,
        "already holds data",
        &[&pw],
    );
    assert_eq!(store.latest_sequence().unwrap(), after);
}

#[test]
fn an_import_that_fails_half_way_leaves_the_database_empty_and_can_run_again() {
    let Some(url) = fresh_db("import_fail") else {
        return;
    };
    let pw = password(&url);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let dir_s = dir.to_str().unwrap();
    euid(&["init", dir_s], b"").json();
    drop(SqliteOptOutStore::open(&dir.join("optout.db")).unwrap());
    // 15,000 good rows, then (latest in the copy's order) one whose hash is 31 bytes: the
    // import has sent a page of good rows into its transaction before it meets the bad one.
    {
        let mut conn = rusqlite::Connection::open(dir.join("optout.db")).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..15_000u32 {
            let r = numbered(i);
            tx.execute(
                "INSERT INTO optout (first_level_hash, advertising_id, opted_out_ms, seq)
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    &r.first_level_hash[..],
                    &r.advertising_id,
                    r.opted_out_ms,
                    i + 1
                ],
            )
            .unwrap();
        }
        tx.execute(
            "INSERT INTO optout (first_level_hash, advertising_id, opted_out_ms, seq)
             VALUES (?1, ?2, 1900000000000, 15001)",
            rusqlite::params![&[1u8; 31][..], &[2u8; 32][..]],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    euid(&["import", "--from", dir_s, "--store", &url], b"").assert_error(
        1,
        "nothing was imported",
        &[&pw],
    );
    let store = PostgresStore::connect(&url, PgSettings::default()).unwrap();
    assert!(!store.has_data().unwrap(), "the failed import left data");
    assert_eq!(store.latest_sequence().unwrap(), 0);

    // Mended, the same import runs again and brings everything.
    rusqlite::Connection::open(dir.join("optout.db"))
        .unwrap()
        .execute(
            "DELETE FROM optout WHERE length(first_level_hash) <> 32",
            [],
        )
        .unwrap();
    let json = euid(&["import", "--from", dir_s, "--store", &url], b"").json();
    assert_eq!(json["optouts"], 15_000, "{json}");
    assert!(store.has_data().unwrap());
}
