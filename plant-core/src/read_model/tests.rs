#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
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
    // Settled before each patch, so the one through the model reads the version the direct
    // patch before it wrote, and all three apply.
    for direct in [true, false, true] {
        pair.settle().await;
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
    assert_eq!(
        history.len(),
        5,
        "the seed's two versions and three patches"
    );
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

/// A seeded memory store, and a model over it that never reads the chain again after start
/// (its follower stopped): only its own writes bring entries in.
async fn model_that_does_not_follow(write_wait: Duration) -> (Arc<dyn Store>, Arc<ReadModelStore>) {
    let inner = memory();
    seed(inner.clone()).await;
    let options = ReadModelOptions {
        write_wait,
        ..ReadModelOptions::default()
    };
    let model = Arc::new(ReadModelStore::start(inner.clone(), options).await.unwrap());
    model.follower.abort();
    (inner, model)
}

#[tokio::test]
async fn a_write_of_this_process_is_folded_without_the_follower() {
    let (inner, model) = model_that_does_not_follow(Duration::from_millis(200)).await;
    let catalog = crate::Catalog::new(model.clone(), Arc::new(crate::search::HashingEmbedder));
    let input = crate::input::IndustryInput {
        name: Some("Folded as committed".into()),
        ..Default::default()
    };
    let industry = catalog.create_industry(&input, "genesis").await.unwrap();
    assert_eq!(model.seq(), inner.head().await.unwrap().seq);
    assert_eq!(
        model.get(None, industry.id()).await.unwrap(),
        inner.get(None, industry.id()).await.unwrap()
    );
}

#[tokio::test]
async fn entries_of_this_process_past_a_gap_are_held_ahead_until_the_gap_is_read() {
    let inner = memory();
    seed(inner.clone()).await;
    let entries = inner.audit_entries(0, 3).await.unwrap();
    let shared = Shared::default();
    // Two of this process's entries after a gap (another process's entry): each creates its
    // record, so both are folded ahead while the model's seq stays before the gap.
    assert!(shared.fold_own([&entries[2], &entries[1]]));
    assert_eq!(*shared.seq.borrow(), 0);
    for entry in &entries[1..] {
        assert!(shared.read().get(None, entry.entity_id).is_some());
    }
    assert!(shared.read().get(None, entries[0].entity_id).is_none());
    let ahead = shared.ahead.load(Ordering::SeqCst);
    assert_ne!(ahead, 0);
    // The digest names the entries, not the process: another holding the same agrees.
    let other = Shared::default();
    other.fold_own([&entries[1], &entries[2]]);
    assert_eq!(other.ahead.load(Ordering::SeqCst), ahead);
    other.fold_own([&entries[1]]);
    assert_eq!(other.ahead.load(Ordering::SeqCst), ahead);
    // The follower folds the gap; the model's seq passes the entries held ahead.
    fold_page(inner.as_ref(), &shared, &entries[..1])
        .await
        .unwrap();
    assert_eq!(*shared.seq.borrow(), entries[2].seq);
    for entry in &entries {
        assert_eq!(
            shared
                .read()
                .get(None, entry.entity_id)
                .map(|r| r.version()),
            Some(entry.entity_version)
        );
    }
    assert!(shared.pending.lock().unwrap().is_empty());
    assert_eq!(shared.ahead.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_entry_of_this_process_waits_for_an_earlier_version_of_its_record() {
    let inner = memory();
    seed(inner.clone()).await;
    let entries = inner.audit_entries(0, 10_000).await.unwrap();
    // A record's second version (the seed certifies what it creates), and its first.
    let second = entries.iter().find(|e| e.entity_version == 2).unwrap();
    let first = entries
        .iter()
        .position(|e| e.entity_id == second.entity_id && e.entity_version == 1)
        .unwrap();
    let at = entries.iter().position(|e| e.seq == second.seq).unwrap();
    let shared = Shared::default();
    fold_page(inner.as_ref(), &shared, &entries[..first])
        .await
        .unwrap();
    // Its first version is another process's entry, not read yet: the second is kept, not
    // folded ahead, and the write would wait for the follower.
    assert!(!shared.fold_own([second]));
    assert!(shared.read().get(None, second.entity_id).is_none());
    assert_eq!(shared.ahead.load(Ordering::SeqCst), 0);
    fold_page(inner.as_ref(), &shared, &entries[first..at])
        .await
        .unwrap();
    assert_eq!(*shared.seq.borrow(), second.seq);
    assert_eq!(
        shared
            .read()
            .get(None, second.entity_id)
            .map(|r| r.version()),
        Some(2)
    );
}

#[tokio::test]
async fn a_write_past_another_process_entry_answers_without_reading_it() {
    // What another process commits stays unread here.
    let (inner, here) = model_that_does_not_follow(Duration::from_secs(60)).await;
    let there = crate::Catalog::new(inner.clone(), Arc::new(crate::search::HashingEmbedder));
    let theirs = there
        .create_industry(
            &crate::input::IndustryInput {
                name: Some("Written elsewhere".into()),
                ..Default::default()
            },
            "genesis",
        )
        .await
        .unwrap();
    let catalog = crate::Catalog::new(here.clone(), Arc::new(crate::search::HashingEmbedder));
    let input = crate::input::IndustryInput {
        name: Some("Written here".into()),
        ..Default::default()
    };
    // Waiting for the unread entry would take the whole write_wait.
    let ours = tokio::time::timeout(
        Duration::from_secs(20),
        catalog.create_industry(&input, "genesis"),
    )
    .await
    .expect("the write waited for an entry of another process")
    .unwrap();
    assert_eq!(
        here.get(None, ours.id()).await.unwrap(),
        inner.get(None, ours.id()).await.unwrap()
    );
    assert!(here.get(None, theirs.id()).await.unwrap().is_none());
    let head = inner.head().await.unwrap().seq;
    assert_eq!(here.seq(), head - 2);
    assert_ne!(Store::ahead(here.as_ref()).digest, 0);
    assert_eq!(here.committed_seq(), head);
}

#[tokio::test]
async fn an_entry_of_this_process_that_does_not_fold_is_left_to_the_follower() {
    let inner = memory();
    seed(inner.clone()).await;
    let entries = inner.audit_entries(0, 2).await.unwrap();
    let mut broken = entries[0].clone();
    broken.payload = "{\"not\":\"a record\"}".into();
    let shared = Shared::default();
    shared.fold_own([&broken, &entries[1]]);
    assert_eq!(*shared.seq.borrow(), 0);
    // The follower reads the chain and the broken entry's record from the store.
    fold_page(inner.as_ref(), &shared, &[broken.clone()])
        .await
        .unwrap();
    assert_eq!(*shared.seq.borrow(), entries[1].seq);
    let stored = inner.get(None, broken.entity_id).await.unwrap();
    let folded = shared
        .read()
        .get(None, broken.entity_id)
        .map(|r| Record::clone(r));
    assert_eq!(folded, stored);
}
