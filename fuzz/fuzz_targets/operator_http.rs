#![no_main]
//! The operator's HTTP layer: `Content-Length` and `Content-Type` handling, through the real
//! router (`euid_operator::router`, called as a tower service: no socket, same handlers).
//! The body limit is 4096 bytes so inputs can cross it.
//!
//! Input: one selector byte, the `Content-Type` header value up to the first NUL, the
//! `Content-Length` header value up to the next NUL, then the body.
//! - selector bit 7 clear: the body as is, to the endpoint of the low nibble (0–10:
//!   `Endpoint::ALL`; 11 (`/openapi.yaml`, a GET) and above: client-generate).
//! - selector bit 7 set: the body is replaced by an empty request envelope for
//!   `/v2/key/sharing`, sealed with the demo client's secret: raw bytes (bit 0 set) or
//!   base64 text (bit 0 clear).
//!
//! A header value that is not a valid header value is left out.
//!
//! Checked: no 5xx; a `Content-Length` above the limit, or a body above it, is 413; a sealed
//! request is 200 when its encoding matches the `Content-Type` (raw bytes need
//! `application/octet-stream`, matched on the part before `;`, trimmed, any case; base64
//! text is taken under any type) and then answered as `application/octet-stream` exactly
//! when it came as raw bytes, and is 400 otherwise.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::BatchedOsRandom;
use euid_envelope::{seal_request, ClientSecret};
use euid_fuzz::{in_memory_operator, reached, DiscardOptOuts};
use euid_operator::now_ms;
use euid_operator::{router, Endpoint, OperatorConfig};
use euid_operator::{OCTET_STREAM, TEXT};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

const LIMIT: usize = 4096;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    auth: String,
    secret: ClientSecret,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut config = OperatorConfig::default();
        config.max_body_bytes = LIMIT;
        let (operator, demo) = in_memory_operator(
            "euid-fuzz-http",
            config,
            DiscardOptOuts::none_opted_out(),
            |_, _| {},
        );
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            router: router(Arc::new(operator)),
            auth: format!("Bearer {}", demo.api_key),
            secret: ClientSecret::from_base64(&demo.client_secret).expect("secret"),
        }
    })
}

fn take_until_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn is_octet_stream(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OCTET_STREAM))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (content_type, rest) = take_until_nul(rest);
    let (content_length, body) = take_until_nul(rest);
    let f = fixture();
    let content_type = HeaderValue::from_bytes(content_type).ok();
    let content_length = HeaderValue::from_bytes(content_length).ok();

    let sealed = selector & 0x80 != 0;
    let binary = selector & 1 == 1;
    let (path, body) = if sealed {
        let envelope = seal_request(
            &f.secret,
            now_ms(),
            [7; 8],
            b"",
            &mut BatchedOsRandom::new(),
        );
        let body = if binary {
            envelope
        } else {
            STANDARD.encode(envelope).into_bytes()
        };
        (Endpoint::KeySharing.path(), body)
    } else {
        let path = Endpoint::ALL
            .get(usize::from(selector & 0x0f))
            .filter(|e| e.method() == "POST")
            .map_or(Endpoint::ClientGenerate.path(), |e| e.path());
        (path, body.to_vec())
    };

    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, &f.auth)
        .header(header::ORIGIN, "http://localhost:3000");
    if let Some(v) = &content_type {
        request = request.header(header::CONTENT_TYPE, v);
    }
    if let Some(v) = &content_length {
        request = request.header(header::CONTENT_LENGTH, v);
    }
    let body_len = body.len();
    let request = request.body(Body::from(body)).expect("a valid request");
    let (status, response_type) = f.runtime.block_on(async {
        let response = f.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let response_type = response.headers().get(header::CONTENT_TYPE).cloned();
        // Drain the body, as a client would.
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        (status, response_type)
    });
    assert!(status < 500, "HTTP {status} for {path}");
    let declared = content_length
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > LIMIT as u64) || body_len > LIMIT {
        assert_eq!(status, 413, "declared {declared:?}, {body_len} bytes");
        reached("the body limit");
        return;
    }
    if !sealed {
        return;
    }
    if binary && !is_octet_stream(content_type.as_ref()) {
        assert_eq!(status, 400, "raw bytes under {content_type:?}");
        return;
    }
    assert_eq!(status, 200, "a sealed request under {content_type:?}");
    reached("a sealed request answered 200");
    let expected = if binary { OCTET_STREAM } else { TEXT };
    assert_eq!(
        response_type.as_ref().and_then(|v| v.to_str().ok()),
        Some(expected),
        "answered as another type"
    );
});
