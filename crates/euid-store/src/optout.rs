//! Opt-out records behind a trait: durable writes, lookups served from memory, and catch-up
//! by sequence number for replicas that share one store.
//!
//! Records are keyed by first-level hash (refresh, identity map, generate when enabled) and
//! by raw UID (`/v2/optout/status`), as in `wire.md` §10. The operator's SQLite store
//! (`euid_operator::SqliteOptOutStore`) implements the trait for the data directory.

/// One opt-out: who, under which advertising id, and when.
#[derive(Clone, PartialEq, Eq)]
pub struct OptOutRecord {
    /// The identity's first-level hash.
    pub first_level_hash: [u8; 32],
    /// The raw UID (advertising id) bytes at the time of the opt-out.
    pub advertising_id: Vec<u8>,
    /// When the opt-out was recorded, Unix ms.
    pub opted_out_ms: i64,
}

impl std::fmt::Debug for OptOutRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptOutRecord")
            .field("opted_out_ms", &self.opted_out_ms)
            .finish_non_exhaustive()
    }
}

/// An opt-out as a store holds it, with the sequence number of its last change.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SequencedOptOut {
    /// Larger than the sequence number of every change committed before this one. Numbers
    /// can skip (a rolled-back insert, a row whose later update took a new number): readers
    /// must never take a missing number for a lost record.
    pub sequence: u64,
    /// The record as it is after that change.
    pub record: OptOutRecord,
}

/// Why the opt-out store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptOutError {
    /// The database refused an operation (its own error text, never a row's contents).
    #[error("opt-out database error: {0}")]
    Database(Box<dyn std::error::Error + Send + Sync>),
    /// A stored row is malformed.
    #[error("opt-out database holds a malformed row")]
    Malformed,
    /// The database file could not be created or its mode set.
    #[error("opt-out database file: {0}")]
    Io(std::io::Error),
    /// A lock was poisoned by a panicking thread.
    #[error("opt-out store lock poisoned")]
    Poisoned,
    /// The records cannot be read right now (for stores whose index can be missing).
    #[error("opt-out records are unavailable")]
    Unavailable,
    /// This store keeps no sequence numbers, so it cannot be caught up from (an in-memory
    /// store of a single process, a test double).
    #[error("this opt-out store does not support catch-up by sequence number")]
    Unsupported,
}

impl OptOutError {
    /// A database error, boxed.
    pub fn database(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Database(Box::new(e))
    }
}

/// Where opt-outs live. `record` must be durable when it returns (an acknowledged logout
/// survives a crash); lookups are on the request hot path and must not touch the disk.
///
/// Lookups fail closed: a store that cannot read its records answers `Err`, never
/// `Ok(None)`, so an unreadable index is never taken for "not opted out".
///
/// [`OptOutStore::records_since`] is the catch-up a backend shared by several replicas
/// needs: after a notification, and on a timer in case one was missed, a replica asks for
/// what came after the last sequence number it applied. Applying a record twice is harmless
/// (the latest opt-out time wins), so a replica may re-read from an older number after a gap
/// or a restart. No replica calls it yet: the embedded SQLite store (`optout.db`) belongs to
/// one operator process, which fills its index at open and from its own writes; sharing
/// opt-outs between replicas is the PostgreSQL backend's job (issue #19).
pub trait OptOutStore: Send + Sync {
    /// Stores an opt-out durably (committed before it returns) and makes it visible to
    /// lookups. Re-recording an identity keeps the latest time.
    fn record(&self, record: &OptOutRecord) -> Result<(), OptOutError>;
    /// When the identity with this first-level hash opted out (Unix ms), if it did.
    fn opted_out_since(&self, first_level_hash: &[u8; 32]) -> Result<Option<i64>, OptOutError>;
    /// When the identity with this raw UID opted out (Unix ms), if it did.
    fn advertising_id_opted_out_since(
        &self,
        advertising_id: &[u8],
    ) -> Result<Option<i64>, OptOutError>;
    /// Whether lookups can be answered now; must not block (it serves `/ops/healthcheck`).
    fn available(&self) -> Result<(), OptOutError>;
    /// Number of distinct opted-out identities.
    fn len(&self) -> usize;
    /// Whether no identity opted out.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The sequence number of the latest committed change, 0 when there is none. Reads the
    /// durable store (not for the request path).
    ///
    /// The default is [`OptOutError::Unsupported`], for stores that are nobody's source.
    fn latest_sequence(&self) -> Result<u64, OptOutError> {
        Err(OptOutError::Unsupported)
    }
    /// At most `limit` records whose last change has a sequence number above `after`, in
    /// increasing sequence order: `records_since(0, n)` pages through everything (an export,
    /// a new replica), `records_since(last_applied, n)` catches a replica up. A record
    /// changed twice since `after` appears once, with its latest state. Reads the durable
    /// store (not for the request path).
    ///
    /// The default is [`OptOutError::Unsupported`], for stores that are nobody's source.
    fn records_since(&self, after: u64, limit: usize) -> Result<Vec<SequencedOptOut>, OptOutError> {
        let _ = (after, limit);
        Err(OptOutError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bare;

    impl OptOutStore for Bare {
        fn record(&self, _: &OptOutRecord) -> Result<(), OptOutError> {
            Ok(())
        }
        fn opted_out_since(&self, _: &[u8; 32]) -> Result<Option<i64>, OptOutError> {
            Ok(None)
        }
        fn advertising_id_opted_out_since(&self, _: &[u8]) -> Result<Option<i64>, OptOutError> {
            Ok(None)
        }
        fn available(&self) -> Result<(), OptOutError> {
            Ok(())
        }
        fn len(&self) -> usize {
            0
        }
    }

    #[test]
    fn stores_without_sequences_say_so_instead_of_answering_nothing() {
        // An empty answer would read as "caught up": a store that cannot tell must refuse.
        assert!(matches!(
            Bare.records_since(0, 10),
            Err(OptOutError::Unsupported)
        ));
        assert!(matches!(
            Bare.latest_sequence(),
            Err(OptOutError::Unsupported)
        ));
        assert!(Bare.is_empty());
    }

    #[test]
    fn debug_shows_no_identity() {
        let r = OptOutRecord {
            first_level_hash: [0xAB; 32],
            advertising_id: vec![0xCD; 33],
            opted_out_ms: 5,
        };
        let shown = format!(
            "{:?}",
            SequencedOptOut {
                sequence: 1,
                record: r,
            }
        );
        assert!(!shown.contains("171") && !shown.contains("205"), "{shown}");
    }
}
