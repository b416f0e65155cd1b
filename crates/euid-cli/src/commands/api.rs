//! `euid generate` and `euid refresh`: whole round trips against an operator, through
//! euid-client's transport and envelopes.

use std::io::{Read, Write};

use euid_client::transport::{HttpResponse, Retry};
use euid_client::EnvelopeRequest;
use euid_crypto::BatchedOsRandom;

use crate::cli::{GenerateArgs, RefreshArgs};
use crate::commands::envelope::{
    now_ms, parse_client_secret, parse_refresh_response_key, response_bytes,
};
use crate::credentials::{self, Credentials};
use crate::error::{CliError, CliResult};
use crate::http::{self, answer_error};
use crate::io_util::{print_line, read_stdin, utf8};

/// `euid generate`: encrypt the identity request, POST it, decrypt and print the answer.
pub(crate) fn generate(args: &GenerateArgs, stdout: &mut dyn Write) -> CliResult<u8> {
    let (url, api_key, secret) = credentials::resolve(&args.connection)?.require_both()?;
    let secret = parse_client_secret(&secret)?;

    // The identity goes out as typed: the operator validates it and answers 400 if it must.
    let (field, value) = identity_field(args)?;
    let mut request = serde_json::Map::new();
    request.insert(field.to_owned(), value.into());
    request.insert("tcf_consent_string".to_owned(), args.tcf.clone().into());
    let json = serde_json::Value::Object(request).to_string();

    let transport = http::connect(&url, Some(&api_key), &args.connection)?;
    let request = EnvelopeRequest::seal(
        &secret,
        "/v2/token/generate",
        json.as_bytes(),
        now_ms(),
        &mut BatchedOsRandom::new(),
    );
    // Not retried: each attempt would mint new tokens.
    let response = transport
        .post_as(
            request.path,
            &request.body,
            request.content_type,
            Retry::Once,
        )
        .map_err(|e| http::transport_error(&e))?;
    let json = request
        .open_json(&secret, response.status, sealed_body(&response)?)
        .map_err(|e| answer_error(e, "cannot decrypt the response"))?;
    print_line(stdout, utf8(&json, "the decrypted response")?)?;
    Ok(0)
}

/// `euid refresh`: POST the refresh token, decrypt the answer with its `refresh_response_key`.
pub(crate) fn refresh(
    args: &RefreshArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> CliResult<u8> {
    let (token, key) = match (&args.refresh_token, &args.refresh_response_key) {
        (Some(token), Some(key)) => (token.trim().to_owned(), key.trim().to_owned()),
        _ => tokens_from_stdin(stdin)?,
    };
    let key = parse_refresh_response_key(&key)?;
    // The API key is optional for refresh; a secret is not needed at all.
    let Credentials { url, api_key, .. } = credentials::resolve(&args.connection)?;
    let transport = http::connect(&url, api_key.as_deref(), &args.connection)?;
    // Not retried: a refresh whose answer was lost may already have superseded the identity.
    let response = transport
        .post(
            "/v2/token/refresh",
            &euid_client::refresh_request_body(&token),
            Retry::Once,
        )
        .map_err(|e| http::transport_error(&e))?;
    let json = euid_client::open_refresh_json(&key, response.status, sealed_body(&response)?)
        .map_err(|e| answer_error(e, "cannot decrypt the refresh response"))?;
    print_line(stdout, utf8(&json, "the decrypted response")?)?;
    Ok(0)
}

/// The body to open: a 200's envelope as `decrypt-response` reads it (trimmed base64 text,
/// or raw bytes; an empty or plain-JSON body is reported). Other statuses are left whole for
/// euid-client to report as the operator's error answer.
fn sealed_body(response: &HttpResponse) -> CliResult<&[u8]> {
    if response.status == 200 {
        response_bytes(&response.body)
    } else {
        Ok(&response.body)
    }
}

fn identity_field(args: &GenerateArgs) -> CliResult<(&'static str, String)> {
    let candidates = [
        ("email", &args.email),
        ("email_hash", &args.email_hash),
        ("phone", &args.phone),
        ("phone_hash", &args.phone_hash),
    ];
    candidates
        .into_iter()
        .find_map(|(name, value)| value.as_ref().map(|v| (name, v.clone())))
        .ok_or_else(|| {
            CliError::invalid("give one of --email, --email-hash, --phone, --phone-hash")
        })
}

/// The refresh token and key from the JSON `euid generate` or `euid refresh` printed: the whole
/// response or just its body.
fn tokens_from_stdin(stdin: &mut dyn Read) -> CliResult<(String, String)> {
    let input = read_stdin(stdin)?;
    if input.trim_ascii().is_empty() {
        return Err(CliError::invalid(
            "no refresh token: give --refresh-token and --refresh-response-key, or pipe in the JSON printed by `euid generate`",
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(&input)
        .map_err(|e| CliError::invalid(format!("stdin is not valid JSON: {e}")))?;
    let body = value.get("body").unwrap_or(&value);
    let field = |name: &str| body.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    match (field("refresh_token"), field("refresh_response_key")) {
        (Some(token), Some(key)) => Ok((token, key)),
        _ => {
            let status = value
                .get("status")
                .and_then(|s| s.as_str())
                .unwrap_or("none");
            Err(CliError::invalid(format!(
                "the JSON on stdin has no refresh_token and refresh_response_key (status: {status})"
            )))
        }
    }
}
