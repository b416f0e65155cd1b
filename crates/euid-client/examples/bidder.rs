//! A bidder: keep the bidstream keys fresh on a background thread and decrypt tokens.
//!
//! ```text
//! cargo run --release -p euid-operator &
//! cargo run -p euid-client --example bidder [TOKEN] [DOMAIN]
//! ```
//!
//! Without a token, one is generated first with the same credentials.

mod common;

use std::sync::Arc;
use std::time::Duration;

use euid_client::{BidstreamClient, PublisherClient, TokenGenerateInput};

const TCF: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";

fn main() -> Result<(), euid_client::ClientError> {
    let (url, api_key, secret) = common::credentials();
    let mut args = std::env::args().skip(1);
    let token = match args.next() {
        Some(token) => token,
        None => {
            let publisher = PublisherClient::new(&url, &api_key, &secret)?;
            let input = TokenGenerateInput::from_email("bidder-demo@example.com")
                .with_transparency_and_consent_string(TCF);
            let response = publisher.generate_token(&input)?;
            let Some(identity) = response.identity() else {
                println!("no identity: {response:?}");
                return Ok(());
            };
            identity.advertising_token.clone()
        }
    };
    let domain = args.next().unwrap_or_else(|| "example.com".to_owned());

    let bidder = Arc::new(BidstreamClient::new(&url, &api_key, &secret)?);
    let refresher = bidder.start_background_refresh(Duration::from_secs(300));
    // The first refresh runs at once; wait for it (a real bidder would start serving).
    for _ in 0..100 {
        if bidder.keys().is_some() {
            break;
        }
        if let Some(err) = refresher.last_error() {
            println!("key refresh failed: {err}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = bidder.decrypt_token_into_raw_uid(&token, Some(&domain));
    println!("status:      {}", out.status.as_sdk_str());
    if let Some(uid) = &out.uid {
        println!("raw UID:     {uid}");
        println!("site id:     {:?}", out.site_id);
        println!(
            "identity:    {:?} {:?}",
            out.identity_scope, out.identity_type
        );
        println!("version:     {:?}", out.advertising_token_version);
        println!("expires (ms): {:?}", out.expiry_ms);
    }
    Ok(())
}
