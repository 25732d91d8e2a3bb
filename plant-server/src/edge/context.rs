//! The request's parts read at once, for the one handler that still takes them (the catalog lists,
//! whose read model is being rebuilt); every other handler takes typed extractors
//! ([`crate::extract`]).

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{HeaderMap, Method};

use crate::auth::{Principal, Role};
use crate::correlation::CorrelationId;
use crate::problem::ApiError;
use crate::query::Query;
pub use crate::query::parse_uuid;
use crate::state::AppState;

/// One request, read and routed.
#[derive(Debug)]
pub struct RequestCtx {
    pub method: Method,
    /// The request path, without the query.
    pub path: String,
    pub query: Query,
    pub headers: HeaderMap,
    pub correlation_id: CorrelationId,
    pub state: AppState,
}

impl FromRequestParts<AppState> for RequestCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.auth().prepare(&parts.headers).await;
        Ok(Self {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: Query::parse(parts.uri.query()),
            headers: parts.headers.clone(),
            correlation_id: CorrelationId::from_headers(&parts.headers),
            state: state.clone(),
        })
    }
}

impl RequestCtx {
    /// The caller, if a token was sent (401 when it is not valid).
    pub fn principal(&self) -> Result<Option<Principal>, ApiError> {
        self.state.auth().authenticate(&self.headers)
    }

    /// The caller, who must hold one of `roles` (401 / 403 otherwise).
    pub fn require(&self, roles: &[Role]) -> Result<Principal, ApiError> {
        self.state.auth().require(&self.headers, roles)
    }
}
