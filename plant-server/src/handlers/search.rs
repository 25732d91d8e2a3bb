//! Search over the catalog by meaning (or lexically, with the hashing embedder).

use http::StatusCode;
use serde_json::{Value, json};

use crate::context::RequestCtx;
use crate::handlers::certify::parse_kind;
use crate::response::json_response;
use crate::router::HandlerResult;

/// `GET /search?q=&kind=&k=`: catalog entries closest to the text, with scores.
#[utoipa::path(get, path = "/api/v1/search", tag = "search",
    params(("q" = String, Query, description = "the text"), ("kind" = Option<String>, Query, description = "one kind"),
           ("k" = Option<u32>, Query, description = "how many (1 to 100, default 10)")),
    responses((status = 200, description = "`{query, model, results: [{kind, id, name, score}]}`")))]
pub async fn search(ctx: RequestCtx) -> HandlerResult {
    let text = ctx
        .query
        .get("q")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| crate::problem::ApiError::invalid_field("q", "is required"))?;
    if text.chars().count() > 1000 {
        return Err(crate::problem::ApiError::invalid_field(
            "q",
            "must be at most 1000 characters",
        ));
    }
    let k = ctx
        .query
        .parse_opt::<u32>("k", "an integer between 1 and 100")?
        .unwrap_or(10);
    if !(1..=100).contains(&k) {
        return Err(crate::problem::ApiError::invalid_field(
            "k",
            "must be an integer between 1 and 100",
        ));
    }
    let kinds = match ctx.query.get("kind") {
        Some(raw) => vec![parse_kind("kind", raw)?],
        None => Vec::new(),
    };
    let filter = plant_core::store::SearchFilter {
        kinds,
        status: None,
        industry_id: None,
    };
    let catalog = ctx.state.catalog();
    let hits = catalog
        .search(text, &filter, usize::try_from(k).unwrap_or(10))
        .await?;
    let results: Vec<Value> = hits
        .iter()
        .map(|h| json!({ "kind": h.kind, "id": h.id, "name": h.name, "score": h.score }))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "query": text, "model": catalog.embedder().model_id(), "results": results }),
    ))
}
