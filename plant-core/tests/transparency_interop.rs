//! plant's tree, proofs, checkpoints and cosignatures checked by an implementation written by
//! someone else: the PyPI package `aics-tlog` (a pure-Python C2SP tlog-checkpoint /
//! signed-note / tlog-cosignature implementation with the RFC 9162 proof algorithms), pinned
//! below and installed into `.cache/tlog-interop` (or `$PLANT_CACHE_DIR/tlog-interop`) on first
//! run, never committed. In both directions: it verifies what plant makes, and plant verifies a
//! checkpoint it signs and cosigns.
//!
//! Needs `python3` with `venv` and PyPI; without them the test prints a note and passes, except
//! under `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use plant_core::audit::{MerkleTree, Note, NoteSigner, SigType, TransparencyLog, open_checkpoint};
use plant_core::search::HashingEmbedder;
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::MemoryStore;
use plant_core::{Catalog, Timestamp};

/// The independent implementation, pinned.
const PACKAGES: &[&str] = &["aics-tlog==0.2.1", "cryptography==50.0.2"];

fn unavailable(why: &str) -> Option<PathBuf> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the interoperability check cannot run and CI=true: {why}");
    }
    eprintln!("note: the interoperability check is skipped: {why}");
    None
}

/// The virtualenv's python with the pinned packages, installed on first use.
fn interop_python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = std::env::var_os("PLANT_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache"));
    let venv = cache.join("tlog-interop");
    let python = venv.join("bin").join("python");
    let marker = venv.join(format!(".installed-{}", PACKAGES.join("-")));
    if marker.exists() {
        return Some(python);
    }
    std::fs::create_dir_all(&cache).unwrap();
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        return unavailable("python3 -m venv failed (is python3 with venv installed?)");
    }
    // aics-tlog declares Python >= 3.12 but runs on 3.11, the oldest python3 plant supports.
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--ignore-requires-python",
        ])
        .args(PACKAGES)
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        return unavailable("pip could not install the pinned packages from PyPI");
    }
    std::fs::write(&marker, "").unwrap();
    Some(python)
}

#[tokio::test]
async fn an_independent_c2sp_implementation_agrees_in_both_directions() {
    let Some(python) = interop_python() else {
        return;
    };
    let catalog = Catalog::new(Arc::new(MemoryStore::new()), Arc::new(HashingEmbedder));
    seed::load(&catalog, &SeedCatalog::builtin().unwrap(), &mut |_| {})
        .await
        .unwrap();
    let store = catalog.store().as_ref();
    let origin = "example.com/plant-audit";
    let log = NoteSigner::new(origin, SigType::Ed25519, &[41; 32]).unwrap();
    let witness = NoteSigner::new("witness.example/w1", SigType::Cosignature, &[42; 32]).unwrap();
    let cp = TransparencyLog::new()
        .checkpoint(store, &log, Timestamp::now())
        .await
        .unwrap();
    let mut note = Note::parse(&cp.note).unwrap();
    note.add_signature(witness.sign(&note.text, 1_790_000_000));

    let entries = store.audit_entries(0, u64::MAX).await.unwrap();
    let n = entries.len() as u64;
    let tree = MerkleTree::from_leaf_data(entries.iter().map(|e| &e.hash.0[..]));
    let sizes: Vec<u64> = (0..=n)
        .filter(|s| *s <= 150 || s % 50 == 0 || *s == n)
        .collect();
    let roots: serde_json::Map<String, serde_json::Value> = sizes
        .iter()
        .map(|s| (s.to_string(), tree.root_at(*s).unwrap().to_hex().into()))
        .collect();
    let hexes =
        |v: Vec<plant_core::audit::Hash>| -> Vec<String> { v.iter().map(|h| h.to_hex()).collect() };
    let mut inclusion = Vec::new();
    for &size in sizes.iter().filter(|s| **s > 0) {
        for index in (0..size).step_by(((size / 20) as usize).max(1)) {
            inclusion.push(serde_json::json!({
                "index": index, "size": size,
                "path": hexes(tree.inclusion_proof(index, size).unwrap()),
            }));
        }
    }
    let mut consistency = Vec::new();
    for &to in &sizes {
        for from in (0..=to).step_by(((to / 15) as usize).max(1)) {
            consistency.push(serde_json::json!({
                "from": from, "to": to,
                "path": hexes(tree.consistency_proof(from, to).unwrap()),
            }));
        }
    }
    let input = serde_json::json!({
        "leaves": entries.iter().map(|e| e.hash.to_hex()).collect::<Vec<_>>(),
        "roots": roots,
        "inclusion": inclusion,
        "consistency": consistency,
        "checkpoint": note.to_string(),
        "log_vkey": log.verifier().to_string(),
        "witness_vkey": witness.verifier().to_string(),
        "sign": {
            "origin": origin,
            "log_seed": "29".repeat(32),
            "witness_name": "witness.example/w1",
            "witness_seed": "2a".repeat(32),
            "timestamp": 1_790_000_100u64,
        },
    });

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/aics_check.py");
    let result = plant_core::testing::python::run_json_script(&python, script, &input);
    assert_eq!(
        result["failures"],
        serde_json::json!([]),
        "the independent implementation disagrees"
    );

    // What it signed and cosigned, plant verifies; a changed byte it refuses.
    let theirs = result["note"].as_str().unwrap();
    let opened = open_checkpoint(theirs, &log.verifier()).expect("its log signature verifies");
    assert_eq!((opened.head.size, opened.head.root), (n, tree.root()));
    let cosig = opened
        .note
        .verify(&witness.verifier())
        .expect("its cosignature verifies");
    assert_eq!(cosig.timestamp, Some(1_790_000_100));
    assert_eq!(
        opened.head.body(),
        cp.note[..cp.note.find("\n\n").unwrap() + 1],
        "the same checkpoint body, byte for byte"
    );
    let tampered = theirs.replacen(&format!("\n{n}\n"), &format!("\n{}\n", n + 1), 1);
    assert!(open_checkpoint(&tampered, &log.verifier()).is_err());
}
