#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod base64_text;
mod request;
mod response;
mod secret;

pub use request::{
    open_request, seal_request, BodyEncoding, OpenedRequest, RequestError, SkewPolicy, DOCS_HINT,
    MIN_REQUEST_LEN, REQUEST_VERSION,
};
pub use response::{
    open_refresh_response, open_response, seal_refresh_response, seal_response, seal_response_into,
    OpenedResponse, ResponseError,
};
pub use secret::{ClientSecret, SecretError};
