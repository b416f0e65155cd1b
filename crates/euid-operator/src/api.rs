//! The sans-IO request pipeline: bytes and headers in, status and bytes out. The HTTP layer
//! only moves bytes; everything testable lives here (and is what the benches call).

use euid_base64::{encode_into, encoded_len, Alphabet};
use euid_crypto::RandomSource;
use euid_envelope::{open_request, seal_refresh_response, seal_response, BodyEncoding};

use crate::api_document::OPENAPI_YAML;
use crate::api_error::{ApiError, HealthProblem};
pub(crate) use crate::api_response::{ApiResponse, OCTET_STREAM, TEXT, YAML};
use crate::clients::{bearer_key, Client, Role};
use crate::endpoints;
pub(crate) use crate::route::Endpoint;
use crate::snapshot::Snapshot;
use euid_store::optout::OptOutStore;

/// One request, as the HTTP layer saw it.
#[derive(Clone, Copy)]
pub struct ApiRequest<'a> {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The `Authorization` header value, if any.
    pub authorization: Option<&'a str>,
    /// The `Origin` header value, if any (read by [`Endpoint::ClientGenerate`] only; more
    /// than one, or one that is not visible ASCII, is passed as `""`, which matches nothing).
    pub origin: Option<&'a str>,
    /// Whether the request said `Content-Type: application/octet-stream`.
    pub binary: bool,
    /// The raw body.
    pub body: &'a [u8],
}

impl std::fmt::Debug for ApiRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("endpoint", &self.endpoint)
            .field("binary", &self.binary)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The client of a request, if its key is known, enabled and holds one of `roles`.
pub fn authorize<'s>(
    snapshot: &'s Snapshot,
    authorization: Option<&str>,
    roles: &[Role],
) -> Result<&'s Client, ApiResponse> {
    let unauthorized = || ApiResponse::from(ApiError::Unauthorized);
    let key = authorization
        .and_then(bearer_key)
        .ok_or_else(unauthorized)?;
    let client = snapshot
        .clients
        .authenticate(key)
        .ok_or_else(unauthorized)?;
    if !client.roles.contains_any(roles) {
        return Err(unauthorized().with_site(Some(client.site_id)));
    }
    Ok(client)
}

/// Why the snapshot cannot serve tokens, if it cannot (for `/ops/healthcheck`): a missing
/// active master, refresh or fallback publisher key, or no API clients.
pub fn health_problem(snapshot: &Snapshot, now_ms: i64) -> Option<HealthProblem> {
    use euid_token::{FALLBACK_PUBLISHER_SITE_ID, MASTER_KEYSET_ID, REFRESH_KEYSET_ID};
    let keys = &snapshot.keys;
    if keys.active_key(MASTER_KEYSET_ID, now_ms).is_none() {
        return Some(HealthProblem::NoMasterKey);
    }
    if keys.active_key(REFRESH_KEYSET_ID, now_ms).is_none() {
        return Some(HealthProblem::NoRefreshKey);
    }
    if keys.site_key(FALLBACK_PUBLISHER_SITE_ID, now_ms).is_none() {
        return Some(HealthProblem::NoFallbackPublisherKey);
    }
    if snapshot.clients.is_empty() {
        return Some(HealthProblem::NoClients);
    }
    None
}

/// Runs one request to any endpoint through the pipeline: authentication, envelope, endpoint
/// logic, response sealing. Pure apart from the opt-out store's write on logout.
pub fn handle<R: RandomSource>(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    request: &ApiRequest<'_>,
    now_ms: i64,
    rng: &mut R,
) -> ApiResponse {
    match request.endpoint {
        Endpoint::TokenRefresh => return handle_refresh(snapshot, optouts, request, now_ms, rng),
        Endpoint::ClientGenerate => {
            return handle_client_generate(snapshot, optouts, request, now_ms, rng)
        }
        Endpoint::OpenApiDocument => return openapi_document(),
        _ => {}
    }
    let client = match authorize(snapshot, request.authorization, request.endpoint.roles()) {
        Ok(client) => client,
        Err(denied) => return denied,
    };
    let site = Some(client.site_id);
    let encoding = if request.binary {
        BodyEncoding::Binary
    } else {
        BodyEncoding::Base64Text
    };
    let opened = match open_request(
        request.body,
        encoding,
        client.secret(),
        now_ms,
        &snapshot.skew,
    ) {
        Ok(opened) => opened,
        Err(e) => return ApiResponse::from(ApiError::Envelope(e)).with_site(site),
    };
    let json = &opened.json;
    let outcome = match request.endpoint {
        Endpoint::TokenGenerate => {
            endpoints::generate(snapshot, optouts, client, json, now_ms, rng)
        }
        Endpoint::TokenValidate => endpoints::validate(snapshot, client, json, now_ms),
        Endpoint::TokenLogout => endpoints::logout(snapshot, optouts, json, now_ms),
        Endpoint::KeyBidstream => endpoints::key_bidstream(snapshot, client, now_ms),
        Endpoint::KeySharing => endpoints::key_sharing(snapshot, client, now_ms),
        Endpoint::IdentityMap => endpoints::identity_map(snapshot, optouts, json),
        Endpoint::OptoutStatus => endpoints::optout_status(optouts, json),
        Endpoint::IdentityMapV3 => endpoints::identity_map_v3(snapshot, optouts, json, now_ms),
        Endpoint::IdentityBuckets => endpoints::identity_buckets(snapshot, json),
        // Dispatched above: they have no API key and no v2 envelope.
        Endpoint::TokenRefresh | Endpoint::ClientGenerate | Endpoint::OpenApiDocument => {
            Err(ApiError::Unauthorized)
        }
    };
    match outcome {
        Ok(response_json) => {
            let sealed = seal_response(client.secret(), now_ms, opened.nonce, &response_json, rng);
            encoded(sealed, opened.response_encoding == BodyEncoding::Binary).with_site(site)
        }
        Err(error) => ApiResponse::from(error).with_site(site),
    }
}

/// `GET /openapi.yaml`: the document, for anyone (it holds no secret).
fn openapi_document() -> ApiResponse {
    ApiResponse {
        http_status: 200,
        content_type: YAML,
        body: OPENAPI_YAML.as_bytes().to_vec(),
        site_id: None,
    }
}

fn encoded(sealed: Vec<u8>, binary: bool) -> ApiResponse {
    let (content_type, body) = if binary {
        (OCTET_STREAM, sealed)
    } else {
        let mut text = Vec::with_capacity(encoded_len(sealed.len(), Alphabet::Standard));
        encode_into(&sealed, Alphabet::Standard, &mut text);
        (TEXT, text)
    };
    ApiResponse {
        http_status: 200,
        content_type,
        body,
        site_id: None,
    }
}

fn handle_refresh<R: RandomSource>(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    request: &ApiRequest<'_>,
    now_ms: i64,
    rng: &mut R,
) -> ApiResponse {
    // Auth is optional here; a valid key only changes the error texts.
    let client = request
        .authorization
        .and_then(bearer_key)
        .and_then(|key| snapshot.clients.authenticate(key));
    let site = client.map(|c| c.site_id);
    match endpoints::refresh(
        snapshot,
        optouts,
        request.body,
        client.is_some(),
        now_ms,
        rng,
    ) {
        endpoints::RefreshReply::Sealed { key, json } => {
            encoded(seal_refresh_response(&key, &json, rng), request.binary).with_site(site)
        }
        endpoints::RefreshReply::Error(error) => ApiResponse::from(error).with_site(site),
    }
}

/// Client-side generation: the body is the browser SDK's request, sealed to the keypair of
/// its `subscription_id` and checked against the page's `Origin` (or its `app_name`); the
/// answer is sealed with the ECDH shared secret, as base64 text.
fn handle_client_generate<R: RandomSource>(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    request: &ApiRequest<'_>,
    now_ms: i64,
    rng: &mut R,
) -> ApiResponse {
    let decoded =
        match euid_cstg::decode_request(&snapshot.cstg_keypairs, request.body, request.origin) {
            Ok(decoded) => decoded,
            Err(e) => return ApiError::ClientGenerate(e).into(),
        };
    let site = Some(decoded.keypair.site_id);
    match endpoints::client_generate(snapshot, optouts, &decoded, now_ms, rng) {
        Ok(json) => ApiResponse {
            http_status: 200,
            content_type: TEXT,
            body: decoded.seal_response(&json, rng).into_bytes(),
            site_id: site,
        },
        Err(error) => ApiResponse::from(error).with_site(site),
    }
}
