//! The verifier's reports: rows, checkpoints, one entity's entries, and how breaks read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plant_core::Timestamp;
use plant_core::audit::{
    AuditEntry, Break, BreakReason, ChainVerifier, CheckpointSigner, Hash, Head, NewEntry,
    to_canonical, verify_chain, verify_entity_entries,
};
use serde_json::json;
use uuid::Uuid;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// Ten entries over three entities (1, 2, 3 in turn), versions counted per entity.
fn chain() -> Vec<AuditEntry> {
    let mut head = Head::GENESIS;
    let mut versions = [0u64; 3];
    (0..10)
        .map(|i| {
            let e = i % 3;
            versions[e] += 1;
            let entry = head.append(NewEntry {
                entity_id: id(e as u128 + 1),
                entity_type: "Skill".into(),
                entity_version: versions[e],
                action: if versions[e] == 1 { "create" } else { "update" }.into(),
                actor: "genesis".into(),
                at: Timestamp::from_micros(1_700_000_000_000_000 + i as i64).expect("time"),
                payload: to_canonical(&json!({"id": e, "version": versions[e]})).expect("json"),
            });
            head = entry.head();
            entry
        })
        .collect()
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::generate().expect("os rng")
}

#[test]
fn a_break_reads_as_a_sentence_naming_the_seq() {
    let brk = Break {
        seq: 17,
        reason: BreakReason::PrevHashMismatch,
    };
    assert_eq!(
        brk.to_string(),
        "seq 17: prev_hash does not match the hash of seq 16"
    );
    let first = Break {
        seq: 1,
        reason: BreakReason::PrevHashMismatch,
    };
    assert_eq!(first.to_string(), "seq 1: prev_hash is not 32 zero bytes");
    let gap = Break {
        seq: 5,
        reason: BreakReason::SeqGap {
            expected: 5,
            found: 7,
        },
    };
    assert_eq!(
        gap.to_string(),
        "seq 5: entry is missing (the next entry present has seq 7)"
    );
}

#[test]
fn a_break_serializes_with_a_snake_case_kind_and_its_message() {
    let brk = Break {
        seq: 9,
        reason: BreakReason::Truncated {
            checkpoint_seq: 12,
            head_seq: 8,
        },
    };
    let value = serde_json::to_value(&brk).expect("json");
    assert_eq!(
        value,
        json!({
            "seq": 9,
            "reason": {"kind": "truncated", "checkpoint_seq": 12, "head_seq": 8},
            "message": brk.to_string(),
        })
    );
    let back: Break = serde_json::from_value(value).expect("parses");
    assert_eq!(back, brk);
}

#[test]
fn the_report_of_a_good_chain_names_its_head_and_counts() {
    let chain = chain();
    let s = signer();
    let cps = [
        s.sign(chain[3].head(), Timestamp::now()),
        s.sign(chain[9].head(), Timestamp::now()),
    ];
    let report = verify_chain(&chain, &cps, &[s.public_key_hex()]);
    assert!(report.ok);
    assert_eq!(report.entries_checked, 10);
    assert_eq!(report.head, chain[9].head());
    assert_eq!(report.checkpoints_checked, 2);
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["ok"], true);
    assert_eq!(json["first_break"], serde_json::Value::Null);
}

#[test]
fn an_empty_chain_verifies_and_a_checkpoint_of_genesis_matches_it() {
    let s = signer();
    let genesis = s.sign(Head::GENESIS, Timestamp::now());
    let report = verify_chain(&[], &[genesis], &[]);
    assert!(report.ok);
    assert_eq!(report.head, Head::GENESIS);
    let ahead = s.sign(chain()[0].head(), Timestamp::now());
    let report = verify_chain(&[], &[ahead], &[]);
    assert_eq!(
        report.first_break.map(|b| (b.seq, b.reason)),
        Some((
            1,
            BreakReason::Truncated {
                checkpoint_seq: 1,
                head_seq: 0
            }
        ))
    );
}

#[test]
fn a_forged_or_untrusted_checkpoint_is_reported_at_its_seq() {
    let chain = chain();
    let s = signer();
    let trusted = [s.public_key_hex()];

    let mut forged = s.sign(chain[4].head(), Timestamp::now());
    forged.seq = 4;
    let report = verify_chain(&chain, &[forged], &trusted);
    assert_eq!(
        report.first_break.map(|b| (b.seq, b.reason)),
        Some((4, BreakReason::BadSignature { checkpoint_seq: 4 }))
    );

    let stranger = signer().sign(chain[6].head(), Timestamp::now());
    let report = verify_chain(&chain, std::slice::from_ref(&stranger), &trusted);
    assert_eq!(
        report.first_break.map(|b| (b.seq, b.reason)),
        Some((7, BreakReason::UntrustedKey { checkpoint_seq: 7 }))
    );
    // With no trusted list the embedded key is accepted: the checkpoint only proves itself.
    assert!(verify_chain(&chain, &[stranger], &[]).ok);
}

#[test]
fn the_lowest_seq_wins_between_chain_and_checkpoint_breaks() {
    let mut chain = chain();
    let s = signer();
    let cp_at_3 = s.sign(
        Head {
            seq: 3,
            hash: Hash([1; 32]),
        },
        Timestamp::now(),
    );
    chain[7].hash.0[0] ^= 1;
    let report = verify_chain(&chain, &[cp_at_3], &[]);
    assert_eq!(
        report.first_break.map(|b| (b.seq, b.reason)),
        Some((3, BreakReason::CheckpointMismatch { checkpoint_seq: 3 }))
    );
    let report = verify_chain(&chain, &[], &[]);
    assert_eq!(report.first_break.map(|b| b.seq), Some(8));
}

#[test]
fn the_streaming_verifier_checks_checkpoints_given_late_or_early_alike() {
    let chain = chain();
    let s = signer();
    let cp = s.sign(chain[5].head(), Timestamp::now());
    let mut late = ChainVerifier::new(vec![s.public_key_hex()]);
    for e in &chain {
        late.push(e).expect("intact");
    }
    assert!(late.finish(std::slice::from_ref(&cp)).ok);

    let mut early = ChainVerifier::with_checkpoints(vec![], std::slice::from_ref(&cp));
    for e in &chain {
        early.push(e).expect("intact");
    }
    let other = s.sign(chain[2].head(), Timestamp::now());
    let report = early.finish(&[other]);
    assert_eq!(
        report.first_break.map(|b| (b.seq, b.reason)),
        Some((3, BreakReason::CheckpointNotRecorded { checkpoint_seq: 3 }))
    );
}

#[test]
fn push_returns_the_problem_with_each_entry_and_the_report_keeps_the_first() {
    let mut chain = chain();
    chain[2].payload.push(' ');
    chain[6].prev_hash = Hash::ZERO;
    let mut v = ChainVerifier::new(vec![]);
    let results: Vec<Option<u64>> = chain
        .iter()
        .map(|e| v.push(e).err().map(|b| b.seq))
        .collect();
    assert_eq!(
        results,
        [
            None,
            None,
            Some(3),
            None,
            None,
            None,
            Some(7),
            None,
            None,
            None
        ]
    );
    let report = v.finish(&[]);
    assert_eq!(report.entries_checked, 10);
    assert_eq!(
        report.first_break.map(|b| (b.seq, b.reason)),
        Some((3, BreakReason::HashMismatch))
    );
}

#[test]
fn versions_must_count_up_per_entity_even_when_every_link_is_valid() {
    let mut head = Head::GENESIS;
    let mut chain = Vec::new();
    for version in [1, 2, 4] {
        let e = head.append(NewEntry {
            entity_id: id(1),
            entity_type: "Team".into(),
            entity_version: version,
            action: "update".into(),
            actor: "genesis".into(),
            at: Timestamp::from_micros(0).expect("time"),
            payload: "{}".into(),
        });
        head = e.head();
        chain.push(e);
    }
    let report = verify_chain(&chain, &[], &[]);
    assert_eq!(
        report.first_break.map(|b| (b.seq, b.reason)),
        Some((
            3,
            BreakReason::VersionOutOfOrder {
                entity_id: id(1),
                expected: 3,
                found: 4
            }
        ))
    );
}

#[test]
fn a_row_must_match_its_latest_entry_in_version_hash_and_content() {
    let chain = chain();
    let mut v = ChainVerifier::new(vec![]);
    for e in &chain {
        v.push(e).expect("intact");
    }
    // Entity 2's entries are seq 2, 5, 8; its latest is seq 8, version 3.
    let latest = &chain[7];
    assert_eq!((latest.entity_id, latest.entity_version), (id(2), 3));
    assert_eq!(v.check_row(id(2), 3, &latest.hash, &latest.payload), Ok(()));

    let seq_of = |r: Result<(), Break>| r.err().map(|b| b.seq);
    assert_eq!(
        seq_of(v.check_row(id(2), 2, &latest.hash, &latest.payload)),
        Some(8)
    );
    assert_eq!(
        seq_of(v.check_row(id(2), 3, &chain[4].hash, &latest.payload)),
        Some(8)
    );
    let edited = v
        .check_row(id(2), 3, &latest.hash, r#"{"id":1,"version":4}"#)
        .expect_err("content differs");
    assert!(matches!(
        edited.reason,
        BreakReason::RowMismatch { entity_id, .. } if entity_id == id(2)
    ));
    assert_eq!(edited.seq, 8);
    let unknown = v
        .check_row(id(99), 1, &Hash::ZERO, "{}")
        .expect_err("no entries");
    assert_eq!(unknown.seq, 0);

    v.record_break(edited.clone());
    let report = v.finish(&[]);
    assert!(!report.ok);
    assert_eq!(report.first_break, Some(edited));
}

#[test]
fn one_entitys_entries_verify_on_their_own() {
    let chain = chain();
    let mine: Vec<AuditEntry> = chain
        .iter()
        .filter(|e| e.entity_id == id(1))
        .cloned()
        .collect();
    assert_eq!(mine.len(), 4);
    assert_eq!(verify_entity_entries(&mine), Ok(()));
    assert_eq!(verify_entity_entries(&[]), Ok(()));

    let reason_at = |entries: &[AuditEntry]| {
        verify_entity_entries(entries)
            .err()
            .map(|b| (b.seq, b.reason))
    };

    let mut tampered = mine.clone();
    tampered[2].actor = "someone else".into();
    assert_eq!(
        reason_at(&tampered),
        Some((tampered[2].seq, BreakReason::HashMismatch))
    );

    let mut skipped = mine.clone();
    skipped.remove(1);
    assert_eq!(
        reason_at(&skipped),
        Some((
            skipped[1].seq,
            BreakReason::VersionOutOfOrder {
                entity_id: id(1),
                expected: 2,
                found: 3
            }
        ))
    );

    // Reordered: the first entry out of place is the first with a version out of order.
    let mut reordered = mine.clone();
    reordered.swap(1, 2);
    assert_eq!(
        reason_at(&reordered),
        Some((
            reordered[1].seq,
            BreakReason::VersionOutOfOrder {
                entity_id: id(1),
                expected: 2,
                found: 3
            }
        ))
    );

    let mut repeated = mine.clone();
    repeated[2].seq = repeated[1].seq;
    assert_eq!(
        reason_at(&repeated),
        Some((
            mine[1].seq,
            BreakReason::SeqNotIncreasing {
                previous: mine[1].seq
            }
        ))
    );

    let mut mixed = mine.clone();
    mixed[3] = chain[1].clone();
    assert_eq!(
        reason_at(&mixed),
        Some((
            chain[1].seq,
            BreakReason::ForeignEntity {
                expected: id(1),
                found: id(2)
            }
        ))
    );
}
