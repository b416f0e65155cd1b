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

#[cfg(test)]
mod tests {
    use super::IdentityType;

    #[test]
    fn wire_values_round_trip() {
        for ty in [IdentityType::Email, IdentityType::Phone] {
            assert_eq!(IdentityType::from_wire_value(ty.wire_value()), Some(ty));
        }
        assert_eq!(IdentityType::Email.wire_value(), 0);
        assert_eq!(IdentityType::Phone.wire_value(), 1);
        assert_eq!(IdentityType::from_wire_value(2), None);
    }
}
