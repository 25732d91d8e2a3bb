//! `plant-cli export` and `plant-cli import` against a real PostgreSQL (the command line works
//! on the database only): a round trip into a fresh database gives an identical export.
//!
//! Run with `scripts/test-db.sh run -- cargo test -p plant-cli`. Without `DATABASE_URL` each
//! test prints a skip note and passes, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use support::{TestDb, assert_exit, run, scratch_dir, stderr, stdout};

#[tokio::test]
async fn export_import_into_a_fresh_database_and_export_again_is_identical() {
    let Some(source) = TestDb::create("export_source").await else {
        return;
    };
    assert_exit(&run(&mut source.cli(&["migrate"])), 0);
    assert_exit(&run(&mut source.cli(&["seed"])), 0);
    // The seed creates then certifies: every entity has at least two versions.

    let dir = scratch_dir();
    let first = dir.join("first.json");
    let out = run(&mut source.cli(&["export", "--out", first.to_str().unwrap()]));
    assert_exit(&out, 0);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    assert_eq!(doc["format"], "plant-export-v1");
    let entities = doc["entities"].as_array().unwrap();
    assert!(entities.len() >= 88, "{}", entities.len());
    assert_eq!(
        doc["certifications"].as_array().unwrap().len(),
        entities.len()
    );
    for e in entities {
        let versions = e["versions"].as_array().unwrap();
        assert_eq!(versions.len() as u64, e["version"].as_u64().unwrap());
        assert_eq!(versions.last().unwrap()["entity"]["id"], e["id"]);
    }
    let head = doc["head"]["seq"].as_u64().unwrap();
    assert_eq!(doc["entries"].as_array().unwrap().len() as u64, head);

    let target = TestDb::create("export_target").await.unwrap();
    assert_exit(&run(&mut target.cli(&["migrate"])), 0);
    let imported = run(&mut target.cli(&["import", first.to_str().unwrap()]));
    assert_exit(&imported, 0);
    assert!(
        stdout(&imported).contains(&format!(
            "head seq {head} {}",
            doc["head"]["hash"].as_str().unwrap()
        )),
        "{}",
        stdout(&imported)
    );
    assert_exit(&run(&mut target.cli(&["verify"])), 0);

    let second = run(&mut target.cli(&["export"]));
    assert_exit(&second, 0);
    assert_eq!(
        stdout(&second).trim_end(),
        std::fs::read_to_string(&first).unwrap().trim_end(),
        "the round trip changed the export"
    );

    // Only into an empty store: a second import is refused and changes nothing.
    let again = run(&mut target.cli(&["import", first.to_str().unwrap()]));
    assert_exit(&again, 4);
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    let after = run(&mut target.cli(&["export"]));
    assert_eq!(stdout(&after), stdout(&second));

    // A document whose chain was edited is refused before anything is written.
    let mut edited = doc.clone();
    edited["entries"][3]["actor"] = Value::from("someone else");
    let bad = dir.join("edited.json");
    std::fs::write(&bad, serde_json::to_string(&edited).unwrap()).unwrap();
    let fresh = TestDb::create("export_edited").await.unwrap();
    assert_exit(&run(&mut fresh.cli(&["migrate"])), 0);
    let refused = run(&mut fresh.cli(&["import", bad.to_str().unwrap()]));
    assert_exit(&refused, 4);
    assert!(stderr(&refused).contains("seq 4"), "{}", stderr(&refused));
    let empty = run(&mut fresh.cli(&["export"]));
    let empty: Value = serde_json::from_str(&stdout(&empty)).unwrap();
    assert_eq!(empty["head"]["seq"], 0);

    std::fs::remove_dir_all(&dir).ok();
    source.drop_db().await;
    target.drop_db().await;
    fresh.drop_db().await;
}
