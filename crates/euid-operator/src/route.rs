//! Which endpoints exist: their paths and the roles they need (`wire.md` §7). A leaf of
//! the module graph, so the pipeline, the server and the metrics can all name endpoints.

use crate::clients::Role;

/// An API endpoint served through the request pipeline (`api::handle`). The operations
/// endpoints (`/ops/healthcheck`, `/metrics`) are the HTTP shell's own and not in here.
/// All are `POST` but [`Endpoint::OpenApiDocument`], a `GET`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /v2/token/generate`.
    TokenGenerate,
    /// `POST /v2/token/refresh`.
    TokenRefresh,
    /// `POST /v2/token/validate`.
    TokenValidate,
    /// `POST /v2/token/logout`.
    TokenLogout,
    /// `POST /v2/key/bidstream`.
    KeyBidstream,
    /// `POST /v2/key/sharing`.
    KeySharing,
    /// `POST /v2/identity/map`.
    IdentityMap,
    /// `POST /v2/optout/status`.
    OptoutStatus,
    /// `POST /v3/identity/map`: any mix of the four identity arrays, current and previous raw
    /// UIDs and refresh time per identity.
    IdentityMapV3,
    /// `POST /v2/identity/buckets`: salt buckets rotated since a time.
    IdentityBuckets,
    /// `POST /v2/token/client-generate`: no API key and no v2 envelope; the body is the
    /// browser SDK's ECDH-sealed request and the page's `Origin` is checked.
    ClientGenerate,
    /// `GET /openapi.yaml`: this API's OpenAPI 3.1 reference (no API key).
    OpenApiDocument,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Self; 12] = [
        Self::TokenGenerate,
        Self::TokenRefresh,
        Self::TokenValidate,
        Self::TokenLogout,
        Self::KeyBidstream,
        Self::KeySharing,
        Self::IdentityMap,
        Self::OptoutStatus,
        Self::ClientGenerate,
        Self::IdentityMapV3,
        Self::IdentityBuckets,
        Self::OpenApiDocument,
    ];

    /// The URL path.
    pub const fn path(self) -> &'static str {
        match self {
            Self::TokenGenerate => "/v2/token/generate",
            Self::TokenRefresh => "/v2/token/refresh",
            Self::TokenValidate => "/v2/token/validate",
            Self::TokenLogout => "/v2/token/logout",
            Self::KeyBidstream => "/v2/key/bidstream",
            Self::KeySharing => "/v2/key/sharing",
            Self::IdentityMap => "/v2/identity/map",
            Self::OptoutStatus => "/v2/optout/status",
            Self::ClientGenerate => "/v2/token/client-generate",
            Self::IdentityMapV3 => "/v3/identity/map",
            Self::IdentityBuckets => "/v2/identity/buckets",
            Self::OpenApiDocument => "/openapi.yaml",
        }
    }

    /// The roles of which the caller needs any one (`wire.md` §7); empty = no API key needed.
    pub const fn roles(self) -> &'static [Role] {
        match self {
            Self::TokenGenerate | Self::TokenValidate => &[Role::Generator],
            Self::TokenRefresh | Self::ClientGenerate | Self::OpenApiDocument => &[],
            Self::TokenLogout => &[Role::Optout],
            Self::KeyBidstream => &[Role::IdReader],
            Self::KeySharing => &[Role::Sharer, Role::IdReader],
            Self::IdentityMap | Self::IdentityMapV3 | Self::IdentityBuckets => &[Role::Mapper],
            Self::OptoutStatus => &[Role::Mapper, Role::Sharer, Role::IdReader],
        }
    }

    /// The HTTP method it answers; another method on its path is a 405.
    ///
    /// ```
    /// use euid_operator::Endpoint;
    ///
    /// assert_eq!(Endpoint::OpenApiDocument.method(), "GET");
    /// assert_eq!(Endpoint::TokenGenerate.method(), "POST");
    /// ```
    pub const fn method(self) -> &'static str {
        match self {
            Self::OpenApiDocument => "GET",
            _ => "POST",
        }
    }

    /// Whether it reads the request's `Origin` (client-side generation checks it against the
    /// keypair's domain names).
    pub const fn reads_origin(self) -> bool {
        matches!(self, Self::ClientGenerate)
    }
}
