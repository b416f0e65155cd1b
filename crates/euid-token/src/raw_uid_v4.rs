//! The live operator's v4 raw UID: the first-level hash encrypted under a salt bucket's key
//! material (`wire.md` §3 item 4).

use aes::cipher::{BlockEncrypt as _, KeyInit as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroize as _;

/// Length of a v4 raw UID.
pub(crate) const RAW_UID_V4_LEN: usize = 33;

/// Length of the v4 raw UID's IV.
const IV_LEN: usize = 12;

/// The `identity_environment` of the live operator: bits 6–7 of a v4 raw UID's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum IdentityEnvironment {
    /// `test` (0), the live operator's default.
    #[default]
    Test = 0,
    /// `integ` (1).
    Integ = 1,
    /// `prod` (2).
    Prod = 2,
}

impl IdentityEnvironment {
    /// The wire value: test 0, integ 1, prod 2.
    pub const fn wire_value(self) -> u8 {
        self as u8
    }

    /// The config name: `"test"`, `"integ"` or `"prod"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Integ => "integ",
            Self::Prod => "prod",
        }
    }

    /// The environment for a config name (`test`, `integ`, `prod`; exact, lower case).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "test" => Some(Self::Test),
            "integ" => Some(Self::Integ),
            "prod" => Some(Self::Prod),
            _ => None,
        }
    }
}

/// The first byte of a v4 raw UID: `(env << 6) | (1 << 5)` over the v3 raw UID prefix
/// `(scope << 4) | (type << 2)`.
pub(crate) const fn v4_metadata(environment: IdentityEnvironment, raw_uid_prefix: u8) -> u8 {
    (environment.wire_value() << 6) | (1 << 5) | raw_uid_prefix
}

/// Builds a v4 raw UID: metadata, 3-byte key id, 12-byte IV, the last 16 bytes of the
/// first-level hash under AES-256-CTR, and an XOR checksum of the 32 bytes before it.
pub(crate) fn v4_raw_uid(
    metadata: u8,
    first_level_hash: &[u8; 32],
    key_id: u32,
    key: &[u8; 32],
    salt: &str,
) -> [u8; RAW_UID_V4_LEN] {
    let mut tail = [0u8; 16];
    tail.copy_from_slice(&first_level_hash[16..]);
    let key_id = key_id.to_be_bytes();
    let key_id = [key_id[1], key_id[2], key_id[3]];

    let mut ctx = Sha256::new();
    ctx.update(salt.as_bytes());
    ctx.update(tail);
    ctx.update([metadata]);
    ctx.update(key_id);
    let digest: [u8; 32] = ctx.finalize().into();

    // Sixteen bytes are one CTR block: the keystream is the counter block IV ‖ 0000
    // encrypted once, so a block cipher is all that is needed.
    let mut block = aes::Block::default();
    block[..IV_LEN].copy_from_slice(&digest[..IV_LEN]);
    aes::Aes256::new(key.into()).encrypt_block(&mut block);

    let mut out = [0u8; RAW_UID_V4_LEN];
    out[0] = metadata;
    out[1..4].copy_from_slice(&key_id);
    out[4..16].copy_from_slice(&digest[..IV_LEN]);
    for ((o, t), k) in out[16..32].iter_mut().zip(tail).zip(block.iter()) {
        *o = t ^ k;
    }
    out[32] = out[..32].iter().fold(0, |acc, b| acc ^ b);
    block.zeroize();
    tail.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_bits() {
        // EUID phone in prod: 2 << 6 | 1 << 5 | 1 << 4 | 1 << 2.
        assert_eq!(v4_metadata(IdentityEnvironment::Prod, 0x14), 0xB4);
        assert_eq!(v4_metadata(IdentityEnvironment::Test, 0x00), 0x20);
        assert_eq!(v4_metadata(IdentityEnvironment::Integ, 0x10), 0x70);
        for env in [
            IdentityEnvironment::Test,
            IdentityEnvironment::Integ,
            IdentityEnvironment::Prod,
        ] {
            assert_eq!(IdentityEnvironment::from_name(env.as_str()), Some(env));
        }
        assert_eq!(IdentityEnvironment::from_name("Prod"), None);
        assert_eq!(IdentityEnvironment::default(), IdentityEnvironment::Test);
    }

    #[test]
    fn layout_checksum_and_ctr_inverse() {
        let flh: [u8; 32] = core::array::from_fn(|i| i as u8);
        let key = *b"key12345key12345key12345key12345";
        let uid = v4_raw_uid(0x30, &flh, 0x0A0B0C, &key, "salt");
        assert_eq!(uid[0], 0x30);
        assert_eq!(&uid[1..4], &[0x0A, 0x0B, 0x0C]);
        assert_eq!(uid[32], uid[..32].iter().fold(0, |a, b| a ^ b));
        // Decrypting with the same counter block gives back the first-level hash's tail.
        let mut block = aes::Block::default();
        block[..12].copy_from_slice(&uid[4..16]);
        aes::Aes256::new((&key).into()).encrypt_block(&mut block);
        let plain: Vec<u8> = uid[16..32].iter().zip(block).map(|(c, k)| c ^ k).collect();
        assert_eq!(plain, &flh[16..]);
        // The key id keeps only its low 24 bits; anything else changes the IV.
        assert_ne!(v4_raw_uid(0x30, &flh, 1, &key, "salt")[4..16], uid[4..16]);
        assert_ne!(
            v4_raw_uid(0x30, &flh, 0x0A0B0C, &key, "salu")[4..16],
            uid[4..16]
        );
    }
}
