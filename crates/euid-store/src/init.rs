//! Creating a data directory (`init_data_dir`), for the server's first start and `euid init`,
//! and the initial data every new store gets ([`fresh_snapshot`]).

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{BatchedOsRandom, RandomSource};
use euid_cstg::{KeypairStore, ServerKeypair};
use euid_token::{
    Key, KeyStore, Keyset, SaltBucket, SaltStore, FALLBACK_PUBLISHER_KEYSET_ID,
    FALLBACK_PUBLISHER_SITE_ID, MASTER_KEYSET_ID, REFRESH_KEYSET_ID,
};

use crate::clients::{new_client, ClientRecord, RoleSet};
use crate::data_dir::{
    self, keypairs_path, load_keypairs, write_atomic, write_json, DataDir, DataDirState,
    KEYPAIRS_FILE,
};
use crate::demo::{read_demo_client, DemoClient};
use crate::error::StoreError;
use crate::keys::{random_key, DEFAULT_KEY_LIFETIME_SECONDS};
use crate::snapshot::{SaltValidity, StoreSnapshot};

/// The `base_url` a new `demo-client.json` gets by default: the operator's default listen
/// address.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

/// Origins the demo site's keypair accepts: a publisher page on this machine.
pub const DEMO_DOMAINS: [&str; 2] = ["localhost", "127.0.0.1"];

/// What a new data directory gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitOptions {
    /// The demo client's site id (must be > 2). Default 999.
    pub demo_site_id: i32,
    /// Number of salt buckets. Default 1024 (production has 1,048,576).
    pub salt_bucket_count: usize,
    /// Lifetime of generated keys, seconds. Default one hour
    /// ([`DEFAULT_KEY_LIFETIME_SECONDS`]; the operator adds successors).
    pub key_lifetime_seconds: i64,
    /// The `base_url` written to `demo-client.json`. Default [`DEFAULT_BASE_URL`].
    pub base_url: String,
    /// Whether to create a demo client (`demo-client.json`, its site's keyset and CSTG
    /// keypair). Default true; `--no-demo-client` turns it off.
    pub demo_client: bool,
    /// Whether `init_data_dir` may create salts next to an existing `optout.db`, whose
    /// records were made under the lost salts and stop matching. Default false.
    pub allow_new_salts: bool,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            demo_site_id: 999,
            salt_bucket_count: 1024,
            key_lifetime_seconds: DEFAULT_KEY_LIFETIME_SECONDS,
            base_url: DEFAULT_BASE_URL.to_owned(),
            demo_client: true,
            allow_new_salts: false,
        }
    }
}

/// What [`init_data_dir`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct InitReport {
    /// Files created by this call (empty when the directory was complete).
    pub created: Vec<String>,
    /// The demo client (read back from `demo-client.json` when it already existed); `None`
    /// when the directory has none or `demo_client` was off.
    pub demo_client: Option<DemoClient>,
}

impl InitReport {
    /// A report of `created` parts (files or tables) and the demo client, for other stores'
    /// [`StoreWriter::initialize`](crate::StoreWriter::initialize).
    pub fn new(created: Vec<String>, demo_client: Option<DemoClient>) -> Self {
        Self {
            created,
            demo_client,
        }
    }
}

/// Creates whatever is missing in the data directory at `path`: keysets and keys (master,
/// refresh, fallback publisher, the demo site's default keyset), salts, `clients.json` with
/// one demo client holding every role, and `demo-client.json` (the last two without a demo
/// client when `options.demo_client` is off). Existing files are never overwritten, so
/// calling it again is harmless; `demo-client.json`'s `base_url` is updated to
/// `options.base_url`. Directories it creates get mode 0700, files 0600.
///
/// It refuses, before writing anything, what it could only do by replacing data: one file of
/// a pair (`keysets.json` / `keyset_keys.json`, `salts/metadata.json` / `salts/salts.txt`)
/// without the other, `demo-client.json` without `clients.json`, and new salts next to an
/// existing `optout.db` unless `options.allow_new_salts`.
pub fn init_data_dir(path: &Path, options: &InitOptions) -> Result<InitReport, StoreError> {
    options
        .validate()
        .map_err(|message| StoreError::invalid(path, message))?;
    let dir = DataDir::new(path);
    let has_keys = check_pair(&dir.keysets(), &dir.keyset_keys())?;
    let has_salts = check_pair(&dir.salts_metadata(), &dir.salts_file())?;
    if !has_salts && dir.optout_db().exists() && !options.allow_new_salts {
        return Err(StoreError::SaltsLost {
            path: path.display().to_string(),
        });
    }
    let clients_path = dir.clients();
    let demo_path = dir.demo_client();
    let has_clients = clients_path.exists();
    if !has_clients && demo_path.exists() {
        return Err(StoreError::invalid(
            &clients_path,
            "missing while demo-client.json exists: restore clients.json from a backup, \
             or remove demo-client.json to create a new demo client",
        ));
    }

    data_dir::create_private_dir_all(path)?;
    let mut rng = BatchedOsRandom::new();
    let now = crate::now_s();
    let mut created = Vec::new();

    if !has_keys {
        let store = initial_keys(options, now, &mut rng)?;
        write_atomic(&dir.keysets(), store.keysets_json().as_bytes())?;
        write_atomic(&dir.keyset_keys(), store.keyset_keys_json().as_bytes())?;
        created.push("keysets.json".to_owned());
        created.push("keyset_keys.json".to_owned());
    }
    if !has_salts {
        let salts = initial_salts(options.salt_bucket_count, now, &mut rng)?;
        // The salts first, so the metadata never points at a missing file.
        data_dir::write_salts(&dir, &salts, &SaltValidity::starting_at(now))?;
        created.push("salts/salts.txt".to_owned());
        created.push("salts/metadata.json".to_owned());
    }

    let mut demo = if has_clients {
        if options.demo_client && demo_path.exists() {
            Some(read_demo_client(&demo_path)?)
        } else {
            None
        }
    } else if options.demo_client {
        let (record, demo) = new_demo_client(options, now, &mut rng);
        let records: Vec<ClientRecord> = vec![record];
        write_json(&clients_path, &records)?;
        created.push("clients.json".to_owned());
        write_json(&demo_path, &demo)?;
        created.push("demo-client.json".to_owned());
        Some(demo)
    } else {
        write_json(&clients_path, &Vec::<ClientRecord>::new())?;
        created.push("clients.json".to_owned());
        None
    };
    if let Some(d) = demo.as_mut() {
        let keypair_changed = ensure_demo_keypair(path, d, now, &mut rng, &mut created)?;
        if d.base_url != options.base_url || keypair_changed {
            d.base_url = options.base_url.clone();
            write_json(&demo_path, &*d)?;
        }
    }
    Ok(InitReport {
        created,
        demo_client: demo,
    })
}

/// Whether both files of a pair exist; an error naming the missing one when only one does,
/// since a new one would not match the other and replacing both would destroy data.
fn check_pair(a: &Path, b: &Path) -> Result<bool, StoreError> {
    match (a.exists(), b.exists()) {
        (true, true) => Ok(true),
        (false, false) => Ok(false),
        (present, _) => {
            let (missing, there) = if present { (b, a) } else { (a, b) };
            Err(StoreError::invalid(
                missing,
                format!(
                    "missing while {} exists: restore it from a backup (nothing was created or changed)",
                    there.file_name().unwrap_or_default().to_string_lossy()
                ),
            ))
        }
    }
}

/// What the server does with its data directory at startup: an empty (or absent) directory
/// is initialized; a complete one is only read (its demo client's `base_url` updated); one
/// with required files missing is an error naming them, and nothing is created or changed.
/// Returns the demo client, if the directory has one and `options.demo_client` is on.
pub fn open_data_dir(path: &Path, options: &InitOptions) -> Result<Option<DemoClient>, StoreError> {
    let dir = DataDir::new(path);
    match dir.state()? {
        DataDirState::Empty => Ok(init_data_dir(path, options)?.demo_client),
        DataDirState::Incomplete { missing } => Err(StoreError::Incomplete {
            path: path.display().to_string(),
            missing: missing.into_iter().map(str::to_owned).collect(),
        }),
        DataDirState::Complete => {
            let demo_path = dir.demo_client();
            if !options.demo_client || !demo_path.exists() {
                return Ok(None);
            }
            let mut demo = read_demo_client(&demo_path)?;
            if demo.base_url != options.base_url {
                demo.base_url = options.base_url.clone();
                write_json(&demo_path, &demo)?;
            }
            Ok(Some(demo))
        }
    }
}

impl InitOptions {
    /// Whether the options make sense: positive bucket count and key lifetime, and a demo
    /// site id above the reserved ones (1 and 2).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.salt_bucket_count == 0 || self.key_lifetime_seconds <= 0 {
            return Err("salt_bucket_count and key_lifetime_seconds must be positive");
        }
        if self.demo_site_id <= 2 {
            return Err("the demo site id must be greater than 2");
        }
        Ok(())
    }
}

fn random_text(rng: &mut impl RandomSource) -> zeroize::Zeroizing<String> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill(&mut bytes[..]);
    zeroize::Zeroizing::new(STANDARD.encode(*bytes))
}

/// The keysets and keys of a new store: master, refresh and publisher fallback keysets, and
/// the demo site's default keyset ([`DEMO_KEYSET_ID`]) when `options.demo_client` is on,
/// each with one key active from `now` (epoch seconds) for `options.key_lifetime_seconds`.
/// Every keyset is unrestricted: every ID_READER (DSP) receives the keys, as for publishers
/// live.
pub fn initial_keys(
    options: &InitOptions,
    now: i64,
    rng: &mut impl RandomSource,
) -> Result<KeyStore, StoreError> {
    let keyset = |keyset_id, site_id, name: &str| Keyset {
        keyset_id,
        site_id,
        name: name.to_owned(),
        allowed_sites: None,
        created: now,
        enabled: true,
        default: true,
    };
    let demo_keyset_id = DEMO_KEYSET_ID;
    let mut keysets = vec![
        keyset(MASTER_KEYSET_ID, MASTER_KEYSET_ID, "master"),
        keyset(REFRESH_KEYSET_ID, REFRESH_KEYSET_ID, "refresh"),
        keyset(
            FALLBACK_PUBLISHER_KEYSET_ID,
            FALLBACK_PUBLISHER_SITE_ID,
            "publisher fallback",
        ),
    ];
    let mut keyset_ids = vec![
        MASTER_KEYSET_ID,
        REFRESH_KEYSET_ID,
        FALLBACK_PUBLISHER_KEYSET_ID,
    ];
    if options.demo_client {
        keysets.push(keyset(demo_keyset_id, options.demo_site_id, "demo site"));
        keyset_ids.push(demo_keyset_id);
    }
    let expires = now.saturating_add(options.key_lifetime_seconds);
    let keys = keyset_ids
        .iter()
        .zip(1..)
        .map(|(&keyset_id, id)| Key::new(id, keyset_id, now, now, expires, random_key(rng)))
        .collect();
    KeyStore::new(keysets, keys).map_err(|e| StoreError::invalid(Path::new("keysets.json"), e))
}

/// The keyset id `init_data_dir` gives the demo site.
pub const DEMO_KEYSET_ID: i32 = 3;

/// New salts: `bucket_count` buckets with random salts, last updated at `now` (epoch
/// seconds), a random first-level salt, and bucket ids with prefix `a` and a random secret.
/// Their validity is [`SaltValidity::starting_at`] `now`.
pub fn initial_salts(
    bucket_count: usize,
    now: i64,
    rng: &mut impl RandomSource,
) -> Result<SaltStore, StoreError> {
    let now_ms = now.saturating_mul(1000);
    let buckets = (0..bucket_count)
        .map(|i| SaltBucket::new(i as i64, now_ms, random_text(rng).as_str()))
        .collect();
    let id_secret = random_text(rng);
    Ok(SaltStore::new(random_text(rng).to_string(), buckets)
        .map_err(|e| StoreError::invalid(Path::new("salts"), e))?
        .with_bucket_ids("a", &id_secret))
}

/// A new demo client for `options.demo_site_id` holding every role: its `clients.json`
/// record, and its credentials for `demo-client.json` (with `options.base_url`, and no CSTG
/// keypair yet: see [`demo_keypair`]).
pub fn new_demo_client(
    options: &InitOptions,
    now: i64,
    rng: &mut impl RandomSource,
) -> (ClientRecord, DemoClient) {
    let client = new_client(options.demo_site_id, "demo", RoleSet::ALL, now, rng);
    let demo = DemoClient {
        api_key: client.api_key,
        client_secret: client.client_secret,
        site_id: options.demo_site_id,
        base_url: options.base_url.clone(),
        subscription_id: None,
        server_public_key: None,
    };
    (client.record, demo)
}

/// The demo site's client-side keypair (domains [`DEMO_DOMAINS`]).
pub fn demo_keypair(site_id: i32, now: i64, rng: &mut impl RandomSource) -> ServerKeypair {
    ServerKeypair::generate(
        euid_cstg::generate_subscription_id(rng),
        site_id,
        DEMO_DOMAINS.iter().map(|d| (*d).to_owned()).collect(),
        Vec::new(),
        now,
        rng,
    )
}

/// Points `demo` at the first enabled keypair of its site in `keypairs`, adding a new one
/// ([`demo_keypair`]) when there is none; returns whether `keypairs` grew and whether `demo`
/// changed.
fn attach_demo_keypair(
    keypairs: &mut KeypairStore,
    demo: &mut DemoClient,
    now: i64,
    rng: &mut impl RandomSource,
) -> Result<(bool, bool), euid_cstg::KeypairError> {
    let existing = keypairs
        .iter()
        .find(|k| k.site_id == demo.site_id && !k.disabled)
        .map(|k| (k.subscription_id.clone(), k.public_key_text().to_owned()));
    let (added, (subscription_id, public_key)) = match existing {
        Some(found) => (false, found),
        None => {
            let keypair = demo_keypair(demo.site_id, now, rng);
            let found = (
                keypair.subscription_id.clone(),
                keypair.public_key_text().to_owned(),
            );
            keypairs.insert(keypair)?;
            (true, found)
        }
    };
    let changed = demo.subscription_id.as_deref() != Some(subscription_id.as_str())
        || demo.server_public_key.as_deref() != Some(public_key.as_str());
    demo.subscription_id = Some(subscription_id);
    demo.server_public_key = Some(public_key);
    Ok((added, changed))
}

/// First-start part of `init_data_dir`: creates `client_side_keypairs.json` with one keypair
/// for the demo site (domains `localhost` and `127.0.0.1`) when missing, and makes sure
/// `demo-client.json` carries its `subscription_id` and `server_public_key`.
fn ensure_demo_keypair(
    root: &Path,
    demo: &mut DemoClient,
    now_s: i64,
    rng: &mut impl RandomSource,
    created: &mut Vec<String>,
) -> Result<bool, StoreError> {
    let dir = DataDir::new(root);
    let path = keypairs_path(&dir);
    let mut store = load_keypairs(&dir)?;
    let (added, changed) = attach_demo_keypair(&mut store, demo, now_s, rng)
        .map_err(|e| StoreError::invalid(&path, e))?;
    if added {
        write_atomic(&path, store.to_json_pretty().as_bytes())?;
        created.push(KEYPAIRS_FILE.to_owned());
    }
    Ok(changed)
}

/// Everything a new store starts with, as [`init_data_dir`] creates it in an empty
/// directory: [`initial_keys`], [`initial_salts`] valid from `now`, and with
/// `options.demo_client` on, the demo client ([`new_demo_client`]) and its site's keypair.
/// A database backend seeds itself with this (through
/// [`StoreWriter::import`](crate::StoreWriter::import)), so both start alike. The demo
/// client's credentials are returned for `demo-client.json`; the store keeps only its record.
pub fn fresh_snapshot(
    options: &InitOptions,
    now: i64,
    rng: &mut impl RandomSource,
) -> Result<(StoreSnapshot, Option<DemoClient>), StoreError> {
    options
        .validate()
        .map_err(|message| StoreError::invalid(Path::new("init options"), message))?;
    let keys = initial_keys(options, now, rng)?;
    let salts = initial_salts(options.salt_bucket_count, now, rng)?;
    let mut keypairs = KeypairStore::new();
    let (clients, demo) = if options.demo_client {
        let (record, mut demo) = new_demo_client(options, now, rng);
        attach_demo_keypair(&mut keypairs, &mut demo, now, rng)
            .map_err(|e| StoreError::invalid(Path::new(KEYPAIRS_FILE), e))?;
        (vec![record], Some(demo))
    } else {
        (Vec::new(), None)
    };
    Ok((
        StoreSnapshot {
            keys,
            salts,
            salt_validity: Some(SaltValidity::starting_at(now)),
            clients,
            keypairs,
        },
        demo,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{rotate_keys, RotateOptions};

    fn load_keys(dir: &DataDir) -> KeyStore {
        KeyStore::from_json(
            &std::fs::read(dir.keysets()).unwrap(),
            &std::fs::read(dir.keyset_keys()).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn init_creates_every_file_once() {
        let tmp = tempfile::tempdir().unwrap();
        let options = InitOptions {
            salt_bucket_count: 16,
            ..InitOptions::default()
        };
        let first = init_data_dir(tmp.path(), &options).unwrap();
        assert_eq!(first.created.len(), 7, "{:?}", first.created);
        let dir = DataDir::new(tmp.path());
        let keys = load_keys(&dir);
        let now_ms = crate::now_s() * 1000;
        for keyset in [
            MASTER_KEYSET_ID,
            REFRESH_KEYSET_ID,
            FALLBACK_PUBLISHER_KEYSET_ID,
        ] {
            assert!(keys.active_key(keyset, now_ms).is_some(), "keyset {keyset}");
        }
        let site = keys.site_key(options.demo_site_id, now_ms).unwrap();
        assert_eq!(site.keyset_id, DEMO_KEYSET_ID);
        let salts = SaltStore::from_files(
            &std::fs::read(dir.salts_metadata()).unwrap(),
            &std::fs::read(dir.salts_file()).unwrap(),
        )
        .unwrap();
        assert_eq!(salts.len(), 16);
        assert!(salts.bucket(0).unwrap().bucket_id().starts_with('a'));

        let keys_before = std::fs::read(dir.keyset_keys()).unwrap();
        let second = init_data_dir(tmp.path(), &options).unwrap();
        assert!(second.created.is_empty());
        assert_eq!(
            second.demo_client.unwrap().api_key,
            first.demo_client.unwrap().api_key
        );
        assert_eq!(std::fs::read(dir.keyset_keys()).unwrap(), keys_before);
    }

    #[test]
    fn rotation_adds_keys_that_activate_later_and_keeps_old_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let options = InitOptions {
            salt_bucket_count: 4,
            ..InitOptions::default()
        };
        init_data_dir(tmp.path(), &options).unwrap();
        let dir = DataDir::new(tmp.path());
        let before = load_keys(&dir);
        let rotated = rotate_keys(
            tmp.path(),
            &RotateOptions {
                activates_in_seconds: 600,
                lifetime_seconds: 86_400,
            },
        )
        .unwrap();
        let after = load_keys(&dir);
        assert_eq!(after.keys().count(), before.keys().count() + rotated.len());
        let keysets: Vec<i32> = rotated.iter().map(|k| k.keyset_id).collect();
        for k in [
            MASTER_KEYSET_ID,
            REFRESH_KEYSET_ID,
            FALLBACK_PUBLISHER_KEYSET_ID,
            DEMO_KEYSET_ID,
        ] {
            assert!(keysets.contains(&k), "{keysets:?}");
        }
        let now_ms = crate::now_s() * 1000;
        // Not yet active: the old key is still the active one.
        let old_master = before.active_key(MASTER_KEYSET_ID, now_ms).unwrap().id;
        assert_eq!(
            after.active_key(MASTER_KEYSET_ID, now_ms).unwrap().id,
            old_master
        );
        let new_master = rotated
            .iter()
            .find(|k| k.keyset_id == MASTER_KEYSET_ID)
            .unwrap();
        let later = (new_master.activates + 1) * 1000;
        assert_eq!(
            after.active_key(MASTER_KEYSET_ID, later).unwrap().id,
            new_master.key_id
        );
        assert!(after.key_by_id(old_master).is_some());
        assert!(rotate_keys(
            tmp.path(),
            &RotateOptions {
                activates_in_seconds: -1,
                lifetime_seconds: 1
            }
        )
        .is_err());
    }
}
