//! Operations endpoints: liveness and readiness (the OpenAPI document is served by `openapi`).

use axum::extract::State;
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::{ApiError, HandlerResult, Problem};
use crate::response::json_bytes_response;
use crate::state::AppState;

/// [`ProbeStatus`] `ok`, serialised once: probes are polled every few seconds and load balancers
/// and benchmarks hammer them.
const PROBE_OK: &[u8] = br#"{"status":"ok"}"#;

/// The body of `/health` and `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeStatus {
    /// Always `ok`.
    pub status: &'static str,
}

/// Liveness: 200 while the process is up.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "the process is up", body = ProbeStatus)))]
pub async fn health() -> HandlerResult {
    Ok(json_bytes_response(StatusCode::OK, PROBE_OK))
}

/// Readiness: 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "ready to serve", body = ProbeStatus),
        (status = 503, description = "the database cannot be reached", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn ready(State(state): State<AppState>) -> HandlerResult {
    match state.readiness().check().await {
        Ok(()) => Ok(json_bytes_response(StatusCode::OK, PROBE_OK)),
        Err(err) => Err(ApiError::Unavailable(Some(Box::new(err)))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_probe_body_is_the_schema_s_ok() {
        assert_eq!(
            serde_json::to_vec(&ProbeStatus { status: "ok" }).unwrap(),
            PROBE_OK
        );
    }
}
