//! plant-server: the Plant's HTTP API over plant-core.
//!
//! The binary parses [`config::Config`], sets up [`logging`], binds a listener and calls
//! [`serve::run`]; tests call `run` on `127.0.0.1:0` with a shutdown future of their own.
#![forbid(unsafe_code)]

pub mod auth;
pub mod body;
pub mod config;
pub mod context;
pub mod correlation;
pub mod cors;
pub mod handlers;
pub mod headers;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod query;
pub mod ratelimit;
pub mod response;
pub mod router;
pub mod routes;
pub mod serve;
pub mod service;
pub mod startup;
pub mod state;
pub mod wire;

pub use config::Config;
pub use serve::{run, shutdown_signal};
pub use state::AppState;
