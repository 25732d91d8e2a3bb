//! `plant-cli revalidate` against a real PostgreSQL (the command line works on the database
//! only), each test in a database of its own.
//!
//! Run with `scripts/test-db.sh run -- cargo test -p plant-cli`. Without `DATABASE_URL` each
//! test prints a skip note and passes, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use plant_core::Catalog;
use plant_core::model::{Alignment, CertificationState, Kind};
use plant_core::search::HashingEmbedder;
use plant_core::store::postgres::{PgConfig, PgStore};
use serde_json::{Map, Value, json};
use support::{TestDb, assert_exit, run, stdout};

async fn catalog(db: &TestDb) -> Catalog {
    let store = PgStore::connect(&PgConfig::new(db.url.clone()))
        .await
        .unwrap();
    Catalog::new(Arc::new(store), Arc::new(HashingEmbedder))
}

fn report(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[tokio::test]
async fn revalidate_sends_what_no_longer_passes_to_review_and_dry_run_writes_nothing() {
    let Some(db) = TestDb::create("revalidate").await else {
        return;
    };
    assert_exit(&run(&mut db.cli(&["migrate"])), 0);
    assert_exit(&run(&mut db.cli(&["seed"])), 0);
    let c = catalog(&db).await;

    // Everything the seed certified still passes.
    let clean = run(&mut db.cli(&["revalidate", "--dry-run", "--json"]));
    assert_exit(&clean, 0);
    let clean = report(&clean);
    assert_eq!(clean["rule_set"], "plant-rules-v1");
    assert!(clean["checked"].as_u64().unwrap() > 0);
    assert_eq!(clean["checked"], clean["still_certified"]);
    assert_eq!(clean["sent_to_review"], 0);

    // Rewording a certified skill takes it out of certification, so the certified job role
    // that requires it no longer meets L1-JOBROLE-06.
    let seo = c
        .store()
        .get_by_name(Kind::Skill, "SEO")
        .await
        .unwrap()
        .unwrap();
    let mut patch = Map::new();
    patch.insert("description".into(), json!("Reworded: gets pages found."));
    c.evolve(Kind::Skill, seo.id(), &patch, seo.version(), "test")
        .await
        .unwrap();
    let role = c
        .store()
        .get_by_name(Kind::JobRole, "SEO Specialist")
        .await
        .unwrap()
        .unwrap();
    let head = c.store().head().await.unwrap();

    let dry = run(&mut db.cli(&["revalidate", "--dry-run", "--json"]));
    assert_exit(&dry, 1);
    let dry = report(&dry);
    assert_eq!(dry["dry_run"], true);
    let failing = dry["sent_to_review"].as_u64().unwrap();
    assert!(failing >= 1, "{dry}");
    let entities = dry["entities"].as_array().unwrap();
    let listed = entities
        .iter()
        .find(|e| e["id"] == json!(role.id()))
        .unwrap_or_else(|| panic!("the job role is not listed: {dry}"));
    assert!(
        listed["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["rule"] == "L1-JOBROLE-06"),
        "{listed}"
    );
    assert_eq!(c.store().head().await.unwrap(), head, "a dry run appended");

    let real = run(&mut db.cli(&["revalidate", "--actor", "rules-bot"]));
    assert_exit(&real, 0);
    let text = stdout(&real);
    assert!(
        text.contains(&format!("sent to review {failing}")),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("JobRole {}: ", role.id())))
        .unwrap_or_else(|| panic!("the job role is not listed: {text}"));
    assert!(line.contains("L1-JOBROLE-06"), "{line}");
    assert_eq!(c.store().head().await.unwrap().seq, head.seq + failing);
    let after = c.get(Kind::JobRole, role.id()).await.unwrap();
    let base = after.base().unwrap();
    // Its own content still passes; only the ground moved under it (its skill left
    // certification), which is what `drifted` means.
    assert_eq!(base.amendment_alignment, Alignment::Drifted);
    assert_eq!(base.certification.status, CertificationState::Pending);
    let last = c.history(Kind::JobRole, role.id()).await.unwrap();
    let last = last.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("revalidate", "rules-bot")
    );
    assert_exit(&run(&mut db.cli(&["verify"])), 0);

    // What was sent to review is no longer certified: a second run finds nothing to do.
    let again = run(&mut db.cli(&["revalidate", "--json"]));
    assert_exit(&again, 0);
    assert_eq!(report(&again)["sent_to_review"], 0);
    drop(c);
    db.drop_db().await;
}

#[test]
fn revalidate_without_a_database_is_a_usage_error() {
    let out = run(&mut support::cli(&["revalidate"]));
    assert_exit(&out, 2);
}
