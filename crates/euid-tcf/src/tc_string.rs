//! The lazy, zero-copy view of a TC string, validated on parse.

use alloc::vec::Vec;

use crate::bits::{all_alphabet, Bits, Cursor};
use crate::error::{Segment, TcfError, VendorList};
use crate::model::{PublisherRestriction, TcfModel, VendorSet};

// Bit offsets of the fixed part of the core segment (TCF v2 §"Core String").
const VERSION: usize = 0;
const CREATED: usize = 6;
const LAST_UPDATED: usize = 42;
const CMP_ID: usize = 78;
const CMP_VERSION: usize = 90;
const CONSENT_SCREEN: usize = 102;
const CONSENT_LANGUAGE: usize = 108;
const VENDOR_LIST_VERSION: usize = 120;
const POLICY_VERSION: usize = 132;
const IS_SERVICE_SPECIFIC: usize = 138;
const USE_NON_STANDARD_TEXTS: usize = 139;
const SPECIAL_FEATURES: usize = 140;
const PURPOSE_CONSENTS: usize = 152;
const PURPOSE_LEGITIMATE_INTERESTS: usize = 176;
const PURPOSE_ONE_TREATMENT: usize = 200;
const PUBLISHER_CC: usize = 201;
/// End of the fixed part; the vendor consent section starts here.
const CORE_FIXED_END: usize = 213;

// PublisherTC segment offsets (after the 3-bit segment type).
const PUB_PURPOSE_CONSENTS: usize = 3;
const PUB_PURPOSE_LEGITIMATE_INTERESTS: usize = 27;
const NUM_CUSTOM_PURPOSES: usize = 51;
const CUSTOM_PURPOSES: usize = 57;

/// Where a vendor section's payload lives and how it is encoded.
#[derive(Debug, Clone, Copy)]
struct VendorSection {
    max_id: u16,
    /// Range encoding: the number of entries. Bit field: `None`.
    range_entries: Option<u16>,
    /// First bit of the bit field, or of the first range entry.
    payload: usize,
}

/// A segment located and validated, with its vendor section if it has one.
#[derive(Debug, Clone, Copy)]
struct VendorSegment<'a> {
    bits: Bits<'a>,
    section: VendorSection,
}

/// Membership of one vendor, recorded while validating (saves a second scan of the ranges).
#[derive(Debug, Clone, Copy)]
struct Probe {
    vendor: u16,
    consent: bool,
    legitimate_interest: bool,
}

/// A validated TC string, read lazily and without copying the text.
///
/// [`TcString::parse`] checks everything the operator's decoder checks (every field of every
/// segment it reads, every range entry); afterwards every accessor is infallible. Lookups such
/// as [`has_vendor_consent`](Self::has_vendor_consent) read the bit field or scan the range
/// entries in place; nothing is expanded. [`decode`](Self::decode) builds the owned
/// [`TcfModel`].
#[derive(Debug, Clone, Copy)]
pub struct TcString<'a> {
    core: Bits<'a>,
    vendor_consents: VendorSection,
    vendor_legitimate_interests: VendorSection,
    /// Offset of NumPubRestrictions.
    restrictions: usize,
    disclosed_vendors: Option<VendorSegment<'a>>,
    allowed_vendors: Option<VendorSegment<'a>>,
    publisher_tc: Option<Bits<'a>>,
    probe: Option<Probe>,
}

impl<'a> TcString<'a> {
    /// Parses and validates a TC string (version 2; see the crate docs for which edge cases
    /// are accepted). Cost is linear in the length of `text`, whatever its fields claim.
    pub fn parse(text: &'a str) -> Result<Self, TcfError> {
        Self::parse_inner(text, None)
    }

    /// As [`parse`](Self::parse), also recording whether `vendor` has consent and legitimate
    /// interest during the validating pass, so that asking for it afterwards is free.
    pub(crate) fn parse_probing(text: &'a str, vendor: u16) -> Result<Self, TcfError> {
        Self::parse_inner(text, Some(vendor))
    }

    fn parse_inner(text: &'a str, probe_vendor: Option<u16>) -> Result<Self, TcfError> {
        // Like Java's `String.split`, trailing empty parts are dropped: `core.` is valid.
        let text = text.trim_end_matches('.');
        if text.is_empty() {
            return Err(TcfError::Empty);
        }
        // Common case first: one segment, all alphabet, validated in a single pass.
        let (core, rest) = if all_alphabet(text.as_bytes()) {
            (Bits::from_alphabet_only(text, 0)?, "")
        } else {
            let (core_text, rest) = text.split_once('.').unwrap_or((text, ""));
            (Bits::from_part(core_text, 0)?, rest)
        };
        // No parts at all when there is no dot (`"".split('.')` would yield one empty part).
        let parts = rest.split('.').filter(|_| !rest.is_empty());
        if core.bit_len() == 0 {
            return Err(TcfError::EmptySegment { part: 0 });
        }
        let version = core.read(VERSION, 6).unwrap_or(0);
        if version != 2 {
            return Err(TcfError::UnsupportedVersion {
                version: u8::try_from(version).unwrap_or(u8::MAX),
            });
        }
        // Every part must be base64url, even one no field is ever read from.
        for (i, part) in parts.clone().enumerate() {
            Bits::from_part(part, i + 1)?;
        }

        let mut cur = Cursor::new(core, CORE_FIXED_END, Segment::Core);
        if core.bit_len() < CORE_FIXED_END {
            return Err(TcfError::Truncated {
                segment: Segment::Core,
                needed: CORE_FIXED_END,
                available: core.bit_len(),
            });
        }
        let (vendor_consents, consent_hit) =
            read_vendor_section(&mut cur, VendorList::VendorConsents, probe_vendor)?;
        let (vendor_legitimate_interests, li_hit) = read_vendor_section(
            &mut cur,
            VendorList::VendorLegitimateInterests,
            probe_vendor,
        )?;
        let restrictions = cur.pos();
        let count = cur.read(12)?;
        for _ in 0..count {
            cur.read(6 + 2)?;
            read_range_entries(&mut cur, VendorList::PublisherRestriction, None, None, None)?;
        }

        // The operator's decoder looks each optional segment type up by scanning the parts
        // in order and keeps the first match; unknown types (0, 4–7) are skipped. Once all
        // three types are found, later parts are never looked at.
        let mut disclosed_vendors = None;
        let mut allowed_vendors = None;
        let mut publisher_tc = None;
        for (i, part) in parts.enumerate() {
            if disclosed_vendors.is_some() && allowed_vendors.is_some() && publisher_tc.is_some() {
                break;
            }
            let index = i + 1;
            let bits = Bits::from_part(part, index)?;
            let Some(segment_type) = bits.read(0, 3) else {
                return Err(TcfError::EmptySegment { part: index });
            };
            match segment_type {
                1 if disclosed_vendors.is_none() => {
                    disclosed_vendors = Some(read_vendor_segment(
                        bits,
                        Segment::DisclosedVendors,
                        VendorList::DisclosedVendors,
                    )?);
                }
                2 if allowed_vendors.is_none() => {
                    allowed_vendors = Some(read_vendor_segment(
                        bits,
                        Segment::AllowedVendors,
                        VendorList::AllowedVendors,
                    )?);
                }
                3 if publisher_tc.is_none() => {
                    let mut cur = Cursor::new(bits, NUM_CUSTOM_PURPOSES, Segment::PublisherTc);
                    let n = cur.read(6)? as usize;
                    cur.skip(2 * n)?;
                    publisher_tc = Some(bits);
                }
                _ => {}
            }
        }

        Ok(TcString {
            core,
            vendor_consents,
            vendor_legitimate_interests,
            restrictions,
            disclosed_vendors,
            allowed_vendors,
            publisher_tc,
            probe: probe_vendor.map(|vendor| Probe {
                vendor,
                consent: consent_hit,
                legitimate_interest: li_hit,
            }),
        })
    }

    fn core_field(&self, offset: usize, bits: u32) -> u64 {
        // In range: parse checked that the fixed part is present.
        self.core.read(offset, bits).unwrap_or(0)
    }

    /// Encoding version (always 2 for a parsed string).
    pub fn version(&self) -> u8 {
        self.core_field(VERSION, 6) as u8
    }

    /// Created, Unix milliseconds.
    pub fn created(&self) -> i64 {
        self.core_field(CREATED, 36) as i64 * 100
    }

    /// Last updated, Unix milliseconds.
    pub fn last_updated(&self) -> i64 {
        self.core_field(LAST_UPDATED, 36) as i64 * 100
    }

    /// CMP id.
    pub fn cmp_id(&self) -> u16 {
        self.core_field(CMP_ID, 12) as u16
    }

    /// CMP version.
    pub fn cmp_version(&self) -> u16 {
        self.core_field(CMP_VERSION, 12) as u16
    }

    /// Consent screen.
    pub fn consent_screen(&self) -> u8 {
        self.core_field(CONSENT_SCREEN, 6) as u8
    }

    /// Consent language as two characters, `'A' + value` each.
    pub fn consent_language(&self) -> [char; 2] {
        self.letters(CONSENT_LANGUAGE)
    }

    /// Global vendor list version.
    pub fn vendor_list_version(&self) -> u16 {
        self.core_field(VENDOR_LIST_VERSION, 12) as u16
    }

    /// TCF policy version.
    pub fn policy_version(&self) -> u8 {
        self.core_field(POLICY_VERSION, 6) as u8
    }

    /// IsServiceSpecific.
    pub fn is_service_specific(&self) -> bool {
        self.core.bit(IS_SERVICE_SPECIFIC)
    }

    /// UseNonStandardTexts.
    pub fn use_non_standard_texts(&self) -> bool {
        self.core.bit(USE_NON_STANDARD_TEXTS)
    }

    /// Whether special feature `feature` (1–12) is opted in.
    pub fn special_feature_optin(&self, feature: u8) -> bool {
        in_fixed_field(&self.core, SPECIAL_FEATURES, 12, feature)
    }

    /// Whether purpose `purpose` (1–24) has consent.
    pub fn purpose_consent(&self, purpose: u8) -> bool {
        in_fixed_field(&self.core, PURPOSE_CONSENTS, 24, purpose)
    }

    /// Whether purpose `purpose` (1–24) has legitimate-interest transparency.
    pub fn purpose_legitimate_interest(&self, purpose: u8) -> bool {
        in_fixed_field(&self.core, PURPOSE_LEGITIMATE_INTERESTS, 24, purpose)
    }

    /// The 24 purpose consent bits; bit `p - 1` (from the least significant) is purpose `p`.
    pub fn purpose_consent_mask(&self) -> u32 {
        reverse_field(self.core_field(PURPOSE_CONSENTS, 24), 24)
    }

    /// The 24 purpose legitimate-interest bits, laid out as in
    /// [`purpose_consent_mask`](Self::purpose_consent_mask).
    pub fn purpose_legitimate_interest_mask(&self) -> u32 {
        reverse_field(self.core_field(PURPOSE_LEGITIMATE_INTERESTS, 24), 24)
    }

    /// PurposeOneTreatment.
    pub fn purpose_one_treatment(&self) -> bool {
        self.core.bit(PURPOSE_ONE_TREATMENT)
    }

    /// Publisher country code as two characters, `'A' + value` each.
    pub fn publisher_country_code(&self) -> [char; 2] {
        self.letters(PUBLISHER_CC)
    }

    fn letters(&self, offset: usize) -> [char; 2] {
        let v = self.core_field(offset, 12);
        [letter((v >> 6) as u8), letter((v & 0x3F) as u8)]
    }

    /// Whether `vendor` has consent.
    pub fn has_vendor_consent(&self, vendor: u16) -> bool {
        match self.probe {
            Some(p) if p.vendor == vendor => p.consent,
            _ => section_contains(&self.core, &self.vendor_consents, vendor),
        }
    }

    /// Whether `vendor` has legitimate interest.
    pub fn has_vendor_legitimate_interest(&self, vendor: u16) -> bool {
        match self.probe {
            Some(p) if p.vendor == vendor => p.legitimate_interest,
            _ => section_contains(&self.core, &self.vendor_legitimate_interests, vendor),
        }
    }

    /// MaxVendorId of the vendor consent section.
    pub fn vendor_consents_max_id(&self) -> u16 {
        self.vendor_consents.max_id
    }

    /// MaxVendorId of the vendor legitimate-interest section.
    pub fn vendor_legitimate_interests_max_id(&self) -> u16 {
        self.vendor_legitimate_interests.max_id
    }

    /// Whether the vendor consent section is range-encoded (else a bit field).
    pub fn vendor_consents_range_encoded(&self) -> bool {
        self.vendor_consents.range_entries.is_some()
    }

    /// Whether the vendor legitimate-interest section is range-encoded (else a bit field).
    pub fn vendor_legitimate_interests_range_encoded(&self) -> bool {
        self.vendor_legitimate_interests.range_entries.is_some()
    }

    /// Whether a DisclosedVendors segment is present.
    pub fn has_disclosed_vendors_segment(&self) -> bool {
        self.disclosed_vendors.is_some()
    }

    /// Whether `vendor` is in the DisclosedVendors segment (`false` when it is absent).
    pub fn is_vendor_disclosed(&self, vendor: u16) -> bool {
        self.disclosed_vendors
            .is_some_and(|s| section_contains(&s.bits, &s.section, vendor))
    }

    /// Whether `vendor` is in the AllowedVendors segment (`false` when it is absent).
    pub fn is_vendor_allowed(&self, vendor: u16) -> bool {
        self.allowed_vendors
            .is_some_and(|s| section_contains(&s.bits, &s.section, vendor))
    }

    /// Whether a PublisherTC segment is present.
    pub fn has_publisher_tc_segment(&self) -> bool {
        self.publisher_tc.is_some()
    }

    /// The full owned decode: every field of every segment.
    ///
    /// Memory stays proportional to the string's length: vendor lists are kept as ranges.
    pub fn decode(&self) -> TcfModel {
        let fixed = |offset, bits| ids_of_fixed_field(&self.core, offset, bits);
        let mut model = TcfModel {
            version: self.version(),
            created: self.created(),
            last_updated: self.last_updated(),
            cmp_id: self.cmp_id(),
            cmp_version: self.cmp_version(),
            consent_screen: self.consent_screen(),
            consent_language: self.consent_language().iter().collect(),
            vendor_list_version: self.vendor_list_version(),
            policy_version: self.policy_version(),
            is_service_specific: self.is_service_specific(),
            use_non_standard_texts: self.use_non_standard_texts(),
            special_feature_optins: fixed(SPECIAL_FEATURES, 12),
            purpose_consents: fixed(PURPOSE_CONSENTS, 24),
            purpose_legitimate_interests: fixed(PURPOSE_LEGITIMATE_INTERESTS, 24),
            purpose_one_treatment: self.purpose_one_treatment(),
            publisher_country_code: self.publisher_country_code().iter().collect(),
            vendor_consents: section_set(&self.core, &self.vendor_consents),
            vendor_legitimate_interests: section_set(&self.core, &self.vendor_legitimate_interests),
            publisher_restrictions: self.publisher_restrictions(),
            disclosed_vendors: self
                .disclosed_vendors
                .map_or_else(VendorSet::new, |s| section_set(&s.bits, &s.section)),
            allowed_vendors: self
                .allowed_vendors
                .map_or_else(VendorSet::new, |s| section_set(&s.bits, &s.section)),
            ..TcfModel::default()
        };
        if let Some(pub_tc) = self.publisher_tc {
            let n = pub_tc.read(NUM_CUSTOM_PURPOSES, 6).unwrap_or(0) as usize;
            model.publisher_purpose_consents =
                ids_of_fixed_field(&pub_tc, PUB_PURPOSE_CONSENTS, 24);
            model.publisher_purpose_legitimate_interests =
                ids_of_fixed_field(&pub_tc, PUB_PURPOSE_LEGITIMATE_INTERESTS, 24);
            model.num_custom_purposes = Some(n as u8);
            model.publisher_custom_purpose_consents =
                ids_of_fixed_field(&pub_tc, CUSTOM_PURPOSES, n);
            model.publisher_custom_purpose_legitimate_interests =
                ids_of_fixed_field(&pub_tc, CUSTOM_PURPOSES + n, n);
        }
        model
    }

    fn publisher_restrictions(&self) -> Vec<PublisherRestriction> {
        let mut cur = Cursor::new(self.core, self.restrictions, Segment::Core);
        let count = cur.read(12).unwrap_or(0);
        let mut out = Vec::new();
        for _ in 0..count {
            let (Ok(purpose_id), Ok(restriction_type)) = (cur.read(6), cur.read(2)) else {
                break;
            };
            let mut ranges = Vec::new();
            if read_range_entries(
                &mut cur,
                VendorList::PublisherRestriction,
                None,
                None,
                Some(&mut ranges),
            )
            .is_err()
            {
                break;
            }
            out.push(PublisherRestriction {
                purpose_id: purpose_id as u8,
                restriction_type: restriction_type as u8,
                vendors: VendorSet::from_raw_ranges(ranges),
            });
        }
        out
    }
}

fn letter(value: u8) -> char {
    char::from(b'A' + (value & 0x3F))
}

/// Reverses the low `bits` bits so that wire bit 0 (id 1) becomes bit 0 of the result.
fn reverse_field(value: u64, bits: u32) -> u32 {
    ((value as u32).reverse_bits()) >> (32 - bits)
}

fn in_fixed_field(bits: &Bits<'_>, offset: usize, len: usize, id: u8) -> bool {
    let id = usize::from(id);
    (1..=len).contains(&id) && bits.bit(offset + id - 1)
}

fn ids_of_fixed_field(bits: &Bits<'_>, offset: usize, len: usize) -> Vec<u8> {
    (1..=len)
        .filter(|&id| bits.bit(offset + id - 1))
        .map(|id| id as u8)
        .collect()
}

fn read_vendor_segment<'a>(
    bits: Bits<'a>,
    segment: Segment,
    list: VendorList,
) -> Result<VendorSegment<'a>, TcfError> {
    let mut cur = Cursor::new(bits, 3, segment);
    let (section, _) = read_vendor_section(&mut cur, list, None)?;
    Ok(VendorSegment { bits, section })
}

/// Validates a vendor section (MaxVendorId, IsRangeEncoding, payload), leaving the cursor
/// after it. Returns where its payload is, and whether `probe` is in it.
fn read_vendor_section(
    cur: &mut Cursor<'_>,
    list: VendorList,
    probe: Option<u16>,
) -> Result<(VendorSection, bool), TcfError> {
    let max_id = cur.read_u16(16)?;
    let is_range = cur.read_bool()?;
    if is_range {
        let payload = cur.pos() + 12;
        let (entries, hit) = read_range_entries(cur, list, Some(max_id), probe, None)?;
        let section = VendorSection {
            max_id,
            range_entries: Some(entries),
            payload,
        };
        Ok((section, hit))
    } else {
        let payload = cur.pos();
        cur.skip(usize::from(max_id))?;
        let section = VendorSection {
            max_id,
            range_entries: None,
            payload,
        };
        let hit = probe.is_some_and(|p| section_contains(&cur.bits(), &section, p));
        Ok((section, hit))
    }
}

/// Reads NumEntries and the range entries after it, checking start ≤ end and (for vendor
/// sections) end ≤ MaxVendorId. Returns the entry count and whether `probe` is covered;
/// optionally collects the `(start, end)` pairs.
fn read_range_entries(
    cur: &mut Cursor<'_>,
    list: VendorList,
    max_id: Option<u16>,
    probe: Option<u16>,
    mut collect: Option<&mut Vec<(u16, u16)>>,
) -> Result<(u16, bool), TcfError> {
    let entries = cur.read_u16(12)?;
    let mut hit = false;
    for _ in 0..entries {
        let is_range = cur.read_bool()?;
        let start = cur.read_u16(16)?;
        let end = if is_range {
            let end = cur.read_u16(16)?;
            if start > end {
                return Err(TcfError::RangeStartAfterEnd { list, start, end });
            }
            if let Some(max) = max_id {
                if end > max {
                    return Err(TcfError::RangeEndBeyondMax { list, end, max });
                }
            }
            end
        } else {
            // A single id above MaxVendorId is accepted (both IAB decoders do).
            start
        };
        if let Some(p) = probe {
            hit |= start <= p && p <= end;
        }
        if let Some(out) = collect.as_deref_mut() {
            out.push((start, end));
        }
    }
    Ok((entries, hit))
}

/// Membership in a validated section, read in place.
fn section_contains(bits: &Bits<'_>, section: &VendorSection, vendor: u16) -> bool {
    match section.range_entries {
        None => {
            vendor >= 1
                && vendor <= section.max_id
                && bits.bit(section.payload + usize::from(vendor) - 1)
        }
        Some(entries) => {
            let mut cur = Cursor::new(*bits, section.payload, Segment::Core);
            for _ in 0..entries {
                let (Ok(is_range), Ok(start)) = (cur.read_bool(), cur.read_u16(16)) else {
                    return false;
                };
                let end = if is_range {
                    match cur.read_u16(16) {
                        Ok(end) => end,
                        Err(_) => return false,
                    }
                } else {
                    start
                };
                if start <= vendor && vendor <= end {
                    return true;
                }
            }
            false
        }
    }
}

/// The ids of a validated section, as ranges.
fn section_set(bits: &Bits<'_>, section: &VendorSection) -> VendorSet {
    match section.range_entries {
        None => {
            let mut ranges = Vec::new();
            let mut run_start: Option<u16> = None;
            let max = usize::from(section.max_id);
            let mut id = 1usize;
            while id <= max {
                // 32 bits per read keeps large bit fields quick.
                let chunk = (max - id + 1).min(32);
                let word = bits
                    .read(section.payload + id - 1, chunk as u32)
                    .unwrap_or(0);
                for k in 0..chunk {
                    let set = (word >> (chunk - 1 - k)) & 1 == 1;
                    let vid = (id + k) as u16;
                    match (set, run_start) {
                        (true, None) => run_start = Some(vid),
                        (false, Some(s)) => {
                            ranges.push((s, vid - 1));
                            run_start = None;
                        }
                        _ => {}
                    }
                }
                id += chunk;
            }
            if let Some(s) = run_start {
                ranges.push((s, section.max_id));
            }
            VendorSet::from_raw_ranges(ranges)
        }
        Some(_) => {
            let mut cur = Cursor::new(*bits, section.payload - 12, Segment::Core);
            let mut ranges = Vec::new();
            // Validated on parse; an error here cannot happen and would only shorten the list.
            let _ = read_range_entries(
                &mut cur,
                VendorList::VendorConsents,
                None,
                None,
                Some(&mut ranges),
            );
            VendorSet::from_raw_ranges(ranges)
        }
    }
}
