//! One test per rule id: each rule is broken on purpose and must be reported with its id; and
//! validation is total (never panics) on arbitrary entities.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use plant_core::Catalog;
use plant_core::input::{AgentInput, IndustryInput, JobRoleInput, SkillInput, TeamInput};
use plant_core::model::{Kind, Record};
use plant_core::search::HashingEmbedder;
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::{MemoryStore, Store};
use plant_core::validate::{Context, rules, validate, validate_for_certification};
use proptest::prelude::*;
use uuid::Uuid;

async fn seeded() -> Catalog {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let c = Catalog::new(store, Arc::new(HashingEmbedder));
    seed::load(&c, &SeedCatalog::builtin().unwrap(), &mut |_| {})
        .await
        .unwrap();
    c
}

async fn agent_and_ctx(c: &Catalog) -> (Record, Context) {
    let agent = c
        .store()
        .get_by_name(Kind::Agent, "Ava Flux")
        .await
        .unwrap()
        .unwrap();
    let ctx = c.context(&agent).await.unwrap();
    assert!(validate(&agent, &ctx).is_empty());
    (agent, ctx)
}

fn rule_ids(v: &[plant_core::validate::Violation]) -> BTreeSet<String> {
    v.iter().map(|v| v.rule.clone()).collect()
}

/// Every rule id of the rule set, triggered one way or another, collected here.
#[tokio::test]
async fn every_rule_id_can_be_broken_and_is_reported() {
    let c = seeded().await;
    let mut seen = BTreeSet::new();
    let (agent, ctx) = agent_and_ctx(&c).await;

    // L0: break the record or its chain one way at a time.
    let mut r = agent.clone();
    r.base_mut().unwrap().governance_agent_id = None;
    let v = rule_ids(&validate(&r, &ctx));
    assert!(v.contains(rules::L0_01), "{v:?}");
    seen.extend(v);

    let mut r = agent.clone();
    r.base_mut().unwrap().amendment_history.pop();
    seen.extend(
        rule_ids(&validate(&r, &ctx))
            .into_iter()
            .filter(|x| x == rules::L0_02),
    );

    let mut r = agent.clone();
    r.base_mut().unwrap().append_only = false;
    seen.extend(
        rule_ids(&validate(&r, &ctx))
            .into_iter()
            .filter(|x| x == rules::L0_03),
    );

    let mut tampered = ctx.clone();
    tampered.chain[0].payload.push(' ');
    let v = rule_ids(&validate(&agent, &tampered));
    assert!(v.contains(rules::L0_04), "{v:?}");
    seen.extend(v);

    let mut r = agent.clone();
    r.base_mut().unwrap().version_hash = Some(plant_core::audit::Hash([7; 32]));
    seen.extend(
        rule_ids(&validate(&r, &ctx))
            .into_iter()
            .filter(|x| x == rules::L0_05),
    );

    // L1 relational rules: references that do not exist.
    let mut empty_refs = ctx.clone();
    empty_refs.refs.clear();
    let v = rule_ids(&validate(&agent, &empty_refs));
    for rule in [
        rules::L1_AGENT_01,
        rules::L1_AGENT_02,
        rules::L1_AGENT_03,
        rules::L1_AGENT_05,
    ] {
        assert!(v.contains(rule), "{rule} missing from {v:?}");
    }
    seen.extend(v);
    let role = c
        .store()
        .get_by_name(Kind::JobRole, "SDR")
        .await
        .unwrap()
        .unwrap();
    let mut role_ctx = c.context(&role).await.unwrap();
    role_ctx.refs.clear();
    seen.extend(rule_ids(&validate(&role, &role_ctx)));
    let team = c
        .store()
        .get_by_name(Kind::Team, "Content Studio")
        .await
        .unwrap()
        .unwrap();
    let mut team_ctx = c.context(&team).await.unwrap();
    team_ctx.refs.clear();
    team_ctx.team_members = 0;
    seen.extend(rule_ids(&validate_for_certification(&team, &team_ctx)));

    // Certification prerequisites: references that are not certified.
    let mut uncertified = ctx.clone();
    for info in uncertified.refs.values_mut() {
        info.certification = plant_core::model::CertificationState::Pending;
    }
    seen.extend(rule_ids(&validate_for_certification(&agent, &uncertified)));
    let mut role_uncert = c.context(&role).await.unwrap();
    for info in role_uncert.refs.values_mut() {
        info.certification = plant_core::model::CertificationState::Pending;
    }
    seen.extend(rule_ids(&validate_for_certification(&role, &role_uncert)));

    // Rules that the types guarantee are reported, with the same ids, where input is parsed.
    let blank = Some("   ".to_string());
    for violations in [
        IndustryInput {
            name: blank.clone(),
            ..Default::default()
        }
        .parse()
        .err(),
        SkillInput {
            name: blank.clone(),
            category: Some("magic".into()),
            ..Default::default()
        }
        .parse()
        .err(),
        JobRoleInput {
            name: blank.clone(),
            seniority_level: Some("guru".into()),
            ..Default::default()
        }
        .parse()
        .err(),
        TeamInput {
            name: blank.clone(),
            ..Default::default()
        }
        .parse()
        .err(),
        AgentInput {
            name: blank.clone(),
            ..Default::default()
        }
        .parse()
        .err(),
    ] {
        seen.extend(rule_ids(&violations.unwrap()));
    }

    let all: BTreeSet<String> = rules::ALL.iter().map(|(id, _)| (*id).to_owned()).collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "rules never triggered: {missing:?}");
}

fn arb_record() -> impl Strategy<Value = (serde_json::Value, u8)> {
    let text = "\\PC{0,40}";
    (
        text,
        text,
        proptest::collection::vec(any::<u128>(), 0..4),
        any::<u8>(),
        any::<bool>(),
        proptest::option::of("\\PC{0,10}"),
    )
        .prop_map(|(name, description, ids, which, flag, gov)| {
            let id = |n: u128| Uuid::from_u128(n).to_string();
            let first = ids.first().copied().unwrap_or(1);
            let entity_type = ["Industry", "Skill", "JobRole", "Team", "Agent"][usize::from(which % 5)];
            let value = serde_json::json!({
                "id": id(first ^ 0xabc),
                "entity_type": entity_type,
                "created_at": "2026-01-01T00:00:00.000000Z",
                "updated_at": "2026-01-01T00:00:00.000000Z",
                "status": "active",
                "version": u64::from(which),
                "amendment_alignment": "aligned",
                "append_only": flag,
                "tamper_proof": true,
                "governance_agent_id": gov,
                "name": if name.trim().is_empty() { "x".to_string() } else { name.chars().take(200).collect() },
                "description": description,
                "category": "technical",
                "required_skills": ids.iter().map(|n| id(*n)).collect::<Vec<_>>(),
                "seniority_level": "mid",
                "job_role_id": id(first),
                "skill_id": id(first + 1),
                "industry_id": id(first + 2),
                "team_id": if flag { Some(id(first + 3)) } else { None },
            });
            (value, which)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Whatever the entity (as long as it can be represented), validation returns a list and
    /// never panics, with and without a chain.
    #[test]
    fn validation_is_total((value, which) in arb_record()) {
        let kind = Kind::CATALOG[usize::from(which % 5)];
        if let Ok(record) = Record::from_json(kind, value) {
            let v = validate(&record, &Context::default());
            // An entity with no chain always breaks L0-04.
            prop_assert!(v.iter().any(|x| x.rule == rules::L0_04));
            let _ = validate_for_certification(&record, &Context::default());
        }
    }

    /// A record read from its JSON text (as the read model folds a payload) is the record read
    /// from the parsed value, and the text is refused exactly when the value is.
    #[test]
    fn records_read_from_text_as_from_the_parsed_value((value, which) in arb_record()) {
        let kind = Kind::CATALOG[usize::from(which % 5)];
        let text = value.to_string();
        let from_value = Record::from_json(kind, value).map_err(|e| e.to_string());
        let from_text = Record::from_json_str(kind, &text).map_err(|e| e.to_string());
        prop_assert_eq!(from_value.is_ok(), from_text.is_ok(), "{:?} / {:?}", from_value, from_text);
        if let (Ok(a), Ok(b)) = (from_value, from_text) {
            prop_assert_eq!(a, b);
        }
    }
}
