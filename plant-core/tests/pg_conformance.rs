//! The conformance story against PostgreSQL, each scenario in a database of its own.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use std::sync::Arc;

use pg_support::TestDb;
use plant_core::store::{Store, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_conformance_story() {
    for (name, scenario) in conformance::SCENARIOS {
        let Some(db) = TestDb::new(name).await else {
            return;
        };
        let store: Arc<dyn Store> = Arc::new(db.store().await);
        eprintln!("scenario: {name}");
        scenario(store).await;
        db.drop_db().await;
    }
}
