use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

/// Length of an AES-GCM IV (nonce) in every EUID structure.
pub const GCM_IV_LEN: usize = 12;
/// Length of an AES-GCM authentication tag.
pub const GCM_TAG_LEN: usize = 16;

/// Errors from key loading and AES-GCM opening.
///
/// `Open` deliberately says nothing about *why* authentication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key text is not standard base64.
    #[error("key is not valid base64")]
    KeyNotBase64,
    /// The key does not decode to exactly 32 bytes.
    #[error("key must be 32 bytes, got {0}")]
    KeyLength(usize),
    /// The ciphertext is shorter than IV + tag, or does not authenticate.
    #[error("decryption failed")]
    Open,
}

/// An AES-256-GCM key with its key schedule prepared once.
pub struct AesGcmKey {
    key: LessSafeKey,
    raw: Zeroizing<[u8; 32]>,
}

impl AesGcmKey {
    /// Prepares a key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let raw = Zeroizing::new(bytes);
        // AES_256_GCM accepts every 32-byte key, so this cannot fail.
        let unbound = UnboundKey::new(&AES_256_GCM, raw.as_ref()).expect("32-byte AES-256 key");
        Self {
            key: LessSafeKey::new(unbound),
            raw,
        }
    }

    /// Prepares a key from a byte slice, which must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::KeyLength(bytes.len()))?;
        Ok(Self::from_bytes(arr))
    }

    /// Prepares a key from standard base64 text (44 characters for 32 bytes).
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim_end_matches(['\n', '\r']))
                .map_err(|_| CryptoError::KeyNotBase64)?,
        );
        Self::from_slice(&bytes)
    }

    /// The raw key bytes, for publishing keys to SDKs; never log them.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.raw
    }

    /// The key as standard base64, for publishing keys to SDKs; never log it.
    pub fn expose_secret_base64(&self) -> String {
        STANDARD.encode(self.raw.as_ref())
    }

    /// Encrypts `plaintext` and returns `iv ‖ ciphertext ‖ tag`.
    pub fn seal(&self, iv: &[u8; GCM_IV_LEN], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(GCM_IV_LEN + plaintext.len() + GCM_TAG_LEN);
        self.seal_into(iv, &[], plaintext, &mut out);
        out
    }

    /// Appends `iv ‖ GCM(plaintext, aad) ‖ tag` to `out` without other allocation.
    pub fn seal_into(
        &self,
        iv: &[u8; GCM_IV_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) {
        out.reserve(GCM_IV_LEN + plaintext.len() + GCM_TAG_LEN);
        out.extend_from_slice(iv);
        let start = out.len();
        out.extend_from_slice(plaintext);
        self.seal_tail_in_place(iv, aad, out, start);
    }

    /// Encrypts `buf[start..]` in place and appends the tag, so callers can write a
    /// plaintext header and body straight into the output buffer (after the IV).
    ///
    /// # Panics
    /// If `start > buf.len()`.
    pub fn seal_tail_in_place(
        &self,
        iv: &[u8; GCM_IV_LEN],
        aad: &[u8],
        buf: &mut Vec<u8>,
        start: usize,
    ) {
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(*iv),
                Aad::from(aad),
                &mut buf[start..],
            )
            // ring fails only past GCM's 64 GiB message limit.
            .expect("AES-GCM plaintext under 64 GiB");
        buf.extend_from_slice(tag.as_ref());
    }

    /// Opens `iv ‖ ciphertext ‖ tag` and returns the plaintext.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.open_with_aad(sealed, &[])
    }

    /// Opens `iv ‖ ciphertext ‖ tag` authenticated with `aad`.
    pub fn open_with_aad(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < GCM_IV_LEN + GCM_TAG_LEN {
            return Err(CryptoError::Open);
        }
        let (iv, rest) = sealed.split_at(GCM_IV_LEN);
        let mut buf = rest.to_vec();
        let len = self.open_in_place(iv, aad, &mut buf)?.len();
        buf.truncate(len);
        Ok(buf)
    }

    /// Opens `ciphertext ‖ tag` in place with the given IV; returns the plaintext slice.
    pub fn open_in_place<'a>(
        &self,
        iv: &[u8],
        aad: &[u8],
        ciphertext_and_tag: &'a mut [u8],
    ) -> Result<&'a mut [u8], CryptoError> {
        let iv: [u8; GCM_IV_LEN] = iv.try_into().map_err(|_| CryptoError::Open)?;
        self.key
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(aad),
                ciphertext_and_tag,
            )
            .map_err(|_| CryptoError::Open)
    }
}

impl Clone for AesGcmKey {
    fn clone(&self) -> Self {
        Self::from_bytes(*self.raw)
    }
}

impl std::fmt::Debug for AesGcmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesGcmKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn debug_is_redacted() {
        let key = AesGcmKey::from_bytes([7; 32]);
        assert_eq!(format!("{key:?}"), "AesGcmKey(<redacted>)");
    }

    #[test]
    fn rejects_wrong_lengths_and_bad_base64() {
        assert_eq!(
            AesGcmKey::from_slice(&[0; 16]).unwrap_err(),
            CryptoError::KeyLength(16)
        );
        assert_eq!(
            AesGcmKey::from_base64("not base64!").unwrap_err(),
            CryptoError::KeyNotBase64
        );
        let key = AesGcmKey::from_bytes([1; 32]);
        assert_eq!(key.open(&[0; 27]).unwrap_err(), CryptoError::Open);
    }

    proptest! {
        #[test]
        fn seal_open_round_trip_and_bit_flips_fail(
            key in any::<[u8; 32]>(),
            iv in any::<[u8; 12]>(),
            msg in proptest::collection::vec(any::<u8>(), 0..256),
            flip in any::<prop::sample::Index>(),
        ) {
            let key = AesGcmKey::from_bytes(key);
            let mut sealed = key.seal(&iv, &msg);
            prop_assert_eq!(key.open(&sealed).unwrap(), msg);
            let i = flip.index(sealed.len());
            sealed[i] ^= 1;
            prop_assert_eq!(key.open(&sealed).unwrap_err(), CryptoError::Open);
        }
    }
}
