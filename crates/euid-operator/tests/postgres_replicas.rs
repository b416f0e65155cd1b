//! Operator replicas on one PostgreSQL database (#19), all real: the `euid-operator` binary
//! started twice with `--store`, the database set up by `euid init --store`, keys rotated by
//! `euid keys rotate --store`, a real server (the CI cluster of `scripts/pg-cluster.sh`, each
//! test in a database of its own; the restart test in a private cluster it stops and starts).
//!
//! - `a_replica_pair_shares_opt_outs_keys_and_serves_the_official_sdk`: one pair for the
//!   checks that leave each other's state alone: a logout on B is honoured by a refresh on
//!   A (the propagation time is printed, not asserted), a CLI key rotation reaches both and
//!   tokens of either decrypt with the keys of the other, the official Python SDK passes
//!   against each replica (one client per replica), and last a `kill -9` of B in the middle of
//!   a burst of logouts: every acknowledged one is honoured by A.
//! - `a_postgres_restart_under_traffic_loses_nothing_acknowledged`: generate answers 200
//!   throughout (refresh, identity map and keys too during the outage, opt-outs honoured),
//!   logouts 503 during the outage and 200 after, the healthcheck says degraded
//!   then OK, and a replica started afterwards sees every acknowledged logout.
//! - `a_hung_database_gets_clear_503s_and_keeps_nothing_it_refused`: a frozen server
//!   (SIGSTOP): a logout gets the 503 within half the request timeout, generate, refresh and
//!   the map answer from memory, the healthcheck says degraded; after the resume logouts
//!   succeed and the refused one was rolled back, not committed late.
//! - `a_replica_refuses_an_uninitialised_database_or_an_unknown_schema`: exit status 1, a
//!   clear message, the URL without its password, and the database left untouched.
//!
//! `euid` is the CLI built beside `euid-operator` (`cargo test --workspace` builds both; after
//! `cargo test -p euid-operator` alone, build it with `cargo build -p euid-cli`). Without
//! `EUID_TEST_POSTGRES_URL` these tests fail; outside CI `EUID_SKIP_INTEROP=1` skips them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use euid_client::{BidstreamClient, DecryptionStatus};
use euid_operator::DemoClient;
use euid_test_support::{
    http, interop_python, postgres_url, refresh, repo_root, try_http, ApiClient, HttpResponse,
    PrivateCluster, SpawnedOperator, SUFFICIENT_TCF,
};
use serde_json::Value;

const OPERATOR: &str = env!("CARGO_BIN_EXE_euid-operator");
/// Generous: a slow CI machine must not flake. The figures are printed.
const PROPAGATION_BOUND: Duration = Duration::from_secs(15);

/// The CLI beside the operator binary.
fn euid_bin() -> PathBuf {
    let bin = Path::new(OPERATOR).with_file_name("euid");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p euid-cli` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// Runs `euid ARGS`; panics with its output unless it succeeds.
fn euid(args: &[&str]) -> String {
    let out = Command::new(euid_bin())
        .args(args)
        .output()
        .expect("euid runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "euid {:?} failed:\n{stdout}\n{}",
        args.first(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `psql URL -c SQL`.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (server, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{server}/{name}")
}

/// A database of the test's own on the server at `server_url`, dropped at the end.
struct TestDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    fn create(server_url: &str, tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("euid_{tag}_{}_{nanos}", std::process::id());
        psql(server_url, &format!("CREATE DATABASE {name}"));
        Self {
            server_url: server_url.to_owned(),
            url: with_database(server_url, &name),
            name,
        }
    }

    /// `euid init --store URL --demo-client FILE`: the schema and the initial data; the
    /// demo client's credentials from FILE.
    fn init(&self, dir: &Path) -> DemoClient {
        let file = dir.join(format!("{}-demo-client.json", self.name));
        let file_arg = file.to_str().unwrap();
        euid(&["init", "--store", &self.url, "--demo-client", file_arg]);
        serde_json::from_slice(&std::fs::read(&file).unwrap()).expect("demo-client.json")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // The server may be gone already (a private cluster stopped first).
        let _ = Command::new("psql")
            .args([
                self.server_url.as_str(),
                "-qAt",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn replica(url: &str) -> SpawnedOperator {
    SpawnedOperator::spawn_on_store(OPERATOR, url, &["--access-log", "off"], &[])
}

fn client(op: &SpawnedOperator, demo: &DemoClient) -> ApiClient {
    ApiClient::new(op.addr, &demo.api_key, &demo.client_secret)
}

fn generate(c: &ApiClient, email: &str) -> Value {
    c.generate(&format!(r#""email":"{email}""#))
}

/// The encrypted logout of `email`, without panicking on a dead server: `Ok(200's JSON)`,
/// `Ok(Err(the error answer))`, or `Err` for no answer at all.
fn try_logout(c: &ApiClient, email: &str) -> std::io::Result<Result<Value, HttpResponse>> {
    let (body, nonce) = c.envelope(&format!(r#"{{"email":"{email}"}}"#), now());
    let auth = format!("Bearer {}", c.api_key);
    let resp = try_http(
        c.addr,
        "POST",
        "/v2/token/logout",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &body,
    )?;
    if resp.status != 200 {
        return Ok(Err(resp));
    }
    Ok(Ok(c.open(&resp, nonce)))
}

fn now() -> i64 {
    euid_test_support::now_ms()
}

fn logout(c: &ApiClient, email: &str) {
    let answer = try_logout(c, email).expect("an answer");
    match answer {
        Ok(json) => assert_eq!(json["body"]["optout"], "OK", "{json}"),
        Err(resp) => panic!("logout answered {} {}", resp.status, resp.text()),
    }
}

/// The refresh status (`success`, `optout`) of a generate answer's refresh token.
fn refresh_status(addr: std::net::SocketAddr, body: &Value) -> String {
    let answer = refresh(
        addr,
        body["refresh_token"].as_str().unwrap(),
        body["refresh_response_key"].as_str().unwrap(),
        None,
    )
    .unwrap_or_else(|r| panic!("refresh answered {} {}", r.status, r.text()));
    answer["status"].as_str().unwrap_or_default().to_owned()
}

/// Which of `emails` `/v3/identity/map` on `c` reports as opted out.
fn opted_out(c: &ApiClient, emails: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in emails.chunks(1000) {
        let answer = c.call(
            "/v3/identity/map",
            &serde_json::json!({ "email": chunk }).to_string(),
        );
        let rows = answer["body"]["email"].as_array().expect("email answers");
        for (email, row) in chunk.iter().zip(rows) {
            if row["e"] == "optout" {
                out.push(email.clone());
            }
        }
    }
    out
}

fn health(addr: std::net::SocketAddr) -> (u16, String) {
    match try_http(addr, "GET", "/ops/healthcheck", &[], b"") {
        Ok(r) => (r.status, r.text()),
        Err(e) => (0, e.to_string()),
    }
}

/// Polls `condition` every 10 ms until it holds (the time it took) or `bound` passes.
fn wait_until(bound: Duration, what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if condition() {
            return started.elapsed();
        }
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The key ids `/v2/key/bidstream` hands out.
fn bidstream_key_ids(c: &ApiClient) -> Vec<i64> {
    let answer = c.call("/v2/key/bidstream", "");
    let mut ids: Vec<i64> = answer["body"]["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn bidstream(op: &SpawnedOperator, demo: &DemoClient) -> BidstreamClient {
    let c = BidstreamClient::new(
        &format!("http://{}", op.addr),
        &demo.api_key,
        &demo.client_secret,
    )
    .expect("client");
    c.refresh().expect("keys");
    c
}

#[test]
fn a_replica_pair_shares_opt_outs_keys_and_serves_the_official_sdk() {
    let Some(server) = postgres_url("the PostgreSQL replica tests") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&server, "pair");
    let demo = db.init(tmp.path());
    let a = replica(&db.url);
    let mut b = Some(replica(&db.url));
    let on_a = client(&a, &demo);
    let on_b = client(b.as_ref().unwrap(), &demo);

    // 1. Generate on A, logout on B, refresh on A answers optout.
    let tokens = generate(&on_a, "propagation@example.com");
    assert_eq!(refresh_status(a.addr, &tokens), "success");
    logout(&on_b, "propagation@example.com");
    let took = wait_until(PROPAGATION_BOUND, "the logout reaches A", || {
        refresh_status(a.addr, &tokens) == "optout"
    });
    eprintln!(
        "opt-out propagation B -> A (logout acknowledged to refresh answering optout): {took:?}"
    );
    let mut samples = vec![took];
    for i in 0..4 {
        let email = format!("propagation-{i}@example.com");
        let tokens = generate(&on_a, &email);
        logout(&on_b, &email);
        samples.push(wait_until(
            PROPAGATION_BOUND,
            "the logout reaches A",
            || refresh_status(a.addr, &tokens) == "optout",
        ));
    }
    samples.sort_unstable();
    eprintln!(
        "opt-out propagation over {} logouts: min {:?}, median {:?}, max {:?}",
        samples.len(),
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1]
    );

    // 2. A key rotation through the CLI reaches both replicas without a restart; each
    // one's tokens decrypt with the keys the other hands out.
    let before = bidstream_key_ids(&on_a);
    assert_eq!(bidstream_key_ids(&on_b), before);
    euid(&["keys", "rotate", "--store", &db.url, "--activates-in", "1"]);
    let took = wait_until(
        PROPAGATION_BOUND,
        "the new keys reach both replicas",
        || {
            let now_a = bidstream_key_ids(&on_a);
            now_a != before && bidstream_key_ids(&on_b) == now_a
        },
    );
    eprintln!("key rotation reached both replicas after {took:?}");
    std::thread::sleep(Duration::from_millis(1100));
    let (keys_a, keys_b) = (bidstream(&a, &demo), bidstream(b.as_ref().unwrap(), &demo));
    let token_a = generate(&on_a, "keys@example.com")["advertising_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let token_b = generate(&on_b, "keys@example.com")["advertising_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let from_a_with_b = keys_b.decrypt_token_into_raw_uid(&token_a, None);
    let from_b_with_a = keys_a.decrypt_token_into_raw_uid(&token_b, None);
    assert_eq!(from_a_with_b.status, DecryptionStatus::Success);
    assert_eq!(from_b_with_a.status, DecryptionStatus::Success);
    assert_eq!(from_a_with_b.uid, from_b_with_a.uid);

    // 3. The unmodified official SDK against each replica, one client each. The email the
    // script expects to be opted out is logged out on the other replica only.
    if let Some(python) = interop_python("the SDK interop suite on PostgreSQL replicas") {
        let opted_out_email = "sdk.logged.out@example.org";
        logout(&on_b, opted_out_email);
        let email = [opted_out_email.to_owned()];
        wait_until(PROPAGATION_BOUND, "the SDK's opt-out reaches A", || {
            opted_out(&on_a, &email).len() == 1
        });
        for (name, op) in [("A", &a), ("B", b.as_ref().unwrap())] {
            let started = Instant::now();
            let output = Command::new(&python)
                .arg(repo_root().join("tests/interop/sdk_e2e.py"))
                .args([
                    &format!("http://{}", op.addr),
                    &demo.api_key,
                    &demo.client_secret,
                    &demo.site_id.to_string(),
                    opted_out_email,
                ])
                .output()
                .expect("python runs");
            assert!(
                output.status.success(),
                "SDK run against replica {name} failed:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let results: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
            let checks = results["checks"].as_array().expect("checks");
            assert!(checks.iter().any(|c| c == "identity_map_v3"), "{checks:?}");
            eprintln!(
                "official SDK against replica {name}: {} checks in {:?}",
                checks.len(),
                started.elapsed()
            );
        }
    }

    // 4. kill -9 of B in the middle of a burst of logouts from several threads: every
    // logout B acknowledged is honoured by A.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let attempted = Arc::new(Mutex::new(Vec::<String>::new()));
    let dead = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let c = ApiClient::new(on_b.addr, &demo.api_key, &demo.client_secret);
            let (acknowledged, attempted, dead) =
                (acknowledged.clone(), attempted.clone(), dead.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let email = format!("burst-{t}-{i}@example.com");
                    attempted.lock().unwrap().push(email.clone());
                    match try_logout(&c, &email) {
                        Ok(Ok(json)) if json["body"]["optout"] == "OK" => {
                            acknowledged.lock().unwrap().push(email);
                        }
                        Ok(Ok(json)) => panic!("logout answered {json}"),
                        Ok(Err(resp)) => panic!("logout answered {} {}", resp.status, resp.text()),
                        Err(_) if dead.load(Ordering::SeqCst) => return,
                        Err(e) => panic!("logout failed before the kill: {e}"),
                    }
                }
            })
        })
        .collect();
    wait_until(PROPAGATION_BOUND, "logouts are under way", || {
        acknowledged.lock().unwrap().len() >= 40
    });
    dead.store(true, Ordering::SeqCst);
    b.take().unwrap().kill();
    for w in workers {
        w.join().expect("logout thread");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let attempted = attempted.lock().unwrap().clone();
    let took = wait_until(
        PROPAGATION_BOUND,
        "every acknowledged logout reaches A",
        || {
            let seen = opted_out(&on_a, &acknowledged);
            seen.len() == acknowledged.len()
        },
    );
    eprintln!(
        "kill -9 in a burst: {} logouts acknowledged of {} attempted, all honoured by A within {took:?}",
        acknowledged.len(),
        attempted.len()
    );
    let health_a = http(a.addr, "GET", "/ops/healthcheck", &[], b"");
    assert_eq!(health_a.status, 200, "{}", health_a.text());
    a.stop();
}

/// `euid-operator --store URL` on a database it cannot serve: exit status 1, what is wrong,
/// the URL without its password.
fn refused_start(url: &str) -> String {
    let out = Command::new(OPERATOR)
        .args(["--listen", "127.0.0.1:0", "--store", url])
        .env_remove("EUID_STORE")
        .output()
        .expect("euid-operator runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains("listening"), "{stdout}");
    let (_, password) = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(creds, _)| creds.split_once(':'))
        .expect("the test URL has a password");
    assert!(
        !stderr.contains(password),
        "the password is shown: {stderr}"
    );
    assert!(stderr.contains(":***@"), "no redacted URL: {stderr}");
    stderr
}

#[test]
fn a_replica_refuses_an_uninitialised_database_or_an_unknown_schema() {
    let Some(server) = postgres_url("the PostgreSQL replica tests") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&server, "refuse");
    let stderr = refused_start(&db.url);
    assert!(stderr.contains("is not initialised"), "{stderr}");
    assert!(stderr.contains("euid init --store"), "{stderr}");
    // It never initialises one itself.
    assert_eq!(
        psql(
            &db.url,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        .trim(),
        "0"
    );

    db.init(tmp.path());
    psql(
        &db.url,
        "INSERT INTO schema_migrations (version, name) VALUES (999, 'from a later release')",
    );
    let stderr = refused_start(&db.url);
    assert!(stderr.contains("schema version 999"), "{stderr}");
}

#[test]
fn a_postgres_restart_under_traffic_loses_nothing_acknowledged() {
    // The shared cluster is for the other tests: this one owns the server it restarts.
    if postgres_url("the PostgreSQL restart test").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cluster = PrivateCluster::start(&tmp.path().join("cluster"));
    let db = TestDatabase::create(cluster.url(), "restart");
    let demo = db.init(tmp.path());
    let a = replica(&db.url);
    let on_a = client(&a, &demo);

    let kept = generate(&on_a, "kept@example.com");
    let dropped = generate(&on_a, "dropped@example.com");
    logout(&on_a, "dropped@example.com");

    let stop = Arc::new(AtomicBool::new(false));
    // Generate keeps answering 200 from memory, whatever the database does.
    let generator = {
        let c = ApiClient::new(a.addr, &demo.api_key, &demo.client_secret);
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let (resp, nonce) = c.send(
                    "/v2/token/generate",
                    &format!(r#"{{"email":"gen-{n}@example.com","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
                );
                assert_eq!(
                    resp.status,
                    200,
                    "generate during the outage: {}",
                    resp.text()
                );
                assert_eq!(c.open(&resp, nonce)["status"], "success");
                n += 1;
                // Steady traffic, not a CPU hog on a small CI machine.
                std::thread::sleep(Duration::from_millis(5));
            }
            n
        })
    };
    // Logouts: each answer is 200 (acknowledged) or 503 with the documented message.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(Mutex::new(Vec::<String>::new()));
    let logouts = {
        let c = ApiClient::new(a.addr, &demo.api_key, &demo.client_secret);
        let (stop, acknowledged, refused) = (stop.clone(), acknowledged.clone(), refused.clone());
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let email = format!("outage-{i}@example.com");
                match try_logout(&c, &email).expect("the replica answers") {
                    Ok(json) => {
                        assert_eq!(json["body"]["optout"], "OK");
                        acknowledged.lock().unwrap().push(email);
                    }
                    Err(resp) => {
                        resp.assert_error(
                            503,
                            "unknown",
                            Some("Opt-out could not be recorded: the opt-out store is unavailable, retry later"),
                        );
                        refused.lock().unwrap().push(email);
                    }
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    wait_until(PROPAGATION_BOUND, "logouts before the outage", || {
        acknowledged.lock().unwrap().len() >= 5
    });
    assert_eq!(health(a.addr).0, 200);

    cluster.stop_server();
    let degraded_after = wait_until(
        PROPAGATION_BOUND,
        "the healthcheck reports the outage",
        || {
            let (status, body) = health(a.addr);
            status == 503 && body.starts_with("degraded:")
        },
    );
    wait_until(PROPAGATION_BOUND, "logouts are refused", || {
        !refused.lock().unwrap().is_empty()
    });
    // Refresh and the read endpoints answer from memory too, opt-outs included.
    assert_eq!(refresh_status(a.addr, &kept), "success");
    assert_eq!(refresh_status(a.addr, &dropped), "optout");
    assert_eq!(
        opted_out(&on_a, &["dropped@example.com".to_owned()]),
        ["dropped@example.com"]
    );
    assert!(!bidstream_key_ids(&on_a).is_empty());
    let acked_before_restart = acknowledged.lock().unwrap().len();
    std::thread::sleep(Duration::from_secs(2));
    cluster.start_server();
    let recovered_after = wait_until(Duration::from_secs(30), "logouts succeed again", || {
        acknowledged.lock().unwrap().len() > acked_before_restart + 3
    });
    wait_until(Duration::from_secs(30), "the healthcheck recovers", || {
        health(a.addr).0 == 200
    });
    stop.store(true, Ordering::SeqCst);
    let generated = generator.join().expect("every generate answered 200");
    logouts.join().expect("every logout answered 200 or 503");
    let acknowledged = acknowledged.lock().unwrap().clone();
    let refused = refused.lock().unwrap().clone();
    eprintln!(
        "PostgreSQL restart: {generated} generates all 200; {} logouts acknowledged, {} refused with 503; degraded reported {degraded_after:?} after the stop, logouts back {recovered_after:?} after the start",
        acknowledged.len(),
        refused.len()
    );

    // Nothing acknowledged is lost: a replica started now, from the database alone, and the
    // replica that lived through it both honour every acknowledged logout.
    let fresh = replica(&db.url);
    let on_fresh = client(&fresh, &demo);
    assert_eq!(opted_out(&on_fresh, &acknowledged), acknowledged);
    wait_until(
        PROPAGATION_BOUND,
        "A honours every acknowledged logout",
        || opted_out(&on_a, &acknowledged).len() == acknowledged.len(),
    );
    // And A holds nothing the database does not: a refused logout is in A's memory only if
    // it was committed after all (an answer lost with the connection), never otherwise.
    let refused_on_a = opted_out(&on_a, &refused);
    let refused_in_db = opted_out(&on_fresh, &refused);
    assert!(
        refused_on_a.iter().all(|e| refused_in_db.contains(e)),
        "A honours refused logouts the database does not hold: {refused_on_a:?} vs {refused_in_db:?}"
    );
    fresh.stop();
    a.stop();
    drop(db);
    drop(cluster);
}

#[test]
fn a_hung_database_gets_clear_503s_and_keeps_nothing_it_refused() {
    // A frozen server (SIGSTOP): connections stay open and the kernel acknowledges every
    // packet, so only the store's own deadlines notice. Private cluster, as above.
    if postgres_url("the hung PostgreSQL test").is_none() {
        return;
    }
    const REFUSED: &str =
        "Opt-out could not be recorded: the opt-out store is unavailable, retry later";
    let tmp = tempfile::tempdir().unwrap();
    let cluster = PrivateCluster::start(&tmp.path().join("cluster"));
    let db = TestDatabase::create(cluster.url(), "hang");
    let demo = db.init(tmp.path());
    let a = replica(&db.url);
    let on_a = client(&a, &demo);
    let kept = generate(&on_a, "kept@example.com");
    logout(&on_a, "before@example.com");
    assert_eq!(health(a.addr).0, 200);

    let frozen = cluster.freeze();
    // A logout gets the documented 503 (the write's deadline, half the request timeout),
    // not the request timeout's 408 and not a hang.
    let started = Instant::now();
    match try_logout(&on_a, "frozen@example.com").expect("an answer") {
        Ok(json) => panic!("a logout was acknowledged by a frozen database: {json}"),
        Err(resp) => resp.assert_error(503, "unknown", Some(REFUSED)),
    }
    let refused_after = started.elapsed();
    // Everything else answers from memory meanwhile.
    for i in 0..5 {
        let body = generate(&on_a, &format!("during-{i}@example.com"));
        assert!(body["advertising_token"].is_string(), "{body}");
    }
    assert_eq!(refresh_status(a.addr, &kept), "success");
    assert_eq!(
        opted_out(&on_a, &["before@example.com".to_owned()]),
        ["before@example.com"]
    );
    let degraded_after = wait_until(
        PROPAGATION_BOUND,
        "the healthcheck reports the hung database",
        || {
            let (status, body) = health(a.addr);
            status == 503 && body.starts_with("degraded:")
        },
    );
    let frozen_for = started.elapsed();
    drop(frozen);

    let back_after = wait_until(Duration::from_secs(30), "logouts succeed again", || {
        matches!(try_logout(&on_a, "after@example.com"), Ok(Ok(_)))
    });
    wait_until(Duration::from_secs(30), "the healthcheck recovers", || {
        health(a.addr).0 == 200
    });
    eprintln!(
        "hung PostgreSQL: logout refused with 503 after {refused_after:?}, healthcheck degraded \
         {degraded_after:?} after that, frozen {frozen_for:?}; logouts back {back_after:?} after the resume"
    );
    // The refused logout had stalled before its COMMIT: rolled back once the server woke,
    // so neither the database (a fresh replica) nor A holds it; the others are there.
    let fresh = replica(&db.url);
    let on_fresh = client(&fresh, &demo);
    let emails = [
        "before@example.com".to_owned(),
        "frozen@example.com".to_owned(),
        "after@example.com".to_owned(),
    ];
    assert_eq!(
        opted_out(&on_fresh, &emails),
        ["before@example.com", "after@example.com"]
    );
    assert_eq!(
        opted_out(&on_a, &emails),
        ["before@example.com", "after@example.com"]
    );
    fresh.stop();
    a.stop();
    drop(db);
    drop(cluster);
}
