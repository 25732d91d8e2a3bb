//! The routing table: every endpoint and its handler.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use http::HeaderMap;
use plant_core::model::Kind;
use serde_json::{Map, Value};

use crate::card_signing::JWKS_PATH;
use crate::context::RequestCtx;
use crate::extract::{Authorized, DryRun, Genesis, Id, IdVersion, Json};
use crate::handlers::{
    agent_card, agents, audit, catalog, certify, feed, jobs, ops, precedents, search, transparency,
    trials, validate, versions,
};
use crate::openapi;
pub use crate::paths::{CATALOG_KINDS, kind_paths, version_paths};
use crate::state::AppState;

/// Genesis, who alone writes the catalog.
type Curator = Authorized<Genesis>;

/// All routes of the API. Unknown paths, other methods, `OPTIONS` and the route label of each
/// response are the edge's ([`crate::service`]).
pub fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/health", get(ops::health))
        .route("/api/v1/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/api/v1/ready", get(ops::ready))
        .route("/openapi.json", get(openapi::openapi))
        .route("/api/v1/openapi.json", get(openapi::openapi))
        .route(JWKS_PATH, get(agent_card::jwks));
    for &kind in CATALOG_KINDS {
        router = catalog_kind(router, kind);
    }
    router
        .route(
            "/api/v1/genesis/skills/{id}/certify",
            post(|s, who, id, dry| certify::by_path(Kind::Skill, s, who, id, dry)),
        )
        .route(
            "/api/v1/genesis/job-roles/{id}/certify",
            post(|s, who, id, dry| certify::by_path(Kind::JobRole, s, who, id, dry)),
        )
        .route("/api/v1/genesis/certify", post(certify::by_body))
        .route("/api/v1/genesis/certify/batch", post(certify::batch))
        .route("/api/v1/validate", post(validate::validate))
        .route("/api/v1/agents/me", get(agents::me))
        .route(
            "/api/v1/agents/{id}/agent-card",
            get(agent_card::agent_card),
        )
        .route("/api/v1/agents/{id}/assign-team", post(agents::assign_team))
        .route("/api/v1/trials", post(trials::book).get(trials::list))
        .route(
            "/api/v1/trials/{id}",
            get(trials::get).patch(trials::patch).delete(trials::cancel),
        )
        .route(
            "/api/v1/trials/{id}/deliverables",
            get(trials::deliverables),
        )
        .route("/api/v1/trials/{id}/versions", get(trials::versions))
        .route("/api/v1/trials/{id}/versions/{n}", get(trials::version))
        .route("/api/v1/jobs", post(jobs::create).get(jobs::list))
        .route("/api/v1/jobs/{id}", get(jobs::get).patch(jobs::patch))
        .route("/api/v1/jobs/{id}/versions", get(jobs::versions))
        .route("/api/v1/jobs/{id}/versions/{n}", get(jobs::version))
        .route("/api/v1/audit/run", post(audit::run))
        .route("/api/v1/audit/tampering/{id}", get(audit::tampering))
        .route("/api/v1/audit/export", get(audit::export))
        .route("/api/v1/audit/verify", get(audit::verify))
        .route("/api/v1/audit/checkpoint", get(transparency::checkpoint))
        .route(
            "/api/v1/audit/proof/inclusion",
            get(transparency::inclusion),
        )
        .route(
            "/api/v1/audit/proof/consistency",
            get(transparency::consistency),
        )
        .route("/api/v1/audit/feed", get(feed::feed))
        .route("/api/v1/search", get(search::search))
        .route(
            "/api/v1/precedents",
            post(precedents::create).get(precedents::list),
        )
        .route("/api/v1/precedents/query", post(precedents::query))
        .route("/api/v1/precedents/{seed_id}", get(precedents::get))
        .route(
            "/api/v1/precedents/{seed_id}/versions",
            get(precedents::versions),
        )
        .route(
            "/api/v1/precedents/{seed_id}/versions/{n}",
            get(precedents::version),
        )
        .route(
            "/api/v1/precedents/{seed_id}/supersede",
            post(precedents::supersede),
        )
        .route(
            "/api/v1/precedents/{seed_id}/approve",
            post(precedents::approve),
        )
}

/// The routes one catalog kind shares with the others: its collection, items, history and
/// versions.
fn catalog_kind(router: Router<AppState>, kind: Kind) -> Router<AppState> {
    let (items, item, history) = kind_paths(kind);
    let (all_versions, one_version) = version_paths(kind);
    router
        .route(
            items,
            post(
                move |State(s): State<AppState>,
                      Authorized(who, _): Curator,
                      DryRun(dry): DryRun,
                      Json(input): Json<Value>| {
                    catalog::create(s, who, kind, dry, input)
                },
            )
            .get(move |ctx: RequestCtx| catalog::list(ctx, kind)),
        )
        .route(
            item,
            get(move |State(s): State<AppState>, Id(id): Id| catalog::get(s, id, kind))
                .patch(
                    move |State(s): State<AppState>,
                          Authorized(who, _): Curator,
                          Id(id): Id,
                          DryRun(dry): DryRun,
                          headers: HeaderMap,
                          Json(patch): Json<Map<String, Value>>| async move {
                        catalog::patch(s, who, kind, id, dry, &headers, patch).await
                    },
                )
                .delete(
                    move |State(s): State<AppState>,
                          Authorized(who, _): Curator,
                          Id(id): Id,
                          DryRun(dry): DryRun,
                          headers: HeaderMap| async move {
                        catalog::archive(s, who, id, &headers, kind, dry).await
                    },
                ),
        )
        .route(
            history,
            get(move |State(s): State<AppState>, Id(id): Id| catalog::history(s, id, kind)),
        )
        .route(
            all_versions,
            get(move |State(s): State<AppState>, Id(id): Id| async move {
                versions::list(&s, kind, id).await
            }),
        )
        .route(
            one_version,
            get(
                move |State(s): State<AppState>, IdVersion(id, n): IdVersion| async move {
                    versions::get(&s, kind, id, &n).await
                },
            ),
        )
}
