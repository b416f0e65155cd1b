//! Whatever JSON an authenticated client seals into an envelope (or whatever body it sends
//! to refresh), the operator answers without a 5xx: bad input is always the client's 4xx.
#![no_main]

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::BatchedOsRandom;
use euid_envelope::{seal_request, ClientSecret};
use euid_operator::data_dir::DataDir;
use euid_operator::optout::SqliteOptOutStore;
use euid_operator::server::now_ms;
use euid_operator::{handle, init_data_dir, ApiRequest, Endpoint, InitOptions, Operator, OperatorConfig};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    _dir: std::path::PathBuf,
    operator: Operator,
    auth: String,
    secret: ClientSecret,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("euid-fuzz-operator-{}", std::process::id()));
        let options = InitOptions { salt_bucket_count: 64, ..InitOptions::default() };
        let demo = init_data_dir(&dir, &options).expect("init").demo_client;
        let data = DataDir::new(&dir);
        let optouts = Arc::new(SqliteOptOutStore::open(&data.optout_db()).expect("db"));
        let operator = Operator::load(data, Arc::new(OperatorConfig::default()), optouts).expect("load");
        Fixture {
            _dir: dir,
            operator,
            auth: format!("Bearer {}", demo.api_key),
            secret: ClientSecret::from_base64(&demo.client_secret).expect("secret"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let f = fixture();
    let endpoint = Endpoint::ALL[usize::from(selector) % Endpoint::ALL.len()];
    let mut rng = BatchedOsRandom::new();
    let now = now_ms();
    // Logout would write every input to the database; its parsing is generate's.
    let endpoint = if endpoint == Endpoint::TokenLogout { Endpoint::TokenValidate } else { endpoint };
    let binary = selector & 0x80 != 0 && endpoint != Endpoint::TokenRefresh;
    let body = if endpoint == Endpoint::TokenRefresh {
        rest.to_vec()
    } else {
        let sealed = seal_request(&f.secret, now, [0; 8], rest, &mut rng);
        if binary { sealed } else { STANDARD.encode(sealed).into_bytes() }
    };
    let request = ApiRequest {
        endpoint,
        authorization: Some(&f.auth),
        binary,
        body: &body,
    };
    let response = handle(&f.operator.snapshot(), f.operator.optouts(), &request, now, &mut rng);
    assert!(response.http_status < 500, "HTTP {} for bad input", response.http_status);
});
