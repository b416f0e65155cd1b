//! Email normalization as the live operator does it server-side (`wire.md` §2.1).
//!
//! The operator's single pass boils down to: split at the first `@`; drop every space
//! before it; trim trailing spaces after it (leading and inner ones stay); lowercase ASCII
//! only; and for the domain `gmail.com` alone, drop dots and everything from the first `+`
//! in the local part. Every character that matters is ASCII, so working on UTF-8 bytes
//! is exact and leaves Unicode alone. The kept runs are copied as whole slices and the
//! result lowercased in one pass, which is much cheaper than a byte-at-a-time rewrite.

use crate::sha256_sink::LowercasingSha256Sink;
use crate::{IdentityHash, IdentityType, NormalizeError};

/// The only domain with provider-specific rules; `googlemail.com` and subdomains get none.
const GMAIL_DOMAIN: &str = "gmail.com";

/// Normalizes an email, returning a new string.
///
/// One allocation, sized to the input; use [`normalize_email_into`] to reuse a buffer or
/// [`hash_email`] to skip the string entirely.
pub fn normalize_email(email: &str) -> Result<String, NormalizeError> {
    let mut out = String::with_capacity(email.len());
    normalize_email_into(email, &mut out)?;
    Ok(out)
}

/// Normalizes an email into `out`, replacing its contents.
///
/// Allocates only if `out` has less capacity than the normalized form, which is never
/// longer than the input. On error `out` is left empty.
pub fn normalize_email_into(email: &str, out: &mut String) -> Result<(), NormalizeError> {
    out.clear();
    let parts = EmailParts::parse(email)?;
    parts.emit(out);
    out.make_ascii_lowercase();
    Ok(())
}

/// Normalizes an email and returns the SHA-256 of its UTF-8 bytes, without allocating.
pub fn hash_email(email: &str) -> Result<IdentityHash, NormalizeError> {
    let parts = EmailParts::parse(email)?;
    let mut sink = LowercasingSha256Sink::new();
    parts.emit(&mut sink);
    Ok(IdentityHash::from_sha256(
        IdentityType::Email,
        sink.finish(),
    ))
}

/// A validated email, still borrowing the input: the local part to emit (already cut at
/// `+` for gmail) and the trimmed domain, both before lowercasing.
struct EmailParts<'a> {
    local: &'a str,
    domain: &'a str,
    gmail: bool,
}

impl<'a> EmailParts<'a> {
    /// Checks the rules in the order the operator's loop meets them: a second `@` fails
    /// during the scan; the empty domain and then the empty local part fail after it.
    fn parse(email: &'a str) -> Result<Self, NormalizeError> {
        let (local, after_at) = email
            .split_once('@')
            .ok_or(NormalizeError::EmailMissingAt)?;
        if after_at.contains('@') {
            return Err(NormalizeError::EmailSecondAt);
        }
        let domain = after_at.trim_end_matches(' ');
        if domain.is_empty() {
            return Err(NormalizeError::EmailEmptyDomain);
        }
        let gmail = domain.eq_ignore_ascii_case(GMAIL_DOMAIN);
        let local = match (gmail, local.split_once('+')) {
            (true, Some((before_plus, _))) => before_plus,
            _ => local,
        };
        let parts = Self {
            local,
            domain,
            gmail,
        };
        if !parts.local.bytes().any(|b| !parts.drops_from_local(b)) {
            return Err(NormalizeError::EmailEmptyLocalPart);
        }
        Ok(parts)
    }

    fn drops_from_local(&self, byte: u8) -> bool {
        byte == b' ' || (self.gmail && byte == b'.')
    }

    /// Pushes the local part without its dropped bytes, `@`, and the domain; the sink
    /// lowercases.
    fn emit(&self, sink: &mut impl Sink) {
        let mut run_start = 0;
        for (index, byte) in self.local.bytes().enumerate() {
            if self.drops_from_local(byte) {
                // Both ends sit next to an ASCII byte, so they are char boundaries and
                // `get` always succeeds.
                if let Some(run) = self.local.get(run_start..index) {
                    sink.push_str(run);
                }
                run_start = index + 1;
            }
        }
        if let Some(run) = self.local.get(run_start..) {
            sink.push_str(run);
        }
        sink.push_str("@");
        sink.push_str(self.domain);
    }
}

/// Where normalized output goes before lowercasing: a `String` or straight into SHA-256.
trait Sink {
    fn push_str(&mut self, piece: &str);
}

impl Sink for String {
    fn push_str(&mut self, piece: &str) {
        String::push_str(self, piece);
    }
}

impl Sink for LowercasingSha256Sink {
    fn push_str(&mut self, piece: &str) {
        self.push_bytes(piece.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NormalizeError::*;

    #[test]
    fn each_rule_gives_its_own_error() {
        let cases = [
            ("", EmailMissingAt),
            ("plainaddress", EmailMissingAt),
            ("a@b@c.com", EmailSecondAt),
            ("@@", EmailSecondAt),
            ("a@", EmailEmptyDomain),
            ("a@   ", EmailEmptyDomain),
            ("@b.com", EmailEmptyLocalPart),
            ("   @b.com", EmailEmptyLocalPart),
            ("+@gmail.com", EmailEmptyLocalPart),
            (". .+x@GMAIL.com", EmailEmptyLocalPart),
        ];
        for (email, expected) in cases {
            assert_eq!(normalize_email(email), Err(expected), "{email:?}");
            assert_eq!(hash_email(email), Err(expected), "{email:?}");
        }
    }

    #[test]
    fn domain_spaces_leading_and_inner_are_kept() {
        assert_eq!(normalize_email("a@ b .com  ").unwrap(), "a@ b .com");
        // A leading space makes the domain differ from gmail.com, so no gmail rule.
        assert_eq!(
            normalize_email("a.b+c@ gmail.com").unwrap(),
            "a.b+c@ gmail.com"
        );
    }

    #[test]
    fn only_ascii_is_lowercased_and_other_whitespace_stays() {
        assert_eq!(normalize_email("ÉA\tB@X.ÇOM").unwrap(), "Éa\tb@x.Çom");
        // The Kelvin sign is not ASCII 'K', so it must not match or be folded.
        assert_eq!(
            normalize_email("a.b@gmail.co\u{212A}").unwrap(),
            "a.b@gmail.co\u{212A}"
        );
    }

    #[test]
    fn gmail_rule_drops_dots_and_plus_suffix_only_for_gmail() {
        assert_eq!(
            normalize_email(" A.B+c.d@GMail.COM ").unwrap(),
            "ab@gmail.com"
        );
        assert_eq!(
            normalize_email("a.b+c.d@gmail.com.").unwrap(),
            "a.b+c.d@gmail.com."
        );
        assert_eq!(
            normalize_email("+abc@example.com").unwrap(),
            "+abc@example.com"
        );
    }

    #[test]
    fn into_reuses_and_clears_the_buffer() {
        let mut out = String::from("stale contents");
        normalize_email_into("X@Y.Z", &mut out).unwrap();
        assert_eq!(out, "x@y.z");
        assert_eq!(normalize_email_into("no-at", &mut out), Err(EmailMissingAt));
        assert!(out.is_empty());
    }

    #[test]
    fn streaming_hash_matches_hash_of_normalized_string_for_long_input() {
        // Longer than the sink's stack buffer, with transformations across the boundary.
        let local: String = "Ab.C d".repeat(100);
        let email = format!("{local}@{}", "Ex Ample.".repeat(60));
        let normalized = normalize_email(&email).unwrap();
        let hash = hash_email(&email).unwrap();
        assert_eq!(
            hash.as_bytes(),
            crate::sha256_sink::sha256(normalized.as_bytes())
        );
        assert_eq!(hash.identity_type(), IdentityType::Email);
    }
}
