//! The transparency log's public reads: the latest signed C2SP checkpoint and RFC 9162
//! inclusion and consistency proofs (docs/transparency.md is the specification). Proofs for a
//! fixed tree size never change, so they are cacheable for good; the checkpoint is not.

use http::{HeaderValue, StatusCode, header};
use plant_core::audit::{ProofError, latest_checkpoint_text};

use crate::context::RequestCtx;
use crate::problem::ApiError;
use crate::response::{Response, full, json_response};
use crate::router::HandlerResult;

/// What a proof for a fixed size may be cached as: it never changes.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// `GET /audit/checkpoint`: the newest signed checkpoint, as the C2SP note text; 404 before the
/// first `plant-cli checkpoint`.
#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses(
        (status = 200, description = "a C2SP tlog-checkpoint signed as a signed-note", content_type = "text/plain; charset=utf-8"),
        (status = 404, description = "no checkpoint has been signed yet"),
    ))]
pub async fn checkpoint(ctx: RequestCtx) -> HandlerResult {
    let store = ctx.state.catalog().store();
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
pub async fn inclusion(ctx: RequestCtx) -> HandlerResult {
    let seq = required(&ctx, "seq")?;
    let size = required(&ctx, "size")?;
    let store = ctx.state.catalog().store();
    let proof = ctx
        .state
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
pub async fn consistency(ctx: RequestCtx) -> HandlerResult {
    let from = required(&ctx, "from")?;
    let to = required(&ctx, "to")?;
    let store = ctx.state.catalog().store();
    let proof = ctx
        .state
        .transparency()
        .consistency_proof(store.as_ref(), from, to)
        .await
        .map_err(proof_error)?;
    Ok(immutable(json_response(StatusCode::OK, &proof)))
}

/// A required non-negative integer parameter (422 naming it otherwise).
fn required(ctx: &RequestCtx, name: &str) -> Result<u64, ApiError> {
    ctx.query
        .parse_opt::<u64>(name, "a non-negative integer")?
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
