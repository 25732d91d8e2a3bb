//! The read model answers every catalog read exactly as the store it projects, whatever
//! sequence of operations ran, through it or around it (in-memory store underneath).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod read_model_support;

use std::sync::Arc;

use plant_core::read_model::story;
use plant_core::store::{MemoryStore, Store};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_list_and_get_equals_the_stores_after_any_operations(
        seed_first in any::<bool>(),
        steps in read_model_support::steps(24),
    ) {
        read_model_support::block_on(async {
            let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
            story::run(inner, seed_first, &steps).await;
        });
    }
}

#[tokio::test]
async fn the_read_model_passes_the_store_conformance_story() {
    use plant_core::store::conformance;
    for (name, scenario) in conformance::SCENARIOS {
        let model = story::model_over(Arc::new(MemoryStore::new())).await;
        eprintln!("scenario: {name}");
        scenario(model).await;
    }
}
