//! What a handler receives: the parsed request and the shared state.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::body::parse_json;
use crate::correlation::CorrelationId;
use crate::problem::ApiError;
use crate::query::Query;
use crate::state::AppState;

/// One request, read and routed.
#[derive(Debug)]
pub struct RequestCtx {
    pub method: Method,
    /// The request path, without the query.
    pub path: String,
    /// The route template that matched (`/api/v1/agents/{id}`).
    pub route: &'static str,
    pub params: Vec<(String, String)>,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub correlation_id: CorrelationId,
    /// The TCP peer (the load balancer, behind one).
    pub peer: Option<SocketAddr>,
    pub state: AppState,
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

    /// Who the client is for throttling: the first `X-Forwarded-For` address (Cloud Run's load
    /// balancer sets it), else the peer's IP.
    pub fn client_key(&self) -> String {
        self.headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| v.chars().take(64).collect())
            .or_else(|| self.peer.map(|p| p.ip().to_string()))
            .unwrap_or_else(|| "unknown".into())
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

/// Parses a UUID parameter or field: 422 naming it when it is not one.
pub fn parse_uuid(name: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim()).map_err(|_| ApiError::invalid_field(name, "must be a UUID"))
}
