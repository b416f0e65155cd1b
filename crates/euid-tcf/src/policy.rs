//! The EUID consent rule: may a token be issued for this TC string?

use alloc::{vec, vec::Vec};

use crate::error::TcfError;
use crate::tc_string::TcString;

/// The EUID operator's consent rule: a vendor and the purposes it needs.
///
/// A purpose counts as granted when it is in the purpose consents and the vendor has consent,
/// or in the purpose legitimate interests and the vendor has legitimate interest (any mix).
/// Nothing else is looked at: not special features, not publisher restrictions, not the policy
/// version (this is what the live operator does; see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPolicy {
    /// The vendor's GVL id (EUID: 21, The Trade Desk).
    pub vendor_id: u16,
    /// Purposes that must all be granted (EUID: 1, 2, 3, 4, 7, 10). Ids outside 1–24 can
    /// never be granted.
    pub purposes: Vec<u8>,
}

impl Default for ConsentPolicy {
    /// Vendor 21, purposes 1, 2, 3, 4, 7, 10.
    fn default() -> Self {
        Self {
            vendor_id: 21,
            purposes: vec![1, 2, 3, 4, 7, 10],
        }
    }
}

/// The outcome of [`ConsentPolicy::evaluate`] on a decodable string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConsentVerdict {
    /// Every required purpose is granted: a token may be issued.
    Sufficient,
    /// Some required purposes are not granted (HTTP 200 `insufficient_user_consent`).
    Insufficient {
        /// The purposes not granted, in the policy's order, without repeats.
        missing_purposes: Vec<u8>,
    },
}

impl ConsentVerdict {
    /// Whether a token may be issued.
    pub fn is_sufficient(&self) -> bool {
        matches!(self, Self::Sufficient)
    }
}

impl ConsentPolicy {
    /// A policy for `vendor_id` requiring `purposes`.
    pub fn new(vendor_id: u16, purposes: impl Into<Vec<u8>>) -> Self {
        Self {
            vendor_id,
            purposes: purposes.into(),
        }
    }

    /// Parses `text` and evaluates it. A decode error means the consent string is invalid
    /// (HTTP 400 `User consent is invalid` in the operator).
    pub fn evaluate(&self, text: &str) -> Result<ConsentVerdict, TcfError> {
        let tc = TcString::parse_probing(text, self.vendor_id)?;
        Ok(self.evaluate_parsed(&tc))
    }

    /// Evaluates an already parsed string.
    pub fn evaluate_parsed(&self, tc: &TcString<'_>) -> ConsentVerdict {
        let mut granted = 0u32;
        if tc.has_vendor_consent(self.vendor_id) {
            granted |= tc.purpose_consent_mask();
        }
        if tc.has_vendor_legitimate_interest(self.vendor_id) {
            granted |= tc.purpose_legitimate_interest_mask();
        }
        let mut missing: Vec<u8> = Vec::new();
        for &p in &self.purposes {
            let is_granted = (1..=24).contains(&p) && granted & (1 << (p - 1)) != 0;
            if !is_granted && !missing.contains(&p) {
                missing.push(p);
            }
        }
        if missing.is_empty() {
            ConsentVerdict::Sufficient
        } else {
            ConsentVerdict::Insufficient {
                missing_purposes: missing,
            }
        }
    }
}
