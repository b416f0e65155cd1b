//! Creating a data directory (`init_data_dir`), for the server's first start and `euid init`.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{BatchedOsRandom, RandomSource};
use euid_token::{
    Key, KeyStore, Keyset, SaltBucket, SaltFileLocation, SaltStore, FALLBACK_PUBLISHER_KEYSET_ID,
    FALLBACK_PUBLISHER_SITE_ID, MASTER_KEYSET_ID, REFRESH_KEYSET_ID,
};

use crate::clients::{new_client, ClientRecord, RoleSet};
use crate::data_dir::{self, write_atomic, DataDir, DataDirError, DataDirState, DemoClient};

/// What a new data directory gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitOptions {
    /// The demo client's site id (must be > 2). Default 999.
    pub demo_site_id: i32,
    /// Number of salt buckets. Default 1024 (production has 1,048,576).
    pub salt_bucket_count: usize,
    /// Lifetime of generated keys, seconds. Default one hour
    /// ([`crate::config::DEFAULT_KEY_LIFETIME_SECONDS`]; the operator adds successors).
    pub key_lifetime_seconds: i64,
    /// The `base_url` written to `demo-client.json`. Default `http://127.0.0.1:8080`.
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
            key_lifetime_seconds: crate::config::DEFAULT_KEY_LIFETIME_SECONDS,
            base_url: format!("http://{}", crate::config::DEFAULT_LISTEN),
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

fn now_s() -> i64 {
    crate::clock::now_ms() / 1000
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
pub fn init_data_dir(path: &Path, options: &InitOptions) -> Result<InitReport, DataDirError> {
    if options.salt_bucket_count == 0 || options.key_lifetime_seconds <= 0 {
        return Err(DataDirError::invalid(
            path,
            "salt_bucket_count and key_lifetime_seconds must be positive",
        ));
    }
    if options.demo_site_id <= 2 {
        return Err(DataDirError::invalid(
            path,
            "the demo site id must be greater than 2",
        ));
    }
    let dir = DataDir::new(path);
    let has_keys = check_pair(&dir.keysets(), &dir.keyset_keys())?;
    let has_salts = check_pair(&dir.salts_metadata(), &dir.salts_file())?;
    if !has_salts && dir.optout_db().exists() && !options.allow_new_salts {
        return Err(DataDirError::SaltsLost {
            path: path.display().to_string(),
        });
    }
    let clients_path = dir.clients();
    let demo_path = dir.demo_client();
    let has_clients = clients_path.exists();
    if !has_clients && demo_path.exists() {
        return Err(DataDirError::invalid(
            &clients_path,
            "missing while demo-client.json exists: restore clients.json from a backup, \
             or remove demo-client.json to create a new demo client",
        ));
    }

    data_dir::create_private_dir_all(path)?;
    let mut rng = BatchedOsRandom::new();
    let now = now_s();
    let mut created = Vec::new();

    if !has_keys {
        let store = initial_keys(options, now, &mut rng)?;
        write_atomic(&dir.keysets(), store.keysets_json().as_bytes())?;
        write_atomic(&dir.keyset_keys(), store.keyset_keys_json().as_bytes())?;
        created.push("keysets.json".to_owned());
        created.push("keyset_keys.json".to_owned());
    }
    if !has_salts {
        let (metadata, csv) = initial_salts(options.salt_bucket_count, now, &mut rng)?;
        // The salts first, so the metadata never points at a missing file.
        write_atomic(&dir.salts_file(), csv.as_bytes())?;
        write_atomic(&dir.salts_metadata(), metadata.as_bytes())?;
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
        let client = new_client(options.demo_site_id, "demo", RoleSet::ALL, now, &mut rng);
        let records: Vec<ClientRecord> = vec![client.record];
        write_json(&clients_path, &records)?;
        created.push("clients.json".to_owned());
        let demo = DemoClient {
            api_key: client.api_key,
            client_secret: client.client_secret,
            site_id: options.demo_site_id,
            base_url: options.base_url.clone(),
            subscription_id: None,
            server_public_key: None,
        };
        write_json(&demo_path, &demo)?;
        created.push("demo-client.json".to_owned());
        Some(demo)
    } else {
        write_json(&clients_path, &Vec::<ClientRecord>::new())?;
        created.push("clients.json".to_owned());
        None
    };
    if let Some(d) = demo.as_mut() {
        let keypair_changed =
            crate::cstg::ensure_demo_keypair(path, d, now, &mut rng, &mut created)?;
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
fn check_pair(a: &Path, b: &Path) -> Result<bool, DataDirError> {
    match (a.exists(), b.exists()) {
        (true, true) => Ok(true),
        (false, false) => Ok(false),
        (present, _) => {
            let (missing, there) = if present { (b, a) } else { (a, b) };
            Err(DataDirError::invalid(
                missing,
                format!(
                    "missing while {} exists: restore it from a backup (nothing was created or changed)",
                    there.file_name().unwrap_or_default().to_string_lossy()
                ),
            ))
        }
    }
}

fn read_demo_client(path: &Path) -> Result<DemoClient, DataDirError> {
    let bytes = data_dir::read(path)?;
    serde_json::from_slice::<DemoClient>(&bytes)
        .map_err(|e| DataDirError::invalid(path, data_dir::json_error_position(&e)))
}

/// What the server does with its data directory at startup: an empty (or absent) directory
/// is initialized; a complete one is only read (its demo client's `base_url` updated); one
/// with required files missing is an error naming them, and nothing is created or changed.
/// Returns the demo client, if the directory has one and `options.demo_client` is on.
pub fn open_data_dir(
    path: &Path,
    options: &InitOptions,
) -> Result<Option<DemoClient>, DataDirError> {
    let dir = DataDir::new(path);
    match dir.state()? {
        DataDirState::Empty => Ok(init_data_dir(path, options)?.demo_client),
        DataDirState::Incomplete { missing } => Err(DataDirError::Incomplete {
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

fn random_text(rng: &mut impl RandomSource) -> zeroize::Zeroizing<String> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill(&mut bytes[..]);
    zeroize::Zeroizing::new(STANDARD.encode(*bytes))
}

fn initial_keys(
    options: &InitOptions,
    now: i64,
    rng: &mut impl RandomSource,
) -> Result<KeyStore, DataDirError> {
    let keyset = |keyset_id, site_id, name: &str| Keyset {
        keyset_id,
        site_id,
        name: name.to_owned(),
        // Unrestricted: every ID_READER (DSP) receives the keys, as for publishers live.
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
        .map(|(&keyset_id, id)| {
            Key::new(
                id,
                keyset_id,
                now,
                now,
                expires,
                crate::key_rotation::random_key(rng),
            )
        })
        .collect();
    KeyStore::new(keysets, keys).map_err(|e| DataDirError::invalid(Path::new("keysets.json"), e))
}

/// The keyset id `init_data_dir` gives the demo site.
pub const DEMO_KEYSET_ID: i32 = 3;

fn initial_salts(
    bucket_count: usize,
    now: i64,
    rng: &mut impl RandomSource,
) -> Result<(zeroize::Zeroizing<String>, zeroize::Zeroizing<String>), DataDirError> {
    let now_ms = now.saturating_mul(1000);
    let buckets = (0..bucket_count)
        .map(|i| SaltBucket::new(i as i64, now_ms, random_text(rng).as_str()))
        .collect();
    let id_secret = random_text(rng);
    let store = SaltStore::new(random_text(rng).to_string(), buckets)
        .map_err(|e| DataDirError::invalid(Path::new("salts"), e))?
        .with_bucket_ids("a", &id_secret);
    let location = SaltFileLocation {
        generated_s: now,
        effective_ms: now_ms,
        expires_ms: now_ms.saturating_add(10 * 365 * 86_400_000),
        location: "salts.txt".to_owned(),
    };
    Ok((store.metadata_json(&location), store.salts_csv()))
}

/// How [`rotate_keys`] makes the new keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotateOptions {
    /// Seconds from now until the new keys activate (so every operator and SDK has them
    /// before they are used). Default 3600.
    pub activates_in_seconds: i64,
    /// Lifetime of the new keys after activation, seconds. Default one hour
    /// ([`crate::config::DEFAULT_KEY_LIFETIME_SECONDS`]): a longer-lived key would hold
    /// off automatic rotation and take more messages than random IVs allow.
    pub lifetime_seconds: i64,
}

impl Default for RotateOptions {
    fn default() -> Self {
        Self {
            activates_in_seconds: 3600,
            lifetime_seconds: crate::config::DEFAULT_KEY_LIFETIME_SECONDS,
        }
    }
}

/// One key added by [`rotate_keys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotatedKey {
    /// The keyset it belongs to.
    pub keyset_id: i32,
    /// The new key's id.
    pub key_id: i32,
    /// When it activates, epoch seconds.
    pub activates: i64,
    /// When it expires, epoch seconds.
    pub expires: i64,
}

/// Adds a new key to the master keyset, the refresh keyset and every enabled default keyset
/// of a site, activating `options.activates_in_seconds` from now. Old keys stay in the store
/// (tokens they encrypted keep decoding); a running operator picks the change up without a
/// restart. The write is atomic.
pub fn rotate_keys(path: &Path, options: &RotateOptions) -> Result<Vec<RotatedKey>, DataDirError> {
    if options.activates_in_seconds < 0 || options.lifetime_seconds <= 0 {
        return Err(DataDirError::invalid(
            path,
            "activation delay must not be negative and lifetime must be positive",
        ));
    }
    let dir = DataDir::new(path);
    let keys_path = dir.keyset_keys();
    let store = data_dir::load_key_store(&dir)?;
    let now = now_s();
    let activates = now.saturating_add(options.activates_in_seconds);
    let expires = activates.saturating_add(options.lifetime_seconds);
    let mut next_id = store
        .keys()
        .map(|k| k.id)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    let mut targets: Vec<i32> = vec![MASTER_KEYSET_ID, REFRESH_KEYSET_ID];
    targets.extend(
        store
            .keysets()
            .filter(|ks| ks.enabled && ks.default && ks.site_id > 0)
            .map(|ks| ks.keyset_id),
    );
    targets.dedup();
    let mut rng = BatchedOsRandom::new();
    let mut keys: Vec<Key> = store.keys().cloned().collect();
    let mut added = Vec::new();
    for keyset_id in targets {
        keys.push(Key::new(
            next_id,
            keyset_id,
            now,
            activates,
            expires,
            crate::key_rotation::random_key(&mut rng),
        ));
        added.push(RotatedKey {
            keyset_id,
            key_id: next_id,
            activates,
            expires,
        });
        next_id = next_id.saturating_add(1);
    }
    let keysets: Vec<Keyset> = store.keysets().cloned().collect();
    let new_store =
        KeyStore::new(keysets, keys).map_err(|e| DataDirError::invalid(&keys_path, e))?;
    write_atomic(&keys_path, new_store.keyset_keys_json().as_bytes())?;
    Ok(added)
}

pub(crate) fn write_json<T: serde::Serialize + ?Sized>(
    path: &Path,
    value: &T,
) -> Result<(), DataDirError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| DataDirError::invalid(path, e))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let now_ms = now_s() * 1000;
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
        let now_ms = now_s() * 1000;
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
