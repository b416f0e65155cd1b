#![no_main]
//! AES-GCM seal/open round trips and rejections.
//!
//! Input: a 12-byte IV, a 2-byte flip position, then the plaintext. The plaintext is sealed
//! under a fixed key with that IV (with and without AAD).
//!
//! Checked: what is sealed opens to the same plaintext, and only with its own AAD; one
//! flipped bit anywhere in the sealed bytes, or a truncation, is `CryptoError::Open`; the
//! input itself, opened as `iv ‖ ciphertext ‖ tag`, fails with `Open`; `seal` and
//! `seal_tail_in_place` agree.

use euid_crypto::{AesGcmKey, CryptoError, GCM_IV_LEN, GCM_TAG_LEN};
use euid_fuzz::reached;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = AesGcmKey::from_bytes([9; 32]);
    // Bytes nobody sealed under this key: never a plaintext (short ones never even try).
    assert_eq!(
        key.open(data),
        Err(CryptoError::Open),
        "opened unsealed bytes"
    );
    let Some((iv, rest)) = data.split_first_chunk::<GCM_IV_LEN>() else {
        return;
    };
    let Some((flip, plaintext)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let sealed = key.seal(iv, plaintext);
    assert_eq!(sealed.len(), GCM_IV_LEN + plaintext.len() + GCM_TAG_LEN);
    assert_eq!(&sealed[..GCM_IV_LEN], iv);
    assert_eq!(key.open(&sealed).as_deref(), Ok(plaintext), "round trip");
    reached("a sealed plaintext opens");

    let mut tail = iv.to_vec();
    tail.extend_from_slice(plaintext);
    key.seal_tail_in_place(iv, b"aad", &mut tail, GCM_IV_LEN);
    assert_eq!(key.open_with_aad(&tail, b"aad").as_deref(), Ok(plaintext));
    assert_eq!(
        key.open(&tail),
        Err(CryptoError::Open),
        "opened without its AAD"
    );
    assert_eq!(key.open_with_aad(&sealed, b"aad"), Err(CryptoError::Open));

    let position = usize::from(u16::from_be_bytes(*flip)) % (sealed.len() * 8);
    let mut tampered = sealed.clone();
    tampered[position / 8] ^= 1 << (position % 8);
    assert_eq!(
        key.open(&tampered),
        Err(CryptoError::Open),
        "bit {position} flipped"
    );
    let cut = position / 8;
    assert_eq!(
        key.open(&sealed[..cut]),
        Err(CryptoError::Open),
        "cut at {cut}"
    );
    assert_eq!(
        AesGcmKey::from_bytes([10; 32]).open(&sealed),
        Err(CryptoError::Open),
        "opened with another key"
    );
});
