//! `euid normalize` and `euid hash`.

use std::io::Write;

use crate::cli::{IdentityKind, IdentityValueArgs};
use crate::error::{CliError, CliResult};
use crate::io_util::{print_json, print_line};

/// What `euid normalize` prints, in this order.
#[derive(serde::Serialize)]
struct Normalized {
    normalized: String,
    hash: String,
}

/// `euid normalize email|phone VALUE`: `{"normalized":…,"hash":…}`.
pub(crate) fn normalize(args: &IdentityValueArgs, stdout: &mut dyn Write) -> CliResult<u8> {
    let (normalized, hash) = normalize_and_hash(args)?;
    print_json(stdout, &Normalized { normalized, hash })?;
    Ok(0)
}

/// `euid hash email|phone VALUE`: the base64 hash alone.
pub(crate) fn hash(args: &IdentityValueArgs, stdout: &mut dyn Write) -> CliResult<u8> {
    let (_, hash) = normalize_and_hash(args)?;
    print_line(stdout, &hash)?;
    Ok(0)
}

fn normalize_and_hash(args: &IdentityValueArgs) -> CliResult<(String, String)> {
    // The library's errors say which rule failed and never repeat the value.
    let invalid = |kind: &str, e: euid_normalize::NormalizeError| {
        CliError::invalid(format!("invalid {kind}: {e}"))
    };
    match args.kind {
        IdentityKind::Email => {
            let normalized =
                euid_normalize::normalize_email(&args.value).map_err(|e| invalid("email", e))?;
            let hash = euid_normalize::hash_email(&args.value).map_err(|e| invalid("email", e))?;
            Ok((normalized, hash.to_base64()))
        }
        IdentityKind::Phone => {
            // The operator does not rewrite phone numbers: they must already be E.164.
            let hash =
                euid_normalize::hash_phone(&args.value).map_err(|e| invalid("phone number", e))?;
            Ok((args.value.clone(), hash.to_base64()))
        }
    }
}
