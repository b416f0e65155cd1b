//! [`OptOutIndex`]: the in-memory opt-out lookup every opt-out store serves from.

use std::collections::HashMap;

use crate::optout::OptOutRecord;

/// Raw UIDs of this length (the v2+ advertising id) are kept inline, without a heap
/// allocation per record; other lengths go to a side map.
const INLINE_ID_LEN: usize = 32;

/// Opt-outs by first-level hash and by raw UID (advertising id), the latest time of each.
///
/// Pure and single-threaded: a store wraps it in its own lock. Each map's entry holds its key
/// inline (a 32-byte array and an `i64`), so a record costs two hash-table slots and no
/// allocation of its own; raw UIDs of another length than 32 bytes (not produced by this
/// operator) fall back to a boxed key.
///
/// ```
/// use euid_store::{OptOutIndex, OptOutRecord};
/// let mut index = OptOutIndex::default();
/// index.insert(&OptOutRecord { first_level_hash: [1; 32], advertising_id: vec![2; 32], opted_out_ms: 5 });
/// index.insert(&OptOutRecord { first_level_hash: [1; 32], advertising_id: vec![2; 32], opted_out_ms: 3 });
/// assert_eq!(index.opted_out_since(&[1; 32]), Some(5)); // the latest time wins
/// assert_eq!(index.advertising_id_opted_out_since(&[2; 32]), Some(5));
/// assert_eq!(index.len(), 1);
/// ```
#[derive(Default, Clone)]
pub struct OptOutIndex {
    by_flh: HashMap<[u8; 32], i64>,
    by_advertising_id: HashMap<[u8; INLINE_ID_LEN], i64>,
    by_other_advertising_id: HashMap<Box<[u8]>, i64>,
}

impl std::fmt::Debug for OptOutIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptOutIndex")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

fn keep_latest<K: std::hash::Hash + Eq>(map: &mut HashMap<K, i64>, key: K, t: i64) {
    let slot = map.entry(key).or_insert(t);
    *slot = (*slot).max(t);
}

impl OptOutIndex {
    /// An empty index with room for `n` identities.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            by_flh: HashMap::with_capacity(n),
            by_advertising_id: HashMap::with_capacity(n),
            by_other_advertising_id: HashMap::new(),
        }
    }

    /// Adds a record; an identity recorded again keeps its latest time (as the live operator
    /// does when it re-records one). An empty advertising id is indexed by hash only.
    pub fn insert(&mut self, r: &OptOutRecord) {
        keep_latest(&mut self.by_flh, r.first_level_hash, r.opted_out_ms);
        if r.advertising_id.is_empty() {
            return;
        }
        match <[u8; INLINE_ID_LEN]>::try_from(r.advertising_id.as_slice()) {
            Ok(id) => keep_latest(&mut self.by_advertising_id, id, r.opted_out_ms),
            Err(_) => keep_latest(
                &mut self.by_other_advertising_id,
                r.advertising_id.clone().into_boxed_slice(),
                r.opted_out_ms,
            ),
        }
    }

    /// When the identity with this first-level hash opted out (Unix ms), if it did.
    pub fn opted_out_since(&self, first_level_hash: &[u8; 32]) -> Option<i64> {
        self.by_flh.get(first_level_hash).copied()
    }

    /// When the identity with this raw UID opted out (Unix ms), if it did.
    pub fn advertising_id_opted_out_since(&self, advertising_id: &[u8]) -> Option<i64> {
        match <[u8; INLINE_ID_LEN]>::try_from(advertising_id) {
            Ok(id) => self.by_advertising_id.get(&id).copied(),
            Err(_) => self.by_other_advertising_id.get(advertising_id).copied(),
        }
    }

    /// Number of distinct opted-out identities (first-level hashes).
    pub fn len(&self) -> usize {
        self.by_flh.len()
    }

    /// Whether no identity opted out.
    pub fn is_empty(&self) -> bool {
        self.by_flh.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(flh: u8, id: Vec<u8>, t: i64) -> OptOutRecord {
        OptOutRecord {
            first_level_hash: [flh; 32],
            advertising_id: id,
            opted_out_ms: t,
        }
    }

    #[test]
    fn both_keys_keep_the_latest_time_whatever_the_order() {
        let mut index = OptOutIndex::with_capacity(4);
        index.insert(&rec(1, vec![9; 32], 10));
        index.insert(&rec(1, vec![9; 32], 7));
        index.insert(&rec(2, vec![8; 33], 4));
        index.insert(&rec(2, vec![8; 33], 6));
        index.insert(&rec(3, Vec::new(), 1));
        assert_eq!(index.opted_out_since(&[1; 32]), Some(10));
        assert_eq!(index.advertising_id_opted_out_since(&[9; 32]), Some(10));
        assert_eq!(index.opted_out_since(&[2; 32]), Some(6));
        assert_eq!(index.advertising_id_opted_out_since(&[8; 33]), Some(6));
        assert_eq!(index.advertising_id_opted_out_since(&[8; 32]), None);
        assert_eq!(index.advertising_id_opted_out_since(&[]), None);
        assert_eq!(index.opted_out_since(&[3; 32]), Some(1));
        assert_eq!(index.len(), 3);
        assert!(!index.is_empty());
        assert!(!format!("{index:?}").contains("9, 9"));
    }
}
