//! Audit endpoints (operator): the constitutional audit, per-entity tampering, the chain export
//! and its verification.

use axum::extract::State;
use http::{HeaderMap, StatusCode, Uri, header};
use serde::Deserialize;

use crate::extract::{Authorized, Id, Operator, Query};
use crate::headers::next_link;
use crate::problem::HandlerResult;
use crate::query::{number, parse_kind};
use crate::response::{json_bytes_response, json_response};
use crate::state::AppState;

/// Entries one export page holds at most.
const MAX_EXPORT: u32 = 1000;

/// The query of `POST /audit/run`.
#[derive(Debug, Deserialize)]
pub struct RunQuery {
    entity_type: Option<String>,
}

/// The query of `GET /audit/export`.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// `POST /audit/run[?entity_type=]`: checks every catalog entity (or one kind) against L0 and L1.
#[utoipa::path(post, path = "/api/v1/audit/run", tag = "audit",
    params(("entity_type" = Option<String>, Query, description = "one kind, any spelling (`skill`, `JobRole`, `job_role`)")),
    responses((status = 200, description = "`{total_entities, compliant, compliance_score, total_violations, timestamp, \
        l0_breakdown, l1_breakdown, violations, statistics}`")),
    security(("bearer" = [])))]
pub async fn run(
    State(state): State<AppState>,
    _: Authorized<Operator>,
    Query(query): Query<RunQuery>,
) -> HandlerResult {
    let kind = query
        .entity_type
        .map(|raw| parse_kind("entity_type", &raw))
        .transpose()?;
    let report = state.catalog().audit_report(kind).await?;
    Ok(json_response(StatusCode::OK, &report))
}

/// `GET /audit/tampering/{id}`: whether one record and its entries still verify.
#[utoipa::path(get, path = "/api/v1/audit/tampering/{id}", tag = "audit",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "`{entity_id, tampered, tampering_detected, hash_chain_valid, broken_links, \
        details, broken_at_index}`")),
    security(("bearer" = [])))]
pub async fn tampering(
    State(state): State<AppState>,
    _: Authorized<Operator>,
    Id(id): Id,
) -> HandlerResult {
    let report = state.catalog().tampering_report(id).await?;
    Ok(json_response(StatusCode::OK, &report))
}

/// `GET /audit/export?after=<seq>&limit=`: audit entries in seq order, with payloads; `Link`
/// names the next page.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit",
    params(("after" = Option<u64>, Query, description = "entries after this seq"), ("limit" = Option<u32>, Query)),
    responses((status = 200, description = "entries, in seq order")),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    _: Authorized<Operator>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<ExportQuery>,
) -> HandlerResult {
    // Tagged like a list (the model's seq and the query): If-None-Match answers 304 at once.
    let tag = match crate::conditional::list_tag_or_304(state.model_seq(), &uri, &headers).await {
        Ok(tag) => tag,
        Err(not_modified) => return Ok(not_modified),
    };
    let after = number::<u64>(
        "after",
        query.after.as_deref(),
        "a non-negative integer (a seq)",
    )?
    .unwrap_or(0);
    let limit = number::<u32>(
        "limit",
        query.limit.as_deref(),
        "an integer between 1 and 1000",
    )?
    .unwrap_or(MAX_EXPORT);
    if !(1..=MAX_EXPORT).contains(&limit) {
        return Err(crate::problem::ApiError::invalid_field(
            "limit",
            "must be an integer between 1 and 1000",
        ));
    }
    let entries = state
        .catalog()
        .store()
        .audit_entries(after, u64::from(limit))
        .await
        .map_err(plant_core::Error::from)?;
    // Written by hand: the body is mostly payload text, escaped eight bytes at a time.
    let mut response = json_bytes_response(
        StatusCode::OK,
        plant_core::audit::AuditEntry::list_json(&entries),
    );
    if entries.len() == usize::try_from(limit).unwrap_or(usize::MAX)
        && let Some(last) = entries.last()
        && let Some(link) = next_link(uri.path(), uri.query(), &[("after", last.seq.to_string())])
    {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(crate::conditional::tagged(response, tag.as_ref()))
}

/// `GET /audit/verify`: recomputes every link, checks every record against its latest entry and
/// every checkpoint; names the first bad seq.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, description = "`{ok, entries_checked, head, checkpoints_checked, first_break}`")),
    security(("bearer" = [])))]
pub async fn verify(State(state): State<AppState>, _: Authorized<Operator>) -> HandlerResult {
    let mut report = state.catalog().verify(&[]).await?;
    // The C2SP tree checkpoints too: each signed root must be the tree's root at its size.
    let store = state.catalog().store();
    state
        .transparency()
        .fold_checkpoints(store.as_ref(), None, &[], &mut report)
        .await
        .map_err(crate::handlers::transparency::proof_error)?;
    Ok(json_response(StatusCode::OK, &report))
}
