//! Everything that can make a TC string undecodable, or a model unencodable.

/// A TC string segment, as identified by its position and segment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Segment {
    /// The core segment (always the first `.`-separated part).
    Core,
    /// The DisclosedVendors segment (segment type 1).
    DisclosedVendors,
    /// The AllowedVendors segment (segment type 2, deprecated out-of-band signal).
    AllowedVendors,
    /// The PublisherTC segment (segment type 3).
    PublisherTc,
}

impl core::fmt::Display for Segment {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Core => "core",
            Self::DisclosedVendors => "disclosed vendors",
            Self::AllowedVendors => "allowed vendors",
            Self::PublisherTc => "publisher TC",
        })
    }
}

/// A list of vendor ids inside a TC string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VendorList {
    /// Vendor consents (core segment).
    VendorConsents,
    /// Vendor legitimate interests (core segment).
    VendorLegitimateInterests,
    /// The vendors of one publisher restriction (core segment).
    PublisherRestriction,
    /// The DisclosedVendors segment.
    DisclosedVendors,
    /// The AllowedVendors segment.
    AllowedVendors,
}

impl core::fmt::Display for VendorList {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::VendorConsents => "vendor consents",
            Self::VendorLegitimateInterests => "vendor legitimate interests",
            Self::PublisherRestriction => "publisher restriction",
            Self::DisclosedVendors => "disclosed vendors",
            Self::AllowedVendors => "allowed vendors",
        })
    }
}

/// Why a TC string could not be decoded, or a [`TcfModel`](crate::TcfModel) not encoded.
///
/// Every decoding variant means the same thing to the EUID operator: the consent string is
/// invalid (HTTP 400 `User consent is invalid`). The variants exist for logs and tools.
/// Positions count `.`-separated parts from 0 (the core) and characters from 0 within a part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TcfError {
    /// The string is empty (or only dots).
    #[error("TC string is empty")]
    Empty,
    /// A `.`-separated part is empty where a segment has to be read (a leading or middle `..`).
    #[error("part {part} of the TC string is empty")]
    EmptySegment {
        /// Index of the empty part.
        part: usize,
    },
    /// A character outside the base64url alphabet (`A–Z a–z 0–9 - _`, plus trailing `=`).
    #[error("part {part} is not base64url: illegal character at {position}")]
    IllegalCharacter {
        /// Index of the part.
        part: usize,
        /// Byte offset of the character within the part.
        position: usize,
    },
    /// `=` padding in the wrong place or of the wrong length.
    #[error("part {part} is not base64url: bad `=` padding")]
    BadPadding {
        /// Index of the part.
        part: usize,
    },
    /// A part whose length leaves a single dangling base64 character (length ≡ 1 mod 4).
    #[error("part {part} is not base64url: a dangling final character")]
    DanglingCharacter {
        /// Index of the part.
        part: usize,
    },
    /// The version field is not 2. Version 1 is a TCF v1.1 string (no longer accepted).
    #[error("TC string version {version} is not supported (only version 2)")]
    UnsupportedVersion {
        /// The 6-bit version found.
        version: u8,
    },
    /// A segment ends before its last field.
    #[error("{segment} segment is truncated: a field needs bits up to {needed}, only {available} present")]
    Truncated {
        /// The truncated segment.
        segment: Segment,
        /// Bit offset just past the field that could not be read.
        needed: usize,
        /// Bits available in the segment (whole decoded bytes × 8).
        available: usize,
    },
    /// A range entry whose start id is greater than its end id.
    #[error("{list}: range start {start} is greater than range end {end}")]
    RangeStartAfterEnd {
        /// Which vendor list.
        list: VendorList,
        /// Start id of the range.
        start: u16,
        /// End id of the range.
        end: u16,
    },
    /// A range entry ending beyond the section's MaxVendorId.
    #[error("{list}: range end {end} is greater than MaxVendorId {max}")]
    RangeEndBeyondMax {
        /// Which vendor list.
        list: VendorList,
        /// End id of the range.
        end: u16,
        /// The section's MaxVendorId.
        max: u16,
    },
    /// Encoding only: a model field holds a value its wire field cannot carry.
    #[error("cannot encode {field}: {reason}")]
    UnencodableField {
        /// The model field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}
