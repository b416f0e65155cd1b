//! What the pipeline answers: a status, a content type and bytes, and the plain JSON error
//! bodies every endpoint shares. A leaf of the module graph, so endpoints need not import
//! the pipeline that dispatches to them.

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
/// `Content-Type` of binary bodies.
pub const OCTET_STREAM: &str = "application/octet-stream";

impl ApiResponse {
    /// A plain JSON `{"status":..,"message":..}` error (never encrypted, decision 9).
    pub fn error(http_status: u16, status: &str, message: Option<&str>) -> ApiResponse {
        let body = match message {
            Some(m) => serde_json::json!({ "status": status, "message": m }),
            None => serde_json::json!({ "status": status }),
        };
        ApiResponse {
            http_status,
            content_type: JSON,
            body: body.to_string().into_bytes(),
            site_id: None,
        }
    }

    /// 400 `client_error` with `message`.
    pub fn client_error(message: &str) -> ApiResponse {
        Self::error(400, "client_error", Some(message))
    }

    /// 401 `{"status":"unauthorized"}` (no message, `wire.md` §7).
    pub fn unauthorized() -> ApiResponse {
        Self::error(401, "unauthorized", None)
    }

    pub(crate) fn with_site(mut self, site_id: Option<i32>) -> ApiResponse {
        self.site_id = site_id;
        self
    }
}
