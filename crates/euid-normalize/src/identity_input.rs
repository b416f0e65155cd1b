use core::fmt;

use crate::{
    hash_email, hash_phone, parse_email_hash, parse_phone_hash, IdentityHash, IdentityType,
    NormalizeError,
};

/// One identity as a request carries it: exactly one of the `email`, `email_hash`,
/// `phone` or `phone_hash` fields (`wire.md` §2.4), borrowed from the request.
///
/// `Debug` names the field only; the value is personal data.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum IdentityInput<'a> {
    /// A raw email address, normalized before hashing.
    Email(&'a str),
    /// An `email_hash`: 44-character base64 or 64-character hex.
    EmailHash(&'a str),
    /// A raw phone number, which must already be `+` and 10 to 15 digits.
    Phone(&'a str),
    /// A `phone_hash`: 44-character base64 or 64-character hex.
    PhoneHash(&'a str),
}

impl<'a> IdentityInput<'a> {
    /// The input for a request field name (`email`, `email_hash`, `phone`, `phone_hash`);
    /// `None` for any other name.
    pub fn from_field(field: &str, value: &'a str) -> Option<Self> {
        match field {
            "email" => Some(Self::Email(value)),
            "email_hash" => Some(Self::EmailHash(value)),
            "phone" => Some(Self::Phone(value)),
            "phone_hash" => Some(Self::PhoneHash(value)),
            _ => None,
        }
    }
}

impl IdentityInput<'_> {
    /// The request field this input comes from.
    pub fn field_name(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::EmailHash(_) => "email_hash",
            Self::Phone(_) => "phone",
            Self::PhoneHash(_) => "phone_hash",
        }
    }

    /// Email for `Email` and `EmailHash`, phone for the others.
    pub fn identity_type(&self) -> IdentityType {
        match self {
            Self::Email(_) | Self::EmailHash(_) => IdentityType::Email,
            Self::Phone(_) | Self::PhoneHash(_) => IdentityType::Phone,
        }
    }

    /// Whether the publisher sent a hash rather than the raw value.
    pub fn is_hashed(&self) -> bool {
        matches!(self, Self::EmailHash(_) | Self::PhoneHash(_))
    }

    /// Validates and normalizes the input and returns its identity hash.
    pub fn to_identity_hash(&self) -> Result<IdentityHash, NormalizeError> {
        match *self {
            Self::Email(email) => hash_email(email),
            Self::EmailHash(text) => parse_email_hash(text),
            Self::Phone(phone) => hash_phone(phone),
            Self::PhoneHash(text) => parse_phone_hash(text),
        }
    }
}

impl fmt::Debug for IdentityInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityInput::{}(..)", self.field_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_round_trip_and_types_match() {
        for field in ["email", "email_hash", "phone", "phone_hash"] {
            let input = IdentityInput::from_field(field, "x").unwrap();
            assert_eq!(input.field_name(), field);
            let expected = if field.starts_with("email") {
                IdentityType::Email
            } else {
                IdentityType::Phone
            };
            assert_eq!(input.identity_type(), expected);
            assert_eq!(input.is_hashed(), field.ends_with("_hash"));
        }
        assert_eq!(IdentityInput::from_field("Email", "x"), None);
    }

    #[test]
    fn debug_hides_the_value() {
        let shown = format!("{:?}", IdentityInput::Email("secret.person@example.com"));
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("email"), "{shown}");
    }
}
