//! Every endpoint over real HTTP against the seeded in-memory catalog: success paths, error
//! classes, and the fields and status codes the portal clients rely on.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, claims, mint, req, start, token};
use serde_json::{Value, json};

async fn get(s: &TestServer, path: &str) -> Value {
    let r = req("GET", path).send(s).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

fn genesis(s: &TestServer) -> String {
    token(s, "genesis")
}

fn agent_token(s: &TestServer, agent_id: &str) -> String {
    let mut c = claims("agent");
    c["agent_id"] = json!(agent_id);
    mint(&s.secret, &c)
}

fn customer_token(s: &TestServer, email: &str) -> String {
    let mut c = claims("customer");
    c["email"] = json!(email);
    mint(&s.secret, &c)
}

async fn first(s: &TestServer, path: &str) -> Value {
    get(s, path).await.as_array().unwrap()[0].clone()
}

#[tokio::test]
async fn skills_list_with_the_fields_the_platform_portal_reads_and_filter_by_category() {
    let s = start().await;
    let skills = get(&s, "/api/v1/genesis/skills").await;
    let skills = skills.as_array().unwrap();
    assert!(!skills.is_empty());
    for skill in skills {
        for field in [
            "id",
            "name",
            "description",
            "category",
            "status",
            "created_at",
            "version",
        ] {
            assert!(!skill[field].is_null(), "skill lacks {field}: {skill}");
        }
    }
    let technical = get(&s, "/api/v1/genesis/skills?category=technical").await;
    assert!(
        technical
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["category"] == "technical")
    );
    req("GET", "/api/v1/genesis/skills?category=magic")
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn creating_a_skill_is_201_with_location_and_etag_and_a_duplicate_name_is_409() {
    let s = start().await;
    let body = json!({ "name": "Rust Services", "description": "Builds HTTP services in Rust", "category": "technical" });
    let r = req("POST", "/api/v1/genesis/skills")
        .bearer(&genesis(&s))
        .json(&body)
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let skill = r.json();
    assert_eq!(skill["name"], "Rust Services");
    assert_eq!(skill["version"], 1);
    assert_eq!(r.header("etag"), Some("\"v1\""));
    let loc = r.header("location").unwrap().to_owned();
    assert_eq!(
        loc,
        format!("/api/v1/genesis/skills/{}", skill["id"].as_str().unwrap())
    );
    let read = req("GET", &loc).send(&s).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.header("etag"), Some("\"v1\""));

    let dup = json!({ "name": "rust services", "description": "again", "category": "technical" });
    req("POST", "/api/v1/genesis/skills")
        .bearer(&genesis(&s))
        .json(&dup)
        .send(&s)
        .await
        .problem(409);
}

#[tokio::test]
async fn rule_violations_are_422_constitutional_with_every_violation_and_input_errors_are_not() {
    let s = start().await;
    let blank = json!({ "name": "  ", "description": "", "category": "technical" });
    let r = req("POST", "/api/v1/genesis/skills")
        .bearer(&genesis(&s))
        .json(&blank)
        .send(&s)
        .await;
    let p = r.problem(422);
    assert!(
        p["type"].as_str().unwrap().contains("constitutional"),
        "{p}"
    );
    let rules: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    // The platform portal's client joins `violations` as strings: each names rule and field.
    let lines: Vec<&str> = p["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), rules.len(), "{p}");
    for (line, error) in lines.iter().zip(p["errors"].as_array().unwrap()) {
        let field = error["field"].as_str().unwrap();
        assert!(line.starts_with(error["rule"].as_str().unwrap()), "{line}");
        assert!(line.contains(&format!(" {field}: ")), "{line}");
        assert!(
            error["pointer"].is_string() && error["detail"].is_string(),
            "{error}"
        );
    }
    assert!(
        rules.len() >= 2,
        "every violation, not just the first: {rules:?}"
    );

    let wrong_type = json!({ "name": 5, "category": "technical" });
    let r = req("POST", "/api/v1/genesis/skills")
        .bearer(&genesis(&s))
        .json(&wrong_type)
        .send(&s)
        .await;
    assert!(
        !r.problem(422)["type"]
            .as_str()
            .unwrap()
            .contains("constitutional")
    );
}

#[tokio::test]
async fn catalog_writes_need_a_genesis_token() {
    let s = start().await;
    let body = json!({ "name": "X", "description": "y", "category": "technical" });
    let r = req("POST", "/api/v1/genesis/skills")
        .json(&body)
        .send(&s)
        .await;
    r.problem(401);
    assert!(r.header("www-authenticate").is_some());
    req("POST", "/api/v1/genesis/skills")
        .bearer(&token(&s, "customer"))
        .json(&body)
        .send(&s)
        .await
        .problem(403);
    req("POST", "/api/v1/industries")
        .bearer(&token(&s, "operator"))
        .json(&json!({"name": "X"}))
        .send(&s)
        .await
        .problem(403);
}

#[tokio::test]
async fn job_roles_are_created_by_skill_name_or_id_listed_by_seniority_and_certified() {
    let s = start().await;
    let skill = first(&s, "/api/v1/genesis/skills").await;
    let body = json!({
        "name": "Platform Engineer",
        "description": "Runs the platform",
        "required_skills": [skill["id"], skill["name"]],
        "seniority_level": "senior",
    });
    let r = req("POST", "/api/v1/genesis/job-roles")
        .bearer(&genesis(&s))
        .json(&body)
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let role = r.json();
    for field in [
        "id",
        "name",
        "description",
        "required_skills",
        "seniority_level",
    ] {
        assert!(!role[field].is_null(), "job role lacks {field}");
    }
    let seniors = get(&s, "/api/v1/genesis/job-roles?seniority_level=senior").await;
    assert!(
        seniors
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == role["id"])
    );
    assert!(
        seniors
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["seniority_level"] == "senior")
    );

    let id = role["id"].as_str().unwrap();
    let r = req("POST", &format!("/api/v1/genesis/job-roles/{id}/certify"))
        .bearer(&genesis(&s))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["certification"]["status"], "certified");

    let missing = json!({ "name": "Ghost", "description": "d", "required_skills": ["no such skill"], "seniority_level": "mid" });
    let r = req("POST", "/api/v1/genesis/job-roles")
        .bearer(&genesis(&s))
        .json(&missing)
        .send(&s)
        .await;
    assert!(
        r.problem(422)["type"]
            .as_str()
            .unwrap()
            .contains("constitutional")
    );
}

#[tokio::test]
async fn certifying_a_job_role_with_an_uncertified_skill_is_rejected_recorded_and_422() {
    let s = start().await;
    let g = genesis(&s);
    let skill = req("POST", "/api/v1/genesis/skills")
        .bearer(&g)
        .json(&json!({ "name": "Fresh Skill", "description": "new", "category": "soft_skill" }))
        .send(&s)
        .await
        .json();
    let role = req("POST", "/api/v1/genesis/job-roles")
        .bearer(&g)
        .json(&json!({ "name": "Fresh Role", "description": "d", "required_skills": [skill["id"]], "seniority_level": "junior" }))
        .send(&s)
        .await
        .json();
    let id = role["id"].as_str().unwrap();
    let r = req("POST", &format!("/api/v1/genesis/job-roles/{id}/certify"))
        .bearer(&g)
        .send(&s)
        .await;
    let p = r.problem(422);
    assert!(p["type"].as_str().unwrap().contains("constitutional"));
    assert!(!p["violations"].as_array().unwrap().is_empty());
    let stored = get(&s, &format!("/api/v1/genesis/job-roles/{id}")).await;
    assert_eq!(stored["certification"]["status"], "rejected");
    let history = get(&s, &format!("/api/v1/genesis/job-roles/{id}/history")).await;
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "reject"]);
}

#[tokio::test]
async fn generic_certify_accepts_any_spelling_of_entity_type_and_batches_give_a_result_each() {
    let s = start().await;
    let g = genesis(&s);
    let skill = first(&s, "/api/v1/genesis/skills").await;
    let role = first(&s, "/api/v1/genesis/job-roles").await;
    for spelling in ["Skill", "skill", "skills"] {
        let body = json!({ "entity_type": spelling, "entity_id": skill["id"] });
        let r = req("POST", "/api/v1/genesis/certify")
            .bearer(&g)
            .json(&body)
            .send(&s)
            .await;
        assert_eq!(r.status, 200, "{spelling}: {}", r.text());
    }
    for spelling in ["job_role", "JobRole", "jobrole"] {
        let body = json!({ "entity_type": spelling, "entity_id": role["id"] });
        let r = req("POST", "/api/v1/genesis/certify")
            .bearer(&g)
            .json(&body)
            .send(&s)
            .await;
        assert_eq!(r.status, 200, "{spelling}: {}", r.text());
    }
    let bad = json!({ "entity_type": "planet", "entity_id": skill["id"] });
    req("POST", "/api/v1/genesis/certify")
        .bearer(&g)
        .json(&bad)
        .send(&s)
        .await
        .problem(422);

    let batch = json!([
        { "entity_type": "skill", "entity_id": skill["id"] },
        { "entity_type": "agent", "entity_id": uuid::Uuid::new_v4().to_string() },
        { "entity_type": "skill", "entity_id": "not-a-uuid" },
    ]);
    let r = req("POST", "/api/v1/genesis/certify/batch")
        .bearer(&g)
        .json(&batch)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json();
    let statuses: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["certified", "error", "error"]);
    assert_eq!(results[1]["error"]["status"], 404);
    assert_eq!(results[2]["error"]["status"], 422);

    let too_many: Vec<Value> = (0..51)
        .map(|_| json!({ "entity_type": "skill", "entity_id": skill["id"] }))
        .collect();
    req("POST", "/api/v1/genesis/certify/batch")
        .bearer(&g)
        .json(&json!(too_many))
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn agents_carry_description_and_lowercase_industry_and_filter_by_industry_name_in_any_case() {
    let s = start().await;
    let industries = get(&s, "/api/v1/industries").await;
    let industry = &industries.as_array().unwrap()[0];
    let name = industry["name"].as_str().unwrap();
    let shouted = name.to_uppercase();
    let agents = get(
        &s,
        &format!("/api/v1/agents?industry={shouted}&status=active&limit=5&offset=0"),
    )
    .await;
    let agents = agents.as_array().unwrap();
    assert!(!agents.is_empty());
    for agent in agents {
        for field in [
            "id",
            "name",
            "skill_id",
            "job_role_id",
            "industry_id",
            "status",
            "created_at",
            "description",
        ] {
            assert!(!agent[field].is_null(), "agent lacks {field}: {agent}");
        }
        assert!(agent.as_object().unwrap().contains_key("team_id"));
        assert_eq!(agent["industry"], name.to_lowercase());
        assert_eq!(agent["industry_id"], industry["id"]);
    }
    let none = get(&s, "/api/v1/agents?industry=no-such-industry").await;
    assert_eq!(none, json!([]));
    let role = agents[0]["job_role_id"].as_str().unwrap();
    let by_role = get(&s, &format!("/api/v1/agents?job_role_id={role}")).await;
    assert!(
        by_role
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["job_role_id"] == role)
    );
    req("GET", "/api/v1/agents?job_role_id=nope")
        .send(&s)
        .await
        .problem(422);
    req("GET", "/api/v1/agents?limit=5000")
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn an_agent_created_without_a_description_gets_one_from_its_role_industry_and_skill() {
    let s = start().await;
    let model = first(&s, "/api/v1/agents").await;
    let name_of = |v: Value| v["name"].as_str().unwrap().to_owned();
    let role = name_of(
        get(
            &s,
            &format!(
                "/api/v1/genesis/job-roles/{}",
                model["job_role_id"].as_str().unwrap()
            ),
        )
        .await,
    );
    let skill = name_of(
        get(
            &s,
            &format!(
                "/api/v1/genesis/skills/{}",
                model["skill_id"].as_str().unwrap()
            ),
        )
        .await,
    );
    let industry = name_of(
        get(
            &s,
            &format!(
                "/api/v1/industries/{}",
                model["industry_id"].as_str().unwrap()
            ),
        )
        .await,
    );
    // What the platform portal's client sends: no description.
    let body = json!({
        "name": "Described By Plant",
        "job_role_id": model["job_role_id"],
        "skill_id": model["skill_id"],
        "industry_id": model["industry_id"],
    });
    let r = req("POST", "/api/v1/agents")
        .bearer(&genesis(&s))
        .json(&body)
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let expected = format!("{role} for {industry}, skilled in {skill}.");
    assert_eq!(created["description"], expected.as_str());
    let listed = get(
        &s,
        &format!("/api/v1/agents/{}", created["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(listed["description"], expected.as_str());
    // A description that is given is kept as given.
    let mut given = body.clone();
    given["name"] = json!("Described By Its Maker");
    given["description"] = json!("Writes landing pages.");
    let r = req("POST", "/api/v1/agents")
        .bearer(&genesis(&s))
        .json(&given)
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["description"], "Writes landing pages.");
}

#[tokio::test]
async fn an_agent_may_name_its_industry_by_name_in_any_case_or_by_id_as_the_platform_portal_does() {
    let s = start().await;
    let model = first(&s, "/api/v1/agents").await;
    let industry = model["industry"].as_str().unwrap().to_owned();
    let create = |name: &str, industry: Value| {
        json!({
            "name": name,
            "job_role_id": model["job_role_id"],
            "skill_id": model["skill_id"],
            "industry": industry,
        })
    };
    for (name, given) in [
        ("Industry By Name", json!(industry.to_uppercase())),
        ("Industry By Id", model["industry_id"].clone()),
    ] {
        let r = req("POST", "/api/v1/agents")
            .bearer(&genesis(&s))
            .json(&create(name, given))
            .send(&s)
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.json()["industry_id"], model["industry_id"]);
        assert_eq!(r.json()["industry"], industry.as_str());
    }
    let r = req("POST", "/api/v1/agents")
        .bearer(&genesis(&s))
        .json(&create("Industry Unknown", json!("No Such Industry")))
        .send(&s)
        .await;
    let problem = r.problem(422);
    assert_eq!(problem["errors"][0]["rule"], "L1-AGENT-03", "{problem}");
}

#[tokio::test]
async fn lists_have_a_stable_order_and_link_cursors_walk_every_item_once() {
    let s = start().await;
    let all = get(&s, "/api/v1/agents?limit=1000").await;
    let all: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(all.len() > 7);
    assert_eq!(
        all,
        get(&s, "/api/v1/agents?limit=1000")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    );

    let mut seen = Vec::new();
    let mut path = "/api/v1/agents?limit=7".to_owned();
    loop {
        let r = req("GET", &path).send(&s).await;
        assert_eq!(r.status, 200);
        seen.extend(
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
        match r.header("link") {
            Some(link) => {
                assert!(link.ends_with("rel=\"next\""), "{link}");
                path = link[1..link.find('>').unwrap()].to_owned();
            }
            None => break,
        }
    }
    assert_eq!(seen, all);
    let offset = get(&s, "/api/v1/agents?limit=3&offset=2").await;
    assert_eq!(offset[0]["id"], all[2]);
    req("GET", "/api/v1/agents?after=garbage")
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404_and_422() {
    let s = start().await;
    let id = uuid::Uuid::new_v4();
    for path in [
        "/api/v1/agents",
        "/api/v1/genesis/skills",
        "/api/v1/genesis/job-roles",
        "/api/v1/teams",
        "/api/v1/industries",
    ] {
        req("GET", &format!("{path}/{id}"))
            .send(&s)
            .await
            .problem(404);
        req("GET", &format!("{path}/12345"))
            .send(&s)
            .await
            .problem(422);
    }
}

#[tokio::test]
async fn patch_needs_if_match_428_refuses_stale_412_and_bumps_the_version() {
    let s = start().await;
    let g = genesis(&s);
    let skill = first(&s, "/api/v1/genesis/skills?category=technical").await;
    assert_eq!(skill["certification"]["status"], "certified");
    let id = skill["id"].as_str().unwrap();
    let path = format!("/api/v1/genesis/skills/{id}");
    let version = skill["version"].as_u64().unwrap();
    let patch = json!({ "description": "A sharper description" });

    req("PATCH", &path)
        .bearer(&g)
        .json(&patch)
        .send(&s)
        .await
        .problem(428);
    let stale = format!("\"v{}\"", version - 1);
    req("PATCH", &path)
        .bearer(&g)
        .header("if-match", &stale)
        .json(&patch)
        .send(&s)
        .await
        .problem(412);
    let current = format!("\"v{version}\"");
    let r = req("PATCH", &path)
        .bearer(&g)
        .header("if-match", &current)
        .json(&patch)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let evolved = r.json();
    assert_eq!(evolved["version"], version + 1);
    assert_eq!(r.header("etag").unwrap(), format!("\"v{}\"", version + 1));
    assert_eq!(evolved["description"], "A sharper description");
    assert_eq!(evolved["certification"]["status"], "pending_certification");
    assert_eq!(evolved["amendment_alignment"], "requires_review");
    // The old tag is now stale.
    req("PATCH", &path)
        .bearer(&g)
        .header("if-match", &current)
        .json(&patch)
        .send(&s)
        .await
        .problem(412);
    // Fields PATCH cannot change are input violations.
    let r = req("PATCH", &path)
        .bearer(&g)
        .header("if-match", "*")
        .json(&json!({ "version": 99 }))
        .send(&s)
        .await;
    assert!(
        !r.problem(422)["type"]
            .as_str()
            .unwrap()
            .contains("constitutional")
    );
}

#[tokio::test]
async fn archiving_is_refused_with_409_while_active_entities_depend_and_works_otherwise() {
    let s = start().await;
    let g = genesis(&s);
    let agent = first(&s, "/api/v1/agents").await;
    let skill_id = agent["skill_id"].as_str().unwrap();
    req("DELETE", &format!("/api/v1/genesis/skills/{skill_id}"))
        .bearer(&g)
        .send(&s)
        .await
        .problem(409);

    let fresh = req("POST", "/api/v1/industries")
        .bearer(&g)
        .json(&json!({ "name": "Logistics", "description": "Moving things" }))
        .send(&s)
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text());
    let id = fresh.json()["id"].as_str().unwrap().to_owned();
    let r = req("DELETE", &format!("/api/v1/industries/{id}"))
        .bearer(&g)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "archived");
    let history = get(&s, &format!("/api/v1/industries/{id}/history")).await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["action"], "archive");
    assert_eq!(history[1]["prev_hash"].as_str().unwrap().len(), 64);
    assert_eq!(history[0]["version"], 1);
}

#[tokio::test]
async fn teams_list_their_member_agents() {
    let s = start().await;
    let teams = get(&s, "/api/v1/teams").await;
    let team = teams
        .as_array()
        .unwrap()
        .iter()
        .find(|t| !t["agents"].as_array().unwrap().is_empty())
        .unwrap()
        .clone();
    let id = team["id"].as_str().unwrap();
    let one = get(&s, &format!("/api/v1/teams/{id}")).await;
    assert_eq!(one["agents"], team["agents"]);
    let members = get(&s, &format!("/api/v1/agents?team_id={id}&limit=1000")).await;
    assert_eq!(
        members.as_array().unwrap().len(),
        team["agents"].as_array().unwrap().len()
    );
}

#[tokio::test]
async fn assign_team_takes_team_id_from_the_body_or_the_query() {
    let s = start().await;
    let g = genesis(&s);
    let teams = get(&s, "/api/v1/teams").await;
    let team = &teams.as_array().unwrap()[0];
    let role = team["job_role_id"].as_str().unwrap();
    let agents = get(&s, &format!("/api/v1/agents?job_role_id={role}")).await;
    let agent_id = agents[0]["id"].as_str().unwrap().to_owned();
    let team_id = team["id"].as_str().unwrap();
    let path = format!("/api/v1/agents/{agent_id}/assign-team");

    let r = req("POST", &path)
        .bearer(&g)
        .json(&json!({ "team_id": team_id }))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["team_id"], team_id);
    let r = req("POST", &path)
        .bearer(&g)
        .json(&json!({ "team_id": null }))
        .send(&s)
        .await;
    assert_eq!(r.json()["team_id"], Value::Null);
    let r = req("POST", &format!("{path}?team_id={team_id}"))
        .bearer(&g)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["team_id"], team_id);

    req("POST", &path)
        .bearer(&g)
        .json(&json!({}))
        .send(&s)
        .await
        .problem(422);
    let unknown = uuid::Uuid::new_v4().to_string();
    req("POST", &path)
        .bearer(&g)
        .json(&json!({ "team_id": unknown }))
        .send(&s)
        .await
        .problem(404);
    req("POST", &path)
        .json(&json!({ "team_id": team_id }))
        .send(&s)
        .await
        .problem(401);
}

#[tokio::test]
async fn agents_me_returns_the_tokens_agent_with_its_relations() {
    let s = start().await;
    let agent = first(&s, "/api/v1/agents").await;
    let id = agent["id"].as_str().unwrap();
    let r = req("GET", "/api/v1/agents/me")
        .bearer(&agent_token(&s, id))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let me = r.json();
    assert_eq!(me["id"], id);
    assert_eq!(me["job_role"]["id"], agent["job_role_id"]);
    assert_eq!(me["skill"]["id"], agent["skill_id"]);
    assert_eq!(me["industry_detail"]["id"], agent["industry_id"]);

    req("GET", "/api/v1/agents/me")
        .bearer(&token(&s, "agent"))
        .send(&s)
        .await
        .problem(403);
    req("GET", "/api/v1/agents/me")
        .bearer(&token(&s, "genesis"))
        .send(&s)
        .await
        .problem(403);
    req("GET", "/api/v1/agents/me").send(&s).await.problem(401);
    let ghost = agent_token(&s, &uuid::Uuid::new_v4().to_string());
    req("GET", "/api/v1/agents/me")
        .bearer(&ghost)
        .send(&s)
        .await
        .problem(404);
}

#[tokio::test]
async fn trials_are_booked_anonymously_with_the_customer_portal_fields() {
    let s = start().await;
    let agent = first(&s, "/api/v1/agents").await;
    let body = json!({
        "agent_id": agent["id"],
        "customer_name": "Dana Reyes",
        "customer_email": "Dana@Example.com",
        "customer_company": "Reyes Ltd",
        "customer_phone": "+1 555 010 2000",
    });
    let r = req("POST", "/api/v1/trials").json(&body).send(&s).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let trial = r.json();
    for field in [
        "id",
        "agent_id",
        "customer_name",
        "customer_email",
        "company",
        "phone",
        "start_date",
        "end_date",
        "status",
        "days_remaining",
        "created_at",
        "updated_at",
    ] {
        assert!(!trial[field].is_null(), "trial lacks {field}: {trial}");
    }
    assert_eq!(trial["company"], "Reyes Ltd");
    assert_eq!(trial["customer_email"], "dana@example.com");
    assert_eq!(trial["status"], "active");
    assert_eq!(trial["days_remaining"], 7);

    let bad =
        json!({ "agent_id": agent["id"], "customer_name": "X", "customer_email": "not-an-email" });
    let r = req("POST", "/api/v1/trials").json(&bad).send(&s).await;
    assert!(
        !r.problem(422)["type"]
            .as_str()
            .unwrap()
            .contains("constitutional")
    );
    let unknown = json!({ "agent_id": uuid::Uuid::new_v4(), "customer_name": "X", "customer_email": "x@example.com" });
    req("POST", "/api/v1/trials")
        .json(&unknown)
        .send(&s)
        .await
        .problem(404);
}

#[tokio::test]
async fn trials_are_read_by_their_customer_or_an_operator_only() {
    let s = start().await;
    let agent = first(&s, "/api/v1/agents").await;
    let book = |email: &str| json!({ "agent_id": agent["id"], "customer_name": "C", "customer_email": email, "company": "Co" });
    let mine = req("POST", "/api/v1/trials")
        .json(&book("me@example.com"))
        .send(&s)
        .await
        .json();
    req("POST", "/api/v1/trials")
        .json(&book("other@example.com"))
        .send(&s)
        .await;
    let id = mine["id"].as_str().unwrap();
    let me = customer_token(&s, "ME@example.com");

    let page = req("GET", "/api/v1/trials").bearer(&me).send(&s).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.json();
    assert_eq!(page["total"], 1);
    assert_eq!(page["skip"], 0);
    assert_eq!(page["limit"], 100);
    assert_eq!(page["trials"][0]["id"], id);
    let all = req("GET", "/api/v1/trials?skip=0&limit=10")
        .bearer(&token(&s, "operator"))
        .send(&s)
        .await
        .json();
    assert_eq!(all["total"], 2);
    assert_eq!(all["limit"], 10);

    assert_eq!(
        req("GET", &format!("/api/v1/trials/{id}"))
            .bearer(&me)
            .send(&s)
            .await
            .status,
        200
    );
    let stranger = customer_token(&s, "stranger@example.com");
    req("GET", &format!("/api/v1/trials/{id}"))
        .bearer(&stranger)
        .send(&s)
        .await
        .problem(403);
    req("GET", &format!("/api/v1/trials/{id}"))
        .send(&s)
        .await
        .problem(401);
    req("GET", "/api/v1/trials").send(&s).await.problem(401);

    let r = req("PATCH", &format!("/api/v1/trials/{id}"))
        .bearer(&token(&s, "operator"))
        .json(&json!({ "deliverables": [{ "title": "First draft", "url": "https://example.com/d1" }] }))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let deliverables = req("GET", &format!("/api/v1/trials/{id}/deliverables"))
        .bearer(&me)
        .send(&s)
        .await
        .json();
    assert_eq!(deliverables[0]["title"], "First draft");

    let r = req("DELETE", &format!("/api/v1/trials/{id}"))
        .bearer(&me)
        .send(&s)
        .await;
    assert_eq!(r.status, 204);
    let after = req("GET", &format!("/api/v1/trials/{id}"))
        .bearer(&me)
        .send(&s)
        .await
        .json();
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["days_remaining"], 0);
    let r = req("PATCH", &format!("/api/v1/trials/{id}"))
        .bearer(&me)
        .json(&json!({ "status": "converted" }))
        .send(&s)
        .await;
    r.problem(409);
}

#[tokio::test]
async fn anonymous_trial_bookings_are_throttled_with_429_whatever_x_forwarded_for_says() {
    let s = start().await;
    let agent = first(&s, "/api/v1/agents").await;
    let mut last = 0;
    for i in 0..12 {
        let body = json!({ "agent_id": agent["id"], "customer_name": "N", "customer_email": format!("n{i}@example.com") });
        let r = req("POST", "/api/v1/trials")
            // No trusted proxy is configured: a new address per request does not escape.
            .header("x-forwarded-for", &format!("203.0.113.{i}"))
            .json(&body)
            .send(&s)
            .await;
        last = r.status;
        if r.status == 429 {
            r.problem(429);
            assert!(r.header("retry-after").is_some());
            break;
        }
    }
    assert_eq!(last, 429);
}

#[tokio::test]
async fn jobs_are_created_by_operators_and_moved_along_by_their_agent() {
    let s = start().await;
    let agents = get(&s, "/api/v1/agents").await;
    let agent = &agents[0];
    let other = &agents[1];
    let operator = token(&s, "operator");
    let body =
        json!({ "agent_id": agent["id"], "title": "Write a post", "input": { "words": 800 } });
    req("POST", "/api/v1/jobs")
        .bearer(&genesis(&s))
        .json(&body)
        .send(&s)
        .await
        .problem(403);
    let r = req("POST", "/api/v1/jobs")
        .bearer(&operator)
        .json(&body)
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let job = r.json();
    assert_eq!(job["status"], "queued");
    let id = job["id"].as_str().unwrap();
    let path = format!("/api/v1/jobs/{id}");

    let mine = agent_token(&s, agent["id"].as_str().unwrap());
    let theirs = agent_token(&s, other["id"].as_str().unwrap());
    let listed = req("GET", "/api/v1/jobs")
        .bearer(&mine)
        .send(&s)
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        req("GET", "/api/v1/jobs")
            .bearer(&theirs)
            .send(&s)
            .await
            .json(),
        json!([])
    );
    req("GET", &path)
        .bearer(&theirs)
        .send(&s)
        .await
        .problem(403);

    let r = req("PATCH", &path)
        .bearer(&mine)
        .json(&json!({ "status": "succeeded" }))
        .send(&s)
        .await;
    r.problem(409);
    let r = req("PATCH", &path)
        .bearer(&mine)
        .json(&json!({ "status": "running" }))
        .send(&s)
        .await;
    assert_eq!(r.json()["status"], "running");
    let r = req("PATCH", &path)
        .bearer(&mine)
        .header("if-match", "\"v1\"")
        .json(&json!({ "status": "succeeded" }))
        .send(&s)
        .await;
    r.problem(412);
    let r = req("PATCH", &path)
        .bearer(&mine)
        .json(&json!({ "status": "succeeded", "output": { "url": "x" } }))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "succeeded");
    req("PATCH", &path)
        .bearer(&operator)
        .json(&json!({ "status": "running" }))
        .send(&s)
        .await
        .problem(409);
    req("PATCH", &path)
        .bearer(&mine)
        .json(&json!({ "status": "exploded" }))
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn audit_run_tampering_verify_and_export_for_operators() {
    let s = start().await;
    let op = token(&s, "operator");
    req("POST", "/api/v1/audit/run")
        .bearer(&genesis(&s))
        .send(&s)
        .await
        .problem(403);
    req("POST", "/api/v1/audit/run").send(&s).await.problem(401);

    let r = req("POST", "/api/v1/audit/run").bearer(&op).send(&s).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    for field in [
        "total_entities",
        "compliant",
        "compliance_score",
        "total_violations",
        "timestamp",
        "l0_breakdown",
        "l1_breakdown",
        "violations",
        "statistics",
    ] {
        assert!(report.get(field).is_some(), "audit report lacks {field}");
    }
    let skills = get(&s, "/api/v1/genesis/skills?limit=1000")
        .await
        .as_array()
        .unwrap()
        .len();
    for spelling in ["skill", "Skill", "skills"] {
        let one = req("POST", &format!("/api/v1/audit/run?entity_type={spelling}"))
            .bearer(&op)
            .send(&s)
            .await
            .json();
        assert_eq!(
            one["total_entities"].as_u64().unwrap() as usize,
            skills,
            "{spelling}"
        );
    }
    req("POST", "/api/v1/audit/run?entity_type=planet")
        .bearer(&op)
        .send(&s)
        .await
        .problem(422);

    let agent = first(&s, "/api/v1/agents").await;
    let id = agent["id"].as_str().unwrap();
    let t = req("GET", &format!("/api/v1/audit/tampering/{id}"))
        .bearer(&op)
        .send(&s)
        .await
        .json();
    for field in [
        "entity_id",
        "tampered",
        "tampering_detected",
        "hash_chain_valid",
        "broken_links",
        "details",
        "broken_at_index",
    ] {
        assert!(t.get(field).is_some(), "tampering report lacks {field}");
    }
    assert_eq!(t["tampered"], false);
    assert_eq!(t["hash_chain_valid"], true);
    req(
        "GET",
        &format!("/api/v1/audit/tampering/{}", uuid::Uuid::new_v4()),
    )
    .bearer(&op)
    .send(&s)
    .await
    .problem(404);

    let v = req("GET", "/api/v1/audit/verify")
        .bearer(&op)
        .send(&s)
        .await
        .json();
    assert_eq!(v["ok"], true, "{v}");

    let r = req("GET", "/api/v1/audit/export?limit=5")
        .bearer(&op)
        .send(&s)
        .await;
    let page = r.json();
    assert_eq!(page.as_array().unwrap().len(), 5);
    assert_eq!(page[0]["seq"], 1);
    let link = r.header("link").unwrap();
    assert!(link.contains("after=5"), "{link}");
    req("GET", "/api/v1/audit/export?limit=0")
        .bearer(&op)
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn search_ranks_catalog_entries_with_scores() {
    let s = start().await;
    let agent = first(&s, "/api/v1/agents").await;
    let name = agent["name"].as_str().unwrap();
    let r = req(
        "GET",
        &format!("/api/v1/search?q={}&k=5", name.replace(' ', "+")),
    )
    .send(&s)
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let results = body["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 5);
    assert!(results[0]["score"].is_number());
    let agents = req(
        "GET",
        &format!("/api/v1/search?q={}&kind=agent", name.replace(' ', "+")),
    )
    .send(&s)
    .await
    .json();
    assert!(
        agents["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["kind"] == "Agent")
    );
    let ranked = get(
        &s,
        &format!("/api/v1/agents?q={}&limit=3", name.replace(' ', "+")),
    )
    .await;
    assert!(ranked[0]["score"].is_number());
    req("GET", "/api/v1/search").send(&s).await.problem(422);
    req("GET", "/api/v1/search?q=x&k=0")
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn search_modes_fuse_full_text_with_meaning_and_reject_unknown_modes() {
    let s = start().await;
    let names = |body: &Value| -> Vec<String> {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // The default is hybrid; an exact name comes first, with a fused score.
    let body = get(&s, "/api/v1/search?q=Keir+Moss&kind=agent&k=3").await;
    assert_eq!(body["mode"], "hybrid");
    assert_eq!(names(&body)[0], "Keir Moss");
    let score = body["results"][0]["score"].as_f64().unwrap();
    assert!(score > 1.0 / 61.0 && score <= 2.0 / 61.0 + 1e-6, "{score}");
    // Lexical: only documents with the word, PostgreSQL's ts_rank as the score.
    let body = get(&s, "/api/v1/search?q=klaviyo&mode=lexical").await;
    assert_eq!(body["mode"], "lexical");
    assert_eq!(names(&body), ["Faye Lark"]);
    let score = body["results"][0]["score"].as_f64().unwrap();
    assert!((score - 0.243_170_8).abs() < 1e-5, "{score}");
    let body = get(&s, "/api/v1/search?q=zzqxv&mode=lexical").await;
    assert!(names(&body).is_empty());
    // Semantic: cosine similarity, so a word nobody uses still ranks by meaning.
    let body = get(&s, "/api/v1/search?q=zzqxv&mode=semantic&k=4").await;
    assert_eq!(body["mode"], "semantic");
    assert_eq!(names(&body).len(), 4);
    // The agents list ranks the same way, in every mode, with the other filters.
    let agents = get(&s, "/api/v1/agents?q=Klaviyo+flows&mode=lexical").await;
    let agents = agents.as_array().unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0]["name"], "Faye Lark");
    assert!(agents[0]["score"].is_number());
    let hybrid = get(&s, "/api/v1/agents?q=Pax+Arden&limit=3").await;
    assert_eq!(hybrid[0]["name"], "Pax Arden");
    let in_sales = get(&s, "/api/v1/agents?q=Pax+Arden&industry=sales&limit=5").await;
    assert!(
        in_sales
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "Pax Arden")
    );
    // Unknown modes are invalid input on both endpoints.
    for path in [
        "/api/v1/search?q=math&mode=fuzzy",
        "/api/v1/agents?q=math&mode=HYBRID",
    ] {
        let problem = req("GET", path).send(&s).await.problem(422);
        assert!(problem.to_string().contains("mode"), "{path}: {problem}");
    }
}

#[tokio::test]
async fn industries_and_teams_are_created_listed_and_read() {
    let s = start().await;
    let g = genesis(&s);
    let r = req("POST", "/api/v1/industries")
        .bearer(&g)
        .json(&json!({ "name": "Healthcare", "description": "Care" }))
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let industry = r.json();
    let listed = get(&s, "/api/v1/industries").await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == industry["id"])
    );

    let role = first(&s, "/api/v1/genesis/job-roles").await;
    let body = json!({ "name": "Care Crew", "description": "d", "job_role_id": role["id"], "industry_id": industry["id"] });
    let r = req("POST", "/api/v1/teams")
        .bearer(&g)
        .json(&body)
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let team = r.json();
    assert_eq!(team["agents"], json!([]));
    let read = get(
        &s,
        &format!("/api/v1/teams/{}", team["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(read["name"], "Care Crew");
}

#[tokio::test]
async fn readiness_reflects_the_store() {
    let s = start().await;
    assert_eq!(get(&s, "/ready").await, json!({ "status": "ok" }));
}

#[tokio::test]
async fn dry_runs_check_everything_and_write_nothing() {
    let s = start().await;
    let g = genesis(&s);
    let body = json!({ "name": "Dry Skill", "description": "d", "category": "technical" });
    let r = req("POST", "/api/v1/genesis/skills?dry_run=true")
        .bearer(&g)
        .json(&body)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], "Dry Skill");
    let all = get(&s, "/api/v1/genesis/skills?limit=1000").await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|k| k["name"] != "Dry Skill")
    );
    let blank = json!({ "name": "", "category": "technical" });
    let r = req("POST", "/api/v1/genesis/skills?dry_run=true")
        .bearer(&g)
        .json(&blank)
        .send(&s)
        .await;
    assert!(
        r.problem(422)["type"]
            .as_str()
            .unwrap()
            .contains("constitutional")
    );

    let skill = first(&s, "/api/v1/genesis/skills").await;
    let path = format!(
        "/api/v1/genesis/skills/{}?dry_run=1",
        skill["id"].as_str().unwrap()
    );
    let tag = format!("\"v{}\"", skill["version"]);
    let r = req("PATCH", &path)
        .bearer(&g)
        .header("if-match", &tag)
        .json(&json!({ "description": "Maybe" }))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["description"], "Maybe");
    let unchanged = get(
        &s,
        &format!("/api/v1/genesis/skills/{}", skill["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(unchanged["version"], skill["version"]);
    req("POST", "/api/v1/genesis/skills?dry_run=maybe")
        .bearer(&g)
        .json(&body)
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn ranked_agents_are_lean_like_lists_unless_full_is_asked_for() {
    let s = start().await;
    let lean = get(&s, "/api/v1/agents?q=Pax+Arden&limit=3").await;
    let full = get(&s, "/api/v1/agents?q=Pax+Arden&limit=3&full=true").await;
    let (lean, full) = (lean.as_array().unwrap(), full.as_array().unwrap());
    assert!(!lean.is_empty());
    assert_eq!(lean.len(), full.len());
    for (l, f) in lean.iter().zip(full) {
        assert_eq!(l["id"], f["id"]);
        assert!(l["score"].is_number() && l["score"] == f["score"]);
        assert!(l.get("amendment_history").is_none() && l.get("hash_chain_sha256").is_none());
        assert!(f["amendment_history"].is_array() && f["hash_chain_sha256"].is_array());
        assert!(l["industry"].is_string());
        let mut stripped = f.clone();
        let map = stripped.as_object_mut().unwrap();
        map.remove("amendment_history");
        map.remove("hash_chain_sha256");
        assert_eq!(&stripped, l);
    }
    req("GET", "/api/v1/agents?q=Pax+Arden&full=maybe")
        .send(&s)
        .await
        .problem(422);
}
