//! An API client made of the core crates (envelopes sealed and opened with euid-envelope),
//! and helpers for what the operator's data directory holds.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, BatchedOsRandom, RandomSource};
use euid_cstg::{ClientIdentity, ClientRequest};
use euid_envelope::{open_refresh_response, open_response, seal_request, ClientSecret};
use euid_operator::DemoClient;
use euid_operator::OperatorConfig;
use euid_store::clients::{new_client, ClientRecord, Role, RoleSet};

use crate::http::{http, HttpResponse};
use crate::{now_ms, TestServer, SUFFICIENT_TCF};

/// A client of the operator's encrypted v2 API: its address, API key and secret.
pub struct ApiClient {
    /// The operator's address.
    pub addr: SocketAddr,
    /// The Bearer key.
    pub api_key: String,
    /// The client secret the envelopes are sealed with.
    pub secret: ClientSecret,
}

impl ApiClient {
    /// A client with `api_key` and the base64 secret `secret_b64`.
    pub fn new(addr: SocketAddr, api_key: &str, secret_b64: &str) -> Self {
        Self {
            addr,
            api_key: api_key.to_owned(),
            secret: ClientSecret::from_base64(secret_b64).expect("secret"),
        }
    }

    /// The server's demo client.
    pub fn demo(server: &TestServer) -> Self {
        Self::new(
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

    /// POSTs `body` with the Bearer key and the `extra` headers.
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
    assert_eq!(
        body["refresh_token"].as_str().expect("refresh_token").len(),
        388
    );
    let key = body["refresh_response_key"]
        .as_str()
        .expect("refresh_response_key");
    assert_eq!(STANDARD.decode(key).expect("base64 key").len(), 32);
    let now = now_ms();
    let time = |name: &str| body[name].as_i64().unwrap_or_else(|| panic!("{name}"));
    let rf = time("refresh_from");
    let ie = time("identity_expires");
    let re = time("refresh_expires");
    assert!(now - 60_000 < rf && rf <= ie && ie <= re, "{rf} {ie} {re}");
    assert!(
        re < now + 400 * 86_400_000,
        "milliseconds, not microseconds: {re}"
    );
}

/// The key store of a data directory (to decode the tokens a server minted).
pub fn read_key_store(dir: &Path) -> euid_token::KeyStore {
    let read = |name: &str| {
        std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name} in the data dir: {e}"))
    };
    euid_token::KeyStore::from_json(&read("keysets.json"), &read("keyset_keys.json"))
        .expect("the data dir's key store")
}

/// A config that reloads data files every 50 ms.
pub fn fast_reload() -> OperatorConfig {
    OperatorConfig::from_json(br#"{"reload_interval_ms":50}"#).expect("config")
}

/// Adds a client to `dir/clients.json` and waits until `server` accepts its key.
pub fn add_client(server: &TestServer, dir: &Path, site_id: i32, roles: &[Role]) -> ApiClient {
    let path = dir.join("clients.json");
    let mut records: Vec<ClientRecord> =
        serde_json::from_slice(&std::fs::read(&path).expect("clients.json"))
            .expect("clients.json parses");
    let mut rng = BatchedOsRandom::new();
    let new = new_client(site_id, "test", RoleSet::of(roles), 0, &mut rng);
    records.push(new.record.clone());
    let json = serde_json::to_vec(&records).expect("clients JSON");
    euid_store::write_atomic(&path, &json).expect("write clients.json");
    let client = ApiClient::new(server.addr, &new.api_key, &new.client_secret);
    let operator = server
        .server
        .as_ref()
        .expect("a running server")
        .operator()
        .clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while operator
        .snapshot()
        .clients
        .authenticate(&new.api_key)
        .is_none()
    {
        assert!(Instant::now() < deadline, "clients.json was not reloaded");
        std::thread::sleep(Duration::from_millis(20));
    }
    client
}

/// A client-side token generation request for the demo site, as the browser SDK encodes it
/// now (with `app_name`, for a mobile app).
pub fn cstg_request(
    demo: &DemoClient,
    identity: ClientIdentity<'_>,
    app_name: Option<&str>,
) -> ClientRequest {
    ClientRequest::encode(
        demo.server_public_key
            .as_deref()
            .expect("demo server_public_key"),
        demo.subscription_id
            .as_deref()
            .expect("demo subscription_id"),
        identity,
        now_ms(),
        app_name,
        &mut BatchedOsRandom::new(),
    )
    .expect("a CSTG request")
}
