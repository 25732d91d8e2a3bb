//! What a handler receives: the parsed request and the shared state.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request};
use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::body::{check_content_type, parse_json, read_body};
use crate::correlation::CorrelationId;
use crate::problem::ApiError;
use crate::query::Query;
use crate::ratelimit::ClientKey;
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
    /// Reads a routed request: 415 for a body that is not JSON, 413 for one over the limit.
    pub async fn read(
        state: AppState,
        request: Request,
        route: &'static str,
        correlation_id: CorrelationId,
    ) -> Result<Self, ApiError> {
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
            route,
            params,
            headers: parts.headers,
            body,
            correlation_id,
            peer,
            state,
        })
    }

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

/// The client's address for throttling. `X-Forwarded-For` is a list each proxy appends to, so
/// only its last `hops` entries were written by proxies we trust (`hops` = `PLANT_FORWARDED_HOPS`);
/// anything to their left came from the client and could be anything. The client is therefore
/// the entry `hops` places from the right. With `hops` = 0, or when the header has fewer entries
/// than that (the request did not come through the proxies), it is the peer's address.
pub fn client_address(forwarded: &str, hops: usize, peer: Option<IpAddr>) -> String {
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

/// Parses a UUID parameter or field: 422 naming it when it is not one.
pub fn parse_uuid(name: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim()).map_err(|_| ApiError::invalid_field(name, "must be a UUID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));

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
