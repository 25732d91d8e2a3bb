//! The README's curl walk-through, step by step, so the documented commands stay true.
#![allow(clippy::unwrap_used)]

mod common;

use common::{req, start, token};
use serde_json::json;

#[tokio::test]
async fn the_readme_walkthrough_works_as_written() {
    let s = start().await;
    let g = token(&s, "genesis");
    let op = token(&s, "operator");

    let health = req("GET", "/health").send(&s).await;
    assert_eq!(health.json(), json!({ "status": "ok" }));

    let agents = req("GET", "/api/v1/agents?industry=MARKETING&limit=2")
        .send(&s)
        .await
        .json();
    assert_eq!(agents.as_array().unwrap().len(), 2);
    assert_eq!(agents[0]["industry"], "marketing");
    assert!(agents[0]["description"].is_string());
    let agent = agents[0]["id"].as_str().unwrap().to_owned();

    let body = json!({ "name": "Technical SEO", "description": "Crawlability and structured data", "category": "technical" });
    let created = req("POST", "/api/v1/genesis/skills")
        .bearer(&g)
        .json(&body)
        .send(&s)
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("etag"), Some("\"v1\""));
    assert!(created.header("location").is_some());
    let id = created.json()["id"].as_str().unwrap().to_owned();

    let certified = req("POST", &format!("/api/v1/genesis/skills/{id}/certify"))
        .bearer(&g)
        .send(&s)
        .await;
    assert_eq!(certified.status, 200, "{}", certified.text());
    assert_eq!(certified.json()["certification"]["status"], "certified");
    assert_eq!(certified.header("etag"), Some("\"v2\""));

    let evolved = req("PATCH", &format!("/api/v1/genesis/skills/{id}"))
        .bearer(&g)
        .header("if-match", "\"v2\"")
        .json(&json!({ "description": "Sharper" }))
        .send(&s)
        .await;
    assert_eq!(evolved.status, 200, "{}", evolved.text());
    let evolved = evolved.json();
    assert_eq!(evolved["version"], 3);
    assert_eq!(evolved["certification"]["status"], "pending_certification");

    let history = req("GET", &format!("/api/v1/genesis/skills/{id}/history"))
        .send(&s)
        .await
        .json();
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "certify", "update"]);
    assert_eq!(history[1]["prev_hash"].as_str().unwrap().len(), 64);

    let trial = json!({ "agent_id": agent, "customer_name": "Dana", "customer_email": "dana@example.com", "company": "Reyes Ltd" });
    let booked = req("POST", "/api/v1/trials").json(&trial).send(&s).await;
    assert_eq!(booked.status, 201, "{}", booked.text());
    assert_eq!(booked.json()["days_remaining"], 7);

    let audit = req("POST", "/api/v1/audit/run").bearer(&op).send(&s).await;
    assert_eq!(audit.status, 200);
    let verify = req("GET", "/api/v1/audit/verify")
        .bearer(&op)
        .send(&s)
        .await
        .json();
    assert_eq!(verify["ok"], true, "{verify}");
}
