#![no_main]
//! euid-client's mapper answers: `/v2/identity/map`, `/v3/identity/map` (binary envelope)
//! and `/v2/optout/status`, sealed under the golden client secret with the nonce of the
//! request `EnvelopeRequest` made, so mutated bytes reach the body readers behind the crypto.
//!
//! Input: one mode byte, then the answer's JSON. Mode % 3: 0 v2 map, 1 v3 map, 2 opt-out
//! status.
//!
//! Checked: the sealed answer always opens; a body is read or refused as
//! `InvalidResponse` / `UnexpectedStatus`, never anything else; v2: every answered input is
//! one that was sent (two spellings of one email both get its answer); v3: one result per
//! input, in input order, emails first; opt-out status: no more raw UIDs than the body lists.

use euid_client::{
    parse_optout_status, ClientError, ClientSecret, EnvelopeRequest, IdentityMapInput,
    IdentityMapV3Input, ResponseJson,
};
use euid_crypto::BatchedOsRandom;
use euid_envelope::BodyEncoding;
use euid_fuzz::{key_bytes, reached, seal_answer, GOLDEN_CLIENT_SECRET, GOLDEN_TIMESTAMP_MS};
use libfuzzer_sys::fuzz_target;

const EMAILS: [&str; 3] = ["user@example.com", "User@Example.com", "optout@example.com"];
const PHONES: [&str; 1] = ["+12345678901"];

/// Seals `json` as the answer to a request for `path` and opens it as the client does.
fn answer(path: &'static str, binary: bool, json: &[u8]) -> Result<ResponseJson, ClientError> {
    let secret = ClientSecret::from_bytes(key_bytes(GOLDEN_CLIENT_SECRET));
    let mut rng = BatchedOsRandom::new();
    let now = GOLDEN_TIMESTAMP_MS;
    let (request, encoding) = if binary {
        let r = EnvelopeRequest::seal_binary(&secret, path, b"{}", now, &mut rng);
        (r, BodyEncoding::Binary)
    } else {
        let r = EnvelopeRequest::seal(&secret, path, b"{}", now, &mut rng);
        (r, BodyEncoding::Base64Text)
    };
    let sealed = seal_answer(&secret, &request.body, encoding, now, json);
    let opened = request.open(&secret, 200, &sealed);
    if let Err(e) = &opened {
        assert!(
            matches!(e, ClientError::InvalidResponse(_)),
            "a sealed answer did not open: {e:?}"
        );
    }
    opened
}

fn allowed(err: &ClientError) -> bool {
    matches!(
        err,
        ClientError::InvalidResponse(_) | ClientError::UnexpectedStatus(_)
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, json)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let Ok(response) = answer("/v2/identity/map", false, json) else {
                return;
            };
            reached("the v2 map answer's JSON");
            let input = IdentityMapInput::from_emails(&EMAILS).expect("valid emails");
            match response
                .into_success_body()
                .and_then(|body| input.parse_response(&body))
            {
                Ok(out) => {
                    reached("a v2 map answer read");
                    for given in out.mapped.keys().chain(out.unmapped.keys()) {
                        assert!(EMAILS.contains(&given.as_str()), "{given} was not sent");
                    }
                    // The first two spellings hash alike: they share every answer.
                    assert_eq!(
                        out.mapped.get(EMAILS[0]),
                        out.mapped.get(EMAILS[1]),
                        "spellings of one email answered differently"
                    );
                }
                Err(e) => assert!(allowed(&e), "{e:?}"),
            }
        }
        1 => {
            let Ok(response) = answer("/v3/identity/map", true, json) else {
                return;
            };
            reached("the v3 map answer's JSON");
            let mut input = IdentityMapV3Input::new();
            for phone in PHONES {
                input.push_phone(phone).expect("a valid phone");
            }
            for email in EMAILS {
                input.push_email(email).expect("a valid email");
            }
            match response
                .into_success_body()
                .and_then(|body| input.parse_response(&body))
            {
                Ok(results) => {
                    reached("a v3 map answer read");
                    let order: Vec<&str> = results.iter().map(|r| r.input.as_str()).collect();
                    let expected: Vec<&str> = EMAILS.iter().chain(&PHONES).copied().collect();
                    assert_eq!(order, expected);
                }
                Err(e) => assert!(allowed(&e), "{e:?}"),
            }
        }
        _ => {
            let Ok(response) = answer("/v2/optout/status", false, json) else {
                return;
            };
            reached("the opt-out status answer's JSON");
            let listed = response.body["opted_out"].as_array().cloned();
            match response
                .into_success_body()
                .and_then(|body| parse_optout_status(&body))
            {
                Ok(opted_out) => {
                    reached("an opt-out status answer read");
                    let listed = listed.expect("a read answer lists opted_out");
                    // Every answer read is one the operator listed, with its time.
                    for (uid, since) in &opted_out {
                        assert!(
                            listed.iter().any(|e| e["advertising_id"] == uid.as_str()
                                && e["opted_out_since"].as_i64() == Some(*since)),
                            "{uid} {since} not in {listed:?}"
                        );
                    }
                }
                Err(e) => assert!(allowed(&e), "{e:?}"),
            }
        }
    }
});
