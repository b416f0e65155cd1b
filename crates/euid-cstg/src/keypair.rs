use std::collections::HashMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::RandomSource;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use p256::{PublicKey, SecretKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::ecdh::StaticKey;
use crate::error::KeypairError;

/// Prefix of a published server public key: the SDK strips the first 9 characters.
pub const PUBLIC_KEY_PREFIX: &str = "EUID-X-L-";
/// Prefix of a stored server private key.
pub const PRIVATE_KEY_PREFIX: &str = "EUID-Y-L-";
const PREFIX_LEN: usize = 9;

/// A site's client-side token generation keypair: the server's static P-256 key that
/// browsers agree an AES key with, and who may use it.
///
/// `Debug` shows no key material.
#[derive(Clone)]
pub struct ServerKeypair {
    /// The id the SDK sends as `subscription_id`.
    pub subscription_id: String,
    /// The publisher site the tokens are issued for.
    pub site_id: i32,
    /// Hosts allowed in the `Origin` header (subdomains included), compared case-insensitively.
    pub domain_names: Vec<String>,
    /// Mobile app names allowed in `app_name`, compared case-insensitively.
    pub app_names: Vec<String>,
    /// A disabled keypair answers 401.
    pub disabled: bool,
    /// Creation time, epoch seconds.
    pub created: i64,
    /// Free-text name.
    pub name: String,
    /// Free-text contact.
    pub contact: String,
    key: StaticKey,
    public: PublicKey,
    public_key_text: String,
    private_key_prefix: String,
}

impl fmt::Debug for ServerKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKeypair")
            .field("subscription_id", &self.subscription_id)
            .field("site_id", &self.site_id)
            .field("domain_names", &self.domain_names)
            .field("app_names", &self.app_names)
            .field("disabled", &self.disabled)
            .field("public_key", &self.public_key_text)
            .finish_non_exhaustive()
    }
}

/// A P-256 secret key from random bytes, retrying the (2^-32-rare) out-of-range draws.
pub(crate) fn random_secret_key(rng: &mut impl RandomSource) -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes);
        let key = SecretKey::from_slice(&bytes);
        bytes.zeroize();
        if let Ok(key) = key {
            return key;
        }
    }
}

/// A random server key, prepared for the ECDH backends (retrying as above).
fn random_static_key(rng: &mut impl RandomSource) -> StaticKey {
    loop {
        if let Some(key) = StaticKey::new(random_secret_key(rng)) {
            return key;
        }
    }
}

/// base64 of the SubjectPublicKeyInfo DER of a P-256 public key.
pub(crate) fn spki_base64(public: &PublicKey) -> String {
    // Encoding a valid point as SPKI cannot fail; fall back to an empty string rather than panic.
    public
        .to_public_key_der()
        .map(|der| STANDARD.encode(der.as_bytes()))
        .unwrap_or_default()
}

/// Parses base64 SPKI DER of a P-256 public key.
pub(crate) fn parse_spki_base64(text: &str) -> Option<PublicKey> {
    let der = STANDARD.decode(text).ok()?;
    PublicKey::from_public_key_der(&der).ok()
}

fn has_prefix(text: &str, kind: char) -> bool {
    let b = text.as_bytes();
    b.len() > PREFIX_LEN
        && b.get(4) == Some(&b'-')
        && b.get(5) == Some(&(kind as u8))
        && b.get(6) == Some(&b'-')
        && b.get(8) == Some(&b'-')
        && text.is_char_boundary(PREFIX_LEN)
}

impl ServerKeypair {
    /// Generates a new keypair with the `EUID-X-L-` / `EUID-Y-L-` prefixes.
    pub fn generate(
        subscription_id: impl Into<String>,
        site_id: i32,
        domain_names: Vec<String>,
        app_names: Vec<String>,
        created: i64,
        rng: &mut impl RandomSource,
    ) -> Self {
        let key = random_static_key(rng);
        let public = key.secret().public_key();
        let public_key_text = format!("{PUBLIC_KEY_PREFIX}{}", spki_base64(&public));
        Self {
            subscription_id: subscription_id.into(),
            site_id,
            domain_names,
            app_names,
            disabled: false,
            created,
            name: String::new(),
            contact: String::new(),
            key,
            public,
            public_key_text,
            private_key_prefix: PRIVATE_KEY_PREFIX.to_owned(),
        }
    }

    /// The published server public key, `EUID-X-L-` + base64 SPKI DER: what a publisher
    /// passes to the SDK as `serverPublicKey`.
    pub fn public_key_text(&self) -> &str {
        &self.public_key_text
    }

    /// The server's P-256 public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn static_key(&self) -> &StaticKey {
        &self.key
    }

    fn from_record(mut record: KeypairRecord) -> Result<Self, KeypairError> {
        let id = record.subscription_id.clone();
        let secret =
            private_from_text(&record.private_key).ok_or_else(|| KeypairError::PrivateKey {
                subscription_id: id.clone(),
            });
        let private_key_prefix = record
            .private_key
            .get(..PREFIX_LEN)
            .unwrap_or("")
            .to_owned();
        record.private_key.zeroize();
        let key = secret?;
        if !has_prefix(&record.public_key, 'X') {
            return Err(KeypairError::PublicKey {
                subscription_id: id,
            });
        }
        let public = record
            .public_key
            .get(PREFIX_LEN..)
            .and_then(parse_spki_base64)
            .ok_or_else(|| KeypairError::PublicKey {
                subscription_id: id.clone(),
            })?;
        if key.secret().public_key() != public {
            return Err(KeypairError::Mismatch {
                subscription_id: id,
            });
        }
        Ok(Self {
            subscription_id: record.subscription_id,
            site_id: record.site_id,
            domain_names: record.domain_names,
            app_names: record.app_names,
            disabled: record.disabled,
            created: record.created,
            name: record.name,
            contact: record.contact,
            key,
            public,
            public_key_text: record.public_key,
            private_key_prefix,
        })
    }

    fn to_record(&self) -> KeypairRecord {
        let der = self
            .key
            .secret()
            .to_pkcs8_der()
            .map(|d| STANDARD.encode(d.as_bytes()));
        KeypairRecord {
            subscription_id: self.subscription_id.clone(),
            public_key: self.public_key_text.clone(),
            private_key: format!("{}{}", self.private_key_prefix, der.unwrap_or_default()),
            site_id: self.site_id,
            created: self.created,
            disabled: self.disabled,
            name: self.name.clone(),
            contact: self.contact.clone(),
            domain_names: self.domain_names.clone(),
            app_names: self.app_names.clone(),
        }
    }
}

fn private_from_text(text: &str) -> Option<StaticKey> {
    if !has_prefix(text, 'Y') {
        return None;
    }
    let mut der = STANDARD.decode(text.get(PREFIX_LEN..)?).ok()?;
    let key = SecretKey::from_pkcs8_der(&der).ok();
    der.zeroize();
    StaticKey::new(key?)
}

/// One element of `client_side_keypairs.json`.
#[derive(Serialize, Deserialize)]
struct KeypairRecord {
    subscription_id: String,
    public_key: String,
    private_key: String,
    site_id: i32,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    name: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    domain_names: Vec<String>,
    #[serde(default)]
    app_names: Vec<String>,
}

/// All client-side keypairs, looked up by subscription id: the contents of the data
/// dir's `client_side_keypairs.json` (a JSON array of keypair objects).
#[derive(Debug, Clone, Default)]
pub struct KeypairStore {
    order: Vec<String>,
    by_id: HashMap<String, ServerKeypair>,
}

impl KeypairStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a `client_side_keypairs.json` file.
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeypairError> {
        let records: Vec<KeypairRecord> = serde_json::from_slice(bytes).map_err(|e| {
            // serde's messages can quote values (a private key here): position only.
            KeypairError::Json(format!("line {}, column {}", e.line(), e.column()))
        })?;
        let mut store = Self::new();
        for record in records {
            store.insert(ServerKeypair::from_record(record)?)?;
        }
        Ok(store)
    }

    /// Serializes the store as a pretty JSON array (private keys included: this is the data file).
    pub fn to_json_pretty(&self) -> String {
        let records: Vec<KeypairRecord> = self.iter().map(ServerKeypair::to_record).collect();
        serde_json::to_string_pretty(&records).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Adds a keypair; a second one with the same subscription id is refused.
    pub fn insert(&mut self, keypair: ServerKeypair) -> Result<(), KeypairError> {
        if self.by_id.contains_key(&keypair.subscription_id) {
            return Err(KeypairError::Duplicate(keypair.subscription_id));
        }
        self.order.push(keypair.subscription_id.clone());
        self.by_id.insert(keypair.subscription_id.clone(), keypair);
        Ok(())
    }

    /// The keypair with this subscription id.
    pub fn get(&self, subscription_id: &str) -> Option<&ServerKeypair> {
        self.by_id.get(subscription_id)
    }

    /// The keypairs in file order.
    pub fn iter(&self) -> impl Iterator<Item = &ServerKeypair> {
        self.order.iter().filter_map(|id| self.by_id.get(id))
    }

    /// Number of keypairs.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are no keypairs.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// A fresh 10-character alphanumeric subscription id (the shape the SDK's docs show).
pub fn generate_subscription_id(rng: &mut impl RandomSource) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(10);
    while out.len() < 10 {
        let mut b = [0u8; 1];
        rng.fill(&mut b);
        // Rejection sampling keeps the characters uniform: 248 = 4 * 62.
        if b[0] < 248 {
            out.push(char::from(ALPHABET[usize::from(b[0] % 62)]));
        }
    }
    out
}
