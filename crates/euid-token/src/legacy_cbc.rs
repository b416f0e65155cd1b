//! AES-256-CBC with PKCS#7 padding, only for legacy v2 tokens.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, InnerIvInit};

use crate::keys::Key;

type Decryptor = cbc::Decryptor<aes::Aes256>;

/// Decrypts `ciphertext` in place under `key` and the 16-byte `iv`; `None` when the IV
/// length, the block alignment or the padding is wrong.
pub(crate) fn cbc_decrypt<'a>(
    key: &Key,
    iv: &[u8],
    ciphertext: &'a mut [u8],
) -> Option<&'a mut [u8]> {
    let dec = Decryptor::inner_iv_slice_init(key.cbc_cipher().clone(), iv).ok()?;
    let len = dec.decrypt_padded_mut::<Pkcs7>(ciphertext).ok()?.len();
    ciphertext.get_mut(..len)
}

#[cfg(test)]
pub(crate) fn cbc_encrypt(secret: &[u8; 32], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    let mut buf = plaintext.to_vec();
    buf.resize(plaintext.len() + 16, 0);
    let enc = cbc::Encryptor::<aes::Aes256>::new(secret.into(), iv.into());
    let len = enc
        .encrypt_padded_mut::<Pkcs7>(&mut buf, plaintext.len())
        .map(|c| c.len())
        .unwrap_or(0);
    buf.truncate(len);
    buf
}
