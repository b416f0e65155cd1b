//! Decrypting advertising tokens against a key snapshot, and encrypting raw UIDs for sharing.

use euid_crypto::{RandomSource, GCM_IV_LEN};
use euid_token::{
    AdvertisingTokenFields, IdentityScope, IdentityType, OperatorIdentity, RawUid, TokenError,
    TokenVersion, PRIVACY_BITS_CLIENT_SIDE,
};

use crate::KeySnapshot;

/// Bit 1 of the privacy bits marks a client-side generated token, as the operator sets it
/// (uid2-operator PrivacyBits.java); bit 0 is the legacy bit every token carries.
const CLIENT_SIDE_GENERATED_BIT: u32 = PRIVACY_BITS_CLIENT_SIDE & !1;

/// The outcome of a decryption, with the SDKs' names (`DecryptionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecryptionStatus {
    /// The token decrypted and passed every check.
    Success,
    /// The site key is not among the keys (not shared with this caller).
    NotAuthorizedForKey,
    /// The master key is not among the keys.
    NotAuthorizedForMasterKey,
    /// No keys yet: call `refresh` first.
    NotInitialized,
    /// The token is malformed or fails authentication.
    InvalidPayload,
    /// The token has expired.
    ExpiredToken,
    /// Every key has expired: the snapshot is stale.
    KeysNotSynced,
    /// The token's version is not one this build decrypts.
    VersionNotSupported,
    /// A client-side generated token was not issued for this domain or app name.
    DomainOrAppNameCheckFailed,
    /// The token lives longer than the key answer allows, or was generated in the future.
    InvalidTokenLifetime,
}

impl DecryptionStatus {
    /// The status as the Python SDK spells it (`SUCCESS`, `EXPIRED_TOKEN`, ...).
    pub const fn as_sdk_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::NotAuthorizedForKey => "NOT_AUTHORIZED_FOR_KEY",
            Self::NotAuthorizedForMasterKey => "NOT_AUTHORIZED_FOR_MASTER_KEY",
            Self::NotInitialized => "NOT_INITIALIZED",
            Self::InvalidPayload => "INVALID_PAYLOAD",
            Self::ExpiredToken => "EXPIRED_TOKEN",
            Self::KeysNotSynced => "KEYS_NOT_SYNCED",
            Self::VersionNotSupported => "VERSION_NOT_SUPPORTED",
            Self::DomainOrAppNameCheckFailed => "DOMAIN_OR_APP_NAME_CHECK_FAILED",
            Self::InvalidTokenLifetime => "INVALID_TOKEN_LIFETIME",
        }
    }
}

/// Which lifetime limit of the key answer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientType {
    /// A bidder: `max_bidstream_lifetime_seconds`, and the domain check for CSTG tokens.
    Bidstream,
    /// A sharer: `max_sharing_lifetime_seconds`.
    Sharing,
}

/// A decrypted token, or why not. Every field but `status` is `None` unless it is `Success`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptionResponse {
    /// The outcome.
    pub status: DecryptionStatus,
    /// The raw UID, standard base64 (as the SDKs give it).
    pub uid: Option<String>,
    /// When the identity was established, Unix ms.
    pub established_ms: Option<i64>,
    /// The publisher's site id.
    pub site_id: Option<i32>,
    /// The token's identity scope (from the token, not the key answer).
    pub identity_scope: Option<IdentityScope>,
    /// Email or phone (`None` for v2 tokens with a 32-byte id, which carry no type).
    pub identity_type: Option<IdentityType>,
    /// The token format version.
    pub advertising_token_version: Option<TokenVersion>,
    /// Whether the token was generated on the client side (CSTG).
    pub is_client_side_generated: Option<bool>,
    /// When the token expires, Unix ms.
    pub expiry_ms: Option<i64>,
}

impl DecryptionResponse {
    fn failure(status: DecryptionStatus) -> Self {
        Self {
            status,
            uid: None,
            established_ms: None,
            site_id: None,
            identity_scope: None,
            identity_type: None,
            advertising_token_version: None,
            is_client_side_generated: None,
            expiry_ms: None,
        }
    }

    /// Whether the status is `Success`.
    pub fn is_success(&self) -> bool {
        self.status == DecryptionStatus::Success
    }
}

/// Decrypts `token` at `now_ms` against `keys` (`None` before the first refresh), checking in
/// the SDKs' order: keys present, keys synced, token length, master key, expiry, site key,
/// domain or app name (bidstream, client-side generated tokens: the name must be one of the
/// token's site in `site_data`, case-insensitively), lifetime and clock skew.
pub fn decrypt_token(
    keys: Option<&KeySnapshot>,
    token: &str,
    domain_or_app_name: Option<&str>,
    client_type: ClientType,
    now_ms: i64,
) -> DecryptionResponse {
    use DecryptionStatus as S;
    let Some(keys) = keys.filter(|k| !k.is_empty()) else {
        return DecryptionResponse::failure(S::NotInitialized);
    };
    if !keys.is_valid_at(now_ms) {
        return DecryptionResponse::failure(S::KeysNotSynced);
    }
    if token.len() < 4 {
        return DecryptionResponse::failure(S::InvalidPayload);
    }
    let store = keys.key_store().unscoped();
    #[cfg(feature = "legacy-v2")]
    let decoded = euid_token::decode_advertising_token_with_legacy(&store, token, now_ms);
    #[cfg(not(feature = "legacy-v2"))]
    let decoded = euid_token::decode_advertising_token(&store, token, now_ms);
    let t = match decoded {
        Ok(t) => t,
        Err(e) => {
            return DecryptionResponse::failure(match e {
                TokenError::VersionNotSupported => S::VersionNotSupported,
                TokenError::UnknownMasterKey(_) => S::NotAuthorizedForMasterKey,
                TokenError::UnknownSiteKey(_) => S::NotAuthorizedForKey,
                TokenError::Expired { .. } => S::ExpiredToken,
                _ => S::InvalidPayload,
            })
        }
    };
    let cstg = t.privacy_bits & CLIENT_SIDE_GENERATED_BIT != 0;
    // As the Java SDK: a client-side generated token in the bidstream must come from one of
    // its site's domains or apps (`site_data`); the Python SDK skips this check.
    if client_type == ClientType::Bidstream && cstg {
        let allowed = domain_or_app_name
            .is_some_and(|name| keys.is_domain_or_app_name_allowed(t.site_id, name));
        if !allowed {
            return DecryptionResponse::failure(S::DomainOrAppNameCheckFailed);
        }
    }
    let max_lifetime_s = match client_type {
        ClientType::Bidstream => keys.max_bidstream_lifetime_seconds,
        ClientType::Sharing => keys.max_sharing_lifetime_seconds,
    };
    // v2 tokens have no generation time: their remaining lifetime is checked instead.
    let generated_ms = t.created_ms.unwrap_or(now_ms);
    if let Some(max) = max_lifetime_s {
        let lifetime_ms = i128::from(t.expires_ms) - i128::from(generated_ms);
        if lifetime_ms > i128::from(max) * 1000 {
            return DecryptionResponse::failure(S::InvalidTokenLifetime);
        }
    }
    if i128::from(generated_ms)
        > i128::from(now_ms) + i128::from(keys.allow_clock_skew_seconds) * 1000
    {
        return DecryptionResponse::failure(S::InvalidTokenLifetime);
    }
    let has_type = t.version != TokenVersion::V2 || t.raw_uid.scope_and_type().is_some();
    DecryptionResponse {
        status: S::Success,
        uid: Some(t.raw_uid.to_base64()),
        established_ms: Some(t.established_ms),
        site_id: Some(t.site_id),
        identity_scope: Some(t.scope),
        identity_type: has_type.then_some(t.identity_type),
        advertising_token_version: Some(t.version),
        is_client_side_generated: Some(cstg),
        expiry_ms: Some(t.expires_ms),
    }
}

/// Why a raw UID could not be encrypted into a sharing token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptionError {
    /// No keys yet: call `refresh` first.
    #[error("no keys: refresh first")]
    NotInitialized,
    /// Every key has expired.
    #[error("the keys are stale: refresh")]
    KeysNotSynced,
    /// The key answer has no `caller_site_id`.
    #[error("the key answer has no caller_site_id")]
    NoSiteId,
    /// No active master key in `master_keyset_id`.
    #[error("no active master key")]
    NotAuthorizedForMasterKey,
    /// No active key in the keyset to encrypt with.
    #[error("no active site key in keyset {0:?}")]
    NotAuthorizedForKey(Option<i32>),
    /// The raw UID is not standard base64 of 32 or 33 bytes.
    #[error("the raw UID is not standard base64 of 32 or 33 bytes")]
    InvalidRawUid,
}

/// Encrypts `raw_uid` (standard base64) into a v4 sharing token at `now_ms`, as the SDKs do:
/// the caller's site, the active master key and the active key of `keyset_id` (default: the
/// answer's `default_keyset_id`), expiring after `token_expiry_seconds`.
pub fn encrypt_raw_uid(
    keys: Option<&KeySnapshot>,
    raw_uid: &str,
    keyset_id: Option<i32>,
    now_ms: i64,
    rng: &mut impl RandomSource,
) -> Result<String, EncryptionError> {
    let keys = keys
        .filter(|k| !k.is_empty())
        .ok_or(EncryptionError::NotInitialized)?;
    if !keys.is_valid_at(now_ms) {
        return Err(EncryptionError::KeysNotSynced);
    }
    let uid = RawUid::from_base64(raw_uid).ok_or(EncryptionError::InvalidRawUid)?;
    let site_id = keys.caller_site_id.ok_or(EncryptionError::NoSiteId)?;
    let store = keys.key_store();
    let master = keys
        .master_keyset_id
        .and_then(|ks| store.active_key(ks, now_ms))
        .ok_or(EncryptionError::NotAuthorizedForMasterKey)?;
    let site_keyset = keyset_id.or(keys.default_keyset_id);
    let site_key = site_keyset
        .and_then(|ks| store.active_key(ks, now_ms))
        .ok_or(EncryptionError::NotAuthorizedForKey(site_keyset))?;
    // A 33-byte raw UID says its scope and type; the token header must agree with it.
    let (scope, identity_type) = uid.scope_and_type().unwrap_or_else(|| {
        let phone = raw_uid.starts_with(['F', 'B']);
        let t = if phone {
            IdentityType::Phone
        } else {
            IdentityType::Email
        };
        (keys.identity_scope, t)
    });
    let fields = AdvertisingTokenFields {
        version: TokenVersion::V4,
        scope,
        identity_type,
        expires_ms: now_ms.saturating_add(keys.token_expiry_seconds.saturating_mul(1000)),
        created_ms: now_ms,
        // What the SDKs write for tokens they encrypt.
        operator: OperatorIdentity {
            site_id: 0,
            operator_type: 1,
            version: 0,
            key_id: 0,
        },
        site_id,
        publisher_id: 0,
        client_key_id: 0,
        privacy_bits: 0,
        established_ms: now_ms,
        refreshed_ms: now_ms,
        raw_uid: &uid,
    };
    let mut master_iv = [0u8; GCM_IV_LEN];
    let mut site_iv = [0u8; GCM_IV_LEN];
    rng.fill(&mut master_iv);
    rng.fill(&mut site_iv);
    euid_token::mint_advertising_token(&fields, master, site_key, &master_iv, &site_iv)
        .map_err(|_| EncryptionError::InvalidRawUid)
}

#[cfg(test)]
mod tests {
    use super::*;

    // uid2-client-python tests/test_utils.py: master key 164, site key 165.
    const MASTER: &str = "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs=";
    const SITE: &str = "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U=";
    const GOLDEN_EUID_V4: &str = "E4AAAACkAAECAwQFBgcICQoLUMv-uGAwtMwoQrdyiCZwSaYTBi3JJzaIp8xuf_jQ3Fc-eIwE8Dv8BtfmRz-o23woYZ4ohnd77llu8oHg8jEdgt0YCuxB7TnJ3Sj6FUBzcAo5dhJsUs0ckSRpONhKc-vRXnjlyOcDm9KNyGT8AjznVuHDJ46d4LVToFHcJF1Mat00tBMoYioVhajFMDo57cg10H0";
    const GOLDEN_UID: &str = "EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb";
    // 2023-01-01T01:01:01Z
    const GENERATED_MS: i64 = 1_672_534_861_000;

    fn snapshot(extra: &str) -> KeySnapshot {
        let json = format!(
            r#"{{"identity_scope":"EUID","caller_site_id":9000,"master_keyset_id":9999999,"default_keyset_id":20,{extra}
            "keys":[{{"id":164,"keyset_id":9999999,"created":1600000000,"activates":1600000000,"expires":2500000000,"secret":"{MASTER}"}},
                    {{"id":165,"keyset_id":20,"created":1600000000,"activates":1600000000,"expires":2500000000,"secret":"{SITE}"}}]}}"#
        );
        KeySnapshot::from_body(&serde_json::from_str(&json).unwrap()).unwrap()
    }

    #[test]
    fn golden_euid_v4_token_decrypts() {
        let keys = snapshot("");
        let now = GENERATED_MS + 1000;
        let out = decrypt_token(
            Some(&keys),
            GOLDEN_EUID_V4,
            Some("x"),
            ClientType::Bidstream,
            now,
        );
        assert_eq!(out.status, DecryptionStatus::Success);
        assert_eq!(out.uid.as_deref(), Some(GOLDEN_UID));
        assert_eq!(out.site_id, Some(9000));
        assert_eq!(out.established_ms, Some(GENERATED_MS - 3_600_000));
        assert_eq!(out.identity_scope, Some(IdentityScope::Euid));
        assert_eq!(out.identity_type, Some(IdentityType::Email));
        assert_eq!(out.advertising_token_version, Some(TokenVersion::V4));
        assert_eq!(out.is_client_side_generated, Some(false));
    }

    #[test]
    fn statuses_in_the_sdk_order() {
        use DecryptionStatus as S;
        let now = GENERATED_MS + 1000;
        let status = |keys: Option<&KeySnapshot>, token: &str, now: i64| {
            decrypt_token(keys, token, None, ClientType::Bidstream, now).status
        };
        assert_eq!(status(None, GOLDEN_EUID_V4, now), S::NotInitialized);
        let empty = KeySnapshot::from_body(&serde_json::json!({"keys": []})).unwrap();
        assert_eq!(status(Some(&empty), GOLDEN_EUID_V4, now), S::NotInitialized);
        let keys = snapshot("");
        assert_eq!(
            status(Some(&keys), GOLDEN_EUID_V4, 2_500_000_000_000),
            S::KeysNotSynced
        );
        assert_eq!(status(Some(&keys), "E4A", now), S::InvalidPayload);
        assert_eq!(status(Some(&keys), "AAAA", now), S::VersionNotSupported);
        let mut tampered = GOLDEN_EUID_V4.to_owned();
        tampered.replace_range(
            60..61,
            if &GOLDEN_EUID_V4[60..61] == "A" {
                "B"
            } else {
                "A"
            },
        );
        assert_eq!(status(Some(&keys), &tampered, now), S::InvalidPayload);
        // 2042-12-27 is the expiry.
        assert_eq!(
            status(Some(&keys), GOLDEN_EUID_V4, 2_304_000_000_000),
            S::ExpiredToken
        );
        let only_site = KeySnapshot::from_body(&serde_json::json!({"keys": [
            {"id":165,"created":1,"activates":1,"expires":2_500_000_000_i64,"secret":SITE}]}))
        .unwrap();
        assert_eq!(
            status(Some(&only_site), GOLDEN_EUID_V4, now),
            S::NotAuthorizedForMasterKey
        );
        let only_master = KeySnapshot::from_body(&serde_json::json!({"keys": [
            {"id":164,"created":1,"activates":1,"expires":2_500_000_000_i64,"secret":MASTER}]}))
        .unwrap();
        assert_eq!(
            status(Some(&only_master), GOLDEN_EUID_V4, now),
            S::NotAuthorizedForKey
        );
        // The golden token lives ~20 years: any realistic limit refuses it.
        let limited = snapshot(r#""max_bidstream_lifetime_seconds":259210,"#);
        assert_eq!(
            status(Some(&limited), GOLDEN_EUID_V4, now),
            S::InvalidTokenLifetime
        );
        // Generated more than the allowed skew in the future.
        assert_eq!(
            status(Some(&keys), GOLDEN_EUID_V4, GENERATED_MS - 1_801_000),
            S::InvalidTokenLifetime
        );
        assert_eq!(
            status(Some(&keys), GOLDEN_EUID_V4, GENERATED_MS - 1_799_000),
            S::Success
        );
    }

    #[test]
    fn client_side_tokens_are_checked_against_site_data_in_the_bidstream_only() {
        let keys =
            snapshot(r#""site_data":[{"id":9000,"domain_names":["Pub.example","com.pub.app"]}],"#);
        let uid = RawUid::from_base64(GOLDEN_UID).unwrap();
        let store = keys.key_store();
        let now = 1_700_000_000_000;
        let mint = |site_id: i32, privacy_bits: u32| {
            let fields = AdvertisingTokenFields {
                version: TokenVersion::V4,
                scope: IdentityScope::Euid,
                identity_type: IdentityType::Email,
                expires_ms: now + 3_600_000,
                created_ms: now,
                operator: OperatorIdentity::SERVICE,
                site_id,
                publisher_id: 0,
                client_key_id: 0,
                privacy_bits,
                established_ms: now,
                refreshed_ms: now,
                raw_uid: &uid,
            };
            let (m, s) = (store.key_by_id(164).unwrap(), store.key_by_id(165).unwrap());
            euid_token::mint_advertising_token(&fields, m, s, &[1; 12], &[2; 12]).unwrap()
        };
        let status = |token: &str, name: Option<&str>, client_type| {
            decrypt_token(Some(&keys), token, name, client_type, now).status
        };
        use DecryptionStatus as S;
        let cstg = mint(9000, PRIVACY_BITS_CLIENT_SIDE);
        assert_eq!(
            status(&cstg, Some("pub.example"), ClientType::Bidstream),
            S::Success
        );
        assert_eq!(
            status(&cstg, Some("COM.PUB.APP"), ClientType::Bidstream),
            S::Success
        );
        assert_eq!(
            status(&cstg, Some("other.example"), ClientType::Bidstream),
            S::DomainOrAppNameCheckFailed
        );
        assert_eq!(
            status(&cstg, None, ClientType::Bidstream),
            S::DomainOrAppNameCheckFailed
        );
        assert_eq!(status(&cstg, None, ClientType::Sharing), S::Success);
        // A site without site_data cannot pass.
        let elsewhere = mint(9001, PRIVACY_BITS_CLIENT_SIDE);
        assert_eq!(
            status(&elsewhere, Some("pub.example"), ClientType::Bidstream),
            S::DomainOrAppNameCheckFailed
        );
        // Server-side tokens (legacy bit only) are not checked.
        let server_side = mint(9001, 1);
        assert_eq!(
            status(&server_side, None, ClientType::Bidstream),
            S::Success
        );
        let out = decrypt_token(
            Some(&keys),
            &cstg,
            Some("pub.example"),
            ClientType::Bidstream,
            now,
        );
        assert_eq!(out.is_client_side_generated, Some(true));
    }

    #[test]
    fn sharing_encrypt_then_decrypt_round_trips() {
        let keys = snapshot(r#""max_sharing_lifetime_seconds":2592010,"#);
        let now = 1_700_000_000_000;
        let mut rng = euid_crypto::BatchedOsRandom::new();
        let token = encrypt_raw_uid(Some(&keys), GOLDEN_UID, None, now, &mut rng).unwrap();
        assert!(token.starts_with("E4"), "{token}");
        let out = decrypt_token(Some(&keys), &token, None, ClientType::Sharing, now + 5);
        assert_eq!(out.status, DecryptionStatus::Success);
        assert_eq!(out.uid.as_deref(), Some(GOLDEN_UID));
        assert_eq!(out.site_id, Some(9000));
        assert_eq!(out.expiry_ms, Some(now + 2_592_000_000));

        assert_eq!(
            encrypt_raw_uid(None, GOLDEN_UID, None, now, &mut rng),
            Err(EncryptionError::NotInitialized)
        );
        assert_eq!(
            encrypt_raw_uid(Some(&keys), "not base64", None, now, &mut rng),
            Err(EncryptionError::InvalidRawUid)
        );
        assert_eq!(
            encrypt_raw_uid(Some(&keys), GOLDEN_UID, Some(77), now, &mut rng),
            Err(EncryptionError::NotAuthorizedForKey(Some(77)))
        );
    }
}
