//! plant-server: the Plant's HTTP API over plant-core.
//!
//! The layout follows the architecture:
//! - [`routes`]: the one routing table (every endpoint and its handler);
//! - [`handlers`]: one module per resource, each calling plant-core;
//! - [`edge`]: the few HTTP adapters kept around axum and tower-http (typed extractors,
//!   problem+json, headers and paging, CORS, the throttle, the layer stack and the accept loop);
//! - [`state`]: what every request can reach (depends on nothing in `handlers`);
//! - [`config`], [`startup`], [`logging`], [`metrics`], [`openapi`]: wiring and operations.
//!
//! No two source files import each other, directly or through others; `tests/layout.rs` reads the
//! sources and holds the crate to that, and to the state's independence from `handlers`.
//!
//! The binary parses [`config::Config`], sets up [`logging`], binds a listener and calls
//! [`serve::run`]; tests call `run` on `127.0.0.1:0` with a shutdown future of their own.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bodies;
pub mod card_signing;
pub mod config;
pub mod console;
pub mod edge;
pub mod feed_clients;
pub mod handlers;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod paths;
pub mod routes;
pub mod startup;
pub mod state;
pub mod webhooks;
pub mod wire;

// The adapters keep their top-level paths (`plant_server::extract::Query`, …).
pub use edge::{
    body, conditional, correlation, cors, extract, headers, problem, query, ratelimit, response,
    serve, service,
};

pub use config::Config;
pub use serve::{run, shutdown_signal};
pub use state::AppState;
