//! Addressable versions and validate-only, over real HTTP (on PostgreSQL when
//! `PLANT_TEST_ADMIN_URL` is set, on the in-memory store otherwise): every kind's versions with
//! their per-entity lineage hashes, 404/422 for unknown or malformed versions, a rewritten entry
//! changing every later lineage hash, `?dry_run=true` on every create and PATCH, and
//! `POST /api/v1/validate`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, admin_url, lineage, req, start, token};
use serde_json::{Value, json};

const COLLECTIONS: [&str; 5] = [
    "/api/v1/industries",
    "/api/v1/genesis/skills",
    "/api/v1/genesis/job-roles",
    "/api/v1/teams",
    "/api/v1/agents",
];

async fn get(s: &TestServer, path: &str) -> Value {
    let r = req("GET", path).send(s).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

/// The first entity of a list, as its own GET shows it (list items are lean).
async fn first(s: &TestServer, path: &str) -> Value {
    let item = get(s, path).await.as_array().unwrap()[0].clone();
    get(s, &format!("{path}/{}", id(&item))).await
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// The chain head `{seq, hash}` as the operator's verification reports it.
async fn head(s: &TestServer) -> Value {
    let r = req("GET", "/api/v1/audit/verify")
        .bearer(&token(s, "operator"))
        .send(s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["ok"], true, "{report}");
    report["head"].clone()
}

async fn patch(s: &TestServer, path: &str, body: &Value) -> Value {
    let current = get(s, path).await;
    let r = req("PATCH", path)
        .bearer(&token(s, "genesis"))
        .header("if-match", &format!("\"v{}\"", current["version"]))
        .json(body)
        .send(s)
        .await;
    assert_eq!(r.status, 200, "PATCH {path}: {}", r.text());
    r.json()
}

/// The entity's own JSON: a read without the additions computed from other entities.
fn own_fields(mut entity: Value) -> Value {
    let map = entity.as_object_mut().unwrap();
    map.remove("industry");
    map.remove("agents");
    entity
}

#[tokio::test]
async fn every_kind_has_its_versions_rebuilt_exactly_with_lineage_hashes() {
    let s = start().await;
    for collection in COLLECTIONS {
        let before = first(&s, collection).await;
        let item = format!("{collection}/{}", id(&before));
        let after = patch(
            &s,
            &item,
            &json!({ "description": "Reworded for versions." }),
        )
        .await;
        let n = after["version"].as_u64().unwrap();
        assert_eq!(n, before["version"].as_u64().unwrap() + 1);

        let versions = get(&s, &format!("{item}/versions")).await;
        let versions = versions.as_array().unwrap();
        assert_eq!(
            versions
                .iter()
                .map(|v| v["version"].as_u64().unwrap())
                .collect::<Vec<_>>(),
            (1..=n).collect::<Vec<_>>(),
            "{collection}"
        );
        let history = get(&s, &format!("{item}/history")).await;
        let entry_hashes: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["hash"].as_str().unwrap())
            .collect();
        let expected = lineage(&entry_hashes);
        for (i, v) in versions.iter().enumerate() {
            assert_eq!(v["hash"], entry_hashes[i], "{collection} v{}", i + 1);
            assert_eq!(v["seq"], history[i]["seq"]);
            assert_eq!(v["lineage_hash"], expected[i], "{collection} v{}", i + 1);
            assert_eq!(v["hash_verified"], true);
        }
        assert!(
            versions
                .windows(2)
                .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64())
        );

        // The latest version is the entity as it is now; the one before, as it was.
        let latest = get(&s, &format!("{item}/versions/{n}")).await;
        assert_eq!(latest["version"], n);
        assert_eq!(latest["hash"], after["version_hash"]);
        assert_eq!(latest["lineage_hash"], expected[expected.len() - 1]);
        assert_eq!(
            latest["entity"],
            own_fields(get(&s, &item).await),
            "{collection}"
        );
        let previous = get(&s, &format!("{item}/versions/{}", n - 1)).await;
        assert_eq!(
            previous["entity"],
            own_fields(before.clone()),
            "{collection}: version {} is not the entity as it was",
            n - 1
        );
        assert_eq!(previous["entity"]["version"], n - 1);
        let v1 = get(&s, &format!("{item}/versions/1")).await;
        assert_eq!(v1["entity"]["version"], 1);
        assert_eq!(v1["seq"], versions[0]["seq"]);
        assert_eq!(v1["entity"]["hash_chain_sha256"], json!([entry_hashes[0]]));
    }
}

#[tokio::test]
async fn unknown_ids_and_versions_are_404_and_malformed_versions_422() {
    let s = start().await;
    for collection in COLLECTIONS {
        let item = format!("{collection}/{}", id(&first(&s, collection).await));
        let unknown = format!("{collection}/{}", uuid::Uuid::new_v4());
        req("GET", &format!("{unknown}/versions"))
            .send(&s)
            .await
            .problem(404);
        req("GET", &format!("{unknown}/versions/1"))
            .send(&s)
            .await
            .problem(404);
        req("GET", &format!("{item}/versions/9999"))
            .send(&s)
            .await
            .problem(404);
        for bad in ["0", "-1", "one", "1.5", "99999999999999999999999"] {
            let p = req("GET", &format!("{item}/versions/{bad}"))
                .send(&s)
                .await
                .problem(422);
            assert!(p["detail"].as_str().unwrap().contains('n'), "{p}");
        }
        req("GET", &format!("{collection}/not-a-uuid/versions/1"))
            .send(&s)
            .await
            .problem(422);
    }
    // An agent's id is not a skill's: versions are per kind, as reads are.
    let agent = first(&s, "/api/v1/agents").await;
    req(
        "GET",
        &format!("/api/v1/genesis/skills/{}/versions", id(&agent)),
    )
    .send(&s)
    .await
    .problem(404);
}

/// Rewrites one audit entry behind the application's back (as the database's superuser, with
/// the append-only triggers off), recomputing its own hash so that it verifies alone.
async fn rewrite_entry(database_url: &str, entry: &plant_core::audit::AuditEntry) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    let sql = format!(
        "update audit_log set payload = '{}', hash = decode('{}', 'hex') where seq = {}",
        entry.payload.replace('\'', "''"),
        entry.hash.to_hex(),
        entry.seq
    );
    for statement in [
        "alter table audit_log disable trigger user".to_owned(),
        sql,
        "alter table audit_log enable trigger user".to_owned(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_rewritten_earlier_version_changes_every_later_lineage_hash() {
    // Over HTTP, only the database can be tampered with; the same property is tested on the
    // in-memory chain in plant-core (catalog::versions). Under CI=true `admin_url` fails when no
    // database is configured, unless the run asked for the memory store (PLANT_TEST_STORE=memory),
    // whose pass follows the PostgreSQL one that runs this.
    if admin_url().is_none() {
        eprintln!("skipping: tampering needs PostgreSQL (PLANT_TEST_ADMIN_URL)");
        return;
    }
    let s = start().await;
    let skill = first(&s, "/api/v1/genesis/skills").await;
    let item = format!("/api/v1/genesis/skills/{}", id(&skill));
    patch(&s, &item, &json!({ "description": "Second wording." })).await;
    patch(&s, &item, &json!({ "description": "Third wording." })).await;
    let before = get(&s, &format!("{item}/versions")).await;
    let before = before.as_array().unwrap().clone();
    let n = before.len();
    assert!(n >= 3);

    // Rewrite version 1's entry: another description, a freshly computed hash.
    let seq = before[0]["seq"].as_u64().unwrap();
    let r = req(
        "GET",
        &format!("/api/v1/audit/export?after={}&limit=1", seq - 1),
    )
    .bearer(&token(&s, "operator"))
    .send(&s)
    .await;
    let mut entry: plant_core::audit::AuditEntry =
        serde_json::from_value(r.json()[0].clone()).unwrap();
    assert_eq!(entry.seq, seq);
    let mut payload: Value = serde_json::from_str(&entry.payload).unwrap();
    payload["description"] = json!("A history that never was.");
    entry.payload = serde_json::to_string(&payload).unwrap();
    entry.hash = entry.compute_hash();
    rewrite_entry(s.database_url.as_deref().unwrap(), &entry).await;

    let after = get(&s, &format!("{item}/versions")).await;
    let after = after.as_array().unwrap();
    assert_eq!(after[0]["hash"], entry.hash.to_hex());
    assert_eq!(
        after[0]["hash_verified"], true,
        "the rewrite is consistent alone"
    );
    for (a, b) in after.iter().zip(&before) {
        assert_ne!(
            a["lineage_hash"], b["lineage_hash"],
            "version {} kept its lineage hash",
            a["version"]
        );
    }
    let v1 = get(&s, &format!("{item}/versions/1")).await;
    assert_eq!(v1["entity"]["description"], "A history that never was.");
    // The global chain names the entry after the rewritten one.
    let r = req("GET", "/api/v1/audit/verify")
        .bearer(&token(&s, "operator"))
        .send(&s)
        .await;
    let report = r.json();
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_break"]["seq"], seq + 1, "{report}");
}

/// A valid create body for each collection, from the seeded catalog, named `name`.
async fn create_body(s: &TestServer, collection: &str, name: &str) -> Value {
    let industry = first(s, "/api/v1/industries").await;
    let skill = first(s, "/api/v1/genesis/skills").await;
    let role = first(s, "/api/v1/genesis/job-roles").await;
    match collection {
        "/api/v1/industries" => json!({ "name": name, "description": "A new industry." }),
        "/api/v1/genesis/skills" => {
            json!({ "name": name, "description": "A new skill.", "category": "technical" })
        }
        "/api/v1/genesis/job-roles" => json!({
            "name": name, "description": "A new role.", "required_skills": [id(&skill)],
            "seniority_level": "mid", "industry_id": id(&industry),
        }),
        "/api/v1/teams" => json!({
            "name": name, "description": "A new team.", "job_role_id": id(&role),
            "industry_id": role["industry_id"].as_str().unwrap_or(id(&industry)),
        }),
        _ => json!({
            "name": name, "description": "A new agent.", "skill_id": id(&skill),
            "job_role_id": id(&role), "industry_id": id(&industry),
        }),
    }
}

#[tokio::test]
async fn dry_runs_on_every_create_and_patch_write_and_append_nothing() {
    let s = start().await;
    let g = token(&s, "genesis");
    let start_head = head(&s).await;
    for collection in COLLECTIONS {
        let body = create_body(&s, collection, "Dry Run Only").await;
        let r = req("POST", &format!("{collection}?dry_run=true"))
            .bearer(&g)
            .json(&body)
            .send(&s)
            .await;
        assert_eq!(r.status, 200, "{collection}: {}", r.text());
        assert_eq!(r.json()["name"], "Dry Run Only");
        assert_eq!(r.json()["version"], 0);
        assert_eq!(r.header("location"), None);
        let all = get(&s, &format!("{collection}?limit=1000")).await;
        assert!(
            all.as_array()
                .unwrap()
                .iter()
                .all(|e| e["name"] != "Dry Run Only"),
            "{collection}: the dry run created it"
        );
        let mut invalid = body.clone();
        invalid["name"] = json!("   ");
        let p = req("POST", &format!("{collection}?dry_run=true"))
            .bearer(&g)
            .json(&invalid)
            .send(&s)
            .await
            .problem(422);
        assert!(
            p["violations"].as_array().is_some_and(|v| !v.is_empty()),
            "{p}"
        );

        let existing = first(&s, collection).await;
        let item = format!("{collection}/{}", id(&existing));
        let r = req("PATCH", &format!("{item}?dry_run=true"))
            .bearer(&g)
            .header("if-match", &format!("\"v{}\"", existing["version"]))
            .json(&json!({ "description": "Only maybe." }))
            .send(&s)
            .await;
        assert_eq!(r.status, 200, "{collection}: {}", r.text());
        assert_eq!(r.json()["description"], "Only maybe.");
        let now = get(&s, &item).await;
        assert_eq!(now["version"], existing["version"]);
        assert_eq!(now["description"], existing["description"]);
        req("PATCH", &format!("{item}?dry_run=true"))
            .bearer(&g)
            .header("if-match", &format!("\"v{}\"", existing["version"]))
            .json(&json!({ "name": "" }))
            .send(&s)
            .await
            .problem(422);
        assert_eq!(
            head(&s).await,
            start_head,
            "{collection}: a dry run appended"
        );
    }
}

#[tokio::test]
async fn validate_answers_the_would_be_entity_or_every_violation_and_writes_nothing() {
    let s = start().await;
    let g = token(&s, "genesis");
    let start_head = head(&s).await;
    let spellings = [
        ("/api/v1/industries", "industries"),
        ("/api/v1/genesis/skills", "Skill"),
        ("/api/v1/genesis/job-roles", "job_role"),
        ("/api/v1/teams", "TEAMS"),
        ("/api/v1/agents", "agent"),
    ];
    for (collection, entity_type) in spellings {
        let entity = create_body(&s, collection, "Validated Only").await;
        let r = req("POST", "/api/v1/validate")
            .bearer(&g)
            .json(&json!({ "entity_type": entity_type, "entity": entity }))
            .send(&s)
            .await;
        assert_eq!(r.status, 200, "{entity_type}: {}", r.text());
        let body = r.json();
        assert_eq!(body["valid"], true);
        assert_eq!(body["entity"]["name"], "Validated Only");
        assert_eq!(body["entity"]["version"], 0);
        let kind = body["entity_type"].as_str().unwrap();
        assert_eq!(body["entity"]["entity_type"], kind);

        let mut invalid = entity.clone();
        invalid["name"] = json!("");
        invalid["description"] = json!(null);
        let p = req("POST", "/api/v1/validate")
            .bearer(&g)
            .json(&json!({ "entity_type": entity_type, "entity": invalid }))
            .send(&s)
            .await
            .problem(422);
        let errors = p["errors"].as_array().unwrap();
        assert!(!errors.is_empty(), "{p}");
        assert!(errors.iter().all(|v| v["rule"].is_string()), "{p}");
    }
    // A taken name is the create's 409; an unknown kind, or no entity object, 422.
    let taken = first(&s, "/api/v1/genesis/skills").await;
    req("POST", "/api/v1/validate")
        .bearer(&g)
        .json(&json!({ "entity_type": "skill", "entity": {
            "name": taken["name"], "description": "d", "category": "technical" } }))
        .send(&s)
        .await
        .problem(409);
    req("POST", "/api/v1/validate")
        .bearer(&g)
        .json(&json!({ "entity_type": "robot", "entity": {} }))
        .send(&s)
        .await
        .problem(422);
    req("POST", "/api/v1/validate")
        .bearer(&g)
        .json(&json!({ "entity_type": "trial", "entity": {} }))
        .send(&s)
        .await
        .problem(422);
    req("POST", "/api/v1/validate")
        .bearer(&g)
        .json(&json!({ "entity_type": "skill", "entity": [1] }))
        .send(&s)
        .await
        .problem(422);
    req("POST", "/api/v1/validate")
        .json(&json!({ "entity_type": "skill", "entity": {} }))
        .send(&s)
        .await
        .problem(401);
    req("POST", "/api/v1/validate")
        .bearer(&token(&s, "customer"))
        .json(&json!({ "entity_type": "skill", "entity": {} }))
        .send(&s)
        .await
        .problem(403);
    assert_eq!(head(&s).await, start_head, "validate appended to the chain");

    // What validate accepted, the real create accepts.
    let entity = create_body(&s, "/api/v1/genesis/job-roles", "Validated Then Made").await;
    let r = req("POST", "/api/v1/validate")
        .bearer(&g)
        .json(&json!({ "entity_type": "JobRole", "entity": entity }))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let made = req("POST", "/api/v1/genesis/job-roles")
        .bearer(&g)
        .json(&entity)
        .send(&s)
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(
        made.json()["required_skills"],
        r.json()["entity"]["required_skills"]
    );
}
