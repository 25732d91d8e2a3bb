//! Request bodies: content-type check, size limit, JSON parsing.

use bytes::Bytes;
use http::{HeaderMap, Method, header};
use http_body_util::{BodyExt, LengthLimitError};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::problem::ApiError;

/// Whether the request declares a body (a non-zero `Content-Length` or any `Transfer-Encoding`).
pub fn declares_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || declared_length(headers).is_some_and(|n| n > 0)
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// 415 unless a body sent with POST, PUT or PATCH is JSON (`application/json` or `…+json`).
pub fn check_content_type(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let writes = [Method::POST, Method::PUT, Method::PATCH];
    if !writes.contains(method) || !declares_body(headers) {
        return Ok(());
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match media_type.as_deref() {
        Some("application/json") => Ok(()),
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType(
            "request bodies must be JSON (Content-Type: application/json)".into(),
        )),
    }
}

/// Reads the whole body. The request body limit layer has already refused a `Content-Length`
/// over `limit` and caps what is read; reaching the cap is 413.
pub async fn read_body(body: axum::body::Body, limit: usize) -> Result<Bytes, ApiError> {
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if is_length_limit(&err) => Err(ApiError::PayloadTooLarge { limit }),
        Err(err) => {
            tracing::info!(error = %err, "request body could not be read");
            Err(ApiError::BadRequest(
                "the request body could not be read".into(),
            ))
        }
    }
}

fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Parses a JSON body: 400 for text that is not JSON, 422 for JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadJson("a JSON body is required".into()));
    }
    // serde_json keeps the last of repeated keys; a body that names a field twice is refused
    // instead of being read as one of its two meanings.
    if let Err(err) = serde_json::from_slice::<UniqueKeys>(body)
        && err.classify() == Category::Data
    {
        return Err(ApiError::BadJson(format!(
            "the body is not usable JSON: {err}"
        )));
    }
    serde_json::from_slice(body).map_err(|err| match err.classify() {
        Category::Data => shape_error(&err),
        Category::Syntax | Category::Eof | Category::Io => ApiError::BadJson(format!(
            "the body is not valid JSON (line {}, column {})",
            err.line(),
            err.column()
        )),
    })
}

/// A body already parsed as JSON, as `T`: 422 when its shape is wrong.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|err| shape_error(&err))
}

fn shape_error(err: &serde_json::Error) -> ApiError {
    ApiError::Invalid {
        detail: format!(
            "the body does not have the expected shape: {}",
            shape_message(err)
        ),
        violations: vec![crate::problem::Violation::input("body", shape_message(err))],
    }
}

/// serde's data errors name fields and types, never values beyond the offending token; strip the
/// position suffix so the message reads cleanly.
fn shape_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        name: String,
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_are_422() {
        assert!(matches!(
            parse_json::<Shape>(b"{not json"),
            Err(ApiError::BadJson(_))
        ));
        assert!(matches!(
            parse_json::<Shape>(b""),
            Err(ApiError::BadJson(_))
        ));
        assert!(matches!(
            parse_json::<Shape>(br#"{"name": 3}"#),
            Err(ApiError::Invalid { .. })
        ));
        assert!(parse_json::<Shape>(br#"{"name": "x"}"#).is_ok());
    }

    #[test]
    fn json_content_types_are_accepted_others_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, "2".parse().unwrap());
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(check_content_type(&Method::POST, &h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(check_content_type(&Method::PATCH, &h).is_ok());
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(check_content_type(&Method::POST, &h).is_err());
        assert!(check_content_type(&Method::GET, &h).is_ok());
        h.insert(header::CONTENT_LENGTH, "0".parse().unwrap());
        assert!(check_content_type(&Method::POST, &h).is_ok());
    }
}

/// Any JSON value, read only to refuse an object that repeats a key.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<UniqueKeys>()?;
            if !seen.insert(key) {
                return Err(serde::de::Error::custom("an object repeats a key"));
            }
        }
        Ok(UniqueKeys)
    }
}

#[cfg(test)]
mod unique_keys_tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_at_any_depth_and_distinct_keys_pass() {
        let refused: [&[u8]; 2] = [br#"{"a":1,"a":2}"#, br#"{"x":[{"b":1,"c":2,"b":3}]}"#];
        for body in refused {
            assert!(parse_json::<serde_json::Value>(body).is_err());
        }
        let value: serde_json::Value =
            parse_json(br#"{"a":1,"b":{"a":2},"c":[{"a":3}]}"#).unwrap_or_default();
        assert_eq!(value["c"][0]["a"], 3);
    }
}
