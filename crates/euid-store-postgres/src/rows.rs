//! The snapshot as table rows and back: what [`PostgresStore`](crate::PostgresStore) writes
//! for a [`StoreSnapshot`] and how it rebuilds one, with the data directory's own parsers
//! (`KeyStore::from_json`, `SaltStore::from_files`, `KeypairStore::from_json`), so both
//! backends read the same bytes the same way.

use euid_cstg::KeypairStore;
use euid_store::error::json_error_position;
use euid_store::{ClientRecord, SaltValidity, StoreError, StoreSnapshot};
use euid_token::{KeyStore, Keyset, SaltFileLocation, SaltStore};
use zeroize::{Zeroize, Zeroizing};

/// One row of `keyset_keys` (and one object of `keyset_keys.json`).
#[derive(serde::Deserialize, serde::Serialize)]
pub(crate) struct KeyRow {
    pub(crate) id: i32,
    pub(crate) keyset_id: i32,
    pub(crate) created: i64,
    pub(crate) activates: i64,
    pub(crate) expires: i64,
    pub(crate) secret: String,
}

impl Drop for KeyRow {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// The `salts` row.
pub(crate) struct SaltRow {
    pub(crate) metadata_json: Zeroizing<String>,
    pub(crate) salts_csv: Zeroizing<String>,
    pub(crate) bucket_count: i32,
    pub(crate) validity: SaltValidity,
}

/// One `clients` row: its key id and site (for queries) and the record as JSON.
pub(crate) struct ClientRow {
    pub(crate) key_id: String,
    pub(crate) site_id: i32,
    pub(crate) record: Zeroizing<String>,
}

/// One `client_side_keypairs` row.
pub(crate) struct KeypairRow {
    pub(crate) subscription_id: String,
    pub(crate) record: Zeroizing<String>,
}

/// Everything [`StoreWriter::import`](euid_store::StoreWriter::import) writes.
pub(crate) struct SnapshotRows {
    pub(crate) keysets: Vec<Keyset>,
    pub(crate) keys: Vec<KeyRow>,
    pub(crate) salts: SaltRow,
    pub(crate) clients: Vec<ClientRow>,
    pub(crate) keypairs: Vec<KeypairRow>,
}

fn invalid(part: &str, message: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid {
        path: part.to_owned(),
        message: message.to_string(),
    }
}

/// The salts row of `salts` valid over `validity`, written as the data directory writes them.
pub(crate) fn salt_row(salts: &SaltStore, validity: &SaltValidity) -> Result<SaltRow, StoreError> {
    let location = SaltFileLocation {
        generated_s: validity.generated_s,
        effective_ms: validity.effective_ms,
        expires_ms: validity.expires_ms,
        location: "salts.txt".to_owned(),
    };
    Ok(SaltRow {
        metadata_json: salts.metadata_json(&location),
        salts_csv: salts.salts_csv(),
        bucket_count: i32::try_from(salts.len())
            .map_err(|_| invalid("salts", "too many salt buckets"))?,
        validity: *validity,
    })
}

/// The key rows of `keys`, in its order.
pub(crate) fn key_rows(keys: &KeyStore) -> Result<Vec<KeyRow>, StoreError> {
    serde_json::from_str(&keys.keyset_keys_json())
        .map_err(|e| invalid("keyset_keys", json_error_position(&e)))
}

/// A key store from its rows (in `position` order).
pub(crate) fn key_store(keysets: &[Keyset], keys: &[KeyRow]) -> Result<KeyStore, StoreError> {
    let keysets_json =
        serde_json::to_vec(keysets).map_err(|e| invalid("keysets", json_error_position(&e)))?;
    let keys_json = Zeroizing::new(
        serde_json::to_vec(keys).map_err(|e| invalid("keyset_keys", json_error_position(&e)))?,
    );
    KeyStore::from_json(&keysets_json, &keys_json).map_err(|e| invalid("keyset_keys", e))
}

/// The rows of a whole snapshot. Salts without a validity get one starting at `now_s`.
pub(crate) fn snapshot_rows(snap: &StoreSnapshot, now_s: i64) -> Result<SnapshotRows, StoreError> {
    let validity = snap
        .salt_validity
        .unwrap_or_else(|| SaltValidity::starting_at(now_s));
    let clients = snap
        .clients
        .iter()
        .map(|c| {
            Ok(ClientRow {
                key_id: c.key_id.clone(),
                site_id: c.site_id,
                record: Zeroizing::new(
                    serde_json::to_string(c)
                        .map_err(|e| invalid("clients", json_error_position(&e)))?,
                ),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let keypair_values: Vec<serde_json::Value> =
        serde_json::from_str(&Zeroizing::new(snap.keypairs.to_json_pretty()))
            .map_err(|e| invalid("client_side_keypairs", json_error_position(&e)))?;
    let keypairs = keypair_values
        .iter()
        .map(|v| {
            let subscription_id = v
                .get("subscription_id")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| invalid("client_side_keypairs", "a keypair has no subscription_id"))?
                .to_owned();
            Ok(KeypairRow {
                subscription_id,
                record: Zeroizing::new(v.to_string()),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(SnapshotRows {
        keysets: snap.keys.keysets().cloned().collect(),
        keys: key_rows(&snap.keys)?,
        salts: salt_row(&snap.salts, &validity)?,
        clients,
        keypairs,
    })
}

/// Clients from their JSON rows, each checked as `clients.json`'s are; errors name the key
/// id or the JSON position, never a secret.
pub(crate) fn clients_from_rows(
    rows: &[Zeroizing<String>],
) -> Result<Vec<ClientRecord>, StoreError> {
    rows.iter()
        .map(|text| {
            let record: ClientRecord = serde_json::from_str(text)
                .map_err(|e| invalid("clients", json_error_position(&e)))?;
            record.check().map_err(|e| invalid("clients", e))?;
            Ok(record)
        })
        .collect()
}

/// Keypairs from their JSON rows (in order).
pub(crate) fn keypairs_from_rows(rows: &[Zeroizing<String>]) -> Result<KeypairStore, StoreError> {
    let mut json = Zeroizing::new(String::from("["));
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(row);
    }
    json.push(']');
    KeypairStore::from_json(json.as_bytes()).map_err(|e| invalid("client_side_keypairs", e))
}

/// Salts from their row.
pub(crate) fn salts_from_row(
    metadata_json: &str,
    salts_csv: &str,
) -> Result<SaltStore, StoreError> {
    SaltStore::from_files(metadata_json.as_bytes(), salts_csv.as_bytes())
        .map_err(|e| invalid("salts", e))
}

/// A first-level hash read from a `bytea` column: exactly 32 bytes, or `None`.
pub(crate) fn hash_from_bytes(bytes: &[u8]) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn only_32_bytes_make_a_hash(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let parsed = hash_from_bytes(&bytes);
            prop_assert_eq!(parsed.is_some(), bytes.len() == 32);
            if let Some(h) = parsed {
                prop_assert_eq!(&h[..], &bytes[..]);
            }
        }

        #[test]
        fn keypair_rows_never_panic(rows in proptest::collection::vec(".{0,40}", 0..4)) {
            let rows: Vec<Zeroizing<String>> = rows.into_iter().map(Zeroizing::new).collect();
            let _ = keypairs_from_rows(&rows);
            let _ = clients_from_rows(&rows);
        }
    }
}
