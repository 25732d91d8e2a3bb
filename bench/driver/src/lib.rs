//! Ceilings and reporting for plant's benchmarks (`bench/run.sh`).
//!
//! The server is measured with wrk; this crate measures what the server cannot beat on the same
//! machine in the same run, and turns the recorded numbers into a table and a chart:
//!
//! - [`serve`]: a bare hyper handler that answers with bytes captured from the real server (the
//!   HTTP ceiling: no routing, auth, store or serialisation);
//! - [`store_ops`] and [`load`]: the reads and the audited writes as plant-core runs them over
//!   PostgreSQL, in a bounded loop without HTTP (the database ceiling);
//! - [`startup`]: time from spawning a process to its first `200`;
//! - [`wrk`]: reading wrk's output;
//! - [`report`]: medians, ratios, the markdown table and the SVG chart.
#![forbid(unsafe_code)]

pub mod cli;
pub mod load;
pub mod report;
pub mod serve;
pub mod startup;
pub mod stats;
pub mod store_ops;
pub mod svg;
pub mod wrk;
