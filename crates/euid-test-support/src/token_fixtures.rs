//! Key and salt fixtures for euid-token: a small key store with the four kinds of keyset, and
//! a salt table of any size.

use euid_crypto::{AesGcmKey, RandomSource};
use euid_token::{Key, KeyStore, Keyset, SaltBucket, SaltStore};

/// An enabled default keyset named after its id, created 2020-09-13.
pub fn keyset(keyset_id: i32, site_id: i32) -> Keyset {
    Keyset {
        keyset_id,
        site_id,
        name: format!("keyset {keyset_id}"),
        allowed_sites: None,
        created: 1_600_000_000,
        enabled: true,
        default: true,
    }
}

/// A key whose secret is derived from its id, active from `activates` for fifty years (the
/// interop tests run on the real clock).
pub fn key(id: i32, keyset_id: i32, activates: i64) -> Key {
    let mut secret = [0u8; 32];
    secret[..4].copy_from_slice(&id.to_be_bytes());
    secret[4..].fill(0x5a ^ id as u8);
    Key::new(
        id,
        keyset_id,
        activates,
        activates,
        activates + 50 * 365 * 86_400,
        AesGcmKey::from_bytes(secret),
    )
}

/// The site that has a keyset of its own in [`key_store`].
pub const SITE: i32 = 1234;
/// [`SITE`]'s keyset in [`key_store`].
pub const SITE_KEYSET: i32 = 77;

/// Master (−1), refresh (−2), fallback publisher (2) and site 1234 (keyset 77) keys, all
/// active from 2020-01-01.
pub fn key_store() -> KeyStore {
    let t = 1_577_836_800;
    KeyStore::new(
        vec![
            keyset(-1, -1),
            keyset(-2, -2),
            keyset(2, 2),
            keyset(SITE_KEYSET, SITE),
        ],
        vec![
            key(1, -1, t),
            key(2, -2, t),
            key(3, 2, t),
            key(4, SITE_KEYSET, t),
        ],
    )
    .unwrap()
}

/// A small salt table (the index wraps modulo its size).
pub fn salt_store(buckets: usize) -> SaltStore {
    let buckets = (0..buckets)
        .map(|i| {
            SaltBucket::new(
                1_000_000 + i as i64,
                1_600_000_000_000,
                format!("salt-{i:04}-xyz"),
            )
        })
        .collect();
    SaltStore::new("first-level-salt".to_owned(), buckets).unwrap()
}

/// Deterministic randomness: a counter (tests only).
pub struct CountingRandom(
    /// The next byte it gives.
    pub u8,
);

impl RandomSource for CountingRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
    }
}
