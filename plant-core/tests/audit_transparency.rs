//! The transparency log over a real chain (the seed catalog in the memory store): proofs as an
//! HTTP handler gets them, checked with nothing but a signed checkpoint and the log's key; the
//! export verified offline, and every kind of tampering with it caught.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use plant_core::audit::offline::{EntryProofError, verify_entry, verify_export};
use plant_core::audit::{
    BreakReason, CosignedError, NoteSigner, ProofError, SigType, TransparencyLog,
    latest_checkpoint_text,
};
use plant_core::catalog::CatalogExport;
use plant_core::search::HashingEmbedder;
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::MemoryStore;
use plant_core::{Catalog, Timestamp};

const ORIGIN: &str = "plant.example/audit";

async fn seeded() -> Catalog {
    let catalog = Catalog::new(Arc::new(MemoryStore::new()), Arc::new(HashingEmbedder));
    seed::load(&catalog, &SeedCatalog::builtin().unwrap(), &mut |_| {})
        .await
        .unwrap();
    catalog
}

fn log_key() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigType::Ed25519, &[21; 32]).unwrap()
}

#[tokio::test]
async fn every_entry_is_proved_against_the_signed_checkpoint() {
    let catalog = seeded().await;
    let store = catalog.store().as_ref();
    let log = TransparencyLog::new();
    assert_eq!(latest_checkpoint_text(store).await.unwrap(), None);
    let cp = log
        .checkpoint(store, &log_key(), Timestamp::now())
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    assert_eq!(cp.tree_size, head.seq);
    assert_eq!(
        latest_checkpoint_text(store).await.unwrap(),
        Some(cp.note.clone())
    );

    let entries = store.audit_entries(0, u64::MAX).await.unwrap();
    for entry in &entries {
        let proof = log
            .inclusion_proof(store, entry.seq, cp.tree_size)
            .await
            .unwrap();
        assert_eq!(proof.root_hash, cp.root);
        let verified = verify_entry(entry, &proof, &cp.note, &log_key().verifier()).unwrap();
        assert_eq!(verified.size, cp.tree_size);
        // The proof travels as JSON with hex hashes.
        let json = serde_json::to_value(&proof).unwrap();
        assert_eq!(
            json["audit_path"].as_array().unwrap().len(),
            proof.audit_path.len()
        );
    }

    // A changed entry is not in the signed tree; a proof for another size does not fit.
    let mut changed = entries[4].clone();
    changed.payload.push(' ');
    changed.hash = changed.compute_hash();
    let proof = log.inclusion_proof(store, 5, cp.tree_size).await.unwrap();
    assert_eq!(
        verify_entry(&changed, &proof, &cp.note, &log_key().verifier()),
        Err(EntryProofError::NotIncluded { seq: 5 })
    );
    let smaller = log
        .inclusion_proof(store, 5, cp.tree_size - 1)
        .await
        .unwrap();
    assert!(matches!(
        verify_entry(&entries[4], &smaller, &cp.note, &log_key().verifier()),
        Err(EntryProofError::SizeMismatch { .. })
    ));
    let stranger = NoteSigner::new(ORIGIN, SigType::Ed25519, &[22; 32]).unwrap();
    assert!(matches!(
        verify_entry(&entries[4], &proof, &cp.note, &stranger.verifier()),
        Err(EntryProofError::Checkpoint(_))
    ));
}

#[tokio::test]
async fn consistency_proofs_link_every_earlier_size_and_bad_requests_are_named() {
    let catalog = seeded().await;
    let store = catalog.store().as_ref();
    let log = TransparencyLog::new();
    let size = log.sync(store).await.unwrap();
    let to_root = log.root_at(store, size).await.unwrap();
    for from in (0..=size).step_by(7) {
        let proof = log.consistency_proof(store, from, size).await.unwrap();
        let from_root = log.root_at(store, from).await.unwrap();
        assert_eq!((proof.from_root, proof.to_root), (from_root, to_root));
        assert!(proof.verifies(&from_root, &to_root), "{from}->{size}");
    }
    assert!(matches!(
        log.inclusion_proof(store, 0, size).await,
        Err(ProofError::BadRequest(_))
    ));
    assert!(matches!(
        log.inclusion_proof(store, size, size - 1).await,
        Err(ProofError::BadRequest(_))
    ));
    assert!(matches!(
        log.consistency_proof(store, 5, 4).await,
        Err(ProofError::BadRequest(_))
    ));
    assert!(matches!(
        log.inclusion_proof(store, 1, size + 1).await,
        Err(ProofError::BeyondLog { log_size, .. }) if log_size == size
    ));
}

#[tokio::test]
async fn the_tree_follows_the_chain_as_it_grows() {
    let catalog = seeded().await;
    let store = catalog.store().as_ref();
    let log = TransparencyLog::new();
    let first = log
        .checkpoint(store, &log_key(), Timestamp::now())
        .await
        .unwrap();
    let entries = store.audit_entries(0, 10).await.unwrap();
    // A second tree built from a shorter view catches up on demand.
    let later = TransparencyLog::new();
    assert_eq!(
        later.root_at(store, 10).await.unwrap(),
        plant_core::audit::MerkleTree::from_leaf_data(entries.iter().map(|e| &e.hash.0[..])).root()
    );
    assert_eq!(
        later.root_at(store, first.tree_size).await.unwrap(),
        first.root
    );
}

async fn export_and_checkpoints() -> (CatalogExport, String, String) {
    let catalog = seeded().await;
    let store = catalog.store().as_ref();
    let log = TransparencyLog::new();
    let head = store.head().await.unwrap();
    let older = log.root_at(store, head.seq / 2).await.unwrap();
    let older = plant_core::audit::TreeHead {
        origin: ORIGIN.into(),
        size: head.seq / 2,
        root: older,
    }
    .sign(&log_key());
    let newer = log
        .checkpoint(store, &log_key(), Timestamp::now())
        .await
        .unwrap();
    let export = catalog.export().await.unwrap();
    assert_eq!(export.checkpoint.as_deref(), Some(newer.note.as_str()));
    (export, newer.note, older)
}

#[tokio::test]
async fn an_export_verifies_offline_and_each_kind_of_tampering_is_named() {
    let (export, newer, older) = export_and_checkpoints().await;
    let keys = [log_key().verifier()];
    let report = verify_export(&export, &newer, Some(&older), &keys);
    assert!(report.ok, "{:?}", report.first_break);
    assert_eq!(report.entries_checked, export.entries.len() as u64);
    assert!(report.records_checked >= export.entities.len() as u64);
    assert_eq!(report.checkpoints.len(), 2);

    // A changed payload: the link breaks at that seq.
    let mut t = export.clone();
    t.entries[6].payload.push(' ');
    let brk = verify_export(&t, &newer, None, &keys).first_break.unwrap();
    assert_eq!((brk.seq, brk.reason), (7, BreakReason::HashMismatch));

    // A consistently rewritten chain (every hash recomputed from seq 7 on): links hold, the
    // signed root does not.
    let mut t = export.clone();
    t.entries[6].actor = "someone-else".into();
    let mut prev = t.entries[5].hash;
    for e in &mut t.entries[6..] {
        e.prev_hash = prev;
        e.hash = e.compute_hash();
        prev = e.hash;
    }
    let brk = verify_export(&t, &newer, None, &keys).first_break.unwrap();
    assert!(
        matches!(
            brk.reason,
            BreakReason::CheckpointMismatch { .. } | BreakReason::RowMismatch { .. }
        ),
        "{brk}"
    );

    // A cut tail: the signed size is beyond the export.
    let mut t = export.clone();
    t.entries.truncate(t.entries.len() - 3);
    let report = verify_export(&t, &newer, None, &keys);
    assert!(report.first_break.iter().any(|b| matches!(
        b.reason,
        BreakReason::Truncated { .. } | BreakReason::RowMismatch { .. }
    )));

    // A record version edited in the document.
    let mut t = export.clone();
    let entity = t
        .entities
        .iter_mut()
        .find(|e| !e.versions.is_empty())
        .unwrap();
    entity.versions[0]["entity"]["name"] = "Renamed".into();
    let brk = verify_export(&t, &newer, None, &keys).first_break.unwrap();
    assert!(
        matches!(brk.reason, BreakReason::RowMismatch { .. }),
        "{brk}"
    );

    // Another key, or a checkpoint with a changed byte.
    let other = [NoteSigner::new(ORIGIN, SigType::Ed25519, &[23; 32])
        .unwrap()
        .verifier()];
    let brk = verify_export(&export, &newer, None, &other)
        .first_break
        .unwrap();
    assert!(
        matches!(brk.reason, BreakReason::UntrustedKey { .. }),
        "{brk}"
    );
    let forged = newer.replacen(
        &format!("\n{}\n", export.head.seq),
        &format!("\n{}\n", export.head.seq - 1),
        1,
    );
    let brk = verify_export(&export, &forged, None, &keys)
        .first_break
        .unwrap();
    assert!(
        matches!(brk.reason, BreakReason::BadSignature { .. }),
        "{brk}"
    );
}

#[tokio::test]
async fn stored_checkpoints_fold_into_the_verify_report() {
    let catalog = seeded().await;
    let store = catalog.store().as_ref();
    let log = TransparencyLog::new();
    let cp = log
        .checkpoint(store, &log_key(), Timestamp::now())
        .await
        .unwrap();
    let keys = [log_key().verifier()];
    let mut report = store.verify(&[]).await.unwrap();
    let before = report.checkpoints_checked;
    log.fold_checkpoints(store, None, &keys, &mut report)
        .await
        .unwrap();
    assert!(report.ok);
    assert_eq!(report.checkpoints_checked, before + 1);

    // A checkpoint of another history at a size the chain holds: a mismatch at that size.
    let forged = plant_core::audit::TreeHead {
        origin: ORIGIN.into(),
        size: cp.tree_size - 1,
        root: cp.root,
    }
    .sign(&log_key());
    log.fold_checkpoints(store, Some(&[forged]), &keys, &mut report)
        .await
        .unwrap();
    let brk = report.first_break.clone().unwrap();
    assert!(!report.ok);
    assert_eq!(
        (brk.seq, brk.reason),
        (
            cp.tree_size - 1,
            BreakReason::CheckpointMismatch {
                checkpoint_seq: cp.tree_size - 1
            }
        )
    );
}

#[tokio::test]
async fn a_cosigned_checkpoint_is_stored_and_served_with_its_cosignatures() {
    let catalog = seeded().await;
    let store = catalog.store().as_ref();
    let log = TransparencyLog::new();
    let cp = log
        .checkpoint(store, &log_key(), Timestamp::now())
        .await
        .unwrap();
    let witness = NoteSigner::new("witness.example/w1", SigType::Cosignature, &[24; 32]).unwrap();
    let cosigned = plant_core::audit::witness_cosign(
        None,
        &cp.note,
        &[],
        &log_key().verifier(),
        &witness,
        1_800_000_000,
    )
    .unwrap();

    // Without a trusted witness, or under another log key: refused, nothing stored.
    let stranger = NoteSigner::new("witness.example/w2", SigType::Cosignature, &[25; 32]).unwrap();
    assert!(matches!(
        log.store_cosigned(
            store,
            &cosigned,
            &log_key().verifier(),
            &[stranger.verifier()],
            Timestamp::now()
        )
        .await,
        Err(CosignedError::NoCosignature)
    ));
    assert_eq!(
        latest_checkpoint_text(store).await.unwrap(),
        Some(cp.note.clone())
    );

    let stored = log
        .store_cosigned(
            store,
            &cosigned,
            &log_key().verifier(),
            &[witness.verifier()],
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!((stored.tree_size, stored.root), (cp.tree_size, cp.root));
    let served = latest_checkpoint_text(store).await.unwrap().unwrap();
    assert_eq!(served, cosigned);
    let note = plant_core::audit::Note::parse(&served).unwrap();
    assert!(note.verify(&witness.verifier()).is_ok());
    assert!(note.verify(&log_key().verifier()).is_ok());
}
