//! Query strings: decoding, typed parameters, paging.

use std::fmt::Display;
use std::str::FromStr;

use uuid::Uuid;

use crate::problem::ApiError;

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 1000;
/// Page size when the caller names none.
pub const DEFAULT_LIMIT: u32 = 100;

/// A decoded query string, in order, repeated keys kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes `a=1&b=x%20y` (`application/x-www-form-urlencoded`: `+` is a space, invalid
    /// escapes stay as written); pairs without `=` get an empty value.
    pub fn parse(raw: Option<&str>) -> Self {
        raw.map_or_else(Self::default, |raw| {
            Self(
                form_urlencoded::parse(raw.as_bytes())
                    .into_owned()
                    .collect(),
            )
        })
    }

    /// Encodes `pairs` as a query string (the inverse of [`Query::parse`]).
    pub fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    /// The first value of `name`, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name` parsed as `T`; 422 naming the parameter when it does not parse.
    pub fn parse_opt<T: FromStr>(&self, name: &str, expected: &str) -> Result<Option<T>, ApiError> {
        number(name, self.get(name), expected)
    }

    /// All pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Parses a UUID parameter or field: 422 naming it when it is not one.
pub fn parse_uuid(name: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim()).map_err(|_| ApiError::invalid_field(name, "must be a UUID"))
}

/// An optional UUID parameter (see [`parse_uuid`]).
pub fn uuid_opt(name: &str, text: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    text.map(|t| parse_uuid(name, t)).transpose()
}

/// An optional parameter parsed as `T`: 422 naming it, saying it must be `expected`.
pub fn number<T: FromStr>(
    name: &str,
    text: Option<&str>,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    text.map(|t| {
        t.parse()
            .map_err(|_| ApiError::invalid_field(name, format!("must be {expected}")))
    })
    .transpose()
}

/// An optional keyword parameter (a status, a category), in any case: 422 naming it, with the
/// parser's message, when it is not one of `T`'s.
pub fn keyword<T>(name: &str, text: Option<&str>) -> Result<Option<T>, ApiError>
where
    T: FromStr,
    T::Err: Display,
{
    text.map(|t| t.trim().to_ascii_lowercase().parse::<T>())
        .transpose()
        .map_err(|e| ApiError::invalid_field(name, e.to_string()))
}

/// `limit` and `offset` of a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: u32,
    pub offset: u64,
}

impl Paging {
    /// Reads `limit` (1‥=1000, default 100) and `offset` (≥ 0, also spelled `skip`).
    pub fn from_query(query: &Query) -> Result<Self, ApiError> {
        let limit = query
            .parse_opt::<i64>("limit", "an integer between 1 and 1000")?
            .unwrap_or(i64::from(DEFAULT_LIMIT));
        if !(1..=i64::from(MAX_LIMIT)).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                "must be an integer between 1 and 1000",
            ));
        }
        let offset_name = if query.get("offset").is_some() {
            "offset"
        } else {
            "skip"
        };
        let offset = query
            .parse_opt::<i64>(offset_name, "a non-negative integer")?
            .unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::invalid_field(
                offset_name,
                "must be a non-negative integer",
            ));
        }
        Ok(Self {
            limit: u32::try_from(limit).unwrap_or(DEFAULT_LIMIT),
            offset: u64::try_from(offset).unwrap_or(0),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decoding_handles_escapes_plus_and_garbage() {
        let q = Query::parse(Some("industry=Health%20Care&q=a+b&bad=%zz&flag&end=%4"));
        assert_eq!(q.get("industry"), Some("Health Care"));
        assert_eq!(q.get("q"), Some("a b"));
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(q.get("flag"), None);
        assert_eq!(q.get("end"), Some("%4"));
        let encoded = Query::encode([("k&=", "ä b/&=")]);
        assert_eq!(Query::parse(Some(&encoded)).get("k&="), Some("ä b/&="));
    }

    #[test]
    fn paging_bounds_are_enforced_with_422() {
        let ok = Paging::from_query(&Query::parse(Some("limit=1000&offset=5"))).unwrap();
        assert_eq!(
            ok,
            Paging {
                limit: 1000,
                offset: 5
            }
        );
        assert_eq!(
            Paging::from_query(&Query::parse(None)).unwrap().limit,
            DEFAULT_LIMIT
        );
        assert_eq!(
            Paging::from_query(&Query::parse(Some("skip=7")))
                .unwrap()
                .offset,
            7
        );
        for bad in ["limit=1001", "limit=0", "limit=x", "offset=-1", "skip=-3"] {
            let err = Paging::from_query(&Query::parse(Some(bad))).unwrap_err();
            assert_eq!(
                err.status(),
                http::StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}"
            );
        }
    }
}
