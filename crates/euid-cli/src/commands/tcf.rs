//! `euid tcf decode` and `euid tcf check`.

use std::io::Write;

use euid_tcf::{ConsentPolicy, ConsentVerdict};

use crate::error::{CliError, CliResult, EXIT_FAILED};
use crate::io_util::print_json;

/// `euid tcf decode STRING`: every field as one JSON object.
pub(crate) fn decode(text: &str, stdout: &mut dyn Write) -> CliResult<u8> {
    let mut model = euid_tcf::decode(text.trim()).map_err(invalid_string)?;
    // The string may list restrictions in any order; print them in one canonical order
    // (the IAB reference decoder's: by purpose, then restriction type).
    model
        .publisher_restrictions
        .sort_by_key(|r| (r.purpose_id, r.restriction_type));
    print_json(stdout, &model)?;
    Ok(0)
}

/// What `euid tcf check` prints, in this order.
#[derive(serde::Serialize)]
struct Verdict<'a> {
    vendor: u16,
    purposes: &'a [u8],
    sufficient: bool,
    missing_purposes: Vec<u8>,
}

/// `euid tcf check STRING`: the EUID policy verdict; exit 1 when consent is insufficient.
pub(crate) fn check(
    text: &str,
    vendor: Option<u16>,
    purposes: Option<&[u8]>,
    stdout: &mut dyn Write,
) -> CliResult<u8> {
    let mut policy = ConsentPolicy::default();
    if let Some(vendor) = vendor {
        policy.vendor_id = vendor;
    }
    if let Some(purposes) = purposes {
        if let Some(bad) = purposes.iter().find(|p| !(1..=24).contains(*p)) {
            return Err(CliError::invalid(format!(
                "purpose {bad} is out of range: purposes are 1 to 24"
            )));
        }
        policy.purposes = purposes.to_vec();
    }
    let verdict = policy.evaluate(text.trim()).map_err(invalid_string)?;
    let (sufficient, missing) = match verdict {
        ConsentVerdict::Sufficient => (true, Vec::new()),
        ConsentVerdict::Insufficient { missing_purposes } => (false, missing_purposes),
    };
    print_json(
        stdout,
        &Verdict {
            vendor: policy.vendor_id,
            purposes: &policy.purposes,
            sufficient,
            missing_purposes: missing,
        },
    )?;
    Ok(if sufficient { 0 } else { EXIT_FAILED })
}

fn invalid_string(err: euid_tcf::TcfError) -> CliError {
    CliError::invalid(format!("invalid TC string: {err}"))
}
