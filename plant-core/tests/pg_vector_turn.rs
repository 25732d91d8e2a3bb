//! The vector turn on PostgreSQL ([`Store::vector_turn`]): one store at a time holds it across
//! every process on the database, a waiter gets it when the holder ends its turn, and a turn
//! dropped without being ended is handed on all the same (its connection closes, and with it
//! the session's lock), so a pooled connection never keeps it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use std::sync::Arc;
use std::time::Duration;

use pg_support::TestDb;
use plant_core::store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_at_a_time_holds_the_vector_turn_and_a_dropped_turn_is_handed_on() {
    let Some(db) = TestDb::new("vector_turn").await else {
        return;
    };
    // Two stores with pools of their own: two processes on one database.
    let a = Arc::new(db.store().await);
    let b = Arc::new(db.store().await);

    let held = a.vector_turn().await.unwrap();
    assert!(held.is_held());
    let waiting = tokio::spawn({
        let b = b.clone();
        async move { b.vector_turn().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "b took the turn while a held it");

    held.end().await;
    let handed_on = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("b gets the turn once a ends it")
        .unwrap();
    assert!(handed_on.is_held());

    // A turn dropped without `end`: the next taker still gets it.
    drop(handed_on);
    let again = tokio::time::timeout(Duration::from_secs(10), a.vector_turn())
        .await
        .expect("a dropped turn is handed on")
        .unwrap();
    assert!(again.is_held());
    again.end().await;

    // An ended turn's connection went back to the pool without the lock: every connection of
    // b's pool can be taken, and the turn is free for b at once.
    let quick = tokio::time::timeout(Duration::from_secs(2), b.vector_turn())
        .await
        .expect("the turn is free after end")
        .unwrap();
    quick.end().await;
}
