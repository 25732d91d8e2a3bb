//! Precedent seeds and batch certification over real HTTP, on the in-memory store (or
//! PostgreSQL under `scripts/test-db.sh run`).
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, req, start, token};
use serde_json::{Value, json};

fn genesis(s: &TestServer) -> String {
    token(s, "genesis")
}

async fn post(s: &TestServer, path: &str, body: &Value, status: u16) -> Value {
    let r = req("POST", path)
        .bearer(&genesis(s))
        .json(body)
        .send(s)
        .await;
    assert_eq!(r.status, status, "POST {path}: {}", r.text());
    r.json()
}

async fn get(s: &TestServer, path: &str) -> Value {
    let r = req("GET", path).send(s).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

fn seed(id: &str, title: &str, content: &str) -> Value {
    json!({ "seed_id": id, "title": title, "content": content, "applies_to": ["agent"] })
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["seed_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn verify_ok(s: &TestServer) {
    let r = req("GET", "/api/v1/audit/verify")
        .bearer(&token(s, "operator"))
        .send(s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ok"], json!(true), "{}", r.text());
}

#[tokio::test]
async fn lineage_after_two_supersessions_and_only_the_newest_can_be_superseded() {
    let s = start().await;
    let a = post(
        &s,
        "/api/v1/precedents",
        &seed(
            "H-1",
            "Trial refunds",
            "Refunds within thirty days of a trial.",
        ),
        201,
    )
    .await;
    assert_eq!(a["status"], "active");
    let b = post(
        &s,
        "/api/v1/precedents/H-1/supersede",
        &seed(
            "H-2",
            "Trial refunds, shorter",
            "Refunds within fourteen days.",
        ),
        201,
    )
    .await;
    assert_eq!(b["supersedes"], "H-1");
    assert_eq!(b["superseded"]["status"], "superseded");
    post(
        &s,
        "/api/v1/precedents/H-2/supersede",
        &seed(
            "H-3",
            "Trial refunds, shortest",
            "Refunds within seven days.",
        ),
        201,
    )
    .await;

    let first = get(&s, "/api/v1/precedents/h-1").await;
    assert_eq!(first["status"], "superseded");
    assert_eq!(first["superseded_by"], "H-2");
    assert_eq!(ids(&first["lineage"]["older"]), Vec::<String>::new());
    assert_eq!(ids(&first["lineage"]["newer"]), ["H-2", "H-3"]);
    let middle = get(&s, "/api/v1/precedents/H-2").await;
    assert_eq!(ids(&middle["lineage"]["older"]), ["H-1"]);
    assert_eq!(ids(&middle["lineage"]["newer"]), ["H-3"]);
    let last = get(&s, "/api/v1/precedents/H-3").await;
    assert_eq!(ids(&last["lineage"]["older"]), ["H-1", "H-2"]);

    // Superseding an old seed again would fork the lineage; naming the new seed after one in
    // the lineage (or after itself) would loop it. All are refused, and nothing changes.
    let again = req("POST", "/api/v1/precedents/H-1/supersede")
        .bearer(&genesis(&s))
        .json(&seed("H-4", "x", "y"))
        .send(&s)
        .await;
    again.problem(409);
    let cycle = req("POST", "/api/v1/precedents/H-3/supersede")
        .bearer(&genesis(&s))
        .json(&seed("H-1", "loop", "back to the start"))
        .send(&s)
        .await;
    cycle.problem(422);
    let own = req("POST", "/api/v1/precedents/H-3/supersede")
        .bearer(&genesis(&s))
        .json(&seed("H-3", "itself", "supersedes itself"))
        .send(&s)
        .await;
    own.problem(422);
    assert_eq!(get(&s, "/api/v1/precedents/H-3").await["status"], "active");
    assert_eq!(
        get(&s, "/api/v1/precedents/H-3").await["superseded_by"],
        Value::Null
    );
    verify_ok(&s).await;
}

#[tokio::test]
async fn near_duplicates_are_reported_and_held_for_review_unrelated_seeds_are_not() {
    let s = start().await;
    let near = post(
        &s,
        "/api/v1/precedents",
        &seed(
            "PS-101",
            "An agent's skill belongs to its job role",
            "An agent is certified only when its skill is one of the skills its job role requires.",
        ),
        201,
    )
    .await;
    assert_eq!(ids(&near["possible_conflicts"]), ["PS-001"]);
    assert!(near["possible_conflicts"][0]["score"].as_f64().unwrap() > 0.7);
    assert_eq!(near["status"], "pending_review");

    let unrelated = post(
        &s,
        "/api/v1/precedents",
        &seed(
            "PS-102",
            "Trial deliverables are kept",
            "Whatever an agent delivers during a trial stays available to the customer afterwards.",
        ),
        201,
    )
    .await;
    assert_eq!(unrelated["possible_conflicts"], json!([]));
    assert_eq!(unrelated["status"], "active");

    let mut acknowledged = seed(
        "PS-103",
        "Industry locking",
        "An agent serves the industry it was created for. Its industry is fixed once set.",
    );
    acknowledged["acknowledge_conflicts"] = json!(true);
    let ack = post(&s, "/api/v1/precedents", &acknowledged, 201).await;
    assert_eq!(ids(&ack["possible_conflicts"]), ["PS-004"]);
    assert_eq!(ack["status"], "active");

    let approved = post(&s, "/api/v1/precedents/PS-101/approve", &json!({}), 200).await;
    assert_eq!(approved["status"], "active");

    // Reading and querying are public; writing is not.
    let found = req("POST", "/api/v1/precedents/query")
        .json(&json!({ "text": "trial deliverables for the customer", "k": 2 }))
        .send(&s)
        .await;
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(found.json()["results"][0]["seed_id"], "PS-102");
    assert!(
        found.json()["results"][0]["score"].as_f64().unwrap()
            > found.json()["results"][1]["score"].as_f64().unwrap()
    );
    let active = get(&s, "/api/v1/precedents?status=active").await;
    assert!(ids(&active).contains(&"PS-102".to_owned()));
    let anonymous = req("POST", "/api/v1/precedents")
        .json(&seed("PS-104", "t", "c"))
        .send(&s)
        .await;
    anonymous.problem(401);
    let customer = req("POST", "/api/v1/precedents")
        .bearer(&token(&s, "customer"))
        .json(&seed("PS-104", "t", "c"))
        .send(&s)
        .await;
    customer.problem(403);
    verify_ok(&s).await;
}

#[tokio::test]
async fn certification_records_the_precedents_it_applied_in_the_audit_entry() {
    let s = start().await;
    let agents = get(&s, "/api/v1/agents?limit=1").await;
    let agent = &agents[0];
    let id = agent["id"].as_str().unwrap();
    let mut cited: Vec<String> =
        serde_json::from_value(agent["certification"]["precedents"].clone()).unwrap();
    cited.sort();
    assert_eq!(cited, ["PS-001", "PS-004", "PS-005"]);

    let again = post(
        &s,
        "/api/v1/genesis/certify",
        &json!({ "entity_type": "agent", "entity_id": id }),
        200,
    )
    .await;
    let precedents = again["certification"]["precedents"].clone();
    assert_eq!(precedents.as_array().unwrap().len(), 3);
    let shown = get(&s, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(shown["certification"]["precedents"], precedents);

    let history = get(&s, &format!("/api/v1/agents/{id}/history")).await;
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "certify");
    let export = req("GET", "/api/v1/audit/export?limit=1000")
        .bearer(&token(&s, "operator"))
        .send(&s)
        .await;
    assert_eq!(export.status, 200, "{}", export.text());
    let text = export.text();
    let entry: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .flat_map(|v| match v {
            Value::Array(items) => items,
            other => vec![other],
        })
        .chain(
            serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("entries").cloned())
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default(),
        )
        .find(|e| e["hash"] == last["hash"])
        .expect("the certification's entry is exported");
    let payload: Value = match &entry["payload"] {
        Value::String(p) => serde_json::from_str(p).unwrap(),
        other => other.clone(),
    };
    assert_eq!(payload["certification"]["precedents"], precedents);
    verify_ok(&s).await;
}

#[tokio::test]
async fn a_batch_of_fifty_mixed_items_gives_a_result_each_and_fifty_one_is_422() {
    let s = start().await;
    let skills = get(&s, "/api/v1/genesis/skills").await;
    let skills = skills.as_array().unwrap();
    let mut items = Vec::new();
    for i in 0..50 {
        items.push(match i % 3 {
            0 => json!({ "entity_type": "skill", "entity_id": skills[i % skills.len()]["id"] }),
            1 => json!({ "entity_type": "skill", "entity_id": uuid::Uuid::new_v4().to_string() }),
            _ => json!({ "entity_type": "trial", "entity_id": "not-an-id" }),
        });
    }
    let results = post(&s, "/api/v1/genesis/certify/batch", &json!(items), 200).await;
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 50);
    for (i, r) in results.iter().enumerate() {
        match i % 3 {
            0 => {
                assert_eq!(r["status"], "certified", "{r}");
                assert_eq!(r["certified"], true);
            }
            1 => assert_eq!(r["error"]["status"], 404, "{r}"),
            _ => assert_eq!(r["error"]["status"], 422, "{r}"),
        }
    }
    items.push(items[0].clone());
    let too_many = req("POST", "/api/v1/genesis/certify/batch")
        .bearer(&genesis(&s))
        .json(&json!(items))
        .send(&s)
        .await;
    too_many.problem(422);
    verify_ok(&s).await;
}
