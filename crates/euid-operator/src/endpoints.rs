//! The endpoints' logic, after authentication and the envelope: request JSON in, response
//! JSON (to be sealed) or an [`ApiError`] out. Texts and codes are the catalogue's
//! (`api_error`), after `wire.md` §7 and the decisions in the spec README.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;
use std::marker::PhantomData;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::RandomSource;
use euid_cstg::DecodedRequest;
use euid_normalize::{IdentityHash, IdentityInput, IdentityType};
use euid_tcf::ConsentVerdict;
use euid_token::{
    decode_advertising_token, first_level_hash, GenerateRequest, IdentityScope, IdentityTokens,
    Keyset, MASTER_KEYSET_ID, MASTER_KEYSET_ID_FOR_SDKS, PRIVACY_BITS_CLIENT_SIDE,
    PRIVACY_BITS_GENERATE, REFRESH_KEYSET_ID,
};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::api_error::{ApiError, SealedRefusal};
use crate::clients::{Client, Role};
use crate::snapshot::Snapshot;
use euid_store::optout::{OptOutError, OptOutRecord, OptOutStore};

/// What an endpoint returns: the JSON to seal into a 200, or an error answer.
pub(crate) type Outcome = Result<Vec<u8>, ApiError>;

/// Tokens of identities established before this time are treated as opted out on refresh,
/// as the live operator does (2021-03-08T17:00Z).
const REFRESH_CUTOFF_MS: i64 = 1_615_222_800_000;

/// A JSON value that is a string, or anything else (a number, object, ...): request fields
/// are typed loosely on the wire, and a wrong type must become a 400, not a parse failure.
enum Text<'a> {
    Str(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor(PhantomData))
    }
}

struct TextVisitor<'a>(PhantomData<&'a ()>);

impl<'de> Visitor<'de> for TextVisitor<'de> {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text<'de>, E> {
        Ok(Text::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text<'de>, E> {
        Ok(Text::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text<'de>, E> {
        Ok(Text::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text<'de>, E> {
        Ok(Text::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
        Ok(Text::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text::Other)
    }
}

/// The fields generate, validate and logout read; others (`policy`, `optout_check`, audit
/// fields) are accepted and ignored.
#[derive(Deserialize, Default)]
struct DiiRequest<'a> {
    #[serde(borrow, default)]
    email: Option<Text<'a>>,
    #[serde(borrow, default)]
    email_hash: Option<Text<'a>>,
    #[serde(borrow, default)]
    phone: Option<Text<'a>>,
    #[serde(borrow, default)]
    phone_hash: Option<Text<'a>>,
    #[serde(borrow, default)]
    tcf_consent_string: Option<Text<'a>>,
    #[serde(borrow, default)]
    token: Option<Text<'a>>,
}

fn parse_dii(json: &[u8]) -> Result<DiiRequest<'_>, ApiError> {
    if json.is_empty() {
        return Ok(DiiRequest::default());
    }
    serde_json::from_slice(json).map_err(|_| ApiError::InvalidJson)
}

/// The identity hash of the one identity field, or the documented 400.
fn one_identity(req: &DiiRequest<'_>) -> Result<IdentityHash, ApiError> {
    let fields = [
        (&req.email, 0u8),
        (&req.email_hash, 1),
        (&req.phone, 2),
        (&req.phone_hash, 3),
    ];
    let mut present = fields
        .iter()
        .filter_map(|(f, k)| f.as_ref().map(|t| (t, *k)));
    let (Some((text, kind)), None) = (present.next(), present.next()) else {
        return Err(ApiError::ExactlyOneIdentity);
    };
    let Text::Str(value) = text else {
        return Err(ApiError::InvalidIdentifier);
    };
    let input = match kind {
        0 => IdentityInput::Email(value),
        1 => IdentityInput::EmailHash(value),
        2 => IdentityInput::Phone(value),
        _ => IdentityInput::PhoneHash(value),
    };
    input
        .to_identity_hash()
        .map_err(|_| ApiError::InvalidIdentifier)
}

/// Whether an identity counts as opted out where opt-outs are checked: a stored record or a
/// test identity in `test_optouts`; validate identities never are (decision 5).
///
/// Fails closed: when the records cannot be read the answer is
/// [`ApiError::OptOutsUnavailable`], a 500 that every caller passes on. Not "opted out" either: that would make the SDKs drop a
/// user's identity (and an advertiser delete a mapping) for a fault of ours.
fn opted_out(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    flh: &[u8; 32],
    test_optouts: &[[u8; 32]],
) -> Result<bool, ApiError> {
    if snapshot.test_identities.is_validate(flh) {
        return Ok(false);
    }
    if test_optouts.contains(flh) {
        return Ok(true);
    }
    match optouts.opted_out_since(flh) {
        Ok(since) => Ok(since.is_some()),
        Err(e) => Err(optouts_unavailable(&e)),
    }
}

/// 500 `unknown`: no token, mapping or status can be given without the opt-out records.
fn optouts_unavailable(error: &OptOutError) -> ApiError {
    tracing::error!(%error, "opt-out records cannot be read");
    ApiError::OptOutsUnavailable
}

/// `{"status":"success","body":{...six token fields...}}`. Token strings are base64 or
/// base64url, so they need no JSON escaping.
pub(crate) fn tokens_json(t: &IdentityTokens) -> Vec<u8> {
    let mut s = String::with_capacity(
        160 + t.advertising_token.len() + t.refresh_token.len() + t.refresh_response_key.len(),
    );
    let _ = write!(
        s,
        r#"{{"status":"success","body":{{"advertising_token":"{}","refresh_token":"{}","identity_expires":{},"refresh_from":{},"refresh_expires":{},"refresh_response_key":"{}"}}}}"#,
        t.advertising_token,
        t.refresh_token,
        t.identity_expires,
        t.refresh_from,
        t.refresh_expires,
        t.refresh_response_key
    );
    s.into_bytes()
}

fn success(body: serde_json::Value) -> Vec<u8> {
    serde_json::json!({ "status": "success", "body": body })
        .to_string()
        .into_bytes()
}

/// `POST /v2/token/generate`: identity → consent → (opt-out, when enabled) → tokens.
pub(crate) fn generate<R: RandomSource>(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    client: &Client,
    json: &[u8],
    now_ms: i64,
    rng: &mut R,
) -> Outcome {
    let req = parse_dii(json)?;
    let identity = one_identity(&req)?;
    match &req.tcf_consent_string {
        None => return Err(ApiError::ConsentMissing),
        Some(Text::Str(tc)) if !tc.is_empty() => match snapshot.consent.evaluate(tc) {
            Ok(ConsentVerdict::Sufficient) => {}
            Ok(_) => return Ok(SealedRefusal::InsufficientUserConsent.json().to_vec()),
            Err(_) => return Err(ApiError::ConsentInvalid),
        },
        Some(_) => return Err(ApiError::ConsentInvalid),
    }
    if snapshot.config.optout_check_on_generate {
        let flh = first_level_hash(identity.as_bytes(), &snapshot.salts);
        if opted_out(snapshot, optouts, &flh, &snapshot.test_identities.optout)? {
            return Ok(SealedRefusal::OptOut.json().to_vec());
        }
    }
    mint(
        snapshot,
        &identity,
        client.site_id,
        PRIVACY_BITS_GENERATE,
        now_ms,
        rng,
    )
}

/// `POST /v2/token/client-generate`, after the request is decoded and its origin or app
/// name checked: tokens for the keypair's site with the client-side privacy bits, or
/// `optout`. Opt-outs are always checked here, as upstream.
pub(crate) fn client_generate<R: RandomSource>(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    request: &DecodedRequest<'_>,
    now_ms: i64,
    rng: &mut R,
) -> Outcome {
    let hash = &request.identity.hash;
    let input = match request.identity.identity_type {
        IdentityType::Email => IdentityInput::EmailHash(hash),
        IdentityType::Phone => IdentityInput::PhoneHash(hash),
    };
    let identity = input
        .to_identity_hash()
        .map_err(|_| ApiError::InvalidIdentifier)?;
    let flh = first_level_hash(identity.as_bytes(), &snapshot.salts);
    if opted_out(snapshot, optouts, &flh, &snapshot.test_identities.optout)? {
        return Ok(SealedRefusal::OptOut.json().to_vec());
    }
    mint(
        snapshot,
        &identity,
        request.keypair.site_id,
        PRIVACY_BITS_CLIENT_SIDE,
        now_ms,
        rng,
    )
}

/// The tokens of a generate, server- or client-side: minted for `site_id` with
/// `privacy_bits`, as the response JSON to seal.
fn mint<R: RandomSource>(
    snapshot: &Snapshot,
    identity: &IdentityHash,
    site_id: i32,
    privacy_bits: u32,
    now_ms: i64,
    rng: &mut R,
) -> Outcome {
    let tokens = snapshot
        .generator
        .generate(
            &snapshot.keys,
            &snapshot.salts,
            &GenerateRequest {
                identity_type: identity.identity_type(),
                identity_hash: identity.as_bytes(),
                site_id,
                privacy_bits,
                now_ms,
            },
            rng,
        )
        .map_err(|_| ApiError::NoActiveKey)?;
    Ok(tokens_json(&tokens))
}

/// `POST /v2/token/validate`: whether `token` carries the raw UID of the given identity; the
/// token's site key must belong to the caller's site.
pub(crate) fn validate(snapshot: &Snapshot, client: &Client, json: &[u8], now_ms: i64) -> Outcome {
    let req = parse_dii(json)?;
    let identity = one_identity(&req)?;
    let Some(Text::Str(token)) = &req.token else {
        return Err(ApiError::InvalidAdvertisingToken);
    };
    let decoded = decode_advertising_token(&snapshot.keys, token, now_ms)
        .map_err(|_| ApiError::InvalidAdvertisingToken)?;
    let key_site = snapshot
        .keys
        .key_by_id(decoded.site_key_id)
        .and_then(|k| snapshot.keys.keyset(k.keyset_id))
        .map(|ks| ks.site_id);
    if key_site != Some(client.site_id) {
        return Err(ApiError::ValidateOtherSite);
    }
    let flh = first_level_hash(identity.as_bytes(), &snapshot.salts);
    let uid = snapshot.raw_uid(&flh, identity.identity_type());
    let matches = bool::from(uid.as_bytes().ct_eq(decoded.raw_uid.as_bytes()));
    Ok(success(serde_json::Value::Bool(matches)))
}

/// `POST /v2/token/logout`: records an opt-out durably, then answers `{"optout":"OK"}`.
pub(crate) fn logout(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    json: &[u8],
    now_ms: i64,
) -> Outcome {
    let req = parse_dii(json)?;
    let identity = one_identity(&req)?;
    let flh = first_level_hash(identity.as_bytes(), &snapshot.salts);
    let uid = snapshot.raw_uid(&flh, identity.identity_type());
    optouts
        .record(&OptOutRecord {
            first_level_hash: flh,
            advertising_id: uid.as_bytes().to_vec(),
            opted_out_ms: now_ms,
        })
        .map_err(|e| match e {
            // A shared database that does not answer: nothing was committed, and a retry
            // (on this replica later, or on another) can succeed.
            OptOutError::Unavailable => {
                tracing::warn!("opt-out not recorded: the opt-out store is unavailable");
                ApiError::OptOutStoreUnavailable
            }
            e => {
                tracing::error!(error = %e, "opt-out not recorded");
                ApiError::OptOutNotRecorded
            }
        })?;
    Ok(success(serde_json::json!({ "optout": "OK" })))
}

/// The keysets whose keys a caller may see (`wire.md` §5): the master keyset, the caller's
/// own, those listing the caller in `allowed_sites`, and for ID_READER every unrestricted
/// one. Never the refresh keyset.
fn visible_keysets<'s>(
    snapshot: &'s Snapshot,
    client: &'s Client,
    id_reader: bool,
) -> impl Iterator<Item = &'s Keyset> + 's {
    snapshot.keys.keysets().filter(move |ks| {
        ks.enabled
            && ks.keyset_id != REFRESH_KEYSET_ID
            && ks.site_id != REFRESH_KEYSET_ID
            && (ks.keyset_id == MASTER_KEYSET_ID
                || ks.site_id == client.site_id
                || match &ks.allowed_sites {
                    Some(sites) => sites.contains(&client.site_id),
                    None => id_reader,
                })
    })
}

/// Whether a key may still open a token, given that tokens made with it live at most
/// `token_lifetime_s` (plus the clock skew SDKs allow) after the key was last used. Keys past
/// that can open nothing, so they are not handed out any more.
fn still_useful(
    key: &euid_token::Key,
    token_lifetime_s: i64,
    snapshot: &Snapshot,
    now_ms: i64,
) -> bool {
    let horizon_s = key
        .expires
        .saturating_add(token_lifetime_s)
        .saturating_add(snapshot.config.allow_clock_skew_seconds);
    horizon_s.saturating_mul(1000) > now_ms
}

/// `POST /v2/key/bidstream` (ID_READER): keys without keyset ids, times in seconds. Keys that
/// expired longer ago than an advertising token can live are left out.
pub(crate) fn key_bidstream(snapshot: &Snapshot, client: &Client, now_ms: i64) -> Outcome {
    let c = &snapshot.config;
    let lifetime_s = c.identity_token_expires_after_seconds;
    let mut key_sites = Vec::new();
    let keys: Vec<serde_json::Value> = visible_keysets(snapshot, client, true)
        .flat_map(|ks| {
            snapshot
                .keys
                .keys_of_keyset(ks.keyset_id)
                .map(move |k| (ks.site_id, k))
        })
        .filter(|(_, k)| still_useful(k, lifetime_s, snapshot, now_ms))
        .map(|(site_id, k)| {
            key_sites.push(site_id);
            k.to_sdk_json(None)
        })
        .collect();
    Ok(success(serde_json::json!({
        "max_bidstream_lifetime_seconds": c.identity_token_expires_after_seconds + 10,
        "identity_scope": "EUID",
        "allow_clock_skew_seconds": c.allow_clock_skew_seconds,
        "keys": keys,
        "site_data": site_data(snapshot, key_sites),
    })))
}

/// The `site_data` of a key answer, as the live operator sends it with client-side token
/// generation on: for each site owning a keyset whose keys are in the answer, in id order,
/// `{"id", "domain_names"}` with the domain and app names of the site's client-side keypairs
/// (disabled ones too: their tokens stay valid), sorted and deduplicated. Sites without names
/// are left out. SDKs check a client-side generated token's domain or app name against it.
fn site_data(snapshot: &Snapshot, mut site_ids: Vec<i32>) -> serde_json::Value {
    site_ids.sort_unstable();
    site_ids.dedup();
    let sites: Vec<serde_json::Value> = site_ids
        .into_iter()
        .filter_map(|site_id| {
            let mut names: Vec<&str> = snapshot
                .cstg_keypairs
                .iter()
                .filter(|kp| kp.site_id == site_id)
                .flat_map(|kp| kp.domain_names.iter().chain(&kp.app_names))
                .map(String::as_str)
                .collect();
            names.sort_unstable();
            names.dedup();
            (!names.is_empty()).then(|| serde_json::json!({ "id": site_id, "domain_names": names }))
        })
        .collect();
    sites.into()
}

/// `POST /v2/key/sharing` (SHARER or ID_READER): keys with `keyset_id` on the caller's own
/// keysets and the master keyset (as 9999999), and the sharing header fields. Keys that
/// expired longer ago than a token made with them can live (an advertising token, or a
/// sharing token, whichever lives longer) are left out.
pub(crate) fn key_sharing(snapshot: &Snapshot, client: &Client, now_ms: i64) -> Outcome {
    let id_reader = client.roles.contains(Role::IdReader);
    let lifetime_s = snapshot
        .config
        .identity_token_expires_after_seconds
        .max(snapshot.config.sharing_token_expiry_seconds);
    let mut key_sites = Vec::new();
    let keys: Vec<serde_json::Value> = visible_keysets(snapshot, client, id_reader)
        .flat_map(|ks| {
            let keyset_id = if ks.keyset_id == MASTER_KEYSET_ID {
                Some(MASTER_KEYSET_ID_FOR_SDKS)
            } else if ks.site_id == client.site_id {
                Some(ks.keyset_id)
            } else {
                None
            };
            snapshot
                .keys
                .keys_of_keyset(ks.keyset_id)
                .filter(move |k| still_useful(k, lifetime_s, snapshot, now_ms))
                .map(move |k| (ks.site_id, k.to_sdk_json(keyset_id)))
        })
        .map(|(site_id, json)| {
            key_sites.push(site_id);
            json
        })
        .collect();
    let c = &snapshot.config;
    let mut body = serde_json::json!({
        "caller_site_id": client.site_id,
        "master_keyset_id": MASTER_KEYSET_ID_FOR_SDKS,
        "token_expiry_seconds": c.sharing_token_expiry_seconds.to_string(),
        "identity_scope": "EUID",
        "allow_clock_skew_seconds": c.allow_clock_skew_seconds,
        "keys": keys,
        "site_data": site_data(snapshot, key_sites),
    });
    if let Some(obj) = body.as_object_mut() {
        if let Some(ks) = snapshot.keys.default_keyset_of_site(client.site_id) {
            obj.insert("default_keyset_id".to_owned(), ks.keyset_id.into());
        }
        if client.roles.contains(Role::Sharer) {
            obj.insert(
                "max_sharing_lifetime_seconds".to_owned(),
                (c.sharing_token_expiry_seconds + 10).into(),
            );
        }
    }
    Ok(success(body))
}

const MAP_FIELDS: [&str; 4] = ["email", "email_hash", "phone", "phone_hash"];

/// At most this many identities per `/v2/identity/map` request (as many as
/// [`MAX_OPTOUT_STATUS_IDS`]); more is a 400 [`ApiError::TooManyIdentities`]. Bounds the CPU one
/// request can take (a 1 MiB body holds about 90,000 short emails).
pub const MAX_IDENTITY_MAP_ITEMS: usize = 5000;

/// `POST /v2/identity/map` (v2): one array of identities → mapped / unmapped, each with the
/// input string echoed as `identifier`. At most [`MAX_IDENTITY_MAP_ITEMS`] identities.
pub(crate) fn identity_map(snapshot: &Snapshot, optouts: &dyn OptOutStore, json: &[u8]) -> Outcome {
    let value: serde_json::Value = if json.is_empty() {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(json).map_err(|_| ApiError::InvalidJson)?
    };
    let mut chosen = None;
    let mut count = 0;
    for (i, name) in MAP_FIELDS.iter().enumerate() {
        match value.get(name) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Array(items)) => {
                count += 1;
                chosen = Some((i, items));
            }
            Some(_) => return Err(ApiError::NotAnArray { field: name }),
        }
    }
    let (1, Some((kind, items))) = (count, chosen) else {
        return Err(ApiError::ExactlyOneIdentity);
    };
    if items.len() > MAX_IDENTITY_MAP_ITEMS {
        return Err(ApiError::TooManyIdentities);
    }
    let mut mapped = Vec::with_capacity(items.len());
    let mut unmapped = Vec::new();
    for item in items {
        let hash = item.as_str().and_then(|s| {
            let input = match kind {
                0 => IdentityInput::Email(s),
                1 => IdentityInput::EmailHash(s),
                2 => IdentityInput::Phone(s),
                _ => IdentityInput::PhoneHash(s),
            };
            input.to_identity_hash().ok()
        });
        let Some(hash) = hash else {
            unmapped
                .push(serde_json::json!({ "identifier": item, "reason": "invalid identifier" }));
            continue;
        };
        let flh = first_level_hash(hash.as_bytes(), &snapshot.salts);
        if opted_out(snapshot, optouts, &flh, &snapshot.test_identities.optout)? {
            unmapped.push(serde_json::json!({ "identifier": item, "reason": "optout" }));
            continue;
        }
        let identity_type = if kind < 2 {
            IdentityType::Email
        } else {
            IdentityType::Phone
        };
        let uid = snapshot.raw_uid(&flh, identity_type);
        mapped.push(serde_json::json!({
            "identifier": item,
            "advertising_id": uid.to_base64(),
            "bucket_id": snapshot.salts.bucket_for(&flh).bucket_id(),
        }));
    }
    let mut body = serde_json::json!({ "mapped": mapped });
    if !unmapped.is_empty() {
        if let Some(obj) = body.as_object_mut() {
            obj.insert("unmapped".to_owned(), unmapped.into());
        }
    }
    Ok(success(body))
}

/// The `/v3/identity/map` request, parsed as strictly as the live operator does: only these
/// four fields, each an array of strings (`null` as a field is an absent one).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapV3Request {
    #[serde(default)]
    email: Option<Vec<String>>,
    #[serde(default)]
    email_hash: Option<Vec<String>>,
    #[serde(default)]
    phone: Option<Vec<String>>,
    #[serde(default)]
    phone_hash: Option<Vec<String>>,
}

fn parse_map_v3(json: &[u8]) -> Result<MapV3Request, ApiError> {
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::NoIdentityArrays),
        // serde would read a struct from a JSON array by position; the request is an object.
        Some(b'[') => return Err(ApiError::IncorrectRequestFormat),
        Some(_) => {}
    }
    let req: Option<MapV3Request> = serde_json::from_slice(json).map_err(|e| {
        if e.is_data() {
            ApiError::IncorrectRequestFormat
        } else {
            ApiError::InvalidJson
        }
    })?;
    let Some(req) = req else {
        return Err(ApiError::NoIdentityArrays);
    };
    let none = [&req.email, &req.email_hash, &req.phone, &req.phone_hash]
        .iter()
        .all(|f| f.is_none());
    // `{}` is "missing"; `{"email":null}` is not empty, so it maps nothing (as live).
    if none
        && matches!(serde_json::from_slice(json), Ok(serde_json::Value::Object(m)) if m.is_empty())
    {
        return Err(ApiError::NoIdentityArrays);
    }
    Ok(req)
}

/// `POST /v3/identity/map`: any mix of the four arrays; each answered in input order with
/// `{"u","p","r"}` (current and previous raw UID, refresh time in seconds) or `{"e"}`
/// (`optout`, `invalid identifier`). Every key is in the answer, empty when not asked. At most
/// [`MAX_IDENTITY_MAP_ITEMS`] identities across the arrays.
pub(crate) fn identity_map_v3(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    json: &[u8],
    now_ms: i64,
) -> Outcome {
    let req = parse_map_v3(json)?;
    let arrays: [(&str, &[String]); 4] = [
        ("email", req.email.as_deref().unwrap_or_default()),
        ("email_hash", req.email_hash.as_deref().unwrap_or_default()),
        ("phone", req.phone.as_deref().unwrap_or_default()),
        ("phone_hash", req.phone_hash.as_deref().unwrap_or_default()),
    ];
    let total: usize = arrays.iter().map(|(_, items)| items.len()).sum();
    if total > MAX_IDENTITY_MAP_ITEMS {
        return Err(ApiError::TooManyIdentities);
    }
    // Each mapped element is under 150 bytes (two 33-byte raw UIDs in base64).
    let mut out = String::with_capacity(80 + total * 150);
    out.push_str(r#"{"status":"success","body":{"#);
    for (kind, (name, items)) in arrays.iter().enumerate() {
        if kind > 0 {
            out.push(',');
        }
        let _ = write!(out, r#""{name}":["#);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let input = match kind {
                0 => IdentityInput::Email(item.as_str()),
                1 => IdentityInput::EmailHash(item.as_str()),
                2 => IdentityInput::Phone(item.as_str()),
                _ => IdentityInput::PhoneHash(item.as_str()),
            };
            let Ok(hash) = input.to_identity_hash() else {
                out.push_str(r#"{"e":"invalid identifier"}"#);
                continue;
            };
            let flh = first_level_hash(hash.as_bytes(), &snapshot.salts);
            if opted_out(snapshot, optouts, &flh, &snapshot.test_identities.optout)? {
                out.push_str(r#"{"e":"optout"}"#);
                continue;
            }
            let mapping = snapshot.map_identity(&flh, hash.identity_type(), now_ms);
            // Base64 text needs no JSON escaping.
            let _ = write!(out, r#"{{"u":"{}","p":"#, mapping.raw_uid.to_base64());
            match &mapping.previous_raw_uid {
                Some(previous) => {
                    let _ = write!(out, r#""{}""#, previous.to_base64());
                }
                None => out.push_str("null"),
            }
            let _ = write!(
                out,
                r#","r":{}}}"#,
                mapping.refresh_from_ms.div_euclid(1000)
            );
        }
        out.push(']');
    }
    out.push_str("}}");
    Ok(out.into_bytes())
}

/// `POST /v2/identity/buckets`: `{"since_timestamp":"YYYY-MM-DDThh:mm:ss[.f…]"}` (UTC, no
/// zone) → the buckets whose salt changed at or after it, with `last_updated` as
/// `yyyy-MM-ddTHH:mm:ss.SSS`, in the salt file's order.
pub(crate) fn identity_buckets(snapshot: &Snapshot, json: &[u8]) -> Outcome {
    let value: serde_json::Value = if json.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(json).map_err(|_| ApiError::InvalidJson)?
    };
    let since = match value.get("since_timestamp") {
        None | Some(serde_json::Value::Null) => return Err(ApiError::SinceTimestampMissing),
        Some(serde_json::Value::String(text)) => crate::utc_time::parse_local_date_time_ms(text)
            .ok_or(ApiError::SinceTimestampInvalid)?,
        Some(_) => return Err(ApiError::SinceTimestampInvalid),
    };
    let buckets: Vec<serde_json::Value> = snapshot
        .salts
        .buckets_updated_since(since)
        .map(|b| {
            serde_json::json!({
                "bucket_id": b.bucket_id(),
                "last_updated": crate::utc_time::format_utc_ms(b.last_updated()),
            })
        })
        .collect();
    Ok(success(buckets.into()))
}

/// At most this many ids per `/v2/optout/status` request (`wire.md` §7); more is a 400
/// [`ApiError::TooManyAdvertisingIds`].
pub const MAX_OPTOUT_STATUS_IDS: usize = 5000;

/// `POST /v2/optout/status`: which of the given raw UIDs opted out, and since when (ms).
pub(crate) fn optout_status(optouts: &dyn OptOutStore, json: &[u8]) -> Outcome {
    let value: serde_json::Value = if json.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(json).map_err(|_| ApiError::InvalidJson)?
    };
    let Some(ids) = value.get("advertising_ids").and_then(|v| v.as_array()) else {
        return Err(ApiError::AdvertisingIdsMissing);
    };
    if ids.len() > MAX_OPTOUT_STATUS_IDS {
        return Err(ApiError::TooManyAdvertisingIds);
    }
    let mut opted_out = Vec::new();
    for id in ids.iter().filter_map(|v| v.as_str()) {
        let Ok(bytes) = STANDARD.decode(id) else {
            continue;
        };
        // Fails closed: an unreadable index is a 500, never an empty list.
        let since = optouts
            .advertising_id_opted_out_since(&bytes)
            .map_err(|e| optouts_unavailable(&e))?;
        if let Some(since) = since {
            opted_out.push(serde_json::json!({ "advertising_id": id, "opted_out_since": since }));
        }
    }
    Ok(success(serde_json::json!({ "opted_out": opted_out })))
}

/// How a refresh ended, for the transport to encrypt (200) or send as an error.
pub(crate) enum RefreshReply {
    /// Encrypt `json` with the submitted envelope's `refresh_response_key`.
    Sealed {
        /// The key from the submitted refresh envelope.
        key: Box<euid_crypto::AesGcmKey>,
        /// The response JSON.
        json: Vec<u8>,
    },
    /// An error answer.
    Error(ApiError),
}

/// `POST /v2/token/refresh`: the 388-character refresh envelope → new tokens, `optout`, or
/// the documented 400s (`wire.md` §1.3, §7). `authenticated` says whether a valid API key
/// came with the request, which selects the error texts.
pub(crate) fn refresh<R: RandomSource>(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    body: &[u8],
    authenticated: bool,
    now_ms: i64,
    rng: &mut R,
) -> RefreshReply {
    let invalid = || RefreshReply::Error(ApiError::refresh_invalid(authenticated));
    let expired = || RefreshReply::Error(ApiError::refresh_expired(authenticated));
    let Ok(text) = std::str::from_utf8(body) else {
        return invalid();
    };
    let opened = match euid_token::open_refresh_envelope(&snapshot.keys, text) {
        Ok(o) => o,
        Err(e) if e.kind() == euid_token::RefreshErrorKind::Envelope => {
            return RefreshReply::Error(ApiError::RefreshEnvelope(e))
        }
        Err(_) => return invalid(),
    };
    let token = &opened.token;
    if token.scope != IdentityScope::Euid {
        return invalid();
    }
    let flh = token.first_level_hash;
    if token.expires_ms < now_ms {
        return expired();
    }
    let is_opted_out = match opted_out(
        snapshot,
        optouts,
        &flh,
        &snapshot.test_identities.refresh_optout,
    ) {
        Ok(o) => o,
        // No new tokens without the opt-out records, and no "optout" for our fault either.
        Err(unavailable) => return RefreshReply::Error(unavailable),
    };
    if token.established_ms < REFRESH_CUTOFF_MS || is_opted_out {
        return RefreshReply::Sealed {
            key: Box::new(opened.refresh_response_key),
            json: SealedRefusal::OptOut.json().to_vec(),
        };
    }
    match snapshot
        .generator
        .refresh_opened(&snapshot.keys, &snapshot.salts, opened, now_ms, rng)
    {
        euid_token::RefreshOutcome::Refreshed {
            tokens,
            refresh_response_key,
            ..
        } => RefreshReply::Sealed {
            key: Box::new(refresh_response_key),
            json: tokens_json(&tokens),
        },
        euid_token::RefreshOutcome::Expired { .. } => expired(),
        // The token was already checked: only a missing active key gets here.
        euid_token::RefreshOutcome::Invalid(_) => RefreshReply::Error(ApiError::NoActiveKey),
    }
}
