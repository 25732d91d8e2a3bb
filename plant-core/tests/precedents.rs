//! Precedent seeds on both stores: lineage, cycles, the contradiction check, certification
//! citing precedents, and the chain verifying after all of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "postgres")]
mod pg_support;

use std::sync::Arc;

use plant_core::catalog::{Catalog, PrecedentInput, conflict_threshold};
use plant_core::error::Error;
use plant_core::model::{CertificationState, Kind, PrecedentStatus, Record};
use plant_core::search::{Embedder, HashingEmbedder, named_text};
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::{Action, Change, MemoryStore, Store, StoreError};

fn input(seed_id: &str, title: &str, content: &str, applies_to: &[&str]) -> PrecedentInput {
    PrecedentInput {
        seed_id: Some(seed_id.into()),
        title: title.into(),
        content: content.into(),
        applies_to: applies_to.iter().map(|s| (*s).to_owned()).collect(),
        approving_governor_id: None,
        acknowledge_conflicts: false,
    }
}

fn catalog(store: Arc<dyn Store>) -> Catalog {
    Catalog::new(store, Arc::new(HashingEmbedder))
}

async fn lineage_after_two_supersessions(store: Arc<dyn Store>) {
    let c = catalog(store);
    let a = c
        .create_precedent(
            &input(
                "T-1",
                "Refunds within thirty days",
                "A customer may cancel a trial and be refunded within thirty days.",
                &["Agent"],
            ),
            "gov",
        )
        .await
        .unwrap();
    assert_eq!(a.seed.status, PrecedentStatus::Active);
    let before = c.store().head().await.unwrap().seq;
    let b = c
        .supersede_precedent(
            "t-1",
            &input(
                "T-2",
                "Refunds within fourteen days",
                "Refunds are due within fourteen days of a cancelled trial.",
                &["Agent"],
            ),
            "gov",
        )
        .await
        .unwrap();
    assert_eq!(c.store().head().await.unwrap().seq, before + 2);
    assert_eq!(b.seed.supersedes.as_ref().unwrap().as_str(), "T-1");
    let old = b.superseded.unwrap();
    assert_eq!(old.status, PrecedentStatus::Superseded);
    assert_eq!(old.superseded_by.as_ref().unwrap().as_str(), "T-2");
    c.supersede_precedent(
        "T-2",
        &input(
            "T-3",
            "Refunds within seven days",
            "Refunds are paid within seven days.",
            &["Agent"],
        ),
        "gov",
    )
    .await
    .unwrap();

    let first = c.get_precedent("T-1").await.unwrap();
    let lineage = c.precedent_lineage(&first).await.unwrap();
    assert!(lineage.older.is_empty());
    let newer: Vec<_> = lineage.newer.iter().map(|s| s.seed_id.as_str()).collect();
    assert_eq!(newer, ["T-2", "T-3"]);
    let last = c.get_precedent("T-3").await.unwrap();
    let lineage = c.precedent_lineage(&last).await.unwrap();
    let older: Vec<_> = lineage.older.iter().map(|s| s.seed_id.as_str()).collect();
    assert_eq!(older, ["T-1", "T-2"]);
    assert!(lineage.newer.is_empty());

    // Only the newest seed of a lineage can be superseded.
    let again = c
        .supersede_precedent("T-1", &input("T-4", "x", "y", &["Agent"]), "gov")
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert!(c.verify(&[]).await.unwrap().ok);
}

async fn cycles_and_self_supersession_are_refused(store: Arc<dyn Store>) {
    let c = catalog(store.clone());
    for (id, title) in [("C-1", "first rule"), ("C-2", "second rule")] {
        let mut i = input(id, title, "content of the rule", &["Skill"]);
        i.acknowledge_conflicts = true;
        if id == "C-1" {
            c.create_precedent(&i, "gov").await.unwrap();
        } else {
            c.supersede_precedent("C-1", &i, "gov").await.unwrap();
        }
    }
    let head = store.head().await.unwrap();
    // C-1 <- C-2; making C-1 supersede C-2 would close a cycle.
    let first = c.get_precedent("C-1").await.unwrap();
    let mut cyclic = first.clone();
    cyclic.supersedes = Some(plant_core::model::SeedId::parse("C-2").unwrap());
    let err = store
        .commit(Change::update(cyclic, first.version, Action::Update, "gov"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidChange(m) if m.message().contains("cycle")),
        "{err:?}"
    );
    let mut own = first.clone();
    own.supersedes = Some(first.seed_id.clone());
    let err = store
        .commit(Change::update(own, first.version, Action::Update, "gov"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidChange(_)), "{err:?}");
    // A superseded seed cannot become active again.
    let mut back = first.clone();
    back.status = PrecedentStatus::Active;
    let err = store
        .commit(Change::update(back, first.version, Action::Update, "gov"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidTransition { .. }),
        "{err:?}"
    );
    assert_eq!(store.head().await.unwrap(), head);
    assert!(c.verify(&[]).await.unwrap().ok);
}

async fn near_duplicates_are_possible_conflicts(store: Arc<dyn Store>) {
    let c = catalog(store);
    let seeded = SeedCatalog::builtin().unwrap();
    seed::load(&c, &seeded, &mut |_| {}).await.unwrap();

    let near = input(
        "PS-101",
        "An agent's skill belongs to its job role",
        "An agent is certified only when its skill is one of the skills its job role requires.",
        &["Agent"],
    );
    let out = c.create_precedent(&near, "gov").await.unwrap();
    let ids: Vec<_> = out
        .possible_conflicts
        .iter()
        .map(|p| p.seed_id.as_str())
        .collect();
    assert_eq!(ids, ["PS-001"]);
    assert_eq!(out.seed.status, PrecedentStatus::PendingReview);
    assert!(out.seed.approving_governor_id.is_none());
    let approved = c.approve_precedent("PS-101", "gov-2").await.unwrap();
    assert_eq!(approved.status, PrecedentStatus::Active);

    let unrelated = input(
        "PS-102",
        "Trial deliverables are kept",
        "Whatever an agent delivers during a trial stays available to the customer afterwards.",
        &["Agent"],
    );
    let out = c.create_precedent(&unrelated, "gov").await.unwrap();
    assert!(out.possible_conflicts.is_empty(), "{out:?}");
    assert_eq!(out.seed.status, PrecedentStatus::Active);

    let mut acknowledged = input(
        "PS-103",
        "Job roles are certified on certified skills",
        "A job role is certified only when every skill it requires is certified.",
        &["JobRole"],
    );
    acknowledged.acknowledge_conflicts = true;
    let out = c.create_precedent(&acknowledged, "gov").await.unwrap();
    assert!(!out.possible_conflicts.is_empty());
    assert_eq!(out.seed.status, PrecedentStatus::Active);

    let hits = c
        .query_precedents("the agent's skill and its job role", None, 3)
        .await
        .unwrap();
    assert!(hits.iter().any(|h| h.seed.seed_id.as_str() == "PS-001"));
    assert!(c.verify(&[]).await.unwrap().ok);
}

async fn certification_cites_the_precedents_it_applied(store: Arc<dyn Store>) {
    let c = catalog(store.clone());
    let seeded = SeedCatalog::builtin().unwrap();
    seed::load(&c, &seeded, &mut |_| {}).await.unwrap();
    // A second load creates nothing and appends nothing.
    let head = store.head().await.unwrap();
    let report = seed::load(&c, &seeded, &mut |_| {}).await.unwrap();
    assert_eq!(report.changes(), 0);
    assert_eq!(store.head().await.unwrap(), head);

    let agents = c
        .list(&plant_core::store::ListQuery::of(Kind::Agent, 1))
        .await
        .unwrap();
    let Record::Agent(agent) = &agents[0] else {
        panic!()
    };
    let cert = &agent.base.certification;
    assert_eq!(cert.status, CertificationState::Certified);
    // Agents cite the agent precedents (PS-001, PS-004, PS-005), never the others.
    let mut cited = cert.precedents.clone();
    cited.sort();
    assert_eq!(cited, ["PS-001", "PS-004", "PS-005"]);
    let entries = store.entity_entries(agent.base.id).await.unwrap();
    let last = entries.last().unwrap();
    assert_eq!(last.action, "certify");
    let payload: serde_json::Value = serde_json::from_str(&last.payload).unwrap();
    let in_payload: Vec<String> =
        serde_json::from_value(payload["certification"]["precedents"].clone()).unwrap();
    assert_eq!(in_payload, cert.precedents);

    // Certifying again after a new skill precedent: skills cite it, the agent keeps its list.
    let mut skill_rule = input(
        "PS-201",
        "Skills name one capability",
        "A skill names a single capability, not a bundle of unrelated ones.",
        &["Skill"],
    );
    skill_rule.acknowledge_conflicts = true;
    c.create_precedent(&skill_rule, "gov").await.unwrap();
    let Record::Agent(again) = c.get(Kind::Agent, agent.base.id).await.unwrap() else {
        panic!()
    };
    assert_eq!(again.base.certification.precedents, cert.precedents);
    let certified = c
        .certify(Kind::Skill, agent.body.skill_id, "gov")
        .await
        .unwrap();
    let cited = &certified.record.base().unwrap().certification.precedents;
    assert!(cited.contains(&"PS-201".to_owned()), "{cited:?}");
    assert!(!cited.contains(&"PS-001".to_owned()), "{cited:?}");
    assert!(c.verify(&[]).await.unwrap().ok);
}

async fn run_all(make: impl Fn(&str) -> Option<Arc<dyn Store>>) {
    type S = fn(Arc<dyn Store>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;
    let scenarios: [(&str, S); 4] = [
        ("lineage", |s| Box::pin(lineage_after_two_supersessions(s))),
        ("cycles", |s| {
            Box::pin(cycles_and_self_supersession_are_refused(s))
        }),
        ("conflicts", |s| {
            Box::pin(near_duplicates_are_possible_conflicts(s))
        }),
        ("certification", |s| {
            Box::pin(certification_cites_the_precedents_it_applied(s))
        }),
    ];
    for (name, scenario) in scenarios {
        let Some(store) = make(name) else { return };
        eprintln!("scenario: {name}");
        scenario(store).await;
    }
}

#[tokio::test]
async fn precedents_on_the_memory_store() {
    run_all(|_| Some(Arc::new(MemoryStore::new()) as Arc<dyn Store>)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precedents_on_postgres() {
    type S = fn(Arc<dyn Store>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;
    let scenarios: [(&str, S); 4] = [
        ("precedent_lineage", |s| {
            Box::pin(lineage_after_two_supersessions(s))
        }),
        ("precedent_cycles", |s| {
            Box::pin(cycles_and_self_supersession_are_refused(s))
        }),
        ("precedent_conflicts", |s| {
            Box::pin(near_duplicates_are_possible_conflicts(s))
        }),
        ("precedent_certification", |s| {
            Box::pin(certification_cites_the_precedents_it_applied(s))
        }),
    ];
    for (name, scenario) in scenarios {
        let Some(db) = pg_support::TestDb::new(name).await else {
            return;
        };
        let store: Arc<dyn Store> = Arc::new(db.store().await);
        eprintln!("scenario: {name}");
        scenario(store).await;
        db.drop_db().await;
    }
}

/// Near-duplicate and unrelated pairs of seeds, as the conflict threshold was chosen on.
const NEAR: &[(&str, &str)] = &[
    (
        "An agent's skill belongs to its job role. An agent is certified only when its skill is one of the required skills of its job role.",
        "An agent's skill belongs to its job role. An agent is certified only when its skill is one of the skills its job role requires.",
    ),
    (
        "Job roles are certified on certified skills. A job role is certified only when every skill it requires is itself certified.",
        "Job roles are certified on certified skills. A job role is certified only when every skill it requires is certified.",
    ),
    (
        "Industry locking. An agent serves the industry it was created for; its industry is fixed once set.",
        "Industry locking. An agent's industry is fixed once set: it serves the industry it was created for.",
    ),
];

/// The same decision in other words: only a semantic model can see it. (A heavier rewording of
/// PS-004 scores 0.66 with MiniLM — below the 0.71 of two different rules on one subject, so no
/// threshold catches it without flagging those; review catches it.)
#[cfg(feature = "minilm")]
const PARAPHRASES: &[(&str, &str)] = &[(
    "An agent's skill belongs to its job role. An agent is certified only when its skill is one of the required skills of its job role.",
    "Agents must match their role. Certification requires that the agent's ability is listed among the abilities its role calls for.",
)];

fn unrelated() -> Vec<(String, String)> {
    let seeds = SeedCatalog::builtin().unwrap().precedents;
    let mut pairs = Vec::new();
    for (i, a) in seeds.iter().enumerate() {
        for b in &seeds[i + 1..] {
            pairs.push((
                named_text(&a.title, &a.content),
                named_text(&b.title, &b.content),
            ));
        }
    }
    pairs.push((
        named_text(
            "Trial deliverables are kept",
            "Whatever an agent delivers during a trial stays available to the customer afterwards.",
        ),
        named_text(&seeds[0].title, &seeds[0].content),
    ));
    pairs
}

fn cosine(e: &dyn Embedder, a: &str, b: &str) -> f32 {
    let v = e.embed(&[a, b]).unwrap();
    v[0].cosine(&v[1])
}

fn check_threshold(e: &dyn Embedder, near: &[(&str, &str)]) {
    let threshold = conflict_threshold(e.model_id());
    for (a, b) in near {
        let s = cosine(e, a, b);
        eprintln!("{} near {s:.3}", e.model_id());
        assert!(s > threshold, "near-duplicate at {s}: {a} / {b}");
    }
    for (a, b) in unrelated() {
        let s = cosine(e, &a, &b);
        eprintln!("{} unrelated {s:.3}", e.model_id());
        assert!(s <= threshold, "unrelated at {s}: {a} / {b}");
    }
}

#[test]
fn the_hashing_threshold_separates_near_duplicates_from_other_seeds() {
    check_threshold(&HashingEmbedder, NEAR);
}

#[cfg(feature = "minilm")]
#[test]
fn the_minilm_threshold_separates_near_duplicates_from_other_seeds() {
    let Some(dir) = std::env::var_os("PLANT_EMBED_MODEL_DIR").filter(|d| !d.is_empty()) else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "PLANT_EMBED_MODEL_DIR is unset under CI=true; \
             run PLANT_EMBED_MODEL_DIR=$(scripts/fetch-model.sh)"
        );
        eprintln!("PLANT_EMBED_MODEL_DIR is unset: skipped");
        return;
    };
    let model = plant_core::search::MiniLm::load(std::path::Path::new(&dir)).unwrap();
    check_threshold(&model, &[NEAR, PARAPHRASES].concat());
}
