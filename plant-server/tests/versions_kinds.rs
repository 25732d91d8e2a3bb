//! Addressable versions of trials, jobs and precedent seeds, over real HTTP (on PostgreSQL under
//! `scripts/test-db.sh run`, on the in-memory store otherwise): every version with its
//! per-entity lineage hash (recomputed here from the entry hashes, as the README defines it),
//! each version rebuilt as it was, 404/422 as the catalog kinds answer, and the same access
//! rules as reading the record.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, claims, lineage, mint, req, start, token};
use serde_json::{Value, json};

async fn get(s: &TestServer, path: &str, bearer: Option<&str>) -> Value {
    let mut r = req("GET", path);
    if let Some(t) = bearer {
        r = r.bearer(t);
    }
    let r = r.send(s).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

async fn send(s: &TestServer, method: &str, path: &str, bearer: Option<&str>, body: Value) {
    let mut r = req(method, path).json(&body);
    if let Some(t) = bearer {
        r = r.bearer(t);
    }
    let r = r.send(s).await;
    assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.text());
}

/// Checks `{base}/versions` against the record's `expected` statuses, version by version, and
/// the malformed or unknown versions; returns the versions.
async fn check_versions(
    s: &TestServer,
    base: &str,
    bearer: Option<&str>,
    expected: &[&str],
) -> Vec<Value> {
    let versions = get(s, &format!("{base}/versions"), bearer).await;
    let versions = versions.as_array().unwrap().clone();
    let numbers: Vec<u64> = versions
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=expected.len() as u64).collect::<Vec<_>>());
    let hashes: Vec<&str> = versions
        .iter()
        .map(|v| v["hash"].as_str().unwrap())
        .collect();
    let recomputed = lineage(&hashes);
    for (i, v) in versions.iter().enumerate() {
        assert_eq!(v["lineage_hash"], recomputed[i], "{base} v{}", i + 1);
        assert_eq!(v["hash_verified"], true);
        if i > 0 {
            assert!(v["seq"].as_u64() > versions[i - 1]["seq"].as_u64());
        }
    }
    for (i, status) in expected.iter().enumerate() {
        let n = i + 1;
        let one = get(s, &format!("{base}/versions/{n}"), bearer).await;
        assert_eq!(one["version"], n as u64);
        assert_eq!(one["lineage_hash"], recomputed[i]);
        assert_eq!(one["entity"]["status"], *status, "{base} v{n}: {one}");
        assert_eq!(one["entity"]["version"], n as u64);
        assert!(
            one["inclusion_proof"]
                .as_str()
                .unwrap()
                .starts_with("/api/v1/audit/proof/inclusion?seq="),
            "{one}"
        );
    }
    let auth = |r: common::Req| match bearer {
        Some(t) => r.bearer(t),
        None => r,
    };
    let past = expected.len() + 1;
    auth(req("GET", &format!("{base}/versions/{past}")))
        .send(s)
        .await
        .problem(404);
    for bad in ["0", "-1", "one", "1.0"] {
        auth(req("GET", &format!("{base}/versions/{bad}")))
            .send(s)
            .await
            .problem(422);
    }
    versions
}

#[tokio::test]
async fn trials_have_versions_for_whoever_may_read_them() {
    let s = start().await;
    let operator = token(&s, "operator");
    let agent = get(&s, "/api/v1/agents", None).await[0].clone();
    let booked = req("POST", "/api/v1/trials")
        .json(&json!({ "agent_id": agent["id"], "customer_name": "V", "customer_email": "v@example.com" }))
        .send(&s)
        .await;
    assert_eq!(booked.status, 201, "{}", booked.text());
    let id = booked.json()["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/trials/{id}");
    send(
        &s,
        "PATCH",
        &base,
        Some(&operator),
        json!({ "deliverables": [{ "title": "Draft" }] }),
    )
    .await;
    send(&s, "DELETE", &base, Some(&operator), json!({})).await;

    let versions = check_versions(
        &s,
        &base,
        Some(&operator),
        &["active", "active", "cancelled"],
    )
    .await;
    let actions: Vec<&str> = versions
        .iter()
        .map(|v| v["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[0], "create");
    let v2 = get(&s, &format!("{base}/versions/2"), Some(&operator)).await;
    assert_eq!(v2["entity"]["deliverables"].as_array().unwrap().len(), 1);
    let v1 = get(&s, &format!("{base}/versions/1"), Some(&operator)).await;
    assert!(v1["entity"]["deliverables"].as_array().unwrap().is_empty());

    // The customer named in the trial reads them; another customer, or nobody, does not.
    let mut mine = claims("customer");
    mine["email"] = json!("V@example.com");
    get(
        &s,
        &format!("{base}/versions"),
        Some(&mint(&s.secret, &mine)),
    )
    .await;
    let mut theirs = claims("customer");
    theirs["email"] = json!("w@example.com");
    let theirs = mint(&s.secret, &theirs);
    for path in [format!("{base}/versions"), format!("{base}/versions/1")] {
        req("GET", &path)
            .bearer(&theirs)
            .send(&s)
            .await
            .problem(403);
        req("GET", &path).send(&s).await.problem(401);
    }
    let unknown = uuid::Uuid::new_v4();
    req("GET", &format!("/api/v1/trials/{unknown}/versions"))
        .bearer(&operator)
        .send(&s)
        .await
        .problem(404);
    req("GET", "/api/v1/trials/not-a-uuid/versions")
        .bearer(&operator)
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn jobs_have_versions_for_operators_and_their_agent() {
    let s = start().await;
    let operator = token(&s, "operator");
    let agents = get(&s, "/api/v1/agents", None).await;
    let (agent, other) = (&agents[0], &agents[1]);
    let r = req("POST", "/api/v1/jobs")
        .bearer(&operator)
        .json(&json!({ "agent_id": agent["id"], "title": "Versioned job" }))
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let base = format!("/api/v1/jobs/{}", r.json()["id"].as_str().unwrap());
    send(
        &s,
        "PATCH",
        &base,
        Some(&operator),
        json!({ "status": "running" }),
    )
    .await;
    send(
        &s,
        "PATCH",
        &base,
        Some(&operator),
        json!({ "status": "succeeded", "output": { "n": 1 } }),
    )
    .await;
    check_versions(
        &s,
        &base,
        Some(&operator),
        &["queued", "running", "succeeded"],
    )
    .await;
    let v3 = get(&s, &format!("{base}/versions/3"), Some(&operator)).await;
    assert_eq!(v3["entity"]["output"], json!({ "n": 1 }));

    let agent_token = |id: &Value| {
        let mut c = claims("agent");
        c["agent_id"] = id.clone();
        mint(&s.secret, &c)
    };
    get(
        &s,
        &format!("{base}/versions"),
        Some(&agent_token(&agent["id"])),
    )
    .await;
    req("GET", &format!("{base}/versions/1"))
        .bearer(&agent_token(&other["id"]))
        .send(&s)
        .await
        .problem(403);
    req("GET", &format!("{base}/versions"))
        .bearer(&token(&s, "customer"))
        .send(&s)
        .await
        .problem(403);
    req(
        "GET",
        &format!("/api/v1/jobs/{}/versions", uuid::Uuid::new_v4()),
    )
    .bearer(&operator)
    .send(&s)
    .await
    .problem(404);
}

#[tokio::test]
async fn precedent_seeds_have_versions_read_by_anyone() {
    let s = start().await;
    let g = token(&s, "genesis");
    send(
        &s,
        "POST",
        "/api/v1/precedents",
        Some(&g),
        json!({ "seed_id": "VER-1", "title": "Versioned seed",
                "content": "A rule kept in versions.", "applies_to": ["skill"] }),
    )
    .await;
    send(
        &s,
        "POST",
        "/api/v1/precedents/VER-1/supersede",
        Some(&g),
        json!({ "seed_id": "VER-2", "title": "Versioned seed, revised",
                "content": "A rule kept in versions, revised.", "applies_to": ["skill"],
                "acknowledge_conflicts": true }),
    )
    .await;
    let versions = check_versions(
        &s,
        "/api/v1/precedents/VER-1",
        None,
        &["active", "superseded"],
    )
    .await;
    assert_eq!(versions[1]["action"], "supersede");
    let v2 = get(&s, "/api/v1/precedents/VER-1/versions/2", None).await;
    assert_eq!(v2["entity"]["superseded_by"], "VER-2");
    // The seed id is matched as reading the seed matches it.
    get(&s, "/api/v1/precedents/ver-2/versions", None).await;
    req("GET", "/api/v1/precedents/NOPE-1/versions")
        .send(&s)
        .await
        .problem(404);
    req("GET", "/api/v1/precedents/NOPE-1/versions/1")
        .send(&s)
        .await
        .problem(404);
}
