//! The routing table: every endpoint and its handler.

use axum::extract::State;
use http::{HeaderMap, Method};
use plant_core::model::Kind;

use crate::card_signing::JWKS_PATH;
use crate::extract::{Authorized, Genesis, Id};
use crate::handlers::catalog::DryRun;
use crate::handlers::{
    agent_card, agents, audit, catalog, certify, feed, jobs, ops, precedents, search, transparency,
    trials, validate, versions,
};
use crate::openapi;
pub use crate::paths::{CATALOG_KINDS, kind_paths, version_paths};
use crate::router::{RouteError, Router, RouterBuilder};
use crate::state::AppState;

/// All routes of the API.
pub fn router() -> Result<Router, RouteError> {
    builder().build()
}

/// The routes, before the matcher is built (tests add their own).
pub fn builder() -> RouterBuilder {
    let mut b = crate::console::routes(Router::builder())
        .handler(Method::GET, "/health", ops::health)
        .handler(Method::GET, "/api/v1/health", ops::health)
        .handler(Method::GET, "/ready", ops::ready)
        .handler(Method::GET, "/api/v1/ready", ops::ready)
        .route(Method::GET, "/openapi.json", openapi::openapi)
        .route(Method::GET, "/api/v1/openapi.json", openapi::openapi)
        .route(Method::GET, JWKS_PATH, agent_card::jwks);
    for &kind in CATALOG_KINDS {
        let (items, item, history) = kind_paths(kind);
        b = b
            .route(Method::POST, items, move |ctx| catalog::create(ctx, kind))
            .route(Method::GET, items, move |ctx| catalog::list(ctx, kind))
            .handler(
                Method::GET,
                item,
                move |State(s): State<AppState>, Id(id): Id| catalog::get(s, id, kind),
            )
            .route(Method::PATCH, item, move |ctx| catalog::patch(ctx, kind))
            .handler(
                Method::DELETE,
                item,
                move |State(s): State<AppState>,
                      Authorized(who, _): Authorized<Genesis>,
                      Id(id): Id,
                      DryRun(dry): DryRun,
                      headers: HeaderMap| async move {
                    catalog::archive(s, who, id, &headers, kind, dry).await
                },
            )
            .handler(
                Method::GET,
                history,
                move |State(s): State<AppState>, Id(id): Id| catalog::history(s, id, kind),
            );
        let (all, one) = version_paths(kind);
        b = b
            .route(Method::GET, all, move |ctx| versions::list(ctx, kind))
            .route(Method::GET, one, move |ctx| versions::get(ctx, kind));
    }
    b.route(Method::POST, "/api/v1/genesis/skills/{id}/certify", |ctx| {
        certify::by_path(ctx, Kind::Skill)
    })
    .route(
        Method::POST,
        "/api/v1/genesis/job-roles/{id}/certify",
        |ctx| certify::by_path(ctx, Kind::JobRole),
    )
    .route(Method::POST, "/api/v1/genesis/certify", certify::by_body)
    .route(Method::POST, "/api/v1/validate", validate::validate)
    .route(
        Method::POST,
        "/api/v1/genesis/certify/batch",
        certify::batch,
    )
    .route(Method::GET, "/api/v1/agents/me", agents::me)
    .route(
        Method::GET,
        "/api/v1/agents/{id}/agent-card",
        agent_card::agent_card,
    )
    .route(
        Method::POST,
        "/api/v1/agents/{id}/assign-team",
        agents::assign_team,
    )
    .route(Method::POST, "/api/v1/trials", trials::book)
    .route(Method::GET, "/api/v1/trials", trials::list)
    .handler(Method::GET, "/api/v1/trials/{id}", trials::get)
    .handler(Method::PATCH, "/api/v1/trials/{id}", trials::patch)
    .handler(Method::DELETE, "/api/v1/trials/{id}", trials::cancel)
    .handler(
        Method::GET,
        "/api/v1/trials/{id}/deliverables",
        trials::deliverables,
    )
    .route(Method::POST, "/api/v1/jobs", jobs::create)
    .route(Method::GET, "/api/v1/jobs", jobs::list)
    .route(Method::GET, "/api/v1/jobs/{id}", jobs::get)
    .route(Method::PATCH, "/api/v1/jobs/{id}", jobs::patch)
    .route(Method::GET, "/api/v1/jobs/{id}/versions", jobs::versions)
    .route(Method::GET, "/api/v1/jobs/{id}/versions/{n}", jobs::version)
    .route(
        Method::GET,
        "/api/v1/trials/{id}/versions",
        trials::versions,
    )
    .route(
        Method::GET,
        "/api/v1/trials/{id}/versions/{n}",
        trials::version,
    )
    .route(Method::POST, "/api/v1/audit/run", audit::run)
    .route(
        Method::GET,
        "/api/v1/audit/tampering/{id}",
        audit::tampering,
    )
    .route(Method::GET, "/api/v1/audit/export", audit::export)
    .route(Method::GET, "/api/v1/audit/verify", audit::verify)
    .route(
        Method::GET,
        "/api/v1/audit/checkpoint",
        transparency::checkpoint,
    )
    .route(
        Method::GET,
        "/api/v1/audit/proof/inclusion",
        transparency::inclusion,
    )
    .route(
        Method::GET,
        "/api/v1/audit/proof/consistency",
        transparency::consistency,
    )
    .route(Method::GET, "/api/v1/audit/feed", feed::feed)
    .route(Method::GET, "/api/v1/search", search::search)
    .route(Method::POST, "/api/v1/precedents", precedents::create)
    .route(Method::GET, "/api/v1/precedents", precedents::list)
    .route(Method::POST, "/api/v1/precedents/query", precedents::query)
    .route(Method::GET, "/api/v1/precedents/{seed_id}", precedents::get)
    .route(
        Method::GET,
        "/api/v1/precedents/{seed_id}/versions",
        precedents::versions,
    )
    .route(
        Method::GET,
        "/api/v1/precedents/{seed_id}/versions/{n}",
        precedents::version,
    )
    .route(
        Method::POST,
        "/api/v1/precedents/{seed_id}/supersede",
        precedents::supersede,
    )
    .route(
        Method::POST,
        "/api/v1/precedents/{seed_id}/approve",
        precedents::approve,
    )
}
