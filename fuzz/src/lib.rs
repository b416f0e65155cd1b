//! Shared by the fuzz targets: the golden vectors' secrets, the reach report the smoke run
//! checks, and the in-memory operator the operator targets drive.
#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use euid_operator::{init_data_dir, InitOptions, Operator, OperatorConfig};
use euid_operator::{DataDir, DemoClient};
use euid_operator::{OptOutError, OptOutRecord, OptOutStore};

/// `testdata/tokens_and_envelopes.json` `client_secret`: the seeds of the envelope targets
/// are sealed with it.
pub const GOLDEN_CLIENT_SECRET: &str = "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo=";
/// `testdata/tokens_and_envelopes.json` `request_envelope.timestamp_ms`: the "now" at which
/// the golden request envelope is in its clock-skew window.
pub const GOLDEN_TIMESTAMP_MS: i64 = 1_672_534_861_000;
/// `testdata/tokens_and_envelopes.json` `request_envelope.nonce_hex`.
pub const GOLDEN_NONCE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
/// `testdata/tokens_and_envelopes.json` `refresh_response.refresh_response_key`.
pub const GOLDEN_REFRESH_RESPONSE_KEY: &str = "P941vVeuyjaDRVnFQ8DPd0AZnW4bPeiJPXER2K9QXcU=";
/// `testdata/tokens_and_envelopes.json` key 164 (a master key).
pub const GOLDEN_MASTER_KEY: &str = "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs=";
/// `testdata/tokens_and_envelopes.json` key 165 (the site key of site 9000).
pub const GOLDEN_SITE_KEY: &str = "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U=";

static REACHED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Records that an input got past the target's first check (decryption, authentication,
/// the outer parse) into the code the target exists for. The first time per `what`, prints
/// `euid-fuzz: reached <what>` on stderr: `scripts/fuzz-smoke.sh` replays the seeds and
/// fails a target that never prints it, so a wrong key cannot make a target blind unseen.
pub fn reached(what: &'static str) {
    let mut seen = REACHED.lock().unwrap_or_else(|e| e.into_inner());
    if !seen.contains(&what) {
        seen.push(what);
        eprintln!("euid-fuzz: reached {what}");
    }
}

/// 32 bytes from standard base64, for the constants above.
pub fn key_bytes(base64_text: &str) -> [u8; 32] {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(base64_text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .expect("a 32-byte base64 key")
}

/// What one `euid` run printed and returned.
pub struct CliRun {
    /// The exit code.
    pub code: u8,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr, as text.
    pub stderr: String,
}

/// Runs the `euid` CLI in process (`euid_cli::run`) and checks what every run must hold:
/// the exit code is a documented one, and a failure writes nothing to stdout and one error
/// line starting `euid: ` to stderr, never one of `secrets`.
pub fn run_cli(args: &[&str], stdin: &[u8], secrets: &[&str]) -> CliRun {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let argv = std::iter::once("euid").chain(args.iter().copied());
    let code = euid_cli::run(argv, &mut &stdin[..], &mut stdout, &mut stderr);
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    assert!(
        [
            euid_cli::EXIT_SUCCESS,
            euid_cli::EXIT_FAILED,
            euid_cli::EXIT_INVALID
        ]
        .contains(&code),
        "undocumented exit code {code}"
    );
    if code != euid_cli::EXIT_SUCCESS {
        assert!(stdout.is_empty(), "a failed run wrote to stdout");
        assert!(
            stderr.starts_with("euid: "),
            "error without 'euid: ': {stderr:?}"
        );
    }
    for secret in secrets {
        assert!(!stderr.contains(secret), "a secret in stderr: {stderr:?}");
    }
    CliRun {
        code,
        stdout,
        stderr,
    }
}

/// The bytes as 16 lowercase hex digits.
pub fn hex8(bytes: [u8; 8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An opt-out store that accepts every opt-out and remembers none, so logout can run millions
/// of times without growing a database.
pub struct DiscardOptOuts {
    /// Whether an advertising id whose first byte is zero counts as opted out (so
    /// `optout/status` reaches its answer path).
    zero_ids_opted_out: bool,
}

impl DiscardOptOuts {
    /// Nothing is ever opted out.
    pub fn none_opted_out() -> Self {
        DiscardOptOuts {
            zero_ids_opted_out: false,
        }
    }

    /// Advertising ids whose first byte is zero count as opted out (since 2023-11-14).
    pub fn zero_ids_opted_out() -> Self {
        DiscardOptOuts {
            zero_ids_opted_out: true,
        }
    }
}

impl OptOutStore for DiscardOptOuts {
    fn record(&self, _record: &OptOutRecord) -> Result<(), OptOutError> {
        Ok(())
    }
    fn opted_out_since(&self, _first_level_hash: &[u8; 32]) -> Result<Option<i64>, OptOutError> {
        Ok(None)
    }
    fn advertising_id_opted_out_since(
        &self,
        advertising_id: &[u8],
    ) -> Result<Option<i64>, OptOutError> {
        let opted_out = self.zero_ids_opted_out && advertising_id.first() == Some(&0);
        Ok(opted_out.then_some(1_700_000_000_000))
    }
    fn available(&self) -> Result<(), OptOutError> {
        Ok(())
    }
    fn len(&self) -> usize {
        0
    }
}

/// A fresh data directory (64 salt buckets) under the temp dir, named `NAME-PID`;
/// `prepare` may add files to it; then the operator loaded from it with `config` and
/// `optouts`, and the directory removed (everything is in memory by then). Returns the
/// operator and the demo client.
pub fn in_memory_operator(
    name: &str,
    config: OperatorConfig,
    optouts: DiscardOptOuts,
    prepare: impl FnOnce(&Path, &DemoClient),
) -> (Operator, DemoClient) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let options = InitOptions {
        salt_bucket_count: 64,
        ..InitOptions::default()
    };
    let demo = init_data_dir(&dir, &options)
        .expect("init")
        .demo_client
        .expect("a demo client");
    prepare(&dir, &demo);
    let operator =
        Operator::load(DataDir::new(&dir), Arc::new(config), Arc::new(optouts)).expect("load");
    let _ = std::fs::remove_dir_all(&dir);
    (operator, demo)
}

/// The operator's side of one exchange: `json` sealed as the answer to `request_body` (its
/// nonce echoed, at `now_ms`), for the client targets, which then open it as the SDK does.
pub fn seal_answer(
    secret: &euid_envelope::ClientSecret,
    request_body: &[u8],
    encoding: euid_envelope::BodyEncoding,
    now_ms: i64,
    json: &[u8],
) -> Vec<u8> {
    let nonce = euid_envelope::open_request(
        request_body,
        encoding,
        secret,
        now_ms,
        &euid_envelope::SkewPolicy::default(),
    )
    .expect("a request sealed in the target opens")
    .nonce;
    let mut rng = euid_crypto::BatchedOsRandom::new();
    euid_envelope::seal_response(secret, now_ms, nonce, json, &mut rng)
}
