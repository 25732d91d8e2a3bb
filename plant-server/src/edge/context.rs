//! The whole request read at once, for the one handler that still takes it (the catalog lists,
//! whose read model is being rebuilt); every other handler takes typed extractors
//! ([`crate::extract`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, RawPathParams, Request};
use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::body::{check_content_type, parse_json, read_body};
use crate::correlation::CorrelationId;
use crate::extract::client_address;
use crate::problem::ApiError;
use crate::query::Query;
pub use crate::query::parse_uuid;
use crate::ratelimit::ClientKey;
use crate::state::AppState;

/// One request, read and routed.
#[derive(Debug)]
pub struct RequestCtx {
    pub method: Method,
    /// The request path, without the query.
    pub path: String,
    pub params: Vec<(String, String)>,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub correlation_id: CorrelationId,
    /// The TCP peer (the load balancer, behind one).
    pub peer: Option<SocketAddr>,
    pub state: AppState,
}

impl FromRequest<AppState> for RequestCtx {
    type Rejection = ApiError;

    /// Reads a routed request: 415 for a body that is not JSON, 413 for one over the limit.
    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let state = state.clone();
        let correlation_id = CorrelationId::from_headers(request.headers());
        check_content_type(request.method(), request.headers())?;
        let (mut parts, body) = request.into_parts();
        let params = RawPathParams::from_request_parts(&mut parts, &state)
            .await
            .map(|raw| {
                raw.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .map_err(|_| ApiError::invalid_field("path", "must be valid UTF-8"))?;
        let limit = state.limits().body_limit;
        let body = read_body(body, limit).await?;
        state.auth().prepare(&parts.headers).await;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        Ok(Self {
            query: Query::parse(parts.uri.query()),
            path: parts.uri.path().to_owned(),
            method: parts.method,
            params,
            headers: parts.headers,
            body,
            correlation_id,
            peer,
            state,
        })
    }
}

impl RequestCtx {
    /// A path parameter; its absence is a routing bug, answered as 404.
    pub fn param(&self, name: &str) -> Result<&str, ApiError> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| ApiError::NotFound(format!("missing path parameter {name}")))
    }

    /// A path parameter that must be a UUID: 422 when it is not.
    pub fn uuid_param(&self, name: &str) -> Result<Uuid, ApiError> {
        let text = self.param(name)?;
        parse_uuid(name, text)
    }

    /// The body as JSON of type `T`: 400 when it is not JSON, 422 when its shape is wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.body)
    }

    /// The body as JSON when one was sent, `None` for an empty body.
    pub fn json_opt<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            Ok(None)
        } else {
            parse_json(&self.body).map(Some)
        }
    }

    /// Who the client is for throttling; see [`client_address`] and [`ClientKey`].
    pub fn client_key(&self) -> ClientKey {
        let forwarded = self
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        ClientKey::parse(&client_address(
            &forwarded,
            self.state.limits().forwarded_hops,
            self.peer.map(|p| p.ip()),
        ))
    }

    /// The caller, if a token was sent (401 when it is not valid).
    pub fn principal(&self) -> Result<Option<Principal>, ApiError> {
        self.state.auth().authenticate(&self.headers)
    }

    /// The caller, who must hold one of `roles` (401 / 403 otherwise).
    pub fn require(&self, roles: &[Role]) -> Result<Principal, ApiError> {
        self.state.auth().require(&self.headers, roles)
    }
}
