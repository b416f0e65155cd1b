//! Authenticating API clients: the records of `clients.json` (euid-store's, re-exported
//! here) prepared for bearer-token authentication, API key shapes, and the hash check.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use euid_envelope::ClientSecret;
use euid_store::clients::{api_key_hash, parse_clients_json};
use subtle::ConstantTimeEq as _;

pub(crate) use euid_store::clients::{ClientRecord, ClientsError, Role, RoleSet};

/// The site id in a current-format key (`(?:UID2|EUID)-[CO]-[LTIP]-([0-9]+)-.{6}\..{38}`), if
/// the key has that shape. The random part must also be what the key generator writes:
/// standard base64 of 32 bytes (43 base64 characters and one `=`) with the `.` after the 6th.
pub fn site_id_of_api_key(key: &str) -> Option<i32> {
    let rest = key
        .strip_prefix("EUID-")
        .or_else(|| key.strip_prefix("UID2-"))?;
    let mut bytes = rest.bytes();
    if !matches!(bytes.next(), Some(b'C' | b'O'))
        || bytes.next() != Some(b'-')
        || !matches!(bytes.next(), Some(b'L' | b'T' | b'I' | b'P'))
        || bytes.next() != Some(b'-')
    {
        return None;
    }
    let rest = rest.get(4..)?;
    let dash = rest.find('-')?;
    let digits = &rest[..dash];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let random = &rest.as_bytes()[dash + 1..];
    // `.{6}\..{38}`, where the 44 characters around the dot are base64 of 32 bytes.
    if random.len() != 45
        || random[6] != b'.'
        || random[44] != b'='
        || !random[..6]
            .iter()
            .chain(&random[7..44])
            .all(|b| is_base64_char(*b))
    {
        return None;
    }
    digits.parse().ok()
}

fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Whether `key` looks like a legacy API key (`wire.md` §11: an opaque base64 string, such as
/// `PRODGw…=`): 20 to 100 base64 characters, at most two `=` at the end.
fn is_legacy_key_shape(key: &str) -> bool {
    let body = key.trim_end_matches('=');
    (20..=100).contains(&key.len())
        && key.len() - body.len() <= 2
        && body.bytes().all(is_base64_char)
}

/// Whether a record's `key_id` is that of a current-format key (its prefix plus the first 5
/// random characters): the rest of a well-formed key appended to it parses.
fn is_current_key_id(key_id: &str) -> bool {
    const REST: &str = "A.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    site_id_of_api_key(&format!("{key_id}{REST}")).is_some()
}

/// The API key in an `Authorization` header value: trimmed, then `bearer ` matched
/// case-insensitively with exactly one space (`wire.md` §11).
pub fn bearer_key(header: &str) -> Option<&str> {
    let header = header.trim();
    let prefix = header.get(..7)?;
    if !prefix.eq_ignore_ascii_case("bearer ") {
        return None;
    }
    let key = &header[7..];
    if key.is_empty() || key.starts_with(' ') {
        return None;
    }
    Some(key)
}

/// An authenticated API client, prepared for requests.
pub struct Client {
    /// The publisher site.
    pub site_id: i32,
    /// What the key may do.
    pub roles: RoleSet,
    /// The key's public id (safe to log).
    pub key_id: String,
    /// Human-readable name.
    pub name: String,
    secret: ClientSecret,
    key_hash: [u8; 64],
    key_salt: Vec<u8>,
    disabled: bool,
}

impl Client {
    /// The client secret, prepared as the envelope's AES-256-GCM key.
    pub fn secret(&self) -> &ClientSecret {
        &self.secret
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("key_id", &self.key_id)
            .field("site_id", &self.site_id)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Successful authentications kept per snapshot, so a known key costs a keyed hash and a
/// constant-time compare instead of a salted SHA-512 per candidate (~1 µs). Bounded.
const AUTH_CACHE_MAX: usize = 4096;

struct CachedKey {
    key: zeroize::Zeroizing<String>,
    client: usize,
}

/// All clients of one snapshot, indexed by site for authentication.
#[derive(Default)]
pub struct ClientStore {
    clients: Vec<Client>,
    by_site: HashMap<i32, Vec<usize>>,
    // Records whose key id is not of the current format: the only ones a legacy key can match.
    legacy: Vec<usize>,
    // Salted SHA-512 computations so far: what an unauthenticated caller can make us spend.
    key_hashes: AtomicU64,
    // Keyed by a per-process random SipHash of the key, so lookups leak nothing useful.
    hasher: RandomState,
    cache: RwLock<HashMap<u64, CachedKey>>,
}

impl fmt::Debug for ClientStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientStore")
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

impl ClientStore {
    /// Prepares the records of a `clients.json` file.
    pub fn from_records(records: &[ClientRecord]) -> Result<Self, ClientsError> {
        let mut clients = Vec::with_capacity(records.len());
        let mut by_site: HashMap<i32, Vec<usize>> = HashMap::new();
        let mut legacy = Vec::new();
        for r in records {
            let decoded = r.decode()?;
            let roles: Vec<Role> = r.roles.iter().filter_map(|n| Role::from_name(n)).collect();
            by_site.entry(r.site_id).or_default().push(clients.len());
            if !is_current_key_id(&r.key_id) {
                legacy.push(clients.len());
            }
            clients.push(Client {
                site_id: r.site_id,
                roles: RoleSet::of(&roles),
                key_id: r.key_id.clone(),
                name: r.name.clone(),
                secret: decoded.secret,
                key_hash: decoded.key_hash,
                key_salt: decoded.key_salt,
                disabled: r.disabled,
            });
        }
        Ok(Self {
            clients,
            by_site,
            legacy,
            key_hashes: AtomicU64::new(0),
            hasher: RandomState::new(),
            cache: RwLock::new(HashMap::new()),
        })
    }

    /// Parses a `clients.json` file (a JSON array of [`ClientRecord`]).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ClientsError> {
        Self::from_records(&parse_clients_json(bytes)?)
    }

    /// The enabled client whose key is `api_key`, comparing salted hashes in constant time.
    /// Keys of the current format are only tried against their own site's records, legacy
    /// keys only against legacy records; a value of neither shape is refused before any
    /// hashing, so junk in `Authorization` costs nothing.
    pub fn authenticate(&self, api_key: &str) -> Option<&Client> {
        let candidates = self.candidates(api_key)?;
        let tag = self.hasher.hash_one(api_key);
        if let Ok(cache) = self.cache.read() {
            if let Some(hit) = cache.get(&tag) {
                if bool::from(hit.key.as_bytes().ct_eq(api_key.as_bytes())) {
                    return self.clients.get(hit.client);
                }
            }
        }
        let client = self.authenticate_uncached(api_key, candidates)?;
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() < AUTH_CACHE_MAX {
                cache.insert(
                    tag,
                    CachedKey {
                        key: zeroize::Zeroizing::new(api_key.to_owned()),
                        client,
                    },
                );
            }
        }
        self.clients.get(client)
    }

    /// The records `api_key` could belong to, by its shape; `None` when it has no key shape.
    fn candidates(&self, api_key: &str) -> Option<&[usize]> {
        match site_id_of_api_key(api_key) {
            Some(site) => Some(
                self.by_site
                    .get(&site)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ),
            None if is_legacy_key_shape(api_key) && !self.legacy.is_empty() => Some(&self.legacy),
            None => None,
        }
    }

    fn authenticate_uncached(&self, api_key: &str, candidates: &[usize]) -> Option<usize> {
        let mut found = None;
        for &i in candidates {
            let Some(client) = self.clients.get(i) else {
                continue;
            };
            self.key_hashes.fetch_add(1, Ordering::Relaxed);
            let hash = api_key_hash(&client.key_salt, api_key);
            if bool::from(hash.ct_eq(&client.key_hash)) && found.is_none() {
                found = Some((i, client));
            }
        }
        found.filter(|(_, c)| !c.disabled).map(|(i, _)| i)
    }

    /// How many salted key hashes authentication has computed so far: the work a caller can
    /// make the operator do with `Authorization` values (a cache hit computes none).
    pub fn key_hashes_computed(&self) -> u64 {
        self.key_hashes.load(Ordering::Relaxed)
    }

    /// Number of clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether there are no clients.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use euid_crypto::BatchedOsRandom;
    use euid_store::clients::new_client;

    #[test]
    fn new_keys_have_the_live_format_and_authenticate() {
        let mut rng = BatchedOsRandom::new();
        let a = new_client(999, "a", RoleSet::ALL, 1, &mut rng);
        let b = new_client(999, "b", RoleSet::of(&[Role::Mapper]), 1, &mut rng);
        assert!(a.api_key.starts_with("EUID-C-L-999-"));
        assert_eq!(a.api_key.len(), "EUID-C-L-999-".len() + 45);
        assert_eq!(site_id_of_api_key(&a.api_key), Some(999));
        assert_eq!(a.record.key_id, a.api_key[..a.api_key.len() - 40]);
        assert!(!serde_json::to_string(&a.record)
            .unwrap()
            .contains(&a.api_key));
        let store = ClientStore::from_records(&[a.record.clone(), b.record.clone()]).unwrap();
        assert_eq!(
            store.authenticate(&a.api_key).unwrap().key_id,
            a.record.key_id
        );
        assert_eq!(
            store.authenticate(&b.api_key).unwrap().roles,
            RoleSet::of(&[Role::Mapper])
        );
        let mut wrong = a.api_key.clone();
        wrong.pop();
        wrong.push('x');
        assert!(store.authenticate(&wrong).is_none());
        assert!(store.authenticate("legacy-opaque-key").is_none());
        // Cached answers are the same as the first ones, and failures are not cached.
        for _ in 0..3 {
            assert_eq!(
                store.authenticate(&a.api_key).unwrap().key_id,
                a.record.key_id
            );
            assert_eq!(store.authenticate(&b.api_key).unwrap().name, "b");
            assert!(store.authenticate(&wrong).is_none());
        }
        assert_eq!(store.cache.read().unwrap().len(), 2);
    }

    #[test]
    fn legacy_keys_are_tried_against_legacy_records_and_disabled_keys_refused() {
        let salt = [7u8; 32];
        let key = "PRODlegacyOpaqueKey=";
        let mut rng = BatchedOsRandom::new();
        let mut rec = new_client(5, "legacy", RoleSet::ALL, 0, &mut rng).record;
        let current = new_client(6, "current", RoleSet::ALL, 0, &mut rng).record;
        rec.key_salt = STANDARD.encode(salt);
        rec.key_hash = STANDARD.encode(api_key_hash(&salt, key));
        rec.key_id = "PRODl".to_owned();
        let store = ClientStore::from_records(&[rec.clone(), current]).unwrap();
        assert_eq!(store.authenticate(key).unwrap().site_id, 5);
        // Only the one legacy record was hashed against, not the current-format one.
        assert_eq!(store.key_hashes_computed(), 1);
        rec.disabled = true;
        let store = ClientStore::from_records(&[rec]).unwrap();
        assert!(store.authenticate(key).is_none());
    }

    #[test]
    fn bearer_header_rules() {
        assert_eq!(bearer_key("Bearer abc"), Some("abc"));
        assert_eq!(bearer_key("  bEaReR abc  "), Some("abc"));
        assert_eq!(bearer_key("Bearer  abc"), None);
        assert_eq!(bearer_key("Bearer"), None);
        assert_eq!(bearer_key("Basic abc"), None);
        assert_eq!(bearer_key("Bearer "), None);
    }

    #[test]
    fn site_parse_rejects_wrong_shapes() {
        let good = format!("EUID-C-P-12-a+/Z09.{}=", "b".repeat(37));
        assert_eq!(site_id_of_api_key(&good), Some(12));
        // The random part is base64: no other characters, the padding only at the end.
        assert_eq!(site_id_of_api_key(&good.replacen('b', "-", 1)), None);
        assert_eq!(site_id_of_api_key(&good.replacen('b', "\u{e9}", 1)), None);
        assert_eq!(site_id_of_api_key(&good.replace('=', "b")), None);
        assert_eq!(
            site_id_of_api_key(&format!("EUID-C-P-99999999999-{}", &good[12..])),
            None
        );
        assert_eq!(site_id_of_api_key(&good.replace("-P-", "-X-")), None);
        assert_eq!(site_id_of_api_key(&good.replace("-12-", "--")), None);
        assert_eq!(site_id_of_api_key(&good[..good.len() - 1]), None);
        assert_eq!(site_id_of_api_key("EUID-C-L-1"), None);
    }

    #[test]
    fn values_without_a_key_shape_are_refused_before_any_hashing() {
        let mut rng = BatchedOsRandom::new();
        let a = new_client(7, "a", RoleSet::ALL, 0, &mut rng);
        let b = new_client(8, "b", RoleSet::ALL, 0, &mut rng);
        let store = ClientStore::from_records(&[a.record.clone(), b.record]).unwrap();
        let long = "A".repeat(10_000);
        let junk = [
            "",
            "x",
            "PRODlegacyOpaqueKey=",
            "' OR 1=1 --",
            long.as_str(),
            &a.api_key[..a.api_key.len() - 1],
            &a.api_key.replace('.', "-"),
        ];
        for value in junk {
            assert!(store.authenticate(value).is_none(), "{value}");
        }
        assert_eq!(store.key_hashes_computed(), 0);
        // A well-formed key is tried against its own site's one record, and then cached.
        assert!(store.authenticate(&a.api_key).is_some());
        assert!(store.authenticate(&a.api_key).is_some());
        assert_eq!(store.key_hashes_computed(), 1);
        assert!(is_current_key_id(&a.record.key_id));
        assert!(!is_current_key_id("PRODl"));
    }

    #[test]
    fn parse_errors_do_not_quote_secrets() {
        let mut rng = BatchedOsRandom::new();
        let rec = new_client(9, "x", RoleSet::ALL, 0, &mut rng).record;
        let mut json = serde_json::to_value([&rec]).unwrap();
        json[0]["site_id"] = serde_json::Value::String(rec.secret.clone());
        let err = ClientStore::from_json(json.to_string().as_bytes()).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(&rec.secret), "{shown}");
            assert!(shown.contains("line 1 column"), "{shown}");
        }
    }

    #[test]
    fn unknown_roles_grant_nothing_and_debug_hides_secrets() {
        let mut rng = BatchedOsRandom::new();
        let mut rec = new_client(9, "x", RoleSet::default(), 0, &mut rng).record;
        rec.roles = vec!["CLIENTKEY_ISSUER".into(), "SHARER".into()];
        let dbg = format!("{rec:?}");
        assert!(!dbg.contains(&rec.secret) && !dbg.contains(&rec.key_hash));
        let store = ClientStore::from_records(&[rec]).unwrap();
        assert_eq!(store.clients[0].roles, RoleSet::of(&[Role::Sharer]));
    }
}
