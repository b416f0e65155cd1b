#![forbid(unsafe_code)]
//! The `euid-operator` binary:
//! `euid-operator [--data-dir DIR | --store URL] [--listen ADDR] [--config FILE]
//! [--no-demo-client] [--access-log on|off|sample:N]`.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use euid_operator::{
    AccessLogMode, InitOptions, OperatorConfig, ServerOptions, SharedStore, StoreError,
};
use euid_store_postgres::{redact_url, PgSettings, PostgresStore};

const USAGE: &str = "\
euid-operator: the EUID v2 operator

USAGE:
    euid-operator [--data-dir DIR | --store URL] [--listen ADDR] [--config FILE]
                  [--no-demo-client] [--access-log on|off|sample:N]

OPTIONS:
    --data-dir DIR     data directory (env EUID_DATA_DIR; default ./euid-data); created when
                       empty or absent, else it must hold every required file
    --store URL        a PostgreSQL database shared with other replicas, as
                       postgres://USER[:PASSWORD]@HOST:PORT/DB (env EUID_STORE): keys, salts,
                       clients, keypairs and opt-outs come from it and --data-dir is not
                       used; it must have been set up with `euid init --store URL`
    --listen ADDR      address to listen on (env EUID_LISTEN; default 127.0.0.1:8080)
    --config FILE      JSON config with the live operator's key names
                       (identity_token_expires_after_seconds, ...)
    --no-demo-client   a new data directory gets no demo client (no demo-client.json); an
                       existing one's demo-client.json is not read
    --access-log MODE  one line per request (endpoint, status, latency, site) at info level:
                       on (default), off, or sample:N for one request in N (env
                       EUID_ACCESS_LOG); written by a thread of its own, never by a request
    -h, --help         print this help

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to change the level. Access lines
follow it too: RUST_LOG=warn turns them off.";

struct Args {
    data_dir: Option<PathBuf>,
    store: Option<String>,
    listen: Option<String>,
    config: Option<PathBuf>,
    no_demo_client: bool,
    access_log: Option<String>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        data_dir: None,
        store: None,
        listen: None,
        config: None,
        no_demo_client: false,
        access_log: None,
    };
    let mut it = std::env::args_os().skip(1);
    while let Some(arg) = it.next() {
        let arg = arg.to_string_lossy().into_owned();
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().map(|v| v.to_string_lossy().into_owned()))
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--data-dir" => args.data_dir = Some(PathBuf::from(value()?)),
            "--store" => args.store = Some(value()?),
            "--listen" => args.listen = Some(value()?),
            "--config" => args.config = Some(PathBuf::from(value()?)),
            "--no-demo-client" if inline.is_none() => args.no_demo_client = true,
            "--access-log" => args.access_log = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("euid-operator: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .init();

    let config = match &args.config {
        Some(path) => match read_config(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("euid-operator: {e}");
                return ExitCode::from(2);
            }
        },
        None => OperatorConfig::default(),
    };
    for key in config.unknown_keys() {
        tracing::warn!(key, "config key not used by this operator");
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let access_log = match args
        .access_log
        .or_else(|| env("EUID_ACCESS_LOG"))
        .map(|m| m.parse::<AccessLogMode>())
        .transpose()
    {
        // Access lines are info-level lines: a filter that hides info hides them too.
        Ok(mode) if tracing::enabled!(target: "euid_operator::access", tracing::Level::INFO) => {
            mode.unwrap_or(AccessLogMode::On)
        }
        Ok(_) => AccessLogMode::Off,
        Err(e) => {
            eprintln!("euid-operator: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let data_dir = args
        .data_dir
        .or_else(|| env("EUID_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(euid_operator::DEFAULT_DATA_DIR));
    let store_url = args.store.or_else(|| env("EUID_STORE"));
    // Opened before the runtime: the first connection, the schema check and loading the
    // opt-outs are blocking work, and a replica that cannot have them must not listen.
    let (store, location) = match &store_url {
        None => (None, format!("data directory: {}", data_dir.display())),
        Some(url) => match open_store(url, Duration::from_millis(config.request_timeout_ms)) {
            Ok(shared) => (Some(shared), format!("store: {}", redact_url(url))),
            Err(message) => {
                eprintln!("euid-operator: {message}");
                return ExitCode::FAILURE;
            }
        },
    };
    let options = ServerOptions {
        data_dir,
        listen: args.listen.or_else(|| env("EUID_LISTEN")),
        config,
        init: InitOptions {
            demo_client: !args.no_demo_client,
            ..InitOptions::default()
        },
        access_log,
        store,
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("euid-operator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let shared_store = options.store.is_some();
        let data_dir = options.data_dir.clone();
        let server = match euid_operator::start(options).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("euid-operator: {e}");
                return ExitCode::FAILURE;
            }
        };
        if shared_store {
            print_store_welcome(&server, &location);
        } else {
            print_welcome(&server, &data_dir);
        }
        match server.run_until(shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("euid-operator: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Opens a PostgreSQL replica store, or says why not (the URL redacted; the store's errors
/// never carry the password).
/// A logout waits for its commit at most half the request timeout, so a hung database gets
/// the documented 503 before the request's 408.
fn open_store(url: &str, request_timeout: Duration) -> Result<SharedStore, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(format!(
            "--store {}: not a PostgreSQL URL (postgres://USER@HOST:PORT/DB)",
            redact_url(url)
        ));
    }
    let mut settings = PgSettings::default();
    settings.write_timeout = settings.write_timeout.min(request_timeout / 2);
    let store = PostgresStore::open_replica(url, settings).map_err(|e| {
        let lead = match e {
            StoreError::Uninitialized { .. } | StoreError::UnknownSchemaVersion { .. } => {
                "refusing to start"
            }
            _ => "cannot start",
        };
        // Most store errors name the (redacted) store already.
        let (text, shown) = (e.to_string(), redact_url(url));
        if text.contains(&shown) {
            format!("{lead}: {text}")
        } else {
            format!("{lead}: {shown}: {text}")
        }
    })?;
    let store = Arc::new(store);
    Ok(SharedStore {
        store: store.clone(),
        optouts: store,
    })
}

/// The start-up lines of a replica on a shared store: its clients are in the database, and
/// the demo client's credentials in the file `euid init --store` wrote.
fn print_store_welcome(server: &euid_operator::RunningServer, location: &str) {
    let base = format!("http://{}", server.local_addr());
    println!(
        "euid-operator is listening on {base}\n{location}\n\n\
         API clients are in the store (a demo client's credentials are in the file given to\n\
         `euid init --store URL --demo-client FILE`).\n\
         Health: curl -s {base}/ops/healthcheck    Metrics: curl -s {base}/metrics"
    );
}

fn print_welcome(server: &euid_operator::RunningServer, data_dir: &std::path::Path) {
    let base = format!("http://{}", server.local_addr());
    let dir = data_dir.display();
    println!("euid-operator is listening on {base}\ndata directory: {dir}\n");
    let Some(demo) = server.demo_client() else {
        println!(
            "No demo client: API clients are in {dir}/clients.json\n\
             Health: curl -s {base}/ops/healthcheck    Metrics: curl -s {base}/metrics"
        );
        return;
    };
    // The demo credentials are shown to a person at a terminal only: when stdout is a pipe or
    // a file it usually ends up in a log collector, and the API key and client secret are
    // secrets there. They are always in demo-client.json.
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!(
            "Demo client credentials: {dir}/demo-client.json (not printed: stdout is not a terminal)\n\
             Health: curl -s {base}/ops/healthcheck    Metrics: curl -s {base}/metrics"
        );
        return;
    }
    println!(
        r#"Demo client (also in {dir}/demo-client.json):
  api_key:       {key}
  client_secret: {secret}
  site_id:       {site}

Generate and refresh a token with the euid CLI:
  euid generate --demo {dir} --email user@example.com | euid refresh

or with curl and the CLI's envelope helpers:
  echo '{{"email":"user@example.com","tcf_consent_string":"CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"}}' \
    | euid encrypt-request '{secret}' \
    | curl -s -X POST {base}/v2/token/generate -H 'Authorization: Bearer {key}' -d @- \
    | euid decrypt-response '{secret}'

Health: curl -s {base}/ops/healthcheck    Metrics: curl -s {base}/metrics
Press Ctrl-C to stop."#,
        key = demo.api_key,
        secret = demo.client_secret,
        site = demo.site_id,
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Reads, parses and validates the `--config` file (the shell's part: the parsing is the
/// core's `OperatorConfig::from_json`).
fn read_config(path: &std::path::Path) -> Result<OperatorConfig, euid_operator::ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| euid_operator::ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    OperatorConfig::from_json(&bytes)
}
