//! Test harness: the real server on an ephemeral 127.0.0.1 port with a fresh data directory,
//! and a small blocking HTTP/1.1 client over a raw TcpStream.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use euid_operator::DemoClient;
use euid_operator::{OperatorConfig, RunningServer, ServerOptions};

pub struct TestServer {
    pub runtime: tokio::runtime::Runtime,
    pub server: Option<RunningServer>,
    pub addr: SocketAddr,
    pub demo: DemoClient,
}

impl TestServer {
    /// Starts a server on the data directory `dir` (created if missing).
    pub fn start_in(dir: &Path, config: OperatorConfig) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let options = ServerOptions {
            data_dir: dir.to_path_buf(),
            listen: Some("127.0.0.1:0".to_owned()),
            config,
            ..ServerOptions::default()
        };
        let server = runtime
            .block_on(euid_operator::start(options))
            .expect("server starts");
        let addr = server.local_addr();
        let demo = server.demo_client().cloned().expect("demo client");
        TestServer {
            runtime,
            server: Some(server),
            addr,
            demo,
        }
    }

    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime
                .block_on(server.shutdown())
                .expect("clean shutdown");
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        http(self.addr, method, path, headers, body)
    }

    /// A POST with the demo client's Bearer key.
    pub fn post_auth(&self, path: &str, body: &[u8]) -> HttpResponse {
        let auth = format!("Bearer {}", self.demo.api_key);
        self.request("POST", path, &[("Authorization", &auth)], body)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts a plain-JSON error with the exact HTTP code, status and message.
    #[track_caller]
    pub fn assert_error(&self, http: u16, status: &str, message: Option<&str>) {
        assert_eq!(self.status, http, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        let json = self.json();
        assert_eq!(json["status"], status, "body: {}", self.text());
        match message {
            Some(m) => assert_eq!(json["message"], m),
            None => assert!(json.get("message").is_none(), "body: {}", self.text()),
        }
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    // The server may answer (e.g. 413) before reading all of a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let size_text = std::str::from_utf8(&data[..eol]).unwrap_or("0");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

// ---- API client: envelopes sealed and opened with the core crates ----

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, BatchedOsRandom, RandomSource};
use euid_envelope::{open_refresh_response, open_response, seal_request, ClientSecret};

pub const SUFFICIENT_TCF: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";
pub const INSUFFICIENT_TCF: &str = "CPehXK9PehXK9ABAMBFRACBoADAAAEJAAIYgAKwAQAKgArABAAqAAA";

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub struct ApiClient {
    pub addr: SocketAddr,
    pub api_key: String,
    pub secret: ClientSecret,
}

impl ApiClient {
    pub fn new(addr: SocketAddr, api_key: &str, secret_b64: &str) -> ApiClient {
        ApiClient {
            addr,
            api_key: api_key.to_owned(),
            secret: ClientSecret::from_base64(secret_b64).expect("secret"),
        }
    }

    pub fn demo(server: &TestServer) -> ApiClient {
        ApiClient::new(
            server.addr,
            &server.demo.api_key,
            &server.demo.client_secret,
        )
    }

    /// The base64 envelope of `json` at `timestamp_ms`, and its nonce.
    pub fn envelope(&self, json: &str, timestamp_ms: i64) -> (Vec<u8>, [u8; 8]) {
        let mut rng = BatchedOsRandom::new();
        let mut nonce = [0u8; 8];
        rng.fill(&mut nonce);
        let raw = seal_request(&self.secret, timestamp_ms, nonce, json.as_bytes(), &mut rng);
        (STANDARD.encode(raw).into_bytes(), nonce)
    }

    pub fn post(&self, path: &str, body: &[u8], extra: &[(&str, &str)]) -> HttpResponse {
        let auth = format!("Bearer {}", self.api_key);
        let mut headers = vec![("Authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        http(self.addr, "POST", path, &headers, body)
    }

    /// POSTs `json` in an envelope (form-urlencoded, like the Python SDK) and returns the raw
    /// response and the nonce sent.
    pub fn send(&self, path: &str, json: &str) -> (HttpResponse, [u8; 8]) {
        let (body, nonce) = self.envelope(json, now_ms());
        let resp = self.post(
            path,
            &body,
            &[("Content-Type", "application/x-www-form-urlencoded")],
        );
        (resp, nonce)
    }

    /// Decrypts a 200 response, checking the echoed nonce.
    pub fn open(&self, resp: &HttpResponse, nonce: [u8; 8]) -> serde_json::Value {
        assert_eq!(resp.status, 200, "body: {}", resp.text());
        let opened = open_response(&self.secret, &resp.body, Some(nonce)).expect("decrypts");
        serde_json::from_slice(&opened.json).expect("response JSON")
    }

    /// An encrypted call that must succeed with HTTP 200; the decrypted JSON.
    pub fn call(&self, path: &str, json: &str) -> serde_json::Value {
        let (resp, nonce) = self.send(path, json);
        self.open(&resp, nonce)
    }

    /// Generates tokens for `identity_json` (e.g. `"email":"a@b.c"`) with sufficient consent.
    pub fn generate(&self, identity_json: &str) -> serde_json::Value {
        let out = self.call(
            "/v2/token/generate",
            &format!(r#"{{{identity_json},"tcf_consent_string":"{SUFFICIENT_TCF}"}}"#),
        );
        assert_eq!(out["status"], "success", "{out}");
        out["body"].clone()
    }
}

/// POSTs a refresh token (no API key unless given); on 200 decrypts with `key_b64`.
pub fn refresh(
    addr: SocketAddr,
    refresh_token: &str,
    key_b64: &str,
    api_key: Option<&str>,
) -> Result<serde_json::Value, HttpResponse> {
    let auth = api_key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let resp = http(
        addr,
        "POST",
        "/v2/token/refresh",
        &headers,
        refresh_token.as_bytes(),
    );
    if resp.status != 200 {
        return Err(resp);
    }
    let key = AesGcmKey::from_base64(key_b64).expect("refresh_response_key");
    let json = open_refresh_response(&key, &resp.body).expect("refresh response decrypts");
    Ok(serde_json::from_slice(&json).expect("refresh JSON"))
}

/// Refreshes the identity in a generate/refresh `body`.
pub fn refresh_body(addr: SocketAddr, body: &serde_json::Value) -> serde_json::Value {
    refresh(
        addr,
        body["refresh_token"].as_str().expect("refresh_token"),
        body["refresh_response_key"].as_str().expect("key"),
        None,
    )
    .unwrap_or_else(|r| panic!("refresh failed: {} {}", r.status, r.text()))
}

/// Checks the six token fields: lengths, prefixes, and millisecond times in order.
#[track_caller]
pub fn assert_token_body(body: &serde_json::Value, phone: bool) {
    let at = body["advertising_token"]
        .as_str()
        .expect("advertising_token");
    assert!(at.starts_with(if phone { "F4" } else { "E4" }), "{at}");
    assert_eq!(body["refresh_token"].as_str().unwrap().len(), 388);
    assert_eq!(
        STANDARD
            .decode(body["refresh_response_key"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let now = now_ms();
    let rf = body["refresh_from"].as_i64().unwrap();
    let ie = body["identity_expires"].as_i64().unwrap();
    let re = body["refresh_expires"].as_i64().unwrap();
    assert!(now - 60_000 < rf && rf <= ie && ie <= re, "{rf} {ie} {re}");
    assert!(
        re < now + 400 * 86_400_000,
        "milliseconds, not microseconds: {re}"
    );
}

/// Loads the key store of a data directory (to decode tokens in tests).
pub fn key_store(dir: &Path) -> euid_token::KeyStore {
    euid_token::KeyStore::from_json(
        &std::fs::read(dir.join("keysets.json")).unwrap(),
        &std::fs::read(dir.join("keyset_keys.json")).unwrap(),
    )
    .unwrap()
}

/// A config that reloads data files every 50 ms.
pub fn fast_reload() -> euid_operator::OperatorConfig {
    euid_operator::OperatorConfig::from_json(br#"{"reload_interval_ms":50}"#).unwrap()
}

/// Adds a client to `clients.json` and waits until the server accepts its key.
pub fn add_client(
    server: &TestServer,
    dir: &Path,
    site_id: i32,
    roles: &[euid_operator::clients::Role],
) -> ApiClient {
    use euid_operator::clients::{new_client, ClientRecord, RoleSet};
    let path = dir.join("clients.json");
    let mut records: Vec<ClientRecord> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut rng = BatchedOsRandom::new();
    let new = new_client(site_id, "test", RoleSet::of(roles), 0, &mut rng);
    records.push(new.record.clone());
    euid_store::write_atomic(&path, &serde_json::to_vec(&records).unwrap()).unwrap();
    let client = ApiClient::new(server.addr, &new.api_key, &new.client_secret);
    let operator = server.server.as_ref().unwrap().operator().clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while operator
        .snapshot()
        .clients
        .authenticate(&new.api_key)
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "clients.json was not reloaded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    client
}

/// The real `euid-operator` binary on 127.0.0.1:0, its stdout and stderr captured in full.
pub struct SpawnedOperator {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    readers: Vec<std::thread::JoinHandle<Vec<u8>>>,
}

impl SpawnedOperator {
    /// Starts the binary on `data_dir` with `args` and `envs` added; waits for its address.
    pub fn spawn(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> SpawnedOperator {
        use std::process::{Command, Stdio};
        let mut command = Command::new(env!("CARGO_BIN_EXE_euid-operator"));
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("EUID_ACCESS_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn euid-operator");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let mut stdout = child.stdout.take().unwrap();
        let stdout_reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            let mut announced = false;
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
                if !announced {
                    let text = String::from_utf8_lossy(&all);
                    if let Some(line) = text
                        .lines()
                        .find(|l| l.starts_with("euid-operator is listening on http://"))
                    {
                        announced = true;
                        let _ = tx.send(line.to_owned());
                    }
                }
            }
            all
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr_reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = stderr.read_to_end(&mut all);
            all
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the binary prints its address");
        let addr = line
            .trim_start_matches("euid-operator is listening on http://")
            .trim()
            .parse()
            .expect("address");
        SpawnedOperator {
            child,
            addr,
            readers: vec![stdout_reader, stderr_reader],
        }
    }

    /// SIGTERM (a graceful stop), then everything the process wrote.
    pub fn stop(mut self) -> String {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                break exit;
            }
            if std::time::Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!("the operator did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(exit.success(), "exit status {exit:?}");
        let mut log = Vec::new();
        for reader in self.readers {
            log.extend(reader.join().unwrap());
        }
        String::from_utf8_lossy(&log).into_owned()
    }
}
