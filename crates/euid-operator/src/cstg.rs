//! `POST /v2/token/client-generate` (client-side token generation, `wire.md` §7), over the
//! keypairs of `client_side_keypairs.json` (which euid-store loads and `init` creates).

use euid_crypto::RandomSource;
use euid_cstg::decode_request;
use euid_normalize::IdentityInput;
use euid_token::{first_level_hash, GenerateRequest, PRIVACY_BITS_CLIENT_SIDE};

use crate::api_response::{ApiResponse, JSON, TEXT};
use crate::endpoints::{self, INVALID_IDENTIFIER};
use crate::optout::OptOutStore;
use crate::state::Snapshot;

/// The URL path.
pub const PATH: &str = crate::route::CLIENT_GENERATE_PATH;
pub use euid_store::{DEMO_DOMAINS, KEYPAIRS_FILE};

const OPTOUT_JSON: &[u8] = br#"{"status":"optout"}"#;

pub use euid_store::{keypairs_path, load_keypairs};

/// The request's `Origin` for the CSTG check: `None` only when there is no such header. A
/// header that is not visible ASCII, or more than one, is passed on as `""`, which never
/// matches: dropping it would let the request skip the check when it names an app.
pub fn origin_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(axum::http::header::ORIGIN).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some("");
    }
    Some(first.to_str().unwrap_or(""))
}

/// `POST /v2/token/client-generate`: decode and check the request, then tokens for the
/// keypair's site with the client-side privacy bits, sealed with the ECDH shared secret.
/// Opt-outs are always checked here, as upstream.
pub fn client_generate<R: RandomSource>(
    snapshot: &Snapshot,
    optouts: &dyn OptOutStore,
    body: &[u8],
    origin: Option<&str>,
    now_ms: i64,
    rng: &mut R,
) -> ApiResponse {
    let decoded = match decode_request(&snapshot.cstg_keypairs, body, origin) {
        Ok(d) => d,
        Err(e) => {
            return ApiResponse {
                http_status: e.http_status(),
                content_type: JSON,
                body: e.to_json_body().into_bytes(),
                site_id: None,
            }
        }
    };
    let site_id = decoded.keypair.site_id;
    let input = match decoded.identity.identity_type {
        euid_normalize::IdentityType::Email => IdentityInput::EmailHash(&decoded.identity.hash),
        euid_normalize::IdentityType::Phone => IdentityInput::PhoneHash(&decoded.identity.hash),
    };
    let Ok(identity) = input.to_identity_hash() else {
        return ApiResponse::client_error(INVALID_IDENTIFIER);
    };
    let flh = first_level_hash(identity.as_bytes(), &snapshot.salts);
    let opted_out =
        match endpoints::opted_out(snapshot, optouts, &flh, &snapshot.test_identities.optout) {
            Ok(o) => o,
            Err(unavailable) => return unavailable.with_site(Some(site_id)),
        };
    let plaintext = if opted_out {
        OPTOUT_JSON.to_vec()
    } else {
        match snapshot.generator.generate(
            &snapshot.keys,
            &snapshot.salts,
            &GenerateRequest {
                identity_type: identity.identity_type(),
                identity_hash: identity.as_bytes(),
                site_id,
                privacy_bits: PRIVACY_BITS_CLIENT_SIDE,
                now_ms,
            },
            rng,
        ) {
            Ok(tokens) => endpoints::tokens_json(&tokens),
            Err(_) => {
                return ApiResponse::error(
                    500,
                    "unknown",
                    Some("No active encryption key available"),
                )
            }
        }
    };
    ApiResponse {
        http_status: 200,
        content_type: TEXT,
        body: decoded.seal_response(&plaintext, rng).into_bytes(),
        site_id: Some(site_id),
    }
}
