//! No request can stall the server (issue #16): batch work off the async workers with an
//! item limit, a healthcheck that never waits for a reload, reload failures retried with
//! backoff and reported without paths, opt-outs that fail closed, and `Authorization`
//! values refused before any hashing. All over real HTTP against the real server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use euid_operator::ApiError;
use euid_operator::SqliteOptOutStore;
use euid_operator::MAX_IDENTITY_MAP_ITEMS;
use euid_operator::{init_data_dir, InitOptions, OperatorConfig};
use euid_store::write_atomic;
use euid_test_support::{
    cstg_request, http, now_ms, parse_response, refresh, ApiClient, HttpResponse, RouterServer,
    SwitchableOptOuts, TestServer, SUFFICIENT_TCF,
};

fn fast_reload() -> OperatorConfig {
    OperatorConfig::from_json(br#"{"reload_interval_ms":50}"#).unwrap()
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn emails(n: usize) -> String {
    let list: Vec<String> = (0..n).map(|i| format!("\"user{i}@example.com\"")).collect();
    format!(r#"{{"email":[{}]}}"#, list.join(","))
}

/// One request on a fresh connection; `on_first_byte` runs when the answer starts to arrive.
fn exchange(
    addr: SocketAddr,
    path: &str,
    api_key: &str,
    body: &[u8],
    sent: impl FnOnce(),
    on_first_byte: impl FnOnce(),
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\
         Authorization: Bearer {api_key}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    sent();
    let mut first = [0u8; 1];
    stream.read_exact(&mut first).expect("an answer");
    on_first_byte();
    let mut raw = first.to_vec();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

/// A maximum-size identity map holds both async workers' worth of batches (the harness
/// runtime has 2 workers); generate requests sent while they run all get their 200 before
/// any map answer starts to arrive. Order of completion, no timing threshold.
#[test]
fn generate_is_answered_while_maximum_size_maps_run() {
    const MAPS: usize = 2;
    const GENERATES: usize = 24;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = Arc::new(ApiClient::demo(&server));
    let operator = server.server.as_ref().unwrap().operator().clone();
    let permits = operator.batch_permits().available_permits();
    let busy = MAPS.min(permits);

    let order = Arc::new(AtomicUsize::new(0));
    let map_json = emails(MAX_IDENTITY_MAP_ITEMS);
    // One v2 and one v3 map (the same request JSON: 5,000 emails).
    let maps: Vec<_> = ["/v2/identity/map", "/v3/identity/map"]
        .into_iter()
        .cycle()
        .take(MAPS)
        .map(|path| {
            let (body, nonce) = client.envelope(&map_json, now_ms());
            let (client, order) = (client.clone(), order.clone());
            std::thread::spawn(move || {
                let mut answered_at = usize::MAX;
                let resp = exchange(
                    client.addr,
                    path,
                    &client.api_key,
                    &body,
                    || {},
                    || answered_at = order.fetch_add(1, Ordering::SeqCst),
                );
                let out = client.open(&resp, nonce);
                let answers = if path.starts_with("/v3") {
                    &out["body"]["email"]
                } else {
                    &out["body"]["mapped"]
                };
                assert_eq!(answers.as_array().unwrap().len(), MAX_IDENTITY_MAP_ITEMS);
                answered_at
            })
        })
        .collect();
    // The maps are running once they hold their batch permits (their bodies are read).
    wait_until("the maps to start", || {
        permits - operator.batch_permits().available_permits() >= busy
    });
    let generates: Vec<_> = (0..GENERATES)
        .map(|i| {
            let (client, order) = (client.clone(), order.clone());
            std::thread::spawn(move || {
                let json = format!(
                    r#"{{"email":"g{i}@example.com","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#
                );
                let (resp, nonce) = client.send("/v2/token/generate", &json);
                let done = order.fetch_add(1, Ordering::SeqCst);
                assert_eq!(client.open(&resp, nonce)["status"], "success");
                done
            })
        })
        .collect();
    let generated: Vec<usize> = generates.into_iter().map(|t| t.join().unwrap()).collect();
    let mapped: Vec<usize> = maps.into_iter().map(|t| t.join().unwrap()).collect();
    let first_map = *mapped.iter().min().unwrap();
    let late: Vec<_> = generated.iter().filter(|g| **g > first_map).collect();
    assert!(
        late.is_empty(),
        "{} of {GENERATES} generates answered after a map answer (maps at {mapped:?}, generates at {generated:?})",
        late.len()
    );
}

#[test]
fn identity_map_has_an_item_limit_and_an_oversized_body_keeps_its_413() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let client = ApiClient::demo(&server);
    let out = client.call("/v2/identity/map", &emails(MAX_IDENTITY_MAP_ITEMS));
    assert_eq!(
        out["body"]["mapped"].as_array().unwrap().len(),
        MAX_IDENTITY_MAP_ITEMS
    );
    let too_many = ApiError::TooManyIdentities.to_string();
    assert!(too_many.contains(&format!(" {MAX_IDENTITY_MAP_ITEMS} ")));
    for field in ["email", "email_hash", "phone", "phone_hash"] {
        let items = vec!["\"x\""; MAX_IDENTITY_MAP_ITEMS + 1].join(",");
        let (resp, _) = client.send("/v2/identity/map", &format!(r#"{{"{field}":[{items}]}}"#));
        resp.assert_error(400, "client_error", Some(&too_many));
    }
    // Past max_body_bytes the body is refused before it is parsed at all.
    let (resp, _) = client.send("/v2/identity/map", &emails(60_000));
    resp.assert_error(413, "client_error", Some("Request body is too large"));
}

/// A guard that, unless disarmed, gives a FIFO's reader end-of-file when dropped, so a
/// reload blocked on it always ends (the runtime waits for its blocking threads when it
/// shuts down), even when the test fails first.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
struct FifoWriter {
    file: Option<std::fs::File>,
    path: std::path::PathBuf,
    armed: bool,
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
impl Drop for FifoWriter {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Dropping an open writer is end-of-file; with none open, opening one (without
        // blocking: it fails when nobody reads) ends a reader's wait in open().
        if self.armed && self.file.take().is_none() {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(O_NONBLOCK)
                .open(&self.path);
        }
    }
}

/// `O_NONBLOCK` on Linux x86-64 and AArch64.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
const O_NONBLOCK: i32 = 0o4000;

/// A reload stuck reading a data file (here a FIFO nobody writes to) holds up neither the
/// healthcheck nor requests.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn healthcheck_and_requests_do_not_wait_for_a_stuck_reload() {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), fast_reload());
    let client = ApiClient::demo(&server);
    let clients_path = dir.path().join("clients.json");
    let original = std::fs::read(&clients_path).unwrap();
    let fifo = dir.path().join("clients.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::rename(&fifo, &clients_path).unwrap();
    let mut writer = FifoWriter {
        file: None,
        path: clients_path.clone(),
        armed: true,
    };
    // Opening a FIFO to write without blocking succeeds only once a reader has it open:
    // then the reloader is inside its read, waiting for bytes.
    wait_until(
        "the reloader to open the FIFO",
        || match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(&clients_path)
        {
            Ok(file) => {
                writer.file = Some(file);
                true
            }
            Err(_) => false,
        },
    );
    // More healthchecks than workers, each on its own connection, all at once.
    let checks: Vec<_> = (0..4)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || http(addr, "GET", "/ops/healthcheck", &[], b""))
        })
        .collect();
    for check in checks {
        let resp = check.join().expect("the healthcheck answers");
        assert_eq!((resp.status, resp.text()), (200, "OK".to_owned()));
    }
    assert_eq!(
        client.generate(r#""email":"during-reload@example.org""#)["advertising_token"]
            .as_str()
            .unwrap()
            .len(),
        // v4 token around a 32-byte v2 raw UID (the live default).
        218
    );
    // Let the reload finish with the real content, then put the file back.
    let mut file = writer.file.take().unwrap();
    file.write_all(&original).unwrap();
    drop(file);
    writer.armed = false;
    std::fs::remove_file(&clients_path).unwrap();
    write_atomic(&clients_path, &original).unwrap();
    wait_until("healthy", || {
        server.request("GET", "/ops/healthcheck", &[], b"").status == 200
    });
}

/// A file that does not load is loaded again with a growing backoff while it stays the same,
/// and at once when it changes; the healthcheck names it without a path or OS error text.
#[test]
fn a_failing_reload_backs_off_and_the_healthcheck_names_no_paths() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), fast_reload());
    let operator = server.server.as_ref().unwrap().operator().clone();
    let health = || server.request("GET", "/ops/healthcheck", &[], b"");
    let keysets = dir.path().join("keysets.json");
    let original = std::fs::read(&keysets).unwrap();

    std::fs::remove_file(&keysets).unwrap();
    wait_until("503", || health().status == 503);
    let body = health().text();
    assert!(
        body.starts_with("stale: data directory does not reload ("),
        "{body}"
    );
    assert!(body.ends_with("): keysets.json cannot be read"), "{body}");
    let root = dir.path().display().to_string();
    for leak in [root.as_str(), "/", "os error", "No such file"] {
        assert!(!body.contains(leak), "{leak:?} in {body}");
    }

    // 40 reload ticks of 50 ms: the unchanged, missing file is tried a few times, not 40.
    let before = operator.reload_attempts();
    std::thread::sleep(Duration::from_secs(2));
    let retries = operator.reload_attempts() - before;
    assert!((1..=3).contains(&retries), "{retries} loads in 2 s");

    write_atomic(&keysets, b"[not json").unwrap();
    wait_until("the invalid keysets.json", || {
        health().text().ends_with("): keysets.json is not valid")
    });
    write_atomic(&keysets, &original).unwrap();
    wait_until("200", || health().status == 200);
    let keys = dir.path().join("keyset_keys.json");
    let original = std::fs::read(&keys).unwrap();
    write_atomic(&keys, b"{not json").unwrap();
    wait_until("the invalid file", || {
        health()
            .text()
            .ends_with("): keyset_keys.json is not valid")
    });
    write_atomic(&keys, &original).unwrap();
    wait_until("200", || health().status == 200);
    assert_eq!(health().text(), "OK");
}

/// When the opt-out records cannot be read, nothing reads as "not opted out": no tokens from
/// generate (with its opt-out check on), refresh or CSTG, no mapping, no status list; each is
/// a 500, and the healthcheck says so.
#[test]
fn unreadable_opt_outs_fail_closed() {
    let dir = tempfile::tempdir().unwrap();
    let demo = init_data_dir(dir.path(), &InitOptions::default())
        .unwrap()
        .demo_client
        .expect("a demo client");
    let store = Arc::new(SwitchableOptOuts::new(
        SqliteOptOutStore::open(&dir.path().join("optout.db")).unwrap(),
    ));
    let config = OperatorConfig::from_json(br#"{"optout_check_on_generate":true}"#).unwrap();
    let server = RouterServer::start(dir.path(), config, store.clone());
    let client = ApiClient::new(server.addr, &demo.api_key, &demo.client_secret);
    let generate_json =
        format!(r#"{{"email":"someone@example.com","tcf_consent_string":"{SUFFICIENT_TCF}"}}"#);
    let tokens = client.generate(r#""email":"someone@example.com""#);
    let uid = client.call("/v2/identity/map", r#"{"email":["someone@example.com"]}"#)["body"]
        ["mapped"][0]["advertising_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status_json = format!(r#"{{"advertising_ids":["{uid}"]}}"#);
    client.call("/v2/optout/status", &status_json);
    assert_eq!(
        http(server.addr, "GET", "/ops/healthcheck", &[], b"").status,
        200
    );

    store.set_away(true);
    let message = ApiError::OptOutsUnavailable.to_string();
    let unavailable = |resp: &HttpResponse, what: &str| {
        assert_eq!(resp.status, 500, "{what}: {}", resp.text());
        resp.assert_error(500, "unknown", Some(&message));
    };
    for (path, json) in [
        ("/v2/token/generate", generate_json.as_str()),
        ("/v2/identity/map", r#"{"email":["someone@example.com"]}"#),
        ("/v2/optout/status", status_json.as_str()),
    ] {
        unavailable(&client.send(path, json).0, path);
    }
    match refresh(
        server.addr,
        tokens["refresh_token"].as_str().unwrap(),
        tokens["refresh_response_key"].as_str().unwrap(),
        None,
    ) {
        Ok(json) => panic!("refresh answered 200: {json}"),
        Err(resp) => unavailable(&resp, "refresh"),
    }
    let hash = euid_normalize::hash_email("someone@example.com")
        .unwrap()
        .to_base64();
    let request = cstg_request(&demo, euid_cstg::ClientIdentity::EmailHash(&hash), None);
    let resp = http(
        server.addr,
        "POST",
        "/v2/token/client-generate",
        &[
            ("Origin", "http://localhost:5173"),
            ("Content-Type", "text/plain"),
        ],
        request.body.as_bytes(),
    );
    unavailable(&resp, "client-generate");
    let health = http(server.addr, "GET", "/ops/healthcheck", &[], b"");
    assert_eq!(
        (health.status, health.text()),
        (503, "opt-out records are unavailable".to_owned())
    );

    // Back on, everything answers again.
    store.set_away(false);
    client.generate(r#""email":"someone@example.com""#);
}

/// `Authorization` values that are not shaped like an API key get the unknown key's 401 on
/// every endpoint, and no salted hash is computed for any of them.
#[test]
fn authorization_without_a_key_shape_is_refused_before_any_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), OperatorConfig::default());
    let operator = server.server.as_ref().unwrap().operator().clone();
    let client = ApiClient::demo(&server);
    let (body, _) = client.envelope("", now_ms());
    let key = &server.demo.api_key;
    let long = "A".repeat(4000);
    let junk = [
        "x".to_owned(),
        "PRODlegacyOpaqueKey0123456789=".to_owned(),
        long,
        key[..key.len() - 1].to_owned(),
        key.replace('.', "_"),
        format!("{key}="),
        "EUID-C-L-999-!!!!!!.!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=".to_owned(),
    ];
    let before = operator.snapshot().clients.key_hashes_computed();
    for value in &junk {
        let auth = format!("Bearer {value}");
        for path in ["/v2/token/generate", "/v2/identity/map", "/v2/key/sharing"] {
            let resp = server.request("POST", path, &[("Authorization", &auth)], &body);
            resp.assert_error(401, "unauthorized", None);
        }
    }
    assert_eq!(operator.snapshot().clients.key_hashes_computed(), before);
    // A well-formed but wrong key of the demo site is hashed, and answered the same way.
    let mut wrong = key.clone();
    let last = wrong.len() - 2;
    wrong.replace_range(
        last..last + 1,
        if &key[last..last + 1] == "A" {
            "B"
        } else {
            "A"
        },
    );
    let auth = format!("Bearer {wrong}");
    server
        .request(
            "POST",
            "/v2/token/generate",
            &[("Authorization", &auth)],
            &body,
        )
        .assert_error(401, "unauthorized", None);
    assert!(operator.snapshot().clients.key_hashes_computed() > before);
}
