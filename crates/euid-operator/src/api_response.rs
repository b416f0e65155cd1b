//! What the pipeline answers: a status, a content type and bytes. A leaf of the module graph,
//! so endpoints need not import the pipeline that dispatches to them. Error answers are made
//! only from the catalogue in `api_error` (`ApiResponse::from(ApiError::…)`).

/// What to send back.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status code.
    pub http_status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body: encrypted (200) or plain JSON (errors).
    pub body: Vec<u8>,
    /// The authenticated caller's site, for logs.
    pub site_id: Option<i32>,
}

impl std::fmt::Debug for ApiResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiResponse")
            .field("http_status", &self.http_status)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// `Content-Type` of plain JSON error bodies.
pub const JSON: &str = "application/json";
/// `Content-Type` of base64 text bodies.
pub const TEXT: &str = "text/plain";
/// `Content-Type` of the OpenAPI document (`GET /openapi.yaml`).
pub const YAML: &str = "application/yaml";
/// `Content-Type` of binary bodies.
pub const OCTET_STREAM: &str = "application/octet-stream";

impl ApiResponse {
    pub(crate) fn with_site(mut self, site_id: Option<i32>) -> Self {
        self.site_id = site_id;
        self
    }
}
