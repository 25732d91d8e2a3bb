//! The transparency log over HTTP: the signed C2SP checkpoint exactly as stored, an inclusion
//! proof for every entry that verifies against the signed root, consistency proofs for every
//! older size, versions that link to their proof, and clear errors for proofs that cannot exist.
#![allow(clippy::unwrap_used)]

mod common;

use common::{req, start, token};
use plant_core::Timestamp;
use plant_core::audit::{ConsistencyProof, InclusionProof, NoteSigner, SigType, TransparencyLog};
use serde_json::{Value, json};

#[tokio::test]
async fn the_signed_root_proves_every_entry_and_every_older_tree() {
    let server = start().await;
    req("GET", "/api/v1/audit/checkpoint")
        .send(&server)
        .await
        .problem(404);

    let genesis = token(&server, "genesis");
    let mut skill = Value::Null;
    for i in 0..3 {
        let r = req("POST", "/api/v1/genesis/skills")
            .bearer(&genesis)
            .json(&json!({"name": format!("Proof Skill {i}"), "description": "proved", "category": "technical"}))
            .send(&server)
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        skill = r.json();
    }

    // A checkpoint signed the way `plant-cli checkpoint` signs one, through the server's store.
    let store = server.state.catalog().store().clone();
    let log = NoteSigner::new("localhost/plant-test", SigType::Ed25519, &[7; 32]).unwrap();
    let signed = TransparencyLog::new()
        .checkpoint(store.as_ref(), &log, Timestamp::now())
        .await
        .unwrap();
    let size = signed.tree_size;
    assert!(size >= 3);

    let r = req("GET", "/api/v1/audit/checkpoint").send(&server).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), signed.note);

    let entries = store.audit_entries(0, size).await.unwrap();
    assert_eq!(entries.len() as u64, size);
    for entry in &entries {
        let r = req(
            "GET",
            &format!(
                "/api/v1/audit/proof/inclusion?seq={}&size={size}",
                entry.seq
            ),
        )
        .send(&server)
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        let proof: InclusionProof = serde_json::from_slice(&r.body).unwrap();
        assert!(
            proof.verifies_entry(entry, &signed.root),
            "seq {}",
            entry.seq
        );
        // The same proof does not vouch for a changed entry.
        let mut forged = entry.clone();
        forged.actor.push('!');
        forged.hash = forged.compute_hash();
        assert!(!proof.verifies_entry(&forged, &signed.root));
    }

    let roots = TransparencyLog::new();
    for from in 1..=size {
        let r = req(
            "GET",
            &format!("/api/v1/audit/proof/consistency?from={from}&to={size}"),
        )
        .send(&server)
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let proof: ConsistencyProof = serde_json::from_slice(&r.body).unwrap();
        let from_root = roots.root_at(store.as_ref(), from).await.unwrap();
        assert!(proof.verifies(&from_root, &signed.root), "from {from}");
        if from < size {
            let other = roots.root_at(store.as_ref(), from + 1).await.unwrap();
            assert!(
                !proof.verifies(&other, &signed.root),
                "from {from} with a wrong root"
            );
        }
    }

    // A version names the proof of its entry against the signed tree.
    let id = skill["id"].as_str().unwrap();
    let r = req("GET", &format!("/api/v1/genesis/skills/{id}/versions/1"))
        .send(&server)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let version = r.json();
    let link = version["inclusion_proof"].as_str().unwrap();
    assert_eq!(
        link,
        format!(
            "/api/v1/audit/proof/inclusion?seq={}&size={size}",
            version["seq"]
        )
    );
    let r = req("GET", link).send(&server).await;
    let proof: InclusionProof = serde_json::from_slice(&r.body).unwrap();
    let entry = entries
        .iter()
        .find(|e| Some(e.seq) == version["seq"].as_u64())
        .unwrap();
    assert!(proof.verifies_entry(entry, &signed.root));
}

#[tokio::test]
async fn proofs_that_cannot_exist_are_422_and_proofs_of_a_future_tree_are_404() {
    let server = start().await;
    let head = server.state.catalog().store().head().await.unwrap().seq;
    assert!(head >= 2, "the seeded catalog has entries");
    for path in [
        "/api/v1/audit/proof/inclusion?seq=0&size=1".to_owned(),
        "/api/v1/audit/proof/inclusion?seq=3&size=2".to_owned(),
        "/api/v1/audit/proof/inclusion?seq=abc&size=2".to_owned(),
        "/api/v1/audit/proof/inclusion?seq=1".to_owned(),
        "/api/v1/audit/proof/consistency?from=3&to=2".to_owned(),
        "/api/v1/audit/proof/consistency?to=2".to_owned(),
    ] {
        let r = req("GET", &path).send(&server).await;
        let problem = r.problem(422);
        assert_ne!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{path}: {problem}"
        );
    }
    for path in [
        format!("/api/v1/audit/proof/inclusion?seq=1&size={}", head + 10),
        format!("/api/v1/audit/proof/consistency?from=1&to={}", head + 10),
    ] {
        req("GET", &path).send(&server).await.problem(404);
    }
}
