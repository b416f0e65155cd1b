//! The real operator, started in process from the library on `127.0.0.1:0`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use euid_operator::DemoClient;
use euid_operator::{OperatorConfig, RunningServer, ServerOptions};
use tempfile::TempDir;

use crate::http::{http, HttpResponse};

/// The operator on an ephemeral port, on its own tokio runtime, with the demo client the
/// data directory was created with. Dropping it shuts the server down (and removes the
/// temporary data directory, if it made one).
pub struct TestServer {
    /// The runtime the server runs on (two worker threads).
    pub runtime: tokio::runtime::Runtime,
    /// The server, until [`TestServer::stop`].
    pub server: Option<RunningServer>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The demo client (every role) of its data directory.
    pub demo: DemoClient,
    data_dir: PathBuf,
    // Declared last: removed after the server has stopped.
    _temp_dir: Option<TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh temporary data directory.
    pub fn start(config: OperatorConfig) -> Self {
        let temp_dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_in(temp_dir.path(), config);
        server._temp_dir = Some(temp_dir);
        server
    }

    /// Starts a server on the data directory `dir` (created if missing), which the caller
    /// keeps.
    pub fn start_in(dir: &Path, config: OperatorConfig) -> Self {
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
        Self {
            runtime,
            server: Some(server),
            addr,
            demo,
            data_dir: dir.to_path_buf(),
            _temp_dir: None,
        }
    }

    /// The data directory it serves.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (url, API key, client secret) of the demo client.
    pub fn creds(&self) -> (String, String, String) {
        (
            self.url(),
            self.demo.api_key.clone(),
            self.demo.client_secret.clone(),
        )
    }

    /// Shuts the server down; panics unless the shutdown is clean.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime
                .block_on(server.shutdown())
                .expect("clean shutdown");
        }
    }

    /// One raw HTTP request to the server (see [`http`]).
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
        if std::thread::panicking() {
            // The test has failed already: a second panic would abort the test binary.
            if let Some(server) = self.server.take() {
                let _ = self.runtime.block_on(server.shutdown());
            }
        } else {
            self.stop();
        }
    }
}
