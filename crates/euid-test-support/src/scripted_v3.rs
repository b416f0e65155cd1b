//! A scripted `/v3/identity/map` server on 127.0.0.1 for tests of the v3 client (written before
//! the euid-rs operator served v3, issue #18): it opens the client's binary envelope and answers
//! as the docs describe, in raw bytes, recording what each request carried. Used by
//! euid-client's transport tests and the `euid map` tests of euid-cli.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::now_ms;
use euid_envelope::{open_request, seal_response, BodyEncoding, ClientSecret, SkewPolicy};

/// Answers `/v3/identity/map` as documented, in raw bytes: `u` = "U" + the hash, `optout`
/// for optout@example.com. Records each request's Content-Type and identity count.
/// (Content-Type, identity count) per request.
pub type V3Log = Arc<Mutex<Vec<(String, usize)>>>;

/// Starts the server with the client secret `secret`; returns its base URL and the request log.
pub fn v3_server(secret: [u8; 32]) -> (String, V3Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let secret = ClientSecret::from_bytes(secret);
        let optout = euid_normalize::hash_email("optout@example.com")
            .unwrap()
            .to_base64();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let Some((path, headers, body)) = read_request(&mut stream) else {
                continue;
            };
            // A request this server cannot answer closes its connection (no answer), and the
            // server goes on serving the next one.
            if path != "/v3/identity/map" {
                continue;
            }
            let content_type = headers
                .iter()
                .find(|(n, _)| n == "content-type")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let Ok(opened) = open_request(
                &body,
                BodyEncoding::Binary,
                &secret,
                now_ms(),
                &SkewPolicy::default(),
            ) else {
                continue;
            };
            let Ok(request) = serde_json::from_slice::<serde_json::Value>(&opened.json) else {
                continue;
            };
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

/// (path, lower-cased headers, body).
pub type Request = (String, Vec<(String, String)>, Vec<u8>);

/// Reads one HTTP/1.1 request (head and Content-Length body) from `stream`, or `None` when the
/// connection closes or stalls for 5 s first.
pub fn read_request(stream: &mut TcpStream) -> Option<Request> {
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
