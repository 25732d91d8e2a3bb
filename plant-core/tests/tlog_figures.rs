//! Figures for docs/transparency.md §7, measured at a million entries. Ignored by default (a
//! measurement, not a test: nothing here asserts a speed); run it optimised:
//!
//! ```sh
//! cargo test --release -p plant-core --test tlog_figures -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use plant_core::Timestamp;
use plant_core::audit::offline::verify_export;
use plant_core::audit::{
    AuditEntry, Head, MerkleTree, NewEntry, NoteSigner, SigType, TreeHead, leaf_hash,
    verify_inclusion,
};
use plant_core::catalog::{CatalogExport, EXPORT_FORMAT};

const ENTRIES: u64 = 1_000_000;
const SAMPLES: usize = 20_000;

fn chain(n: u64) -> Vec<AuditEntry> {
    let mut head = Head::GENESIS;
    let at: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
    (1..=n)
        .map(|i| {
            let entry = head.append(NewEntry {
                entity_id: uuid::Uuid::from_u128(u128::from((i - 1) % 5_000)),
                entity_type: "Agent".into(),
                entity_version: (i - 1) / 5_000 + 1,
                action: "update".into(),
                actor: "genesis".into(),
                at,
                // About the size of a catalog record's canonical JSON.
                payload: format!(
                    r#"{{"description":"An agent that writes search-optimised product copy for retail catalogues, revision {i}","id":"{}","name":"Agent {i}","status":"active","tags":["retail","seo","copy"]}}"#,
                    uuid::Uuid::from_u128(u128::from((i - 1) % 5_000))
                ),
            });
            head = entry.head();
            entry
        })
        .collect()
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}

/// A cheap deterministic sequence, so runs are comparable.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn figures_at_a_million_entries() {
    let started = Instant::now();
    let entries = chain(ENTRIES);
    let link_time = started.elapsed();
    println!(
        "chain of {ENTRIES} entries: link hashes computed in {:.2} s ({:.0} ns per entry)",
        link_time.as_secs_f64(),
        link_time.as_nanos() as f64 / ENTRIES as f64
    );

    let started = Instant::now();
    let mut tree = MerkleTree::new();
    for e in &entries {
        tree.push_leaf_data(&e.hash.0);
    }
    let append = started.elapsed();
    println!(
        "tree append: {:.0} ns per entry ({:.2} s for {ENTRIES}), {:.1}% of the link hash's cost",
        append.as_nanos() as f64 / ENTRIES as f64,
        append.as_secs_f64(),
        100.0 * append.as_secs_f64() / link_time.as_secs_f64()
    );

    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let root = tree.root();
    let mut inclusion = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let index = next(&mut state) % ENTRIES;
        let t = Instant::now();
        let proof = tree.inclusion_proof(index, ENTRIES).unwrap();
        inclusion.push(t.elapsed());
        assert!(verify_inclusion(
            &leaf_hash(&entries[index as usize].hash.0),
            index,
            ENTRIES,
            &proof,
            &root
        ));
    }
    let (p50, p99) = percentiles(inclusion);
    println!(
        "inclusion proof at size {ENTRIES}: p50 {p50:?}, p99 {p99:?} ({SAMPLES} random leaves)"
    );

    let mut older = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let to = ENTRIES - next(&mut state) % 1_000;
        let from = 1 + next(&mut state) % (to - 1);
        let t = Instant::now();
        let _ = tree.consistency_proof(from, to).unwrap();
        older.push(t.elapsed());
    }
    let (p50, p99) = percentiles(older);
    println!(
        "consistency proof to size ~{ENTRIES}: p50 {p50:?}, p99 {p99:?} ({SAMPLES} random pairs)"
    );

    let log = NoteSigner::new("example.com/plant-audit", SigType::Ed25519, &[7; 32]).unwrap();
    let checkpoint = TreeHead {
        origin: "example.com/plant-audit".into(),
        size: ENTRIES,
        root,
    }
    .sign(&log);
    drop(tree);
    let export = CatalogExport {
        format: EXPORT_FORMAT.into(),
        rule_set: String::new(),
        head: entries.last().unwrap().head(),
        entities: Vec::new(),
        certifications: Vec::new(),
        entries,
        checkpoint: Some(checkpoint.clone()),
    };
    let json = serde_json::to_vec(&export).unwrap();
    drop(export);
    let started = Instant::now();
    let parsed: CatalogExport = serde_json::from_slice(&json).unwrap();
    let parse = started.elapsed();
    let started = Instant::now();
    let report = verify_export(&parsed, &checkpoint, None, &[log.verifier()]);
    let verify = started.elapsed();
    assert!(report.ok, "{:?}", report.first_break);
    println!(
        "offline verify of {ENTRIES} entries ({} MB of export JSON): parse {:.2} s, verify {:.2} s (links, tree, checkpoint)",
        json.len() / 1_000_000,
        parse.as_secs_f64(),
        verify.as_secs_f64()
    );
}
