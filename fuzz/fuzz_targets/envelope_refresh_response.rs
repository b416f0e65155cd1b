#![no_main]
//! Refresh responses, sealed with the golden `refresh_response_key` of `testdata/` so the
//! mutated bytes are the response JSON: opened by the envelope crate and by the CLI's
//! `euid decrypt-response --refresh`.
//!
//! Input: one mode byte, then the JSON (or, in raw mode, the whole body).
//! - bits 0–1: 0 sealed, raw bytes; 1 sealed, base64 text; 2 sealed, base64 text and a
//!   newline; 3 raw: the rest is the body.
//!
//! Checked: a sealed response opens to exactly the JSON sealed and the CLI prints it (UTF-8)
//! or fails with exit code 2 (not UTF-8); with another key it is `Decryption`; a raw body
//! the envelope crate refuses fails in the CLI too; no run writes the key to stderr.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{AesGcmKey, BatchedOsRandom};
use euid_envelope::{open_refresh_response, seal_refresh_response, ResponseError};
use euid_fuzz::{key_bytes, reached, run_cli, GOLDEN_REFRESH_RESPONSE_KEY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = AesGcmKey::from_bytes(key_bytes(GOLDEN_REFRESH_RESPONSE_KEY));
    let cli = |body: &[u8]| {
        run_cli(
            &["decrypt-response", "--refresh", GOLDEN_REFRESH_RESPONSE_KEY],
            body,
            &[GOLDEN_REFRESH_RESPONSE_KEY],
        )
    };

    if mode & 3 == 3 {
        let opened = open_refresh_response(&key, rest)
            .or_else(|_| open_refresh_response(&key, rest.trim_ascii()));
        let run = cli(rest);
        if opened.is_ok() {
            reached("a raw refresh response that authenticates");
        } else {
            assert_ne!(
                run.code, 0,
                "the CLI decrypted what the envelope crate refused"
            );
        }
        return;
    }

    let mut rng = BatchedOsRandom::new();
    let sealed = seal_refresh_response(&key, rest, &mut rng);
    let body = match mode & 3 {
        0 => sealed,
        1 => STANDARD.encode(&sealed).into_bytes(),
        _ => format!("{}\n", STANDARD.encode(&sealed)).into_bytes(),
    };
    assert_eq!(
        open_refresh_response(&key, &body).as_deref(),
        Ok(rest),
        "a sealed refresh response opens to other JSON"
    );
    reached("the refresh response JSON");
    let other = AesGcmKey::from_bytes([0x5a; 32]);
    assert_eq!(
        open_refresh_response(&other, &body),
        Err(ResponseError::Decryption)
    );
    let run = cli(&body);
    if std::str::from_utf8(rest).is_ok() {
        let mut printed = rest.to_vec();
        printed.push(b'\n');
        assert_eq!(
            run.code, 0,
            "the CLI refused a sealed response: {}",
            run.stderr
        );
        assert_eq!(run.stdout, printed, "the CLI printed other JSON");
    } else {
        assert_eq!(run.code, euid_cli::EXIT_INVALID, "{}", run.stderr);
    }
});
