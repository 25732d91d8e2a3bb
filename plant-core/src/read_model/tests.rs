#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use super::story::{Op, Pair, seed};
use super::*;
use crate::store::MemoryStore;

fn memory() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

#[tokio::test]
async fn a_model_started_over_a_seeded_store_answers_as_the_store() {
    let inner = memory();
    seed(inner.clone()).await;
    let pair = Pair::new(inner.clone()).await;
    assert_eq!(pair.model.seq(), inner.head().await.unwrap().seq);
    assert!(pair.model.len() > 50);
    pair.assert_same().await;
}

#[tokio::test]
async fn a_write_through_the_model_is_readable_when_it_answers() {
    let inner = memory();
    let pair = Pair::new(inner.clone()).await;
    seed(pair.model.clone()).await;
    // No settling: every write answered only after the model folded it.
    assert_eq!(pair.model.seq(), inner.head().await.unwrap().seq);
    pair.assert_same().await;
}

#[tokio::test]
async fn writes_of_another_process_are_folded_when_the_store_signals() {
    let inner = memory();
    let mut pair = Pair::new(inner.clone()).await;
    seed(inner.clone()).await;
    pair.apply(&(Op::CreateIndustry, true)).await;
    let head = inner.head().await.unwrap().seq;
    // The poll interval is a second; the store's signal wakes the model well before that.
    assert!(pair.model.wait_for(head, Duration::from_secs(5)).await);
    pair.assert_same().await;
}

#[tokio::test]
async fn the_amendment_history_grows_with_each_folded_entry() {
    let inner = memory();
    seed(inner.clone()).await;
    let mut pair = Pair::new(inner.clone()).await;
    for direct in [true, false, true] {
        pair.apply(&(
            Op::Patch {
                kind: 0,
                pick: 0,
                external: false,
            },
            direct,
        ))
        .await;
    }
    pair.settle().await;
    let first = inner
        .list(&ListQuery::of(Kind::Industry, 1))
        .await
        .unwrap()
        .remove(0);
    let folded = pair.model.get(None, first.id()).await.unwrap().unwrap();
    let history = &folded.base().unwrap().amendment_history;
    assert_eq!(history.len(), 4);
    assert_eq!(
        folded.base().unwrap().hash_chain_sha256.len(),
        history.len()
    );
    assert_eq!(folded, first);
}

#[tokio::test]
async fn waiting_for_a_seq_past_the_head_times_out() {
    let inner = memory();
    seed(inner.clone()).await;
    let model = ReadModelStore::start(inner.clone(), ReadModelOptions::default())
        .await
        .unwrap();
    let head = inner.head().await.unwrap().seq;
    assert!(model.wait_for(head, Duration::from_millis(1)).await);
    assert!(!model.wait_for(head + 1, Duration::from_millis(50)).await);
}

#[tokio::test]
async fn an_unreadable_payload_is_replaced_by_the_stored_record() {
    let inner = memory();
    seed(inner.clone()).await;
    let entries = inner.audit_entries(0, 1).await.unwrap();
    let mut broken = entries[0].clone();
    broken.payload = "{\"not\":\"a record\"}".into();
    let mut projection = Projection::default();
    assert!(projection.fold(&broken).is_err());

    let shared = Shared::default();
    fold_page(inner.as_ref(), &shared, &[broken.clone()])
        .await
        .unwrap();
    assert_eq!(*shared.seq.borrow(), broken.seq);
    let stored = inner.get(None, broken.entity_id).await.unwrap().unwrap();
    assert_eq!(
        shared
            .read()
            .get(None, broken.entity_id)
            .map(|r| Record::clone(r)),
        Some(stored)
    );
}
