#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// The kind of directly identifying information an identity hash was made from.
///
/// The discriminants are the wire values used in token prefixes and raw UIDs
/// (`wire.md` §3, §4): email = 0, phone = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IdentityType {
    /// An email address (or its hash).
    Email = 0,
    /// An E.164 phone number (or its hash).
    Phone = 1,
}

impl IdentityType {
    /// The wire value: 0 for email, 1 for phone.
    pub const fn wire_value(self) -> u8 {
        self as u8
    }

    /// The type for a wire value, if it is one.
    pub const fn from_wire_value(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Email),
            1 => Some(Self::Phone),
            _ => None,
        }
    }
}
