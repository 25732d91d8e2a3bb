//! `?dry_run=true` on every write beyond catalog create and PATCH, over real HTTP (on
//! PostgreSQL under `scripts/test-db.sh run`, on the in-memory store otherwise): certify by path
//! and by body, batch certify, DELETE (archive, then delete), assign-team, trial book, patch and
//! cancel, job create and patch, precedent create, supersede and approve. Each write is sent
//! twice, first as a dry run and then for real: the dry run leaves the chain head where it was,
//! and answers what the real write then answers (200 with the same result, up to what only a
//! commit gives: ids, versions, hashes and times), or exactly the same problem.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Reply, TestServer, claims, mint, req, start, token};
use serde_json::{Value, json};

/// What only a commit gives a record (or the clock at the moment of the write).
const COMMITTED: [&str; 13] = [
    "version",
    "version_hash",
    "created_at",
    "updated_at",
    "start_date",
    "end_date",
    "certified_at",
    "deleted_at",
    "started_at",
    "finished_at",
    "hash_chain_sha256",
    "amendment_history",
    "days_remaining",
];

/// `value` without the fields only a commit gives; with `fresh`, without ids too (a create's
/// record gets a new id each time).
fn stable(value: &Value, fresh: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !(COMMITTED.contains(&k.as_str()) || fresh && *k == "id"))
                .map(|(k, v)| (k.clone(), stable(v, fresh)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| stable(v, fresh)).collect()),
        other => other.clone(),
    }
}

/// The chain head `{seq, hash}` as the operator's verification reports it.
async fn head(s: &TestServer) -> Value {
    let r = req("GET", "/api/v1/audit/verify")
        .bearer(&token(s, "operator"))
        .send(s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["head"].clone()
}

/// One write: how to send it.
struct Write<'a> {
    method: &'a str,
    path: String,
    bearer: Option<String>,
    body: Option<Value>,
    if_match: Option<String>,
}

impl<'a> Write<'a> {
    fn new(method: &'a str, path: impl Into<String>, bearer: Option<&str>) -> Self {
        Self {
            method,
            path: path.into(),
            bearer: bearer.map(str::to_owned),
            body: None,
            if_match: None,
        }
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn if_match(mut self, version: &Value) -> Self {
        self.if_match = Some(format!("\"v{version}\""));
        self
    }

    async fn send(&self, s: &TestServer, dry: bool) -> Reply {
        let sep = if self.path.contains('?') { '&' } else { '?' };
        let path = if dry {
            format!("{}{sep}dry_run=true", self.path)
        } else {
            self.path.clone()
        };
        let mut r = req(self.method, &path);
        if let Some(t) = &self.bearer {
            r = r.bearer(t);
        }
        if let Some(v) = &self.if_match {
            r = r.header("if-match", v);
        }
        if let Some(b) = &self.body {
            r = r.json(b);
        }
        r.send(s).await
    }

    /// Sends the dry run (the head must not move), then the real write; returns both.
    async fn twice(&self, s: &TestServer) -> (Reply, Reply) {
        let before = head(s).await;
        let dry = self.send(s, true).await;
        assert_eq!(
            head(s).await,
            before,
            "{} {}: the dry run appended ({})",
            self.method,
            self.path,
            dry.text()
        );
        let real = self.send(s, false).await;
        (dry, real)
    }

    /// The dry run answers 200 with what the real write then answers (`real_status`); the
    /// real write's body.
    async fn same_result(&self, s: &TestServer, real_status: u16, fresh: bool) -> Value {
        let (dry, real) = self.twice(s).await;
        let what = format!("{} {}", self.method, self.path);
        assert_eq!(dry.status, 200, "{what} (dry): {}", dry.text());
        assert_eq!(dry.header("location"), None, "{what}");
        assert_eq!(real.status, real_status, "{what}: {}", real.text());
        if real_status == 204 {
            return dry.json();
        }
        assert_eq!(
            stable(&dry.json(), fresh),
            stable(&real.json(), fresh),
            "{what}: the dry run answered another result"
        );
        real.json()
    }

    /// The dry run answers exactly the problem the real write answers, with `status`.
    async fn same_problem(&self, s: &TestServer, status: u16) -> Value {
        let (dry, real) = self.twice(s).await;
        let what = format!("{} {}", self.method, self.path);
        let (d, r) = (dry.problem(status), real.problem(status));
        for field in ["type", "title", "status", "detail", "violations", "errors"] {
            assert_eq!(d[field], r[field], "{what}: {field} differs");
        }
        r
    }
}

async fn get(s: &TestServer, path: &str, bearer: Option<&str>) -> Value {
    let mut r = req("GET", path);
    if let Some(t) = bearer {
        r = r.bearer(t);
    }
    let r = r.send(s).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

async fn first(s: &TestServer, path: &str) -> Value {
    get(s, path, None).await.as_array().unwrap()[0].clone()
}

async fn create(s: &TestServer, path: &str, body: Value) -> Value {
    let r = req("POST", path)
        .bearer(&token(s, "genesis"))
        .json(&body)
        .send(s)
        .await;
    assert_eq!(r.status, 201, "POST {path}: {}", r.text());
    r.json()
}

#[tokio::test]
async fn certify_by_path_by_body_and_in_batches_dry_runs_record_nothing() {
    let s = start().await;
    let g = token(&s, "genesis");
    let skill = create(
        &s,
        "/api/v1/genesis/skills",
        json!({ "name": "Dry Certified Skill", "description": "new", "category": "technical" }),
    )
    .await;
    let sid = skill["id"].as_str().unwrap();
    let certified = Write::new(
        "POST",
        format!("/api/v1/genesis/skills/{sid}/certify"),
        Some(&g),
    )
    .same_result(&s, 200, false)
    .await;
    assert_eq!(certified["certification"]["status"], "certified");

    // A role needing an uncertified skill: the dry run answers the same 422, and records no
    // rejection (the real one does).
    let fresh = create(
        &s,
        "/api/v1/genesis/skills",
        json!({ "name": "Dry Fresh Skill", "description": "new", "category": "soft_skill" }),
    )
    .await;
    let role = create(
        &s,
        "/api/v1/genesis/job-roles",
        json!({ "name": "Dry Fresh Role", "description": "d",
                "required_skills": [fresh["id"]], "seniority_level": "junior" }),
    )
    .await;
    let rid = role["id"].as_str().unwrap();
    let body = json!({ "entity_type": "job_role", "entity_id": rid });
    let p = Write::new("POST", "/api/v1/genesis/certify", Some(&g))
        .json(body.clone())
        .same_problem(&s, 422)
        .await;
    assert!(
        p["type"].as_str().unwrap().contains("constitutional"),
        "{p}"
    );
    let stored = get(&s, &format!("/api/v1/genesis/job-roles/{rid}"), None).await;
    assert_eq!(stored["certification"]["status"], "rejected");
    assert_eq!(stored["version"], 2, "one create, one real rejection");

    let unknown = json!({ "entity_type": "skill", "entity_id": uuid::Uuid::new_v4().to_string() });
    Write::new("POST", "/api/v1/genesis/certify", Some(&g))
        .json(unknown)
        .same_problem(&s, 404)
        .await;
    Write::new("POST", "/api/v1/genesis/certify", Some(&g))
        .json(json!({ "entity_type": "planet", "entity_id": rid }))
        .same_problem(&s, 422)
        .await;

    let batch = json!([
        { "entity_type": "skill", "entity_id": sid },
        { "entity_type": "job_role", "entity_id": rid },
        { "entity_type": "agent", "entity_id": uuid::Uuid::new_v4().to_string() },
    ]);
    let results = Write::new("POST", "/api/v1/genesis/certify/batch", Some(&g))
        .json(batch)
        .same_result(&s, 200, false)
        .await;
    let statuses: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["certified", "rejected", "error"]);
    let p = req("POST", "/api/v1/genesis/certify?dry_run=maybe")
        .bearer(&g)
        .json(&body)
        .send(&s)
        .await
        .problem(422);
    assert_eq!(p["errors"][0]["pointer"], "/dry_run", "{p}");
}

#[tokio::test]
async fn delete_archives_then_deletes_and_dry_runs_of_both_write_nothing() {
    let s = start().await;
    let g = token(&s, "genesis");
    let industry = create(
        &s,
        "/api/v1/industries",
        json!({ "name": "Dry Deleted Industry", "description": "short-lived" }),
    )
    .await;
    let item = format!("/api/v1/industries/{}", industry["id"].as_str().unwrap());

    // If-Match is honoured: a stale version is the same 412 either way.
    Write::new("DELETE", &item, Some(&g))
        .if_match(&json!(7))
        .same_problem(&s, 412)
        .await;
    let archived = Write::new("DELETE", &item, Some(&g))
        .if_match(&industry["version"])
        .same_result(&s, 200, false)
        .await;
    assert_eq!(archived["status"], "archived");
    assert!(archived["deleted_at"].is_null(), "{archived}");

    // DELETE on an archived entity deletes it.
    let (dry, _) = Write::new("DELETE", &item, Some(&g))
        .if_match(&archived["version"])
        .twice(&s)
        .await;
    assert_eq!(dry.status, 200, "{}", dry.text());
    assert_eq!(dry.json()["status"], "deleted");
    assert!(dry.json()["deleted_at"].is_string());
    let deleted = get(&s, &item, None).await;
    assert_eq!(deleted["status"], "deleted");
    assert!(deleted["deleted_at"].is_string(), "{deleted}");
    assert_eq!(
        stable(&dry.json(), false),
        stable(&deleted, false),
        "the dry run answered another deletion"
    );
    let history = get(&s, &format!("{item}/history"), None).await;
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "archive", "delete"]);

    // Deletion is final.
    Write::new("DELETE", &item, Some(&g))
        .same_problem(&s, 409)
        .await;
    // An entity others depend on is refused the same way, dry or not.
    let skill = first(&s, "/api/v1/genesis/skills").await;
    Write::new(
        "DELETE",
        format!("/api/v1/genesis/skills/{}", skill["id"].as_str().unwrap()),
        Some(&g),
    )
    .same_problem(&s, 409)
    .await;
}

#[tokio::test]
async fn assign_team_dry_runs_answer_the_agent_as_it_would_be() {
    let s = start().await;
    let g = token(&s, "genesis");
    let teams = get(&s, "/api/v1/teams", None).await;
    let team = &teams.as_array().unwrap()[0];
    let role = team["job_role_id"].as_str().unwrap();
    let agents = get(&s, &format!("/api/v1/agents?job_role_id={role}"), None).await;
    let agent_id = agents[0]["id"].as_str().unwrap();
    let path = format!("/api/v1/agents/{agent_id}/assign-team");
    let out = Write::new("POST", &path, Some(&g))
        .json(json!({ "team_id": null }))
        .same_result(&s, 200, false)
        .await;
    assert!(out["team_id"].is_null());
    let back = Write::new("POST", &path, Some(&g))
        .json(json!({ "team_id": team["id"] }))
        .same_result(&s, 200, false)
        .await;
    assert_eq!(back["team_id"], team["id"]);

    // A team of another job role: the same 422.
    let other = teams
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["job_role_id"] != team["job_role_id"])
        .unwrap();
    Write::new("POST", &path, Some(&g))
        .json(json!({ "team_id": other["id"] }))
        .same_problem(&s, 422)
        .await;
    Write::new("POST", &path, Some(&g))
        .json(json!({ "team_id": uuid::Uuid::new_v4().to_string() }))
        .same_problem(&s, 404)
        .await;
}

#[tokio::test]
async fn trial_book_patch_and_cancel_dry_runs_write_nothing() {
    let s = start().await;
    let operator = token(&s, "operator");
    let agent = first(&s, "/api/v1/agents").await;
    let booking = json!({ "agent_id": agent["id"], "customer_name": "Dry Customer",
                          "customer_email": "dry@example.com", "company": "Dry Co" });
    let trial = Write::new("POST", "/api/v1/trials", None)
        .json(booking.clone())
        .same_result(&s, 201, true)
        .await;
    assert_eq!(trial["status"], "active");
    let listed = get(&s, "/api/v1/trials", Some(&operator)).await;
    assert_eq!(listed["total"], 1, "the dry run booked a trial: {listed}");

    let mut bad = booking.clone();
    bad["customer_email"] = json!("not-an-email");
    Write::new("POST", "/api/v1/trials", None)
        .json(bad)
        .same_problem(&s, 422)
        .await;
    let mut unknown = booking;
    unknown["agent_id"] = json!(uuid::Uuid::new_v4());
    Write::new("POST", "/api/v1/trials", None)
        .json(unknown)
        .same_problem(&s, 404)
        .await;

    let item = format!("/api/v1/trials/{}", trial["id"].as_str().unwrap());
    let patched = Write::new("PATCH", &item, Some(&operator))
        .json(json!({ "deliverables": [{ "title": "Draft", "description": "first draft" }] }))
        .same_result(&s, 200, true)
        .await;
    assert_eq!(patched["deliverables"].as_array().unwrap().len(), 1);
    Write::new("PATCH", &item, Some(&operator))
        .json(json!({ "status": "sideways" }))
        .same_problem(&s, 422)
        .await;
    Write::new("PATCH", &item, Some(&operator))
        .json(json!({ "status": "converted" }))
        .if_match(&json!(0))
        .same_problem(&s, 412)
        .await;

    let would = Write::new("DELETE", &item, Some(&operator))
        .same_result(&s, 204, false)
        .await;
    assert_eq!(would["status"], "cancelled");
    let after = get(&s, &item, Some(&operator)).await;
    assert_eq!(stable(&would, false), stable(&after, false));
    Write::new("PATCH", &item, Some(&operator))
        .json(json!({ "status": "converted" }))
        .same_problem(&s, 409)
        .await;
    let mut other = claims("customer");
    other["email"] = json!("someone-else@example.com");
    Write::new("DELETE", &item, Some(&mint(&s.secret, &other)))
        .same_problem(&s, 403)
        .await;
}

#[tokio::test]
async fn job_create_and_patch_dry_runs_write_nothing() {
    let s = start().await;
    let operator = token(&s, "operator");
    let agent = first(&s, "/api/v1/agents").await;
    let body = json!({ "agent_id": agent["id"], "title": "Dry job", "input": { "words": 300 } });
    let job = Write::new("POST", "/api/v1/jobs", Some(&operator))
        .json(body.clone())
        .same_result(&s, 201, true)
        .await;
    assert_eq!(job["status"], "queued");
    let jobs = get(&s, "/api/v1/jobs", Some(&operator)).await;
    assert_eq!(
        jobs.as_array().unwrap().len(),
        1,
        "the dry run queued a job"
    );
    Write::new("POST", "/api/v1/jobs", Some(&token(&s, "genesis")))
        .json(body)
        .same_problem(&s, 403)
        .await;

    let item = format!("/api/v1/jobs/{}", job["id"].as_str().unwrap());
    let running = Write::new("PATCH", &item, Some(&operator))
        .json(json!({ "status": "running" }))
        .same_result(&s, 200, false)
        .await;
    assert_eq!(running["status"], "running");
    let done = Write::new("PATCH", &item, Some(&operator))
        .json(json!({ "status": "succeeded", "output": { "words": 310 } }))
        .same_result(&s, 200, false)
        .await;
    assert_eq!(done["status"], "succeeded");
    Write::new("PATCH", &item, Some(&operator))
        .json(json!({ "status": "running" }))
        .same_problem(&s, 409)
        .await;
    Write::new("PATCH", &item, Some(&operator))
        .json(json!({ "output": { "ratio": 0.5 } }))
        .same_problem(&s, 422)
        .await;
}

#[tokio::test]
async fn precedent_create_supersede_and_approve_dry_runs_write_nothing() {
    let s = start().await;
    let g = token(&s, "genesis");
    let seed = |id: &str| {
        json!({ "seed_id": id, "title": "Dry refunds",
                "content": "Refunds are granted within thirty days of a dry trial.",
                "applies_to": ["agent"] })
    };
    let a = Write::new("POST", "/api/v1/precedents", Some(&g))
        .json(seed("DRY-1"))
        .same_result(&s, 201, true)
        .await;
    assert_eq!(a["status"], "active");
    // The same seed id again: the same 409.
    Write::new("POST", "/api/v1/precedents", Some(&g))
        .json(seed("DRY-1"))
        .same_problem(&s, 409)
        .await;
    // A near-duplicate waits for review, and the dry run says so.
    let b = Write::new("POST", "/api/v1/precedents", Some(&g))
        .json(seed("DRY-2"))
        .same_result(&s, 201, true)
        .await;
    assert_eq!(b["status"], "pending_review", "{b}");
    assert!(!b["possible_conflicts"].as_array().unwrap().is_empty());

    let approved = Write::new("POST", "/api/v1/precedents/DRY-2/approve", Some(&g))
        .same_result(&s, 200, false)
        .await;
    assert_eq!(approved["status"], "active");
    Write::new("POST", "/api/v1/precedents/DRY-2/approve", Some(&g))
        .same_problem(&s, 409)
        .await;

    let successor = json!({ "seed_id": "DRY-3", "title": "Dry refunds, revised",
        "content": "Refunds are granted within sixty days.", "applies_to": ["agent"],
        "acknowledge_conflicts": true });
    let replaced = Write::new("POST", "/api/v1/precedents/DRY-1/supersede", Some(&g))
        .json(successor.clone())
        .same_result(&s, 201, true)
        .await;
    assert_eq!(replaced["supersedes"], "DRY-1");
    assert_eq!(replaced["superseded"]["status"], "superseded");
    Write::new("POST", "/api/v1/precedents/DRY-1/supersede", Some(&g))
        .json(successor)
        .same_problem(&s, 409)
        .await;
    Write::new("POST", "/api/v1/precedents/NOPE-9/supersede", Some(&g))
        .json(seed("DRY-4"))
        .same_problem(&s, 404)
        .await;
}

#[tokio::test]
async fn a_dry_run_create_with_a_taken_external_id_is_the_same_409() {
    let s = start().await;
    let genesis = token(&s, "genesis");
    let skill = |name: &str| json!({"name": name, "description": "d", "category": "technical", "external_id": "ext-held"});
    let r = req("POST", "/api/v1/genesis/skills")
        .bearer(&genesis)
        .json(&skill("Holds The External Id"))
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let before = head(&s).await;
    let dry = req("POST", "/api/v1/genesis/skills?dry_run=true")
        .bearer(&genesis)
        .json(&skill("Wants The External Id"))
        .send(&s)
        .await;
    let dry = dry.problem(409);
    assert_eq!(head(&s).await, before, "a dry run wrote");
    let real = req("POST", "/api/v1/genesis/skills")
        .bearer(&genesis)
        .json(&skill("Wants The External Id"))
        .send(&s)
        .await;
    let real = real.problem(409);
    assert_eq!(dry["detail"], real["detail"]);
}
