//! plant-core: the catalog behind the Plant — the entity model, constitutional validation, the
//! tamper-evident audit chain, the stores and search. No HTTP, no command line, no environment
//! variables: services link it and pass configuration in.
#![forbid(unsafe_code)]

pub mod audit;
pub mod catalog;
pub mod error;
pub mod feed;
pub mod input;
pub mod json;
pub mod model;
pub mod read_model;
pub mod search;
pub mod seed;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod validate;
pub mod webhooks;

pub use catalog::Catalog;
pub use error::{Error, Result};
pub use time::Timestamp;
