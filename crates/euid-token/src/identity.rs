//! Identity scope, raw UIDs, and the derivation identity hash → first-level hash → raw UID
//! (`wire.md` §3).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::raw_uid_v4::{v4_metadata, v4_raw_uid, IdentityEnvironment, RAW_UID_V4_LEN};
use crate::salts::{SaltBucketRef, SaltKeyRef, SaltStore};
use crate::IdentityType;

/// Which family of identifiers a token or raw UID belongs to (bit 4 of the prefix bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IdentityScope {
    /// Unified ID 2.0.
    Uid2 = 0,
    /// European Unified ID.
    Euid = 1,
}

impl IdentityScope {
    /// The wire value: 0 for UID2, 1 for EUID.
    pub const fn wire_value(self) -> u8 {
        self as u8
    }

    /// The scope for a wire value, if it is one.
    pub const fn from_wire_value(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Uid2),
            1 => Some(Self::Euid),
            _ => None,
        }
    }

    /// The name key responses use in `identity_scope`: `"UID2"` or `"EUID"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Uid2 => "UID2",
            Self::Euid => "EUID",
        }
    }
}

/// The prefix byte of a v3 raw UID: `(scope << 4) | (type << 2)`.
pub(crate) const fn raw_uid_prefix(scope: IdentityScope, identity_type: IdentityType) -> u8 {
    (scope.wire_value() << 4) | (identity_type.wire_value() << 2)
}

/// The prefix byte of tokens: the raw UID prefix with the low two bits set.
pub(crate) const fn token_prefix(scope: IdentityScope, identity_type: IdentityType) -> u8 {
    raw_uid_prefix(scope, identity_type) | 3
}

/// Length of a v2 raw UID (the bare SHA-256).
pub const RAW_UID_V2_LEN: usize = 32;
/// Length of a v3 raw UID (prefix byte + SHA-256).
pub const RAW_UID_V3_LEN: usize = 33;

/// The form of a raw UID (`wire.md` §3 item 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawUidVersion {
    /// 32 bytes: the bare SHA-256 of the first-level hash and the bucket salt.
    V2,
    /// 33 bytes: `(scope << 4) | (type << 2)`, then the v2 hash.
    V3,
    /// 33 bytes: the first-level hash encrypted under the bucket's key material; bit 5 of the
    /// first byte is set.
    V4,
}

impl RawUidVersion {
    /// `"v2"`, `"v3"` or `"v4"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2 => "v2",
            Self::V3 => "v3",
            Self::V4 => "v4",
        }
    }
}

/// A raw UID (advertising id): 33 bytes (v3 with the scope/type prefix, or v4 from key
/// material), or the legacy bare 32 (v2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawUid {
    bytes: [u8; RAW_UID_V3_LEN],
    len: u8,
}

impl RawUid {
    /// A raw UID from its bytes, which must be 32 or 33 long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != RAW_UID_V2_LEN && bytes.len() != RAW_UID_V3_LEN {
            return None;
        }
        let mut out = [0u8; RAW_UID_V3_LEN];
        out[..bytes.len()].copy_from_slice(bytes);
        Some(Self {
            bytes: out,
            len: bytes.len() as u8,
        })
    }

    /// A raw UID from standard base64 (the form key responses, identity map and the SDKs use).
    pub fn from_base64(text: &str) -> Option<Self> {
        let mut buf = [0u8; 48];
        let n = STANDARD.decode_slice(text, &mut buf).ok()?;
        Self::from_slice(buf.get(..n)?)
    }

    /// The raw bytes (32 or 33).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Standard base64 with padding, as the SDKs report it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.as_bytes())
    }

    /// The form of the raw UID: v2 for 32 bytes; for 33, v4 when bit 5 of the first byte
    /// (the v4 version bit) is set, else v3.
    pub fn version(&self) -> RawUidVersion {
        if usize::from(self.len) == RAW_UID_V2_LEN {
            RawUidVersion::V2
        } else if self.bytes[0] & 0x20 != 0 {
            RawUidVersion::V4
        } else {
            RawUidVersion::V3
        }
    }

    /// Scope and type from bits 2–4 of the first byte of a 33-byte raw UID (the live operator's
    /// key-material "v4" raw UIDs also set bits 5–7 there); `None` for the 32-byte form or an
    /// unknown type.
    pub fn scope_and_type(&self) -> Option<(IdentityScope, IdentityType)> {
        if usize::from(self.len) != RAW_UID_V3_LEN {
            return None;
        }
        split_prefix(self.bytes[0] & 0x1F)
    }
}

/// Scope and type from a raw UID or token prefix byte, ignoring the low two bits; `None`
/// when bits 5–7 are set or the type is unknown.
pub(crate) fn split_prefix(byte: u8) -> Option<(IdentityScope, IdentityType)> {
    if byte >> 5 != 0 {
        return None;
    }
    let scope = IdentityScope::from_wire_value((byte >> 4) & 1)?;
    let identity_type = IdentityType::from_wire_value((byte >> 2) & 3)?;
    Some((scope, identity_type))
}

impl std::fmt::Debug for RawUid {
    // A raw UID is a pseudonymous identifier, not a secret; shown as the SDKs show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawUid({})", self.to_base64())
    }
}

/// SHA-256 over the ASCII of `base64(input)` followed by `salt`, without heap allocation
/// for inputs up to 48 bytes. `sha2` rather than ring: both use SHA-NI, but ring's per-call
/// set-up costs more on these two-block messages (see euid-normalize's sha256 module).
fn sha256_of_base64_then(input: &[u8], salt: &str) -> [u8; 32] {
    let mut ctx = Sha256::new();
    let mut buf = [0u8; 64];
    match euid_base64::encode_to_slice(input, euid_base64::Alphabet::Standard, &mut buf) {
        Some(n) => ctx.update(&buf[..n]),
        None => ctx.update(STANDARD.encode(input).as_bytes()),
    }
    ctx.update(salt.as_bytes());
    ctx.finalize().into()
}

/// The first-level hash: SHA-256 of `base64(identity_hash)` then the first-level salt text.
///
/// `identity_hash` is normally 32 bytes, but the live operator accepts `email_hash` inputs that
/// decode to 31 or 33 bytes, so any length is taken.
pub fn first_level_hash(identity_hash: &[u8], salts: &SaltStore) -> [u8; 32] {
    sha256_of_base64_then(identity_hash, salts.first_level_salt())
}

/// A v3 raw UID (with the prefix byte) or a v2 one (without) from a salt.
pub(crate) fn salted_raw_uid(
    first_level_hash: &[u8; 32],
    salt: &str,
    prefix: Option<u8>,
) -> RawUid {
    let hash = sha256_of_base64_then(first_level_hash, salt);
    let mut bytes = [0u8; RAW_UID_V3_LEN];
    match prefix {
        Some(prefix) => {
            bytes[0] = prefix;
            bytes[1..].copy_from_slice(&hash);
            RawUid {
                bytes,
                len: RAW_UID_V3_LEN as u8,
            }
        }
        None => {
            bytes[..RAW_UID_V2_LEN].copy_from_slice(&hash);
            RawUid {
                bytes,
                len: RAW_UID_V2_LEN as u8,
            }
        }
    }
}

/// A v4 raw UID from key material.
pub(crate) fn keyed_raw_uid(
    first_level_hash: &[u8; 32],
    key: SaltKeyRef<'_>,
    scope: IdentityScope,
    identity_type: IdentityType,
    environment: IdentityEnvironment,
) -> RawUid {
    let metadata = v4_metadata(environment, raw_uid_prefix(scope, identity_type));
    let bytes: [u8; RAW_UID_V4_LEN] = v4_raw_uid(
        metadata,
        first_level_hash,
        key.id(),
        key.key_bytes(),
        key.salt(),
    );
    RawUid {
        bytes,
        len: RAW_UID_V4_LEN as u8,
    }
}

/// The current raw UID of a bucket: from its salt (v3 when `v3_prefix`, else v2) or, for a
/// bucket without a current salt, v4 from its key material.
pub(crate) fn bucket_raw_uid(
    first_level_hash: &[u8; 32],
    bucket: SaltBucketRef<'_>,
    scope: IdentityScope,
    identity_type: IdentityType,
    identity_v3: bool,
    environment: IdentityEnvironment,
) -> RawUid {
    match bucket.current_key() {
        Some(key) if !bucket.has_current_salt() => {
            keyed_raw_uid(first_level_hash, key, scope, identity_type, environment)
        }
        _ => salted_raw_uid(
            first_level_hash,
            bucket.current_salt(),
            identity_v3.then(|| raw_uid_prefix(scope, identity_type)),
        ),
    }
}

/// The 33-byte raw UID: `(scope << 4) | (type << 2)` then SHA-256 of `base64(FLH)` and the
/// current salt of the FLH's bucket.
///
/// For a bucket with key material instead of a current salt this is the v4 raw UID in the
/// `test` environment (the live default); [`crate::IdentityConfig::raw_uid`] chooses the
/// version and environment as the live operator's config does.
pub fn raw_uid(
    first_level_hash: &[u8; 32],
    scope: IdentityScope,
    identity_type: IdentityType,
    salts: &SaltStore,
) -> RawUid {
    bucket_raw_uid(
        first_level_hash,
        salts.bucket_for(first_level_hash),
        scope,
        identity_type,
        true,
        IdentityEnvironment::Test,
    )
}

/// The legacy 32-byte raw UID (the live operator's default while `identity_v3` is off).
///
/// For a bucket with key material instead of a current salt this is the 33-byte v4 raw UID
/// in the `test` environment, with the scope and type of an EUID email (this function has
/// neither); use [`crate::IdentityConfig::raw_uid`] for those buckets.
pub fn raw_uid_v2(first_level_hash: &[u8; 32], salts: &SaltStore) -> RawUid {
    bucket_raw_uid(
        first_level_hash,
        salts.bucket_for(first_level_hash),
        IdentityScope::Euid,
        IdentityType::Email,
        false,
        IdentityEnvironment::Test,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salts::{bucket_index, SaltBucket};

    fn sha256(data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
        out
    }

    #[test]
    fn derivation_follows_the_spec_text() {
        let salts = SaltStore::new(
            "first-level".into(),
            (0..16)
                .map(|i| SaltBucket::new(i, 0, format!("bucket-salt-{i}")))
                .collect(),
        )
        .unwrap();
        let ih = sha256(b"test.test@test.com");
        let flh = first_level_hash(&ih, &salts);
        let text = format!("{}first-level", STANDARD.encode(ih));
        assert_eq!(flh, sha256(text.as_bytes()));

        let bucket = bucket_index(&flh, 16);
        let text = format!("{}bucket-salt-{bucket}", STANDARD.encode(flh));
        let expected = sha256(text.as_bytes());

        let v2 = raw_uid_v2(&flh, &salts);
        assert_eq!(v2.as_bytes(), expected);
        for (scope, ty, prefix, first_char) in [
            (IdentityScope::Euid, IdentityType::Email, 0x10, 'E'),
            (IdentityScope::Euid, IdentityType::Phone, 0x14, 'F'),
            (IdentityScope::Uid2, IdentityType::Email, 0x00, 'A'),
            (IdentityScope::Uid2, IdentityType::Phone, 0x04, 'B'),
        ] {
            let v3 = raw_uid(&flh, scope, ty, &salts);
            assert_eq!(v3.as_bytes()[0], prefix);
            assert_eq!(&v3.as_bytes()[1..], expected);
            assert!(v3.to_base64().starts_with(first_char));
            assert_eq!(v3.scope_and_type(), Some((scope, ty)));
            assert_eq!(RawUid::from_base64(&v3.to_base64()), Some(v3));
        }
        assert_eq!(v2.scope_and_type(), None);
    }

    #[test]
    fn odd_length_identity_hashes_are_accepted() {
        // A 44-character email_hash without '=' decodes to 33 bytes and is still hashed.
        let salts = SaltStore::new("s".into(), vec![SaltBucket::new(1, 0, "b")]).unwrap();
        let ih = [7u8; 33];
        let text = format!("{}s", STANDARD.encode(ih));
        assert_eq!(first_level_hash(&ih, &salts), sha256(text.as_bytes()));
        let long = [9u8; 100];
        let text = format!("{}s", STANDARD.encode(long));
        assert_eq!(first_level_hash(&long, &salts), sha256(text.as_bytes()));
    }

    #[test]
    fn raw_uid_parsing_and_prefixes() {
        assert!(RawUid::from_slice(&[0; 31]).is_none());
        assert!(RawUid::from_slice(&[0; 34]).is_none());
        assert!(RawUid::from_base64("not base64").is_none());
        assert_eq!(
            split_prefix(0x13),
            Some((IdentityScope::Euid, IdentityType::Email))
        );
        assert_eq!(
            split_prefix(0x17),
            Some((IdentityScope::Euid, IdentityType::Phone))
        );
        assert_eq!(split_prefix(0x0B), None, "type 2 is unknown");
        assert_eq!(split_prefix(0x33), None, "bit 5 set");
        assert_eq!(token_prefix(IdentityScope::Euid, IdentityType::Email), 0x13);
        assert_eq!(token_prefix(IdentityScope::Uid2, IdentityType::Phone), 0x07);
        assert_eq!(IdentityScope::Euid.as_str(), "EUID");
        assert_eq!(IdentityScope::from_wire_value(2), None);
    }
}
