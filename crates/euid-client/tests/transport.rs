//! Timeouts and retries over real sockets on 127.0.0.1: a listener that never answers, and a
//! tiny server that answers a scripted series of statuses, sealing real envelopes for 200s.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_client::transport::{TransportConfig, TransportError};
use euid_client::{BidstreamClient, ClientError, PublisherClient, TokenGenerateInput};
use euid_envelope::{open_request, seal_response, BodyEncoding, ClientSecret, SkewPolicy};
use euid_test_support::now_ms;

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
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
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

/// (path, lower-cased headers, body).
type Request = (String, Vec<(String, String)>, Vec<u8>);

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(raw[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some((path, headers, body))
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
    assert!(start.elapsed() < Duration::from_secs(10));
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

/// Answers `/v3/identity/map` as documented, in raw bytes: `u` = "U" + the hash, `optout`
/// for optout@example.com. Records each request's Content-Type and identity count.
/// (Content-Type, identity count) per request.
type V3Log = Arc<Mutex<Vec<(String, usize)>>>;

fn v3_server() -> (String, V3Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let secret = ClientSecret::from_bytes(SECRET_BYTES);
        let optout = euid_normalize::hash_email("optout@example.com")
            .unwrap()
            .to_base64();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let Some((path, headers, body)) = read_request(&mut stream) else {
                continue;
            };
            assert_eq!(path, "/v3/identity/map");
            let content_type = headers
                .iter()
                .find(|(n, _)| n == "content-type")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let opened = open_request(
                &body,
                BodyEncoding::Binary,
                &secret,
                now_ms(),
                &SkewPolicy::default(),
            )
            .expect("the client's binary envelope opens");
            let request: serde_json::Value = serde_json::from_slice(&opened.json).unwrap();
            let answer = |field: &str| -> Vec<serde_json::Value> {
                request[field]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| {
                        let h = h.as_str().unwrap();
                        if h == optout {
                            serde_json::json!({"e": "optout"})
                        } else {
                            serde_json::json!({"u": format!("U{h}"), "p": null, "r": 1_700_000_000})
                        }
                    })
                    .collect()
            };
            let (emails, phones) = (answer("email_hash"), answer("phone_hash"));
            log.lock()
                .unwrap()
                .push((content_type, emails.len() + phones.len()));
            let json = serde_json::json!({"status": "success", "body": {
                "email": [], "phone": [], "email_hash": emails, "phone_hash": phones}});
            let mut rng = euid_crypto::BatchedOsRandom::new();
            let sealed = seal_response(
                &secret,
                now_ms(),
                opened.nonce,
                json.to_string().as_bytes(),
                &mut rng,
            );
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                sealed.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&sealed);
        }
    });
    (url, seen)
}

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
    let (url, seen) = v3_server();
    let (input, emails) = v3_input();
    let client = IdentityMapClient::new(&url, API_KEY, &secret_b64()).unwrap();
    check_v3(&client.generate_identity_map_v3(input).unwrap(), &emails);
    let seen = seen.lock().unwrap().clone();
    let counts: Vec<usize> = seen.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts, [5000, 3]);
    assert!(seen.iter().all(|(ct, _)| ct == "application/octet-stream"));

    let (url, seen) = v3_server();
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
