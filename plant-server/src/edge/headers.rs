//! Header helpers: entity tags and preconditions, `Link` for keyset paging, `Location`.

use http::{HeaderMap, HeaderValue, header};

use crate::problem::ApiError;

/// The strong entity tag of an entity at `version`: `"v3"`.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"v{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"v0\""))
}

/// What an `If-Match` header allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// The versions named by the listed tags.
    Versions(Vec<u64>),
}

impl IfMatch {
    /// Reads `If-Match`: 428 when it is missing, 412 when it names no version of ours.
    pub fn require(headers: &HeaderMap) -> Result<Self, ApiError> {
        let value = headers.get(header::IF_MATCH).ok_or_else(|| {
            ApiError::PreconditionRequired(
                "updates need an If-Match header with the entity's current ETag".into(),
            )
        })?;
        let text = value
            .to_str()
            .map_err(|_| ApiError::PreconditionFailed("If-Match is not valid text".into()))?
            .trim();
        if text == "*" {
            return Ok(Self::Any);
        }
        let versions: Vec<u64> = text.split(',').filter_map(parse_tag).collect();
        if versions.is_empty() {
            return Err(ApiError::PreconditionFailed(
                "If-Match does not name a version of this entity".into(),
            ));
        }
        Ok(Self::Versions(versions))
    }

    /// The single version the caller expects, when it named exactly one.
    pub fn expected_version(&self) -> Option<u64> {
        match self {
            Self::Versions(v) if v.len() == 1 => v.first().copied(),
            _ => None,
        }
    }

    /// 412 unless `current` satisfies the precondition.
    pub fn check(&self, current: u64) -> Result<(), ApiError> {
        match self {
            Self::Any => Ok(()),
            Self::Versions(v) if v.contains(&current) => Ok(()),
            Self::Versions(_) => Err(ApiError::PreconditionFailed(format!(
                "the entity has changed; its current ETag is \"v{current}\""
            ))),
        }
    }
}

/// Accepts `"v3"`, `W/"v3"` (weakness is ignored: our tags are per version) and a bare `3`.
fn parse_tag(tag: &str) -> Option<u64> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    let tag = tag.trim_matches('"');
    tag.strip_prefix('v').unwrap_or(tag).parse().ok()
}

/// `Link: <path?…&name=value>; rel="next"`: the request's query (`raw`, as sent) with `replace`
/// applied; the other pairs keep their order.
pub fn next_link(path: &str, raw: Option<&str>, replace: &[(&str, String)]) -> Option<HeaderValue> {
    let kept = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .filter(|(k, _)| !replace.iter().any(|(r, _)| r == k));
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .extend_pairs(replace.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    HeaderValue::from_str(&format!("<{path}?{encoded}>; rel=\"next\"")).ok()
}

/// A `Location` header for a created resource.
pub fn location(path: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(path).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn with_if_match(value: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(header::IF_MATCH, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn missing_if_match_is_428_and_stale_is_412() {
        let err = IfMatch::require(&with_if_match(None)).unwrap_err();
        assert_eq!(err.status(), StatusCode::PRECONDITION_REQUIRED);
        let m = IfMatch::require(&with_if_match(Some("\"v2\""))).unwrap();
        assert_eq!(m.expected_version(), Some(2));
        assert!(m.check(2).is_ok());
        assert_eq!(
            m.check(3).unwrap_err().status(),
            StatusCode::PRECONDITION_FAILED
        );
        assert!(
            IfMatch::require(&with_if_match(Some("*")))
                .unwrap()
                .check(9)
                .is_ok()
        );
        assert!(
            IfMatch::require(&with_if_match(Some("W/\"v4\", \"v5\"")))
                .unwrap()
                .check(5)
                .is_ok()
        );
        let err = IfMatch::require(&with_if_match(Some("\"abc\""))).unwrap_err();
        assert_eq!(err.status(), StatusCode::PRECONDITION_FAILED);
    }

    #[test]
    fn etag_round_trips_through_if_match() {
        let tag = etag(7);
        let m = IfMatch::require(&with_if_match(Some(tag.to_str().unwrap()))).unwrap();
        assert_eq!(m.expected_version(), Some(7));
    }

    #[test]
    fn next_link_keeps_filters_and_replaces_the_cursor() {
        let q = Some("industry=health%20care&after=old&limit=10");
        let link = next_link("/api/v1/agents", q, &[("after", "abc".into())]).unwrap();
        assert_eq!(
            link.to_str().unwrap(),
            "</api/v1/agents?industry=health+care&limit=10&after=abc>; rel=\"next\""
        );
    }
}
