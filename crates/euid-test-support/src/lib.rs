#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clock;
mod consent;
mod interop;
mod postgres;
mod testdata;

#[cfg(feature = "operator")]
mod api_client;
#[cfg(feature = "operator")]
mod fault_store;
#[cfg(feature = "operator")]
mod http;
#[cfg(feature = "operator")]
pub mod scripted_v3;
#[cfg(feature = "operator")]
mod spawned_operator;
#[cfg(feature = "operator")]
mod test_server;
#[cfg(feature = "tokens")]
mod token_fixtures;

pub use clock::now_ms;
pub use consent::{INSUFFICIENT_TCF, SUFFICIENT_TCF};
pub use interop::{iab_tcf_js_dir, interop_python, run_interop_script};
pub use postgres::{postgres_url, Frozen, PrivateCluster};
pub use testdata::{repo_root, testdata, testdata_path};

#[cfg(feature = "operator")]
pub use api_client::{
    add_client, assert_token_body, cstg_request, fast_reload, read_key_store, refresh,
    refresh_body, ApiClient,
};
#[cfg(feature = "operator")]
pub use fault_store::{RouterServer, SwitchableOptOuts};
#[cfg(feature = "operator")]
pub use http::{http, parse_response, try_http, HttpResponse};
#[cfg(feature = "operator")]
pub use spawned_operator::SpawnedOperator;
#[cfg(feature = "operator")]
pub use test_server::TestServer;
#[cfg(feature = "tokens")]
pub use token_fixtures::{key, key_store, keyset, salt_store, CountingRandom, SITE, SITE_KEYSET};
