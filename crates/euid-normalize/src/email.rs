//! Email normalization as the live operator does it server-side (`wire.md` §2.1).
//!
//! The operator's single pass boils down to: split at the first `@`; drop every space
//! before it; trim trailing spaces after it (leading and inner ones stay); lowercase ASCII
//! only; and for the domain `gmail.com` alone, drop dots and everything from the first `+`
//! in the local part. Every character that matters is ASCII, so working on UTF-8 bytes
//! is exact and leaves Unicode alone.

use alloc::string::String;

use crate::sha256::sha256;
use crate::{IdentityHash, IdentityType, NormalizeError};

/// The only domain with provider-specific rules; `googlemail.com` and subdomains get none.
const GMAIL_DOMAIN: &str = "gmail.com";

/// Stack buffer for [`hash_email`]: RFC 5321 caps addresses at 254 bytes, so real input
/// never needs more.
const STACK_LEN: usize = 256;
const _: () = assert!(STACK_LEN.is_power_of_two());

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
    parts.emit_str(out);
    out.make_ascii_lowercase();
    Ok(())
}

/// Normalizes an email and returns the SHA-256 of its UTF-8 bytes.
///
/// Normalizes into a stack buffer: no allocation, unless the local part (cut at `+` for
/// gmail), `@` and the trimmed domain add up to more than 256 bytes, which no real
/// address does; that input takes the [`normalize_email`] path.
pub fn hash_email(email: &str) -> Result<IdentityHash, NormalizeError> {
    let parts = EmailParts::parse(email)?;
    let mut stack = [0u8; STACK_LEN];
    let digest = match parts.write_lowercased(&mut stack) {
        Some(normalized) => sha256(normalized),
        None => {
            let mut normalized = String::with_capacity(email.len());
            parts.emit_str(&mut normalized);
            normalized.make_ascii_lowercase();
            sha256(normalized.as_bytes())
        }
    };
    Ok(IdentityHash::from_sha256(IdentityType::Email, digest))
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
    ///
    /// Plain byte loops rather than `split_once`/`contains`: emails are short, and
    /// memchr's set-up costs more than it saves on 20-odd bytes.
    fn parse(email: &'a str) -> Result<Self, NormalizeError> {
        let at = position(email, b'@').ok_or(NormalizeError::EmailMissingAt)?;
        // `at` and `at + 1` border an ASCII byte, so both slices exist.
        let (Some(local), Some(after_at)) = (email.get(..at), email.get(at + 1..)) else {
            return Err(NormalizeError::EmailMissingAt);
        };
        if position(after_at, b'@').is_some() {
            return Err(NormalizeError::EmailSecondAt);
        }
        let domain = after_at.trim_end_matches(' ');
        if domain.is_empty() {
            return Err(NormalizeError::EmailEmptyDomain);
        }
        let gmail = domain.eq_ignore_ascii_case(GMAIL_DOMAIN);
        let local = match gmail.then(|| position(local, b'+')).flatten() {
            // `plus` borders an ASCII byte, so the slice exists.
            Some(plus) => local.get(..plus).unwrap_or(local),
            None => local,
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

    /// Appends the local part without its dropped bytes, `@`, and the domain, copying
    /// the kept runs as whole slices; the caller lowercases.
    fn emit_str(&self, out: &mut String) {
        let mut run_start = 0;
        for (index, byte) in self.local.bytes().enumerate() {
            if self.drops_from_local(byte) {
                // Both ends border an ASCII byte, so they are char boundaries and `get`
                // always succeeds.
                if let Some(run) = self.local.get(run_start..index) {
                    out.push_str(run);
                }
                run_start = index + 1;
            }
        }
        if let Some(run) = self.local.get(run_start..) {
            out.push_str(run);
        }
        out.push('@');
        out.push_str(self.domain);
    }

    /// The same bytes as [`emit_str`](Self::emit_str), already lowercased, written into
    /// `buf`; `None` if they might not fit. On 20-odd bytes a byte loop into a stack
    /// buffer beats a `memcpy` call per run.
    fn write_lowercased<'b>(&self, buf: &'b mut [u8; STACK_LEN]) -> Option<&'b [u8]> {
        // The output is never longer than the local part, '@' and the domain.
        if self.local.len() + 1 + self.domain.len() > STACK_LEN {
            return None;
        }
        let mut len = 0;
        for byte in self.local.bytes().chain([b'@']) {
            if !self.drops_from_local(byte) {
                // `len < STACK_LEN` by the check above; the mask lets the compiler see
                // it, so the loop has no bounds check or panic path.
                buf[len & (STACK_LEN - 1)] = byte;
                len += 1;
            }
        }
        let end = len + self.domain.len();
        buf.get_mut(len..end)?
            .copy_from_slice(self.domain.as_bytes());
        let normalized = buf.get_mut(..end)?;
        normalized.make_ascii_lowercase();
        Some(normalized)
    }
}

fn position(text: &str, needle: u8) -> Option<usize> {
    text.bytes().position(|b| b == needle)
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
    fn stack_and_allocating_paths_agree_around_the_buffer_size() {
        for local_len in 240..=270 {
            for (local_char, domain) in [('A', "Ex.com  "), ('.', "GMail.com")] {
                let local: String = core::iter::repeat_n(local_char, local_len).collect();
                let email = format!("x{local}@{domain}");
                let normalized = normalize_email(&email).unwrap();
                let hash = hash_email(&email).unwrap();
                assert_eq!(
                    hash.as_bytes(),
                    sha256(normalized.as_bytes()),
                    "{local_len}"
                );
            }
        }
    }

    #[test]
    fn streaming_hash_matches_hash_of_normalized_string_for_long_input() {
        // Longer than the stack buffer, so it takes the allocating path.
        let local: String = "Ab.C d".repeat(100);
        let email = format!("{local}@{}", "Ex Ample.".repeat(60));
        let normalized = normalize_email(&email).unwrap();
        let hash = hash_email(&email).unwrap();
        assert_eq!(hash.as_bytes(), sha256(normalized.as_bytes()));
        assert_eq!(hash.identity_type(), IdentityType::Email);
    }
}
