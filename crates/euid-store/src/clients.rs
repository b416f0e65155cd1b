//! API clients as stored: the `clients.json` records (live operator field names, `wire.md`
//! §11), roles, and making a new client with a fresh API key. Authenticating a request
//! against them is the operator's (its `ClientStore`).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::RandomSource;
use euid_envelope::ClientSecret;
use ring::digest;
use serde::{Deserialize, Serialize};

use crate::error::json_error_position;

/// A permission an API key can hold (the live operator's role names, SH `auth/Role.java`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// May generate and validate tokens.
    Generator,
    /// May map identities and query opt-out status.
    Mapper,
    /// May fetch bidstream and sharing keys (a DSP).
    IdReader,
    /// May fetch sharing keys.
    Sharer,
    /// May record opt-outs (`/v2/token/logout`).
    Optout,
}

impl Role {
    /// Every role, in the order written to `clients.json`.
    pub const ALL: [Self; 5] = [
        Self::Generator,
        Self::Mapper,
        Self::IdReader,
        Self::Sharer,
        Self::Optout,
    ];

    /// The role's name in `clients.json`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Generator => "GENERATOR",
            Self::Mapper => "MAPPER",
            Self::IdReader => "ID_READER",
            Self::Sharer => "SHARER",
            Self::Optout => "OPTOUT",
        }
    }

    /// The role for a name; `None` for roles this operator does not use (they are kept
    /// in the file but grant nothing here).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of roles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoleSet(u8);

impl RoleSet {
    /// Every role.
    pub const ALL: Self = Self(0b1_1111);

    /// The set of the given roles.
    pub fn of(roles: &[Role]) -> Self {
        Self(roles.iter().fold(0, |acc, r| acc | r.bit()))
    }

    /// Whether `role` is in the set.
    pub const fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether any of `roles` is in the set.
    pub fn contains_any(self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.contains(*r))
    }

    /// The roles' names, for `clients.json`.
    pub fn names(self) -> Vec<String> {
        Role::ALL
            .into_iter()
            .filter(|r| self.contains(*r))
            .map(|r| r.name().to_owned())
            .collect()
    }
}

/// One record of `clients.json`, in the live operator's format (`wire.md` §11): the API key
/// itself is never stored, only `key_hash` = base64(SHA-512(salt ‖ key)) and `key_salt`.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientRecord {
    /// base64(SHA-512(key_salt bytes ‖ UTF-8 API key)).
    pub key_hash: String,
    /// base64 of 32 random bytes.
    pub key_salt: String,
    /// The client secret: base64 of 32 bytes, the envelope's AES-256-GCM key.
    pub secret: String,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Contact for the key's owner.
    #[serde(default)]
    pub contact: String,
    /// Creation time, epoch seconds.
    #[serde(default)]
    pub created: i64,
    /// Role names (unknown names are kept and ignored).
    #[serde(default)]
    pub roles: Vec<String>,
    /// The publisher site written into tokens.
    pub site_id: i32,
    /// A disabled key is refused (401).
    #[serde(default)]
    pub disabled: bool,
    /// Service id (0 when none).
    #[serde(default)]
    pub service_id: i32,
    /// The key's public id: its prefix plus the first 5 random characters.
    #[serde(default)]
    pub key_id: String,
}

impl fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRecord")
            .field("key_id", &self.key_id)
            .field("name", &self.name)
            .field("site_id", &self.site_id)
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A record's credentials, decoded: what authenticating against it needs.
pub struct DecodedCredentials {
    /// The client secret, prepared as the envelope's AES-256-GCM key.
    pub secret: ClientSecret,
    /// SHA-512(key_salt ‖ API key).
    pub key_hash: [u8; 64],
    /// The key salt's bytes.
    pub key_salt: Vec<u8>,
}

impl fmt::Debug for DecodedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DecodedCredentials { .. }")
    }
}

impl ClientRecord {
    /// Decodes the secret (base64 of 32 bytes, surrounding whitespace ignored), the key
    /// hash (base64 of 64 bytes) and the key salt (base64). The error names the record by
    /// its key id, never its secrets.
    pub fn decode(&self) -> Result<DecodedCredentials, ClientsError> {
        let bad = |what| ClientsError::Record {
            key_id: self.key_id.clone(),
            what,
        };
        let secret = ClientSecret::from_base64(&self.secret)
            .map_err(|_| bad("secret must be base64 of 32 bytes"))?;
        let hash = STANDARD
            .decode(&self.key_hash)
            .map_err(|_| bad("key_hash is not base64"))?;
        let key_hash: [u8; 64] = hash
            .try_into()
            .map_err(|_| bad("key_hash must be 64 bytes"))?;
        let key_salt = STANDARD
            .decode(&self.key_salt)
            .map_err(|_| bad("key_salt is not base64"))?;
        Ok(DecodedCredentials {
            secret,
            key_hash,
            key_salt,
        })
    }

    /// Whether the record's fields decode (see [`ClientRecord::decode`]): a store hands out
    /// only records that pass.
    pub fn check(&self) -> Result<(), ClientsError> {
        self.decode().map(drop)
    }
}

/// Why `clients.json` (or one of its records) is not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientsError {
    /// Not a JSON array of client records: the parse error's kind and position (never
    /// serde's message, which can quote a secret).
    #[error("clients.json is not valid: {0}")]
    Json(String),
    /// A record has a bad field (the record is named by its key id, never its secrets).
    #[error("clients.json record {key_id:?}: {what}")]
    Record {
        /// The record's key id.
        key_id: String,
        /// What is wrong.
        what: &'static str,
    },
}

/// Parses a `clients.json` file (a JSON array of [`ClientRecord`]); the records' fields are
/// not checked (see [`ClientRecord::check`]).
pub fn parse_clients_json(bytes: &[u8]) -> Result<Vec<ClientRecord>, ClientsError> {
    serde_json::from_slice(bytes).map_err(|e| ClientsError::Json(json_error_position(&e)))
}

/// A newly created client: the record to store and the credentials to hand out once.
pub struct NewClient {
    /// What goes into `clients.json`.
    pub record: ClientRecord,
    /// The API key (`EUID-C-L-<site>-xxxxxx.xxxx…`); shown once, never stored.
    pub api_key: String,
    /// The client secret, base64 (also in the record).
    pub client_secret: String,
}

impl fmt::Debug for NewClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewClient")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// Creates a client with a fresh API key (format of `wire.md` §11, environment `L`), key
/// salt and client secret.
pub fn new_client(
    site_id: i32,
    name: &str,
    roles: RoleSet,
    created_s: i64,
    rng: &mut impl RandomSource,
) -> NewClient {
    let mut random = [0u8; 32];
    rng.fill(&mut random);
    let encoded = STANDARD.encode(random);
    let prefix = format!("EUID-C-L-{site_id}-");
    // The live format inserts a '.' after the 6th random character.
    let api_key = format!("{prefix}{}.{}", &encoded[..6], &encoded[6..]);
    let key_id = format!("{prefix}{}", &encoded[..5]);
    let mut salt = [0u8; 32];
    rng.fill(&mut salt);
    let mut secret = [0u8; 32];
    rng.fill(&mut secret);
    let client_secret = STANDARD.encode(secret);
    let record = ClientRecord {
        key_hash: STANDARD.encode(api_key_hash(&salt, &api_key)),
        key_salt: STANDARD.encode(salt),
        secret: client_secret.clone(),
        name: name.to_owned(),
        contact: String::new(),
        created: created_s,
        roles: roles.names(),
        site_id,
        disabled: false,
        service_id: 0,
        key_id,
    };
    NewClient {
        record,
        api_key,
        client_secret,
    }
}

/// SHA-512(salt ‖ UTF-8 API key): what `key_hash` holds, base64-encoded.
pub fn api_key_hash(salt: &[u8], api_key: &str) -> [u8; 64] {
    let mut ctx = digest::Context::new(&digest::SHA512);
    ctx.update(salt);
    ctx.update(api_key.as_bytes());
    let mut out = [0u8; 64];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use euid_crypto::BatchedOsRandom;

    #[test]
    fn new_records_check_and_never_hold_the_key() {
        let mut rng = BatchedOsRandom::new();
        let a = new_client(999, "a", RoleSet::ALL, 1, &mut rng);
        assert!(a.api_key.starts_with("EUID-C-L-999-"));
        assert_eq!(a.record.key_id, a.api_key[..a.api_key.len() - 40]);
        assert!(!serde_json::to_string(&a.record)
            .unwrap()
            .contains(&a.api_key));
        let decoded = a.record.decode().unwrap();
        assert_eq!(
            decoded.key_hash,
            api_key_hash(&decoded.key_salt, &a.api_key)
        );
        assert_eq!(RoleSet::ALL.names().len(), Role::ALL.len());
        assert_eq!(Role::from_name("ID_READER"), Some(Role::IdReader));
        assert_eq!(Role::from_name("CLIENTKEY_ISSUER"), None);
    }

    #[test]
    fn bad_records_are_named_by_key_id_only() {
        let mut rng = BatchedOsRandom::new();
        let good = new_client(9, "x", RoleSet::ALL, 0, &mut rng).record;
        let mut short = good.clone();
        short.secret = STANDARD.encode([1u8; 16]);
        let mut hash = good.clone();
        hash.key_hash = "not base64!".to_owned();
        let mut salt = good.clone();
        salt.key_salt = "%%%".to_owned();
        for bad in [short, hash, salt] {
            let err = bad.check().unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(shown.contains(&good.key_id), "{shown}");
                assert!(!shown.contains(&good.secret), "{shown}");
                assert!(!shown.contains(&bad.secret), "{shown}");
            }
        }
    }

    #[test]
    fn parse_errors_do_not_quote_secrets() {
        let mut rng = BatchedOsRandom::new();
        let rec = new_client(9, "x", RoleSet::ALL, 0, &mut rng).record;
        let mut json = serde_json::to_value([&rec]).unwrap();
        json[0]["site_id"] = serde_json::Value::String(rec.secret.clone());
        let err = parse_clients_json(json.to_string().as_bytes()).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(&rec.secret), "{shown}");
            assert!(shown.contains("line 1 column"), "{shown}");
        }
    }
}
