//! Every case in `testdata/normalization.json` (copied from the shared vectors).

use euid_normalize::{
    hash_email, hash_phone, is_phone_normalized, normalize_email, parse_email_hash,
    parse_phone_hash, IdentityInput, IdentityType, NormalizeError,
};
use serde_json::Value;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/normalization.json"
));

fn cases<'a>(vectors: &'a Value, section: &str, verdict: &str) -> &'a [Value] {
    let list = vectors[section][verdict]
        .as_array()
        .unwrap_or_else(|| panic!("{section}.{verdict} missing"));
    assert!(!list.is_empty(), "{section}.{verdict} is empty");
    list
}

fn field<'a>(case: &'a Value, name: &str) -> &'a str {
    case[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} missing in {case}"))
}

fn invalid_inputs<'a>(vectors: &'a Value, section: &str) -> Vec<&'a str> {
    cases(vectors, section, "invalid")
        .iter()
        .map(|case| case.as_str().unwrap_or_else(|| field(case, "input")))
        .collect()
}

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("normalization.json parses")
}

#[test]
fn valid_emails_normalize_and_hash_as_the_vectors_say() {
    let vectors = vectors();
    for case in cases(&vectors, "email", "valid") {
        let input = field(case, "input");
        let expected_hash = field(case, "email_hash");
        assert_eq!(
            normalize_email(input).as_deref(),
            Ok(field(case, "normalized")),
            "{input:?}"
        );
        let hash = hash_email(input).unwrap();
        assert_eq!(hash.to_base64(), expected_hash, "{input:?}");
        assert_eq!(hash.identity_type(), IdentityType::Email);
        assert_eq!(IdentityInput::Email(input).to_identity_hash(), Ok(hash));
        // The published hash, sent as email_hash, is the same identity.
        assert_eq!(parse_email_hash(expected_hash), Ok(hash), "{input:?}");
    }
}

#[test]
fn invalid_emails_are_rejected_with_an_email_error() {
    let vectors = vectors();
    for input in invalid_inputs(&vectors, "email") {
        let err = normalize_email(input).expect_err(input);
        assert!(
            matches!(
                err,
                NormalizeError::EmailMissingAt
                    | NormalizeError::EmailSecondAt
                    | NormalizeError::EmailEmptyDomain
                    | NormalizeError::EmailEmptyLocalPart
            ),
            "{input:?}: {err:?}"
        );
        assert_eq!(hash_email(input), Err(err), "{input:?}");
        assert_eq!(IdentityInput::Email(input).to_identity_hash(), Err(err));
    }
}

#[test]
fn valid_phones_hash_as_the_vectors_say() {
    let vectors = vectors();
    for case in cases(&vectors, "phone", "valid") {
        let input = field(case, "input");
        assert!(is_phone_normalized(input), "{input:?}");
        let hash = hash_phone(input).unwrap();
        assert_eq!(hash.to_base64(), field(case, "phone_hash"), "{input:?}");
        assert_eq!(hash.identity_type(), IdentityType::Phone);
        assert_eq!(IdentityInput::Phone(input).to_identity_hash(), Ok(hash));
    }
}

#[test]
fn invalid_phones_are_rejected_with_a_phone_error() {
    let vectors = vectors();
    for input in invalid_inputs(&vectors, "phone") {
        assert!(!is_phone_normalized(input), "{input:?}");
        let err = hash_phone(input).expect_err(input);
        assert!(
            matches!(
                err,
                NormalizeError::PhoneMissingPlus
                    | NormalizeError::PhoneNonDigit
                    | NormalizeError::PhoneDigitCount { .. }
            ),
            "{input:?}: {err:?}"
        );
    }
}

#[test]
fn valid_hash_inputs_give_the_expected_identity_for_both_types() {
    let vectors = vectors();
    for case in cases(&vectors, "hash_input", "valid") {
        let input = field(case, "input");
        let expected = field(case, "identity_hash_b64");
        let email = parse_email_hash(input).unwrap();
        let phone = parse_phone_hash(input).unwrap();
        assert_eq!(email.to_base64(), expected, "{input:?}");
        assert_eq!(phone.to_base64(), expected, "{input:?}");
        assert_eq!(email.identity_type(), IdentityType::Email);
        assert_eq!(phone.identity_type(), IdentityType::Phone);
        assert_eq!(
            IdentityInput::EmailHash(input).to_identity_hash(),
            Ok(email)
        );
        assert_eq!(
            IdentityInput::PhoneHash(input).to_identity_hash(),
            Ok(phone)
        );
    }
}

#[test]
fn invalid_hash_inputs_are_rejected_with_a_hash_error() {
    let vectors = vectors();
    for input in invalid_inputs(&vectors, "hash_input") {
        for result in [parse_email_hash(input), parse_phone_hash(input)] {
            let err = result.expect_err(input);
            assert!(
                matches!(
                    err,
                    NormalizeError::HashLength { .. }
                        | NormalizeError::HashBase64
                        | NormalizeError::HashHex
                ),
                "{input:?}: {err:?}"
            );
        }
    }
}

/// The operator's test identities (`wire.md` §9): raw value and published hash agree.
#[test]
fn test_identities_from_the_spec() {
    let emails = [
        (
            "validate@example.com",
            "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/c=",
        ),
        (
            "optout@example.com",
            "DYsnJ8r5+cjRDHue98gIGDKvLIMuqAm/RRLODrjqK50=",
        ),
        (
            "refresh-optout@example.com",
            "NaNI8RU0bL1Jpp1jJLC5aJO/lchc6gGhgXQIAwJ7cV4=",
        ),
    ];
    for (email, b64) in emails {
        assert_eq!(hash_email(email).unwrap().to_base64(), b64, "{email}");
    }
    let phones = [
        (
            "+12345678901",
            "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=",
        ),
        (
            "+00000000000",
            "313yQvZOTb0vjjEU7sTO/UWxGPzVppIbCyQEJEnfxLo=",
        ),
        (
            "+00000000002",
            "0VoxsIuk88qt7TnZaTC//C9Vur3pR1zBMIr1cJe7xjE=",
        ),
    ];
    for (phone, b64) in phones {
        assert_eq!(hash_phone(phone).unwrap().to_base64(), b64, "{phone}");
    }
}

#[test]
fn error_messages_never_echo_the_input() {
    let secret = "very.secret.person";
    let inputs = [
        IdentityInput::Email("very.secret.person"),
        IdentityInput::Email("very.secret.person@a@b"),
        IdentityInput::Email("very.secret.person@   "),
        IdentityInput::Phone("very.secret.person"),
        IdentityInput::EmailHash("very.secret.person"),
        IdentityInput::PhoneHash("very.secret.person.very.secret.person.abcdefg"),
    ];
    for input in inputs {
        let err = input.to_identity_hash().unwrap_err();
        let shown = format!("{err} {err:?} {input:?}");
        assert!(!shown.contains(secret), "{shown}");
    }
}
