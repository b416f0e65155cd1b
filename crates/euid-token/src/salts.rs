//! Salt snapshots: the first-level salt and the bucket table (`wire.md` §3), read from and
//! written to the live operator's `metadata.json` + salts CSV files.
//!
//! A salts CSV line has the live operator's eleven columns
//! `id,lastUpdated,currentSalt,refreshFrom,previousSalt,curKeyId,curKey,curKeySalt,prevKeyId,prevKey,prevKeySalt`;
//! files written before the key-material columns existed (three or five columns) still load.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::hashids::BucketIdEncoder;

/// The salt bucket index of a first-level hash: 20 bits from its first bytes (`wire.md` §3),
/// modulo the number of buckets.
pub fn bucket_index(first_level_hash: &[u8; 32], bucket_count: usize) -> usize {
    let raw = (usize::from(first_level_hash[0]) << 12)
        | (usize::from(first_level_hash[1]) << 4)
        | usize::from(first_level_hash[2] & 0x0F);
    raw % bucket_count.max(1)
}

/// Number of salt buckets in production; smaller tables are allowed (the index wraps).
pub const PRODUCTION_BUCKET_COUNT: usize = 1 << 20;

/// Minimum length of a Hashids bucket id (before the prefix), as the live operator uses.
const BUCKET_ID_MIN_LENGTH: usize = 9;

/// The largest key id of salt key material: key ids are written as 3 bytes in v4 raw UIDs.
pub const MAX_SALT_KEY_ID: u32 = 0x00FF_FFFF;

/// Length of a salt key material's `key` text: its bytes are the AES-256 key.
pub const SALT_KEY_LEN: usize = 32;

/// Number of columns of a salts CSV line as the live operator writes it.
const CSV_COLUMNS: usize = 11;

/// Errors loading or building a salt snapshot. Never contains salt text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaltError {
    /// The first-level salt is empty.
    #[error("first-level salt is empty")]
    EmptyFirstLevelSalt,
    /// There are no buckets.
    #[error("salt table has no buckets")]
    NoBuckets,
    /// A bucket has neither a current salt nor current key material.
    #[error("salt bucket {id} has no current salt")]
    MissingCurrentSalt {
        /// The bucket's numeric id.
        id: i64,
    },
    /// A bucket's key material is unusable: a key id above 24 bits, a key that is not
    /// 32 ASCII characters, or an empty salt (or a comma or whitespace in either text, which
    /// the salts file could not hold).
    #[error("salt bucket {id} has invalid key material: {reason}")]
    BadKeyMaterial {
        /// The bucket's numeric id.
        id: i64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A rotation fraction outside `0.0..=1.0` (or not a number).
    #[error("salt rotation fraction must be between 0 and 1")]
    BadRotationFraction,
    /// The table is too large to index.
    #[error("salt table too large")]
    TooLarge,
    /// The metadata JSON does not parse or misses a field.
    #[error("salt metadata is invalid: {0}")]
    Metadata(String),
    /// A line of the salts CSV is malformed.
    #[error("salts file line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Salt key material of a bucket (the live operator's `KeyMaterial`): what a v4 raw UID is
/// made from instead of a salt (`wire.md` §3 item 4).
///
/// Secret: redacted in `Debug` and wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SaltKeyMaterial {
    /// Key id, at most [`MAX_SALT_KEY_ID`] (24 bits).
    pub id: u32,
    /// The key text: [`SALT_KEY_LEN`] ASCII characters whose bytes are the AES-256 key.
    pub key: String,
    /// The salt text hashed into the v4 raw UID's IV.
    pub salt: String,
}

impl SaltKeyMaterial {
    /// Key material from its three fields (checked when a [`SaltStore`] is built).
    pub fn new(id: u32, key: impl Into<String>, salt: impl Into<String>) -> Self {
        Self {
            id,
            key: key.into(),
            salt: salt.into(),
        }
    }
}

impl Drop for SaltKeyMaterial {
    fn drop(&mut self) {
        self.key.zeroize();
        self.salt.zeroize();
    }
}

impl std::fmt::Debug for SaltKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltKeyMaterial")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .field("salt", &"<redacted>")
            .finish()
    }
}

/// One salt bucket, as built by callers or read from a line of the salts file.
///
/// A bucket has a current salt (v2/v3 raw UIDs) or, with an empty `current_salt`, current key
/// material (v4 raw UIDs). The salts and keys are secrets: they are redacted in `Debug` and
/// wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SaltBucket {
    /// Numeric bucket id (the salts file's first column).
    pub id: i64,
    /// When the current salt was set, Unix ms.
    pub last_updated: i64,
    /// The current salt text, used as-is (not decoded) in raw UID derivation; empty when the
    /// bucket uses `current_key` instead.
    pub current_salt: String,
    /// When identity-map clients should refresh, Unix ms, if given.
    pub refresh_from: Option<i64>,
    /// The salt before the current one, if given.
    pub previous_salt: Option<String>,
    /// The current key material, for buckets without a current salt.
    pub current_key: Option<SaltKeyMaterial>,
    /// The key material before the current one, if any.
    pub previous_key: Option<SaltKeyMaterial>,
}

impl SaltBucket {
    /// A bucket with only the three mandatory fields.
    pub fn new(id: i64, last_updated: i64, current_salt: impl Into<String>) -> Self {
        Self {
            id,
            last_updated,
            current_salt: current_salt.into(),
            refresh_from: None,
            previous_salt: None,
            current_key: None,
            previous_key: None,
        }
    }

    /// A bucket that uses key material instead of a salt (v4 raw UIDs).
    pub fn with_key_material(id: i64, last_updated: i64, current_key: SaltKeyMaterial) -> Self {
        let mut bucket = Self::new(id, last_updated, String::new());
        bucket.current_key = Some(current_key);
        bucket
    }
}

impl Drop for SaltBucket {
    fn drop(&mut self) {
        self.current_salt.zeroize();
        if let Some(p) = self.previous_salt.as_mut() {
            p.zeroize();
        }
        // The key material wipes itself.
    }
}

impl std::fmt::Debug for SaltBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltBucket")
            .field("id", &self.id)
            .field("last_updated", &self.last_updated)
            .field("current_salt", &"<redacted>")
            .field("refresh_from", &self.refresh_from)
            .field(
                "previous_salt",
                &self.previous_salt.as_ref().map(|_| "<redacted>"),
            )
            .field("current_key", &self.current_key)
            .field("previous_key", &self.previous_key)
            .finish()
    }
}

/// A byte range in the salt arena.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

/// Key material whose texts live in the arena.
#[derive(Clone, Copy)]
struct KeySpans {
    id: u32,
    key: Span,
    salt: Span,
}

/// A bucket's current and previous key material.
#[derive(Clone, Copy)]
struct KeyPair {
    current: Option<KeySpans>,
    previous: Option<KeySpans>,
}

/// A compact bucket; the salt texts live in one shared arena so a million buckets are not
/// two million small allocations.
#[derive(Clone, Copy)]
struct Entry {
    id: i64,
    last_updated: i64,
    refresh_from: Option<i64>,
    current: Span,
    previous: Option<Span>,
    /// Index into the store's key pairs, for the buckets that have key material (kept out of
    /// the entry so salt-only tables stay small).
    keys: Option<u32>,
}

/// Bucket-id settings from the salts metadata (`id_prefix`, `id_secret`).
#[derive(Clone)]
struct BucketIds {
    prefix: String,
    secret: Zeroizing<String>,
    encoder: BucketIdEncoder,
}

/// An immutable salt snapshot. Callers hold it in an `Arc` and swap it atomically on reload.
pub struct SaltStore {
    first_level: Zeroizing<String>,
    entries: Vec<Entry>,
    key_pairs: Vec<KeyPair>,
    arena: Zeroizing<String>,
    bucket_ids: Option<BucketIds>,
}

/// A view of one bucket of a [`SaltStore`].
#[derive(Clone, Copy)]
pub struct SaltBucketRef<'a> {
    store: &'a SaltStore,
    index: usize,
    entry: &'a Entry,
}

impl<'a> SaltBucketRef<'a> {
    /// Position of the bucket in the table (what the first-level hash selects).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Numeric bucket id.
    pub fn id(&self) -> i64 {
        self.entry.id
    }

    /// When the current salt was set, Unix ms.
    pub fn last_updated(&self) -> i64 {
        self.entry.last_updated
    }

    /// Identity-map refresh time, Unix ms, if the file gave one.
    pub fn refresh_from(&self) -> Option<i64> {
        self.entry.refresh_from
    }

    /// The current salt text; a secret.
    pub fn current_salt(&self) -> &'a str {
        self.store.text(self.entry.current)
    }

    /// The previous salt text, if any; a secret.
    pub fn previous_salt(&self) -> Option<&'a str> {
        self.entry.previous.map(|s| self.store.text(s))
    }

    /// Whether the bucket has a current salt (v2/v3 raw UIDs); without one it has current key
    /// material (v4 raw UIDs).
    pub fn has_current_salt(&self) -> bool {
        self.entry.current.len > 0
    }

    /// The current key material, if any; a secret.
    pub fn current_key(&self) -> Option<SaltKeyRef<'a>> {
        self.key_pair()?.current.map(|k| self.store.key_ref(k))
    }

    /// The previous key material, if any; a secret.
    pub fn previous_key(&self) -> Option<SaltKeyRef<'a>> {
        self.key_pair()?.previous.map(|k| self.store.key_ref(k))
    }

    fn key_pair(&self) -> Option<&'a KeyPair> {
        self.store.key_pairs.get(self.entry.keys? as usize)
    }

    /// An owned copy of the bucket (for building a new snapshot from this one).
    pub fn to_bucket(&self) -> SaltBucket {
        SaltBucket {
            id: self.id(),
            last_updated: self.last_updated(),
            current_salt: self.current_salt().to_owned(),
            refresh_from: self.refresh_from(),
            previous_salt: self.previous_salt().map(str::to_owned),
            current_key: self.current_key().map(|k| k.to_key_material()),
            previous_key: self.previous_key().map(|k| k.to_key_material()),
        }
    }

    /// The public bucket id: the metadata's `id_prefix` followed by the Hashids encoding of the
    /// numeric id (salt `id_secret`, minimum length 9); the decimal id when the store has no
    /// bucket-id settings or the id is negative.
    pub fn bucket_id(&self) -> String {
        match (&self.store.bucket_ids, u64::try_from(self.entry.id)) {
            (Some(ids), Ok(n)) => {
                let mut s = ids.prefix.clone();
                s.push_str(&ids.encoder.encode(n));
                s
            }
            _ => self.entry.id.to_string(),
        }
    }
}

impl std::fmt::Debug for SaltBucketRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltBucketRef")
            .field("index", &self.index)
            .field("id", &self.entry.id)
            .field("last_updated", &self.entry.last_updated)
            .finish_non_exhaustive()
    }
}

/// A view of one bucket's key material in a [`SaltStore`]; a secret, redacted in `Debug`.
#[derive(Clone, Copy)]
pub struct SaltKeyRef<'a> {
    id: u32,
    key: &'a str,
    salt: &'a str,
}

impl<'a> SaltKeyRef<'a> {
    /// Key id (24 bits).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The key text, [`SALT_KEY_LEN`] ASCII characters; a secret.
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// The AES-256 key: the bytes of the key text.
    pub fn key_bytes(&self) -> &'a [u8; SALT_KEY_LEN] {
        // `SaltStore::new` accepts only 32-byte keys, and a `SaltKeyRef` only comes from a store.
        const UNREACHABLE: &[u8; SALT_KEY_LEN] = &[0; SALT_KEY_LEN];
        let key = self.key.as_bytes().try_into();
        debug_assert!(key.is_ok(), "a stored salt key is 32 bytes");
        key.unwrap_or(UNREACHABLE)
    }

    /// The salt text; a secret.
    pub fn salt(&self) -> &'a str {
        self.salt
    }

    /// An owned copy.
    pub fn to_key_material(&self) -> SaltKeyMaterial {
        SaltKeyMaterial::new(self.id, self.key, self.salt)
    }
}

impl std::fmt::Debug for SaltKeyRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltKeyRef")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize, Serialize)]
struct MetadataFile {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    generated: Option<i64>,
    first_level: String,
    #[serde(default)]
    id_prefix: Option<String>,
    #[serde(default)]
    id_secret: Option<String>,
    #[serde(default)]
    salts: Vec<MetadataSalts>,
}

#[derive(Deserialize, Serialize)]
struct MetadataSalts {
    effective: i64,
    expires: i64,
    location: String,
    size: u64,
}

impl Drop for MetadataFile {
    fn drop(&mut self) {
        self.first_level.zeroize();
        if let Some(s) = self.id_secret.as_mut() {
            s.zeroize();
        }
    }
}

/// Where the salts CSV of a snapshot is published, for [`SaltStore::metadata_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaltFileLocation {
    /// `generated` in the metadata, epoch seconds.
    pub generated_s: i64,
    /// When the salts become effective, Unix ms.
    pub effective_ms: i64,
    /// When they expire, Unix ms.
    pub expires_ms: i64,
    /// Path of the salts CSV, as the metadata names it.
    pub location: String,
}

fn parse_i64(field: Option<&str>, line: usize, reason: &'static str) -> Result<i64, SaltError> {
    field
        .and_then(|f| f.trim().parse::<i64>().ok())
        .ok_or(SaltError::Line { line, reason })
}

fn non_empty(field: Option<&str>) -> Option<&str> {
    field.map(str::trim).filter(|s| !s.is_empty())
}

/// Key material from its three columns. As in the live parser, it is there when the id and the
/// key columns are both non-empty; otherwise the columns are ignored.
fn parse_key_material(
    id: Option<&str>,
    key: Option<&str>,
    salt: Option<&str>,
    line: usize,
) -> Result<Option<SaltKeyMaterial>, SaltError> {
    let (Some(id), Some(key)) = (non_empty(id), non_empty(key)) else {
        return Ok(None);
    };
    let id = id
        .parse::<u32>()
        .ok()
        .filter(|&id| id <= MAX_SALT_KEY_ID)
        .ok_or(SaltError::Line {
            line,
            reason: "bad key id",
        })?;
    let salt = non_empty(salt).ok_or(SaltError::Line {
        line,
        reason: "key material without a salt",
    })?;
    Ok(Some(SaltKeyMaterial::new(id, key, salt)))
}

/// Whether a text can be written as one salts CSV column and read back unchanged.
fn is_csv_safe(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

fn check_key_material(bucket: i64, key: &SaltKeyMaterial) -> Result<(), SaltError> {
    let bad = |reason| SaltError::BadKeyMaterial { id: bucket, reason };
    if key.id > MAX_SALT_KEY_ID {
        return Err(bad("key id above 24 bits"));
    }
    if key.key.len() != SALT_KEY_LEN || !is_csv_safe(&key.key) {
        return Err(bad("key is not 32 ASCII characters"));
    }
    if key.salt.is_empty() || !is_csv_safe(&key.salt) {
        return Err(bad("salt is empty or not printable ASCII"));
    }
    Ok(())
}

fn key_len(key: Option<&SaltKeyMaterial>) -> usize {
    key.map_or(0, |k| k.key.len() + k.salt.len())
}

fn write_key_columns(out: &mut String, key: Option<SaltKeyRef<'_>>) {
    match key {
        // Writing to a String cannot fail.
        Some(k) => {
            let _ = write!(out, ",{},{},{}", k.id(), k.key(), k.salt());
        }
        None => out.push_str(",,,"),
    }
}

impl SaltStore {
    /// Builds a snapshot from a first-level salt and a bucket table (in bucket-index order).
    ///
    /// Every bucket needs a current salt or current key material; key material must have a
    /// 24-bit id, a key of 32 ASCII characters and a non-empty salt.
    pub fn new(first_level: String, buckets: Vec<SaltBucket>) -> Result<Self, SaltError> {
        let first_level = Zeroizing::new(first_level);
        if first_level.is_empty() {
            return Err(SaltError::EmptyFirstLevelSalt);
        }
        if buckets.is_empty() {
            return Err(SaltError::NoBuckets);
        }
        let total: usize = buckets
            .iter()
            .map(|b| {
                b.current_salt.len()
                    + b.previous_salt.as_ref().map_or(0, String::len)
                    + key_len(b.current_key.as_ref())
                    + key_len(b.previous_key.as_ref())
            })
            .sum();
        if total > u32::MAX as usize || buckets.len() > u32::MAX as usize {
            return Err(SaltError::TooLarge);
        }
        let mut arena = Zeroizing::new(String::with_capacity(total));
        let mut push = |text: &str| {
            let span = Span {
                start: arena.len() as u32,
                len: text.len() as u32,
            };
            arena.push_str(text);
            span
        };
        let mut entries = Vec::with_capacity(buckets.len());
        let mut key_pairs = Vec::new();
        for b in &buckets {
            if b.current_salt.is_empty() && b.current_key.is_none() {
                return Err(SaltError::MissingCurrentSalt { id: b.id });
            }
            for key in [&b.current_key, &b.previous_key].into_iter().flatten() {
                check_key_material(b.id, key)?;
            }
            let current = push(&b.current_salt);
            let previous = b.previous_salt.as_deref().map(&mut push);
            let mut push_key = |k: &SaltKeyMaterial| KeySpans {
                id: k.id,
                key: push(&k.key),
                salt: push(&k.salt),
            };
            let pair = KeyPair {
                current: b.current_key.as_ref().map(&mut push_key),
                previous: b.previous_key.as_ref().map(&mut push_key),
            };
            let keys = if pair.current.is_some() || pair.previous.is_some() {
                // At most one pair per bucket, and the bucket count fits in a u32 (checked above).
                key_pairs.push(pair);
                Some((key_pairs.len() - 1) as u32)
            } else {
                None
            };
            entries.push(Entry {
                id: b.id,
                last_updated: b.last_updated,
                refresh_from: b.refresh_from,
                current,
                previous,
                keys,
            });
        }
        Ok(Self {
            first_level,
            entries,
            key_pairs,
            arena,
            bucket_ids: None,
        })
    }

    /// A snapshot with this one's first-level salt and bucket-id settings and a new bucket
    /// table (what a salt rotation makes).
    pub fn with_buckets(&self, buckets: Vec<SaltBucket>) -> Result<Self, SaltError> {
        let mut store = Self::new(self.first_level.to_string(), buckets)?;
        store.bucket_ids = self.bucket_ids.clone();
        Ok(store)
    }

    /// Sets how public bucket ids are made (the metadata's `id_prefix` and `id_secret`).
    pub fn with_bucket_ids(mut self, id_prefix: &str, id_secret: &str) -> Self {
        self.bucket_ids = Some(BucketIds {
            prefix: id_prefix.to_owned(),
            secret: Zeroizing::new(id_secret.to_owned()),
            encoder: BucketIdEncoder::new(id_secret, BUCKET_ID_MIN_LENGTH),
        });
        self
    }

    /// Reads the live operator's salt files: `metadata.json` (`first_level`, `id_prefix`,
    /// `id_secret`, …) and the salts CSV it points to, one bucket per line:
    /// `id,lastUpdated,currentSalt,refreshFrom,previousSalt,curKeyId,curKey,curKeySalt,prevKeyId,prevKey,prevKeySalt`.
    ///
    /// Every column after `currentSalt` may be missing or empty, so files with three or five
    /// columns (what euid-rs wrote before key material) still load. Key material is read when
    /// its id and key columns are both non-empty, as the live parser does; columns after the
    /// eleventh are ignored.
    pub fn from_files(metadata_json: &[u8], salts_csv: &[u8]) -> Result<Self, SaltError> {
        // serde's message can quote a value (the first-level salt): kind and position only.
        let meta: MetadataFile = serde_json::from_slice(metadata_json).map_err(|e| {
            SaltError::Metadata(format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        let text = std::str::from_utf8(salts_csv).map_err(|_| SaltError::Line {
            line: 1,
            reason: "not UTF-8",
        })?;
        let mut buckets = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let mut cols: [Option<&str>; CSV_COLUMNS] = [None; CSV_COLUMNS];
            for (slot, col) in cols.iter_mut().zip(raw.split(',')) {
                *slot = Some(col);
            }
            let [id, last_updated, current_salt, refresh_from, previous_salt, cur_key_id, cur_key, cur_key_salt, prev_key_id, prev_key, prev_key_salt] =
                cols;
            let id = parse_i64(id, line, "bad bucket id")?;
            let last_updated = parse_i64(last_updated, line, "bad lastUpdated")?;
            let current_salt = current_salt.map(str::trim).unwrap_or_default().to_owned();
            let refresh_from = match non_empty(refresh_from) {
                Some(v) => Some(v.parse::<i64>().map_err(|_| SaltError::Line {
                    line,
                    reason: "bad refreshFrom",
                })?),
                None => None,
            };
            let previous_salt = non_empty(previous_salt).map(str::to_owned);
            let current_key = parse_key_material(cur_key_id, cur_key, cur_key_salt, line)?;
            let previous_key = parse_key_material(prev_key_id, prev_key, prev_key_salt, line)?;
            buckets.push(SaltBucket {
                id,
                last_updated,
                current_salt,
                refresh_from,
                previous_salt,
                current_key,
                previous_key,
            });
        }
        let store = Self::new(meta.first_level.clone(), buckets)?;
        Ok(match (&meta.id_prefix, &meta.id_secret) {
            (Some(prefix), Some(secret)) => store.with_bucket_ids(prefix, secret),
            _ => store,
        })
    }

    /// Writes the salts CSV (the inverse of [`SaltStore::from_files`]) in the live operator's
    /// eleven-column format; absent values are empty columns. Contains secrets.
    pub fn salts_csv(&self) -> Zeroizing<String> {
        // Enough for every line, so the buffer never grows and leaves an unwiped copy behind:
        // besides the salt text, a line holds three i64 columns (20 characters each at most),
        // two key ids (8) and eleven separators.
        let mut out = Zeroizing::new(String::with_capacity(
            self.arena.len() + self.entries.len() * 96,
        ));
        for b in self.buckets() {
            // Writing to a String cannot fail.
            let _ = write!(out, "{},{},{},", b.id(), b.last_updated(), b.current_salt());
            if let Some(r) = b.refresh_from() {
                let _ = write!(out, "{r}");
            }
            out.push(',');
            out.push_str(b.previous_salt().unwrap_or_default());
            write_key_columns(&mut out, b.current_key());
            write_key_columns(&mut out, b.previous_key());
            out.push('\n');
        }
        out
    }

    /// Writes `metadata.json` for this snapshot's salts CSV at `file`. Contains secrets.
    pub fn metadata_json(&self, file: &SaltFileLocation) -> Zeroizing<String> {
        let meta = MetadataFile {
            version: Some(1),
            generated: Some(file.generated_s),
            first_level: self.first_level.to_string(),
            id_prefix: self.bucket_ids.as_ref().map(|b| b.prefix.clone()),
            id_secret: self.bucket_ids.as_ref().map(|b| b.secret.to_string()),
            salts: vec![MetadataSalts {
                effective: file.effective_ms,
                expires: file.expires_ms,
                location: file.location.clone(),
                size: self.entries.len() as u64,
            }],
        };
        // Serializing plain strings and integers cannot fail.
        Zeroizing::new(serde_json::to_string_pretty(&meta).unwrap_or_default())
    }

    fn text(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.arena
            .get(start..start + span.len as usize)
            .unwrap_or_default()
    }

    fn key_ref(&self, k: KeySpans) -> SaltKeyRef<'_> {
        SaltKeyRef {
            id: k.id,
            key: self.text(k.key),
            salt: self.text(k.salt),
        }
    }

    /// The first-level salt text; a secret.
    pub(crate) fn first_level_salt(&self) -> &str {
        &self.first_level
    }

    /// The buckets whose salt changed at or after `since_ms` (`lastUpdated >= since_ms`), in
    /// index order: what `/v2/identity/buckets` answers for `since_timestamp`.
    pub fn buckets_updated_since(
        &self,
        since_ms: i64,
    ) -> impl Iterator<Item = SaltBucketRef<'_>> + '_ {
        self.buckets().filter(move |b| b.last_updated() >= since_ms)
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: a store has at least one bucket.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bucket at `index`, if in range.
    pub fn bucket(&self, index: usize) -> Option<SaltBucketRef<'_>> {
        self.entries.get(index).map(|entry| SaltBucketRef {
            store: self,
            index,
            entry,
        })
    }

    /// The bucket a first-level hash falls into.
    pub fn bucket_for(&self, first_level_hash: &[u8; 32]) -> SaltBucketRef<'_> {
        let index = bucket_index(first_level_hash, self.entries.len());
        SaltBucketRef {
            store: self,
            index,
            // `bucket_index` is modulo the length, and the store is never empty.
            entry: &self.entries[index],
        }
    }

    /// Every bucket, in index order (for `/v2/identity/buckets`).
    pub fn buckets(&self) -> impl Iterator<Item = SaltBucketRef<'_>> {
        self.entries
            .iter()
            .enumerate()
            .map(move |(index, entry)| SaltBucketRef {
                store: self,
                index,
                entry,
            })
    }
}

impl std::fmt::Debug for SaltStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltStore")
            .field("first_level", &"<redacted>")
            .field("buckets", &self.entries.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{
      "version": 1, "generated": 1670883129,
      "first_level": "fOGY/aRE44peL23i+cE9MkJrzmEeNZZziNZBfq7qqk8=",
      "id_prefix": "b", "id_secret": "HF6Qz42HBbVHINxhh191dB09BCuTWyBkNtrNicO4ZCw=",
      "salts": [{"effective": 1670796729291, "expires": 1766125493000,
                 "location": "salts/salts.txt.1670796729291", "size": 3}]
    }"#;
    const CSV: &str = "1000000,1614556800000,vgv1BwiNRCW7F3VcNXHlZh+7oHJ4G4gCshbGcVOLnss=\n\
        1000001,1643235130717,vgv1BwiNRCW7F3VcNXHlZh+7oHJ4G4gCshbGcVOLnsP=,1700000000000,oldsalt=\n\
        1000002,1643235130718,third=,,,,k1,ks1,,,\n";

    #[test]
    fn metadata_errors_do_not_quote_the_salt() {
        let salt = "fOGY/aRE44peL23i+cE9MkJrzmEeNZZziNZBfq7qqk8=";
        let bad = META.replace("1670883129", &format!("\"{salt}\""));
        let err = SaltStore::from_files(bad.as_bytes(), CSV.as_bytes()).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(salt), "{shown}");
            assert!(shown.contains("line 2 column"), "{shown}");
        }
    }

    #[test]
    fn reads_operator_salt_files() {
        let s = SaltStore::from_files(META.as_bytes(), CSV.as_bytes()).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.first_level_salt(),
            "fOGY/aRE44peL23i+cE9MkJrzmEeNZZziNZBfq7qqk8="
        );
        let b = s.bucket(1).unwrap();
        assert_eq!(b.id(), 1_000_001);
        assert_eq!(b.last_updated(), 1_643_235_130_717);
        assert_eq!(
            b.current_salt(),
            "vgv1BwiNRCW7F3VcNXHlZh+7oHJ4G4gCshbGcVOLnsP="
        );
        assert_eq!(b.refresh_from(), Some(1_700_000_000_000));
        assert_eq!(b.previous_salt(), Some("oldsalt="));
        let c = s.bucket(2).unwrap();
        assert_eq!(
            (c.current_salt(), c.refresh_from(), c.previous_salt()),
            ("third=", None, None)
        );
        assert!(s.bucket(3).is_none());
        // Hashids of the numeric id with the metadata's secret, after its prefix.
        assert_eq!(s.bucket(0).unwrap().bucket_id(), "bKaoveQoPR");
        assert_eq!(b.bucket_id(), "b1aZVGl7aB");
    }

    #[test]
    fn written_files_read_back_identically() {
        let s = SaltStore::from_files(META.as_bytes(), CSV.as_bytes()).unwrap();
        let loc = SaltFileLocation {
            generated_s: 1,
            effective_ms: 2,
            expires_ms: 3,
            location: "salts/x".into(),
        };
        let again =
            SaltStore::from_files(s.metadata_json(&loc).as_bytes(), s.salts_csv().as_bytes())
                .unwrap();
        assert_eq!(again.first_level_salt(), s.first_level_salt());
        assert_eq!(again.len(), s.len());
        for (a, b) in again.buckets().zip(s.buckets()) {
            assert_eq!(
                (
                    a.id(),
                    a.last_updated(),
                    a.current_salt(),
                    a.refresh_from(),
                    a.previous_salt(),
                    a.bucket_id()
                ),
                (
                    b.id(),
                    b.last_updated(),
                    b.current_salt(),
                    b.refresh_from(),
                    b.previous_salt(),
                    b.bucket_id()
                )
            );
        }
        let meta: serde_json::Value = serde_json::from_str(&s.metadata_json(&loc)).unwrap();
        assert_eq!(meta["salts"][0]["location"], "salts/x");
        assert_eq!(meta["salts"][0]["size"], 3);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            SaltStore::new(String::new(), vec![SaltBucket::new(1, 1, "a")]).unwrap_err(),
            SaltError::EmptyFirstLevelSalt
        );
        assert_eq!(
            SaltStore::new("x".into(), vec![]).unwrap_err(),
            SaltError::NoBuckets
        );
        assert_eq!(
            SaltStore::new("x".into(), vec![SaltBucket::new(7, 1, "")]).unwrap_err(),
            SaltError::MissingCurrentSalt { id: 7 }
        );
        let err = SaltStore::from_files(META.as_bytes(), b"1,2,a\nx,2,b\n").unwrap_err();
        assert_eq!(
            err,
            SaltError::Line {
                line: 2,
                reason: "bad bucket id"
            }
        );
        let err = SaltStore::from_files(META.as_bytes(), b"1,2,a,notanumber\n").unwrap_err();
        assert_eq!(
            err,
            SaltError::Line {
                line: 1,
                reason: "bad refreshFrom"
            }
        );
        assert!(matches!(
            SaltStore::from_files(b"{\"version\":1}", b"1,2,a\n"),
            Err(SaltError::Metadata(_))
        ));
        assert_eq!(
            SaltStore::from_files(META.as_bytes(), b"1,2\n").unwrap_err(),
            SaltError::MissingCurrentSalt { id: 1 }
        );
    }

    #[test]
    fn debug_is_redacted_and_ids_fall_back_to_decimal() {
        let s = SaltStore::new(
            "topsecret".into(),
            vec![SaltBucket::new(42, 1, "saltysalt")],
        )
        .unwrap();
        let b = SaltBucket::new(1, 2, "saltysalt");
        let dbg = format!("{s:?} {b:?} {:?}", s.bucket(0).unwrap());
        assert!(
            !dbg.contains("topsecret") && !dbg.contains("saltysalt"),
            "{dbg}"
        );
        assert_eq!(s.bucket(0).unwrap().bucket_id(), "42");
    }

    const KEY: &str = "key12345key12345key12345key12345";

    #[test]
    fn reads_and_checks_key_material_columns() {
        let csv = format!(
            "5,1,,9,,16777215,{KEY},ks,3,{KEY},pks\n6,2,cur,,old,,,,,,\n7,3,cur,,,1,,x,2,{KEY},\n"
        );
        let err = SaltStore::from_files(META.as_bytes(), csv.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            SaltError::Line {
                line: 3,
                reason: "key material without a salt"
            }
        );
        let csv = csv.replace(&format!("2,{KEY},\n"), ",,\n");
        let s = SaltStore::from_files(META.as_bytes(), csv.as_bytes()).unwrap();
        let b = s.bucket(0).unwrap();
        assert!(!b.has_current_salt());
        let k = b.current_key().unwrap();
        assert_eq!((k.id(), k.key(), k.salt()), (MAX_SALT_KEY_ID, KEY, "ks"));
        assert_eq!(k.key_bytes(), KEY.as_bytes());
        assert_eq!(b.previous_key().unwrap().salt(), "pks");
        let c = s.bucket(1).unwrap();
        assert!(c.current_key().is_none() && c.previous_key().is_none());
        // Half-filled key columns (no key) are ignored, as the live parser does.
        assert!(s.bucket(2).unwrap().current_key().is_none());
        assert_eq!(
            s.salts_csv().lines().collect::<Vec<_>>(),
            [
                format!("5,1,,9,,16777215,{KEY},ks,3,{KEY},pks").as_str(),
                "6,2,cur,,old,,,,,,",
                "7,3,cur,,,,,,,,"
            ]
        );

        for (line, reason) in [
            (format!("1,1,,,,16777216,{KEY},s"), "bad key id"),
            (format!("1,1,,,,-1,{KEY},s"), "bad key id"),
            (format!("1,1,s,,,,,,x,{KEY},s"), "bad key id"),
        ] {
            assert_eq!(
                SaltStore::from_files(META.as_bytes(), line.as_bytes()).unwrap_err(),
                SaltError::Line { line: 1, reason },
                "{line}"
            );
        }
        for line in [
            "1,1,,,,1,short,s",
            "1,1,,,,1,key12345key12345key12345key1234,,s",
        ] {
            assert!(
                matches!(
                    SaltStore::from_files(META.as_bytes(), line.as_bytes()),
                    Err(SaltError::BadKeyMaterial { id: 1, .. } | SaltError::Line { .. })
                ),
                "{line}"
            );
        }
        let bad_key = SaltBucket::with_key_material(4, 0, SaltKeyMaterial::new(1, "k", "s"));
        assert!(matches!(
            SaltStore::new("x".into(), vec![bad_key]).unwrap_err(),
            SaltError::BadKeyMaterial { id: 4, .. }
        ));
        let spaced = SaltBucket::with_key_material(4, 0, SaltKeyMaterial::new(1, KEY, "a b"));
        assert!(SaltStore::new("x".into(), vec![spaced]).is_err());
        let wide = SaltBucket::with_key_material(4, 0, SaltKeyMaterial::new(1 << 24, KEY, "s"));
        assert!(SaltStore::new("x".into(), vec![wide]).is_err());
    }

    #[test]
    fn key_material_is_redacted() {
        let secret_key = "SECRETKEYsecretkeySECRETKEYsecre";
        let key = SaltKeyMaterial::new(9, secret_key, "keysaltsecret");
        let mut bucket = SaltBucket::with_key_material(1, 2, key.clone());
        bucket.previous_key = Some(key.clone());
        let s = SaltStore::new("x".into(), vec![bucket.clone()]).unwrap();
        let b = s.bucket(0).unwrap();
        let shown = format!(
            "{key:?} {bucket:?} {s:?} {b:?} {:?} {:?}",
            b.current_key().unwrap(),
            b.to_bucket()
        );
        assert!(
            !shown.contains("SECRETKEY") && !shown.contains("keysaltsecret"),
            "{shown}"
        );
        assert!(shown.contains("id: 9"), "{shown}");
        assert!(b.to_bucket() == bucket);
    }

    #[test]
    fn buckets_updated_since_is_inclusive() {
        let s = SaltStore::new(
            "x".into(),
            (0..4).map(|i| SaltBucket::new(i, i * 10, "s")).collect(),
        )
        .unwrap();
        let ids = |since| {
            s.buckets_updated_since(since)
                .map(|b| b.id())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(10), [1, 2, 3]);
        assert_eq!(ids(11), [2, 3]);
        assert_eq!(ids(31), Vec::<i64>::new());
        assert_eq!(ids(i64::MIN), [0, 1, 2, 3]);
    }

    #[test]
    fn bucket_for_uses_twenty_bits_modulo_the_table() {
        let s = SaltStore::new(
            "x".into(),
            (0..5)
                .map(|i| SaltBucket::new(i, 0, format!("s{i}")))
                .collect(),
        )
        .unwrap();
        let mut flh = [0u8; 32];
        flh[0] = 0x00;
        flh[1] = 0x00;
        flh[2] = 0xF3; // the high nibble of byte 2 is not used
        assert_eq!(s.bucket_for(&flh).index(), 3);
        flh[1] = 0x01; // 16 + 3 = 19 → 19 % 5
        assert_eq!(s.bucket_for(&flh).index(), 4);
        assert_eq!(
            bucket_index(&[0xFF; 32], PRODUCTION_BUCKET_COUNT),
            PRODUCTION_BUCKET_COUNT - 1
        );
        let mut flh = [0u8; 32];
        flh[0] = 0x12;
        flh[1] = 0x34;
        flh[2] = 0x56;
        assert_eq!(bucket_index(&flh, PRODUCTION_BUCKET_COUNT), 0x12346);
    }
}
