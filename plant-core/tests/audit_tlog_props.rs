//! The transparency log's tree, proofs and checkpoints: every proof for every size up to a few
//! hundred verifies, random pairs beyond verify, and any tampered leaf, node, root or size is
//! detected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plant_core::audit::merkle::root_of;
use plant_core::audit::{
    Hash, MerkleTree, NoteSigner, SigType, TreeHead, WitnessRefusal, leaf_hash, open_checkpoint,
    verify_consistency, verify_inclusion, witness_cosign,
};
use proptest::prelude::*;

fn leaves(n: u64, salt: u8) -> Vec<Hash> {
    (0..n)
        .map(|i| {
            let mut data = [salt; 32];
            data[..8].copy_from_slice(&i.to_be_bytes());
            leaf_hash(&data)
        })
        .collect()
}

fn tree_of(leaves: &[Hash]) -> MerkleTree {
    let mut t = MerkleTree::new();
    for l in leaves {
        t.push_leaf_hash(*l);
    }
    t
}

const EXHAUSTIVE: u64 = 260;

#[test]
fn every_inclusion_proof_up_to_260_leaves_verifies_and_no_other_leaf_does() {
    let all = leaves(EXHAUSTIVE, 1);
    let tree = tree_of(&all);
    for size in 1..=EXHAUSTIVE {
        let root = root_of(&all[..size as usize]);
        for index in 0..size {
            let proof = tree.inclusion_proof(index, size).unwrap();
            let leaf = &all[index as usize];
            assert!(
                verify_inclusion(leaf, index, size, &proof, &root),
                "{index}/{size}"
            );
            // Another index, another size, another leaf: refused.
            if size > 1 {
                let other = (index + 1) % size;
                assert!(!verify_inclusion(leaf, other, size, &proof, &root));
                assert!(!verify_inclusion(
                    &all[other as usize],
                    index,
                    size,
                    &proof,
                    &root
                ));
            }
            // (The size is bound by the signed checkpoint that carries the root: a path can
            // fit two sizes, e.g. leaf 0 of 3 and of 4 leaves, against that one root.)
        }
    }
}

#[test]
fn every_consistency_proof_up_to_260_leaves_verifies() {
    let all = leaves(EXHAUSTIVE, 2);
    let tree = tree_of(&all);
    let roots: Vec<Hash> = (0..=EXHAUSTIVE).map(|n| tree.root_at(n).unwrap()).collect();
    for to in 0..=EXHAUSTIVE {
        for from in 0..=to {
            let proof = tree.consistency_proof(from, to).unwrap();
            let (r1, r2) = (&roots[from as usize], &roots[to as usize]);
            assert!(verify_consistency(from, to, r1, r2, &proof), "{from}->{to}");
            if 0 < from && from < to {
                // A different old root, or the proof claimed for other sizes, is refused.
                assert!(!verify_consistency(
                    from,
                    to,
                    &roots[to as usize],
                    r2,
                    &proof
                ));
                assert!(!verify_consistency(from, to, r1, r1, &proof));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Beyond the exhaustive range: random sizes and pairs, and any single changed hash in a
    /// proof, the leaf or a root is detected.
    #[test]
    fn random_proofs_verify_and_any_tampered_hash_is_detected(
        size in 261u64..5_000,
        index_seed in any::<u64>(),
        from_seed in any::<u64>(),
        flip in any::<(usize, u8)>(),
    ) {
        let all = leaves(size, 3);
        let tree = tree_of(&all);
        let root = tree.root();
        prop_assert_eq!(root, root_of(&all));

        let index = index_seed % size;
        let proof = tree.inclusion_proof(index, size).unwrap();
        prop_assert!(verify_inclusion(&all[index as usize], index, size, &proof, &root));
        let bit = 1u8 << (flip.1 % 8);
        let at = flip.0 % proof.len();
        let mut bad = proof.clone();
        bad[at].0[flip.0 % 32] ^= bit;
        prop_assert!(!verify_inclusion(&all[index as usize], index, size, &bad, &root));
        let mut leaf = all[index as usize];
        leaf.0[flip.0 % 32] ^= bit;
        prop_assert!(!verify_inclusion(&leaf, index, size, &proof, &root));
        let mut short = proof.clone();
        short.pop();
        prop_assert!(!verify_inclusion(&all[index as usize], index, size, &short, &root));

        let from = 1 + from_seed % (size - 1);
        let old_root = tree.root_at(from).unwrap();
        let proof = tree.consistency_proof(from, size).unwrap();
        prop_assert!(verify_consistency(from, size, &old_root, &root, &proof));
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let at = flip.0 % bad.len();
            bad[at].0[flip.0 % 32] ^= bit;
            prop_assert!(!verify_consistency(from, size, &old_root, &root, &bad));
        }
        let mut bad_root = root;
        bad_root.0[0] ^= bit;
        prop_assert!(!verify_consistency(from, size, &old_root, &bad_root, &proof));
    }

    /// A tree whose leaf `k` changed has a different root at every size above `k` and the same
    /// below, and no consistency proof from the changed tree links it to the original.
    #[test]
    fn a_changed_leaf_changes_every_later_root_and_breaks_consistency(
        size in 2u64..600,
        k_seed in any::<u64>(),
    ) {
        let all = leaves(size, 4);
        let k = k_seed % size;
        let mut forked = all.clone();
        forked[k as usize].0[5] ^= 0x10;
        let (a, b) = (tree_of(&all), tree_of(&forked));
        for n in 1..=size {
            prop_assert_eq!(a.root_at(n).unwrap() == b.root_at(n).unwrap(), n <= k);
        }
        if k + 1 < size {
            let proof = b.consistency_proof(k + 1, size).unwrap();
            prop_assert!(!verify_consistency(
                k + 1, size, &a.root_at(k + 1).unwrap(), &b.root(), &proof
            ));
        }
    }
}

fn log_key() -> NoteSigner {
    NoteSigner::new("example.com/plant-audit", SigType::Ed25519, &[11; 32]).unwrap()
}

fn witness_key() -> NoteSigner {
    NoteSigner::new("witness.example/w1", SigType::Cosignature, &[12; 32]).unwrap()
}

fn checkpoint(tree: &MerkleTree, size: u64) -> String {
    TreeHead {
        origin: "example.com/plant-audit".into(),
        size,
        root: tree.root_at(size).unwrap(),
    }
    .sign(&log_key())
}

#[test]
fn the_witness_cosigns_an_extension_and_the_cosignature_verifies() {
    let tree = tree_of(&leaves(40, 5));
    let old = checkpoint(&tree, 17);
    let new = checkpoint(&tree, 40);
    let proof = tree.consistency_proof(17, 40).unwrap();
    let log = log_key().verifier();
    let cosigned = witness_cosign(
        Some(&old),
        &new,
        &proof,
        &log,
        &witness_key(),
        1_800_000_000,
    )
    .expect("consistent");
    let opened = open_checkpoint(&cosigned, &log).expect("still the log's checkpoint");
    assert_eq!(opened.head.size, 40);
    let ts = opened
        .note
        .verify(&witness_key().verifier())
        .expect("cosigned");
    assert_eq!(ts.timestamp, Some(1_800_000_000));
    // First contact: consistent with the empty tree, no proof needed.
    assert!(witness_cosign(None, &new, &[], &log, &witness_key(), 1).is_ok());
    // The same checkpoint again is fine; an older one is a rollback.
    assert!(witness_cosign(Some(&new), &new, &[], &log, &witness_key(), 1).is_ok());
    assert!(matches!(
        witness_cosign(Some(&new), &old, &[], &log, &witness_key(), 1),
        Err(WitnessRefusal::Rollback { old: 40, new: 17 })
    ));
}

#[test]
fn the_witness_refuses_a_forked_log() {
    // Two logs that agree on the first 9 entries and hold different entries at seq 10.
    let honest = leaves(30, 6);
    let mut forked = honest.clone();
    forked[9] = leaf_hash(b"another entry at seq 10");
    let (a, b) = (tree_of(&honest), tree_of(&forked));
    let log = log_key().verifier();
    let accepted = checkpoint(&a, 20);

    // The fork at a larger size: no proof from it links back to the accepted root.
    let offered = checkpoint(&b, 30);
    let proof = b.consistency_proof(20, 30).unwrap();
    let refusal = witness_cosign(Some(&accepted), &offered, &proof, &log, &witness_key(), 1)
        .expect_err("a fork is refused");
    assert_eq!(refusal, WitnessRefusal::Inconsistent { old: 20, new: 30 });
    assert!(refusal.to_string().contains("does not extend"));
    // Even the honest log's proof does not make the fork's root consistent.
    let honest_proof = a.consistency_proof(20, 30).unwrap();
    assert!(
        witness_cosign(
            Some(&accepted),
            &offered,
            &honest_proof,
            &log,
            &witness_key(),
            1
        )
        .is_err()
    );

    // The fork at the same size: two roots for one size.
    let same_size = checkpoint(&b, 20);
    assert!(matches!(
        witness_cosign(Some(&accepted), &same_size, &[], &log, &witness_key(), 1),
        Err(WitnessRefusal::Fork { size: 20, .. })
    ));

    // A checkpoint not signed by the log is refused before anything else.
    let stranger = NoteSigner::new("example.com/plant-audit", SigType::Ed25519, &[13; 32]).unwrap();
    let unsigned = TreeHead {
        origin: "example.com/plant-audit".into(),
        size: 30,
        root: a.root(),
    }
    .sign(&stranger);
    assert!(matches!(
        witness_cosign(
            Some(&accepted),
            &unsigned,
            &honest_proof,
            &log,
            &witness_key(),
            1
        ),
        Err(WitnessRefusal::BadCheckpoint(_))
    ));
}
