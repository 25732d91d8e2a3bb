//! The transparency log on PostgreSQL: the tree built from the leaf hashes the store reads
//! equals the one built from the full entries, and checkpoints are stored once and are
//! append-only in the database itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use std::sync::Arc;

use pg_support::TestDb;
use plant_core::audit::{MerkleTree, NoteSigner, SigType, TransparencyLog, latest_checkpoint_text};
use plant_core::search::HashingEmbedder;
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::Store;
use plant_core::{Catalog, Timestamp};

#[tokio::test]
async fn tree_checkpoints_are_stored_once_append_only_and_match_the_chain() {
    let Some(db) = TestDb::new("tlog").await else {
        return;
    };
    let store = Arc::new(db.store().await);
    let catalog = Catalog::new(store.clone(), Arc::new(HashingEmbedder));
    seed::load(&catalog, &SeedCatalog::builtin().unwrap(), &mut |_| {})
        .await
        .unwrap();
    let head = store.head().await.unwrap();

    let hashes = store.audit_hashes(0, u64::MAX).await.unwrap();
    let entries = store.audit_entries(0, u64::MAX).await.unwrap();
    assert_eq!(hashes.len() as u64, head.seq);
    for ((seq, hash), entry) in hashes.iter().zip(&entries) {
        assert_eq!((*seq, *hash), (entry.seq, entry.hash));
    }
    assert_eq!(store.audit_hashes(head.seq - 2, 10).await.unwrap().len(), 2);

    let log = NoteSigner::new("plant.example.com/audit", SigType::Ed25519, &[51; 32]).unwrap();
    assert_eq!(latest_checkpoint_text(store.as_ref()).await.unwrap(), None);
    let tree = TransparencyLog::new();
    let first = tree
        .checkpoint(store.as_ref(), &log, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(
        first.root,
        MerkleTree::from_leaf_data(entries.iter().map(|e| &e.hash.0[..])).root()
    );
    // The same head signed again is the same note (ed25519 is deterministic): stored once.
    let again = tree
        .checkpoint(store.as_ref(), &log, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(again.note, first.note);
    let stored = store.tree_checkpoints().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].tree_size, head.seq);
    assert_eq!(stored[0].root, first.root);
    assert_eq!(
        latest_checkpoint_text(store.as_ref()).await.unwrap(),
        Some(first.note.clone())
    );

    // Another process's tree, filled from the leaf hashes on demand, agrees at every size.
    let other = TransparencyLog::new();
    for size in [1, head.seq / 3, head.seq] {
        assert_eq!(
            other.root_at(store.as_ref(), size).await.unwrap(),
            MerkleTree::from_leaf_data(entries[..size as usize].iter().map(|e| &e.hash.0[..]))
                .root()
        );
    }

    let mut conn = db.superuser().await;
    for sql in [
        "update audit_tree_checkpoint set tree_size = tree_size + 1",
        "delete from audit_tree_checkpoint",
        "truncate audit_tree_checkpoint",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    drop(conn);
    db.drop_db().await;
}
