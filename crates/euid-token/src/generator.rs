//! `TokenGenerator`: identity → advertising token + refresh envelope, and refresh.

use euid_base64::{encode_to_string, Alphabet};
use euid_crypto::{AesGcmKey, RandomSource, GCM_IV_LEN};
use zeroize::Zeroizing;

use crate::advertising_token::{
    mint_advertising_token_into, AdvertisingTokenFields, OperatorIdentity, TokenVersion,
};
use crate::error::TokenError;
use crate::identity::{bucket_raw_uid, first_level_hash};
use crate::keys::{KeyStore, FALLBACK_PUBLISHER_KEYSET_ID, MASTER_KEYSET_ID, REFRESH_KEYSET_ID};
use crate::raw_uid_v4::IdentityEnvironment;
use crate::refresh_token::{
    envelope_json_into, mint_refresh_token_into, open_refresh_envelope, seal_envelope_json,
    OpenedRefresh, RefreshError, RefreshToken, RESPONSE_KEY_IN_JSON,
};
use crate::salts::SaltStore;
use crate::{IdentityScope, IdentityType, RawUid};

/// Privacy bits `/v2/token/generate` writes: the legacy bit only.
pub const PRIVACY_BITS_GENERATE: u32 = 1;
/// Privacy bits client-side generation writes: legacy + client-side generated.
pub const PRIVACY_BITS_CLIENT_SIDE: u32 = 3;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Token lifetimes and format choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// Advertising token lifetime (→ `identity_expires`), ms. Default 3 days.
    pub identity_expires_after_ms: i64,
    /// When clients should refresh (→ `refresh_from`), ms after generation. Default 1 hour.
    pub refresh_identity_after_ms: i64,
    /// Refresh token lifetime (→ `refresh_expires`), ms. Default 30 days.
    pub refresh_expires_after_ms: i64,
    /// Scope written into tokens and required of refresh tokens. Default EUID.
    pub scope: IdentityScope,
    /// `true` (default): 33-byte raw UIDs with the scope/type prefix; `false`: the bare 32.
    pub raw_uid_v3: bool,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            identity_expires_after_ms: 3 * DAY_MS,
            refresh_identity_after_ms: HOUR_MS,
            refresh_expires_after_ms: 30 * DAY_MS,
            scope: IdentityScope::Euid,
            raw_uid_v3: true,
        }
    }
}

impl TokenConfig {
    /// Checks that lifetimes are positive and `refresh_expires >= identity_expires >= refresh_from`.
    pub fn validate(&self) -> Result<(), TokenError> {
        if self.identity_expires_after_ms <= 0
            || self.refresh_identity_after_ms <= 0
            || self.refresh_expires_after_ms <= 0
        {
            return Err(TokenError::InvalidConfig("lifetimes must be positive"));
        }
        if self.refresh_expires_after_ms < self.identity_expires_after_ms {
            return Err(TokenError::InvalidConfig(
                "refresh_expires must not be before identity_expires",
            ));
        }
        if self.identity_expires_after_ms < self.refresh_identity_after_ms {
            return Err(TokenError::InvalidConfig(
                "identity_expires must not be before refresh_from",
            ));
        }
        Ok(())
    }
}

/// The body of a successful generate or refresh.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityTokens {
    /// v4 advertising token (base64url, 219 characters with a 33-byte raw UID).
    pub advertising_token: String,
    /// The 388-character refresh envelope.
    pub refresh_token: String,
    /// Fresh 32-byte key, standard base64 (44 characters), to decrypt the next refresh response.
    pub refresh_response_key: String,
    /// Advertising token expiry, Unix ms.
    pub identity_expires: i64,
    /// When to refresh, Unix ms.
    pub refresh_from: i64,
    /// Refresh token expiry, Unix ms.
    pub refresh_expires: i64,
}

impl std::fmt::Debug for IdentityTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityTokens")
            .field("advertising_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("refresh_response_key", &"<redacted>")
            .field("identity_expires", &self.identity_expires)
            .field("refresh_from", &self.refresh_from)
            .field("refresh_expires", &self.refresh_expires)
            .finish()
    }
}

/// What a refresh comes to. `Debug` shows no token, key or first-level hash.
pub enum RefreshOutcome {
    /// New tokens.
    Refreshed {
        /// The new tokens (with a new `refresh_response_key`).
        tokens: IdentityTokens,
        /// The identity's first-level hash, for the opt-out check.
        first_level_hash: [u8; 32],
        /// The identity's type.
        identity_type: IdentityType,
        /// The publisher site the tokens are for.
        site_id: i32,
        /// The **old** key from the submitted envelope: encrypt the response with it.
        refresh_response_key: AesGcmKey,
    },
    /// The refresh token expired.
    Expired {
        /// The key from the submitted envelope.
        refresh_response_key: AesGcmKey,
    },
    /// The envelope or token is invalid.
    Invalid(RefreshError),
}

impl std::fmt::Debug for RefreshOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refreshed {
                tokens,
                identity_type,
                site_id,
                ..
            } => f
                .debug_struct("Refreshed")
                .field("tokens", tokens)
                .field("first_level_hash", &"<redacted>")
                .field("identity_type", identity_type)
                .field("site_id", site_id)
                .field("refresh_response_key", &"<redacted>")
                .finish(),
            Self::Expired { .. } => f
                .debug_struct("Expired")
                .field("refresh_response_key", &"<redacted>")
                .finish(),
            Self::Invalid(e) => f.debug_tuple("Invalid").field(e).finish(),
        }
    }
}

/// What [`TokenGenerator::generate`] mints tokens for: whose identity, for which site, with
/// which privacy bits, and when (the identity is established now). `Debug` leaves out the
/// identity hash.
#[derive(Clone, Copy)]
pub struct GenerateRequest<'a> {
    /// Email or phone.
    pub identity_type: IdentityType,
    /// The identity hash (SHA-256 of the normalized identity, or the hash given).
    pub identity_hash: &'a [u8],
    /// The publisher's site.
    pub site_id: i32,
    /// Privacy bits for both tokens ([`PRIVACY_BITS_GENERATE`], [`PRIVACY_BITS_CLIENT_SIDE`]).
    pub privacy_bits: u32,
    /// Now, Unix ms.
    pub now_ms: i64,
}

impl std::fmt::Debug for GenerateRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerateRequest")
            .field("identity_type", &self.identity_type)
            .field("identity_hash", &"<redacted>")
            .field("site_id", &self.site_id)
            .field("privacy_bits", &self.privacy_bits)
            .field("now_ms", &self.now_ms)
            .finish()
    }
}

/// Mints and refreshes token pairs. Holds only configuration: keys and salts are snapshots
/// passed per call, so rotation never blocks.
#[derive(Debug, Clone)]
pub struct TokenGenerator {
    config: TokenConfig,
    environment: IdentityEnvironment,
}

// IVs for the master, site, inner refresh and envelope layers, then the response key.
const RANDOM_LEN: usize = 4 * GCM_IV_LEN + 32;
// Large enough for the biggest layer (the 291-byte envelope) without regrowing.
const SCRATCH_CAPACITY: usize = 320;

fn iv_at(random: &[u8; RANDOM_LEN], n: usize) -> [u8; GCM_IV_LEN] {
    let mut iv = [0u8; GCM_IV_LEN];
    iv.copy_from_slice(&random[n * GCM_IV_LEN..(n + 1) * GCM_IV_LEN]);
    iv
}

impl TokenGenerator {
    /// A generator with validated configuration.
    pub fn new(config: TokenConfig) -> Result<Self, TokenError> {
        config.validate()?;
        Ok(Self {
            config,
            environment: IdentityEnvironment::default(),
        })
    }

    /// The same generator with the `identity_environment` that v4 raw UIDs (buckets with key
    /// material) carry; `test` unless set.
    pub fn with_identity_environment(mut self, environment: IdentityEnvironment) -> Self {
        self.environment = environment;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    fn derive_raw_uid(
        &self,
        flh: &[u8; 32],
        identity_type: IdentityType,
        salts: &SaltStore,
    ) -> RawUid {
        // What `IdentityConfig::raw_uid` gives: v3 or v2 from a salt, v4 from key material.
        bucket_raw_uid(
            flh,
            salts.bucket_for(flh),
            self.config.scope,
            identity_type,
            self.config.raw_uid_v3,
            self.environment,
        )
    }

    /// Issues tokens for an identity hash (`/v2/token/generate`): v4 advertising token under
    /// the active master key and the site's key (or the fallback publisher key), and a v3
    /// refresh token in a fresh refresh envelope under the active refresh key.
    pub fn generate(
        &self,
        keys: &KeyStore,
        salts: &SaltStore,
        request: &GenerateRequest<'_>,
        rng: &mut impl RandomSource,
    ) -> Result<IdentityTokens, TokenError> {
        let flh = first_level_hash(request.identity_hash, salts);
        let uid = self.derive_raw_uid(&flh, request.identity_type, salts);
        self.issue(
            keys,
            &Identity {
                first_level_hash: &flh,
                raw_uid: &uid,
                identity_type: request.identity_type,
                site_id: request.site_id,
                privacy_bits: request.privacy_bits,
                established_ms: request.now_ms,
            },
            request.now_ms,
            rng,
        )
    }

    /// Refreshes from a 388-character refresh envelope (`/v2/token/refresh`).
    pub fn refresh(
        &self,
        keys: &KeyStore,
        salts: &SaltStore,
        refresh_token: &str,
        now_ms: i64,
        rng: &mut impl RandomSource,
    ) -> RefreshOutcome {
        match open_refresh_envelope(keys, refresh_token) {
            Ok(opened) => self.refresh_opened(keys, salts, opened, now_ms, rng),
            Err(e) => RefreshOutcome::Invalid(e),
        }
    }

    /// Refreshes from an envelope already opened with [`open_refresh_envelope`] (so the caller
    /// can check opt-out first without opening it twice).
    pub fn refresh_opened(
        &self,
        keys: &KeyStore,
        salts: &SaltStore,
        opened: OpenedRefresh,
        now_ms: i64,
        rng: &mut impl RandomSource,
    ) -> RefreshOutcome {
        let OpenedRefresh {
            refresh_response_key,
            token,
        } = opened;
        if token.scope != self.config.scope {
            return RefreshOutcome::Invalid(RefreshError::ScopeMismatch);
        }
        if token.expires_ms < now_ms {
            return RefreshOutcome::Expired {
                refresh_response_key,
            };
        }
        let uid = self.derive_raw_uid(&token.first_level_hash, token.identity_type, salts);
        let identity = Identity {
            first_level_hash: &token.first_level_hash,
            raw_uid: &uid,
            identity_type: token.identity_type,
            site_id: token.site_id,
            privacy_bits: token.privacy_bits,
            established_ms: token.established_ms,
        };
        match self.issue(keys, &identity, now_ms, rng) {
            Ok(tokens) => RefreshOutcome::Refreshed {
                tokens,
                first_level_hash: token.first_level_hash,
                identity_type: token.identity_type,
                site_id: token.site_id,
                refresh_response_key,
            },
            // Only a missing active key gets here; the token itself was valid.
            Err(_) => RefreshOutcome::Invalid(RefreshError::InvalidToken("no active key")),
        }
    }

    fn issue(
        &self,
        keys: &KeyStore,
        id: &Identity<'_>,
        now_ms: i64,
        rng: &mut impl RandomSource,
    ) -> Result<IdentityTokens, TokenError> {
        let master = keys
            .active_key(MASTER_KEYSET_ID, now_ms)
            .ok_or(TokenError::NoActiveKey {
                keyset_id: MASTER_KEYSET_ID,
            })?;
        let site = keys
            .site_key(id.site_id, now_ms)
            .ok_or(TokenError::NoActiveKey {
                keyset_id: FALLBACK_PUBLISHER_KEYSET_ID,
            })?;
        let refresh =
            keys.active_key(REFRESH_KEYSET_ID, now_ms)
                .ok_or(TokenError::NoActiveKey {
                    keyset_id: REFRESH_KEYSET_ID,
                })?;

        let mut random = Zeroizing::new([0u8; RANDOM_LEN]);
        rng.fill(&mut random[..]);

        let c = &self.config;
        let identity_expires = now_ms.saturating_add(c.identity_expires_after_ms);
        let refresh_from = now_ms.saturating_add(c.refresh_identity_after_ms);
        let refresh_expires = now_ms.saturating_add(c.refresh_expires_after_ms);

        // Two scratch buffers serve all four layers; the first ends up holding the envelope
        // JSON with the response key, so it is wiped.
        let mut scratch = Zeroizing::new(Vec::with_capacity(SCRATCH_CAPACITY));
        let mut bytes = Vec::with_capacity(SCRATCH_CAPACITY);
        mint_advertising_token_into(
            &AdvertisingTokenFields {
                version: TokenVersion::V4,
                scope: c.scope,
                identity_type: id.identity_type,
                expires_ms: identity_expires,
                created_ms: now_ms,
                operator: OperatorIdentity::SERVICE,
                site_id: id.site_id,
                publisher_id: 0,
                client_key_id: 0,
                privacy_bits: id.privacy_bits,
                established_ms: id.established_ms,
                refreshed_ms: now_ms,
                raw_uid: id.raw_uid,
            },
            master,
            site,
            &iv_at(&random, 0),
            &iv_at(&random, 1),
            &mut scratch,
            &mut bytes,
        )?;
        let advertising_token = encode_to_string(&bytes, Alphabet::UrlSafeNoPad);

        mint_refresh_token_into(
            &RefreshToken {
                scope: c.scope,
                identity_type: id.identity_type,
                key_id: refresh.id,
                expires_ms: refresh_expires,
                created_ms: now_ms,
                operator: OperatorIdentity::SERVICE,
                site_id: id.site_id,
                publisher_id: 0,
                client_key_id: 0,
                privacy_bits: id.privacy_bits,
                established_ms: id.established_ms,
                first_level_hash: *id.first_level_hash,
            },
            refresh,
            &iv_at(&random, 2),
            &mut scratch,
            &mut bytes,
        );
        let response_key = &random[4 * GCM_IV_LEN..];
        envelope_json_into(response_key, &bytes, &mut scratch);
        seal_envelope_json(c.scope, refresh, &scratch, &iv_at(&random, 3), &mut bytes);
        let refresh_token = encode_to_string(&bytes, Alphabet::Standard);
        // The JSON already holds the key's base64; copy it rather than encode it again.
        let refresh_response_key = scratch
            .get(RESPONSE_KEY_IN_JSON)
            .and_then(|b| std::str::from_utf8(b).ok())
            .map_or_else(
                || encode_to_string(response_key, Alphabet::Standard),
                str::to_owned,
            );
        Ok(IdentityTokens {
            advertising_token,
            refresh_token,
            refresh_response_key,
            identity_expires,
            refresh_from,
            refresh_expires,
        })
    }
}

struct Identity<'a> {
    first_level_hash: &'a [u8; 32],
    raw_uid: &'a RawUid,
    identity_type: IdentityType,
    site_id: i32,
    privacy_bits: u32,
    established_ms: i64,
}
