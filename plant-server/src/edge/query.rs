//! Query strings: decoding, typed parameters, paging.

use std::str::FromStr;

use crate::problem::ApiError;

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 1000;
/// Page size when the caller names none.
pub const DEFAULT_LIMIT: u32 = 100;

/// A decoded query string, in order, repeated keys kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes `a=1&b=x%20y` (`+` is a space); pairs without `=` get an empty value.
    pub fn parse(raw: Option<&str>) -> Self {
        let Some(raw) = raw else {
            return Self::default();
        };
        Self(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
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
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid_field(name, format!("must be {expected}"))),
        }
    }

    /// All pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
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

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes and `+`; invalid escapes stay as written, invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
        assert_eq!(percent_decode(&percent_encode("ä b/&=")), "ä b/&=");
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
