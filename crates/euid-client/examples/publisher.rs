//! A publisher: generate an identity, then refresh it, printing both as the browser SDK
//! stores them.
//!
//! ```text
//! cargo run --release -p euid-operator &
//! cargo run -p euid-client --example publisher [EMAIL]
//! ```

mod common;

use euid_client::{PublisherClient, TokenGenerateInput, TokenResponse};

/// A TCF string with the consent EUID needs (vendor 21, purposes 1, 3, 4, LI 2, 7, 10).
const TCF: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";

fn main() -> Result<(), euid_client::ClientError> {
    let (url, api_key, secret) = common::credentials();
    let email = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "user@example.com".to_owned());
    let client = PublisherClient::new(&url, &api_key, &secret)?;
    let input = TokenGenerateInput::from_email(email).with_transparency_and_consent_string(TCF);
    let identity = match client.generate_token(&input)? {
        TokenResponse::Success(identity) => identity,
        other => {
            println!("no identity: {other:?}");
            return Ok(());
        }
    };
    println!("generated: {}", identity.to_json_string());
    match client.refresh_token(&identity)? {
        TokenResponse::Success(refreshed) => println!("refreshed: {}", refreshed.to_json_string()),
        other => println!("refresh: {other:?}"),
    }
    Ok(())
}
