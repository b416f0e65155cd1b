//! Advertising tokens: mint v3/v4, decode v3 and v4, and legacy v2 (AES-CBC) behind the
//! `legacy-v2` feature (`wire.md` §4.2–4.3).

use base64::alphabet;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD,
};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use euid_crypto::{GCM_IV_LEN, GCM_TAG_LEN};

use crate::byte_reader::Reader;
use crate::error::TokenError;
use crate::identity::{raw_uid_prefix, split_prefix, token_prefix, RAW_UID_V3_LEN};
use crate::keys::{Key, KeyLookup};
#[cfg(feature = "legacy-v2")]
use crate::legacy_cbc::cbc_decrypt;
use crate::{IdentityScope, IdentityType, RawUid};

/// Standard base64 that accepts input with or without padding, as Java's decoder does.
pub(crate) const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Advertising token format versions and their version bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TokenVersion {
    /// Legacy AES-CBC token; byte 0 is 2. Decode only.
    V2 = 2,
    /// GCM token in standard base64; byte 1 is 112.
    V3 = 112,
    /// The v3 layout in base64url without padding; byte 1 is 128. What the operator issues.
    V4 = 128,
}

impl TokenVersion {
    /// The version byte.
    pub const fn wire_value(self) -> u8 {
        self as u8
    }
}

/// The operator block of v3/v4 tokens (13 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OperatorIdentity {
    /// Operator site id (0 for this operator).
    pub site_id: i32,
    /// Operator type: 1 = service (public operator), 17 = Snowflake.
    pub operator_type: u8,
    /// Operator version (0).
    pub version: i32,
    /// Operator key id (0).
    pub key_id: i32,
}

impl OperatorIdentity {
    /// What the live public operator writes: site 0, type 1 (service), version 0, key 0.
    pub const SERVICE: Self = Self {
        site_id: 0,
        operator_type: 1,
        version: 0,
        key_id: 0,
    };

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.site_id.to_be_bytes());
        out.push(self.operator_type);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.key_id.to_be_bytes());
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            site_id: r.i32()?,
            operator_type: r.u8()?,
            version: r.i32()?,
            key_id: r.i32()?,
        })
    }
}

/// Every field of an advertising token to mint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertisingTokenFields<'a> {
    /// [`TokenVersion::V4`] normally; v3 is allowed; v2 is refused.
    pub version: TokenVersion,
    /// Identity scope written in the prefix byte.
    pub scope: IdentityScope,
    /// Identity type written in the prefix byte.
    pub identity_type: IdentityType,
    /// Expiry, Unix ms.
    pub expires_ms: i64,
    /// Generation time, Unix ms.
    pub created_ms: i64,
    /// The operator block.
    pub operator: OperatorIdentity,
    /// The publisher's site id.
    pub site_id: i32,
    /// Publisher id (0).
    pub publisher_id: i64,
    /// Client key id (0).
    pub client_key_id: i32,
    /// Privacy bits (1 for `/token/generate`).
    pub privacy_bits: u32,
    /// When the identity was first established, Unix ms.
    pub established_ms: i64,
    /// When the token was last refreshed (= generated), Unix ms.
    pub refreshed_ms: i64,
    /// The raw UID carried.
    pub raw_uid: &'a RawUid,
}

/// A decoded advertising token: every field the format carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisingToken {
    /// Format version.
    pub version: TokenVersion,
    /// Scope from the prefix byte (v2: from a 33-byte raw UID, else UID2).
    pub scope: IdentityScope,
    /// Type from the prefix byte (v2: from a 33-byte raw UID, else email).
    pub identity_type: IdentityType,
    /// Master key id (keyset −1).
    pub master_key_id: i32,
    /// Site key id.
    pub site_key_id: i32,
    /// Expiry, Unix ms.
    pub expires_ms: i64,
    /// Generation time, Unix ms (absent in v2).
    pub created_ms: Option<i64>,
    /// Operator block (absent in v2).
    pub operator: Option<OperatorIdentity>,
    /// The publisher's site id.
    pub site_id: i32,
    /// Publisher id (0 in v2).
    pub publisher_id: i64,
    /// Client key id (0 in v2).
    pub client_key_id: i32,
    /// Privacy bits.
    pub privacy_bits: u32,
    /// When the identity was established, Unix ms.
    pub established_ms: i64,
    /// When the token was refreshed, Unix ms (absent in v2).
    pub refreshed_ms: Option<i64>,
    /// The raw UID.
    pub raw_uid: RawUid,
}

const HEADER_LEN: usize = 6;
/// Bits 2–4 of a prefix byte: `(scope << 4) | (type << 2)`.
const SCOPE_TYPE_BITS: u8 = 0x1C;
const MASTER_FIXED_LEN: usize = 33;
const SITE_FIXED_LEN: usize = 36;

/// Mints a v3/v4 advertising token with the given IVs (deterministic; for golden vectors and
/// the generator, which draws the IVs from its random source).
pub fn mint_advertising_token(
    fields: &AdvertisingTokenFields<'_>,
    master_key: &Key,
    site_key: &Key,
    master_iv: &[u8; GCM_IV_LEN],
    site_iv: &[u8; GCM_IV_LEN],
) -> Result<String, TokenError> {
    let bytes = mint_advertising_token_bytes(fields, master_key, site_key, master_iv, site_iv)?;
    Ok(match fields.version {
        TokenVersion::V3 => STANDARD.encode(&bytes),
        _ => URL_SAFE_NO_PAD.encode(&bytes),
    })
}

/// Like [`mint_advertising_token`], returning the token bytes before text encoding.
pub fn mint_advertising_token_bytes(
    fields: &AdvertisingTokenFields<'_>,
    master_key: &Key,
    site_key: &Key,
    master_iv: &[u8; GCM_IV_LEN],
    site_iv: &[u8; GCM_IV_LEN],
) -> Result<Vec<u8>, TokenError> {
    let mut scratch = Vec::new();
    let mut token = Vec::new();
    mint_advertising_token_into(
        fields,
        master_key,
        site_key,
        master_iv,
        site_iv,
        &mut scratch,
        &mut token,
    )?;
    Ok(token)
}

/// Writes the token bytes to `token` (cleared first), using `scratch` for the master payload,
/// so the generator can reuse both buffers.
pub(crate) fn mint_advertising_token_into(
    fields: &AdvertisingTokenFields<'_>,
    master_key: &Key,
    site_key: &Key,
    master_iv: &[u8; GCM_IV_LEN],
    site_iv: &[u8; GCM_IV_LEN],
    scratch: &mut Vec<u8>,
    token: &mut Vec<u8>,
) -> Result<(), TokenError> {
    if fields.version == TokenVersion::V2 {
        return Err(TokenError::CannotMint);
    }
    let uid = fields.raw_uid.as_bytes();
    let mut site = [0u8; SITE_FIXED_LEN + RAW_UID_V3_LEN];
    {
        let mut w = &mut site[..];
        for part in [
            &fields.site_id.to_be_bytes()[..],
            &fields.publisher_id.to_be_bytes(),
            &fields.client_key_id.to_be_bytes(),
            &fields.privacy_bits.to_be_bytes(),
            &fields.established_ms.to_be_bytes(),
            &fields.refreshed_ms.to_be_bytes(),
            uid,
        ] {
            let (head, tail) = w.split_at_mut(part.len());
            head.copy_from_slice(part);
            w = tail;
        }
    }
    let site_len = SITE_FIXED_LEN + uid.len();

    let master = scratch;
    master.clear();
    master.reserve(MASTER_FIXED_LEN + GCM_IV_LEN + site_len + GCM_TAG_LEN);
    master.extend_from_slice(&fields.expires_ms.to_be_bytes());
    master.extend_from_slice(&fields.created_ms.to_be_bytes());
    fields.operator.write(master);
    master.extend_from_slice(&site_key.id.to_be_bytes());
    site_key
        .secret()
        .seal_into(site_iv, &[], &site[..site_len], master);

    token.clear();
    token.reserve(HEADER_LEN + GCM_IV_LEN + master.len() + GCM_TAG_LEN);
    token.push(token_prefix(fields.scope, fields.identity_type));
    token.push(fields.version.wire_value());
    token.extend_from_slice(&master_key.id.to_be_bytes());
    master_key.secret().seal_into(master_iv, &[], master, token);
    Ok(())
}

/// Decodes a v3 or v4 advertising token, checking authenticity and that it has not expired at
/// `now_ms`. Keys come from `keys` by id: on the operator's own [`KeyStore`](crate::KeyStore)
/// only a master key opens the outer layer and only a site key the inner one (see
/// [`KeyLookup`]); decode a token against keys an SDK fetched with
/// [`KeyStore::unscoped`](crate::KeyStore::unscoped). Tokens minted under a key that has since
/// rotated decode while the key is still in the store.
///
/// Legacy v2 tokens (AES-CBC, unauthenticated) are refused with
/// [`TokenError::VersionNotSupported`]; a bidder that still meets them enables the
/// `legacy-v2` feature and calls `decode_advertising_token_with_legacy`.
pub fn decode_advertising_token<K: KeyLookup + ?Sized>(
    keys: &K,
    token: &str,
    now_ms: i64,
) -> Result<AdvertisingToken, TokenError> {
    decode(keys, token, now_ms, Legacy::Refuse)
}

/// [`decode_advertising_token`], and legacy v2 tokens as well. v2 tokens are AES-CBC without
/// authentication: whoever can flip ciphertext bits can change what they decode to within
/// the padding oracle's reach, so the operator never accepts them; SDK-side decoding may.
#[cfg(feature = "legacy-v2")]
pub fn decode_advertising_token_with_legacy<K: KeyLookup + ?Sized>(
    keys: &K,
    token: &str,
    now_ms: i64,
) -> Result<AdvertisingToken, TokenError> {
    decode(keys, token, now_ms, Legacy::Accept)
}

#[cfg(feature = "legacy-v2")]
fn decode_legacy<K: KeyLookup + ?Sized>(
    keys: &K,
    token: &str,
    now_ms: i64,
    legacy: Legacy,
) -> Result<AdvertisingToken, TokenError> {
    match legacy {
        Legacy::Refuse => Err(TokenError::VersionNotSupported),
        Legacy::Accept => {
            let bytes = STANDARD_LENIENT
                .decode(token)
                .map_err(|_| TokenError::NotBase64)?;
            decode_v2(keys, bytes, now_ms)
        }
    }
}

#[cfg(not(feature = "legacy-v2"))]
fn decode_legacy<K: KeyLookup + ?Sized>(
    _: &K,
    _: &str,
    _: i64,
    _: Legacy,
) -> Result<AdvertisingToken, TokenError> {
    Err(TokenError::VersionNotSupported)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Legacy {
    Refuse,
    #[cfg(feature = "legacy-v2")]
    Accept,
}

fn decode<K: KeyLookup + ?Sized>(
    keys: &K,
    token: &str,
    now_ms: i64,
    legacy: Legacy,
) -> Result<AdvertisingToken, TokenError> {
    let head = token.get(..4).ok_or(TokenError::Malformed("too short"))?;
    let url = head.contains(['-', '_']);
    let mut header = [0u8; 3];
    let engine = if url {
        &URL_SAFE_LENIENT
    } else {
        &STANDARD_LENIENT
    };
    engine
        .decode_slice(head, &mut header)
        .map_err(|_| TokenError::NotBase64)?;

    if header[0] == TokenVersion::V2.wire_value() {
        return decode_legacy(keys, token, now_ms, legacy);
    }
    let version = match header[1] {
        112 => TokenVersion::V3,
        128 => TokenVersion::V4,
        _ => return Err(TokenError::VersionNotSupported),
    };
    let mut stack = [0u8; STACK_TOKEN_BYTES];
    let mut heap = Vec::new();
    let bytes = decode_token_base64(token, version, &mut stack, &mut heap)?;
    decode_v3_bytes(keys, bytes, version, now_ms)
}

/// Room on the stack for the bytes of a token of up to 680 characters (v4 tokens are ~220):
/// decoding a bid request's token allocates nothing but the raw UID's text.
const STACK_TOKEN_BYTES: usize = 510;

/// The bytes of a v3 (standard base64) or v4 token. v4 is base64url, but the SDKs also
/// accept it in standard base64: base64url is tried first (what the operator issues) and
/// standard only when that fails, rather than scanning the token for `+` or `/` first (that
/// scan was a quarter of a bidder's decrypt). The result is the same: a token either
/// alphabet decodes decodes to the same bytes under both.
fn decode_token_base64<'a>(
    token: &str,
    version: TokenVersion,
    stack: &'a mut [u8; STACK_TOKEN_BYTES],
    heap: &'a mut Vec<u8>,
) -> Result<&'a mut [u8], TokenError> {
    let engines: &[&GeneralPurpose] = if version == TokenVersion::V4 {
        &[&URL_SAFE_LENIENT, &STANDARD_LENIENT]
    } else {
        &[&STANDARD_LENIENT]
    };
    // decode_slice wants room for its estimate, 3 bytes per 4 characters rounded up.
    let fits = token.len().div_ceil(4) * 3 <= STACK_TOKEN_BYTES;
    for engine in engines {
        if fits {
            if let Ok(n) = engine.decode_slice(token, &mut stack[..]) {
                return Ok(&mut stack[..n]);
            }
        } else {
            heap.clear();
            if engine.decode_vec(token, heap).is_ok() {
                return Ok(&mut heap[..]);
            }
        }
    }
    Err(TokenError::NotBase64)
}

/// Decodes the bytes of a v3/v4 token in place.
pub(crate) fn decode_v3_bytes<K: KeyLookup + ?Sized>(
    keys: &K,
    bytes: &mut [u8],
    version: TokenVersion,
    now_ms: i64,
) -> Result<AdvertisingToken, TokenError> {
    if bytes.len() < HEADER_LEN + GCM_IV_LEN + GCM_TAG_LEN {
        return Err(TokenError::Malformed("too short"));
    }
    let (header, sealed) = bytes.split_at_mut(HEADER_LEN);
    let prefix = header[0];
    let (scope, identity_type) = split_prefix(prefix).ok_or(TokenError::InvalidHeader)?;
    let master_key_id = i32::from_be_bytes([header[2], header[3], header[4], header[5]]);
    let master_key = keys
        .master_key(master_key_id)
        .ok_or(TokenError::UnknownMasterKey(master_key_id))?;
    let (iv, ct) = sealed.split_at_mut(GCM_IV_LEN);
    let master = master_key
        .secret()
        .open_in_place(iv, &[], ct)
        .map_err(|_| TokenError::Decryption)?;

    if master.len() < MASTER_FIXED_LEN + GCM_IV_LEN + GCM_TAG_LEN {
        return Err(TokenError::Malformed("master payload too short"));
    }
    let (fixed, site_sealed) = master.split_at_mut(MASTER_FIXED_LEN);
    let mut r = Reader::new(fixed);
    let bad = || TokenError::Malformed("master payload");
    let expires_ms = r.i64().ok_or_else(bad)?;
    let created_ms = r.i64().ok_or_else(bad)?;
    let operator = OperatorIdentity::read(&mut r).ok_or_else(bad)?;
    let site_key_id = r.i32().ok_or_else(bad)?;
    if expires_ms < now_ms {
        return Err(TokenError::Expired { expires_ms });
    }
    let site_key = keys
        .site_key(site_key_id)
        .ok_or(TokenError::UnknownSiteKey(site_key_id))?;
    let (iv, ct) = site_sealed.split_at_mut(GCM_IV_LEN);
    let site = site_key
        .secret()
        .open_in_place(iv, &[], ct)
        .map_err(|_| TokenError::Decryption)?;

    let mut r = Reader::new(site);
    let bad = || TokenError::Malformed("site payload");
    let site_id = r.i32().ok_or_else(bad)?;
    let publisher_id = r.i64().ok_or_else(bad)?;
    let client_key_id = r.i32().ok_or_else(bad)?;
    let privacy_bits = r.u32().ok_or_else(bad)?;
    let established_ms = r.i64().ok_or_else(bad)?;
    let refreshed_ms = r.i64().ok_or_else(bad)?;
    let raw_uid = RawUid::from_slice(r.rest()).ok_or(TokenError::Malformed("raw UID length"))?;

    // The header is not authenticated; for 33-byte ids the scope and type bits of the
    // authenticated raw UID must agree with it, as the live operator checks.
    if raw_uid.as_bytes().len() == RAW_UID_V3_LEN
        && (raw_uid.as_bytes()[0] & SCOPE_TYPE_BITS != raw_uid_prefix(scope, identity_type)
            || prefix & 3 != 3)
    {
        return Err(TokenError::InvalidHeader);
    }

    Ok(AdvertisingToken {
        version,
        scope,
        identity_type,
        master_key_id,
        site_key_id,
        expires_ms,
        created_ms: Some(created_ms),
        operator: Some(operator),
        site_id,
        publisher_id,
        client_key_id,
        privacy_bits,
        established_ms,
        refreshed_ms: Some(refreshed_ms),
        raw_uid,
    })
}

#[cfg(feature = "legacy-v2")]
const CBC_IV_LEN: usize = 16;

#[cfg(feature = "legacy-v2")]
fn decode_v2<K: KeyLookup + ?Sized>(
    keys: &K,
    mut bytes: Vec<u8>,
    now_ms: i64,
) -> Result<AdvertisingToken, TokenError> {
    if bytes.len() < 1 + 4 + CBC_IV_LEN + CBC_IV_LEN {
        return Err(TokenError::Malformed("too short"));
    }
    let (header, sealed) = bytes.split_at_mut(5);
    let master_key_id = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let master_key = keys
        .master_key(master_key_id)
        .ok_or(TokenError::UnknownMasterKey(master_key_id))?;
    let (iv, ct) = sealed.split_at_mut(CBC_IV_LEN);
    let master = cbc_decrypt(master_key, iv, ct).ok_or(TokenError::Decryption)?;

    if master.len() < 12 + CBC_IV_LEN + CBC_IV_LEN {
        return Err(TokenError::Malformed("master payload too short"));
    }
    let (fixed, site_sealed) = master.split_at_mut(12);
    let expires_ms = i64::from_be_bytes(fixed[..8].try_into().map_err(|_| TokenError::Decryption)?);
    let site_key_id = i32::from_be_bytes(
        fixed[8..12]
            .try_into()
            .map_err(|_| TokenError::Decryption)?,
    );
    if expires_ms < now_ms {
        return Err(TokenError::Expired { expires_ms });
    }
    let site_key = keys
        .site_key(site_key_id)
        .ok_or(TokenError::UnknownSiteKey(site_key_id))?;
    let (iv, ct) = site_sealed.split_at_mut(CBC_IV_LEN);
    let identity = cbc_decrypt(site_key, iv, ct).ok_or(TokenError::Decryption)?;

    let mut r = Reader::new(identity);
    let bad = || TokenError::Malformed("identity");
    let site_id = r.i32().ok_or_else(bad)?;
    let id_len = usize::try_from(r.i32().ok_or_else(bad)?).map_err(|_| bad())?;
    let id_text = r.take(id_len).ok_or_else(bad)?;
    let privacy_bits = r.u32().ok_or_else(bad)?;
    let established_ms = r.i64().ok_or_else(bad)?;
    let id_text = std::str::from_utf8(id_text).map_err(|_| bad())?;
    let raw_uid = RawUid::from_base64(id_text).ok_or(TokenError::Malformed("raw UID"))?;
    let (scope, identity_type) = raw_uid
        .scope_and_type()
        .unwrap_or((IdentityScope::Uid2, IdentityType::Email));

    Ok(AdvertisingToken {
        version: TokenVersion::V2,
        scope,
        identity_type,
        master_key_id,
        site_key_id,
        expires_ms,
        created_ms: None,
        operator: None,
        site_id,
        publisher_id: 0,
        client_key_id: 0,
        privacy_bits,
        established_ms,
        refreshed_ms: None,
        raw_uid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyStore, Keyset};
    #[cfg(feature = "legacy-v2")]
    use crate::legacy_cbc::cbc_encrypt;
    use euid_crypto::AesGcmKey;

    const NOW: i64 = 1_700_000_000_000;

    fn store() -> KeyStore {
        let key = |id: i32, ks: i32| {
            Key::new(
                id,
                ks,
                0,
                0,
                4_000_000_000,
                AesGcmKey::from_bytes([id as u8 * 3; 32]),
            )
        };
        KeyStore::new(Vec::<Keyset>::new(), vec![key(11, -1), key(12, 50)]).unwrap()
    }

    fn uid33() -> RawUid {
        let mut b = [0x42u8; 33];
        b[0] = 0x14; // EUID phone
        RawUid::from_slice(&b).unwrap()
    }

    fn fields(uid: &RawUid, version: TokenVersion) -> AdvertisingTokenFields<'_> {
        AdvertisingTokenFields {
            version,
            scope: IdentityScope::Euid,
            identity_type: IdentityType::Phone,
            expires_ms: NOW + 1000,
            created_ms: NOW - 5,
            operator: OperatorIdentity::SERVICE,
            site_id: 321,
            publisher_id: 9,
            client_key_id: 8,
            privacy_bits: 3,
            established_ms: NOW - 99,
            refreshed_ms: NOW - 5,
            raw_uid: uid,
        }
    }

    fn mint(store: &KeyStore, f: &AdvertisingTokenFields<'_>) -> String {
        let (m, s) = (store.key_by_id(11).unwrap(), store.key_by_id(12).unwrap());
        mint_advertising_token(f, m, s, &[1; 12], &[2; 12]).unwrap()
    }

    #[test]
    fn v3_is_standard_base64_and_v4_is_accepted_in_either_alphabet() {
        let store = store();
        let uid = uid33();
        let v3 = mint(&store, &fields(&uid, TokenVersion::V3));
        assert!(v3.starts_with("F3"), "{v3}");
        let t = decode_advertising_token(&store, &v3, NOW).unwrap();
        assert_eq!(t.version, TokenVersion::V3);
        assert_eq!(
            (t.site_id, t.privacy_bits, t.publisher_id, t.client_key_id),
            (321, 3, 9, 8)
        );

        let v4 = mint(&store, &fields(&uid, TokenVersion::V4));
        assert!(
            v4.starts_with("F4") && v4.len() == 219 && !v4.contains('='),
            "{v4}"
        );
        let bytes = URL_SAFE_NO_PAD.decode(&v4).unwrap();
        let standard = STANDARD.encode(&bytes);
        for text in [&v4, &standard] {
            let t = decode_advertising_token(&store, text, NOW).unwrap();
            assert_eq!(t.version, TokenVersion::V4);
            assert_eq!(t.raw_uid, uid);
            assert_eq!(t.identity_type, IdentityType::Phone);
        }
    }

    #[test]
    fn long_tokens_decode_on_the_heap_and_mixed_alphabets_are_refused() {
        let decode = |text: &str, version| {
            let (mut stack, mut heap) = ([0u8; STACK_TOKEN_BYTES], Vec::new());
            decode_token_base64(text, version, &mut stack, &mut heap).map(|b| b.to_vec())
        };
        let long = "AB-_".repeat(250);
        assert_eq!(
            decode(&long, TokenVersion::V4).unwrap(),
            URL_SAFE_NO_PAD.decode(&long).unwrap()
        );
        let short = "AB+/".repeat(25);
        assert_eq!(
            decode(&short, TokenVersion::V4).unwrap(),
            STANDARD.decode(&short).unwrap()
        );
        assert!(matches!(
            decode("AB-+", TokenVersion::V4),
            Err(TokenError::NotBase64)
        ));
        assert!(matches!(
            decode("AB-A", TokenVersion::V3),
            Err(TokenError::NotBase64)
        ));
    }

    #[test]
    fn key_material_raw_uids_decode() {
        // A "v4" raw UID of the live operator: env 2, version bit, EUID, phone.
        let mut b = [0x42u8; 33];
        b[0] = 0x80 | 0x20 | 0x10 | 0x04;
        let uid = RawUid::from_slice(&b).unwrap();
        assert_eq!(
            uid.scope_and_type(),
            Some((IdentityScope::Euid, IdentityType::Phone))
        );
        let store = store();
        let t = mint(&store, &fields(&uid, TokenVersion::V4));
        assert_eq!(
            decode_advertising_token(&store, &t, NOW).unwrap().raw_uid,
            uid
        );
    }

    #[test]
    fn refusals() {
        let store = store();
        let uid = uid33();
        let v4 = mint(&store, &fields(&uid, TokenVersion::V4));
        assert_eq!(
            decode_advertising_token(&store, &v4, NOW + 1001),
            Err(TokenError::Expired {
                expires_ms: NOW + 1000
            })
        );
        assert!(decode_advertising_token(&store, &v4, NOW + 1000).is_ok());
        let empty = KeyStore::new(vec![], vec![]).unwrap();
        assert_eq!(
            decode_advertising_token(&empty, &v4, NOW),
            Err(TokenError::UnknownMasterKey(11))
        );
        let master_only = KeyStore::new(
            vec![],
            vec![Key::new(
                11,
                -1,
                0,
                0,
                4_000_000_000,
                AesGcmKey::from_bytes([33; 32]),
            )],
        )
        .unwrap();
        assert_eq!(
            decode_advertising_token(&master_only, &v4, NOW),
            Err(TokenError::UnknownSiteKey(12))
        );
        assert_eq!(
            decode_advertising_token(&store, "E4A", NOW),
            Err(TokenError::Malformed("too short"))
        );
        assert_eq!(
            decode_advertising_token(&store, "!!!!AAAA", NOW),
            Err(TokenError::NotBase64)
        );
        assert_eq!(
            decode_advertising_token(&store, "AAAAAAAA", NOW),
            Err(TokenError::VersionNotSupported)
        );
        assert_eq!(
            decode_advertising_token(&store, &format!("{}!", &v4[..218]), NOW),
            Err(TokenError::NotBase64)
        );
        let mut f = fields(&uid, TokenVersion::V2);
        assert_eq!(
            mint_advertising_token(
                &f,
                store.key_by_id(11).unwrap(),
                store.key_by_id(12).unwrap(),
                &[0; 12],
                &[0; 12]
            ),
            Err(TokenError::CannotMint)
        );
        // A header that disagrees with the authenticated raw UID prefix.
        f.version = TokenVersion::V4;
        f.identity_type = IdentityType::Email;
        let t = mint(&store, &f);
        assert_eq!(
            decode_advertising_token(&store, &t, NOW),
            Err(TokenError::InvalidHeader)
        );
    }

    #[test]
    fn each_layer_opens_only_under_a_key_of_its_purpose() {
        let key = |id: i32, ks: i32| {
            Key::new(
                id,
                ks,
                0,
                0,
                4_000_000_000,
                AesGcmKey::from_bytes([id as u8 * 7; 32]),
            )
        };
        let store = KeyStore::new(
            Vec::<Keyset>::new(),
            vec![key(11, -1), key(12, 50), key(13, -2), key(14, 2)],
        )
        .unwrap();
        let uid = uid33();
        let f = fields(&uid, TokenVersion::V4);
        let k = |id| store.key_by_id(id).unwrap();
        let mint_with = |outer: i32, inner: i32| {
            mint_advertising_token(&f, k(outer), k(inner), &[1; 12], &[2; 12]).unwrap()
        };
        // The normal pairs: master outside, any site keyset (the fallback 2 included) inside.
        assert!(decode_advertising_token(&store, &mint_with(11, 12), NOW).is_ok());
        assert!(decode_advertising_token(&store, &mint_with(11, 14), NOW).is_ok());
        // A site or refresh key cannot stand in for the master key, nor the master or refresh
        // key for a site key: the same answer as an unknown id.
        for outer in [12, 13, 14] {
            assert_eq!(
                decode_advertising_token(&store, &mint_with(outer, 12), NOW),
                Err(TokenError::UnknownMasterKey(outer))
            );
        }
        for inner in [11, 13] {
            assert_eq!(
                decode_advertising_token(&store, &mint_with(11, inner), NOW),
                Err(TokenError::UnknownSiteKey(inner))
            );
        }
        // An SDK's key set has no operator keyset ids: looked up by id alone.
        assert!(decode_advertising_token(&store.unscoped(), &mint_with(12, 11), NOW).is_ok());
    }

    #[test]
    fn legacy_v2_is_refused_by_the_default_decoder() {
        // A v2 header (byte 0 = 2) never reaches the CBC path, whatever the features.
        let mut bytes = vec![2u8, 0, 0, 0, 11];
        bytes.extend_from_slice(&[0x5a; 64]);
        assert_eq!(
            decode_advertising_token(&store(), &STANDARD.encode(bytes), NOW),
            Err(TokenError::VersionNotSupported)
        );
    }

    /// Builds a legacy v2 token per `wire.md` §4.3 with AES-CBC.
    #[cfg(feature = "legacy-v2")]
    fn v2_token(master: &Key, site: &Key, expires_ms: i64, id_text: &str) -> String {
        let mut identity = Vec::new();
        identity.extend_from_slice(&777i32.to_be_bytes());
        identity.extend_from_slice(&(id_text.len() as i32).to_be_bytes());
        identity.extend_from_slice(id_text.as_bytes());
        identity.extend_from_slice(&1u32.to_be_bytes());
        identity.extend_from_slice(&(NOW - 500).to_be_bytes());
        let mut master_pt = Vec::new();
        master_pt.extend_from_slice(&expires_ms.to_be_bytes());
        master_pt.extend_from_slice(&site.id.to_be_bytes());
        master_pt.extend_from_slice(&[5; 16]);
        master_pt.extend(cbc_encrypt(
            site.secret().expose_secret(),
            &[5; 16],
            &identity,
        ));
        let mut token = vec![2u8];
        token.extend_from_slice(&master.id.to_be_bytes());
        token.extend_from_slice(&[6; 16]);
        token.extend(cbc_encrypt(
            master.secret().expose_secret(),
            &[6; 16],
            &master_pt,
        ));
        STANDARD.encode(token)
    }

    #[test]
    #[cfg(feature = "legacy-v2")]
    fn decodes_legacy_v2() {
        let store = store();
        let (m, s) = (store.key_by_id(11).unwrap(), store.key_by_id(12).unwrap());
        let uid32 = STANDARD.encode([0x61u8; 32]);
        // Only the legacy entry point decodes v2.
        assert_eq!(
            decode_advertising_token(&store, &v2_token(m, s, NOW + 10, &uid32), NOW),
            Err(TokenError::VersionNotSupported)
        );
        let decode_advertising_token = decode_advertising_token_with_legacy::<KeyStore>;
        let t = decode_advertising_token(&store, &v2_token(m, s, NOW + 10, &uid32), NOW).unwrap();
        assert_eq!(t.version, TokenVersion::V2);
        assert_eq!(
            (t.site_id, t.privacy_bits, t.established_ms),
            (777, 1, NOW - 500)
        );
        assert_eq!(
            (t.master_key_id, t.site_key_id, t.expires_ms),
            (11, 12, NOW + 10)
        );
        assert_eq!(t.raw_uid.to_base64(), uid32);
        assert_eq!(
            (t.scope, t.identity_type),
            (IdentityScope::Uid2, IdentityType::Email)
        );
        assert_eq!(
            (t.created_ms, t.refreshed_ms, t.operator),
            (None, None, None)
        );

        let uid = uid33();
        let t = decode_advertising_token(&store, &v2_token(m, s, NOW + 10, &uid.to_base64()), NOW)
            .unwrap();
        assert_eq!(
            (t.scope, t.identity_type),
            (IdentityScope::Euid, IdentityType::Phone)
        );

        assert_eq!(
            decode_advertising_token(&store, &v2_token(m, s, NOW - 1, &uid32), NOW),
            Err(TokenError::Expired {
                expires_ms: NOW - 1
            })
        );
        assert_eq!(
            decode_advertising_token(&store, &v2_token(m, s, NOW + 10, "short"), NOW),
            Err(TokenError::Malformed("raw UID"))
        );
        // Wrong key for the outer layer: padding check fails (or, rarely, the layout does).
        let mut wrong = STANDARD.decode(v2_token(s, s, NOW + 10, &uid32)).unwrap();
        wrong[1..5].copy_from_slice(&11i32.to_be_bytes());
        let wrong = STANDARD.encode(wrong);
        assert!(decode_advertising_token(&store, &wrong, NOW).is_err());
        // Truncated to a non-block length.
        let t = v2_token(m, s, NOW + 10, &uid32);
        let mut bytes = STANDARD.decode(&t).unwrap();
        bytes.truncate(bytes.len() - 3);
        assert!(decode_advertising_token(&store, &STANDARD.encode(bytes), NOW).is_err());
    }
}
