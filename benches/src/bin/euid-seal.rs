//! `euid-seal`: request bodies for an outside load generator (`scripts/bench-http.sh`).
//! Writes a Lua file returning an array of bodies, which `benches/wrk/cycle.lua` cycles
//! through:
//!
//! - `--kind generate`: `/v2/token/generate` envelopes (a distinct email each, the docs' TCF
//!   string), sealed with the demo client's secret at the current time. They expire after the
//!   operator's skew window, so seal them just before each run.
//! - `--kind refresh`: refresh tokens, each from a real `/v2/token/generate` call to `--url`
//!   (plain bodies of `/v2/token/refresh`, valid for the refresh lifetime).
//! - `--kind map`: `/v3/identity/map` envelopes of 5,000 identities each (1,250 each of
//!   emails, email hashes, phones and phone hashes, distinct across bodies), sealed like
//!   `generate`.
//!
//! ```text
//! euid-seal --demo DATA_DIR --kind generate|refresh|map --count N --out FILE [--url http://127.0.0.1:8080]
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{FastRandom, RandomSource};
use euid_envelope::{open_response, seal_request, ClientSecret};
// TCF: the docs' sufficient consent string, so every generate passes the consent check.
use euid_test_support::{now_ms, SUFFICIENT_TCF as TCF};

struct Args {
    demo: String,
    kind: String,
    count: usize,
    out: String,
    url: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        demo: String::new(),
        kind: String::new(),
        count: 0,
        out: String::new(),
        url: "http://127.0.0.1:8080".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--demo" => args.demo = value,
            "--kind" => args.kind = value,
            "--count" => args.count = value.parse().map_err(|_| "--count: not a number")?,
            "--out" => args.out = value,
            "--url" => args.url = value,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.demo.is_empty() || args.out.is_empty() || args.count == 0 {
        return Err("--demo, --out and a positive --count are required".to_owned());
    }
    if !["generate", "refresh", "map"].contains(&args.kind.as_str()) {
        return Err("--kind is generate, refresh or map".to_owned());
    }
    Ok(args)
}

/// One sealed generate body (base64 text) for `user{n}@example.com`, and its nonce.
fn generate_body(secret: &ClientSecret, n: usize, rng: &mut FastRandom) -> (String, [u8; 8]) {
    let json = format!(r#"{{"email":"user{n}@example.com","tcf_consent_string":"{TCF}"}}"#);
    let mut nonce = [0u8; 8];
    rng.fill(&mut nonce);
    let raw = seal_request(secret, now_ms(), nonce, json.as_bytes(), rng);
    (STANDARD.encode(raw), nonce)
}

/// Identities in one `--kind map` body (the largest request the operator takes).
const MAP_IDENTITIES: usize = 5_000;

/// One sealed `/v3/identity/map` body (base64 text): body `n` maps identities
/// `n * 1250 .. (n + 1) * 1250` of each kind.
fn map_body(secret: &ClientSecret, n: usize, rng: &mut FastRandom) -> String {
    let per_kind = MAP_IDENTITIES / 4;
    let ids = (n * per_kind)..((n + 1) * per_kind);
    // Any 32 bytes are a valid hash: distinct ones per identity.
    let hash = |kind: u8, i: usize| {
        let mut bytes = [kind; 32];
        bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
        STANDARD.encode(bytes)
    };
    let json = serde_json::json!({
        "email": ids.clone().map(|i| format!("map.user{i}@example.com")).collect::<Vec<_>>(),
        "email_hash": ids.clone().map(|i| hash(1, i)).collect::<Vec<_>>(),
        "phone": ids.clone().map(|i| format!("+1{:010}", 2_000_000_000 + i)).collect::<Vec<_>>(),
        "phone_hash": ids.map(|i| hash(2, i)).collect::<Vec<_>>(),
    })
    .to_string();
    let mut nonce = [0u8; 8];
    rng.fill(&mut nonce);
    STANDARD.encode(seal_request(secret, now_ms(), nonce, json.as_bytes(), rng))
}

/// A POST over a fresh connection; the status and body.
fn post(addr: &str, path: &str, api_key: &str, body: &str) -> Result<(u16, Vec<u8>), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {api_key}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP head")?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err("chunked replies are not expected".to_owned());
    }
    Ok((status, raw[head_end + 4..].to_vec()))
}

fn run(args: &Args) -> Result<(), String> {
    let demo_path = std::path::Path::new(&args.demo).join("demo-client.json");
    let demo: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&demo_path).map_err(|e| format!("{}: {e}", demo_path.display()))?,
    )
    .map_err(|_| format!("{}: not JSON", demo_path.display()))?;
    let field = |name: &str| {
        demo[name]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("{}: no {name}", demo_path.display()))
    };
    let api_key = field("api_key")?;
    let secret = ClientSecret::from_base64(&field("client_secret")?).map_err(|e| e.to_string())?;
    let addr = args
        .url
        .strip_prefix("http://")
        .ok_or("--url must be http://HOST:PORT")?
        .trim_end_matches('/')
        .to_owned();
    let mut rng = FastRandom::new();
    let mut bodies = Vec::with_capacity(args.count);
    for n in 0..args.count {
        if args.kind == "map" {
            bodies.push(map_body(&secret, n, &mut rng));
            continue;
        }
        let (body, nonce) = generate_body(&secret, n, &mut rng);
        if args.kind == "generate" {
            bodies.push(body);
            continue;
        }
        let (status, reply) = post(&addr, "/v2/token/generate", &api_key, &body)?;
        if status != 200 {
            return Err(format!("generate answered {status}"));
        }
        let opened = open_response(&secret, &reply, Some(nonce)).map_err(|e| e.to_string())?;
        let json: serde_json::Value =
            serde_json::from_slice(&opened.json).map_err(|_| "generate reply is not JSON")?;
        let token = json["body"]["refresh_token"]
            .as_str()
            .ok_or("generate reply has no refresh_token")?;
        bodies.push(token.to_owned());
    }
    // Bodies are base64 text: no Lua escaping needed beyond the quotes.
    let mut lua = String::from("return {\n");
    for b in &bodies {
        if b.contains(['"', '\\', '\n']) {
            return Err("a body is not plain base64 text".to_owned());
        }
        lua.push_str("  \"");
        lua.push_str(b);
        lua.push_str("\",\n");
    }
    lua.push_str("}\n");
    std::fs::write(&args.out, lua).map_err(|e| format!("{}: {e}", args.out))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("euid-seal: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("euid-seal: {e}");
            ExitCode::from(1)
        }
    }
}
