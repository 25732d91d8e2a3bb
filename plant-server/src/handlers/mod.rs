//! Request handlers, one module per area of the API.

pub mod agent_card;
pub mod agents;
pub mod audit;
pub mod catalog;
pub mod certify;
pub mod feed;
pub mod jobs;
pub mod ops;
pub mod precedents;
pub mod search;
pub mod transparency;
pub mod trials;
pub mod validate;
pub mod versions;
pub mod webhooks;
