//! The transparency log's public reads: the latest signed C2SP checkpoint and RFC 9162
//! inclusion and consistency proofs (docs/transparency.md is the specification). Proofs for a
//! fixed tree size never change, so they are cacheable for good; the checkpoint is not.

use axum::extract::State;
use http::{HeaderValue, StatusCode, header};
use plant_core::audit::{ProofError, latest_checkpoint_text};
use serde::Deserialize;

use crate::extract::Query;
use crate::problem::{ApiError, HandlerResult};
use crate::query::number;
use crate::response::{Response, full, json_response};
use crate::state::AppState;

/// What a proof for a fixed size may be cached as: it never changes.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// The query of `GET /audit/proof/inclusion`.
#[derive(Debug, Deserialize)]
pub struct InclusionQuery {
    seq: Option<String>,
    size: Option<String>,
}

/// The query of `GET /audit/proof/consistency`.
#[derive(Debug, Deserialize)]
pub struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /audit/checkpoint`: the newest signed checkpoint, as the C2SP note text; 404 before the
/// first `plant-cli checkpoint`.
#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses(
        (status = 200, description = "a C2SP tlog-checkpoint signed as a signed-note", content_type = "text/plain; charset=utf-8"),
        (status = 404, description = "no checkpoint has been signed yet"),
    ))]
pub async fn checkpoint(State(state): State<AppState>) -> HandlerResult {
    let store = state.catalog().store();
    let text = latest_checkpoint_text(store.as_ref())
        .await
        .map_err(plant_core::Error::from)?
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been signed yet".into()))?;
    let mut response = Response::new(full(text.into()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `GET /audit/proof/inclusion?seq=&size=`: the audit path of entry `seq` in the tree of `size`
/// leaves.
#[utoipa::path(get, path = "/api/v1/audit/proof/inclusion", tag = "audit",
    params(("seq" = u64, Query, description = "the entry"), ("size" = u64, Query, description = "the tree size (a checkpoint's)")),
    responses(
        (status = 200, description = "`{seq, leaf_index, tree_size, entry_hash, leaf_hash, root_hash, audit_path}`"),
        (status = 404, description = "the log is not that large yet"),
        (status = 422, description = "a parameter is missing or not a valid pair"),
    ))]
pub async fn inclusion(
    State(state): State<AppState>,
    Query(q): Query<InclusionQuery>,
) -> HandlerResult {
    let seq = required("seq", q.seq)?;
    let size = required("size", q.size)?;
    let store = state.catalog().store();
    let proof = state
        .transparency()
        .inclusion_proof(store.as_ref(), seq, size)
        .await
        .map_err(proof_error)?;
    Ok(immutable(json_response(StatusCode::OK, &proof)))
}

/// `GET /audit/proof/consistency?from=&to=`: the proof that the tree of `to` leaves extends the
/// tree of `from` leaves.
#[utoipa::path(get, path = "/api/v1/audit/proof/consistency", tag = "audit",
    params(("from" = u64, Query, description = "the older tree size"), ("to" = u64, Query, description = "the newer tree size")),
    responses(
        (status = 200, description = "`{from, to, from_root, to_root, consistency_path}`"),
        (status = 404, description = "the log is not that large yet"),
        (status = 422, description = "a parameter is missing or not a valid pair"),
    ))]
pub async fn consistency(
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> HandlerResult {
    let from = required("from", q.from)?;
    let to = required("to", q.to)?;
    let store = state.catalog().store();
    let proof = state
        .transparency()
        .consistency_proof(store.as_ref(), from, to)
        .await
        .map_err(proof_error)?;
    Ok(immutable(json_response(StatusCode::OK, &proof)))
}

/// A required non-negative integer parameter (422 naming it otherwise).
fn required(name: &str, text: Option<String>) -> Result<u64, ApiError> {
    number::<u64>(name, text.as_deref(), "a non-negative integer")?
        .ok_or_else(|| ApiError::invalid_field(name, "is required (a non-negative integer)"))
}

fn immutable(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, IMMUTABLE);
    response
}

/// A proof that cannot be given, as the API's errors: a pair that can never have a proof is
/// input the client must change (422); a size the log has not reached yet is 404 (it may exist
/// later); a store that cannot be read is 503.
pub(crate) fn proof_error(err: ProofError) -> ApiError {
    match err {
        ProofError::BadRequest(why) => ApiError::Invalid {
            detail: why,
            violations: Vec::new(),
        },
        ProofError::BeyondLog { .. } => ApiError::NotFound(err.to_string()),
        ProofError::Store(source) => ApiError::from(plant_core::Error::from(source)),
        ProofError::Inconsistent { .. } => ApiError::Internal(Box::new(err)),
    }
}
