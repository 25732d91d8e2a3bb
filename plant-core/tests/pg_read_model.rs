//! The read model over PostgreSQL: the conformance story through it, random operation
//! sequences compared with the store, and two models on one database (two processes) seeing
//! each other's writes.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;
mod read_model_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pg_support::TestDb;
use plant_core::read_model::story::{self, Op, Pair};
use plant_core::read_model::{ReadModelOptions, ReadModelStore};
use plant_core::store::{Store, conformance};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_model_over_postgres_passes_the_conformance_story() {
    for (name, scenario) in conformance::SCENARIOS {
        let Some(db) = TestDb::new(&format!("rm_{name}")).await else {
            return;
        };
        let model = story::model_over(Arc::new(db.store().await)).await;
        eprintln!("scenario: {name}");
        scenario(model).await;
        db.drop_db().await;
    }
}

#[test]
fn random_operations_leave_the_model_equal_to_postgres() {
    let mut runner = TestRunner::new(Config {
        cases: 4,
        ..Config::default()
    });
    runner
        .run(
            &(any::<bool>(), read_model_support::steps(16)),
            |(seed_first, steps)| {
                read_model_support::block_on(async {
                    let Some(db) = TestDb::new("rm_props").await else {
                        return;
                    };
                    let inner: Arc<dyn Store> = Arc::new(db.store().await);
                    story::run(inner, seed_first, &steps).await;
                    db.drop_db().await;
                });
                Ok(())
            },
        )
        .unwrap();
}

/// Two stores on one database stand for two processes: a write through one model is folded by
/// the other on the notification, well before its poll interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_model_reaches_another_on_the_notification() {
    let Some(db) = TestDb::new("rm_two").await else {
        return;
    };
    let slow_poll = ReadModelOptions {
        poll_interval: Duration::from_secs(60),
        ..ReadModelOptions::default()
    };
    let a_store: Arc<dyn Store> = Arc::new(db.store().await);
    story::seed(a_store.clone()).await;
    let mut a = Pair::new(a_store).await;
    let b = ReadModelStore::start(Arc::new(db.store().await), slow_poll)
        .await
        .unwrap();
    let mut lags = Vec::new();
    for _ in 0..10 {
        a.apply(&(Op::CreateIndustry, false)).await;
        let seq = a.model.seq();
        let written = Instant::now();
        // Not `wait_for`, which would make B read at once: only the notification wakes it.
        let mut seen = b.subscribe();
        tokio::time::timeout(Duration::from_secs(10), seen.wait_for(|s| *s >= seq))
            .await
            .expect("the other model folds the write on the notification")
            .unwrap();
        lags.push(written.elapsed());
        // Never older than the token: what B answers includes the write.
        let newest = a.model.get(None, a_newest(&a).await).await.unwrap();
        assert_eq!(
            b.get(None, newest.as_ref().unwrap().id()).await.unwrap(),
            newest
        );
    }
    lags.sort();
    eprintln!(
        "cross-model lag: p50 {:?}, max {:?}",
        lags[lags.len() / 2],
        lags[lags.len() - 1]
    );
    db.drop_db().await;
}

async fn a_newest(pair: &Pair) -> uuid::Uuid {
    let entries = pair
        .model
        .audit_entries(pair.model.seq() - 1, 1)
        .await
        .unwrap();
    entries[0].entity_id
}
