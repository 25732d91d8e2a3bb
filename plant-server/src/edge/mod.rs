//! The HTTP edge: the adapters between axum/tower-http and the handlers.
//!
//! [`service`] stacks the tower-http layers around the router, [`serve`] accepts connections,
//! [`extract`] holds the typed extractors handlers take, [`problem`] renders every error as
//! RFC 9457 problem+json.

pub mod body;
pub mod conditional;
pub mod correlation;
pub mod cors;
pub mod extract;
pub mod headers;
pub mod problem;
pub mod query;
pub mod ratelimit;
pub mod response;
pub mod serve;
pub mod service;
