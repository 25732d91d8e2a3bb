//! The routing table and the OpenAPI document, from one list: each documented handler is
//! registered with utoipa-axum's `routes!`, which routes it at the path its `#[utoipa::path]`
//! names and adds that operation to the document. The five catalog kinds share closures over
//! their kind, documented by [`crate::openapi::CatalogPaths`].

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use plant_core::model::Kind;
use serde_json::{Map, Value};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::console::Console;
use crate::extract::{Authorized, DryRun, Genesis, Id, IdVersion, Json, Query};
use crate::handlers::{
    agent_card, agents, audit, catalog, certify, feed, jobs, ops, precedents, search, transparency,
    trials, validate, versions, webhooks,
};
use crate::openapi::ApiDoc;
pub use crate::paths::{CATALOG_KINDS, kind_paths, version_paths};
use crate::query::Paging;
use crate::response::{Response, full};
use crate::state::AppState;

/// Genesis, who alone writes the catalog.
type Curator = Authorized<Genesis>;

/// All routes: the API's and the console's, the console signing in by token only. Unknown
/// paths, other methods, `OPTIONS` and the route label of each response are the edge's
/// ([`crate::service`]).
pub fn router() -> Router<AppState> {
    router_with(Arc::new(Console::token_only()))
}

/// All routes, the console's over `console` (built, and its configuration checked, once at
/// start-up).
pub fn router_with(console: Arc<Console>) -> Router<AppState> {
    crate::console::routes_with(api_router(), console)
}

/// The API's routes alone, without the console's pages.
pub fn api_router() -> Router<AppState> {
    api().split_for_parts().0
}

/// The OpenAPI document of [`router`], as pretty JSON text with a trailing newline (as the
/// snapshot stores it); made once.
pub fn document_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = api().into_openapi().to_pretty_json().unwrap_or_default();
        text.push('\n');
        text
    })
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi() -> Response {
    let mut response = Response::new(full(document_text().into()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *response.status_mut() = StatusCode::OK;
    response
}

/// The routes and their document.
fn api() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::health))
        .route("/api/v1/health", get(ops::health))
        .routes(routes!(ops::ready))
        .route("/api/v1/ready", get(ops::ready))
        .routes(routes!(openapi))
        .route("/api/v1/openapi.json", get(openapi))
        .routes(routes!(agent_card::jwks));
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
        .routes(routes!(certify::by_body))
        .routes(routes!(certify::batch))
        .routes(routes!(validate::validate))
        .routes(routes!(agents::me))
        .routes(routes!(agent_card::agent_card))
        .routes(routes!(agents::assign_team))
        .routes(routes!(trials::book, trials::list))
        .routes(routes!(trials::get, trials::patch, trials::cancel))
        .routes(routes!(trials::deliverables))
        .routes(routes!(trials::versions))
        .routes(routes!(trials::version))
        .routes(routes!(jobs::create, jobs::list))
        .routes(routes!(jobs::get, jobs::patch))
        .routes(routes!(jobs::versions))
        .routes(routes!(jobs::version))
        .routes(routes!(audit::run))
        .routes(routes!(audit::tampering))
        .routes(routes!(audit::export))
        .routes(routes!(audit::verify))
        .routes(routes!(transparency::checkpoint))
        .routes(routes!(transparency::inclusion))
        .routes(routes!(transparency::consistency))
        .routes(routes!(feed::feed))
        .routes(routes!(search::search))
        .routes(routes!(precedents::create, precedents::list))
        .routes(routes!(precedents::query))
        .routes(routes!(precedents::get))
        .routes(routes!(precedents::versions))
        .routes(routes!(precedents::version))
        .routes(routes!(precedents::supersede))
        .routes(routes!(precedents::approve))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::patch, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::resume))
        .routes(routes!(webhooks::replay))
        .routes(routes!(webhooks::deliveries))
}

/// The routes one catalog kind shares with the others: its collection, items, history and
/// versions.
fn catalog_kind(router: OpenApiRouter<AppState>, kind: Kind) -> OpenApiRouter<AppState> {
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
            .get(
                move |State(s): State<AppState>,
                      paging: Paging,
                      Query(params): Query<catalog::ListParams>,
                      uri: Uri,
                      headers: HeaderMap| {
                    catalog::list(s, kind, paging, params, uri, headers)
                },
            ),
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
            get(
                move |State(s): State<AppState>, Id(id): Id, uri: Uri, headers: HeaderMap| {
                    catalog::history(s, id, kind, uri, headers)
                },
            ),
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
