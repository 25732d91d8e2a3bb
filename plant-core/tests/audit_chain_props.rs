//! Properties of the audit chain: every kind of tampering is found at the right seq, and the
//! limits (truncation and forged tails without a checkpoint) are stated as tests too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use plant_core::Timestamp;
use plant_core::audit::{
    AuditEntry, BreakReason, Checkpoint, CheckpointSigner, Head, NewEntry, VerifyReport,
    to_canonical, verify_chain,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;
use uuid::Uuid;

const KINDS: [&str; 7] = [
    "Industry", "Skill", "JobRole", "Team", "Agent", "Trial", "Job",
];
const ACTIONS: [&str; 4] = ["create", "update", "certify", "archive"];

#[derive(Debug, Clone)]
struct Spec {
    entity: u8,
    action: usize,
    actor: String,
    micros: i64,
    name: String,
    note: String,
    count: i64,
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    (
        0u8..6,
        0..ACTIONS.len(),
        "[a-z]{1,10}",
        0i64..4_000_000_000_000_000,
        "\\PC{0,24}",
        "[\\u{0}-\\u{7f}éßø漢字😀\\u{2028}]{0,40}",
        any::<i64>(),
    )
        .prop_map(|(entity, action, actor, micros, name, note, count)| Spec {
            entity,
            action,
            actor,
            micros,
            name,
            note,
            count,
        })
}

/// Entries as a store would write them: versions counted per entity, payloads canonical.
fn build(specs: &[Spec]) -> Vec<AuditEntry> {
    let mut versions: HashMap<u8, u64> = HashMap::new();
    let mut head = Head::GENESIS;
    specs
        .iter()
        .map(|s| {
            let version = versions.entry(s.entity).or_insert(0);
            *version += 1;
            let payload = json!({
                "name": s.name, "note": s.note, "count": s.count, "version": *version,
                "tags": [s.actor, "ü"], "nested": {"z": null, "a": true},
            });
            let entry = head.append(NewEntry {
                entity_id: Uuid::from_u128(u128::from(s.entity) + 1),
                entity_type: KINDS[usize::from(s.entity) % KINDS.len()].to_owned(),
                entity_version: *version,
                action: ACTIONS[s.action].to_owned(),
                actor: s.actor.clone(),
                at: Timestamp::from_micros(s.micros).expect("in range"),
                payload: to_canonical(&payload).expect("no floats"),
            });
            head = entry.head();
            entry
        })
        .collect()
}

fn arb_chain() -> impl Strategy<Value = Vec<AuditEntry>> {
    prop::collection::vec(arb_spec(), 1..40).prop_map(|specs| build(&specs))
}

/// A forged entry an attacker could compute: correct link fields, a fresh entity at version 1.
fn forged_after(head: Head) -> AuditEntry {
    head.append(NewEntry {
        entity_id: Uuid::from_u128(0xF0F0),
        entity_type: "Agent".into(),
        entity_version: 1,
        action: "create".into(),
        actor: "intruder".into(),
        at: Timestamp::from_micros(0).expect("epoch"),
        payload: r#"{"name":"Forged"}"#.into(),
    })
}

fn first(report: &VerifyReport) -> (u64, BreakReason) {
    let brk = report.first_break.clone().expect("a break was expected");
    assert!(!report.ok);
    (brk.seq, brk.reason)
}

fn verify(chain: &[AuditEntry]) -> VerifyReport {
    verify_chain(chain, &[], &[])
}

/// Flips the byte at `at` to another value that keeps the text valid UTF-8 (a payload is stored
/// as text, so a change that breaks UTF-8 would be refused before it reached the verifier).
fn change_byte(text: &str, at: usize, mask: u8) -> Option<String> {
    let bytes = text.as_bytes();
    (0..=255u8).find_map(|step| {
        let m = mask.wrapping_add(step);
        if m == 0 {
            return None;
        }
        let mut changed = bytes.to_vec();
        changed[at] ^= m;
        String::from_utf8(changed).ok()
    })
}

fn renumber_from(chain: &mut [AuditEntry], from: usize) {
    for (i, e) in chain.iter_mut().enumerate().skip(from) {
        e.seq = i as u64 + 1;
    }
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_bytes(&[0x5A; 32])
}

fn checkpoint_at(chain: &[AuditEntry], seq: u64) -> Checkpoint {
    let head = if seq == 0 {
        Head::GENESIS
    } else {
        chain[seq as usize - 1].head()
    };
    signer().sign(head, Timestamp::from_micros(0).expect("epoch"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_untouched_chain_verifies(chain in arb_chain()) {
        let report = verify(&chain);
        prop_assert!(report.ok, "{:?}", report.first_break);
        prop_assert_eq!(report.entries_checked, chain.len() as u64);
        prop_assert_eq!(report.head, chain[chain.len() - 1].head());
    }

    /// The payload is committed through its digest, so the entry's own recomputed hash differs:
    /// reported at that entry.
    #[test]
    fn any_single_byte_change_to_a_payload_is_found_at_that_seq(
        mut chain in arb_chain(), which in any::<Index>(), byte in any::<Index>(), mask in 1u8..,
    ) {
        let k = which.index(chain.len());
        let at = byte.index(chain[k].payload.len());
        let changed = change_byte(&chain[k].payload, at, mask);
        prop_assume!(changed.is_some());
        chain[k].payload = changed.expect("assumed");
        prop_assert_eq!(first(&verify(&chain)), (k as u64 + 1, BreakReason::HashMismatch));
    }

    /// The link to the predecessor is checked before the entry's own hash: reported at that entry
    /// as a prev_hash mismatch (for seq 1, "not zero").
    #[test]
    fn any_single_byte_change_to_a_prev_hash_is_found_at_that_seq(
        mut chain in arb_chain(), which in any::<Index>(), byte in 0usize..32, mask in 1u8..,
    ) {
        let k = which.index(chain.len());
        chain[k].prev_hash.0[byte] ^= mask;
        prop_assert_eq!(first(&verify(&chain)), (k as u64 + 1, BreakReason::PrevHashMismatch));
    }

    /// The stored hash no longer recomputes: reported at that entry, not at its successor (whose
    /// prev_hash also stops matching, one seq later).
    #[test]
    fn any_single_byte_change_to_a_hash_is_found_at_that_seq(
        mut chain in arb_chain(), which in any::<Index>(), byte in 0usize..32, mask in 1u8..,
    ) {
        let k = which.index(chain.len());
        chain[k].hash.0[byte] ^= mask;
        prop_assert_eq!(first(&verify(&chain)), (k as u64 + 1, BreakReason::HashMismatch));
    }

    /// A deleted entry is reported at its own (now missing) seq, whether or not the later entries
    /// were renumbered to hide the gap.
    #[test]
    fn a_deleted_entry_is_found_at_its_seq(mut chain in arb_chain(), which in any::<Index>()) {
        prop_assume!(chain.len() >= 2);
        let k = which.index(chain.len() - 1); // deleting the last entry is truncation, below
        let seq = k as u64 + 1;
        chain.remove(k);
        prop_assert_eq!(
            first(&verify(&chain)),
            (seq, BreakReason::SeqGap { expected: seq, found: seq + 1 })
        );
        renumber_from(&mut chain, k);
        prop_assert_eq!(first(&verify(&chain)), (seq, BreakReason::PrevHashMismatch));
    }

    /// Two swapped entries are reported at the lower seq of the two.
    #[test]
    fn two_swapped_entries_are_found_at_the_lower_seq(
        mut chain in arb_chain(), a in any::<Index>(), b in any::<Index>(),
    ) {
        prop_assume!(chain.len() >= 2);
        let (i, j) = (a.index(chain.len()), b.index(chain.len()));
        prop_assume!(i != j);
        let (lo, hi) = (i.min(j), i.max(j));
        chain.swap(lo, hi);
        let seq = lo as u64 + 1;
        prop_assert_eq!(
            first(&verify(&chain)),
            (seq, BreakReason::SeqGap { expected: seq, found: hi as u64 + 1 })
        );
        renumber_from(&mut chain, 0);
        prop_assert_eq!(first(&verify(&chain)), (seq, BreakReason::PrevHashMismatch));
    }

    /// An entry forged with correct link fields and inserted at seq k: if it reuses seq k, the
    /// original seq k that follows is reported as repeated (at k); if everything after it was
    /// renumbered, the forgery itself is self-consistent and the break is at its successor, k + 1.
    #[test]
    fn an_inserted_entry_is_found_at_its_seq_or_its_successor(
        mut chain in arb_chain(), which in any::<Index>(),
    ) {
        let k = which.index(chain.len()); // insert before the entry at index k
        let seq = k as u64 + 1;
        let before = if k == 0 { Head::GENESIS } else { chain[k - 1].head() };
        chain.insert(k, forged_after(before));
        prop_assert_eq!(
            first(&verify(&chain)),
            (seq, BreakReason::SeqRepeated { expected: seq + 1, found: seq })
        );
        renumber_from(&mut chain, k);
        prop_assert_eq!(first(&verify(&chain)), (seq + 1, BreakReason::PrevHashMismatch));
    }

    /// An inserted entry with made-up hashes is reported at its own seq.
    #[test]
    fn an_inserted_entry_with_a_wrong_link_is_found_at_its_seq(
        mut chain in arb_chain(), which in any::<Index>(), junk in any::<[u8; 32]>(),
    ) {
        let k = which.index(chain.len());
        let seq = k as u64 + 1;
        let mut forged = forged_after(Head { seq: k as u64, hash: plant_core::audit::Hash(junk) });
        let real_prev = if k == 0 { Head::GENESIS.hash } else { chain[k - 1].hash };
        prop_assume!(forged.prev_hash != real_prev);
        forged.seq = seq;
        chain.insert(k, forged);
        renumber_from(&mut chain, k);
        prop_assert_eq!(first(&verify(&chain)), (seq, BreakReason::PrevHashMismatch));
    }

    /// Truncating the tail leaves a valid, shorter chain: only a checkpoint beyond the new head
    /// reveals it, reported at the first missing seq.
    #[test]
    fn a_truncated_tail_is_found_only_against_a_checkpoint(
        chain in arb_chain(), keep in any::<Index>(), earlier in any::<Index>(),
    ) {
        let n = chain.len();
        let m = keep.index(n); // keep 0..n-1 entries: at least one is cut
        let checkpoint = checkpoint_at(&chain, n as u64);
        let trusted = [signer().public_key_hex()];
        let cut = &chain[..m];

        let without = verify_chain(cut, &[], &trusted);
        prop_assert!(without.ok, "truncation is undetectable without a checkpoint");
        let older = checkpoint_at(&chain, earlier.index(m + 1) as u64);
        prop_assert!(verify_chain(cut, &[older], &trusted).ok, "nor with one at or below the new head");

        let with = verify_chain(cut, &[checkpoint], &trusted);
        prop_assert_eq!(
            first(&with),
            (m as u64 + 1, BreakReason::Truncated { checkpoint_seq: n as u64, head_seq: m as u64 })
        );
    }

    /// Someone who rewrites an entry and recomputes every later hash leaves a chain that verifies
    /// on its own; a checkpoint at or after the rewritten seq catches it, at the checkpoint's seq.
    #[test]
    fn a_consistent_rewrite_is_found_only_against_a_checkpoint(
        chain in arb_chain(), which in any::<Index>(), at in any::<Index>(),
    ) {
        let n = chain.len();
        let k = which.index(n);
        let c = k + 1 + at.index(n - k); // checkpoint seq in k+1 ..= n
        let checkpoint = checkpoint_at(&chain, c as u64);
        let mut head = if k == 0 { Head::GENESIS } else { chain[k - 1].head() };
        let mut rewritten = chain[..k].to_vec();
        for (i, e) in chain[k..].iter().enumerate() {
            let mut payload = e.payload.clone();
            if i == 0 {
                payload = r#"{"name":"rewritten"}"#.into();
            }
            let entry = head.append(NewEntry {
                entity_id: e.entity_id,
                entity_type: e.entity_type.clone(),
                entity_version: e.entity_version,
                action: e.action.clone(),
                actor: e.actor.clone(),
                at: e.at,
                payload,
            });
            head = entry.head();
            rewritten.push(entry);
        }
        prop_assert!(verify(&rewritten).ok);
        prop_assert_eq!(
            first(&verify_chain(&rewritten, &[checkpoint], &[signer().public_key_hex()])),
            (c as u64, BreakReason::CheckpointMismatch { checkpoint_seq: c as u64 })
        );
    }

    /// Stated as a limit: a well-formed entry appended after the newest checkpoint verifies.
    #[test]
    fn a_forged_entry_appended_after_the_newest_checkpoint_is_not_detected(chain in arb_chain()) {
        let checkpoint = checkpoint_at(&chain, chain.len() as u64);
        let mut longer = chain.clone();
        longer.push(forged_after(chain[chain.len() - 1].head()));
        prop_assert!(verify_chain(&longer, &[checkpoint], &[]).ok);
    }
}
