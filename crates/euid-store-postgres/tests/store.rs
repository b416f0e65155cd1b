//! PostgresStore against the real test cluster: migrations, seeding, refusals, the
//! snapshot round trip, import, and the replicas' opt-out mirror.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{eventually, fresh_db};
use euid_crypto::BatchedOsRandom;
use euid_store::optout::{OptOutRecord, OptOutStore};
use euid_store::{
    fresh_snapshot, DataDirStore, InitOptions, RotateOptions, RotationPolicy, SnapshotSource,
    StoreError, StoreSnapshot, StoreWriter,
};
use euid_store_postgres::{PgSettings, PostgresStore, SCHEMA_VERSION};

fn small() -> InitOptions {
    InitOptions {
        salt_bucket_count: 64,
        ..InitOptions::default()
    }
}

fn fast() -> PgSettings {
    let mut s = PgSettings::default();
    s.poll_interval = Duration::from_millis(200);
    s.max_backoff = Duration::from_millis(500);
    s
}

fn record(i: u32) -> OptOutRecord {
    let mut flh = [0u8; 32];
    flh[..4].copy_from_slice(&i.to_be_bytes());
    let mut id = vec![0xA5u8; 32];
    id[..4].copy_from_slice(&i.to_be_bytes());
    OptOutRecord {
        first_level_hash: flh,
        advertising_id: id,
        opted_out_ms: 1_700_000_000_000 + i64::from(i),
    }
}

/// The parts of a snapshot, as the data directory writes them, for comparison.
fn parts(s: &StoreSnapshot) -> Vec<String> {
    let v = s.salt_validity.expect("validity");
    vec![
        s.keys.keysets_json(),
        s.keys.keyset_keys_json().to_string(),
        s.salts.salts_csv().to_string(),
        s.salts
            .metadata_json(&euid_token::SaltFileLocation {
                generated_s: v.generated_s,
                effective_ms: v.effective_ms,
                expires_ms: v.expires_ms,
                location: "salts.txt".to_owned(),
            })
            .to_string(),
        serde_json::to_string(&s.clients).unwrap(),
        s.keypairs.to_json_pretty(),
    ]
}

#[test]
fn migrations_apply_once_and_report_what_they_did() {
    let Some(db) = fresh_db("migrate") else {
        return;
    };
    let store = PostgresStore::connect(&db.url, fast()).unwrap();
    assert!(!store.has_data().unwrap());
    let first = store.migrate().unwrap();
    assert_eq!(first.applied, vec![(1, "initial".to_owned())]);
    assert_eq!(first.version, SCHEMA_VERSION);
    let again = store.migrate().unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.version, SCHEMA_VERSION);
    assert!(!store.has_data().unwrap());
    // A database migrated by a later build is refused, unchanged.
    db.sql("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')");
    assert!(matches!(
        store.migrate(),
        Err(StoreError::UnknownSchemaVersion { found: 99, .. })
    ));
}

#[test]
fn init_seeds_once_and_refuses_to_seed_again() {
    let Some(db) = fresh_db("init") else { return };
    let store = PostgresStore::connect(&db.url, fast()).unwrap();
    let report = store.initialize(&small()).unwrap();
    let demo = report.demo_client.expect("demo client");
    assert_eq!(demo.site_id, 999);
    assert!(store.has_data().unwrap());
    let snap = store.load_snapshot().unwrap();
    assert_eq!(snap.salts.len(), 64);
    assert_eq!(snap.clients.len(), 1);
    assert_eq!(snap.keypairs.len(), 1);
    let before = parts(&snap);
    match store.initialize(&small()) {
        Err(StoreError::NotEmpty { path }) => assert!(path.contains(&db.name), "{path}"),
        other => panic!("expected NotEmpty, got {other:?}"),
    }
    assert_eq!(parts(&store.load_snapshot().unwrap()), before);
}

#[test]
fn a_replica_refuses_an_uninitialised_or_unknown_database() {
    let Some(db) = fresh_db("refuse") else { return };
    let err = PostgresStore::open_replica(&db.url, fast()).unwrap_err();
    assert!(matches!(err, StoreError::Uninitialized { .. }), "{err:?}");
    let store = PostgresStore::connect(&db.url, fast()).unwrap();
    store.migrate().unwrap();
    // Schema but no data: still uninitialised.
    let err = PostgresStore::open_replica(&db.url, fast()).unwrap_err();
    assert!(matches!(err, StoreError::Uninitialized { .. }), "{err:?}");
    store.initialize(&small()).unwrap();
    PostgresStore::open_replica(&db.url, fast()).unwrap();
    db.sql("INSERT INTO schema_migrations (version, name) VALUES (2, 'from a later build')");
    let err = PostgresStore::open_replica(&db.url, fast()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::UnknownSchemaVersion {
                found: 2,
                known: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("euid:***@") && !text.contains("euid-test"),
        "{text}"
    );
}

#[test]
fn a_snapshot_round_trips_as_the_data_directory_holds_it() {
    let Some(db) = fresh_db("roundtrip") else {
        return;
    };
    let (snap, _demo) =
        fresh_snapshot(&small(), 1_750_000_000, &mut BatchedOsRandom::new()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDirStore::at(tmp.path().join("data"));
    dir.import(&snap).unwrap();
    let pg = PostgresStore::connect(&db.url, fast()).unwrap();
    let report = pg.import(&snap).unwrap();
    assert!(report.written.contains(&"salts".to_owned()));
    let from_dir = dir.load_snapshot().unwrap();
    let from_pg = pg.load_snapshot().unwrap();
    assert_eq!(parts(&from_pg), parts(&from_dir));
    assert_eq!(from_pg.salt_validity, from_dir.salt_validity);
    assert_eq!(from_pg.clients, from_dir.clients);
    // A second import is refused and changes nothing.
    assert!(matches!(pg.import(&snap), Err(StoreError::NotEmpty { .. })));
    assert_eq!(parts(&pg.load_snapshot().unwrap()), parts(&from_dir));
}

#[test]
fn writers_move_the_change_token_and_wake_replicas() {
    let Some(db) = fresh_db("writers") else {
        return;
    };
    let cli = PostgresStore::connect(&db.url, fast()).unwrap();
    cli.initialize(&small()).unwrap();
    let replica = Arc::new(PostgresStore::open_replica(&db.url, fast()).unwrap());
    let token = replica.change_token();
    assert!(!token.is_unavailable());
    let before = replica.load_snapshot().unwrap().keys.keys().count();
    let rotated = cli
        .rotate_keys(&RotateOptions::default(), 1_750_000_000)
        .unwrap();
    assert!(rotated.len() >= 3, "{rotated:?}");
    eventually("the replica sees the rotation", || {
        replica.changed_since(&token)
    });
    let after = replica.load_snapshot().unwrap();
    assert_eq!(after.keys.keys().count(), before + rotated.len());
    // Maintenance that changes nothing moves nothing.
    let policy = RotationPolicy {
        lifetime_seconds: 60,
        notice_seconds: 0,
        refresh_key_retention_seconds: 0,
        token_key_retention_seconds: 0,
    };
    let t = replica.change_token();
    let report = cli.maintain_keys(&policy, 1_750_000_000).unwrap();
    assert!(report.is_empty(), "{report:?}");
    assert_eq!(cli.change_token(), t);
    // Salts written through the store reload as written.
    let snap = cli.load_snapshot().unwrap();
    let rotation = euid_token::rotate_salts(
        &snap.salts,
        0.5,
        1_750_000_001_000,
        &mut BatchedOsRandom::new(),
    )
    .unwrap();
    let waiter = {
        let replica = Arc::clone(&replica);
        std::thread::spawn(move || replica.wait_for_change(Duration::from_secs(30)))
    };
    std::thread::sleep(Duration::from_millis(100));
    cli.write_salts(&rotation.salts, &snap.salt_validity.unwrap())
        .unwrap();
    assert!(waiter.join().unwrap(), "wait_for_change was not woken");
    assert_eq!(
        replica.load_snapshot().unwrap().salts.salts_csv().as_str(),
        rotation.salts.salts_csv().as_str()
    );
}

#[test]
fn a_record_on_one_replica_reaches_the_other_and_keeps_the_latest_time() {
    let Some(db) = fresh_db("mirror") else { return };
    PostgresStore::connect(&db.url, fast())
        .unwrap()
        .initialize(&small())
        .unwrap();
    let a = PostgresStore::open_replica(&db.url, fast()).unwrap();
    let b = PostgresStore::open_replica(&db.url, fast()).unwrap();
    a.available().unwrap();
    let r = record(1);
    a.record(&r).unwrap();
    assert_eq!(
        a.opted_out_since(&r.first_level_hash).unwrap(),
        Some(r.opted_out_ms)
    );
    eventually("b mirrors a's record", || {
        b.opted_out_since(&r.first_level_hash).unwrap().is_some()
    });
    assert_eq!(
        b.advertising_id_opted_out_since(&r.advertising_id).unwrap(),
        Some(r.opted_out_ms)
    );
    // Re-recorded later on b: the later time, a new sequence number, seen by a.
    let seq_before = a.latest_sequence().unwrap();
    let later = OptOutRecord {
        opted_out_ms: r.opted_out_ms + 5_000,
        ..r.clone()
    };
    b.record(&later).unwrap();
    assert!(a.latest_sequence().unwrap() > seq_before);
    eventually("a sees the later time", || {
        a.opted_out_since(&r.first_level_hash).unwrap() == Some(later.opted_out_ms)
    });
    // An earlier time does not move it back.
    b.record(&r).unwrap();
    assert_eq!(
        b.opted_out_since(&r.first_level_hash).unwrap(),
        Some(later.opted_out_ms)
    );
    let all = a.records_since(0, 100).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].record.opted_out_ms, later.opted_out_ms);
    assert_eq!(a.len(), 1);
    // A new replica loads what is there.
    let c = PostgresStore::open_replica(&db.url, fast()).unwrap();
    assert_eq!(
        c.opted_out_since(&r.first_level_hash).unwrap(),
        Some(later.opted_out_ms)
    );
}

#[test]
fn concurrent_writers_lose_nothing_in_the_catch_up() {
    let Some(db) = fresh_db("concurrent") else {
        return;
    };
    PostgresStore::connect(&db.url, fast())
        .unwrap()
        .initialize(&small())
        .unwrap();
    let watcher = PostgresStore::open_replica(&db.url, fast()).unwrap();
    let writers: Vec<_> = (0..4)
        .map(|_| Arc::new(PostgresStore::open_replica(&db.url, fast()).unwrap()))
        .collect();
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let w = Arc::clone(&writers[t as usize % writers.len()]);
            std::thread::spawn(move || {
                for i in 0..40u32 {
                    w.record(&record(t * 1000 + i)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    eventually("the watcher holds all 320 records", || watcher.len() == 320);
    for t in 0..8u32 {
        for i in 0..40u32 {
            let r = record(t * 1000 + i);
            assert_eq!(
                watcher.opted_out_since(&r.first_level_hash).unwrap(),
                Some(r.opted_out_ms)
            );
        }
    }
    // Sequence numbers are unique and the mirror caught up to the last one.
    let all = watcher.records_since(0, 1000).unwrap();
    assert_eq!(all.len(), 320);
    assert!(all.windows(2).all(|w| w[0].sequence < w[1].sequence));
    eventually("the mirror's sequence reaches the last", || {
        watcher.mirrored_sequence() == all[319].sequence
    });
}

#[test]
fn the_mirror_catches_up_after_its_connection_is_dropped() {
    let Some(db) = fresh_db("reconnect") else {
        return;
    };
    PostgresStore::connect(&db.url, fast())
        .unwrap()
        .initialize(&small())
        .unwrap();
    let replica = PostgresStore::open_replica(&db.url, fast()).unwrap();
    replica.health().unwrap();
    let writer = PostgresStore::connect(&db.url, fast()).unwrap();
    for round in 0..3u32 {
        assert!(db.terminate_connections() > 0);
        // Written while the replica's listener is (or was) cut off.
        let r = record(500 + round);
        writer.record(&r).unwrap_or_else(|_| {
            // The writer's pooled connection was cut too: the next attempt reconnects.
            writer.record(&r).unwrap()
        });
        eventually("the replica catches up after the drop", || {
            replica
                .opted_out_since(&r.first_level_hash)
                .unwrap()
                .is_some()
        });
        eventually("the replica's link is back", || replica.available().is_ok());
    }
    assert_eq!(replica.len(), 3);
}

#[test]
fn the_password_never_shows() {
    let Some(db) = fresh_db("password") else {
        return;
    };
    let wrong = db.url.replace(":euid-test@", ":not-the-password@");
    let err = PostgresStore::connect(&wrong, fast()).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("not-the-password"), "{text}");
    assert!(text.contains("euid:***@"), "{text}");
    let store = PostgresStore::connect(&db.url, fast()).unwrap();
    let shown = format!("{store:?} {}", store.location());
    assert!(
        !shown.contains("euid-test") && shown.contains("euid:***@"),
        "{shown}"
    );
}

#[test]
fn every_trait_method_works_from_inside_a_tokio_runtime() {
    let Some(db) = fresh_db("tokio") else { return };
    PostgresStore::connect(&db.url, fast())
        .unwrap()
        .initialize(&small())
        .unwrap();
    let replica = Arc::new(PostgresStore::open_replica(&db.url, fast()).unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let r = record(77);
    let store = Arc::clone(&replica);
    let seen = runtime.block_on(async move {
        tokio::spawn(async move {
            store.record(&r).unwrap();
            assert!(!store.change_token().is_unavailable());
            store.load_snapshot().unwrap();
            store.available().unwrap();
            store.opted_out_since(&r.first_level_hash).unwrap()
        })
        .await
        .unwrap()
    });
    assert_eq!(seen, Some(record(77).opted_out_ms));
}

#[test]
fn a_lost_database_fails_writes_cleanly_while_lookups_serve_from_memory() {
    let Some(db) = fresh_db("lost") else { return };
    PostgresStore::connect(&db.url, fast())
        .unwrap()
        .initialize(&small())
        .unwrap();
    let replica = PostgresStore::open_replica(&db.url, fast()).unwrap();
    let kept = record(1);
    replica.record(&kept).unwrap();
    let token = replica.change_token();
    // The database goes away under the replica (every connection is cut).
    let mut admin = postgres::Client::connect(&db.admin_url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", db.name))
        .unwrap();
    let lost = record(2);
    assert!(matches!(
        replica.record(&lost),
        Err(euid_store::OptOutError::Unavailable)
    ));
    eventually("the replica reports the link down", || {
        replica.available().is_err() && replica.health().is_err()
    });
    assert_eq!(
        replica.opted_out_since(&kept.first_level_hash).unwrap(),
        Some(kept.opted_out_ms)
    );
    assert_eq!(
        replica.opted_out_since(&lost.first_level_hash).unwrap(),
        None
    );
    // The change token stays as it was: no reload storm while the database is away.
    assert_eq!(replica.change_token(), token);
    let err = replica.load_snapshot().unwrap_err();
    assert_eq!(replica.public_reason(&err), "database unavailable");
    assert!(!format!("{err} {err:?}").contains("euid-test"));
}

#[test]
fn two_salt_rotations_at_once_both_take_effect() {
    let Some(db) = fresh_db("salt_race") else {
        return;
    };
    let cli = Arc::new(PostgresStore::connect(&db.url, fast()).unwrap());
    cli.initialize(&small()).unwrap();
    let before = cli.load_snapshot().unwrap();
    // The writer lock held from outside while both rotations start: a rotation that read
    // the salts before taking the lock would overwrite the other's buckets with old salts.
    const WRITER_LOCK: i64 = 0x6575_6964_0001;
    let mut holder = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&WRITER_LOCK])
        .unwrap();
    let rotations: Vec<_> = (0..2)
        .map(|i| {
            let cli = Arc::clone(&cli);
            std::thread::spawn(move || cli.rotate_salts(0.25, 1_750_000_000_000 + i).unwrap())
        })
        .collect();
    // Both are waiting on the lock (the server says so) before it is let go.
    eventually("both rotations wait on the writer lock", || {
        let waiting: i64 = holder
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                &[],
            )
            .unwrap()
            .get(0);
        waiting == 2
    });
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&WRITER_LOCK])
        .unwrap();
    let mut rotated = std::collections::BTreeSet::new();
    for r in rotations {
        rotated.extend(r.join().unwrap().rotated);
    }
    let after = cli.load_snapshot().unwrap();
    let old = before.salts.salts_csv();
    let new = after.salts.salts_csv();
    let changed: std::collections::BTreeSet<usize> = old
        .lines()
        .zip(new.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(changed, rotated, "a rotation was lost");
    assert!(rotated.len() > 16, "two rotations of 16 of 64 buckets");
    assert_eq!(after.salt_validity, before.salt_validity);
    // Out of range: a typed error, nothing written.
    assert!(matches!(
        cli.rotate_salts(1.5, 1_750_000_000_000),
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(
        cli.load_snapshot().unwrap().salts.salts_csv().as_str(),
        new.as_str()
    );
}

#[test]
fn a_snapshot_load_blocked_by_a_lock_gives_up_and_works_once_it_is_gone() {
    let Some(db) = fresh_db("snapshot_limit") else {
        return;
    };
    let mut settings = fast();
    settings.snapshot_timeout = Duration::from_secs(1);
    let store = PostgresStore::connect(&db.url, settings).unwrap();
    store.initialize(&small()).unwrap();
    // A session that holds the salts table so that no read can finish.
    let mut holder = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let mut lock = holder.transaction().unwrap();
    lock.batch_execute("LOCK TABLE salts IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    // Without the limit this load would wait for the lock for ever; a hang detector, not
    // a timing bound, keeps a broken build from stalling the suite.
    let (done, answer) = std::sync::mpsc::channel();
    let store = Arc::new(store);
    let loader = Arc::clone(&store);
    std::thread::spawn(move || {
        let _ = done.send(loader.load_snapshot().map(|_| ()));
    });
    let err = answer
        .recv_timeout(Duration::from_secs(60))
        .expect("the load gave up on its own")
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
    let text = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(text.contains("statement timeout"), "{text}");
    lock.rollback().unwrap();
    let snapshot = store.load_snapshot().unwrap();
    assert_eq!(snapshot.salts.salts_csv().lines().count(), 64);
}
