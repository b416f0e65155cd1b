//! `euid encrypt-request` and `euid decrypt-response`: the seed's two Python scripts.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, BatchedOsRandom, RandomSource as _};
use euid_envelope::ClientSecret;

use crate::cli::{DecryptResponseArgs, EncryptRequestArgs};
use crate::error::{CliError, CliResult};
use crate::io_util::{print_line, read_stdin, utf8};

/// `euid encrypt-request SECRET`: JSON on stdin, base64 envelope on stdout.
pub(crate) fn encrypt_request(
    args: &EncryptRequestArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> CliResult<u8> {
    let secret = parse_client_secret(&args.secret)?;
    let nonce = match &args.nonce {
        Some(hex) => parse_nonce(hex)?,
        None => random_nonce(),
    };
    let input = read_stdin(stdin)?;
    let json = input.trim_ascii();
    check_json_object(json)?;
    let timestamp_ms = args.timestamp_ms.unwrap_or_else(now_ms);
    let envelope = seal_request(&secret, timestamp_ms, nonce, json);
    print_line(stdout, &envelope)?;
    Ok(0)
}

/// `euid decrypt-response SECRET`: an operator response on stdin, its JSON on stdout.
pub(crate) fn decrypt_response(
    args: &DecryptResponseArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> CliResult<u8> {
    let input = read_stdin(stdin)?;
    let json = if args.refresh {
        let key = parse_refresh_response_key(&args.secret)?;
        open_refresh_response(&key, &input)?
    } else {
        let secret = parse_client_secret(&args.secret)?;
        let nonce = args.nonce.as_deref().map(parse_nonce).transpose()?;
        open_response(&secret, &input, nonce)?
    };
    print_line(stdout, utf8(&json, "the decrypted response")?)?;
    Ok(0)
}

/// Seals `json` (possibly empty) into a request envelope, as base64 text.
pub(crate) fn seal_request(
    secret: &ClientSecret,
    timestamp_ms: i64,
    nonce: [u8; 8],
    json: &[u8],
) -> String {
    let mut rng = BatchedOsRandom::new();
    STANDARD.encode(euid_envelope::seal_request(
        secret,
        timestamp_ms,
        nonce,
        json,
        &mut rng,
    ))
}

/// Opens a response envelope (base64 text or raw bytes), or reports the operator's plain-JSON
/// error answer.
pub(crate) fn open_response(
    secret: &ClientSecret,
    body: &[u8],
    nonce: Option<[u8; 8]>,
) -> CliResult<Vec<u8>> {
    let sealed = response_bytes(body)?;
    let opened = euid_envelope::open_response(secret, sealed, nonce)
        .map_err(|e| CliError::failed(format!("cannot decrypt the response: {e}")))?;
    Ok(opened.json)
}

/// Opens a `/v2/token/refresh` response with its `refresh_response_key`.
pub(crate) fn open_refresh_response(key: &AesGcmKey, body: &[u8]) -> CliResult<Vec<u8>> {
    let sealed = response_bytes(body)?;
    euid_envelope::open_refresh_response(key, sealed)
        .map_err(|e| CliError::failed(format!("cannot decrypt the refresh response: {e}")))
}

/// A response body as the operator sent it: base64 text (a trailing newline is fine) or raw
/// bytes, both of which the envelope crate opens. A plain JSON body is the operator's
/// unencrypted error answer: report it rather than fail on base64.
pub(crate) fn response_bytes(body: &[u8]) -> CliResult<&[u8]> {
    let text = body.trim_ascii();
    if text.is_empty() {
        return Err(CliError::failed("the response is empty"));
    }
    if text.first() == Some(&b'{') {
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(text) {
            return Err(CliError::failed(plain_answer(&json)));
        }
    }
    let is_text = text
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    // Trimming could eat bytes of a binary envelope, so only text is trimmed.
    Ok(if is_text { text } else { body })
}

/// What the CLI says of a plain JSON answer: the operator's error shape, its `status` and
/// `message` only. The rest of a body is never echoed: a plain body that is not an error
/// answer (a misrouted or forged one) may hold tokens or keys.
fn plain_answer(json: &serde_json::Value) -> String {
    let field = |name: &str| {
        json.get(name)
            .and_then(serde_json::Value::as_str)
            .map(|v| format!("\"{name}\":{}", serde_json::Value::from(v)))
    };
    let shown: Vec<String> = ["status", "message"]
        .iter()
        .filter_map(|n| field(n))
        .collect();
    if shown.is_empty() {
        return "the operator answered with an unencrypted JSON body that is not an error answer"
            .to_owned();
    }
    let body = crate::io_util::excerpt(format!("{{{}}}", shown.join(",")).as_bytes());
    format!("the operator answered with an error: {body}")
}

/// The client secret, without ever echoing it.
pub(crate) fn parse_client_secret(text: &str) -> CliResult<ClientSecret> {
    // SecretError's text never holds the secret.
    ClientSecret::from_base64(text.trim()).map_err(|e| CliError::invalid(e.to_string()))
}

/// A `refresh_response_key`, without ever echoing it.
pub(crate) fn parse_refresh_response_key(text: &str) -> CliResult<AesGcmKey> {
    AesGcmKey::from_base64(text.trim())
        .map_err(|_| CliError::invalid("the refresh_response_key is not base64 of 32 bytes"))
}

/// An 8-byte nonce written as 16 hex digits.
pub(crate) fn parse_nonce(hex: &str) -> CliResult<[u8; 8]> {
    let hex = hex.trim();
    let digits = hex.as_bytes();
    if digits.len() != 16 {
        return Err(CliError::invalid(
            "the nonce must be 16 hex digits (8 bytes)",
        ));
    }
    let mut nonce = [0u8; 8];
    for (byte, pair) in nonce.iter_mut().zip(digits.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair)
            .ok()
            .and_then(|p| u8::from_str_radix(p, 16).ok());
        *byte =
            pair.ok_or_else(|| CliError::invalid("the nonce must be 16 hex digits (8 bytes)"))?;
    }
    Ok(nonce)
}

/// A fresh random nonce.
pub(crate) fn random_nonce() -> [u8; 8] {
    let mut nonce = [0u8; 8];
    BatchedOsRandom::new().fill(&mut nonce);
    nonce
}

/// The request JSON must be empty (key endpoints) or a JSON object, as the operator demands.
fn check_json_object(json: &[u8]) -> CliResult {
    if json.is_empty() {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(CliError::invalid(
            "stdin must hold a JSON object (or nothing, for the key endpoints)",
        )),
        Err(e) => Err(CliError::invalid(format!("stdin is not valid JSON: {e}"))),
    }
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_answer_shows_its_status_and_message_only() {
        let error = br#"{"status":"client_error","message":"Invalid Identifier"}"#;
        assert_eq!(
            response_bytes(error).unwrap_err().to_string(),
            r#"the operator answered with an error: {"status":"client_error","message":"Invalid Identifier"}"#
        );
        // A plain body with tokens or keys in it: none of them is echoed.
        let leaky = br#"{"status":"success","body":{"refresh_response_key":"P941vVeuyjaDRVnFQ8DPd0AZnW4bPeiJPXER2K9QXcU="}}"#;
        let said = response_bytes(leaky).unwrap_err().to_string();
        assert_eq!(
            said,
            r#"the operator answered with an error: {"status":"success"}"#
        );
        let said = response_bytes(br#"{"refresh_token":"AAAAAB"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            !said.contains("AAAAAB") && said.contains("not an error answer"),
            "{said}"
        );
    }
}
