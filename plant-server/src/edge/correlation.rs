//! Request correlation: the id that ties a response to its log lines, and Cloud Trace context.

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header the id is read from and echoed on.
pub static CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");
/// Accepted as the id when `X-Correlation-ID` is absent.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Google's load balancer and Cloud Run set this: `TRACE_ID/SPAN_ID;o=OPTIONS`.
pub static CLOUD_TRACE_HEADER: HeaderName = HeaderName::from_static("x-cloud-trace-context");

/// Longest caller-supplied id kept; longer ones are replaced, so logs cannot be flooded.
const MAX_LEN: usize = 128;

/// A request's correlation id: the caller's, when it is sane, or a fresh UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationId(String);

impl CorrelationId {
    /// Reads `X-Correlation-ID`, then `X-Request-ID`; generates a UUID v4 when neither is usable.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        [&CORRELATION_HEADER, &REQUEST_ID_HEADER]
            .into_iter()
            .filter_map(|name| headers.get(name))
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .find(|v| is_sane(v))
            .map_or_else(Self::generate, |v| Self(v.to_owned()))
    }

    /// The id in `value` (an `X-Correlation-ID`), or a fresh one when it is absent or not sane.
    pub fn from_value(value: Option<&HeaderValue>) -> Self {
        value
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| is_sane(v))
            .map_or_else(Self::generate, |v| Self(v.to_owned()))
    }

    /// A fresh id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Drops an `X-Correlation-ID` that is not sane, so that [`MakeCorrelationId`] replaces it (the
/// request-id layer keeps any id already present).
pub fn drop_insane_id<B>(mut request: Request<B>) -> Request<B> {
    let sane = request
        .headers()
        .get(&CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| is_sane(v.trim()));
    if !sane {
        request.headers_mut().remove(&CORRELATION_HEADER);
    }
    request
}

/// Makes the id of a request without a sane `X-Correlation-ID`: its `X-Request-ID`, or a UUID.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeCorrelationId;

impl MakeRequestId for MakeCorrelationId {
    fn make_request_id<B>(&mut self, request: &Request<B>) -> Option<RequestId> {
        // As `CorrelationId::from_headers`, written straight into the header value.
        let sent = [&CORRELATION_HEADER, &REQUEST_ID_HEADER]
            .into_iter()
            .filter_map(|name| request.headers().get(name))
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .find(|v| is_sane(v));
        let value = match sent {
            Some(id) => HeaderValue::from_str(id),
            None => {
                let mut text = uuid::Uuid::encode_buffer();
                HeaderValue::from_str(uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text))
            }
        };
        value.ok().map(RequestId::new)
    }
}

fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

/// The Cloud Trace ids of a request, from `X-Cloud-Trace-Context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudTrace {
    pub trace_id: String,
    pub span_id: Option<String>,
    pub sampled: bool,
}

impl CloudTrace {
    /// Parses `TRACE_ID[/SPAN_ID][;o=1]`; `None` when the header is absent or malformed.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let text = headers.get(&CLOUD_TRACE_HEADER)?.to_str().ok()?.trim();
        let (ids, options) = text.split_once(';').unwrap_or((text, ""));
        let (trace_id, span_id) = match ids.split_once('/') {
            Some((t, s)) => (t, Some(s)),
            None => (ids, None),
        };
        if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let span_id = span_id.filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        Some(Self {
            trace_id: trace_id.to_ascii_lowercase(),
            span_id: span_id.map(str::to_owned),
            sampled: options.trim() == "o=1",
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn correlation_id_prefers_its_own_header_then_request_id_then_generates() {
        let h = headers(&[("x-correlation-id", "abc-1"), ("x-request-id", "req-2")]);
        assert_eq!(CorrelationId::from_headers(&h).as_str(), "abc-1");
        let h = headers(&[("x-request-id", "req-2")]);
        assert_eq!(CorrelationId::from_headers(&h).as_str(), "req-2");
        let generated = CorrelationId::from_headers(&HeaderMap::new());
        assert!(uuid::Uuid::parse_str(generated.as_str()).is_ok());
    }

    #[test]
    fn hostile_ids_are_replaced() {
        let h = headers(&[("x-correlation-id", &"a".repeat(500))]);
        assert_ne!(CorrelationId::from_headers(&h).as_str().len(), 500);
        let h = headers(&[("x-correlation-id", "a b\"c")]);
        assert!(uuid::Uuid::parse_str(CorrelationId::from_headers(&h).as_str()).is_ok());
    }

    #[test]
    fn cloud_trace_context_parses() {
        let h = headers(&[(
            "x-cloud-trace-context",
            "105445AA7843BC8BF206B12000100000/1;o=1",
        )]);
        let t = CloudTrace::from_headers(&h).unwrap();
        assert_eq!(t.trace_id, "105445aa7843bc8bf206b12000100000");
        assert_eq!(t.span_id.as_deref(), Some("1"));
        assert!(t.sampled);
        assert!(CloudTrace::from_headers(&headers(&[("x-cloud-trace-context", "nope")])).is_none());
    }
}
