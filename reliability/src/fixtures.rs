//! Catalog data the scenarios act on.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::client::req;

/// The items of a list endpoint (first page, up to 1000).
pub async fn list(addr: SocketAddr, path: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = req("GET", &format!("{path}{sep}limit=1000")).ok(addr).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json().as_array().cloned().unwrap_or_default()
}

/// The ids of the active agents.
pub async fn agent_ids(addr: SocketAddr) -> Vec<String> {
    list(addr, "/api/v1/agents")
        .await
        .iter()
        .filter(|a| a["status"] == "active")
        .filter_map(|a| a["id"].as_str().map(str::to_owned))
        .collect()
}

/// A new skill's body, named `name`.
pub fn skill_body(name: &str) -> Value {
    json!({ "name": name, "description": format!("{name}: a skill made by the suite"),
            "category": "technical" })
}

/// A trial booking's body for `agent_id` and `email`.
pub fn trial_body(agent_id: &str, email: &str) -> Value {
    json!({ "agent_id": agent_id, "customer_name": "Suite Customer", "customer_email": email,
            "company": "Suite Ltd" })
}

/// Reads the chain's `GET /api/v1/audit/verify` report with an operator token.
pub async fn verify_report(addr: SocketAddr, secret: &str) -> Value {
    let r = req("GET", "/api/v1/audit/verify")
        .bearer(&crate::token::role(secret, "operator"))
        .ok(addr)
        .await;
    assert_eq!(r.status, 200, "GET /api/v1/audit/verify: {}", r.text());
    r.json()
}

/// A seeded catalog to attack: PostgreSQL (a database of its own) when `DATABASE_URL` is set,
/// else the in-memory store. Returns the server and the database to drop afterwards.
pub async fn seeded_server(
    options: crate::server::Options,
) -> (crate::server::Server, Option<crate::db::TestDb>) {
    let has_db = std::env::var("DATABASE_URL").is_ok_and(|u| !u.trim().is_empty());
    if !has_db {
        return (crate::server::Server::start(options), None);
    }
    let db = crate::db::TestDb::migrated("seeded_server")
        .await
        .expect("DATABASE_URL is set");
    crate::cli::seed(&db.url);
    let mut options = options;
    options.database_url = Some(db.url.clone());
    (crate::server::Server::start(options), Some(db))
}

/// The chain's head as `GET /api/v1/audit/verify` reports it, asserting it verifies.
pub async fn verified_head(addr: SocketAddr, secret: &str) -> Value {
    let report = verify_report(addr, secret).await;
    assert_eq!(report["ok"], true, "the chain does not verify: {report}");
    report["head"].clone()
}
