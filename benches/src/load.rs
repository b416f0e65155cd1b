//! The end-to-end load driver behind the `euid-load` binary.
//!
//! One run starts a real operator and a bare same-stack baseline (axum on an identical
//! tokio runtime, a handler that only echoes the body), then drives each with the same
//! hyper HTTP/1.1 client over 127.0.0.1: closed loop, a fixed number of keep-alive
//! connections, bounded in request count and duration. Every operator response is
//! verified (decrypted, nonce checked, status read), every baseline echo compared.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use euid_crypto::{AesGcmKey, FastRandom, RandomSource};
use euid_envelope::{open_refresh_response, open_response, seal_request, ClientSecret};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The docs' sufficient TCF string: every generate passes the consent check.
const TCF: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";

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
}

impl Default for LoadArgs {
    fn default() -> Self {
        Self {
            requests: 100_000,
            seconds: 15,
            connections: 32,
            server_threads: 2,
            client_threads: 2,
        }
    }
}

impl LoadArgs {
    /// Usage text.
    pub const USAGE: &'static str = "usage: euid-load [--requests N] [--seconds S] [--connections C] [--server-threads T] [--client-threads T]";

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
            init: euid_operator::InitOptions::default(),
        }))
        .map_err(|e| format!("operator: {e}"))?;
    let operator_addr = server.local_addr();
    let demo = server.demo_client().clone();
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
    tokio::spawn(async move { axum::serve(listener, app).await });
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

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A generate envelope for a fresh email, and its nonce.
fn generate_body(target: &Target, n: u64, rng: &mut FastRandom) -> (Vec<u8>, [u8; 8]) {
    let json = format!(r#"{{"email":"user{n}@example.com","tcf_consent_string":"{TCF}"}}"#);
    let mut nonce = [0u8; 8];
    rng.fill(&mut nonce);
    let raw = seal_request(&target.secret, now_ms(), nonce, json.as_bytes(), rng);
    (STANDARD.encode(raw).into_bytes(), nonce)
}

/// The refresh token and response key of an identity JSON body.
fn identity_of(json: &[u8]) -> Option<(String, AesGcmKey)> {
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    if value["status"] != "success" || value["body"]["advertising_token"].as_str()?.is_empty() {
        return None;
    }
    let token = value["body"]["refresh_token"].as_str()?.to_owned();
    let key = AesGcmKey::from_base64(value["body"]["refresh_response_key"].as_str()?).ok()?;
    Some((token, key))
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
