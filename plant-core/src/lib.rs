//! plant-core: the catalog behind the Plant.
#![forbid(unsafe_code)]

pub mod audit;
pub mod search;
pub mod time;

pub use time::Timestamp;
