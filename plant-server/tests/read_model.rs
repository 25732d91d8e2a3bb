//! Reads over the read model: consistency tokens (`X-Plant-Seq`, `min_seq`), conditional GETs
//! (`If-None-Match` → 304) and lean list items.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Options, req, start, start_with, token};
use serde_json::{Value, json};

fn seq_of(reply: &common::Reply) -> u64 {
    reply
        .header("x-plant-seq")
        .unwrap_or_else(|| panic!("no X-Plant-Seq on {}", reply.status))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn every_response_names_the_models_seq_and_a_write_advances_it() {
    let s = start().await;
    let before = req("GET", "/api/v1/genesis/skills").send(&s).await;
    assert_eq!(before.status, 200);
    let seq = seq_of(&before);
    assert!(seq > 0, "the seeded catalog is on the chain");
    let created = req("POST", "/api/v1/industries")
        .bearer(&token(&s, "genesis"))
        .json(&json!({"name": "Seq Industry"}))
        .send(&s)
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let written = seq_of(&created);
    assert!(written > seq);
    // The write's token reads the write back.
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let read = req("GET", &format!("/api/v1/industries/{id}?min_seq={written}"))
        .send(&s)
        .await;
    assert_eq!(read.status, 200);
    assert!(seq_of(&read) >= written);
    let missing = req("GET", "/api/v1/nothing-here").send(&s).await;
    assert_eq!(missing.status, 404);
    assert!(missing.header("x-plant-seq").is_some());
}

#[tokio::test]
async fn a_min_seq_the_model_never_reaches_is_503_with_retry_after_never_a_stale_answer() {
    let s = start_with(Options {
        vars: vec![("PLANT_MIN_SEQ_WAIT_MS", "100".into())],
        ..Options::default()
    })
    .await;
    let seq = seq_of(&req("GET", "/api/v1/agents").send(&s).await);
    for (path, header) in [
        (format!("/api/v1/agents?min_seq={}", seq + 1000), None),
        ("/api/v1/agents".to_owned(), Some((seq + 1000).to_string())),
    ] {
        let mut r = req("GET", &path);
        if let Some(h) = &header {
            r = r.header("X-Plant-Min-Seq", h);
        }
        let reply = r.send(&s).await;
        reply.problem(503);
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
    let ok = req("GET", &format!("/api/v1/agents?min_seq={seq}"))
        .send(&s)
        .await;
    assert_eq!(ok.status, 200);
    req("GET", "/api/v1/agents?min_seq=soon")
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn if_none_match_answers_304_for_lists_and_entities_until_they_change() {
    let s = start().await;
    let list = req("GET", "/api/v1/agents?limit=50").send(&s).await;
    assert_eq!(list.status, 200);
    let tag = list.header("etag").unwrap().to_owned();
    assert!(tag.starts_with("W/\"s"), "{tag}");
    assert_eq!(list.header("cache-control"), Some("no-cache"));
    let again = req("GET", "/api/v1/agents?limit=50")
        .header("If-None-Match", &tag)
        .send(&s)
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    // Another query is another list.
    let other = req("GET", "/api/v1/agents?limit=49")
        .header("If-None-Match", &tag)
        .send(&s)
        .await;
    assert_eq!(other.status, 200);

    let agent = list.json()[0].clone();
    let id = agent["id"].as_str().unwrap();
    let v = agent["version"].as_u64().unwrap();
    let entity_tag = format!("\"v{v}\"");
    let one = req("GET", &format!("/api/v1/agents/{id}")).send(&s).await;
    assert_eq!(one.header("etag"), Some(entity_tag.as_str()));
    let same = req("GET", &format!("/api/v1/agents/{id}"))
        .header("If-None-Match", &entity_tag)
        .send(&s)
        .await;
    assert_eq!(same.status, 304);
    assert!(same.body.is_empty());

    // A change moves both tags on.
    let patched = req("PATCH", &format!("/api/v1/agents/{id}"))
        .bearer(&token(&s, "genesis"))
        .header("If-Match", &entity_tag)
        .json(&json!({"description": "changed"}))
        .send(&s)
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let changed = req("GET", &format!("/api/v1/agents/{id}"))
        .header("If-None-Match", &entity_tag)
        .send(&s)
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.json()["description"], "changed");
    let relisted = req("GET", "/api/v1/agents?limit=50")
        .header("If-None-Match", &tag)
        .send(&s)
        .await;
    assert_eq!(relisted.status, 200);
    assert_ne!(relisted.header("etag"), Some(tag.as_str()));
    // Read after the write, the list shows it: no answer kept from before is given again.
    let relisted = relisted.json();
    let item = relisted
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap();
    assert_eq!(item["description"], "changed");
    let history = req("GET", &format!("/api/v1/agents/{id}/history"))
        .send(&s)
        .await;
    let history_tag = history.header("etag").unwrap().to_owned();
    let unchanged = req("GET", &format!("/api/v1/agents/{id}/history"))
        .header("If-None-Match", &history_tag)
        .send(&s)
        .await;
    assert_eq!(unchanged.status, 304);

    // The audit export too, after its operator check.
    let operator = token(&s, "operator");
    let export = req("GET", "/api/v1/audit/export?limit=10")
        .bearer(&operator)
        .send(&s)
        .await;
    let export_tag = export.header("etag").unwrap().to_owned();
    let cached = req("GET", "/api/v1/audit/export?limit=10")
        .bearer(&operator)
        .header("If-None-Match", &export_tag)
        .send(&s)
        .await;
    assert_eq!(cached.status, 304);
    let anonymous = req("GET", "/api/v1/audit/export?limit=10")
        .header("If-None-Match", &export_tag)
        .send(&s)
        .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn a_list_asked_again_at_the_same_seq_is_the_same_answer_with_its_link() {
    let s = start().await;
    let first = req("GET", "/api/v1/genesis/skills?limit=2").send(&s).await;
    assert_eq!(first.status, 200);
    let link = first.header("link").unwrap().to_owned();
    assert!(link.contains("rel=\"next\""), "{link}");
    for path in [
        "/api/v1/genesis/skills?limit=2".to_owned(),
        format!("/api/v1/genesis/skills?limit=2&min_seq={}", seq_of(&first)),
    ] {
        let again = req("GET", &path).send(&s).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("link"), Some(link.as_str()));
        assert_eq!(again.header("etag"), first.header("etag"));
    }
    // The next page is another answer.
    let next = link.split(['<', '>']).nth(1).unwrap();
    let path = next.find("/api/").map_or(next, |at| &next[at..]);
    let second = req("GET", path).send(&s).await;
    assert_eq!(second.status, 200);
    assert_ne!(second.body, first.body);
    assert_eq!(second.json().as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn one_entity_asked_again_is_the_same_answer_under_its_own_kind_only() {
    let s = start().await;
    let agent = req("GET", "/api/v1/agents?limit=1").send(&s).await.json()[0].clone();
    let id = agent["id"].as_str().unwrap();
    let path = format!("/api/v1/agents/{id}");
    let first = req("GET", &path).send(&s).await;
    assert_eq!(first.status, 200);
    let again = req("GET", &path).send(&s).await;
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("etag"), first.header("etag"));
    // The id under another kind is not that answer.
    for kind in ["genesis/skills", "genesis/job-roles", "industries", "teams"] {
        req("GET", &format!("/api/v1/{kind}/{id}"))
            .send(&s)
            .await
            .problem(404);
    }
    // A change elsewhere that shows in the agent (its industry's name) is seen at once.
    let industry_id = first.json()["industry_id"].as_str().unwrap().to_owned();
    let industry = req("GET", &format!("/api/v1/industries/{industry_id}"))
        .send(&s)
        .await;
    let renamed = req("PATCH", &format!("/api/v1/industries/{industry_id}"))
        .bearer(&token(&s, "genesis"))
        .header("If-Match", industry.header("etag").unwrap())
        .json(&json!({"name": "Renamed Industry"}))
        .send(&s)
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    let after = req("GET", &path).send(&s).await;
    assert_eq!(after.json()["industry"], "renamed industry");
    assert_eq!(after.header("etag"), first.header("etag"));
}

#[tokio::test]
async fn list_items_are_lean_unless_the_full_form_is_asked_for() {
    let s = start().await;
    let lean = req("GET", "/api/v1/agents?limit=5").send(&s).await.json();
    let full = req("GET", "/api/v1/agents?limit=5&full=true")
        .send(&s)
        .await
        .json();
    let (lean, full) = (lean.as_array().unwrap(), full.as_array().unwrap());
    assert_eq!(lean.len(), 5);
    for (l, f) in lean.iter().zip(full) {
        let id = f["id"].as_str().unwrap();
        let one = req("GET", &format!("/api/v1/agents/{id}"))
            .send(&s)
            .await
            .json();
        assert_eq!(f, &one, "the full form is the entity");
        assert!(f.get("amendment_history").is_some());
        let mut expected = f.clone();
        let map = expected.as_object_mut().unwrap();
        map.remove("amendment_history");
        map.remove("hash_chain_sha256");
        assert_eq!(l, &expected, "lean drops only what grows with history");
        for field in [
            "id",
            "name",
            "description",
            "industry",
            "industry_id",
            "status",
            "version",
        ] {
            assert!(l.get(field).is_some_and(|v| !v.is_null()), "{field}");
        }
    }
    let teams: Value = req("GET", "/api/v1/teams").send(&s).await.json();
    let team = &teams[0];
    assert!(team.get("agents").is_some());
    assert!(team.get("amendment_history").is_none());
    req("GET", "/api/v1/agents?full=maybe")
        .send(&s)
        .await
        .problem(422);
}

#[tokio::test]
async fn a_min_seq_timeout_says_the_model_is_behind_not_that_the_database_is_down() {
    let s = start_with(Options {
        vars: vec![("PLANT_MIN_SEQ_WAIT_MS", "50".into())],
        ..Options::default()
    })
    .await;
    let seq = seq_of(&req("GET", "/api/v1/agents").send(&s).await);
    let reply = req("GET", &format!("/api/v1/agents?min_seq={}", seq + 1000))
        .send(&s)
        .await;
    let problem = reply.problem(503);
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("min_seq {}", seq + 1000)),
        "{detail}"
    );
    assert!(!detail.contains("database"), "{detail}");
    assert_eq!(reply.header("retry-after"), Some("1"));
}
