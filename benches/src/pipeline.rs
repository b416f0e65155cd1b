//! The in-process pipeline fixture shared by the criterion bench (`benches/pipeline.rs`) and
//! the min-of-batches timer (`examples/pipeline_min.rs`): a fresh data directory, the loaded
//! operator, and ready-made request bodies.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::FastRandom;
use euid_envelope::{open_response, seal_request, ClientSecret};
use euid_operator::now_ms;
use euid_operator::DataDir;
use euid_operator::SqliteOptOutStore;
use euid_operator::{
    handle, init_data_dir, ApiRequest, ApiResponse, Endpoint, InitOptions, Operator,
    OperatorConfig, Snapshot,
};
use euid_test_support::SUFFICIENT_TCF as TCF;

/// The three generate inputs the benches time, as (name, request JSON).
pub fn generate_inputs() -> [(&'static str, String); 3] {
    [
        (
            "generate_email",
            format!(r#"{{"email":"Jane.Doe@example.com","tcf_consent_string":"{TCF}"}}"#),
        ),
        (
            "generate_email_hash",
            format!(
                r#"{{"email_hash":"dvECjPKZHya0/SIhSGwP0m8SgTv1vzLxPULUOsm880M=","tcf_consent_string":"{TCF}"}}"#
            ),
        ),
        (
            "generate_phone",
            format!(r#"{{"phone":"+4915123456789","tcf_consent_string":"{TCF}"}}"#),
        ),
    ]
}

/// An operator on a fresh data directory and the demo client's credentials.
pub struct PipelineFixture {
    _dir: tempfile::TempDir,
    operator: Operator,
    snapshot: Arc<Snapshot>,
    secret: ClientSecret,
    api_key: String,
    authorization: String,
    /// The random source every request uses, as the server's per-thread one.
    pub rng: FastRandom,
}

impl PipelineFixture {
    /// Initializes a data directory and loads the operator from it.
    ///
    /// # Panics
    /// If the temporary directory or the operator cannot be set up.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let demo = init_data_dir(dir.path(), &InitOptions::default())
            .expect("init")
            .demo_client
            .expect("demo client");
        let data = DataDir::new(dir.path());
        let optouts = Arc::new(SqliteOptOutStore::open(&data.optout_db()).expect("optout db"));
        let operator =
            Operator::load(data, Arc::new(OperatorConfig::default()), optouts).expect("load");
        let snapshot = operator.snapshot();
        Self {
            _dir: dir,
            operator,
            snapshot,
            secret: ClientSecret::from_base64(&demo.client_secret).expect("secret"),
            authorization: format!("Bearer {}", demo.api_key),
            api_key: demo.api_key,
            rng: FastRandom::new(),
        }
    }

    /// The demo client's API key.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The loaded snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// A base64 request envelope of `json`, stamped now. The operator keeps no replay cache,
    /// so one body can be sent again while its timestamp is within the skew window.
    pub fn envelope(&mut self, json: &str, nonce: [u8; 8]) -> String {
        let sealed = seal_request(
            &self.secret,
            now_ms(),
            nonce,
            json.as_bytes(),
            &mut self.rng,
        );
        STANDARD.encode(sealed)
    }

    /// Runs one request through `handle`, as the server does after reading the body.
    pub fn call(&mut self, endpoint: Endpoint, body: &[u8]) -> ApiResponse {
        let authorization = (endpoint != Endpoint::TokenRefresh).then_some(&*self.authorization);
        let request = ApiRequest {
            endpoint,
            authorization,
            origin: None,
            binary: false,
            body,
        };
        handle(
            &self.snapshot,
            self.operator.optouts(),
            &request,
            now_ms(),
            &mut self.rng,
        )
    }

    /// A refresh token from a real generate.
    ///
    /// # Panics
    /// If the generate fails.
    pub fn refresh_token(&mut self) -> String {
        let json = &generate_inputs()[0].1;
        let body = self.envelope(json, [2; 8]);
        let generated = self.call(Endpoint::TokenGenerate, body.as_bytes());
        let opened = open_response(&self.secret, &generated.body, Some([2; 8])).expect("open");
        let json: serde_json::Value = serde_json::from_slice(&opened.json).expect("json");
        json["body"]["refresh_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }
}

impl Default for PipelineFixture {
    fn default() -> Self {
        Self::new()
    }
}
