//! Typed extractors for the handlers: the caller and their role, path parameters, the query
//! string, a JSON body, the client's throttling key. Each rejection is an [`ApiError`], answered
//! as the same problem+json as when a handler returns it.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use bytes::Bytes;
use http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::body::{check_content_type, parse_json, read_body};
use crate::correlation::CorrelationId;
use crate::problem::{ApiError, Violation};
use crate::query::{self, Paging, PagingParams, parse_uuid};
use crate::ratelimit::ClientKey;
use crate::state::AppState;

/// The caller, when a token was sent (401 when it is not valid).
#[derive(Debug)]
pub struct Caller(pub Option<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.auth().prepare(&parts.headers).await;
        state.auth().authenticate(&parts.headers).map(Self)
    }
}

/// The roles an endpoint admits.
pub trait Roles {
    const ROLES: &'static [Role];
}

macro_rules! roles {
    ($($(#[$doc:meta])* $name:ident => [$($role:ident),+];)+) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl Roles for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),+];
        }
    )+};
}

roles! {
    /// Genesis, who curates the catalog.
    Genesis => [Genesis];
    /// Operators, who run the platform.
    Operator => [Operator];
    /// An agent, acting for itself.
    Agent => [Agent];
    /// Operators, and customers (who then see only what is theirs).
    OperatorOrCustomer => [Operator, Customer];
    /// Operators, and agents (who then see only what is theirs).
    OperatorOrAgent => [Operator, Agent];
}

/// The caller, holding one of `R::ROLES`: 401 without a valid token, 403 without the role.
#[derive(Debug)]
pub struct Authorized<R>(pub Principal, pub PhantomData<R>);

impl<R: Roles + Send + Sync> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.auth().prepare(&parts.headers).await;
        let who = state.auth().require(&parts.headers, R::ROLES)?;
        Ok(Self(who, PhantomData))
    }
}

/// The route's path parameters as text, in order (the routes only hold UTF-8 templates; a path
/// that is not UTF-8 is 422).
async fn path_params<S: Send + Sync, const N: usize>(
    parts: &mut Parts,
    state: &S,
) -> Result<[String; N], ApiError> {
    let Path(values) = Path::<Vec<String>>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::invalid_field("path", "must be valid UTF-8"))?;
    values
        .try_into()
        .map_err(|_| ApiError::NotFound("no resource at this path".into()))
}

/// The route's one path parameter as a UUID: 422 naming `id` when it is not one.
#[derive(Debug, Clone, Copy)]
pub struct Id(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let [id] = path_params(parts, state).await?;
        parse_uuid("id", &id).map(Self)
    }
}

/// `{id}` (a UUID: 422 otherwise) and `{n}` as sent, of `…/{id}/versions/{n}`; the handler
/// parses `n` once it knows the caller may read the record.
#[derive(Debug, Clone)]
pub struct IdVersion(pub Uuid, pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let [id, n] = path_params(parts, state).await?;
        Ok(Self(parse_uuid("id", &id)?, n))
    }
}

/// The route's path parameters as text (`{seed_id}`, or `{seed_id}` and `{n}`).
#[derive(Debug, Clone)]
pub struct Params<const N: usize>(pub [String; N]);

impl<S: Send + Sync, const N: usize> FromRequestParts<S> for Params<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        path_params(parts, state).await.map(Self)
    }
}

/// The query string as `T`. Empty values count as absent and the first of repeated keys wins;
/// a query `T` cannot take is 422.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        decode_query(parts.uri.query().unwrap_or_default()).map(Self)
    }
}

/// Decodes a raw query string as `T`, as [`Query`] does.
pub fn decode_query<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let mut seen = HashSet::new();
    let pairs = form_urlencoded::parse(raw.as_bytes())
        .filter(|(k, v)| !v.is_empty() && seen.insert(k.clone()));
    let kept = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    serde_urlencoded::from_str(&kept).map_err(|err| ApiError::Invalid {
        detail: format!("the query string does not have the expected shape: {err}"),
        violations: vec![Violation::input("query", err.to_string())],
    })
}

/// `limit` (1‥=1000, default 100) and `offset` (or `skip`): see [`Paging::from_params`].
impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(params) = Query::<PagingParams>::from_request_parts(parts, state).await?;
        Paging::from_params(&params)
    }
}

/// `?dry_run=true` (or `1`; `false`/`0`/absent for a real write): check everything, write
/// nothing. Any other value is a 422.
#[derive(Debug, Clone, Copy)]
pub struct DryRun(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for DryRun {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Params {
            dry_run: Option<String>,
        }
        let Query(params) = Query::<Params>::from_request_parts(parts, state).await?;
        query::flag("dry_run", params.dry_run.as_deref()).map(Self)
    }
}

/// Where a problem a handler renders itself is about: the request's path and correlation id.
#[derive(Debug, Clone)]
pub struct Instance {
    pub path: String,
    pub correlation_id: CorrelationId,
}

impl<S: Send + Sync> FromRequestParts<S> for Instance {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Self {
            path: parts.uri.path().to_owned(),
            correlation_id: CorrelationId::from_headers(&parts.headers),
        })
    }
}

/// Who the client is for throttling; see [`client_address`] and [`ClientKey`].
#[derive(Debug, Clone)]
pub struct Client(pub ClientKey);

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(Self(ClientKey::parse(&client_address(
            &forwarded,
            state.limits().forwarded_hops,
            peer,
        ))))
    }
}

/// The client's address for throttling. `X-Forwarded-For` is a list each proxy appends to, so
/// only its last `hops` entries were written by proxies we trust (`hops` = `PLANT_FORWARDED_HOPS`);
/// anything to their left came from the client and could be anything. The client is therefore
/// the entry `hops` places from the right. With `hops` = 0, or when the header has fewer entries
/// than that (the request did not come through the proxies), it is the peer's address.
pub fn client_address(forwarded: &str, hops: usize, peer: Option<std::net::IpAddr>) -> String {
    let entries: Vec<&str> = forwarded
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    // With hops = 0 the index is len, which is past the end: the peer.
    match entries.len().checked_sub(hops).and_then(|i| entries.get(i)) {
        Some(entry) => entry.chars().take(64).collect(),
        None => peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
    }
}

/// A JSON body of type `T`: 415 when it is not JSON, 413 over the limit, 400 when it does not
/// parse, 422 when its shape is wrong.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let OptionalJson(body) = OptionalJson::from_request(request, state).await?;
        let Some(body) = body else {
            return Err(ApiError::BadJson("a JSON body is required".into()));
        };
        Ok(Self(body))
    }
}

/// A JSON body of type `T` when one was sent, `None` for an empty body; otherwise as [`Json`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let JsonBody(body) = JsonBody::from_request(request, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        parse_json(&body).map(|v| Self(Some(v)))
    }
}

/// A body that declares itself JSON (415 otherwise), read whole (413 over the limit), not yet
/// parsed: for a handler that must look at something else first.
#[derive(Debug)]
pub struct JsonBody(pub Bytes);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        check_content_type(request.method(), request.headers())?;
        read_body(request.into_body(), state.limits().body_limit)
            .await
            .map(Self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));

    #[derive(Debug, serde::Deserialize)]
    struct Decoded {
        industry: Option<String>,
        q: Option<String>,
        bad: Option<String>,
        flag: Option<String>,
        end: Option<String>,
        #[serde(rename = "k&=")]
        odd: Option<String>,
    }

    #[test]
    fn decoding_handles_escapes_plus_and_garbage() {
        let q: Decoded = decode_query("industry=Health%20Care&q=a+b&bad=%zz&flag&end=%4").unwrap();
        assert_eq!(q.industry.as_deref(), Some("Health Care"));
        assert_eq!(q.q.as_deref(), Some("a b"));
        assert_eq!(q.bad.as_deref(), Some("%zz"));
        assert_eq!(q.flag, None);
        assert_eq!(q.end.as_deref(), Some("%4"));
        let encoded = form_urlencoded::Serializer::new(String::new())
            .append_pair("k&=", "ä b/&=")
            .finish();
        let q: Decoded = decode_query(&encoded).unwrap();
        assert_eq!(q.odd.as_deref(), Some("ä b/&="));
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(client_address("203.0.113.9", 0, PEER), "192.0.2.1");
        assert_eq!(client_address("", 0, None), "unknown");
    }

    #[test]
    fn behind_the_load_balancer_the_client_cannot_choose_its_key() {
        // Google's load balancer appends "<client-ip>,<lb-ip>" to whatever the client sent.
        let honest = client_address("198.51.100.7, 35.191.0.1", 2, PEER);
        let spoofed = client_address("1.2.3.4, 198.51.100.7, 35.191.0.1", 2, PEER);
        assert_eq!(honest, "198.51.100.7");
        assert_eq!(spoofed, honest);
        assert_eq!(client_address("9.9.9.9,8.8.8.8", 1, PEER), "8.8.8.8");
    }

    #[test]
    fn fewer_entries_than_trusted_proxies_falls_back_to_the_peer() {
        assert_eq!(client_address("198.51.100.7", 2, PEER), "192.0.2.1");
        assert_eq!(client_address(" , ", 1, PEER), "192.0.2.1");
    }
}
