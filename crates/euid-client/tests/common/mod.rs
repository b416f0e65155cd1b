//! Test harness: the real operator on an ephemeral 127.0.0.1 port with a fresh data directory.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;

use euid_operator::DemoClient;
use euid_operator::{OperatorConfig, RunningServer, ServerOptions};

pub const SUFFICIENT_TCF: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";
pub const INSUFFICIENT_TCF: &str = "CPehXK9PehXK9ABAMBFRACBoADAAAEJAAIYgAKwAQAKgArABAAqAAA";

pub struct TestServer {
    pub runtime: tokio::runtime::Runtime,
    pub server: Option<RunningServer>,
    pub addr: SocketAddr,
    pub demo: DemoClient,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start(config: OperatorConfig) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let options = ServerOptions {
            data_dir: dir.path().to_path_buf(),
            listen: Some("127.0.0.1:0".to_owned()),
            config,
            ..ServerOptions::default()
        };
        let server = runtime
            .block_on(euid_operator::start(options))
            .expect("server starts");
        let addr = server.local_addr();
        let demo = server.demo_client().cloned().expect("a demo client");
        TestServer {
            runtime,
            server: Some(server),
            addr,
            demo,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (url, api key, secret) of the demo client.
    pub fn creds(&self) -> (String, String, String) {
        (
            self.url(),
            self.demo.api_key.clone(),
            self.demo.client_secret.clone(),
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.runtime.block_on(server.shutdown());
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
