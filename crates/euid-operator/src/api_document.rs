//! The API reference the operator serves at `GET /openapi.yaml`: `openapi.yaml` at the crate
//! root, compiled in, so the crate packages with it and the binary needs no file at run time.
//! `docs/openapi.yaml` is the same file (a test checks the bytes).

/// The OpenAPI 3.1 document of every endpoint (`GET /openapi.yaml`).
///
/// ```
/// use euid_operator::{Endpoint, OPENAPI_YAML};
///
/// assert!(OPENAPI_YAML.starts_with("openapi: 3.1.0"));
/// for endpoint in Endpoint::ALL {
///     assert!(OPENAPI_YAML.contains(&format!("\n  {}:\n", endpoint.path())));
/// }
/// ```
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");
