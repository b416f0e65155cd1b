//! The parts an operator snapshot is made of, as a store hands them out, and the token that
//! says whether they changed.

use euid_cstg::KeypairStore;
use euid_token::{KeyStore, SaltStore};

use crate::clients::ClientRecord;

/// Everything a store holds that an operator serves from memory: one consistent read of the
/// keys and keysets, the salts, the API clients and the client-side keypairs.
///
/// Opt-outs are not part of it: they change on every logout and live behind
/// [`OptOutStore`](crate::OptOutStore).
pub struct StoreSnapshot {
    /// Keysets and their keys (`keysets.json`, `keyset_keys.json`).
    pub keys: KeyStore,
    /// The salt buckets and the first-level salt (`salts/`).
    pub salts: SaltStore,
    /// When the salts were generated, become effective and expire, if the store records it
    /// (carried over by an import).
    pub salt_validity: Option<SaltValidity>,
    /// The API clients (`clients.json`), each one passing
    /// [`ClientRecord::check`](crate::ClientRecord::check).
    pub clients: Vec<ClientRecord>,
    /// The client-side token generation keypairs (`client_side_keypairs.json`; empty when
    /// there are none).
    pub keypairs: KeypairStore,
}

impl std::fmt::Debug for StoreSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSnapshot")
            .field("keys", &self.keys)
            .field("salt_buckets", &self.salts.len())
            .field("salt_validity", &self.salt_validity)
            .field("clients", &self.clients.len())
            .field("keypairs", &self.keypairs.len())
            .finish()
    }
}

/// When a set of salts was made and for how long it holds (`salts/metadata.json`'s
/// `generated` and its salts file's `effective` and `expires`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaltValidity {
    /// When the salts were generated, epoch seconds.
    pub generated_s: i64,
    /// When they become effective, Unix ms.
    pub effective_ms: i64,
    /// When they expire, Unix ms.
    pub expires_ms: i64,
}

impl SaltValidity {
    /// What `init` gives new salts: generated and effective at `now_s`, expiring ten years
    /// later.
    pub fn starting_at(now_s: i64) -> Self {
        let now_ms = now_s.saturating_mul(1000);
        Self {
            generated_s: now_s,
            effective_ms: now_ms,
            expires_ms: now_ms.saturating_add(10 * 365 * 86_400_000),
        }
    }
}

/// A cheap, comparable stamp of a store's state, for a reload loop: when
/// [`SnapshotSource::change_token`](crate::SnapshotSource::change_token) returns a token
/// that differs from the one taken before the last load, something may have changed and the
/// snapshot is loaded again. Equal tokens mean nothing did.
///
/// What is inside is the backend's business: the data directory's watched files'
/// modification times and lengths, a database's change counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChangeToken(Inner);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Inner {
    Words(Vec<u64>),
    Unavailable,
}

impl ChangeToken {
    /// A token made of a backend's own words (file stamps, a change counter, a sequence
    /// number): equal words, equal tokens.
    pub fn from_words(words: impl IntoIterator<Item = u64>) -> Self {
        Self(Inner::Words(words.into_iter().collect()))
    }

    /// The token of a store whose change marker cannot be read right now (a database that
    /// is down): it differs from every token [`ChangeToken::from_words`] makes, so the first
    /// poll that gets it triggers a load (whose error the caller reports), and it equals
    /// itself, so a lasting outage does not trigger one on every poll.
    pub fn unavailable() -> Self {
        Self(Inner::Unavailable)
    }

    /// Whether this is [`ChangeToken::unavailable`].
    pub fn is_unavailable(&self) -> bool {
        self.0 == Inner::Unavailable
    }
}

impl Default for ChangeToken {
    /// The token of nothing: no words.
    fn default() -> Self {
        Self::from_words([])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_their_words_and_unavailable_is_apart() {
        assert_eq!(
            ChangeToken::from_words([1, 2]),
            ChangeToken::from_words([1, 2])
        );
        assert_ne!(
            ChangeToken::from_words([1, 2]),
            ChangeToken::from_words([1, 3])
        );
        assert_ne!(ChangeToken::from_words([]), ChangeToken::unavailable());
        assert_eq!(ChangeToken::unavailable(), ChangeToken::unavailable());
        assert!(ChangeToken::unavailable().is_unavailable());
        assert!(!ChangeToken::default().is_unavailable());
    }
}
