//! The sans-IO state a request reads: an immutable [`Snapshot`] of everything loaded from the
//! data directory (clients, keys, salts, policies, test identities, client-side keypairs).
//! How it is loaded and swapped is the shell's business (`state`); the pipeline only reads
//! it, for the length of one request.

use std::sync::Arc;

use euid_envelope::SkewPolicy;
use euid_normalize::IdentityHash;
use euid_tcf::ConsentPolicy;
use euid_token::{
    first_level_hash, IdentityMapping, IdentityScope, IdentityType, KeyStore, RawUid, SaltStore,
    TokenConfig, TokenGenerator,
};

use crate::clients::ClientStore;
use crate::config::OperatorConfig;

/// Everything a request needs that only changes when files change: held as `Arc<Snapshot>`
/// for the length of one request, so a reload never changes state under a request.
pub struct Snapshot {
    /// Operator settings.
    pub config: Arc<OperatorConfig>,
    /// API clients.
    pub clients: ClientStore,
    /// Keysets and keys.
    pub keys: KeyStore,
    /// Salts.
    pub salts: SaltStore,
    /// Token minting with the configured lifetimes.
    pub generator: TokenGenerator,
    /// The TCF consent policy.
    pub consent: ConsentPolicy,
    /// The request envelope's timestamp window.
    pub skew: SkewPolicy,
    /// First-level hashes of the test identities under these salts.
    pub test_identities: TestIdentities,
    /// Client-side token generation keypairs (`client_side_keypairs.json`).
    pub cstg_keypairs: euid_cstg::KeypairStore,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("clients", &self.clients.len())
            .field("keys", &self.keys)
            .field("salt_buckets", &self.salts.len())
            .finish_non_exhaustive()
    }
}

/// The test identities of decision 5, as first-level hashes under one salt snapshot (so the
/// email, its hash and its hex hash all match).
#[derive(Clone, Default)]
pub struct TestIdentities {
    /// Never treated as opted out.
    pub validate: Vec<[u8; 32]>,
    /// Refresh answers `optout`.
    pub refresh_optout: Vec<[u8; 32]>,
    /// Opted out wherever opt-outs are checked (identity map; generate when enabled).
    pub optout: Vec<[u8; 32]>,
}

impl std::fmt::Debug for TestIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestIdentities")
    }
}

const VALIDATE_EMAILS: [&str; 2] = ["validate@email.com", "validate@example.com"];
const VALIDATE_PHONES: [&str; 1] = ["+12345678901"];
const OPTOUT_EMAILS: [&str; 1] = ["optout@example.com"];
const OPTOUT_PHONES: [&str; 1] = ["+00000000000"];
const REFRESH_OPTOUT_EMAILS: [&str; 3] = [
    "optout@email.com",
    "optout@example.com",
    "refresh-optout@example.com",
];
const REFRESH_OPTOUT_PHONES: [&str; 2] = ["+00000000000", "+00000000002"];

impl TestIdentities {
    /// The test identities' first-level hashes under `salts`.
    pub fn new(salts: &SaltStore) -> Self {
        fn flhs(salts: &SaltStore, emails: &[&str], phones: &[&str]) -> Vec<[u8; 32]> {
            let email = emails
                .iter()
                .filter_map(|e| euid_normalize::hash_email(e).ok());
            let phone = phones
                .iter()
                .filter_map(|p| euid_normalize::hash_phone(p).ok());
            email
                .chain(phone)
                .map(|h: IdentityHash| first_level_hash(h.as_bytes(), salts))
                .collect()
        }
        Self {
            validate: flhs(salts, &VALIDATE_EMAILS, &VALIDATE_PHONES),
            refresh_optout: flhs(salts, &REFRESH_OPTOUT_EMAILS, &REFRESH_OPTOUT_PHONES),
            optout: flhs(salts, &OPTOUT_EMAILS, &OPTOUT_PHONES),
        }
    }

    /// Whether this is a validate identity (never opted out).
    pub fn is_validate(&self, flh: &[u8; 32]) -> bool {
        self.validate.contains(flh)
    }
}

/// The token settings of a config.
pub fn token_config(config: &OperatorConfig) -> TokenConfig {
    TokenConfig {
        identity_expires_after_ms: config
            .identity_token_expires_after_seconds
            .saturating_mul(1000),
        refresh_identity_after_ms: config
            .refresh_identity_token_after_seconds
            .saturating_mul(1000),
        refresh_expires_after_ms: config
            .refresh_token_expires_after_seconds
            .saturating_mul(1000),
        scope: IdentityScope::Euid,
        // The generator makes the same choice as `Snapshot::raw_uid` (`OperatorConfig::identity`).
        raw_uid_v3: config.identity().identity_v3,
    }
}

/// The token generator of a config: its lifetimes, and the raw UID choice of
/// [`OperatorConfig::identity`].
pub fn token_generator(config: &OperatorConfig) -> Result<TokenGenerator, euid_token::TokenError> {
    Ok(TokenGenerator::new(token_config(config))?
        .with_identity_environment(config.identity().environment))
}

impl Snapshot {
    /// The current raw UID of a first-level hash under these salts: the one derivation every
    /// endpoint uses (identity maps, validate, logout's record; the generator makes the same
    /// choice, see [`token_generator`]).
    pub fn raw_uid(&self, first_level_hash: &[u8; 32], identity_type: IdentityType) -> RawUid {
        self.config.identity().raw_uid(
            first_level_hash,
            IdentityScope::Euid,
            identity_type,
            &self.salts,
        )
    }

    /// Everything `/v3/identity/map` says about an identity at `now_ms`.
    pub fn map_identity(
        &self,
        first_level_hash: &[u8; 32],
        identity_type: IdentityType,
        now_ms: i64,
    ) -> IdentityMapping {
        self.config.identity().map_first_level_hash(
            first_level_hash,
            IdentityScope::Euid,
            identity_type,
            &self.salts,
            now_ms,
        )
    }
}
