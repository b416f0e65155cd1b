//! Which endpoints exist: their paths and the roles they need (`wire.md` §7). A leaf of
//! the module graph, so the pipeline, the server and the metrics can all name endpoints.

use crate::clients::Role;

/// An API endpoint served through the request pipeline (`api::handle`). The operations
/// endpoints (`/ops/healthcheck`, `/metrics`) are the HTTP shell's own and not in here.
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
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 11] = [
        Endpoint::TokenGenerate,
        Endpoint::TokenRefresh,
        Endpoint::TokenValidate,
        Endpoint::TokenLogout,
        Endpoint::KeyBidstream,
        Endpoint::KeySharing,
        Endpoint::IdentityMap,
        Endpoint::OptoutStatus,
        Endpoint::ClientGenerate,
        Endpoint::IdentityMapV3,
        Endpoint::IdentityBuckets,
    ];

    /// The URL path.
    pub const fn path(self) -> &'static str {
        match self {
            Endpoint::TokenGenerate => "/v2/token/generate",
            Endpoint::TokenRefresh => "/v2/token/refresh",
            Endpoint::TokenValidate => "/v2/token/validate",
            Endpoint::TokenLogout => "/v2/token/logout",
            Endpoint::KeyBidstream => "/v2/key/bidstream",
            Endpoint::KeySharing => "/v2/key/sharing",
            Endpoint::IdentityMap => "/v2/identity/map",
            Endpoint::OptoutStatus => "/v2/optout/status",
            Endpoint::ClientGenerate => "/v2/token/client-generate",
            Endpoint::IdentityMapV3 => "/v3/identity/map",
            Endpoint::IdentityBuckets => "/v2/identity/buckets",
        }
    }

    /// The roles of which the caller needs any one (`wire.md` §7); empty = no API key needed.
    pub const fn roles(self) -> &'static [Role] {
        match self {
            Endpoint::TokenGenerate | Endpoint::TokenValidate => &[Role::Generator],
            Endpoint::TokenRefresh | Endpoint::ClientGenerate => &[],
            Endpoint::TokenLogout => &[Role::Optout],
            Endpoint::KeyBidstream => &[Role::IdReader],
            Endpoint::KeySharing => &[Role::Sharer, Role::IdReader],
            Endpoint::IdentityMap | Endpoint::IdentityMapV3 | Endpoint::IdentityBuckets => {
                &[Role::Mapper]
            }
            Endpoint::OptoutStatus => &[Role::Mapper, Role::Sharer, Role::IdReader],
        }
    }

    /// Whether it reads the request's `Origin` (client-side generation checks it against the
    /// keypair's domain names).
    pub const fn reads_origin(self) -> bool {
        matches!(self, Endpoint::ClientGenerate)
    }
}
