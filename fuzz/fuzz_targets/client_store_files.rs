//! The operator's data-dir and config files other than keys and salts (those are
//! `key_store_json` and `salt_files`): any bytes load or fail with a typed error, never panic.
//!
//! Input: one selector byte (taken modulo 4), then the file.
//! - 0: `clients.json`, split at the first NUL: the file, then an `Authorization` header
//!   value. Records that parse serialize back to the same records; the store loads iff the
//!   records pass the record rules (checked here with the base64 crate); the header goes
//!   through `bearer_key`, `site_id_of_api_key`
//!   and `authenticate`, and an authenticated client is an enabled one of the header's site.
//! - 1: `client_side_keypairs.json`. A store that loads writes itself out in a form that
//!   loads to the same store.
//! - 2: `demo-client.json`. What parses serializes back to the same value.
//! - 3: the operator config (`--config FILE`). A config that loads (and so validates) gives
//!   a token configuration the generator accepts; the keys it reports unknown are the file's.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_cstg::KeypairStore;
use euid_fuzz::reached;
use euid_operator::token_config;
use euid_operator::DemoClient;
use euid_operator::OperatorConfig;
use euid_operator::{bearer_key, site_id_of_api_key, ClientRecord, ClientStore};
use euid_token::TokenGenerator;
use libfuzzer_sys::fuzz_target;

fn clients_file(data: &[u8]) {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (file, header) = data.split_at(split);
    let header = String::from_utf8_lossy(header.get(1..).unwrap_or_default());

    let records = serde_json::from_slice::<Vec<ClientRecord>>(file);
    let store = ClientStore::from_json(file);
    let Ok(records) = records else {
        assert!(store.is_err(), "clients.json loaded without parsing");
        return;
    };
    let again = serde_json::to_vec(&records).expect("records serialize");
    assert_eq!(
        serde_json::from_slice::<Vec<ClientRecord>>(&again).expect("written records parse"),
        records
    );
    // The record rules (`clients.json` in the data-dir docs), checked here with the base64
    // crate rather than the store's own code: a 32-byte secret (trimmed), a 64-byte key
    // hash, a base64 salt.
    let decodes_to = |text: &str, len: Option<usize>| {
        STANDARD
            .decode(text)
            .is_ok_and(|b| len.is_none_or(|n| b.len() == n))
    };
    let valid = records.iter().all(|r| {
        decodes_to(r.secret.trim().trim_end_matches(['\n', '\r']), Some(32))
            && decodes_to(&r.key_hash, Some(64))
            && decodes_to(&r.key_salt, None)
    });
    assert_eq!(
        store.is_ok(),
        valid,
        "clients.json loaded against the record rules, or refused valid records: {:?}",
        store.as_ref().err()
    );
    if store.is_ok() {
        reached("a loaded clients.json");
    }
    let _ = site_id_of_api_key(&header);
    let Ok(store) = store else { return };
    assert_eq!(store.len(), records.len());
    if let Some(key) = bearer_key(&header) {
        let site = site_id_of_api_key(key);
        // Twice: the second answer comes from the authentication cache.
        let first = store
            .authenticate(key)
            .map(|c| (c.site_id, c.key_id.clone()));
        let second = store
            .authenticate(key)
            .map(|c| (c.site_id, c.key_id.clone()));
        assert_eq!(first, second, "cached authentication differs");
        if let Some((client_site, key_id)) = first {
            if let Some(site) = site {
                assert_eq!(
                    client_site, site,
                    "key of site {site} authenticated elsewhere"
                );
            }
            assert!(
                records
                    .iter()
                    .any(|r| r.key_id == key_id && r.site_id == client_site && !r.disabled),
                "authenticated a client that is not an enabled record"
            );
        }
    }
}

fn keypairs_file(data: &[u8]) {
    let Ok(store) = KeypairStore::from_json(data) else {
        return;
    };
    reached("a loaded keypairs file");
    let written = store.to_json_pretty();
    let reloaded = KeypairStore::from_json(written.as_bytes()).expect("a written store loads");
    assert_eq!(reloaded.len(), store.len());
    assert_eq!(
        reloaded.to_json_pretty(),
        written,
        "keypairs round trip differs"
    );
    for keypair in store.iter() {
        assert!(store.get(&keypair.subscription_id).is_some());
    }
}

fn demo_client_file(data: &[u8]) {
    let Ok(demo) = serde_json::from_slice::<DemoClient>(data) else {
        return;
    };
    reached("a parsed demo-client.json");
    let written = serde_json::to_vec(&demo).expect("demo client serializes");
    let reloaded: DemoClient = serde_json::from_slice(&written).expect("written demo parses");
    assert!(reloaded == demo, "demo-client.json round trip differs");
}

fn config_file(data: &[u8]) {
    let Ok(config) = OperatorConfig::from_json(data) else {
        return;
    };
    reached("a valid operator config");
    // What is reported as unknown is a key the file has.
    let file: serde_json::Value = serde_json::from_slice(data).expect("a loaded config is JSON");
    for key in config.unknown_keys() {
        assert!(
            file.get(key).is_some(),
            "unknown key {key:?} is not in the file"
        );
    }
    if let Err(e) = TokenGenerator::new(token_config(&config)) {
        panic!("a valid config gives a token config the generator refuses: {e}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => clients_file(file),
        1 => keypairs_file(file),
        2 => demo_client_file(file),
        _ => config_file(file),
    }
});
