//! Golden vectors pin encoding v1 and the v1 link hash. The inputs in `tests/data/golden/` are
//! written by hand; the canonical encodings and `expected.json` were produced once and checked,
//! and `expected.json` is recomputed here by an independent implementation of the README's link
//! formula (Python's hashlib), so the vectors do not merely agree with the code that wrote them.
//! If this test fails, the encoding or the link changed: that is a new version
//! (`plant-audit-v2`), never an edit to these files.
//!
//! The vectors form one chain: vector n has seq n and the previous vector's hash as prev_hash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use plant_core::Timestamp;
use plant_core::audit::{AuditEntry, Hash, Head, NewEntry, canonical_value};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize)]
struct Meta {
    name: String,
    entity_id: Uuid,
    entity_type: String,
    entity_version: u64,
    action: String,
    actor: String,
    at: Timestamp,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Expected {
    name: String,
    seq: u64,
    prev_hash: Hash,
    payload_sha256: Hash,
    hash: Hash,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden")
}

fn read(name: &str) -> String {
    fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Builds the vectors' chain from the hand-written inputs with the current code.
fn compute() -> Vec<(String, AuditEntry)> {
    let metas: Vec<Meta> = serde_json::from_str(&read("manifest.json")).expect("manifest");
    let mut head = Head::GENESIS;
    metas
        .into_iter()
        .map(|m| {
            let input: serde_json::Value =
                serde_json::from_str(&read(&format!("{}.input.json", m.name))).expect("input");
            let payload = canonical_value(&input).expect("inputs carry no floats");
            let entry = head.append(NewEntry {
                entity_id: m.entity_id,
                entity_type: m.entity_type,
                entity_version: m.entity_version,
                action: m.action,
                actor: m.actor,
                at: m.at,
                payload,
            });
            head = entry.head();
            (m.name, entry)
        })
        .collect()
}

fn expected_of(name: &str, e: &AuditEntry) -> Expected {
    Expected {
        name: name.to_owned(),
        seq: e.seq,
        prev_hash: e.prev_hash,
        payload_sha256: e.payload_digest(),
        hash: e.hash,
    }
}

#[test]
fn golden_canonical_encodings_and_link_hashes_are_unchanged() {
    let computed = compute();
    let expected: Vec<Expected> = serde_json::from_str(&read("expected.json")).expect("expected");
    assert!(computed.len() >= 5);
    assert_eq!(
        computed.len(),
        expected.len(),
        "one expected record per vector"
    );
    for ((name, entry), want) in computed.iter().zip(&expected) {
        let canonical = read(&format!("{name}.canonical.json"));
        assert_eq!(
            entry.payload, canonical,
            "{name}: canonical encoding changed"
        );
        assert_eq!(&expected_of(name, entry), want, "{name}: link changed");
    }
    // The vectors are snapshots of different entities at later versions, not a full history,
    // so check the links rather than run the whole verifier (which also checks versions).
    let mut prev = Hash::ZERO;
    for (name, entry) in &computed {
        assert_eq!(
            entry.prev_hash, prev,
            "{name}: not linked to the vector before it"
        );
        assert_eq!(entry.compute_hash(), entry.hash, "{name}");
        prev = entry.hash;
    }
}

#[test]
fn golden_canonical_files_are_their_own_canonical_form() {
    for (name, _) in compute() {
        let canonical = read(&format!("{name}.canonical.json"));
        let parsed: serde_json::Value = serde_json::from_str(&canonical).expect("json");
        assert_eq!(
            canonical_value(&parsed).expect("encodes"),
            canonical,
            "{name}"
        );
    }
}

#[test]
fn golden_vectors_cover_every_kind_and_non_ascii_text() {
    let manifest = read("manifest.json");
    for kind in [
        "Industry", "Skill", "JobRole", "Team", "Agent", "Trial", "Job",
    ] {
        assert!(
            manifest.contains(&format!("\"entity_type\": \"{kind}\"")),
            "{kind}"
        );
    }
    assert!(compute().iter().any(|(_, e)| !e.payload.is_ascii()));
}

/// Writes the canonical files and `expected.json` for vectors that do not have them yet; it
/// never overwrites. Run with `cargo test --test audit_golden -- --ignored`, then inspect the
/// output before committing it.
#[test]
#[ignore = "generates golden data; run by hand when adding a vector"]
fn generate_missing_golden_files() {
    let computed = compute();
    for (name, entry) in &computed {
        let path = dir().join(format!("{name}.canonical.json"));
        if !path.exists() {
            fs::write(&path, &entry.payload).expect("write canonical");
        }
    }
    let path = dir().join("expected.json");
    if !path.exists() {
        let all: Vec<Expected> = computed.iter().map(|(n, e)| expected_of(n, e)).collect();
        let text = serde_json::to_string_pretty(&all).expect("json") + "\n";
        fs::write(&path, text).expect("write expected");
    }
}

/// The README's link formula, written again from its text in Python (hashlib, no plant code):
/// it reads the manifest and the canonical payload files and prints the chain as JSON.
const INDEPENDENT_LINK: &str = r#"
import hashlib, json, pathlib, sys, uuid

d = pathlib.Path(sys.argv[1])
def prefixed(s):
    b = s.encode("utf-8")
    return len(b).to_bytes(4, "big") + b

prev = bytes(32)
out = []
for seq, m in enumerate(json.loads((d / "manifest.json").read_text(encoding="utf-8")), start=1):
    payload = (d / (m["name"] + ".canonical.json")).read_bytes()
    digest = hashlib.sha256(payload).digest()
    link = (b"plant-audit-v1\n" + seq.to_bytes(8, "big") + prev + digest
            + uuid.UUID(m["entity_id"]).bytes + prefixed(m["entity_type"])
            + m["entity_version"].to_bytes(8, "big") + prefixed(m["action"])
            + prefixed(m["actor"]) + prefixed(m["at"]))
    h = hashlib.sha256(link).digest()
    out.append({"name": m["name"], "seq": seq, "prev_hash": prev.hex(),
                "payload_sha256": digest.hex(), "hash": h.hex()})
    prev = h
print(json.dumps(out))
"#;

#[test]
fn expected_links_match_an_independent_implementation_of_the_readme_formula() {
    let run = Command::new("python3")
        .arg("-c")
        .arg(INDEPENDENT_LINK)
        .arg(dir())
        .output();
    let output = match run {
        Ok(output) => output,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("python3 is needed to recompute the golden links (CI=true): {e}")
        }
        Err(e) => {
            eprintln!("skipping the independent recomputation: python3 did not run: {e}");
            return;
        }
    };
    assert!(
        output.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let independent: Vec<Expected> =
        serde_json::from_slice(&output.stdout).expect("the script prints the chain");
    let expected: Vec<Expected> = serde_json::from_str(&read("expected.json")).expect("expected");
    assert_eq!(independent, expected);
}
