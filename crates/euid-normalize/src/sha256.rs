use ring::digest;

use crate::identity_hash::SHA256_IDENTITY_HASH_LEN;

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; SHA256_IDENTITY_HASH_LEN] {
    let digest = digest::digest(&digest::SHA256, bytes);
    let mut out = [0u8; SHA256_IDENTITY_HASH_LEN];
    // A SHA-256 digest is always 32 bytes.
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::sha256;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn fips_180_2_examples() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
