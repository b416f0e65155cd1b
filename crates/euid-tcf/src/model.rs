//! The owned, fully decoded form of a TC string.

use alloc::{borrow::ToOwned, string::String, vec::Vec};

use core::fmt;
use core::ops::RangeInclusive;

/// A set of vendor ids, stored as sorted, disjoint, non-adjacent inclusive ranges.
///
/// Storing ranges keeps a hostile string cheap: a range entry claiming all 65,535 ids costs
/// 4 bytes, not 128 KiB. It behaves (and, with the `serde` feature, serializes) as the sorted
/// list of its ids.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct VendorSet {
    ranges: Vec<(u16, u16)>,
}

impl VendorSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from inclusive ranges in any order, overlapping or not. Empty ranges
    /// (start > end) contribute nothing.
    pub fn from_ranges<I: IntoIterator<Item = RangeInclusive<u16>>>(ranges: I) -> Self {
        let raw = ranges
            .into_iter()
            .filter(|r| r.start() <= r.end())
            .map(|r| (*r.start(), *r.end()))
            .collect();
        Self::from_raw_ranges(raw)
    }

    /// Sorts and merges `(start, end)` pairs with start ≤ end.
    pub(crate) fn from_raw_ranges(mut raw: Vec<(u16, u16)>) -> Self {
        if raw.windows(2).any(|w| w[0].0 > w[1].0) {
            raw.sort_unstable();
        }
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(raw.len());
        for (start, end) in raw {
            match merged.last_mut() {
                Some(last) if u32::from(start) <= u32::from(last.1) + 1 => {
                    last.1 = last.1.max(end);
                }
                _ => merged.push((start, end)),
            }
        }
        if merged.capacity() > merged.len() * 2 + 4 {
            merged.shrink_to_fit();
        }
        Self { ranges: merged }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: u16) -> bool {
        let after = self.ranges.partition_point(|&(start, _)| start <= id);
        after > 0
            && self
                .ranges
                .get(after - 1)
                .is_some_and(|&(_, end)| id <= end)
    }

    /// Number of ids in the set.
    pub fn len(&self) -> usize {
        self.ranges
            .iter()
            .map(|&(s, e)| usize::from(e - s) + 1)
            .sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The highest id, if any.
    pub fn max(&self) -> Option<u16> {
        self.ranges.last().map(|&(_, end)| end)
    }

    /// The ids in ascending order.
    pub fn iter(&self) -> VendorIds<'_> {
        VendorIds {
            ranges: &self.ranges,
            next: self.ranges.first().map(|&(s, _)| u32::from(s)),
            remaining: self.len(),
        }
    }

    /// The maximal runs of consecutive ids, ascending.
    pub fn ranges(&self) -> impl ExactSizeIterator<Item = RangeInclusive<u16>> + '_ {
        self.ranges.iter().map(|&(s, e)| s..=e)
    }

    /// Number of maximal runs (the range entries a range encoding needs).
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// The ids in ascending order, collected.
    pub fn to_vec(&self) -> Vec<u16> {
        self.iter().collect()
    }
}

impl FromIterator<u16> for VendorSet {
    fn from_iter<I: IntoIterator<Item = u16>>(ids: I) -> Self {
        Self::from_raw_ranges(ids.into_iter().map(|id| (id, id)).collect())
    }
}

impl From<&[u16]> for VendorSet {
    fn from(ids: &[u16]) -> Self {
        ids.iter().copied().collect()
    }
}

impl<'a> IntoIterator for &'a VendorSet {
    type Item = u16;
    type IntoIter = VendorIds<'a>;
    fn into_iter(self) -> VendorIds<'a> {
        self.iter()
    }
}

impl fmt::Debug for VendorSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = f.debug_set();
        for &(s, e) in &self.ranges {
            if s == e {
                set.entry(&s);
            } else {
                set.entry(&(s..=e));
            }
        }
        set.finish()
    }
}

/// Ascending iterator over the ids of a [`VendorSet`].
#[derive(Debug, Clone)]
pub struct VendorIds<'a> {
    ranges: &'a [(u16, u16)],
    next: Option<u32>,
    remaining: usize,
}

impl Iterator for VendorIds<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        let id = self.next?;
        let (_, end) = *self.ranges.first()?;
        if id < u32::from(end) {
            self.next = Some(id + 1);
        } else {
            self.ranges = self.ranges.get(1..).unwrap_or_default();
            self.next = self.ranges.first().map(|&(s, _)| u32::from(s));
        }
        self.remaining = self.remaining.saturating_sub(1);
        u16::try_from(id).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for VendorIds<'_> {}

#[cfg(feature = "serde")]
impl serde::Serialize for VendorSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for VendorSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ids = <Vec<u16> as serde::Deserialize>::deserialize(deserializer)?;
        Ok(ids.into_iter().collect())
    }
}

/// One publisher restriction entry of the core segment, in wire order.
///
/// Entries are kept as they appear on the wire: the same purpose and restriction type may
/// appear more than once (IAB's JS decoder merges such entries; the Java one does not).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PublisherRestriction {
    /// Purpose id (6 bits on the wire, 0–63).
    pub purpose_id: u8,
    /// 0 = not allowed, 1 = require consent, 2 = require legitimate interest, 3 = undefined.
    pub restriction_type: u8,
    /// The restricted vendors.
    pub vendors: VendorSet,
}

/// Every field of a TC string, owned. Produced by [`decode`](crate::decode) and
/// [`TcString::decode`](crate::TcString::decode); consumed by [`encode`](crate::encode).
///
/// Purpose, feature and special-feature lists are sorted ids (1-based). Segments absent from
/// the string give empty lists; an absent PublisherTC segment gives `num_custom_purposes: None`.
/// Letters (`consent_language`, `publisher_country_code`) are `'A' + value` for each 6-bit
/// value, as both IAB decoders render them, so values above 25 give characters beyond `Z`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TcfModel {
    /// Encoding version (2).
    pub version: u8,
    /// Created, Unix milliseconds (the wire holds deciseconds).
    pub created: i64,
    /// Last updated, Unix milliseconds.
    pub last_updated: i64,
    /// Consent management platform id.
    pub cmp_id: u16,
    /// CMP version.
    pub cmp_version: u16,
    /// CMP screen number.
    pub consent_screen: u8,
    /// Two-letter language code.
    pub consent_language: String,
    /// Global vendor list version.
    pub vendor_list_version: u16,
    /// TCF policy version (2 for TCF 2.0/2.1, 4 for 2.2, 5 seen from 2026).
    pub policy_version: u8,
    /// IsServiceSpecific.
    pub is_service_specific: bool,
    /// UseNonStandardTexts (UseNonStandardStacks in older texts).
    pub use_non_standard_texts: bool,
    /// Special features opted in (1–12).
    pub special_feature_optins: Vec<u8>,
    /// Purposes consented (1–24).
    pub purpose_consents: Vec<u8>,
    /// Purposes with legitimate-interest transparency (1–24).
    pub purpose_legitimate_interests: Vec<u8>,
    /// PurposeOneTreatment.
    pub purpose_one_treatment: bool,
    /// Two-letter publisher country code.
    pub publisher_country_code: String,
    /// Vendors with consent.
    pub vendor_consents: VendorSet,
    /// Vendors with legitimate interest.
    pub vendor_legitimate_interests: VendorSet,
    /// Publisher restrictions in wire order.
    pub publisher_restrictions: Vec<PublisherRestriction>,
    /// DisclosedVendors segment (empty when absent).
    pub disclosed_vendors: VendorSet,
    /// AllowedVendors segment (empty when absent).
    pub allowed_vendors: VendorSet,
    /// PublisherTC: publisher purpose consents (1–24).
    pub publisher_purpose_consents: Vec<u8>,
    /// PublisherTC: publisher purpose legitimate interests (1–24).
    pub publisher_purpose_legitimate_interests: Vec<u8>,
    /// PublisherTC: number of custom purposes; `None` when the segment is absent.
    pub num_custom_purposes: Option<u8>,
    /// PublisherTC: custom purposes consented (1–`num_custom_purposes`).
    pub publisher_custom_purpose_consents: Vec<u8>,
    /// PublisherTC: custom purposes with legitimate interest.
    pub publisher_custom_purpose_legitimate_interests: Vec<u8>,
}

impl TcfModel {
    /// The JSON keys of a model serialized with the `serde` feature, in the order they are
    /// written: the field names, one each. `euid tcf decode` prints exactly these (a contract
    /// of the CLI); the crate's tests check the serializer writes them and nothing else.
    pub const JSON_KEYS: [&'static str; 26] = [
        "version",
        "created",
        "last_updated",
        "cmp_id",
        "cmp_version",
        "consent_screen",
        "consent_language",
        "vendor_list_version",
        "policy_version",
        "is_service_specific",
        "use_non_standard_texts",
        "special_feature_optins",
        "purpose_consents",
        "purpose_legitimate_interests",
        "purpose_one_treatment",
        "publisher_country_code",
        "vendor_consents",
        "vendor_legitimate_interests",
        "publisher_restrictions",
        "disclosed_vendors",
        "allowed_vendors",
        "publisher_purpose_consents",
        "publisher_purpose_legitimate_interests",
        "num_custom_purposes",
        "publisher_custom_purpose_consents",
        "publisher_custom_purpose_legitimate_interests",
    ];
}

impl Default for TcfModel {
    /// A version-2 model with every field zero or empty, letters `AA`, and no optional segments.
    fn default() -> Self {
        Self {
            version: 2,
            created: 0,
            last_updated: 0,
            cmp_id: 0,
            cmp_version: 0,
            consent_screen: 0,
            consent_language: "AA".to_owned(),
            vendor_list_version: 0,
            policy_version: 0,
            is_service_specific: false,
            use_non_standard_texts: false,
            special_feature_optins: Vec::new(),
            purpose_consents: Vec::new(),
            purpose_legitimate_interests: Vec::new(),
            purpose_one_treatment: false,
            publisher_country_code: "AA".to_owned(),
            vendor_consents: VendorSet::new(),
            vendor_legitimate_interests: VendorSet::new(),
            publisher_restrictions: Vec::new(),
            disclosed_vendors: VendorSet::new(),
            allowed_vendors: VendorSet::new(),
            publisher_purpose_consents: Vec::new(),
            publisher_purpose_legitimate_interests: Vec::new(),
            num_custom_purposes: None,
            publisher_custom_purpose_consents: Vec::new(),
            publisher_custom_purpose_legitimate_interests: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::reversed_empty_ranges)] // an empty range is part of the input under test
    fn vendor_set_merges_and_sorts() {
        let set = VendorSet::from_ranges([10..=12, 1..=3, 4..=4, 11..=20, 30..=29]);
        assert_eq!(set.ranges().collect::<Vec<_>>(), vec![1..=4, 10..=20]);
        assert_eq!(set.len(), 15);
        assert_eq!(set.max(), Some(20));
        assert!(set.contains(4));
        assert!(!set.contains(5));
        assert!(set.contains(20));
        assert!(!set.contains(0));
        assert_eq!(set.iter().len(), 15);
        assert_eq!(
            set.to_vec(),
            vec![1, 2, 3, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
        );
    }

    #[test]
    fn vendor_set_handles_the_extremes() {
        let set = VendorSet::from_ranges([0..=0, 65535..=65535, 1..=65534]);
        assert_eq!(set.range_count(), 1);
        assert_eq!(set.len(), 65536);
        assert!(set.contains(0) && set.contains(65535));
        assert_eq!(set.iter().last(), Some(65535));
        let ids: VendorSet = [5u16, 3, 4, 9, 3].into_iter().collect();
        assert_eq!(format!("{ids:?}"), "{3..=5, 9}");
    }
}
