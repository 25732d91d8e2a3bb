//! Response construction: the body type and JSON helpers.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The body every response carries (axum's): a whole buffer for most, a stream for the SSE feed.
pub use axum::body::Body;

/// A body of `bytes`, sent at once.
pub fn full(bytes: Bytes) -> Body {
    Body::from(bytes)
}

/// The media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every response the server sends: axum's, so that the router takes a handler's answer as it
/// is, without boxing its body again.
pub type Response = axum::response::Response;

/// Served when a value cannot be serialised; it never can for our types, but the edge must not panic.
const SERIALISATION_FAILED: &str = r#"{"type":"https://plant.dev/problems/internal","title":"Internal server error","status":500,"detail":"an unexpected error occurred"}"#;

/// A JSON response with `application/json`.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    json_response_with_type(status, value, "application/json")
}

/// A JSON response with the given media type.
pub fn json_response_with_type<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
    content_type: &'static str,
) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_body(status, Bytes::from(bytes), content_type),
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            with_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                Bytes::from_static(SERIALISATION_FAILED.as_bytes()),
                PROBLEM_JSON,
            )
        }
    }
}

/// A JSON response from bytes already written (by a hand-written encoder such as
/// [`plant_core::audit::AuditEntry::list_json`]).
pub fn json_bytes_response(status: StatusCode, bytes: impl Into<Bytes>) -> Response {
    with_body(status, bytes.into(), "application/json")
}

/// A response with no body.
pub fn empty(status: StatusCode) -> Response {
    let mut response = http::Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn with_body(status: StatusCode, body: Bytes, content_type: &'static str) -> Response {
    let mut response = http::Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
