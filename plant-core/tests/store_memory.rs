//! The conformance story against the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use plant_core::store::{MemoryStore, Store, conformance};

#[tokio::test]
async fn memory_store_passes_the_conformance_story() {
    for (name, scenario) in conformance::SCENARIOS {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        eprintln!("scenario: {name}");
        scenario(store).await;
    }
}
