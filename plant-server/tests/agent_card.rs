//! `GET /api/v1/agents/{id}/agent-card` and `GET /.well-known/jwks.json` over real HTTP (on
//! PostgreSQL when `PLANT_TEST_ADMIN_URL` is set, on the in-memory store otherwise).
//!
//! The A2A 0.3 card is validated against the protocol's AgentCard JSON Schema (tests/data/a2a,
//! see its README for source and licence). Both cards, 1.0 and 0.3, are parsed strictly by the
//! official A2A Python SDK, and the 1.0 card's signature checked by the SDK's own verifier
//! (tests/data/a2a/sdk_check.py): the pinned SDK is installed from PyPI into `.cache/a2a-sdk` (or
//! `$PLANT_CACHE_DIR/a2a-sdk`) on first run, never committed. Without python3 (with venv) or PyPI
//! that test prints a note and passes, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Options, TestServer, random_secret, req, start, start_with, token};
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

/// The card in `version` (`None`: the default).
async fn card(s: &TestServer, id: &str, version: Option<&str>) -> Value {
    let path = format!("/api/v1/agents/{id}/agent-card");
    match version {
        Some(v) => get(s, &format!("{path}?version={v}")).await,
        None => get(s, &path).await,
    }
}

#[tokio::test]
async fn every_agent_has_a_1_0_and_a_0_3_card_built_from_the_catalog() {
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
        let url = format!("https://plant.example.com/api/v1/agents/{id}");
        let v1 = card(&s, id, None).await;
        let v03 = card(&s, id, Some("0.3")).await;

        // 0.3: valid against its JSON Schema, the endpoint in `url`.
        assert_valid(&v03);
        assert_eq!(v03["protocolVersion"], "0.3.0");
        assert_eq!(v03["url"], url);
        assert_eq!(v03["preferredTransport"], "HTTP+JSON");
        assert!(v03.get("supportedInterfaces").is_none() && v03.get("signatures").is_none());

        // 1.0: the endpoint in `supportedInterfaces` (a2a.proto: AgentInterface), signed, and
        // none of 0.3's top-level fields.
        assert_eq!(
            v1["supportedInterfaces"],
            json!([{ "url": url, "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0" }])
        );
        for field in ["url", "protocolVersion", "preferredTransport"] {
            assert!(v1.get(field).is_none(), "{field} in a 1.0 card: {v1}");
        }
        assert!(v1["capabilities"].get("stateTransitionHistory").is_none());
        assert_eq!(v1["signatures"].as_array().unwrap().len(), 1);

        for card in [&v1, &v03] {
            assert_eq!(card["name"], agent["name"]);
            assert_eq!(card["version"], agent["version"].to_string());
            assert_eq!(
                card["provider"],
                json!({ "organization": "Plant", "url": "https://plant.example.com" })
            );
            let skills = card["skills"].as_array().unwrap();
            assert_eq!(skills.len(), 2, "{card}");
            assert_eq!(skills[0]["id"], agent["skill_id"]);
            assert_eq!(skills[1]["id"], agent["job_role_id"]);
        }
        assert_eq!(v1["skills"], v03["skills"]);
        let skills = v1["skills"].as_array().unwrap();
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
        assert!(tags(0).contains(&skill["category"]), "{v1}");
        assert!(tags(1).contains(&role["seniority_level"]), "{v1}");
        assert!(tags(0).contains(&agent["industry"]), "{v1}");
        for skill in skills {
            assert!(!skill["examples"].as_array().unwrap().is_empty());
        }
    }
}

#[tokio::test]
async fn the_version_is_asked_for_by_header_or_parameter_and_unknown_ones_are_400() {
    let s = start().await;
    let agent = get(&s, "/api/v1/agents").await.as_array().unwrap()[0].clone();
    let path = format!(
        "/api/v1/agents/{}/agent-card",
        agent["id"].as_str().unwrap()
    );
    let is_v1 = |card: &Value| card["supportedInterfaces"].is_array() && card["url"].is_null();
    let is_v03 = |card: &Value| card["protocolVersion"] == "0.3.0" && card["url"].is_string();
    let default = req("GET", &path).send(&s).await;
    assert_eq!(default.status, 200);
    assert!(is_v1(&default.json()));
    assert_eq!(
        default.header("vary").map(|v| v.contains("A2A-Version")),
        Some(true)
    );
    for (header, query, v1) in [
        (Some("0.3"), None, false),
        (Some("0.3.0"), None, false),
        (Some("1.0"), None, true),
        (Some("1.0.0"), None, true),
        (None, Some("0.3"), false),
        (None, Some("1.0"), true),
        // The parameter wins over the header.
        (Some("1.0"), Some("0.3"), false),
        (Some("0.3"), Some("1.0"), true),
    ] {
        let target = match query {
            Some(q) => format!("{path}?version={q}"),
            None => path.clone(),
        };
        let mut r = req("GET", &target);
        if let Some(h) = header {
            r = r.header("A2A-Version", h);
        }
        let r = r.send(&s).await;
        assert_eq!(r.status, 200, "{header:?} {query:?}: {}", r.text());
        let card = r.json();
        assert!(
            if v1 { is_v1(&card) } else { is_v03(&card) },
            "{header:?} {query:?}: {card}"
        );
        // The two representations never share an entity tag.
        let etag = r.header("etag").unwrap().to_owned();
        assert!(
            etag.contains(if v1 { "a2a1.0" } else { "a2a0.3" }),
            "{etag}"
        );
    }
    for bad in ["0.2", "2.0", "1", "latest", "1.0.x"] {
        let p = req("GET", &format!("{path}?version={bad}"))
            .send(&s)
            .await
            .problem(400);
        assert!(p["detail"].as_str().unwrap().contains("0.3"), "{p}");
        req("GET", &path)
            .header("A2A-Version", bad)
            .send(&s)
            .await
            .problem(400);
    }
}

#[tokio::test]
async fn the_card_follows_the_agent_and_unknown_agents_are_404() {
    let s = start().await;
    let agent = get(&s, "/api/v1/agents").await.as_array().unwrap()[0].clone();
    let id = agent["id"].as_str().unwrap();
    let path = format!("/api/v1/agents/{id}");
    let before = card(&s, id, None).await;
    let r = req("PATCH", &path)
        .bearer(&token(&s, "genesis"))
        .header("if-match", &format!("\"v{}\"", agent["version"]))
        .json(&json!({ "name": "Renamed For Cards", "description": "Writes cards." }))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for version in [None, Some("0.3")] {
        let card = card(&s, id, version).await;
        assert_eq!(card["name"], "Renamed For Cards");
        assert_eq!(card["description"], "Writes cards.");
        assert_eq!(
            card["version"],
            (agent["version"].as_u64().unwrap() + 1).to_string()
        );
    }
    // A changed card is signed anew.
    assert_ne!(card(&s, id, None).await["signatures"], before["signatures"]);
    // Without PLANT_PUBLIC_URL the base is the local server's.
    let v03 = card(&s, id, Some("0.3")).await;
    assert_valid(&v03);
    assert!(
        v03["url"]
            .as_str()
            .unwrap()
            .starts_with("http://localhost:"),
        "{v03}"
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

fn b64url_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// The kid and the public key (`x`) a server publishes.
async fn published_key(s: &TestServer) -> (String, String) {
    let r = req("GET", "/.well-known/jwks.json").send(s).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/jwk-set+json"));
    let jwks = r.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(
        (&keys[0]["kty"], &keys[0]["crv"], &keys[0]["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    (
        keys[0]["kid"].as_str().unwrap().to_owned(),
        keys[0]["x"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_configured_key_signs_on_every_instance_and_a_generated_one_on_its_own() {
    let secret = random_secret();
    let expected_x = common::b64url(
        &ed25519_dalek::SigningKey::from_bytes(&hex::decode(&secret).unwrap().try_into().unwrap())
            .verifying_key()
            .to_bytes(),
    );
    let configured = || Options {
        vars: vec![("PLANT_CARD_SIGNING_KEY", secret.clone())],
        ..Options::default()
    };
    let (a, b) = (
        start_with(configured()).await,
        start_with(configured()).await,
    );
    let (kid_a, x_a) = published_key(&a).await;
    assert_eq!(x_a, expected_x);
    assert_eq!(published_key(&b).await, (kid_a.clone(), x_a));
    // Each process names the one key in the cards it signs.
    for server in [&a, &b] {
        let id = get(server, "/api/v1/agents").await.as_array().unwrap()[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let v1 = card(server, &id, None).await;
        let protected = v1["signatures"][0]["protected"].as_str().unwrap();
        let header: Value = serde_json::from_slice(&b64url_decode(protected)).unwrap();
        assert_eq!(header["kid"], kid_a.as_str());
        assert_eq!(header["alg"], "EdDSA");
    }
    // Without configuration each process makes its own key.
    let (c, d) = (start().await, start().await);
    let (kid_c, kid_d) = (published_key(&c).await.0, published_key(&d).await.0);
    assert_ne!(kid_c, kid_d);
    assert_ne!(kid_c, kid_a);
}

/// The pinned SDK and what its checks need: PyJWT with `cryptography` for EdDSA, and the pydantic
/// whose `model_validate_json` takes `extra`.
const SDK_PACKAGES: &[&str] = &[
    "a2a-sdk[signing]==1.3.0",
    "pyjwt[crypto]==2.15.1",
    "cryptography==50.0.2",
    "pydantic==2.14.4",
];

fn sdk_unavailable(why: &str) -> Option<PathBuf> {
    assert!(
        !common::in_ci(),
        "the A2A SDK check cannot run and CI=true: {why}"
    );
    eprintln!("note: the A2A SDK check is skipped: {why}");
    None
}

/// The virtualenv's python with the pinned SDK, installed on first use. It is built beside its
/// place and moved there when complete, so test runs in parallel never use a half-installed one.
fn sdk_python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = std::env::var_os("PLANT_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache"));
    let venv = cache.join("a2a-sdk");
    let marker = format!(".installed-{}", SDK_PACKAGES.join("-"));
    let python = venv.join("bin").join("python");
    if venv.join(&marker).exists() {
        return Some(python);
    }
    let building = cache.join(format!("a2a-sdk.building-{}", std::process::id()));
    std::fs::create_dir_all(&cache).unwrap();
    let made = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&building)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        return sdk_unavailable("python3 -m venv failed (is python3 with venv installed?)");
    }
    let installed = Command::new(building.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(SDK_PACKAGES)
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        std::fs::remove_dir_all(&building).ok();
        return sdk_unavailable("pip could not install the pinned a2a-sdk from PyPI");
    }
    std::fs::write(building.join(&marker), "").unwrap();
    if venv.join(&marker).exists() {
        // Another run finished first.
        std::fs::remove_dir_all(&building).unwrap();
    } else {
        // A virtualenv of other pins, if any, gives way.
        if venv.exists() {
            std::fs::remove_dir_all(&venv).unwrap();
        }
        std::fs::rename(&building, &venv).unwrap();
    }
    Some(python)
}

#[tokio::test]
async fn the_official_sdk_parses_both_cards_strictly_and_verifies_the_signature() {
    let Some(python) = tokio::task::spawn_blocking(sdk_python).await.unwrap() else {
        return;
    };
    let s = start_with(Options {
        vars: vec![("PLANT_PUBLIC_URL", "https://plant.example.com".into())],
        ..Options::default()
    })
    .await;
    let agents = get(&s, "/api/v1/agents?limit=1000").await;
    let agents = agents.as_array().unwrap();
    assert!(agents.len() >= 10);
    // Every agent's cards, in one run of the checker.
    let mut cards = Vec::new();
    for agent in agents {
        let id = agent["id"].as_str().unwrap();
        cards.push(
            json!({ "v1": card(&s, id, None).await, "v03": card(&s, id, Some("0.3")).await }),
        );
    }
    let paths: Vec<String> = agents
        .iter()
        .take(3)
        .map(|a| format!("/api/v1/agents/{}/agent-card", a["id"].as_str().unwrap()))
        .collect();
    let input = json!({
        "agents": cards,
        "jwks": get(&s, "/.well-known/jwks.json").await,
        "jku": "https://plant.example.com/.well-known/jwks.json",
        "base_url": format!("http://{}", s.addr),
        "paths": paths,
    });
    let output = tokio::task::spawn_blocking(move || run_checker(&python, &input))
        .await
        .unwrap();
    // The SDK's client fetched cards from the running server and verified them.
    assert_eq!(
        output["resolver"],
        json!([null, null, null]),
        "A2ACardResolver: {output:#}"
    );
    let reports = output["agents"].as_array().unwrap();
    assert_eq!(reports.len(), agents.len());
    for (agent, report) in agents.iter().zip(reports) {
        let id = &agent["id"];
        for check in [
            "v1_strict",
            "v03_strict",
            "v1_signature",
            "v1_signature_raw",
        ] {
            assert_eq!(
                report[check],
                Value::Null,
                "{check} failed for {id}: {report:#}"
            );
        }
        for check in [
            "v1_as_v03",
            "v03_as_v1",
            "v1_with_v03_field",
            "v03_nested_unknown",
            "tampered_name",
            "tampered_skill_tag",
            "tampered_endpoint",
            "other_key",
            "other_jku",
        ] {
            assert!(
                report[check].is_string(),
                "{check} should have failed for {id}: {report:#}"
            );
        }
        assert!(
            report["tampered_name"]
                .as_str()
                .unwrap()
                .starts_with("InvalidSignaturesError"),
            "{report:#}"
        );
    }
}

fn run_checker(python: &PathBuf, input: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/a2a/sdk_check.py");
    plant_core::testing::python::run_json_script(python, script, input)
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
