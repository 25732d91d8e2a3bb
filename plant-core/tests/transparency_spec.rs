//! docs/transparency.md is the specification: its test vectors are what the code computes, and a
//! second implementation written from it alone (Python's hashlib, tests/spec/recompute.py)
//! recomputes the chain, the tree roots and the checkpoint of a real catalog.
//!
//! Needs `python3`; without it the cross-language test prints a note and passes, except under
//! `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use plant_core::audit::{
    AuditEntry, Head, MerkleTree, NewEntry, NoteSigner, SigType, TransparencyLog, TreeHead,
    leaf_hash,
};
use plant_core::search::HashingEmbedder;
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::MemoryStore;
use plant_core::{Catalog, Timestamp};

const DOC: &str = include_str!("../../docs/transparency.md");

/// The three entries of the documented vectors.
fn vector_entries() -> Vec<AuditEntry> {
    let inputs = [
        (
            "Skill",
            1,
            "create",
            "genesis",
            "2026-03-01T12:00:00.000001Z",
            r#"{"name":"SEO"}"#,
        ),
        (
            "Skill",
            2,
            "certify",
            "genesis",
            "2026-03-01T12:00:05.250000Z",
            r#"{"name":"SEO","status":"certified"}"#,
        ),
        (
            "Skill",
            3,
            "update",
            "opérateur",
            "2026-03-02T08:30:00.000000Z",
            r#"{"name":"SEO ✓"}"#,
        ),
    ];
    let mut head = Head::GENESIS;
    inputs
        .into_iter()
        .map(|(kind, version, action, actor, at, payload)| {
            let entry = head.append(NewEntry {
                entity_id: uuid::Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef),
                entity_type: kind.into(),
                entity_version: version,
                action: action.into(),
                actor: actor.into(),
                at: at.parse::<Timestamp>().unwrap(),
                payload: payload.into(),
            });
            head = entry.head();
            entry
        })
        .collect()
}

/// Every documented value, as `name: value` lines.
fn vectors() -> Vec<(String, String)> {
    let entries = vector_entries();
    let mut out = Vec::new();
    for e in &entries {
        out.push((format!("hash of seq {}", e.seq), e.hash.to_hex()));
        out.push((
            format!("leaf hash of seq {}", e.seq),
            leaf_hash(&e.hash.0).to_hex(),
        ));
    }
    let tree = MerkleTree::from_leaf_data(entries.iter().map(|e| &e.hash.0[..]));
    for size in 0..=3 {
        out.push((
            format!("root of size {size}"),
            tree.root_at(size).unwrap().to_hex(),
        ));
    }
    let path: Vec<String> = tree
        .inclusion_proof(1, 3)
        .unwrap()
        .iter()
        .map(|h| h.to_hex())
        .collect();
    out.push(("inclusion of seq 2 in size 3".into(), path.join(" ")));
    let path: Vec<String> = tree
        .consistency_proof(2, 3)
        .unwrap()
        .iter()
        .map(|h| h.to_hex())
        .collect();
    out.push(("consistency from size 2 to 3".into(), path.join(" ")));
    let log = NoteSigner::new("example.com/plant-audit", SigType::Ed25519, &[1; 32]).unwrap();
    out.push(("log vkey".into(), log.verifier().to_string()));
    let note = TreeHead {
        origin: "example.com/plant-audit".into(),
        size: 3,
        root: tree.root(),
    }
    .sign(&log);
    let witness = NoteSigner::new("witness.example/w1", SigType::Cosignature, &[2; 32]).unwrap();
    out.push(("witness vkey".into(), witness.verifier().to_string()));
    let mut parsed = plant_core::audit::Note::parse(&note).unwrap();
    parsed.add_signature(witness.sign(&parsed.text, 1_780_000_000));
    out.push(("cosigned checkpoint".into(), parsed.to_string()));
    out
}

#[test]
fn the_documented_test_vectors_are_what_the_code_computes() {
    let mut missing = Vec::new();
    for (name, value) in vectors() {
        if !DOC.contains(&value) {
            missing.push(format!("{name}:\n{value}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/transparency.md lacks (or has other) values:\n\n{}",
        missing.join("\n\n")
    );
}

/// `python3`, or `None` (with a note) where it may be missing.
fn python() -> Option<&'static str> {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("python3");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("python3 is not installed and CI=true: the cross-language check cannot be skipped");
    }
    eprintln!("note: python3 is not installed; the cross-language check is skipped");
    None
}

#[tokio::test]
async fn python_recomputes_the_chain_the_tree_and_the_checkpoint_from_the_spec() {
    let Some(python) = python() else {
        return;
    };
    let catalog = Catalog::new(Arc::new(MemoryStore::new()), Arc::new(HashingEmbedder));
    seed::load(&catalog, &SeedCatalog::builtin().unwrap(), &mut |_| {})
        .await
        .unwrap();
    let store = catalog.store().as_ref();
    let log = NoteSigner::new("example.com/plant-audit", SigType::Ed25519, &[1; 32]).unwrap();
    let checkpoint = TransparencyLog::new()
        .checkpoint(store, &log, Timestamp::now())
        .await
        .unwrap();
    let entries = store.audit_entries(0, u64::MAX).await.unwrap();
    let input = serde_json::json!({ "entries": entries, "checkpoint": checkpoint.note });

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/spec/recompute.py");
    let result = plant_core::testing::python::run_json_script(python, script, &input);

    let hashes: Vec<String> = entries.iter().map(|e| e.hash.to_hex()).collect();
    assert_eq!(result["hashes"], serde_json::json!(hashes));
    let tree = MerkleTree::from_leaf_data(entries.iter().map(|e| &e.hash.0[..]));
    let roots = result["roots"].as_object().unwrap();
    assert!(roots.len() > 100, "{} sizes compared", roots.len());
    for (size, root) in roots {
        let size: u64 = size.parse().unwrap();
        assert_eq!(
            root.as_str().unwrap(),
            tree.root_at(size).unwrap().to_hex(),
            "size {size}"
        );
    }
    assert_eq!(result["checkpoint"]["origin"], "example.com/plant-audit");
    assert_eq!(result["checkpoint"]["size"], checkpoint.tree_size);
    assert_eq!(result["checkpoint"]["root"], checkpoint.root.to_hex());

    // And the documented vectors, recomputed the same way.
    let vectors = vector_entries();
    let input = serde_json::json!({ "entries": vectors });
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tree = MerkleTree::from_leaf_data(vectors.iter().map(|e| &e.hash.0[..]));
    assert_eq!(result["roots"]["3"], tree.root().to_hex());
}
