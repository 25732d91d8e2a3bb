//! The tamper-evident audit chain.
