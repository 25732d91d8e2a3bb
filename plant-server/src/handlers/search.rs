//! Search over the catalog by meaning (or lexically, with the hashing embedder).

use axum::extract::State;
use http::StatusCode;
use plant_core::store::{SearchHit, SearchMode};
use serde::{Deserialize, Serialize};

use crate::extract::Query;
use crate::problem::{ApiError, HandlerResult};
use crate::query::{number, parse_kind, parse_mode};
use crate::response::json_response;
use crate::state::AppState;

/// The query of `GET /search`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    kind: Option<String>,
    k: Option<String>,
    mode: Option<String>,
}

/// `GET /search?q=&kind=&k=&mode=`: catalog entries best matching the text, with scores.
#[utoipa::path(get, path = "/api/v1/search", tag = "search",
    params(("q" = String, Query, description = "the text"), ("kind" = Option<String>, Query, description = "one kind"),
           ("k" = Option<u32>, Query, description = "how many (1 to 100, default 10)"),
           ("mode" = Option<String>, Query, description = "`hybrid` (default): full-text and vector rankings fused by \
reciprocal rank fusion (k = 60), `score` = Σ 1/(60 + rank); `semantic`: vector similarity, `score` = cosine; `lexical`: \
full text (name weighted above description), `score` = PostgreSQL ts_rank")),
    responses((status = 200, description = "`{query, mode, model, results: [{kind, id, name, score}]}`"),
        (status = 422, description = "empty or over-long `q`, `k` out of range, unknown `kind` or `mode`",
            body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn search(State(state): State<AppState>, Query(q): Query<SearchQuery>) -> HandlerResult {
    let text =
        q.q.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::invalid_field("q", "is required"))?;
    if text.chars().count() > 1000 {
        return Err(ApiError::invalid_field(
            "q",
            "must be at most 1000 characters",
        ));
    }
    let k = number::<u32>("k", q.k.as_deref(), "an integer between 1 and 100")?.unwrap_or(10);
    if !(1..=100).contains(&k) {
        return Err(ApiError::invalid_field(
            "k",
            "must be an integer between 1 and 100",
        ));
    }
    let mode = parse_mode(q.mode.as_deref())?;
    let kinds = match q.kind {
        Some(raw) => vec![parse_kind("kind", &raw)?],
        None => Vec::new(),
    };
    let filter = plant_core::store::SearchFilter {
        kinds,
        status: None,
        industry_id: None,
    };
    let catalog = state.catalog();
    let hits = catalog
        .search_mode(text, mode, &filter, usize::try_from(k).unwrap_or(10))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &SearchResults {
            query: text,
            mode,
            model: catalog.embedder().model_id(),
            results: hits,
        },
    ))
}

/// The answer of `GET /search`.
#[derive(Debug, Serialize)]
pub struct SearchResults<'a> {
    /// The text searched for, trimmed.
    pub query: &'a str,
    pub mode: SearchMode,
    /// The embedding model's id (`hashing-v1` without MiniLM).
    pub model: &'a str,
    /// `{kind, id, name, score}`, best first.
    pub results: Vec<SearchHit>,
}
