#![no_main]
//! Response envelopes, sealed with the golden client secret of `testdata/` so the mutated
//! bytes are the response JSON: opened by the envelope crate and by the CLI's
//! `euid decrypt-response` (its response sniffing: base64 text, raw bytes, the operator's
//! plain-JSON error answer).
//!
//! Input: one mode byte, then the JSON (or, in raw mode, the whole body).
//! - bits 0–1: 0 sealed, raw bytes; 1 sealed, base64 text; 2 sealed, base64 text and a
//!   newline; 3 raw: the rest is the body.
//! - bit 2: open expecting another nonce.
//!
//! Checked: a sealed response opens to the timestamp, nonce and JSON sealed, or with
//! `NonceMismatch` when another nonce is expected; the CLI prints exactly that JSON and a
//! newline when it is UTF-8, and otherwise fails with exit code 2; a raw body the envelope
//! crate refuses fails in the CLI too; no run writes a secret to stderr.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::BatchedOsRandom;
use euid_envelope::{open_response, seal_response, ClientSecret, ResponseError};
use euid_fuzz::{
    hex8, key_bytes, reached, run_cli, GOLDEN_CLIENT_SECRET, GOLDEN_NONCE, GOLDEN_TIMESTAMP_MS,
};
use libfuzzer_sys::fuzz_target;

const OTHER_NONCE: [u8; 8] = [8, 7, 6, 5, 4, 3, 2, 1];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let secret = ClientSecret::from_bytes(key_bytes(GOLDEN_CLIENT_SECRET));
    let expected_nonce = if mode & 4 == 0 {
        GOLDEN_NONCE
    } else {
        OTHER_NONCE
    };
    let nonce_hex = hex8(expected_nonce);
    let cli = |body: &[u8]| {
        run_cli(
            &[
                "decrypt-response",
                GOLDEN_CLIENT_SECRET,
                "--nonce",
                &nonce_hex,
            ],
            body,
            &[GOLDEN_CLIENT_SECRET],
        )
    };

    if mode & 3 == 3 {
        // The CLI trims text bodies on both ends; the envelope crate only at the end.
        let opened = open_response(&secret, rest, Some(expected_nonce))
            .or_else(|_| open_response(&secret, rest.trim_ascii(), Some(expected_nonce)));
        let run = cli(rest);
        if let Ok(opened) = opened {
            reached("a raw response that authenticates");
            if std::str::from_utf8(&opened.json).is_ok() && run.code == 0 {
                let mut printed = opened.json.clone();
                printed.push(b'\n');
                assert_eq!(run.stdout, printed);
            }
        } else {
            assert_ne!(
                run.code, 0,
                "the CLI decrypted what the envelope crate refused"
            );
        }
        return;
    }

    let mut rng = BatchedOsRandom::new();
    let sealed = seal_response(&secret, GOLDEN_TIMESTAMP_MS, GOLDEN_NONCE, rest, &mut rng);
    let body = match mode & 3 {
        0 => sealed,
        1 => STANDARD.encode(&sealed).into_bytes(),
        _ => format!("{}\n", STANDARD.encode(&sealed)).into_bytes(),
    };
    let opened = open_response(&secret, &body, Some(expected_nonce));
    let run = cli(&body);
    if expected_nonce != GOLDEN_NONCE {
        assert_eq!(opened, Err(ResponseError::NonceMismatch));
        assert_eq!(run.code, euid_cli::EXIT_FAILED, "{}", run.stderr);
        return;
    }
    let opened = opened.expect("a sealed response opens");
    reached("the response JSON");
    assert_eq!(opened.timestamp_ms, GOLDEN_TIMESTAMP_MS);
    assert_eq!(opened.nonce, GOLDEN_NONCE);
    assert_eq!(opened.json, rest);
    if std::str::from_utf8(rest).is_ok() {
        let mut printed = rest.to_vec();
        printed.push(b'\n');
        assert_eq!(
            run.code, 0,
            "the CLI refused a sealed response: {}",
            run.stderr
        );
        assert_eq!(run.stdout, printed, "the CLI printed other JSON");
        reached("the CLI's decrypted response");
    } else {
        assert_eq!(run.code, euid_cli::EXIT_INVALID, "{}", run.stderr);
    }
});
