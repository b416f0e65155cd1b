//! Properties of normalization and hash-input parsing, over generated input.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_normalize::{
    hash_email, hash_phone, is_phone_normalized, normalize_email, normalize_email_into,
    parse_email_hash, parse_hash_input, parse_phone_hash, IdentityInput, IdentityType,
    NormalizeError,
};
use proptest::prelude::*;

/// wire.md §2.1 written as the operator's character-by-character state machine: a
/// deliberately different shape from the crate's split-and-slice implementation.
fn operator_model(email: &str) -> Option<String> {
    let (mut full, mut gmail_local, mut domain) = (String::new(), String::new(), String::new());
    let (mut in_domain, mut after_plus, mut pending_spaces) = (false, false, 0);
    for c in email.chars() {
        let c = if c.is_ascii_uppercase() {
            char::from(c as u8 + 32)
        } else {
            c
        };
        if !in_domain {
            match c {
                ' ' => {}
                '@' => in_domain = true,
                '.' => full.push(c),
                '+' => {
                    full.push(c);
                    after_plus = true;
                }
                _ => {
                    full.push(c);
                    if !after_plus {
                        gmail_local.push(c);
                    }
                }
            }
        } else {
            match c {
                '@' => return None,
                ' ' => pending_spaces += 1,
                _ => {
                    domain.extend(std::iter::repeat_n(' ', pending_spaces));
                    pending_spaces = 0;
                    domain.push(c);
                }
            }
        }
    }
    if domain.is_empty() {
        return None;
    }
    let local = if domain == "gmail.com" {
        gmail_local
    } else {
        full
    };
    if local.is_empty() {
        return None;
    }
    Some(format!("{local}@{domain}"))
}

fn sha256_b64(text: &str) -> String {
    STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

/// Strings built from the characters the rules care about, plus any Unicode.
fn email_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![" ", "@", ".", "+", "\t", "gmail.com", "GMail.Com", "é", "😊", "K", "\u{212A}"]).prop_map(str::to_owned),
        4 => "[a-zA-Z0-9]{1,4}",
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// A plain gmail local part and a variant of it the gmail rules must fold back.
fn gmail_variants() -> impl Strategy<Value = (String, String)> {
    (
        "[a-z0-9]{1,12}",
        prop::collection::vec(any::<bool>(), 12),
        prop::collection::vec(any::<bool>(), 12),
        prop::option::of("[a-zA-Z0-9.+ ]{0,8}"),
        prop::sample::select(vec!["gmail.com", "GMAIL.COM", "GMail.Com", "gmail.com   "]),
        " {0,3}",
    )
        .prop_map(|(base, dots, upper, suffix, domain, lead)| {
            let mut local = String::new();
            for (i, c) in base.chars().enumerate() {
                local.push(if upper.get(i) == Some(&true) {
                    c.to_ascii_uppercase()
                } else {
                    c
                });
                if dots.get(i) == Some(&true) {
                    local.push('.');
                }
            }
            if let Some(suffix) = suffix {
                local.push('+');
                local.push_str(&suffix);
            }
            (
                format!("{base}@gmail.com"),
                format!("{lead}{local}@{domain}"),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matches_the_operator_state_machine(email in email_like()) {
        let ours = normalize_email(&email).ok();
        prop_assert_eq!(&ours, &operator_model(&email));
        prop_assert_eq!(hash_email(&email).ok().map(|h| h.to_base64()), ours.as_deref().map(sha256_b64));
    }

    #[test]
    fn normalization_is_idempotent(email in email_like()) {
        if let Ok(once) = normalize_email(&email) {
            prop_assert_eq!(normalize_email(&once), Ok(once.clone()));
            prop_assert_eq!(hash_email(&once), hash_email(&email));
        }
    }

    #[test]
    fn output_has_no_ascii_uppercase_and_no_space_before_at(email in email_like()) {
        let mut reused = String::from("leftover");
        match normalize_email(&email) {
            Ok(normalized) => {
                prop_assert!(!normalized.bytes().any(|b| b.is_ascii_uppercase()), "{:?}", normalized);
                let (local, domain) = normalized.split_once('@').expect("normalized has '@'");
                prop_assert!(!local.contains(' ') && !local.is_empty(), "{:?}", normalized);
                prop_assert!(!domain.is_empty() && !domain.ends_with(' ') && !domain.contains('@'));
                normalize_email_into(&email, &mut reused).expect("same verdict");
                prop_assert_eq!(reused, normalized);
            }
            Err(err) => {
                prop_assert_eq!(normalize_email_into(&email, &mut reused), Err(err));
                prop_assert_eq!(hash_email(&email), Err(err));
            }
        }
    }

    #[test]
    fn gmail_dot_and_plus_variants_hash_the_same((plain, variant) in gmail_variants()) {
        let expected = hash_email(&plain).expect("plain gmail address is valid");
        prop_assert_eq!(hash_email(&variant), Ok(expected), "{:?}", variant);
        prop_assert_eq!(normalize_email(&variant), Ok(plain));
    }

    #[test]
    fn hex_and_base64_of_one_hash_are_one_identity(bytes in any::<[u8; 32]>()) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = STANDARD.encode(bytes);
        for ty in [IdentityType::Email, IdentityType::Phone] {
            let from_b64 = parse_hash_input(ty, &b64).expect("canonical base64");
            prop_assert_eq!(parse_hash_input(ty, &hex), Ok(from_b64));
            prop_assert_eq!(parse_hash_input(ty, &hex.to_ascii_uppercase()), Ok(from_b64));
            prop_assert_eq!(from_b64.as_bytes(), &bytes[..]);
            prop_assert_eq!(from_b64.identity_type(), ty);
            prop_assert_eq!(from_b64.to_base64(), b64.clone());
        }
        prop_assert_eq!(IdentityInput::EmailHash(&hex).to_identity_hash(), parse_email_hash(&b64));
        prop_assert_eq!(IdentityInput::PhoneHash(&b64).to_identity_hash(), parse_phone_hash(&hex));
    }

    #[test]
    fn any_44_char_base64_round_trips(bytes in prop::collection::vec(any::<u8>(), 31..=33)) {
        let b64 = STANDARD.encode(&bytes);
        prop_assert_eq!(b64.len(), 44);
        let hash = parse_email_hash(&b64).expect("44-character base64 is accepted");
        prop_assert_eq!(hash.as_bytes(), &bytes[..]);
        prop_assert_eq!(hash.to_base64(), b64);
    }

    #[test]
    fn other_lengths_are_rejected(text in "\\PC{0,70}") {
        if text.len() != 44 && text.len() != 64 {
            prop_assert_eq!(parse_email_hash(&text), Err(NormalizeError::HashLength { len: text.len() }));
            prop_assert_eq!(parse_phone_hash(&text), Err(NormalizeError::HashLength { len: text.len() }));
        }
    }

    #[test]
    fn well_formed_phones_hash_exactly_as_sent(phone in "\\+[0-9]{10,15}") {
        prop_assert!(is_phone_normalized(&phone));
        let hash = hash_phone(&phone).expect("well-formed phone");
        prop_assert_eq!(hash.to_base64(), sha256_b64(&phone));
        prop_assert_eq!(hash.identity_type(), IdentityType::Phone);
    }
}

/// The phone rule (`+` and 10–15 digits, nothing else) on strings near its edges: well-formed
/// numbers, one character off (length, a missing `+`, a space or letter), and noise. Counted:
/// both verdicts must be common. (From `[+0-9 a-]{0,18}` alone, almost none were valid.)
#[test]
fn phone_verdict_matches_the_rule() {
    use proptest::test_runner::TestRunner;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let (cases, valid) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let strategy = prop_oneof![
        "\\+[0-9]{10,15}",
        "\\+?[0-9]{8,17}",
        "\\+[0-9]{4,8}[ a-]?[0-9]{4,8}",
        "[+0-9 a-]{0,18}",
    ];
    let mut runner = TestRunner::new(ProptestConfig::with_cases(512));
    let result = runner.run(&strategy, |phone| {
        let rest = phone.strip_prefix('+');
        let expected = rest.is_some_and(|digits| {
            digits.chars().all(|c| c.is_ascii_digit()) && (10..=15).contains(&digits.len())
        });
        cases.fetch_add(1, Ordering::Relaxed);
        if expected {
            valid.fetch_add(1, Ordering::Relaxed);
        }
        prop_assert_eq!(is_phone_normalized(&phone), expected, "{:?}", phone);
        prop_assert_eq!(hash_phone(&phone).is_ok(), expected);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (cases, valid) = (cases.into_inner(), valid.into_inner());
    eprintln!("phones: {valid} of {cases} valid");
    assert!(
        valid * 4 > cases && (cases - valid) * 4 > cases,
        "{valid} of {cases} phones valid: one verdict is rarely checked"
    );
}
