//! Keys, keysets and immutable key-store snapshots (`wire.md` §5).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
#[cfg(feature = "legacy-v2")]
use std::sync::OnceLock;

#[cfg(feature = "legacy-v2")]
use aes::cipher::KeyInit as _;
use euid_crypto::AesGcmKey;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// The master keyset: its active key encrypts the outer layer of advertising tokens.
pub const MASTER_KEYSET_ID: i32 = -1;
/// The refresh keyset: its active key encrypts refresh tokens and their envelope. Never
/// published to SDKs.
pub const REFRESH_KEYSET_ID: i32 = -2;
/// The publisher fallback keyset (site 2), used for sites without an active key of their own.
pub const FALLBACK_PUBLISHER_KEYSET_ID: i32 = 2;
/// The site id owning the fallback keyset.
pub const FALLBACK_PUBLISHER_SITE_ID: i32 = 2;
/// What `/v2/key/sharing` calls the master keyset, because SDKs assume positive keyset ids.
pub const MASTER_KEYSET_ID_FOR_SDKS: i32 = 9_999_999;

/// Errors building a key store. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// Two keys share an id.
    #[error("duplicate key id {0}")]
    DuplicateKeyId(i32),
    /// Two keysets share an id.
    #[error("duplicate keyset id {0}")]
    DuplicateKeysetId(i32),
    /// A site has more than one enabled default keyset.
    #[error("site {0} has more than one enabled default keyset")]
    DuplicateDefaultKeyset(i32),
    /// A key's secret is not base64 of 32 bytes.
    #[error("key {0}: secret is not base64 of 32 bytes")]
    BadSecret(i32),
    /// A key expires before it activates.
    #[error("key {0}: expires before it activates")]
    BadKeyTimes(i32),
    /// The JSON does not parse or misses a field.
    #[error("{file} is invalid: {reason}")]
    Json {
        /// Which file: `keysets.json` or `keyset_keys.json`.
        file: &'static str,
        /// The parser's message.
        reason: String,
    },
}

/// One key of a keyset. Times are epoch **seconds**, as in `keyset_keys.json`.
///
/// The AES-GCM key schedule is prepared once here; the secret is redacted in `Debug` and
/// zeroized on drop.
pub struct Key {
    /// Globally unique key id.
    pub id: i32,
    /// The keyset the key belongs to.
    pub keyset_id: i32,
    /// Creation time, epoch seconds.
    pub created: i64,
    /// Activation time, epoch seconds.
    pub activates: i64,
    /// Expiry time, epoch seconds; the key is expired when `expires <= now`.
    pub expires: i64,
    secret: AesGcmKey,
    // AES-CBC schedule for legacy v2 tokens, prepared on first use only.
    #[cfg(feature = "legacy-v2")]
    cbc: OnceLock<aes::Aes256>,
}

impl Key {
    /// A key from its fields and prepared secret.
    pub fn new(
        id: i32,
        keyset_id: i32,
        created: i64,
        activates: i64,
        expires: i64,
        secret: AesGcmKey,
    ) -> Self {
        Self {
            id,
            keyset_id,
            created,
            activates,
            expires,
            secret,
            #[cfg(feature = "legacy-v2")]
            cbc: OnceLock::new(),
        }
    }

    /// The prepared AES-256-GCM key.
    pub fn secret(&self) -> &AesGcmKey {
        &self.secret
    }

    /// The prepared AES-256 block cipher for legacy CBC decoding.
    #[cfg(feature = "legacy-v2")]
    pub(crate) fn cbc_cipher(&self) -> &aes::Aes256 {
        self.cbc
            .get_or_init(|| aes::Aes256::new(self.secret.expose_secret().into()))
    }

    /// Whether the key is active at `now_s` (epoch seconds): `activates <= now < expires`.
    pub fn is_active_at(&self, now_s: i64) -> bool {
        self.activates <= now_s && now_s < self.expires
    }

    fn is_active_at_ms(&self, now_ms: i64) -> bool {
        self.activates.saturating_mul(1000) <= now_ms && !self.is_expired_at_ms(now_ms)
    }

    fn is_expired_at_ms(&self, now_ms: i64) -> bool {
        self.expires.saturating_mul(1000) <= now_ms
    }

    /// The key as an entry of a key response's `keys` array, the shape the SDKs parse:
    /// `{"id","created","activates","expires" (epoch s),"secret" (base64)}`, plus `keyset_id`
    /// when given (`/v2/key/sharing` adds it for the caller's own and the master keyset).
    /// Contains the secret.
    pub fn to_sdk_json(&self, keyset_id: Option<i32>) -> serde_json::Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "created": self.created,
            "activates": self.activates,
            "expires": self.expires,
            "secret": self.secret.expose_secret_base64(),
        });
        if let (Some(k), Some(obj)) = (keyset_id, v.as_object_mut()) {
            obj.insert("keyset_id".to_owned(), k.into());
        }
        v
    }
}

impl Clone for Key {
    fn clone(&self) -> Self {
        Self::new(
            self.id,
            self.keyset_id,
            self.created,
            self.activates,
            self.expires,
            self.secret.clone(),
        )
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("keyset_id", &self.keyset_id)
            .field("created", &self.created)
            .field("activates", &self.activates)
            .field("expires", &self.expires)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A keyset: the keys of one site (or a reserved use), as in `keysets.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyset {
    /// Keyset id.
    pub keyset_id: i32,
    /// Owning site id (−1 master, −2 refresh, 2 publisher fallback).
    pub site_id: i32,
    /// Human-readable name.
    pub name: String,
    /// Sites allowed to receive the keys; `None` = unrestricted.
    #[serde(default)]
    pub allowed_sites: Option<Vec<i32>>,
    /// Creation time, epoch seconds.
    pub created: i64,
    /// Whether the keyset is in use.
    pub enabled: bool,
    /// Whether it is its site's default keyset.
    pub default: bool,
}

#[derive(Deserialize)]
struct KeyRecord {
    id: i32,
    keyset_id: i32,
    created: i64,
    activates: i64,
    expires: i64,
    secret: String,
}

impl Drop for KeyRecord {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

#[derive(Serialize)]
struct KeyRecordOut<'a> {
    id: i32,
    keyset_id: i32,
    created: i64,
    activates: i64,
    expires: i64,
    secret: &'a str,
}

/// A cheap hasher for the i32 ids the snapshot is indexed by. The tables are built from the
/// trusted key files only, so lookups of hostile ids cannot make them degrade.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i32(&mut self, n: i32) {
        let x = u64::from(n as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

type IdMap<V> = HashMap<i32, V, BuildHasherDefault<IdHasher>>;

/// An immutable snapshot of keysets and keys. Callers hold it in an `Arc` and swap it
/// atomically on rotation, so readers never wait.
pub struct KeyStore {
    keysets: Vec<Keyset>,
    keys: Vec<Key>,
    key_index: IdMap<usize>,
    keyset_index: IdMap<usize>,
    // keyset id → indexes into `keys`, sorted by `activates` then id.
    by_keyset: IdMap<Vec<usize>>,
    // site id → index into `keysets` of its enabled default keyset.
    site_default: IdMap<usize>,
}

impl KeyStore {
    /// Builds a snapshot. Keys may belong to keysets that are not listed (they are found by
    /// id and by keyset id all the same).
    pub fn new(keysets: Vec<Keyset>, keys: Vec<Key>) -> Result<Self, KeyStoreError> {
        let mut seen = IdMap::default();
        let mut site_default = IdMap::default();
        for (i, ks) in keysets.iter().enumerate() {
            if seen.insert(ks.keyset_id, i).is_some() {
                return Err(KeyStoreError::DuplicateKeysetId(ks.keyset_id));
            }
            if ks.enabled && ks.default && site_default.insert(ks.site_id, i).is_some() {
                return Err(KeyStoreError::DuplicateDefaultKeyset(ks.site_id));
            }
        }
        let mut key_index = IdMap::default();
        key_index.reserve(keys.len());
        let mut by_keyset: IdMap<Vec<usize>> = IdMap::default();
        for (i, k) in keys.iter().enumerate() {
            if k.expires < k.activates {
                return Err(KeyStoreError::BadKeyTimes(k.id));
            }
            if key_index.insert(k.id, i).is_some() {
                return Err(KeyStoreError::DuplicateKeyId(k.id));
            }
            by_keyset.entry(k.keyset_id).or_default().push(i);
        }
        for list in by_keyset.values_mut() {
            list.sort_by_key(|&i| (keys[i].activates, keys[i].id));
        }
        Ok(Self {
            keysets,
            keys,
            key_index,
            keyset_index: seen,
            by_keyset,
            site_default,
        })
    }

    /// Reads the live operator's `keysets.json` (array of keysets) and `keyset_keys.json`
    /// (array of `{id, keyset_id, created, activates, expires, secret}`, times in seconds).
    pub fn from_json(keysets_json: &[u8], keyset_keys_json: &[u8]) -> Result<Self, KeyStoreError> {
        let keysets: Vec<Keyset> =
            serde_json::from_slice(keysets_json).map_err(|e| KeyStoreError::Json {
                file: "keysets.json",
                reason: e.to_string(),
            })?;
        // A parse error message could quote a secret, so it is not passed on verbatim.
        let records: Vec<KeyRecord> =
            serde_json::from_slice(keyset_keys_json).map_err(|e| KeyStoreError::Json {
                file: "keyset_keys.json",
                reason: format!(
                    "{:?} error at line {} column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            })?;
        let mut keys = Vec::with_capacity(records.len());
        for r in &records {
            let secret =
                AesGcmKey::from_base64(&r.secret).map_err(|_| KeyStoreError::BadSecret(r.id))?;
            keys.push(Key::new(
                r.id,
                r.keyset_id,
                r.created,
                r.activates,
                r.expires,
                secret,
            ));
        }
        Self::new(keysets, keys)
    }

    /// Writes both files: (`keysets.json`, `keyset_keys.json`), the inverse of
    /// [`KeyStore::from_json`]. The second contains every secret.
    pub fn to_json(&self) -> (String, Zeroizing<String>) {
        (self.keysets_json(), self.keyset_keys_json())
    }

    /// Writes `keysets.json`.
    pub fn keysets_json(&self) -> String {
        // Serializing plain fields cannot fail.
        serde_json::to_string_pretty(&self.keysets).unwrap_or_default()
    }

    /// Writes `keyset_keys.json`. Contains every secret.
    pub fn keyset_keys_json(&self) -> Zeroizing<String> {
        let secrets: Vec<Zeroizing<String>> = self
            .keys
            .iter()
            .map(|k| Zeroizing::new(k.secret.expose_secret_base64()))
            .collect();
        let records: Vec<KeyRecordOut<'_>> = self
            .keys
            .iter()
            .zip(&secrets)
            .map(|(k, s)| KeyRecordOut {
                id: k.id,
                keyset_id: k.keyset_id,
                created: k.created,
                activates: k.activates,
                expires: k.expires,
                secret: s,
            })
            .collect();
        Zeroizing::new(serde_json::to_string_pretty(&records).unwrap_or_default())
    }

    /// The key with this id, in any keyset (how tokens are decrypted).
    pub fn key_by_id(&self, id: i32) -> Option<&Key> {
        self.key_index.get(&id).and_then(|&i| self.keys.get(i))
    }

    /// The active key of a keyset at `now_ms` (Unix ms): the latest key with
    /// `activates <= now`, stepping back past expired ones.
    pub fn active_key(&self, keyset_id: i32, now_ms: i64) -> Option<&Key> {
        let list = self.by_keyset.get(&keyset_id)?;
        let activated = list.partition_point(|&i| {
            self.keys
                .get(i)
                .is_some_and(|k| k.activates.saturating_mul(1000) <= now_ms)
        });
        list[..activated]
            .iter()
            .rev()
            .filter_map(|&i| self.keys.get(i))
            .find(|k| k.is_active_at_ms(now_ms))
    }

    /// The keyset with this id.
    pub fn keyset(&self, keyset_id: i32) -> Option<&Keyset> {
        self.keyset_index
            .get(&keyset_id)
            .and_then(|&i| self.keysets.get(i))
    }

    /// A site's enabled default keyset.
    pub fn default_keyset_of_site(&self, site_id: i32) -> Option<&Keyset> {
        self.site_default
            .get(&site_id)
            .and_then(|&i| self.keysets.get(i))
    }

    /// The key a site's tokens are encrypted with at `now_ms`: the active key of its default
    /// keyset, else of the publisher fallback (site 2's default keyset, or keyset 2).
    pub fn site_key(&self, site_id: i32, now_ms: i64) -> Option<&Key> {
        self.default_keyset_of_site(site_id)
            .and_then(|ks| self.active_key(ks.keyset_id, now_ms))
            .or_else(|| {
                let fallback = self
                    .default_keyset_of_site(FALLBACK_PUBLISHER_SITE_ID)
                    .map_or(FALLBACK_PUBLISHER_KEYSET_ID, |ks| ks.keyset_id);
                self.active_key(fallback, now_ms)
            })
    }

    /// Every keyset.
    pub fn keysets(&self) -> impl Iterator<Item = &Keyset> {
        self.keysets.iter()
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    /// The keys of one keyset, sorted by activation.
    pub fn keys_of_keyset(&self, keyset_id: i32) -> impl Iterator<Item = &Key> {
        self.by_keyset
            .get(&keyset_id)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.keys.get(i))
    }
}

/// Where a token decoder finds the key for each layer it opens.
///
/// The operator's own [`KeyStore`] scopes keys to their purpose: a refresh envelope and its
/// inner token open only under refresh-keyset keys, an advertising token's outer layer only
/// under master-keyset keys and its inner layer only under site keys (any keyset but the master
/// and refresh ones). A key of the wrong keyset is answered exactly like an unknown id, so a
/// partner holding master or site keys (from `/v2/key/sharing` or `/v2/key/bidstream`) cannot
/// forge a refresh token, and cannot learn which ids exist. Keys are found by id whether
/// active or expired, so tokens minted before a rotation keep opening.
///
/// Key sets an SDK receives carry SDK-facing keyset ids (the master keyset as 9999999,
/// bidstream keys without one); decode against those with [`KeyStore::unscoped`].
pub trait KeyLookup {
    /// A key that may open an advertising token's outer (master) layer.
    fn master_key(&self, id: i32) -> Option<&Key>;
    /// A key that may open an advertising token's inner (site) layer.
    fn site_key(&self, id: i32) -> Option<&Key>;
    /// A key that may open a refresh envelope or an inner refresh token.
    fn refresh_key(&self, id: i32) -> Option<&Key>;
}

impl KeyLookup for KeyStore {
    fn master_key(&self, id: i32) -> Option<&Key> {
        self.key_by_id(id)
            .filter(|k| k.keyset_id == MASTER_KEYSET_ID)
    }

    fn site_key(&self, id: i32) -> Option<&Key> {
        self.key_by_id(id)
            .filter(|k| k.keyset_id != MASTER_KEYSET_ID && k.keyset_id != REFRESH_KEYSET_ID)
    }

    fn refresh_key(&self, id: i32) -> Option<&Key> {
        self.key_by_id(id)
            .filter(|k| k.keyset_id == REFRESH_KEYSET_ID)
    }
}

// Snapshots are shared as `Arc<KeyStore>`; deref coercion does not reach generic parameters.
impl<T: KeyLookup + ?Sized> KeyLookup for std::sync::Arc<T> {
    fn master_key(&self, id: i32) -> Option<&Key> {
        (**self).master_key(id)
    }

    fn site_key(&self, id: i32) -> Option<&Key> {
        (**self).site_key(id)
    }

    fn refresh_key(&self, id: i32) -> Option<&Key> {
        (**self).refresh_key(id)
    }
}

/// A [`KeyStore`] read as an SDK reads a key response: every layer looks keys up by id alone,
/// because the keyset ids there are not the operator's (see [`KeyLookup`]). Made by
/// [`KeyStore::unscoped`]; never use it on the operator's own keys.
#[derive(Debug, Clone, Copy)]
pub struct UnscopedKeys<'a>(&'a KeyStore);

impl KeyLookup for UnscopedKeys<'_> {
    fn master_key(&self, id: i32) -> Option<&Key> {
        self.0.key_by_id(id)
    }

    fn site_key(&self, id: i32) -> Option<&Key> {
        self.0.key_by_id(id)
    }

    fn refresh_key(&self, id: i32) -> Option<&Key> {
        self.0.key_by_id(id)
    }
}

impl KeyStore {
    /// This store read as an SDK reads a key response: keys found by id in any keyset, for
    /// key sets fetched from `/v2/key/sharing` or `/v2/key/bidstream`.
    pub fn unscoped(&self) -> UnscopedKeys<'_> {
        UnscopedKeys(self)
    }
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("keysets", &self.keysets.len())
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i32, keyset_id: i32, activates: i64, expires: i64) -> Key {
        Key::new(
            id,
            keyset_id,
            activates,
            activates,
            expires,
            AesGcmKey::from_bytes([id as u8; 32]),
        )
    }

    fn keyset(keyset_id: i32, site_id: i32, enabled: bool, default: bool) -> Keyset {
        Keyset {
            keyset_id,
            site_id,
            name: String::new(),
            allowed_sites: None,
            created: 0,
            enabled,
            default,
        }
    }

    #[test]
    fn active_key_is_latest_activated_and_steps_back_past_expired() {
        let store = KeyStore::new(
            vec![],
            vec![
                key(1, 5, 100, 1000),
                key(2, 5, 200, 250),
                key(3, 5, 300, 1000),
                key(4, 6, 100, 1000),
            ],
        )
        .unwrap();
        let id = |now_s: i64| store.active_key(5, now_s * 1000).map(|k| k.id);
        assert_eq!(id(99), None);
        assert_eq!(id(100), Some(1));
        assert_eq!(id(200), Some(2));
        // Key 2 expired at 250 (expires <= now): step back to key 1.
        assert_eq!(id(250), Some(1));
        assert_eq!(id(300), Some(3));
        assert_eq!(id(999), Some(3));
        assert_eq!(id(1000), None);
        // Millisecond precision at the boundaries.
        assert_eq!(store.active_key(5, 299_999).map(|k| k.id), Some(1));
        assert_eq!(store.active_key(7, 500_000).map(|k| k.id), None);
        // Rotated-out keys are still found by id.
        assert_eq!(store.key_by_id(2).map(|k| k.keyset_id), Some(5));
        assert!(store.key_by_id(9).is_none());
        assert!(store.key_by_id(2).unwrap().is_active_at(200));
        assert!(!store.key_by_id(2).unwrap().is_active_at(250));
    }

    #[test]
    fn site_key_falls_back_to_site_2() {
        let store = KeyStore::new(
            vec![
                keyset(2, 2, true, true),
                keyset(10, 100, true, true),
                keyset(11, 101, true, true),
                keyset(12, 102, false, true),
            ],
            vec![
                key(1, 2, 0, 1000),
                key(2, 10, 0, 1000),
                key(3, 11, 500, 1000),
                key(4, 12, 0, 1000),
            ],
        )
        .unwrap();
        let site_key = |site: i32, now_s: i64| store.site_key(site, now_s * 1000).map(|k| k.id);
        assert_eq!(site_key(100, 10), Some(2));
        assert_eq!(
            site_key(101, 10),
            Some(1),
            "site 101's key is not active yet"
        );
        assert_eq!(site_key(101, 600), Some(3));
        assert_eq!(
            site_key(102, 10),
            Some(1),
            "disabled keyset is not the site's"
        );
        assert_eq!(site_key(999, 10), Some(1));
        assert_eq!(site_key(100, 1000), None);
        assert_eq!(
            store.default_keyset_of_site(100).map(|k| k.keyset_id),
            Some(10)
        );
        assert!(store.default_keyset_of_site(102).is_none());
    }

    #[test]
    fn rejects_inconsistent_snapshots() {
        assert_eq!(
            KeyStore::new(vec![], vec![key(1, 5, 0, 10), key(1, 6, 0, 10)]).unwrap_err(),
            KeyStoreError::DuplicateKeyId(1)
        );
        assert_eq!(
            KeyStore::new(
                vec![keyset(3, 3, true, true), keyset(3, 4, true, false)],
                vec![]
            )
            .unwrap_err(),
            KeyStoreError::DuplicateKeysetId(3)
        );
        assert_eq!(
            KeyStore::new(
                vec![keyset(3, 9, true, true), keyset(4, 9, true, true)],
                vec![]
            )
            .unwrap_err(),
            KeyStoreError::DuplicateDefaultKeyset(9)
        );
        assert_eq!(
            KeyStore::new(vec![], vec![key(1, 5, 10, 5)]).unwrap_err(),
            KeyStoreError::BadKeyTimes(1)
        );
    }

    const KEYSETS: &str = r#"[
      {"keyset_id": -1, "site_id": -1, "name": "Master keyset", "allowed_sites": [999, 123],
       "created": 1617149276, "enabled": true, "default": true},
      {"keyset_id": -2, "site_id": -2, "name": "Refresh keyset", "allowed_sites": null,
       "created": 1617149276, "enabled": true, "default": true},
      {"keyset_id": 2, "site_id": 2, "name": "Fallback Publisher keyset", "allowed_sites": [],
       "created": 1617149276, "enabled": true, "default": true}
    ]"#;
    const KEYS: &str = r#"[
      {"id": 1, "keyset_id": -1, "secret": "vPdQIoN1nTwXIQoH4/GcHOAct7ymyrGUKXNQhgmq+E8=",
       "created": 1622691044, "activates": 1687635529, "expires": 4088629662},
      {"id": 2, "keyset_id": -2, "secret": "c2yMYeezHfDvZ6haknCFaj0t+eAEJp/C/uh+fUAm1fo=",
       "created": 1633990810, "activates": 1687635529, "expires": 4088629662},
      {"id": 3, "keyset_id": 2, "secret": "RgyxkP4yP1gYhCINq7O9PxM6jX+etPqSQluZxjB1aG8=",
       "created": 1633991166, "activates": 1687635529, "expires": 4088629662}
    ]"#;

    #[test]
    fn reads_and_writes_the_operator_json_files() {
        let store = KeyStore::from_json(KEYSETS.as_bytes(), KEYS.as_bytes()).unwrap();
        assert_eq!(store.keysets().count(), 3);
        assert_eq!(store.keys().count(), 3);
        let master = store.keyset(MASTER_KEYSET_ID).unwrap();
        assert_eq!(master.allowed_sites, Some(vec![999, 123]));
        assert_eq!(store.keyset(REFRESH_KEYSET_ID).unwrap().allowed_sites, None);
        assert_eq!(store.keyset(2).unwrap().allowed_sites, Some(vec![]));
        let k = store.key_by_id(2).unwrap();
        assert_eq!(
            (k.keyset_id, k.created, k.activates, k.expires),
            (-2, 1633990810, 1687635529, 4088629662)
        );
        assert_eq!(
            k.secret().expose_secret_base64(),
            "c2yMYeezHfDvZ6haknCFaj0t+eAEJp/C/uh+fUAm1fo="
        );
        assert_eq!(
            store.active_key(-2, 1_700_000_000_000).map(|k| k.id),
            Some(2)
        );

        let (keysets_json, keys_json) = store.to_json();
        let again = KeyStore::from_json(keysets_json.as_bytes(), keys_json.as_bytes()).unwrap();
        assert_eq!(
            again.keysets().collect::<Vec<_>>(),
            store.keysets().collect::<Vec<_>>()
        );
        for (a, b) in again.keys().zip(store.keys()) {
            assert_eq!(
                (
                    a.id,
                    a.keyset_id,
                    a.created,
                    a.activates,
                    a.expires,
                    a.secret().expose_secret()
                ),
                (
                    b.id,
                    b.keyset_id,
                    b.created,
                    b.activates,
                    b.expires,
                    b.secret().expose_secret()
                )
            );
        }
    }

    #[test]
    fn json_errors_do_not_echo_secrets() {
        let bad = KEYS.replace("\"id\": 3", "\"id\": \"x\"");
        let err = KeyStore::from_json(KEYSETS.as_bytes(), bad.as_bytes()).unwrap_err();
        assert!(matches!(
            err,
            KeyStoreError::Json {
                file: "keyset_keys.json",
                ..
            }
        ));
        let short = KEYS.replace("RgyxkP4yP1gYhCINq7O9PxM6jX+etPqSQluZxjB1aG8=", "c2VjcmV0");
        let err = KeyStore::from_json(KEYSETS.as_bytes(), short.as_bytes()).unwrap_err();
        assert_eq!(err, KeyStoreError::BadSecret(3));
        assert!(!err.to_string().contains("c2VjcmV0"));
        let no_field = KEYS.replace("\"keyset_id\": 2,", "");
        assert!(KeyStore::from_json(KEYSETS.as_bytes(), no_field.as_bytes()).is_err());
        assert!(KeyStore::from_json(b"{}", KEYS.as_bytes()).is_err());
    }

    #[test]
    fn debug_and_sdk_json() {
        let store = KeyStore::from_json(KEYSETS.as_bytes(), KEYS.as_bytes()).unwrap();
        let k = store.key_by_id(1).unwrap();
        let dbg = format!("{k:?} {store:?}");
        assert!(dbg.contains("<redacted>"));
        assert!(!dbg.contains("vPdQIoN1"));
        let j = k.to_sdk_json(None);
        assert_eq!(
            j,
            serde_json::json!({"id": 1, "created": 1622691044, "activates": 1687635529,
                "expires": 4088629662i64, "secret": "vPdQIoN1nTwXIQoH4/GcHOAct7ymyrGUKXNQhgmq+E8="})
        );
        assert_eq!(
            k.to_sdk_json(Some(MASTER_KEYSET_ID_FOR_SDKS))["keyset_id"],
            9_999_999
        );
    }
}
