//! TLS to PostgreSQL against a real server of the test's own (a private cluster restarted
//! with `ssl=on` and a certificate made here): every `sslmode`, the root certificates from
//! `sslrootcert`, a wrong CA, a wrong host name, a plain server under `require`, and a
//! replica serving over verify-full. The server itself reports whether each connection is
//! encrypted (`pg_stat_ssl`).

use std::path::Path;

use euid_store::optout::{OptOutRecord, OptOutStore};
use euid_store::{InitOptions, StoreError, StoreWriter};
use euid_store_postgres::{PgSettings, PostgresStore};
use euid_test_support::{postgres_url, PrivateCluster};

struct Cert {
    pem: String,
    key_pem: String,
}

fn self_signed(names: &[&str]) -> Cert {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let made = rcgen::generate_simple_self_signed(names).unwrap();
    Cert {
        pem: made.cert.pem(),
        key_pem: made.signing_key.serialize_pem(),
    }
}

/// `postgres://euid:euid-test@HOST:PORT/euid?PARAMS`.
fn url(cluster: &PrivateCluster, host: &str, params: &str) -> String {
    format!(
        "postgres://euid:euid-test@{host}:{}/euid?{params}",
        cluster.port()
    )
}

/// Whether every open connection of application `app` is encrypted, and how many there are,
/// as the server sees it (asked over a plain connection of its own). Each store in this test
/// names its own application, so a closing one is never counted.
fn encrypted_connections(cluster: &PrivateCluster, app: &str) -> (bool, usize) {
    let mut admin = postgres::Client::connect(
        &url(
            cluster,
            "127.0.0.1",
            "sslmode=disable&application_name=admin",
        ),
        postgres::NoTls,
    )
    .expect("admin connection");
    let rows = admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
              WHERE a.application_name = $1",
            &[&app],
        )
        .unwrap();
    let all = rows.iter().all(|r| r.get::<_, bool>(0));
    (all, rows.len())
}

fn connect(url: &str) -> Result<PostgresStore, StoreError> {
    PostgresStore::connect(url, PgSettings::default())
}

/// The error of a refused connection, as text (checked for the password too).
fn refused(url: &str) -> String {
    let err = connect(url).expect_err("the connection is refused");
    let text = format!("{err} | {err:?}");
    assert!(!text.contains("euid-test"), "the password shows: {text}");
    text
}

/// Refused for the certificate's signer: the other CA has the same name as the right one
/// (rcgen's fixed subject), so webpki reports its signature as bad rather than its issuer
/// as unknown; both mean untrusted.
fn assert_untrusted(text: &str) {
    assert!(
        text.contains("invalid peer certificate: BadSignature")
            || text.contains("invalid peer certificate: UnknownIssuer"),
        "{text}"
    );
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn every_sslmode_does_what_libpq_does() {
    if postgres_url("the PostgreSQL TLS test").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut cluster = PrivateCluster::start(&tmp.path().join("cluster"));

    // A server without TLS: require refuses to connect in the clear; prefer connects plain.
    let text = refused(&url(&cluster, "127.0.0.1", "sslmode=require"));
    assert!(text.contains("TLS") || text.contains("SSL"), "{text}");
    let plain = connect(&url(
        &cluster,
        "127.0.0.1",
        "sslmode=prefer&application_name=plain",
    ))
    .unwrap();
    assert_eq!(encrypted_connections(&cluster, "plain"), (false, 1));
    drop(plain);

    // The server's certificate names `localhost` only; a second one is another CA's.
    let server = self_signed(&["localhost"]);
    let other = self_signed(&["localhost"]);
    cluster.restart_with(
        &[
            ("server.crt", server.pem.as_bytes()),
            ("server.key", server.key_pem.as_bytes()),
        ],
        "-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key",
    );
    let ca = write(tmp.path(), "ca.pem", &server.pem);
    let wrong_ca = write(tmp.path(), "other-ca.pem", &other.pem);

    // verify-full: the right CA and the right name.
    let full = connect(&url(
        &cluster,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}&application_name=full"),
    ))
    .unwrap();
    assert_eq!(encrypted_connections(&cluster, "full"), (true, 1));
    drop(full);
    // ... not another CA, not the Mozilla roots, not another name.
    let text = refused(&url(
        &cluster,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={wrong_ca}"),
    ));
    assert_untrusted(&text);
    let text = refused(&url(&cluster, "localhost", "sslmode=verify-full"));
    assert!(text.contains("UnknownIssuer"), "{text}");
    let text = refused(&url(
        &cluster,
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    assert!(
        text.contains("certificate not valid for name \"127.0.0.1\""),
        "{text}"
    );

    // verify-ca: the chain, not the name; still not another CA.
    let chain = connect(&url(
        &cluster,
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={ca}&application_name=chain"),
    ))
    .unwrap();
    assert_eq!(encrypted_connections(&cluster, "chain"), (true, 1));
    drop(chain);
    let text = refused(&url(
        &cluster,
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={wrong_ca}"),
    ));
    assert_untrusted(&text);

    // require and prefer without a root file encrypt and check nothing (libpq's rule); with
    // one, they check the chain.
    for mode in ["require", "prefer"] {
        let store = connect(&url(
            &cluster,
            "127.0.0.1",
            &format!("sslmode={mode}&application_name={mode}"),
        ))
        .unwrap();
        assert_eq!(encrypted_connections(&cluster, mode), (true, 1), "{mode}");
        drop(store);
        let text = refused(&url(
            &cluster,
            "127.0.0.1",
            &format!("sslmode={mode}&sslrootcert={wrong_ca}"),
        ));
        assert_untrusted(&text);
    }

    // A replica over verify-full: init, the listener, a write and its lookup.
    let secure = url(
        &cluster,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}&application_name=replica"),
    );
    let writer = connect(&secure).unwrap();
    writer
        .initialize(&InitOptions {
            salt_bucket_count: 64,
            demo_client: false,
            ..InitOptions::default()
        })
        .unwrap();
    let replica = PostgresStore::open_replica(&secure, PgSettings::default()).unwrap();
    let record = OptOutRecord {
        first_level_hash: [7; 32],
        advertising_id: vec![9; 32],
        opted_out_ms: 1_700_000_000_000,
    };
    replica.record(&record).unwrap();
    assert_eq!(
        replica.opted_out_since(&[7; 32]).unwrap(),
        Some(1_700_000_000_000)
    );
    let (all_encrypted, connections) = encrypted_connections(&cluster, "replica");
    assert!(
        all_encrypted && connections >= 2,
        "{connections} connections"
    );
    drop(replica);
    drop(writer);
    drop(cluster);
}
