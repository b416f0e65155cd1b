//! CORS for the two endpoints a browser calls directly (`/v2/token/refresh` from the SDK,
//! `/v2/token/client-generate` for CSTG): any origin may call them, as on the live operator.
//! Every other endpoint is server to server and gets no CORS headers.
//!
//! Neither endpoint reads cookies or HTTP authentication, so the answers say exactly that:
//! `Access-Control-Allow-Origin: *` and never `Access-Control-Allow-Credentials` (a browser
//! then sends no credentials and refuses credentialed calls). The preflight echoes the
//! requested headers, so its `Vary` names that request header as well as `Origin` (the CSTG
//! answer itself depends on the `Origin`).

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::route::Endpoint;

/// The paths that answer CORS preflights and carry CORS headers.
pub(crate) const CORS_PATHS: [&str; 2] = [
    Endpoint::TokenRefresh.path(),
    Endpoint::ClientGenerate.path(),
];

const ALLOW_METHODS: &str = "POST, OPTIONS";
const ALLOW_HEADERS: &str =
    "Content-Type, Authorization, X-UID2-Client-Version, X-EUID-Client-Version";
const MAX_AGE_SECONDS: &str = "86400";
const ANY_ORIGIN: &str = "*";
const VARY_RESPONSE: &str = "Origin";
const VARY_PREFLIGHT: &str = "Origin, Access-Control-Request-Headers";

fn allow_headers(request_headers: &HeaderMap) -> HeaderValue {
    request_headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static(ALLOW_HEADERS))
}

/// axum middleware: answers `OPTIONS` preflights on [`CORS_PATHS`] with 204 and adds
/// `Access-Control-Allow-Origin` to their responses.
pub(crate) async fn cors(request: Request, next: Next) -> Response {
    if !CORS_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    if request.method() == Method::OPTIONS {
        return (
            StatusCode::NO_CONTENT,
            [
                (
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static(ANY_ORIGIN),
                ),
                (
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(ALLOW_METHODS),
                ),
                (
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    allow_headers(request.headers()),
                ),
                (
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static(MAX_AGE_SECONDS),
                ),
                (header::VARY, HeaderValue::from_static(VARY_PREFLIGHT)),
            ],
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static(ANY_ORIGIN),
    );
    // Append, so a Vary the handler set is kept.
    headers.append(header::VARY, HeaderValue::from_static(VARY_RESPONSE));
    response
}
