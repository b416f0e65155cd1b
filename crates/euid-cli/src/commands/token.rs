//! `euid token decrypt TOKEN --keys FILE`.

use std::io::Write;
use std::path::Path;

use euid_client::{ClientError, KeySnapshot, KeysError};
use euid_token::{AdvertisingToken, IdentityType, TokenError, TokenVersion};

use crate::cli::TokenDecryptArgs;
use crate::commands::envelope::now_ms;
use crate::error::{CliError, CliResult};
use crate::io_util::{print_json, read_file};

/// Privacy bit 1: the token was generated client-side (CSTG).
const PRIVACY_BIT_CLIENT_SIDE: u32 = 1 << 1;

/// `euid token decrypt`: every field of the advertising token as JSON.
pub(crate) fn decrypt(args: &TokenDecryptArgs, stdout: &mut dyn Write) -> CliResult<u8> {
    let keys = load_keys(&args.keys)?;
    // The decoder fails tokens that expired before `now`; the earliest time fails none.
    let now = if args.ignore_expiry {
        i64::MIN
    } else {
        now_ms()
    };
    // Key files are SDK key responses (master keyset as 9999999, bidstream keys without a
    // keyset id), so keys are found by id alone; bidders may still meet legacy v2 tokens.
    let token = euid_token::decode_advertising_token_with_legacy(
        &keys.key_store().unscoped(),
        args.token.trim(),
        now,
    )
    .map_err(|e| match e {
        TokenError::Expired { expires_ms } => CliError::failed(format!(
            "the token expired at {expires_ms} (Unix ms); --ignore-expiry decodes it anyway"
        )),
        TokenError::UnknownMasterKey(_) | TokenError::UnknownSiteKey(_) => CliError::failed(
            format!("cannot decrypt the token: {e} in {}", args.keys.display()),
        ),
        other => CliError::failed(format!("cannot decrypt the token: {other}")),
    })?;
    print_json(stdout, &token_json(&token))?;
    Ok(0)
}

/// What `euid token decrypt` prints, in this order.
#[derive(serde::Serialize)]
struct DecodedToken {
    version: u8,
    scope: &'static str,
    identity_type: &'static str,
    /// Standard base64, as the SDKs report it.
    raw_uid: String,
    site_id: i32,
    publisher_id: i64,
    client_key_id: i32,
    site_key_id: i32,
    master_key_id: i32,
    /// Unix ms.
    expires: i64,
    /// Unix ms; absent in v2.
    created: Option<i64>,
    /// Unix ms.
    established: i64,
    /// Unix ms; absent in v2.
    refreshed: Option<i64>,
    privacy_bits: u32,
    is_client_side_generated: bool,
    /// Absent in v2.
    operator: Option<DecodedOperator>,
}

#[derive(serde::Serialize)]
struct DecodedOperator {
    site_id: i32,
    #[serde(rename = "type")]
    operator_type: u8,
    version: i32,
    key_id: i32,
}

fn token_json(token: &AdvertisingToken) -> DecodedToken {
    DecodedToken {
        version: match token.version {
            TokenVersion::V2 => 2,
            TokenVersion::V3 => 3,
            TokenVersion::V4 => 4,
        },
        scope: token.scope.as_str(),
        identity_type: match token.identity_type {
            IdentityType::Email => "email",
            IdentityType::Phone => "phone",
        },
        raw_uid: token.raw_uid.to_base64(),
        site_id: token.site_id,
        publisher_id: token.publisher_id,
        client_key_id: token.client_key_id,
        site_key_id: token.site_key_id,
        master_key_id: token.master_key_id,
        expires: token.expires_ms,
        created: token.created_ms,
        established: token.established_ms,
        refreshed: token.refreshed_ms,
        privacy_bits: token.privacy_bits,
        is_client_side_generated: token.privacy_bits & PRIVACY_BIT_CLIENT_SIDE != 0,
        operator: token.operator.map(|op| DecodedOperator {
            site_id: op.site_id,
            operator_type: op.operator_type,
            version: op.version,
            key_id: op.key_id,
        }),
    }
}

/// The keys of a key response file: the whole `{"status":…,"body":{…}}` or the body alone,
/// read as euid-client's key snapshot (keys are found by id alone, as the SDKs do).
fn load_keys(path: &Path) -> CliResult<KeySnapshot> {
    let bytes = read_file(path)?;
    let shown = path.display();
    // serde's data errors can quote values (secrets here): report the position only.
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::invalid(format!(
            "{shown} is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let body = value.get("body").unwrap_or(&value);
    let Some(keys) = body.get("keys") else {
        return Err(CliError::invalid(format!(
            "{shown} has no \"keys\": expected a /v2/key/bidstream or /v2/key/sharing response"
        )));
    };
    // Only the keys matter for decoding: the answer's other fields (scope, lifetimes,
    // site_data) are left out, so a file is refused only for its keys.
    let keys_only = serde_json::json!({ "keys": keys });
    // KeysError's messages never quote a secret.
    KeySnapshot::from_body(&keys_only).map_err(|e| match e {
        ClientError::Keys(KeysError::BadSecret { key_id }) => CliError::invalid(format!(
            "{shown}: key {key_id} has a secret that is not base64 of 32 bytes"
        )),
        ClientError::Keys(KeysError::Shape(_)) => CliError::invalid(format!(
            "{shown}: every \"keys\" entry needs an integer id, created, activates, expires and a secret string"
        )),
        ClientError::Keys(other) => CliError::invalid(format!("{shown}: {other}")),
        other => CliError::invalid(format!("{shown}: {other}")),
    })
}
