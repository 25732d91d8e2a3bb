//! CORS: an origin allow-list, preflight answers, and the headers added to actual responses.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::config::CorsOrigins;
use crate::response::{Response, empty};

const ALLOWED_METHODS: &str = "GET, HEAD, POST, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str =
    "authorization, content-type, if-match, if-none-match, x-correlation-id, x-request-id";
const EXPOSED_HEADERS: &str =
    "etag, link, location, x-correlation-id, www-authenticate, retry-after";
const MAX_AGE_SECS: &str = "600";

/// The CORS policy.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: CorsOrigins,
}

/// What a request means for CORS.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a cross-origin request (no `Origin`), or one from a foreign origin: no CORS headers.
    NotAllowed,
    /// An allowed origin: echo it.
    Allowed(HeaderValue),
}

impl Cors {
    /// A policy over the configured allow-list.
    pub fn new(origins: CorsOrigins) -> Self {
        Self { origins }
    }

    /// Whether the request's `Origin` is on the list.
    pub fn verdict(&self, headers: &HeaderMap) -> Verdict {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Verdict::NotAllowed;
        };
        let allowed = match (&self.origins, origin.to_str()) {
            (CorsOrigins::Any, _) => true,
            (CorsOrigins::List(list), Ok(text)) => {
                let text = text.trim_end_matches('/').to_ascii_lowercase();
                list.contains(&text)
            }
            (CorsOrigins::List(_), Err(_)) => false,
        };
        if allowed {
            Verdict::Allowed(origin.clone())
        } else {
            Verdict::NotAllowed
        }
    }

    /// Whether `method` + headers form a preflight request.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight: 204 with the allowances for a listed origin, 204 without any
    /// for others (the browser then blocks the call).
    pub fn preflight(&self, headers: &HeaderMap) -> Response {
        let mut response = empty(StatusCode::NO_CONTENT);
        let h = response.headers_mut();
        h.insert(
            header::VARY,
            HeaderValue::from_static(
                "origin, access-control-request-method, access-control-request-headers",
            ),
        );
        if let Verdict::Allowed(origin) = self.verdict(headers) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE_SECS),
            );
        }
        response
    }

    /// Adds CORS headers to the headers `h` of an actual (non-preflight) response.
    pub fn decorate(&self, request_headers: &HeaderMap, h: &mut HeaderMap) {
        h.append(header::VARY, HeaderValue::from_static("origin"));
        if let Verdict::Allowed(origin) = self.verdict(request_headers) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with_origin(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, origin.parse().unwrap());
        h
    }

    #[test]
    fn only_listed_origins_are_echoed() {
        let cors = Cors::new(CorsOrigins::List(vec!["https://cp.example".into()]));
        assert!(matches!(
            cors.verdict(&with_origin("https://cp.example")),
            Verdict::Allowed(_)
        ));
        assert!(matches!(
            cors.verdict(&with_origin("https://CP.example/")),
            Verdict::Allowed(_)
        ));
        assert_eq!(
            cors.verdict(&with_origin("https://evil.example")),
            Verdict::NotAllowed
        );
        assert_eq!(cors.verdict(&HeaderMap::new()), Verdict::NotAllowed);
    }
}
