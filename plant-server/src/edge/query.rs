//! Query parameters from decoded text to typed values.
//!
//! Decoding is the crates' (`form_urlencoded` / `serde_urlencoded`, through
//! [`crate::extract::Query`]); what stays here is the step after it that no crate words as this
//! API does: a value that does not parse is a 422 naming the parameter and what it must be
//! (`"limit": "must be an integer between 1 and 1000"`), the field names and sentences the
//! portals' clients and the problem bodies already carry. serde's own error would name the Rust
//! type instead.

use std::fmt::Display;
use std::str::FromStr;

use plant_core::model::Kind;
use plant_core::store::SearchMode;
use serde::Deserialize;
use uuid::Uuid;

use crate::problem::ApiError;

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 1000;
/// Page size when the caller names none.
pub const DEFAULT_LIMIT: u32 = 100;

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

/// An optional yes/no parameter (`true`/`1`, `false`/`0`, any case): 422 naming it otherwise.
pub fn flag(name: &str, text: Option<&str>) -> Result<bool, ApiError> {
    match text.map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(_) => Err(ApiError::invalid_field(name, "must be true or false")),
    }
}

/// A catalog kind named leniently (`entity_type`, `kind`): 422 naming `field` for an unknown
/// kind or one outside the catalog.
pub fn parse_kind(field: &str, raw: &str) -> Result<Kind, ApiError> {
    let kind = Kind::parse_loose(raw).map_err(|e| ApiError::invalid_field(field, e.to_string()))?;
    if kind.is_catalog() {
        Ok(kind)
    } else {
        Err(ApiError::invalid_field(
            field,
            format!("{kind} is not a catalog kind"),
        ))
    }
}

/// The `mode` query parameter: `hybrid` (default), `semantic` or `lexical`; anything else is 422.
pub fn parse_mode(text: Option<&str>) -> Result<SearchMode, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(SearchMode::default()),
        Some(raw) => raw
            .parse::<SearchMode>()
            .map_err(|e| ApiError::invalid_field("mode", e)),
    }
}

/// The paging parameters as sent (decoded by [`crate::extract::Query`]).
#[derive(Debug, Default, Deserialize)]
pub struct PagingParams {
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub skip: Option<String>,
}

/// `limit` and `offset` of a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: u32,
    pub offset: u64,
}

impl Paging {
    /// Reads `limit` (1‥=1000, default 100) and `offset` (≥ 0, also spelled `skip`).
    pub fn from_params(params: &PagingParams) -> Result<Self, ApiError> {
        let limit = number::<i64>(
            "limit",
            params.limit.as_deref(),
            "an integer between 1 and 1000",
        )?
        .unwrap_or(i64::from(DEFAULT_LIMIT));
        if !(1..=i64::from(MAX_LIMIT)).contains(&limit) {
            return Err(ApiError::invalid_field(
                "limit",
                "must be an integer between 1 and 1000",
            ));
        }
        let (offset_name, offset) = match &params.offset {
            Some(offset) => ("offset", Some(offset.as_str())),
            None => ("skip", params.skip.as_deref()),
        };
        let offset = number::<i64>(offset_name, offset, "a non-negative integer")?.unwrap_or(0);
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
    use crate::extract::decode_query;

    fn paging(raw: &str) -> Result<Paging, ApiError> {
        Paging::from_params(&decode_query(raw).unwrap())
    }

    #[test]
    fn paging_bounds_are_enforced_with_422() {
        let ok = paging("limit=1000&offset=5").unwrap();
        assert_eq!(
            ok,
            Paging {
                limit: 1000,
                offset: 5
            }
        );
        assert_eq!(paging("").unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(paging("skip=7").unwrap().offset, 7);
        for bad in ["limit=1001", "limit=0", "limit=x", "offset=-1", "skip=-3"] {
            let err = paging(bad).unwrap_err();
            assert_eq!(
                err.status(),
                http::StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}"
            );
        }
    }
}
