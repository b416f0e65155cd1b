//! Timeouts and retries over real sockets on 127.0.0.1: a listener that never answers, and a
//! tiny server that answers a scripted series of statuses, sealing real envelopes for 200s.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_client::transport::{TransportConfig, TransportError};
use euid_client::{BidstreamClient, ClientError, PublisherClient, TokenGenerateInput};
use euid_envelope::{open_request, seal_response, BodyEncoding, ClientSecret, SkewPolicy};
use euid_test_support::now_ms;
use euid_test_support::scripted_v3::{read_request, v3_server};

const SECRET_BYTES: [u8; 32] = [7; 32];
const API_KEY: &str = "test-api-key";

fn secret_b64() -> String {
    STANDARD.encode(SECRET_BYTES)
}

fn fast(max_retries: u32, timeout_ms: u64) -> TransportConfig {
    TransportConfig {
        timeout: Duration::from_millis(timeout_ms),
        max_retries,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..TransportConfig::default()
    }
}

/// A listener that accepts connections, counts them and never answers.
fn silent_server() -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(Mutex::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            *seen.lock().unwrap() += 1;
            held.push(stream);
        }
    });
    (url, count)
}

#[test]
fn every_request_times_out_and_idempotent_ones_are_retried() {
    let (url, count) = silent_server();
    let bidder = BidstreamClient::with_config(&url, API_KEY, &secret_b64(), fast(2, 300)).unwrap();
    let start = Instant::now();
    let err = bidder.refresh().unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        matches!(err, ClientError::Transport(TransportError::Timeout { .. })),
        "{err:?}"
    );
    // Three attempts, each waiting out its 300 ms timeout: a lower bound, which a slow
    // machine cannot break (no upper bound: that would only measure the machine).
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert_eq!(*count.lock().unwrap(), 3, "one attempt and two retries");

    let (url, count) = silent_server();
    let publisher =
        PublisherClient::with_config(&url, API_KEY, &secret_b64(), fast(2, 300)).unwrap();
    let err = publisher
        .generate_token(&TokenGenerateInput::from_email("a@example.com"))
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Transport(TransportError::Timeout { .. })),
        "{err:?}"
    );
    assert_eq!(*count.lock().unwrap(), 1, "generate is not retried");
}

#[test]
fn a_refused_connection_is_a_typed_error() {
    // Bind then drop: nothing listens on the port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bidder = BidstreamClient::with_config(
        &format!("http://127.0.0.1:{port}"),
        API_KEY,
        &secret_b64(),
        fast(1, 500),
    )
    .unwrap();
    let err = bidder.refresh().unwrap_err();
    assert!(
        matches!(err, ClientError::Transport(TransportError::Io { .. })),
        "{err:?}"
    );
}

/// One request as the scripted server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
}

/// Answers the statuses of `script` in order (then 200s); a 200 is a sealed key answer.
fn scripted_server(script: Vec<u16>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let secret = ClientSecret::from_bytes(SECRET_BYTES);
        let mut script = script.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let Some((path, headers, body)) = read_request(&mut stream) else {
                continue;
            };
            log.lock().unwrap().push(Seen { path, headers });
            let status = script.next().unwrap_or(200);
            let body = if status == 200 {
                let opened = open_request(
                    &body,
                    BodyEncoding::Base64Text,
                    &secret,
                    now_ms(),
                    &SkewPolicy::default(),
                )
                .expect("the client's envelope opens");
                let json = br#"{"status":"success","body":{"identity_scope":"EUID","keys":[{"id":1,"created":1,"activates":1,"expires":4000000000,"secret":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="}]}}"#;
                let mut rng = euid_crypto::BatchedOsRandom::new();
                STANDARD
                    .encode(seal_response(
                        &secret,
                        now_ms(),
                        opened.nonce,
                        json,
                        &mut rng,
                    ))
                    .into_bytes()
            } else {
                br#"{"status":"unknown"}"#.to_vec()
            };
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (url, seen)
}

#[test]
fn key_fetch_retries_503_and_429_then_succeeds_with_the_version_header() {
    let (url, seen) = scripted_server(vec![503, 429]);
    let bidder = BidstreamClient::with_config(&url, API_KEY, &secret_b64(), fast(3, 2000)).unwrap();
    bidder.refresh().unwrap();
    assert!(bidder.keys().unwrap().key_store().key_by_id(1).is_some());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let version = format!("euid-client-rs-{}", env!("CARGO_PKG_VERSION"));
    for s in &seen {
        assert_eq!(s.path, "/v2/key/bidstream");
        let header = |name: &str| {
            s.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("x-uid2-client-version"), Some(version.clone()));
        assert_eq!(header("authorization"), Some(format!("Bearer {API_KEY}")));
    }
}

#[test]
fn retries_stop_after_max_retries_and_on_4xx() {
    let (url, seen) = scripted_server(vec![503, 503, 503, 503]);
    let bidder = BidstreamClient::with_config(&url, API_KEY, &secret_b64(), fast(2, 2000)).unwrap();
    let err = bidder.refresh().unwrap_err();
    assert!(
        matches!(err, ClientError::HttpStatus { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert!(bidder.keys().is_none());

    let (url, seen) = scripted_server(vec![400]);
    let bidder = BidstreamClient::with_config(&url, API_KEY, &secret_b64(), fast(3, 2000)).unwrap();
    let err = bidder.refresh().unwrap_err();
    assert!(
        matches!(err, ClientError::HttpStatus { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "4xx other than 429 is not retried"
    );

    let (url, seen) = scripted_server(vec![503]);
    let publisher =
        PublisherClient::with_config(&url, API_KEY, &secret_b64(), fast(3, 2000)).unwrap();
    let err = publisher
        .generate_token(&TokenGenerateInput::from_email("a@example.com"))
        .unwrap_err();
    assert!(
        matches!(err, ClientError::HttpStatus { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "generate is not retried");
}

#[test]
fn a_transport_without_api_key_sends_no_authorization() {
    use euid_client::transport::{Retry, Transport};
    let header = |seen: &Seen, name: &str| {
        seen.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let (url, seen) = scripted_server(vec![400, 400]);
    let anonymous = Transport::without_api_key(&url, fast(0, 2000)).unwrap();
    let answer = anonymous
        .post("/v2/token/refresh", b"token", Retry::Once)
        .unwrap();
    assert_eq!(answer.status, 400);
    let keyed = Transport::new(&url, API_KEY, fast(0, 2000)).unwrap();
    keyed
        .post("/v2/token/refresh", b"token", Retry::Once)
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(header(&seen[0], "authorization"), None);
    assert!(header(&seen[0], "x-uid2-client-version").is_some());
    assert_eq!(
        header(&seen[1], "authorization"),
        Some(format!("Bearer {API_KEY}"))
    );
    assert!(matches!(
        Transport::without_api_key("ftp://prod.euid.eu", TransportConfig::default()),
        Err(ClientError::Transport(TransportError::Url(_)))
    ));
    // https:// is refused only without the `tls` feature (tests/tls.rs covers it with).
    assert_eq!(
        Transport::without_api_key("https://prod.euid.eu", TransportConfig::default()).is_ok(),
        cfg!(feature = "tls")
    );
}

// ---- The async transport (feature tokio) over the same sockets ----

use euid_client::{AsyncBidstreamClient, AsyncPublisherClient};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn async_requests_time_out_and_idempotent_ones_are_retried() {
    let (url, count) = silent_server();
    let bidder =
        AsyncBidstreamClient::with_config(&url, API_KEY, &secret_b64(), fast(2, 300)).unwrap();
    let start = Instant::now();
    let err = block_on(bidder.refresh()).unwrap_err();
    assert!(
        matches!(err, ClientError::Transport(TransportError::Timeout { .. })),
        "{err:?}"
    );
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(*count.lock().unwrap(), 3);

    let (url, count) = silent_server();
    let publisher =
        AsyncPublisherClient::with_config(&url, API_KEY, &secret_b64(), fast(2, 300)).unwrap();
    let err = block_on(publisher.generate_token(&TokenGenerateInput::from_email("a@example.com")))
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Transport(TransportError::Timeout { .. })),
        "{err:?}"
    );
    assert_eq!(*count.lock().unwrap(), 1, "generate is not retried");
}

#[test]
fn async_key_fetch_retries_then_succeeds_with_the_version_header() {
    let (url, seen) = scripted_server(vec![503, 429]);
    let bidder =
        AsyncBidstreamClient::with_config(&url, API_KEY, &secret_b64(), fast(3, 2000)).unwrap();
    block_on(bidder.refresh()).unwrap();
    assert!(bidder.keys().unwrap().key_store().key_by_id(1).is_some());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let version = format!("euid-client-rs-{}", env!("CARGO_PKG_VERSION"));
    for s in &seen {
        assert_eq!(s.path, "/v2/key/bidstream");
        assert!(s
            .headers
            .contains(&("x-uid2-client-version".to_owned(), version.clone())));
        assert!(s
            .headers
            .contains(&("authorization".to_owned(), format!("Bearer {API_KEY}"))));
    }

    let (url, seen) = scripted_server(vec![400]);
    let bidder =
        AsyncBidstreamClient::with_config(&url, API_KEY, &secret_b64(), fast(3, 2000)).unwrap();
    let err = block_on(bidder.refresh()).unwrap_err();
    assert!(
        matches!(err, ClientError::HttpStatus { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

// ---- /v3/identity/map: binary envelopes, batches, order (a scripted server: the operator
// does not serve v3 yet, issue #18) ----

use euid_client::{
    AsyncIdentityMapClient, IdentityMapClient, IdentityMapV3Input, IdentityMapV3Outcome,
    UnmappedReason,
};

fn v3_input() -> (IdentityMapV3Input, Vec<String>) {
    let mut input = IdentityMapV3Input::new();
    let mut emails = Vec::new();
    for i in 0..5001 {
        let email = format!("user{i}@example.com");
        input = input.with_email(&email).unwrap();
        emails.push(email);
    }
    let input = input
        .with_phone("+12345678901")
        .unwrap()
        .with_email("optout@example.com")
        .unwrap();
    emails.push("optout@example.com".to_owned());
    (input, emails)
}

fn check_v3(results: &[euid_client::IdentityMapV3Result], emails: &[String]) {
    assert_eq!(results.len(), 5003);
    for (result, email) in results.iter().zip(emails) {
        assert_eq!(&result.input, email);
    }
    let hash = euid_normalize::hash_email("user7@example.com")
        .unwrap()
        .to_base64();
    assert_eq!(
        results[7].outcome,
        IdentityMapV3Outcome::Mapped {
            current_raw_uid: format!("U{hash}"),
            previous_raw_uid: None,
            refresh_from_s: 1_700_000_000,
        }
    );
    assert_eq!(
        results[5001].outcome,
        IdentityMapV3Outcome::Unmapped(UnmappedReason::OptOut)
    );
    assert_eq!(results[5002].input, "+12345678901");
    assert!(matches!(
        results[5002].outcome,
        IdentityMapV3Outcome::Mapped { .. }
    ));
}

#[test]
fn v3_map_sends_binary_batches_of_at_most_5000_and_keeps_the_order() {
    let (url, seen) = v3_server(SECRET_BYTES);
    let (input, emails) = v3_input();
    let client = IdentityMapClient::new(&url, API_KEY, &secret_b64()).unwrap();
    check_v3(&client.generate_identity_map_v3(input).unwrap(), &emails);
    let seen = seen.lock().unwrap().clone();
    let counts: Vec<usize> = seen.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts, [5000, 3]);
    assert!(seen.iter().all(|(ct, _)| ct == "application/octet-stream"));

    let (url, seen) = v3_server(SECRET_BYTES);
    let (input, emails) = v3_input();
    let client = AsyncIdentityMapClient::new(&url, API_KEY, &secret_b64()).unwrap();
    check_v3(
        &block_on(client.generate_identity_map_v3(input)).unwrap(),
        &emails,
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|(ct, _)| ct == "application/octet-stream"));
}
