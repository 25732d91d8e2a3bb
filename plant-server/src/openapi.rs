//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::OpenApi;

use crate::handlers::ops;
use crate::problem::{Problem, Violation};

/// The API description served at `/openapi.json` and snapshot-tested.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Plant",
        description = "The catalog behind the agent marketplace: industries, skills, job roles, teams, agents, \
                       certification, trials, jobs and a verifiable audit chain.",
        version = "1"
    ),
    paths(ops::health, ops::ready, ops::openapi),
    components(schemas(Problem, Violation, ops::Status)),
    tags((name = "operations", description = "liveness, readiness, this document"))
)]
pub struct ApiDoc;

/// The document as pretty JSON text with a trailing newline, as the snapshot stores it.
pub fn document_text() -> String {
    let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}
