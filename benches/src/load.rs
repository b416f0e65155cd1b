//! The end-to-end load driver behind the `euid-load` binary.
//!
//! One run starts a real operator and a bare same-stack baseline (the operator's axum/hyper
//! accept loop on an identical tokio runtime, a handler that only echoes the body), then drives each with the same
//! hyper HTTP/1.1 client over 127.0.0.1: closed loop, a fixed number of keep-alive
//! connections, bounded in request count and duration. Every operator response is
//! verified (decrypted, nonce checked, status read), every baseline echo compared.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use euid_crypto::{AesGcmKey, FastRandom, RandomSource};
use euid_envelope::{open_refresh_response, open_response, seal_request, ClientSecret};
// TCF: the docs' sufficient consent string, so every generate passes the consent check.
use euid_test_support::{now_ms, SUFFICIENT_TCF as TCF};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run does.
#[derive(Debug, Clone)]
pub struct LoadArgs {
    /// Requests per measured scenario, at most.
    pub requests: u64,
    /// Seconds per measured scenario, at most.
    pub seconds: u64,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Worker threads of each server runtime (the operator's and the baseline's).
    pub server_threads: usize,
    /// Worker threads of the client runtime.
    pub client_threads: usize,
    /// With a value, [`run_rotation`] instead of [`run`]: generate + refresh traffic with a
    /// key rotation this many seconds in (see [`run_rotation`]).
    pub rotate_after_seconds: Option<u64>,
}

impl Default for LoadArgs {
    fn default() -> Self {
        Self {
            requests: 100_000,
            seconds: 15,
            connections: 32,
            server_threads: 2,
            client_threads: 2,
            rotate_after_seconds: None,
        }
    }
}

impl LoadArgs {
    /// Usage text.
    pub const USAGE: &'static str = "usage: euid-load [--requests N] [--seconds S] [--connections C] [--server-threads T] [--client-threads T] [--rotate-after-seconds R]";

    /// Parses `--flag value` pairs.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut out = Self::default();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number: u64 = value
                .parse()
                .map_err(|_| format!("{flag}: not a number: {value}"))?;
            if number == 0 {
                return Err(format!("{flag} must be positive"));
            }
            match flag.as_str() {
                "--requests" => out.requests = number,
                "--seconds" => out.seconds = number,
                "--connections" => out.connections = number as usize,
                "--server-threads" => out.server_threads = number as usize,
                "--client-threads" => out.client_threads = number as usize,
                "--rotate-after-seconds" => out.rotate_after_seconds = Some(number),
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        Ok(out)
    }
}

/// The measured outcome of one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// Its name.
    pub name: &'static str,
    /// Requests completed (verified or not).
    pub requests: u64,
    /// Requests whose response failed verification or transport.
    pub errors: u64,
    /// Wall time of the scenario.
    pub elapsed: Duration,
    /// Latency percentiles p50, p90, p99, in microseconds.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
}

impl ScenarioResult {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Every scenario of one run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The arguments used.
    pub args: LoadArgs,
    /// Baseline, generate, refresh.
    pub results: Vec<ScenarioResult>,
}

impl Report {
    /// Errors across all scenarios.
    pub fn total_errors(&self) -> u64 {
        self.results.iter().map(|r| r.errors).sum()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = &self.args;
        writeln!(
            f,
            "euid-load: {} connections, server threads {}, client threads {}, at most {} requests / {} s per scenario",
            a.connections, a.server_threads, a.client_threads, a.requests, a.seconds
        )?;
        writeln!(
            f,
            "| scenario | requests | req/s | p50 | p90 | p99 | errors | ratio to baseline |"
        )?;
        writeln!(f, "| --- | --- | --- | --- | --- | --- | --- | --- |")?;
        let baseline = self
            .results
            .first()
            .map(ScenarioResult::rate)
            .unwrap_or(0.0);
        for r in &self.results {
            writeln!(
                f,
                "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {} | {:.2}× |",
                r.name,
                r.requests,
                r.rate(),
                r.p50_us as f64 / 1000.0,
                r.p90_us as f64 / 1000.0,
                r.p99_us as f64 / 1000.0,
                r.errors,
                r.rate() / baseline
            )?;
        }
        Ok(())
    }
}

fn runtime(threads: usize, name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

/// Runs the baseline, then generate, then refresh, and reports all three.
pub fn run(args: &LoadArgs) -> Result<Report, String> {
    let data_dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let operator_rt = runtime(args.server_threads, "operator")?;
    let baseline_rt = runtime(args.server_threads, "baseline")?;
    let client_rt = runtime(args.client_threads, "client")?;

    let server = operator_rt
        .block_on(euid_operator::start(euid_operator::ServerOptions {
            data_dir: data_dir.path().to_path_buf(),
            listen: Some("127.0.0.1:0".to_owned()),
            config: euid_operator::OperatorConfig::default(),
            ..euid_operator::ServerOptions::default()
        }))
        .map_err(|e| format!("operator: {e}"))?;
    let operator_addr = server.local_addr();
    let demo = server
        .demo_client()
        .cloned()
        .ok_or_else(|| "operator: no demo client".to_owned())?;
    let baseline_addr = baseline_rt.block_on(start_baseline())?;

    let target = Target {
        api_key: Arc::new(format!("Bearer {}", demo.api_key)),
        secret: Arc::new(
            ClientSecret::from_base64(&demo.client_secret).map_err(|e| e.to_string())?,
        ),
    };
    let mut results = Vec::new();
    for scenario in [Scenario::Baseline, Scenario::Generate, Scenario::Refresh] {
        let addr = if scenario == Scenario::Baseline {
            baseline_addr
        } else {
            operator_addr
        };
        results.push(client_rt.block_on(drive(scenario, addr, &target, args))?);
    }
    operator_rt
        .block_on(server.shutdown())
        .map_err(|e| format!("operator shutdown: {e}"))?;
    Ok(Report {
        args: args.clone(),
        results,
    })
}

async fn start_baseline() -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("baseline bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = axum::Router::new().route(
        "/v2/token/generate",
        axum::routing::post(|body: Bytes| async move { body }),
    );
    // The operator's own accept loop and head timeout, so only the handler differs.
    tokio::spawn(euid_operator::serve_connections(
        listener,
        app,
        Duration::from_secs(10),
        std::future::pending(),
    ));
    Ok(addr)
}

/// Which workload a scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Generate-sized envelopes to the echo handler.
    Baseline,
    /// `POST /v2/token/generate` with a fresh email each time.
    Generate,
    /// `POST /v2/token/refresh`, each connection following its own chain of refreshes.
    Refresh,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline (echo)",
            Self::Generate => "/v2/token/generate",
            Self::Refresh => "/v2/token/refresh",
        }
    }
}

#[derive(Clone)]
struct Target {
    api_key: Arc<String>,
    secret: Arc<ClientSecret>,
}

struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Self, String> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(Self { sender })
    }

    async fn post(
        &mut self,
        path: &str,
        auth: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let request = Request::post(path)
            .header(hyper::header::HOST, "127.0.0.1")
            .header(hyper::header::AUTHORIZATION, auth)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }
}

/// A generate envelope for a fresh email, and its nonce.
fn generate_body(target: &Target, n: u64, rng: &mut FastRandom) -> (Vec<u8>, [u8; 8]) {
    let json = format!(r#"{{"email":"user{n}@example.com","tcf_consent_string":"{TCF}"}}"#);
    let mut nonce = [0u8; 8];
    rng.fill(&mut nonce);
    let raw = seal_request(&target.secret, now_ms(), nonce, json.as_bytes(), rng);
    (STANDARD.encode(raw).into_bytes(), nonce)
}

/// A token response, read in place: the client shares the cores with the servers, so
/// its checking should cost as little as it can while still checking.
#[derive(serde::Deserialize)]
struct TokenReply<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    body: Option<TokenBody<'a>>,
}

#[derive(serde::Deserialize)]
struct TokenBody<'a> {
    #[serde(borrow)]
    advertising_token: Cow<'a, str>,
    #[serde(borrow)]
    refresh_token: Cow<'a, str>,
    #[serde(borrow)]
    refresh_response_key: Cow<'a, str>,
}

/// The body of a successful token response with a non-empty advertising token.
fn token_body(json: &[u8]) -> Option<TokenBody<'_>> {
    let reply: TokenReply<'_> = serde_json::from_slice(json).ok()?;
    let body = reply.body?;
    (reply.status == "success" && !body.advertising_token.is_empty()).then_some(body)
}

/// The refresh token and response key of an identity JSON body.
fn identity_of(json: &[u8]) -> Option<(String, AesGcmKey)> {
    let body = token_body(json)?;
    let key = AesGcmKey::from_base64(&body.refresh_response_key).ok()?;
    Some((body.refresh_token.into_owned(), key))
}

async fn drive(
    scenario: Scenario,
    addr: SocketAddr,
    target: &Target,
    args: &LoadArgs,
) -> Result<ScenarioResult, String> {
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.connections);
    for worker in 0..args.connections {
        let mut conn = Connection::open(addr).await?;
        let target = target.clone();
        let issued = issued.clone();
        let limit = args.requests;
        tasks.push(tokio::spawn(async move {
            let mut rng = FastRandom::new();
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            // Refresh chains start from one untimed generate per connection.
            let mut identity = None;
            if scenario == Scenario::Refresh {
                let (body, nonce) = generate_body(&target, worker as u64, &mut rng);
                if let Ok((StatusCode::OK, reply)) =
                    conn.post("/v2/token/generate", &target.api_key, body).await
                {
                    identity = open_response(&target.secret, &reply, Some(nonce))
                        .ok()
                        .and_then(|r| identity_of(&r.json));
                }
                if identity.is_none() {
                    return (latencies, 1);
                }
            }
            while Instant::now() < deadline {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= limit {
                    break;
                }
                let t0 = Instant::now();
                let ok = match scenario {
                    Scenario::Baseline => {
                        let (body, _) = generate_body(&target, n, &mut rng);
                        let expect = body.clone();
                        matches!(conn.post("/v2/token/generate", &target.api_key, body).await,
                            Ok((StatusCode::OK, reply)) if reply == expect)
                    }
                    Scenario::Generate => {
                        let (body, nonce) = generate_body(&target, n, &mut rng);
                        match conn.post("/v2/token/generate", &target.api_key, body).await {
                            Ok((StatusCode::OK, reply)) => {
                                open_response(&target.secret, &reply, Some(nonce))
                                    .ok()
                                    .and_then(|r| identity_of(&r.json))
                                    .is_some()
                            }
                            _ => false,
                        }
                    }
                    Scenario::Refresh => {
                        let Some((token, key)) = identity.take() else {
                            break;
                        };
                        match conn
                            .post(
                                "/v2/token/refresh",
                                &target.api_key,
                                token.clone().into_bytes(),
                            )
                            .await
                        {
                            Ok((StatusCode::OK, reply)) => {
                                identity = open_refresh_response(&key, &reply)
                                    .ok()
                                    .and_then(|json| identity_of(&json));
                                identity.is_some()
                            }
                            _ => false,
                        }
                    }
                };
                latencies.push(t0.elapsed().as_micros() as u64);
                if !ok {
                    errors += 1;
                    if scenario == Scenario::Refresh {
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.map_err(|e| e.to_string())?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    Ok(ScenarioResult {
        name: scenario.name(),
        requests: latencies.len() as u64,
        errors,
        elapsed,
        p50_us: pct(0.50),
        p90_us: pct(0.90),
        p99_us: pct(0.99),
    })
}

// ---- Key rotation under load ----

/// Tokens generated before the rotation, checked after the run.
const ROTATION_SAMPLE: usize = 32;
/// Tokens generated after the run, to check the new master key is in use.
const ROTATION_PROBES: usize = 16;
/// The operator's data-directory reload interval in a rotation run, milliseconds.
const ROTATION_RELOAD_MS: u64 = 100;
/// Every this many generates under load, the advertising token is kept for decoding.
const ROTATION_SAMPLE_EVERY: u64 = 8;

/// What [`run_rotation`] measured and checked.
#[derive(Debug, Clone)]
pub struct RotationReport {
    /// The arguments used.
    pub args: LoadArgs,
    /// Requests sent under load (generates and refreshes).
    pub requests: u64,
    /// Of those, the ones that failed: transport, HTTP status, decryption, or a body
    /// without tokens.
    pub errors: u64,
    /// Wall time of the load.
    pub elapsed: Duration,
    /// When the keys were rotated, from the start of the load.
    pub rotated_at: Duration,
    /// Requests issued after the rotation.
    pub requests_after_rotation: u64,
    /// The master key of the tokens generated before the rotation.
    pub old_master_key_id: i32,
    /// The master key the rotation added.
    pub new_master_key_id: i32,
    /// Advertising tokens sampled from the load's generates.
    pub sampled: usize,
    /// Of those, the ones under the new master key.
    pub sampled_under_new_master: usize,
    /// Tokens generated before the rotation and kept.
    pub pre_rotation_tokens: usize,
    /// Of those, the ones whose advertising token decrypts with the key store after the
    /// rotation (under the old master key).
    pub pre_rotation_decrypted: usize,
    /// Of those, the ones that refresh through the operator after the run into tokens under
    /// the new master key.
    pub pre_rotation_refreshed: usize,
    /// Tokens generated after the run.
    pub probes: usize,
    /// Of those, the ones under the new master key.
    pub probes_under_new_master: usize,
}

impl RotationReport {
    /// No request failed, the rotation happened under load, every pre-rotation token still
    /// decrypts and refreshes, and new tokens use the new master key.
    pub fn passed(&self) -> bool {
        self.errors == 0
            && self.requests_after_rotation > 0
            && self.new_master_key_id != self.old_master_key_id
            && self.pre_rotation_decrypted == self.pre_rotation_tokens
            && self.pre_rotation_refreshed == self.pre_rotation_tokens
            && self.probes_under_new_master == self.probes
    }
}

impl std::fmt::Display for RotationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = &self.args;
        writeln!(
            f,
            "euid-load key rotation: {} connections, server threads {}, client threads {}, at most {} requests / {} s, rotation after {} s (or half the requests)",
            a.connections,
            a.server_threads,
            a.client_threads,
            a.requests,
            a.seconds,
            a.rotate_after_seconds.unwrap_or(0)
        )?;
        writeln!(
            f,
            "load: {} requests (generate + refresh) in {:.2} s, {} failed",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.errors
        )?;
        writeln!(
            f,
            "rotation: at {:.2} s, {} requests after it; master key {} -> {}",
            self.rotated_at.as_secs_f64(),
            self.requests_after_rotation,
            self.old_master_key_id,
            self.new_master_key_id
        )?;
        writeln!(
            f,
            "tokens sampled under load: {}/{} under the new master key",
            self.sampled_under_new_master, self.sampled
        )?;
        writeln!(
            f,
            "pre-rotation tokens: {}/{} decrypt with the rotated key store, {}/{} refresh into tokens under the new master key",
            self.pre_rotation_decrypted,
            self.pre_rotation_tokens,
            self.pre_rotation_refreshed,
            self.pre_rotation_tokens
        )?;
        writeln!(
            f,
            "after the run: {}/{} new tokens under the new master key",
            self.probes_under_new_master, self.probes
        )?;
        writeln!(f, "result: {}", if self.passed() { "PASS" } else { "FAIL" })
    }
}

/// The tokens of a successful generate or refresh.
struct Tokens {
    advertising_token: String,
    refresh_token: String,
    key: AesGcmKey,
}

fn tokens_of(json: &[u8]) -> Option<Tokens> {
    let body = token_body(json)?;
    Some(Tokens {
        key: AesGcmKey::from_base64(&body.refresh_response_key).ok()?,
        advertising_token: body.advertising_token.into_owned(),
        refresh_token: body.refresh_token.into_owned(),
    })
}

/// The key store of a data directory, as it is on disk now.
fn key_store(dir: &std::path::Path) -> Result<euid_token::KeyStore, String> {
    let files = euid_operator::DataDir::new(dir);
    let read =
        |p: std::path::PathBuf| std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()));
    euid_token::KeyStore::from_json(&read(files.keysets())?, &read(files.keyset_keys())?)
        .map_err(|e| format!("key store: {e}"))
}

/// The master key id of an advertising token, if it decrypts with `keys`.
fn master_key_of(keys: &euid_token::KeyStore, advertising_token: &str) -> Option<i32> {
    euid_token::decode_advertising_token(keys, advertising_token, now_ms())
        .ok()
        .map(|t| t.master_key_id)
}

async fn generate_tokens(conn: &mut Connection, target: &Target, n: u64) -> Option<Tokens> {
    let mut rng = FastRandom::new();
    let (body, nonce) = generate_body(target, n, &mut rng);
    match conn.post("/v2/token/generate", &target.api_key, body).await {
        Ok((StatusCode::OK, reply)) => open_response(&target.secret, &reply, Some(nonce))
            .ok()
            .and_then(|r| tokens_of(&r.json)),
        _ => None,
    }
}

async fn refresh_tokens(conn: &mut Connection, target: &Target, tokens: &Tokens) -> Option<Tokens> {
    let body = tokens.refresh_token.clone().into_bytes();
    match conn.post("/v2/token/refresh", &target.api_key, body).await {
        Ok((StatusCode::OK, reply)) => open_refresh_response(&tokens.key, &reply)
            .ok()
            .and_then(|json| tokens_of(&json)),
        _ => None,
    }
}

/// Key rotation under load, against a real operator (reload interval 100 ms) on a fresh
/// data directory:
///
/// 1. generates 32 tokens and keeps them;
/// 2. drives generate + refresh traffic (each connection generates a token for a fresh email
///    and refreshes it, over and over), bounded by `args.requests` and `args.seconds`,
///    counting every failed request;
/// 3. `args.rotate_after_seconds` into the load, or when half the requests are issued if
///    that comes first (so the rotation always lands under load), calls
///    [`euid_operator::rotate_keys`] on the data directory with keys that activate at once:
///    the running operator picks them up on its next reload, with requests in flight;
/// 4. after the load, checks that the kept pre-rotation advertising tokens still decrypt
///    with the rotated key store, that the pre-rotation refresh tokens still refresh through
///    the operator into tokens under the new master key, and that new tokens are under it.
pub fn run_rotation(args: &LoadArgs) -> Result<RotationReport, String> {
    let rotate_after = Duration::from_secs(
        args.rotate_after_seconds
            .ok_or("a rotation run needs --rotate-after-seconds")?,
    );
    let data_dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let operator_rt = runtime(args.server_threads, "operator")?;
    let client_rt = runtime(args.client_threads, "client")?;
    let mut config = euid_operator::OperatorConfig::default();
    config.reload_interval_ms = ROTATION_RELOAD_MS;
    let server = operator_rt
        .block_on(euid_operator::start(euid_operator::ServerOptions {
            data_dir: data_dir.path().to_path_buf(),
            listen: Some("127.0.0.1:0".to_owned()),
            config,
            ..euid_operator::ServerOptions::default()
        }))
        .map_err(|e| format!("operator: {e}"))?;
    let demo = server
        .demo_client()
        .cloned()
        .ok_or_else(|| "operator: no demo client".to_owned())?;
    let target = Target {
        api_key: Arc::new(format!("Bearer {}", demo.api_key)),
        secret: Arc::new(
            ClientSecret::from_base64(&demo.client_secret).map_err(|e| e.to_string())?,
        ),
    };
    let report = client_rt.block_on(rotation_phases(
        server.local_addr(),
        &target,
        args,
        rotate_after,
        data_dir.path(),
    ));
    operator_rt
        .block_on(server.shutdown())
        .map_err(|e| format!("operator shutdown: {e}"))?;
    report
}

async fn rotation_phases(
    addr: SocketAddr,
    target: &Target,
    args: &LoadArgs,
    rotate_after: Duration,
    dir: &std::path::Path,
) -> Result<RotationReport, String> {
    // 1. Pre-rotation tokens, numbered apart from the load's emails.
    let keys_before = key_store(dir)?;
    let mut conn = Connection::open(addr).await?;
    let mut kept = Vec::with_capacity(ROTATION_SAMPLE);
    for i in 0..ROTATION_SAMPLE as u64 {
        let tokens = generate_tokens(&mut conn, target, (1 << 40) + i)
            .await
            .ok_or("a pre-rotation generate failed")?;
        kept.push(tokens);
    }
    let old_master_key_id = master_key_of(&keys_before, &kept[0].advertising_token)
        .ok_or("a pre-rotation token does not decrypt")?;

    // 2. and 3. The load, and the rotation from a thread of its own.
    let issued = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let rotator = {
        let (issued, done, dir) = (issued.clone(), done.clone(), dir.to_path_buf());
        let half = args.requests / 2;
        std::thread::spawn(move || -> Result<(Duration, u64, i32), String> {
            while started.elapsed() < rotate_after && issued.load(Ordering::Relaxed) < half {
                if done.load(Ordering::Relaxed) {
                    return Err("the load ended before the rotation".to_owned());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let at = (started.elapsed(), issued.load(Ordering::Relaxed));
            let rotated = euid_operator::rotate_keys(
                &dir,
                &euid_operator::RotateOptions {
                    activates_in_seconds: 0,
                    lifetime_seconds: 30 * 86_400,
                },
            )
            .map_err(|e| format!("rotate_keys: {e}"))?;
            let master = rotated
                .iter()
                .find(|k| k.keyset_id == euid_token::MASTER_KEYSET_ID)
                .ok_or("the rotation added no master key")?;
            Ok((at.0, at.1, master.key_id))
        })
    };
    let mut tasks = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let mut conn = Connection::open(addr).await?;
        let (target, issued) = (target.clone(), issued.clone());
        let limit = args.requests;
        tasks.push(tokio::spawn(async move {
            let (mut sent, mut errors, mut sampled) = (0u64, 0u64, Vec::new());
            while Instant::now() < deadline {
                let n = issued.fetch_add(2, Ordering::Relaxed);
                if n >= limit {
                    break;
                }
                sent += 1;
                let Some(tokens) = generate_tokens(&mut conn, &target, n).await else {
                    errors += 1;
                    continue;
                };
                if (n / 2) % ROTATION_SAMPLE_EVERY == 0 {
                    sampled.push(tokens.advertising_token.clone());
                }
                sent += 1;
                if refresh_tokens(&mut conn, &target, &tokens).await.is_none() {
                    errors += 1;
                }
            }
            (sent, errors, sampled)
        }));
    }
    let (mut requests, mut errors, mut sampled) = (0, 0, Vec::new());
    for task in tasks {
        let (s, e, t) = task.await.map_err(|e| e.to_string())?;
        requests += s;
        errors += e;
        sampled.extend(t);
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let (rotated_at, issued_at_rotation, new_master_key_id) = rotator
        .join()
        .map_err(|_| "the rotation thread panicked".to_owned())??;
    let requests_after_rotation = issued
        .load(Ordering::Relaxed)
        .min(args.requests)
        .saturating_sub(issued_at_rotation);

    // 4. Checks, with the key store as the rotation left it.
    let keys_after = key_store(dir)?;
    let sampled_under_new_master = sampled
        .iter()
        .filter(|t| master_key_of(&keys_after, t) == Some(new_master_key_id))
        .count();
    // The operator reloads every 100 ms: give it a bounded while to pick the keys up.
    let mut conn = Connection::open(addr).await?;
    let probe_deadline = Instant::now() + Duration::from_secs(15);
    let mut probe = 1u64 << 41;
    loop {
        let tokens = generate_tokens(&mut conn, target, probe)
            .await
            .ok_or("a post-rotation generate failed")?;
        probe += 1;
        if master_key_of(&keys_after, &tokens.advertising_token) == Some(new_master_key_id) {
            break;
        }
        if Instant::now() > probe_deadline {
            return Err("the operator did not pick up the rotated keys within 15 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut probes_under_new_master = 0;
    for _ in 0..ROTATION_PROBES {
        let tokens = generate_tokens(&mut conn, target, probe).await;
        probe += 1;
        if tokens.and_then(|t| master_key_of(&keys_after, &t.advertising_token))
            == Some(new_master_key_id)
        {
            probes_under_new_master += 1;
        }
    }
    let pre_rotation_decrypted = kept
        .iter()
        .filter(|t| master_key_of(&keys_after, &t.advertising_token) == Some(old_master_key_id))
        .count();
    let mut pre_rotation_refreshed = 0;
    for tokens in &kept {
        let refreshed = refresh_tokens(&mut conn, target, tokens).await;
        if refreshed.and_then(|t| master_key_of(&keys_after, &t.advertising_token))
            == Some(new_master_key_id)
        {
            pre_rotation_refreshed += 1;
        }
    }
    Ok(RotationReport {
        args: args.clone(),
        requests,
        errors,
        elapsed,
        rotated_at,
        requests_after_rotation,
        old_master_key_id,
        new_master_key_id,
        sampled: sampled.len(),
        sampled_under_new_master,
        pre_rotation_tokens: kept.len(),
        pre_rotation_decrypted,
        pre_rotation_refreshed,
        probes: ROTATION_PROBES,
        probes_under_new_master,
    })
}
