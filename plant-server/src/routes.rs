//! The routing table: every endpoint and its handler.

use http::Method;

use crate::handlers::ops;
use crate::router::{RouteError, Router, RouterBuilder};

/// All routes of the API.
pub fn router() -> Result<Router, RouteError> {
    builder().build()
}

/// The routes, before the matcher is built (tests add their own).
pub fn builder() -> RouterBuilder {
    Router::builder()
        .route(Method::GET, "/health", ops::health)
        .route(Method::GET, "/ready", ops::ready)
        .route(Method::GET, "/openapi.json", ops::openapi)
}
