//! `GET /api/v1/agents/{id}/agent-card` over real HTTP (on PostgreSQL when
//! `PLANT_TEST_ADMIN_URL` is set, on the in-memory store otherwise), validated against the A2A
//! protocol's AgentCard JSON Schema (tests/data/a2a, see its README for source and licence).
#![allow(clippy::unwrap_used)]

mod common;

use common::{Options, TestServer, req, start, start_with, token};
use serde_json::{Value, json};

/// The A2A schema document (draft-07; only `definitions`).
fn a2a_schema() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/a2a/a2a.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Validates `value` against `schema` for the draft-07 keywords the AgentCard's definitions
/// use (`$ref`, `type`, `properties`, `required`, `additionalProperties`, `items`, `anyOf`,
/// `enum`, `const`; annotations are skipped). Any other keyword fails the test, so a schema this
/// does not fully understand is never passed silently. Returns every error with its path.
fn validate(root: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        assert_eq!(schema, &json!(true), "unsupported schema at {path}");
        return;
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "description" | "examples" | "default" | "title" | "$schema" | "definitions" => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .unwrap()
                    .strip_prefix("#/definitions/")
                    .unwrap();
                validate(root, &root["definitions"][name], value, path, errors);
            }
            "type" => {
                let ok = match rule.as_str().unwrap() {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "boolean" => value.is_boolean(),
                    "integer" => value.is_i64() || value.is_u64(),
                    "number" => value.is_number(),
                    "null" => value.is_null(),
                    other => panic!("unsupported type {other}"),
                };
                if !ok {
                    errors.push(format!("{path}: not of type {rule}"));
                }
            }
            "required" => {
                for field in rule.as_array().unwrap() {
                    if value.get(field.as_str().unwrap()).is_none() && value.is_object() {
                        errors.push(format!("{path}: lacks required {field}"));
                    }
                }
            }
            "properties" => {
                if let Some(map) = value.as_object() {
                    for (name, sub) in rule.as_object().unwrap() {
                        if let Some(v) = map.get(name) {
                            validate(root, sub, v, &format!("{path}/{name}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(map) = value.as_object() {
                    let declared = schema.get("properties").and_then(Value::as_object);
                    for (name, v) in map {
                        if declared.is_none_or(|d| !d.contains_key(name)) {
                            if rule == &json!(false) {
                                errors.push(format!("{path}: {name} is not allowed"));
                            } else {
                                validate(root, rule, v, &format!("{path}/{name}"), errors);
                            }
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, v) in items.iter().enumerate() {
                        validate(root, rule, v, &format!("{path}/{i}"), errors);
                    }
                }
            }
            "anyOf" => {
                let passes = rule.as_array().unwrap().iter().any(|sub| {
                    let mut e = Vec::new();
                    validate(root, sub, value, path, &mut e);
                    e.is_empty()
                });
                if !passes {
                    errors.push(format!("{path}: matches none of anyOf"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(value) {
                    errors.push(format!("{path}: {value} not in {rule}"));
                }
            }
            "const" => {
                if rule != value {
                    errors.push(format!("{path}: {value} is not {rule}"));
                }
            }
            other => panic!("the schema uses {other}, which this validator does not implement"),
        }
    }
}

fn card_errors(card: &Value) -> Vec<String> {
    let root = a2a_schema();
    let mut errors = Vec::new();
    validate(
        &root,
        &json!({ "$ref": "#/definitions/AgentCard" }),
        card,
        "",
        &mut errors,
    );
    errors
}

async fn get(s: &TestServer, path: &str) -> Value {
    let r = req("GET", path).send(s).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

fn assert_valid(card: &Value) {
    let errors = card_errors(card);
    assert!(
        errors.is_empty(),
        "not an A2A AgentCard: {errors:?}\n{card:#}"
    );
}

#[tokio::test]
async fn every_agent_card_is_a_valid_a2a_agent_card_built_from_the_catalog() {
    let s = start_with(Options {
        vars: vec![("PLANT_PUBLIC_URL", "https://plant.example.com/".into())],
        ..Options::default()
    })
    .await;
    let agents = get(&s, "/api/v1/agents?limit=1000").await;
    let agents = agents.as_array().unwrap();
    assert!(agents.len() >= 10);
    for agent in agents {
        let id = agent["id"].as_str().unwrap();
        let card = get(&s, &format!("/api/v1/agents/{id}/agent-card")).await;
        assert_valid(&card);
        assert_eq!(card["name"], agent["name"]);
        assert_eq!(card["protocolVersion"], "0.3.0");
        let url = format!("https://plant.example.com/api/v1/agents/{id}");
        assert_eq!(card["url"], url);
        assert_eq!(card["version"], agent["version"].to_string());
        assert_eq!(
            card["provider"],
            json!({ "organization": "Plant", "url": "https://plant.example.com" })
        );
        // A2A 1.0 moved the endpoint into `supportedInterfaces` (a2a.proto: AgentInterface).
        let interface = &card["supportedInterfaces"][0];
        assert_eq!(interface["url"], url);
        assert!(
            interface["protocolBinding"].is_string() && interface["protocolVersion"].is_string()
        );

        let skills = card["skills"].as_array().unwrap();
        assert_eq!(skills.len(), 2, "{card}");
        assert_eq!(skills[0]["id"], agent["skill_id"]);
        assert_eq!(skills[1]["id"], agent["job_role_id"]);
        let skill = get(
            &s,
            &format!(
                "/api/v1/genesis/skills/{}",
                agent["skill_id"].as_str().unwrap()
            ),
        )
        .await;
        let role = get(
            &s,
            &format!(
                "/api/v1/genesis/job-roles/{}",
                agent["job_role_id"].as_str().unwrap()
            ),
        )
        .await;
        assert_eq!(skills[0]["name"], skill["name"]);
        assert_eq!(skills[1]["name"], role["name"]);
        let tags = |i: usize| skills[i]["tags"].as_array().unwrap().clone();
        assert!(tags(0).contains(&skill["category"]), "{card}");
        assert!(tags(1).contains(&role["seniority_level"]), "{card}");
        assert!(tags(0).contains(&agent["industry"]), "{card}");
        for skill in skills {
            assert!(!skill["examples"].as_array().unwrap().is_empty());
        }
    }
}

#[tokio::test]
async fn the_card_follows_the_agent_and_unknown_agents_are_404() {
    let s = start().await;
    let agent = get(&s, "/api/v1/agents").await.as_array().unwrap()[0].clone();
    let id = agent["id"].as_str().unwrap();
    let path = format!("/api/v1/agents/{id}");
    let r = req("PATCH", &path)
        .bearer(&token(&s, "genesis"))
        .header("if-match", &format!("\"v{}\"", agent["version"]))
        .json(&json!({ "name": "Renamed For Cards", "description": "Writes cards." }))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let card = get(&s, &format!("{path}/agent-card")).await;
    assert_valid(&card);
    assert_eq!(card["name"], "Renamed For Cards");
    assert_eq!(card["description"], "Writes cards.");
    assert_eq!(
        card["version"],
        (agent["version"].as_u64().unwrap() + 1).to_string()
    );
    // Without PLANT_PUBLIC_URL the base is the local server's.
    assert!(
        card["url"]
            .as_str()
            .unwrap()
            .starts_with("http://localhost:"),
        "{card}"
    );

    req(
        "GET",
        &format!("/api/v1/agents/{}/agent-card", uuid::Uuid::new_v4()),
    )
    .send(&s)
    .await
    .problem(404);
    req("GET", "/api/v1/agents/nope/agent-card")
        .send(&s)
        .await
        .problem(422);
    // A skill's id is not an agent's.
    let skill = get(&s, "/api/v1/genesis/skills").await.as_array().unwrap()[0].clone();
    req(
        "GET",
        &format!(
            "/api/v1/agents/{}/agent-card",
            skill["id"].as_str().unwrap()
        ),
    )
    .send(&s)
    .await
    .problem(404);
}

#[test]
fn the_schema_rejects_a_card_without_its_required_fields() {
    // The fixture is a real check: a card missing `url` and `skills`, or with a skill whose
    // tags are not strings, fails it.
    let card = json!({
        "name": "x", "description": "y", "version": "1", "protocolVersion": "0.3.0",
        "capabilities": {}, "defaultInputModes": [], "defaultOutputModes": [],
    });
    let errors = card_errors(&card);
    assert!(errors.iter().any(|e| e.contains("\"url\"")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("\"skills\"")),
        "{errors:?}"
    );
    let mut card = card;
    card["url"] = json!("https://x");
    card["skills"] = json!([{ "id": "a", "name": "b", "description": "c", "tags": [1] }]);
    let errors = card_errors(&card);
    assert_eq!(
        errors,
        vec!["/skills/0/tags/0: not of type \"string\"".to_owned()]
    );
    card["skills"][0]["tags"] = json!(["ok"]);
    assert!(card_errors(&card).is_empty());
}
