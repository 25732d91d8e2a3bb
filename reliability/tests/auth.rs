//! Auth attacks: missing, expired, not-yet-valid, forged and unsigned tokens, the wrong role,
//! and reaching into another customer's trial or another agent's job. Each is a 401/403
//! problem+json, nothing changes, and no token reaches the server's log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use plant_reliability::client::{Response, req};
use plant_reliability::fixtures::{agent_ids, trial_body};
use plant_reliability::server::{Options, Server};
use plant_reliability::token;
use serde_json::json;

#[tokio::test]
async fn forged_expired_and_misused_tokens_are_refused_and_never_logged() {
    let server = Server::start(Options::memory());
    let addr = server.addr;
    let secret = server.secret.clone();
    let operator = token::role(&secret, "operator");

    // Two agents, a job for the first, a trial for one customer.
    let agents = agent_ids(addr).await;
    assert!(
        agents.len() >= 2,
        "the seed catalog has at least two agents"
    );
    let job = req("POST", "/api/v1/jobs")
        .bearer(&operator)
        .json(&json!({ "agent_id": agents[0], "title": "Quarterly report" }))
        .ok(addr)
        .await;
    assert_eq!(job.status, 201, "{}", job.text());
    let job_id = job.json()["id"].as_str().unwrap().to_owned();
    let trial = req("POST", "/api/v1/trials")
        .json(&trial_body(&agents[0], "owner@example.com"))
        .ok(addr)
        .await;
    assert_eq!(trial.status, 201, "{}", trial.text());
    let trial_id = trial.json()["id"].as_str().unwrap().to_owned();

    let now = token::now();
    let mut expired = token::claims("operator");
    expired["iat"] = json!(now - 7200);
    expired["nbf"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    let mut early = token::claims("operator");
    early["nbf"] = json!(now + 3600);
    early["iat"] = json!(now + 3600);
    early["exp"] = json!(now + 7200);
    let mut no_exp = token::claims("operator");
    no_exp.as_object_mut().unwrap().remove("exp");
    let other_secret = plant_reliability::random_secret();
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &token::claims("operator"),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let valid = token::role(&secret, "operator");
    // The same claims and header with the last signature character changed.
    let mut flipped = valid.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });

    let verify = "/api/v1/audit/verify";
    let bad_tokens: Vec<(&str, String)> = vec![
        ("expired", token::sign(&secret, &expired)),
        ("not yet valid", token::sign(&secret, &early)),
        ("no exp claim", token::sign(&secret, &no_exp)),
        (
            "signed with another secret",
            token::role(&other_secret, "operator"),
        ),
        ("signature altered", flipped),
        ("alg none", token::alg_none(&token::claims("operator"))),
        ("HS384 instead of HS256", hs384),
        ("garbage", "not.a.jwt".to_owned()),
        ("empty", String::new()),
    ];

    let mut checked: Vec<(String, Response)> = Vec::new();
    let r = req("GET", verify).ok(addr).await;
    assert_eq!(r.status, 401, "no token: {}", r.text());
    checked.push(("no token".into(), r));
    let r = req("GET", verify)
        .header("authorization", &format!("Basic {valid}"))
        .ok(addr)
        .await;
    assert_eq!(r.status, 401, "Basic scheme: {}", r.text());
    checked.push(("Basic scheme".into(), r));
    for (name, bad) in &bad_tokens {
        let r = req("GET", verify).bearer(bad).ok(addr).await;
        assert_eq!(r.status, 401, "{name}: {}", r.text());
        checked.push(((*name).into(), r));
    }

    // The wrong role for the endpoint.
    let customer = token::customer(&secret, "owner@example.com");
    let intruder = token::customer(&secret, "intruder@example.com");
    let agent_a = token::agent(&secret, &agents[0]);
    let agent_b = token::agent(&secret, &agents[1]);
    let genesis = token::role(&secret, "genesis");
    let forbidden = vec![
        ("customer on audit", req("GET", verify).bearer(&customer)),
        (
            "genesis creating a job",
            req("POST", "/api/v1/jobs")
                .bearer(&genesis)
                .json(&json!({ "agent_id": agents[0], "title": "x" })),
        ),
        (
            "agent creating a skill",
            req("POST", "/api/v1/genesis/skills")
                .bearer(&agent_a)
                .json(&json!({ "name": "Forged", "description": "d", "category": "technical" })),
        ),
        (
            "operator creating a skill",
            req("POST", "/api/v1/genesis/skills")
                .bearer(&operator)
                .json(&json!({ "name": "Forged", "description": "d", "category": "technical" })),
        ),
        (
            "customer reading another customer's trial",
            req("GET", &format!("/api/v1/trials/{trial_id}")).bearer(&intruder),
        ),
        (
            "customer cancelling another customer's trial",
            req("DELETE", &format!("/api/v1/trials/{trial_id}")).bearer(&intruder),
        ),
        (
            "agent reading another agent's job",
            req("GET", &format!("/api/v1/jobs/{job_id}")).bearer(&agent_b),
        ),
        (
            "agent moving another agent's job",
            req("PATCH", &format!("/api/v1/jobs/{job_id}"))
                .bearer(&agent_b)
                .json(&json!({ "status": "running" })),
        ),
        (
            "agent listing jobs without an agent_id claim",
            req("GET", "/api/v1/jobs").bearer(&token::role(&secret, "agent")),
        ),
    ];
    for (name, request) in forbidden {
        let r = request.ok(addr).await;
        assert_eq!(r.status, 403, "{name}: {}", r.text());
        checked.push((name.into(), r));
    }
    for (name, r) in &checked {
        r.assert_4xx_problem(name);
        assert!(
            !r.text().contains(&secret),
            "{name}: the answer carries the secret"
        );
    }

    // Nothing the refused calls tried happened.
    let trial = req("GET", &format!("/api/v1/trials/{trial_id}"))
        .bearer(&customer)
        .ok(addr)
        .await;
    assert_eq!(trial.status, 200, "{}", trial.text());
    assert_eq!(trial.json()["status"], "active");
    let job = req("GET", &format!("/api/v1/jobs/{job_id}"))
        .bearer(&agent_a)
        .ok(addr)
        .await;
    assert_eq!(job.status, 200, "{}", job.text());
    assert_eq!(job.json()["status"], "queued");
    let forged = req("GET", "/api/v1/genesis/skills?limit=1000")
        .ok(addr)
        .await;
    assert!(!forged.text().contains("\"Forged\""));

    // Give the log reader a moment, then look for any token (or its signature) in the log.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let logs = server.logs();
    assert!(logs.contains("bearer token refused"), "refusals are logged");
    let mut all_tokens: Vec<&String> = bad_tokens.iter().map(|(_, t)| t).collect();
    all_tokens.extend([
        &valid, &operator, &customer, &intruder, &agent_a, &agent_b, &genesis,
    ]);
    for t in all_tokens {
        if t.len() < 16 {
            continue;
        }
        let signature = t.rsplit('.').next().unwrap_or_default();
        assert!(!logs.contains(t.as_str()), "a token appears in the log");
        if signature.len() >= 16 {
            assert!(
                !logs.contains(signature),
                "a token's signature appears in the log"
            );
        }
    }
    assert!(!logs.contains(&secret), "the secret appears in the log");
}
