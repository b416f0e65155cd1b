//! Which endpoints exist: their paths and the roles they need (`wire.md` §7). A leaf of
//! the module graph, so the pipeline, the server and the metrics can all name endpoints.

use crate::clients::Role;

/// `POST /v2/token/client-generate`: served beside the pipeline (its body is not a v2
/// envelope and it has no API key).
pub(crate) const CLIENT_GENERATE_PATH: &str = "/v2/token/client-generate";

/// An API endpoint served through the request pipeline.
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
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::TokenGenerate,
        Endpoint::TokenRefresh,
        Endpoint::TokenValidate,
        Endpoint::TokenLogout,
        Endpoint::KeyBidstream,
        Endpoint::KeySharing,
        Endpoint::IdentityMap,
        Endpoint::OptoutStatus,
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
        }
    }

    /// The roles of which the caller needs any one (`wire.md` §7); empty = no auth needed.
    pub const fn roles(self) -> &'static [Role] {
        match self {
            Endpoint::TokenGenerate | Endpoint::TokenValidate => &[Role::Generator],
            Endpoint::TokenRefresh => &[],
            Endpoint::TokenLogout => &[Role::Optout],
            Endpoint::KeyBidstream => &[Role::IdReader],
            Endpoint::KeySharing => &[Role::Sharer, Role::IdReader],
            Endpoint::IdentityMap => &[Role::Mapper],
            Endpoint::OptoutStatus => &[Role::Mapper, Role::Sharer, Role::IdReader],
        }
    }
}
