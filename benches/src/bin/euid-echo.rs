//! `euid-echo`: the bare baseline of `scripts/bench-http.sh`. An axum server on the same
//! tokio/hyper/axum versions as the operator, with the same number of worker threads (one per
//! core, tokio's default, unless `--workers` says otherwise), that answers every POST with
//! its body and does nothing else: what HTTP alone costs on this machine.
//!
//! ```text
//! euid-echo [--listen 127.0.0.1:8090] [--workers N]
//! ```

use std::process::ExitCode;

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;

fn main() -> ExitCode {
    let mut listen = "127.0.0.1:8090".to_owned();
    let mut workers = std::thread::available_parallelism().map_or(2, usize::from);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--listen", Some(v)) => listen = v,
            ("--workers", Some(v)) if v.parse::<usize>().is_ok_and(|n| n > 0) => {
                workers = v.parse().unwrap_or(workers);
            }
            _ => {
                eprintln!("usage: euid-echo [--listen ADDR] [--workers N]");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("euid-echo: {e}");
            return ExitCode::from(1);
        }
    };
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        eprintln!("euid-echo: listening on {}", listener.local_addr()?);
        let app = Router::new().fallback(post(|body: Bytes| async move { body }));
        axum::serve(listener, app).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("euid-echo: {e}");
            ExitCode::from(1)
        }
    }
}
