//! The console's stylesheet and its one script, compiled into the binary (no build step, no
//! files to deploy beside it).

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::page::Page;

/// The stylesheet: a readable layout from phone width up, visible focus, badges that say their
/// meaning in words (colour only repeats it).
pub const CSS: &str = include_str!("../../static/console/console.css");
/// The script: the audit page's live feed (`EventSource`). Everything else works without it.
pub const JS: &str = include_str!("../../static/console/console.js");

/// `GET /console/static/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "console.css" => Page::asset("text/css; charset=utf-8", CSS),
        "console.js" => Page::asset("text/javascript; charset=utf-8", JS),
        _ => Page::error(StatusCode::NOT_FOUND, "no such file"),
    }
    .into_response()
}
