//! An advertiser: map emails to raw UIDs, then ask which raw UIDs opted out.
//!
//! ```text
//! cargo run --release -p euid-operator &
//! cargo run -p euid-client --example map [EMAIL...]
//! ```

mod common;

use euid_client::{IdentityMapClient, IdentityMapInput};

fn main() -> Result<(), euid_client::ClientError> {
    let (url, api_key, secret) = common::credentials();
    let mut emails: Vec<String> = std::env::args().skip(1).collect();
    if emails.is_empty() {
        emails = vec!["user@example.com".into(), "optout@example.com".into()];
    }
    let client = IdentityMapClient::new(&url, &api_key, &secret)?;
    let out = client.generate_identity_map(&IdentityMapInput::from_emails(&emails)?)?;
    for email in &emails {
        match (out.mapped.get(email), out.unmapped.get(email)) {
            (Some(m), _) => println!("{email}: {} (bucket {})", m.raw_uid, m.bucket_id),
            (None, Some(u)) => println!("{email}: unmapped ({})", u.reason),
            (None, None) => println!("{email}: not in the answer"),
        }
    }
    let uids: Vec<&str> = out.mapped.values().map(|m| m.raw_uid.as_str()).collect();
    let opted_out = client.optout_status(&uids)?;
    println!("opted out since (ms): {opted_out:?}");
    Ok(())
}
