//! The OpenAPI document is a reviewed artefact: any change to the API shows up as a diff of
//! `tests/snapshots/openapi.json`. Regenerate with `UPDATE_SNAPSHOTS=1 cargo test -p plant-server --test openapi`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

#[test]
fn openapi_document_matches_the_committed_snapshot() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openapi.json");
    let current = plant_server::routes::document_text();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, current).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != current {
        let first_difference = committed
            .lines()
            .zip(current.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map_or_else(
                || {
                    format!(
                        "the documents differ in length ({} vs {} lines)",
                        committed.lines().count(),
                        current.lines().count()
                    )
                },
                |(i, (a, b))| format!("line {}: snapshot {a:?}, code {b:?}", i + 1),
            );
        panic!(
            "the OpenAPI document changed ({first_difference}).\n\
             If the change is intended, run\n    UPDATE_SNAPSHOTS=1 cargo test -p plant-server --test openapi\n\
             and commit plant-server/tests/snapshots/openapi.json."
        );
    }
}

#[tokio::test]
async fn openapi_json_is_served_and_equals_the_generated_document() {
    let s = common::start().await;
    let r = common::req("GET", "/openapi.json").send(&s).await;
    assert_eq!(r.status, 200);
    let served = r.json();
    let generated: serde_json::Value =
        serde_json::from_str(plant_server::routes::document_text()).unwrap();
    assert_eq!(served, generated);
    assert!(served["paths"]["/health"]["get"].is_object());
}
