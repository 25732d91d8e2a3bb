//! The store conformance story: every scenario runs against every [`Store`] implementation,
//! each on a fresh, empty store, so the memory store and PostgreSQL are held to the same
//! behaviour. Enable the `testing` feature to use it from another crate.
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use plant_core::store::{MemoryStore, Store, conformance};
//! for (name, scenario) in conformance::SCENARIOS {
//!     let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//!     println!("{name}");
//!     scenario(store).await;
//! }
//! # }
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, json};
use uuid::Uuid;

use super::{
    Action, Change, EmbeddingAt, ListQuery, SearchFilter, SearchMode, Store, StoreError,
    StoredEmbedding,
};
use crate::audit::{CheckpointSigner, Head};
use crate::catalog::{Catalog, JobPatch, TrialPatch};
use crate::error::Error;
use crate::feed::feed_streams_every_commit_once_in_order;
use crate::input::{AgentInput, JobInput, JobRoleInput, SkillInput, TeamInput, TrialInput};
use crate::model::{
    Alignment, Category, CertificationState, Kind, Record, Seniority, Status, TrialStatus,
};
use crate::search::{DIM, Embedding, HashingEmbedder};
use crate::seed::{self, SeedCatalog};
use crate::validate::validate;

/// A scenario: given a fresh store, it panics when the store misbehaves.
pub type Scenario = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! scenarios {
    ($($name:ident),+ $(,)?) => {
        /// Every scenario, by name.
        pub const SCENARIOS: &[(&str, Scenario)] = &[$((stringify!($name), |s| Box::pin($name(s)))),+];
    };
}

scenarios!(
    feed_streams_every_commit_once_in_order,
    seeding_twice_gives_the_catalog_and_appends_nothing,
    duplicate_names_conflict_case_insensitively_and_write_nothing,
    look_alike_names_conflict_and_write_nothing,
    missing_references_are_rule_violations_and_write_nothing,
    stale_versions_fail_and_change_nothing,
    evolving_a_certified_entity_sends_it_back_to_review,
    an_agents_industry_is_locked,
    archiving_waits_for_dependents,
    deletion_follows_archiving_writes_deleted_at_and_is_final,
    a_parent_lists_its_children_in_the_same_commit,
    certification_needs_its_prerequisites,
    trials_follow_their_status_machine,
    due_trials_expire_in_the_background_once_and_reads_never_write,
    jobs_follow_their_status_machine,
    lists_filter_order_and_page_stably,
    commit_all_is_all_or_nothing,
    store_enforces_its_invariants_below_the_catalog,
    search_ranks_by_meaning_with_filters,
    hybrid_and_lexical_search_fuse_full_text_with_meaning,
    chain_verifies_and_checkpoints_sign_the_head,
    dry_runs_check_everything_and_write_nothing,
    every_version_can_be_read_back_as_it_was,
    revalidation_sends_what_no_longer_passes_to_review,
);

fn catalog(store: Arc<dyn Store>) -> Catalog {
    Catalog::new(store, Arc::new(HashingEmbedder))
}

async fn seeded(store: Arc<dyn Store>) -> Catalog {
    let c = catalog(store);
    seed::load(&c, &SeedCatalog::builtin().unwrap(), &mut |_| {})
        .await
        .unwrap();
    c
}

async fn id_of(c: &Catalog, kind: Kind, name: &str) -> Uuid {
    c.store()
        .get_by_name(kind, name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{kind} {name} missing"))
        .id()
}

async fn count(c: &Catalog, kind: Kind) -> u64 {
    c.store().count(&ListQuery::of(kind, 0)).await.unwrap()
}

async fn head(c: &Catalog) -> Head {
    c.store().head().await.unwrap()
}

fn rules_of(e: &Error) -> Vec<String> {
    match e {
        Error::Invalid(v) => v.iter().map(|v| v.rule.clone()).collect(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

async fn seeding_twice_gives_the_catalog_and_appends_nothing(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let counts = [
        count(&c, Kind::Industry).await,
        count(&c, Kind::Skill).await,
        count(&c, Kind::JobRole).await,
        count(&c, Kind::Team).await,
        count(&c, Kind::Agent).await,
    ];
    assert_eq!(counts, [3, 19, 10, 6, 50]);
    let before = head(&c).await;
    let again = seed::load(&c, &SeedCatalog::builtin().unwrap(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(again.changes(), 0, "{again:?}");
    assert_eq!(head(&c).await, before, "a second load appended entries");
    for kind in Kind::CATALOG {
        for record in c.list(&ListQuery::of(*kind, 1000)).await.unwrap() {
            let base = record.base().unwrap();
            assert_eq!(
                base.certification.status,
                CertificationState::Certified,
                "{kind} {:?}",
                record.name()
            );
            let ctx = c.context(&record).await.unwrap();
            assert_eq!(
                validate(&record, &ctx),
                vec![],
                "{kind} {:?}",
                record.name()
            );
        }
    }
    for record in c.list(&ListQuery::of(Kind::Agent, 1000)).await.unwrap() {
        let Record::Agent(a) = record else { panic!() };
        let Record::JobRole(role) = c.get(Kind::JobRole, a.body.job_role_id).await.unwrap() else {
            panic!()
        };
        assert!(
            role.body.required_skills.contains(&a.body.skill_id),
            "{} has a skill its role does not need",
            a.body.name
        );
        assert_eq!(role.body.industry_id, Some(a.body.industry_id));
        if let Some(team) = a.body.team_id {
            let Record::Team(t) = c.get(Kind::Team, team).await.unwrap() else {
                panic!()
            };
            assert_eq!(t.body.job_role_id, a.body.job_role_id);
        }
    }
    let report = c.verify(&[]).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.entries_checked, before.seq);
}

async fn duplicate_names_conflict_case_insensitively_and_write_nothing(store: Arc<dyn Store>) {
    let c = catalog(store);
    let skill = |name: &str| SkillInput {
        name: Some(name.into()),
        description: Some("Writes things.".into()),
        category: Some("technical".into()),
        ..Default::default()
    };
    c.create_skill(&skill("Copywriting"), "t").await.unwrap();
    let before = head(&c).await;
    let e = c
        .create_skill(&skill("  copyWRITING "), "t")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    assert_eq!(head(&c).await, before);
    assert_eq!(count(&c, Kind::Skill).await, 1);
    // Another kind may use the same name.
    c.create_industry(
        &crate::input::IndustryInput {
            name: Some("Copywriting".into()),
            ..Default::default()
        },
        "t",
    )
    .await
    .unwrap();
}

/// Names that look the same are the same name: a combining accent (NFD) and the precomposed
/// letter (NFC), fullwidth letters, a joiner between letters, and (for agents) a Cyrillic letter
/// that looks Latin all conflict with the name they imitate, on create and on rename. A
/// zero-width space is refused outright.
async fn look_alike_names_conflict_and_write_nothing(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let skill = |name: &str| SkillInput {
        name: Some(name.into()),
        description: Some("Looks like another.".into()),
        category: Some("technical".into()),
        ..Default::default()
    };
    let cafe = c
        .create_skill(&skill("Caf\u{e9} Writing"), "t")
        .await
        .unwrap();
    let before = head(&c).await;
    let skills = count(&c, Kind::Skill).await;
    for imitation in [
        "Cafe\u{301} Writing",
        "CAFE\u{301} WRITING",
        "Content\u{200d} Marketing",
        "\u{ff23}\u{ff4f}\u{ff4e}\u{ff54}\u{ff45}\u{ff4e}\u{ff54} Marketing",
        "Content\u{a0}\u{a0}Marketing",
    ] {
        let e = c.create_skill(&skill(imitation), "t").await.unwrap_err();
        assert!(matches!(e, Error::Conflict(_)), "{imitation:?}: {e:?}");
        // The dry run answers as the write does.
        let e = c
            .create_json(
                Kind::Skill,
                json!({"name": imitation, "description": "x", "category": "technical"}),
                "t",
                true,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Conflict(_)),
            "dry run {imitation:?}: {e:?}"
        );
        // The imitation finds the original.
        let found = c.store().get_by_name(Kind::Skill, imitation).await.unwrap();
        assert!(found.is_some(), "{imitation:?} names an existing skill");
    }
    // A zero-width space is not a way to make a name distinct: the name is refused.
    let e = c
        .create_skill(&skill("Content Marketing\u{200b}"), "t")
        .await
        .unwrap_err();
    match &e {
        Error::Invalid(v) => assert!(
            v.iter()
                .any(|v| v.field == "name" && v.message.contains("U+200B")),
            "{v:?}"
        ),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(head(&c).await, before, "a refused name appended entries");
    assert_eq!(count(&c, Kind::Skill).await, skills);

    // Renaming into a look-alike conflicts too; renaming a name into its own look-alike is fine.
    let social = c
        .store()
        .get_by_name(Kind::Skill, "Social Media")
        .await
        .unwrap()
        .unwrap();
    let mut patch = Map::new();
    for imitation in ["Cafe\u{301} writing", "\u{ff33}\u{ff25}\u{ff2f}"] {
        patch.insert("name".into(), json!(imitation));
        let e = c
            .evolve(Kind::Skill, social.id(), &patch, social.version(), "t")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Conflict(_)), "{imitation:?}: {e:?}");
    }
    patch.insert("name".into(), json!("CAFE\u{301} WRITING"));
    c.evolve(Kind::Skill, cafe.base.id, &patch, 1, "t")
        .await
        .unwrap();

    // An agent named with a Cyrillic А (U+0410) and а (U+0430) is the agent "Ava Flux".
    let ava = c
        .store()
        .get_by_name(Kind::Agent, "Ava Flux")
        .await
        .unwrap()
        .unwrap();
    let Record::Agent(ava) = ava else {
        panic!("Ava Flux is an agent")
    };
    let agents = count(&c, Kind::Agent).await;
    let before = head(&c).await;
    let agent = |name: &str| AgentInput {
        name: Some(name.into()),
        skill_id: Some(ava.body.skill_id.to_string()),
        job_role_id: Some(ava.body.job_role_id.to_string()),
        industry_id: Some(ava.body.industry_id.to_string()),
        ..Default::default()
    };
    for imitation in ["\u{410}v\u{430} Flux", "Ava F\u{ff4c}ux", "AVA FLUX"] {
        let e = c.create_agent(&agent(imitation), "t").await.unwrap_err();
        assert!(matches!(e, Error::Conflict(_)), "{imitation:?}: {e:?}");
    }
    assert_eq!(head(&c).await, before);
    assert_eq!(count(&c, Kind::Agent).await, agents);
    // Skills are not compared by skeleton: a Cyrillic look-alike skill name is another name
    // there (skills are picked by operators, agents by customers).
    c.create_skill(&skill("\u{421}af\u{e9} Writing"), "t")
        .await
        .unwrap();
    // And an agent with a name that merely resembles one is welcome.
    c.create_agent(&agent("Ava Flex"), "t").await.unwrap();
}

async fn missing_references_are_rule_violations_and_write_nothing(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let before = head(&c).await;
    let input = AgentInput {
        name: Some("Ghost".into()),
        skill_id: Some(Uuid::now_v7().to_string()),
        job_role_id: Some(Uuid::now_v7().to_string()),
        industry_id: Some(Uuid::now_v7().to_string()),
        ..Default::default()
    };
    let e = c.create_agent(&input, "t").await.unwrap_err();
    assert_eq!(rules_of(&e), ["L1-AGENT-01", "L1-AGENT-02", "L1-AGENT-03"]);
    assert!(e.is_constitutional());
    let role = JobRoleInput {
        name: Some("Ghost Role".into()),
        required_skills: Some(vec!["No Such Skill".into()]),
        seniority_level: Some("mid".into()),
        ..Default::default()
    };
    assert_eq!(
        rules_of(&c.create_job_role(&role, "t").await.unwrap_err()),
        ["L1-JOBROLE-03"]
    );
    assert_eq!(head(&c).await, before);
}

async fn stale_versions_fail_and_change_nothing(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let id = id_of(&c, Kind::Skill, "SEO").await;
    let v = c.get(Kind::Skill, id).await.unwrap().version();
    let mut patch = Map::new();
    patch.insert(
        "description".into(),
        json!("Ranks pages higher in search results."),
    );
    c.evolve(Kind::Skill, id, &patch, v, "a").await.unwrap();
    let after_first = c.get(Kind::Skill, id).await.unwrap();
    let before = head(&c).await;
    patch.insert("description".into(), json!("A conflicting edit."));
    let e = c.evolve(Kind::Skill, id, &patch, v, "b").await.unwrap_err();
    assert!(
        matches!(e, Error::Precondition { expected, actual } if expected == v && actual == v + 1),
        "{e:?}"
    );
    assert_eq!(c.get(Kind::Skill, id).await.unwrap(), after_first);
    assert_eq!(head(&c).await, before);
}

async fn evolving_a_certified_entity_sends_it_back_to_review(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let id = id_of(&c, Kind::Agent, "Ava Flux").await;
    let current = c.get(Kind::Agent, id).await.unwrap();
    let history = current.base().unwrap().amendment_history.len();
    let mut patch = Map::new();
    patch.insert("tags".into(), json!(["featured"]));
    let tagged = c
        .evolve(Kind::Agent, id, &patch, current.version(), "g")
        .await
        .unwrap();
    assert_eq!(
        tagged.base().unwrap().certification.status,
        CertificationState::Certified,
        "metadata is not substance"
    );
    patch.clear();
    patch.insert(
        "description".into(),
        json!("Plans content calendars for B2B software companies."),
    );
    let changed = c
        .evolve(Kind::Agent, id, &patch, tagged.version(), "g")
        .await
        .unwrap();
    let base = changed.base().unwrap();
    assert_eq!(base.version, current.version() + 2);
    assert_eq!(base.certification.status, CertificationState::Pending);
    assert_eq!(base.amendment_alignment, Alignment::RequiresReview);
    assert_eq!(base.amendment_history.len(), history + 2);
    assert_eq!(base.version_hash, base.hash_chain_sha256.last().copied());
    let mut bad = Map::new();
    bad.insert("version".into(), json!(99));
    assert_eq!(
        rules_of(
            &c.evolve(Kind::Agent, id, &bad, base.version, "g")
                .await
                .unwrap_err()
        ),
        ["INPUT"]
    );
}

async fn an_agents_industry_is_locked(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let id = id_of(&c, Kind::Agent, "Nova Quill").await;
    let other = id_of(&c, Kind::Industry, "Sales").await;
    let current = c.get(Kind::Agent, id).await.unwrap();
    let mut patch = Map::new();
    patch.insert("industry_id".into(), json!(other.to_string()));
    let e = c
        .evolve(Kind::Agent, id, &patch, current.version(), "g")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(v) if v[0].field == "industry_id"),
        "{e:?}"
    );
    // Below the catalog, the store refuses it too.
    let Record::Agent(mut a) = current.clone() else {
        panic!()
    };
    a.body.industry_id = other;
    let e = c
        .store()
        .commit(Change::update(a, current.version(), Action::Update, "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Immutable {
                field: "industry_id"
            }
        ),
        "{e:?}"
    );
}

async fn archiving_waits_for_dependents(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let skill = id_of(&c, Kind::Skill, "SEO").await;
    let e = c.archive(Kind::Skill, skill, None, "g").await.unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    let unused = id_of(&c, Kind::Skill, "Career Counseling").await;
    let archived = c.archive(Kind::Skill, unused, None, "g").await.unwrap();
    assert_eq!(archived.base().unwrap().status, Status::Archived);
    assert_eq!(
        c.history(Kind::Skill, unused)
            .await
            .unwrap()
            .last()
            .unwrap()
            .action,
        "archive"
    );
    assert!(matches!(
        c.archive(Kind::Skill, unused, None, "g").await.unwrap_err(),
        Error::Conflict(_)
    ));
}

/// Every catalog write records the L0 map of the version it commits; deletion is the step after
/// archiving, the one that writes `status: deleted` and `deleted_at`, refused while active
/// things depend on the entity, and final. A deleted skill satisfies no reference.
async fn deletion_follows_archiving_writes_deleted_at_and_is_final(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let skill = c
        .create_skill(
            &SkillInput {
                name: Some("Telegraphy".into()),
                description: Some("Sends messages by wire.".into()),
                category: Some("technical".into()),
                ..Default::default()
            },
            "g",
        )
        .await
        .unwrap();
    let l0 = &skill.base.l0_compliance_status;
    assert_eq!(l0.len(), 5, "{l0:?}");
    assert!(l0.values().all(|held| *held), "{l0:?}");
    let id = skill.base.id;
    let e = c.delete(Kind::Skill, id, None, "g").await.unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "an active skill: {e:?}");
    c.archive(Kind::Skill, id, None, "g").await.unwrap();
    let before = head(&c).await;
    let deleted = c.delete(Kind::Skill, id, Some(2), "g").await.unwrap();
    let base = deleted.base().unwrap();
    assert_eq!(base.status, Status::Deleted);
    let deleted_at = base.deleted_at.expect("deleted_at is written");
    assert_eq!(base.updated_at, deleted_at);
    assert_eq!(head(&c).await.seq, before.seq + 1);
    let stored = c.get(Kind::Skill, id).await.unwrap();
    assert_eq!(stored.base().unwrap().deleted_at, Some(deleted_at));
    let history = c.history(Kind::Skill, id).await.unwrap();
    assert_eq!(history.last().unwrap().action, crate::store::Action::Delete);
    let e = c.delete(Kind::Skill, id, None, "g").await.unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "deleting twice: {e:?}");
    // A deleted skill is not something an agent can have.
    let role = id_of(&c, Kind::JobRole, "SEO Specialist").await;
    let marketing = id_of(&c, Kind::Industry, "Marketing").await;
    let e = c
        .create_agent(
            &AgentInput {
                name: Some("Morse Key".into()),
                skill_id: Some(id.to_string()),
                job_role_id: Some(role.to_string()),
                industry_id: Some(marketing.to_string()),
                ..Default::default()
            },
            "g",
        )
        .await
        .unwrap_err();
    assert_eq!(rules_of(&e), ["L1-AGENT-01"]);
    assert!(c.verify(&[]).await.unwrap().ok);
}

/// `child_ids` is written with `parent_id`: creating a child appends it to its parent in the
/// same commit (an audited `add_child`), moving it moves it, and a parent that does not exist
/// is refused before anything is written.
async fn a_parent_lists_its_children_in_the_same_commit(store: Arc<dyn Store>) {
    let c = catalog(store);
    let skill = |name: &str, parent: Option<Uuid>| {
        json!({"name": name, "description": "Family.", "category": "technical",
               "parent_id": parent.map(|p| p.to_string())})
    };
    let make = |name, parent| c.create_json(Kind::Skill, skill(name, parent), "g", false);
    let writing = make("Writing", None).await.unwrap().id();
    let other = make("Speaking", None).await.unwrap().id();
    let before = head(&c).await;
    let copy = make("Copywriting", Some(writing)).await.unwrap();
    assert_eq!(copy.base().unwrap().parent_id, Some(writing));
    assert_eq!(
        head(&c).await.seq,
        before.seq + 2,
        "the child and its parent"
    );
    let parent = c.get(Kind::Skill, writing).await.unwrap();
    assert_eq!(parent.base().unwrap().child_ids, [copy.id()]);
    let history = c.history(Kind::Skill, writing).await.unwrap();
    assert_eq!(
        history.last().unwrap().action,
        crate::store::Action::AddChild
    );

    // Moving the child moves it between the parents' lists.
    let mut patch = Map::new();
    patch.insert("parent_id".into(), json!(other.to_string()));
    c.evolve(Kind::Skill, copy.id(), &patch, copy.version(), "g")
        .await
        .unwrap();
    let old = c.get(Kind::Skill, writing).await.unwrap();
    assert!(old.base().unwrap().child_ids.is_empty());
    let new = c.get(Kind::Skill, other).await.unwrap();
    assert_eq!(new.base().unwrap().child_ids, [copy.id()]);

    // No parent, no write.
    let before = head(&c).await;
    let e = make("Orphan", Some(Uuid::now_v7())).await.unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e:?}");
    assert_eq!(head(&c).await, before);
    assert!(c.verify(&[]).await.unwrap().ok);
}

async fn certification_needs_its_prerequisites(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let skill = c
        .create_skill(
            &SkillInput {
                name: Some("Podcasting".into()),
                description: Some("Produces podcasts.".into()),
                category: Some("technical".into()),
                ..Default::default()
            },
            "g",
        )
        .await
        .unwrap();
    let role = c
        .create_job_role(
            &JobRoleInput {
                name: Some("Podcast Producer".into()),
                required_skills: Some(vec!["Podcasting".into()]),
                seniority_level: Some("mid".into()),
                ..Default::default()
            },
            "g",
        )
        .await
        .unwrap();
    let out = c.certify(Kind::JobRole, role.id(), "g").await.unwrap();
    assert_eq!(
        out.violations
            .iter()
            .map(|v| v.rule.as_str())
            .collect::<Vec<_>>(),
        ["L1-JOBROLE-06"]
    );
    assert_eq!(
        out.record.base().unwrap().certification.status,
        CertificationState::Rejected
    );
    let marketing = id_of(&c, Kind::Industry, "Marketing").await;
    let agent = c
        .create_agent(
            &AgentInput {
                name: Some("Echo Cast".into()),
                skill_id: Some(skill.id().to_string()),
                job_role_id: Some(role.id().to_string()),
                industry_id: Some(marketing.to_string()),
                ..Default::default()
            },
            "g",
        )
        .await
        .unwrap();
    let out = c.certify(Kind::Agent, agent.id(), "g").await.unwrap();
    assert_eq!(
        out.violations
            .iter()
            .map(|v| v.rule.as_str())
            .collect::<Vec<_>>(),
        ["L1-AGENT-06", "L1-AGENT-06"]
    );
    let team = c
        .create_team(
            &TeamInput {
                name: Some("Empty Room".into()),
                job_role_id: Some(role.id().to_string()),
                ..Default::default()
            },
            "g",
        )
        .await
        .unwrap();
    let out = c.certify(Kind::Team, team.id(), "g").await.unwrap();
    assert_eq!(
        out.violations
            .iter()
            .map(|v| v.rule.as_str())
            .collect::<Vec<_>>(),
        ["L1-TEAM-04"]
    );
    // Certify in order and everything passes.
    assert!(
        c.certify(Kind::Skill, skill.id(), "g")
            .await
            .unwrap()
            .passed()
    );
    assert!(
        c.certify(Kind::JobRole, role.id(), "g")
            .await
            .unwrap()
            .passed()
    );
    assert!(
        c.certify(Kind::Agent, agent.id(), "g")
            .await
            .unwrap()
            .passed()
    );
    c.assign_team(agent.id(), Some(team.id()), "g")
        .await
        .unwrap();
    let out = c.certify(Kind::Team, team.id(), "g").await.unwrap();
    assert!(out.passed(), "{:?}", out.violations);
    assert_eq!(
        out.record
            .base()
            .unwrap()
            .l0_compliance_status
            .values()
            .filter(|ok| **ok)
            .count(),
        5
    );
    // A team of another role is refused.
    let other_team = id_of(&c, Kind::Team, "Content Studio").await;
    assert_eq!(
        rules_of(
            &c.assign_team(agent.id(), Some(other_team), "g")
                .await
                .unwrap_err()
        ),
        ["L1-AGENT-05"]
    );
}

async fn trials_follow_their_status_machine(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let agent = id_of(&c, Kind::Agent, "Pax Arden").await;
    let input = TrialInput {
        agent_id: Some(agent.to_string()),
        customer_name: Some("Ana Lima".into()),
        customer_email: Some("Ana@Example.com".into()),
        company: Some("Lima Tutoring".into()),
        phone: None,
    };
    let t = c.book_trial(&input, "customer").await.unwrap();
    assert_eq!(t.status, TrialStatus::Active);
    assert_eq!(t.end_date, t.start_date.plus_days(7));
    assert_eq!(t.days_remaining(t.start_date), 7);
    let other = c
        .book_trial(
            &TrialInput {
                customer_email: Some("bo@example.com".into()),
                ..input.clone()
            },
            "customer",
        )
        .await
        .unwrap();
    let (mine, total) = c
        .list_trials(&ListQuery {
            customer_email: Some("ana@example.com".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((mine.len(), total), (1, 1));
    assert_eq!(mine[0].id, t.id);
    let patch = TrialPatch {
        status: None,
        deliverables: Some(vec![crate::catalog::DeliverableInput {
            title: Some("Week plan".into()),
            ..Default::default()
        }]),
    };
    let t = c.update_trial(t.id, &patch, None, "agent").await.unwrap();
    assert_eq!(t.deliverables.len(), 1);
    let cancelled = c.cancel_trial(t.id, "customer").await.unwrap();
    assert_eq!(cancelled.status, TrialStatus::Cancelled);
    let e = c
        .update_trial(
            t.id,
            &TrialPatch {
                status: Some("converted".into()),
                deliverables: None,
            },
            None,
            "op",
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    let converted = c
        .update_trial(
            other.id,
            &TrialPatch {
                status: Some("converted".into()),
                deliverables: None,
            },
            Some(other.version),
            "op",
        )
        .await
        .unwrap();
    assert_eq!(converted.days_remaining(converted.start_date), 0);
    let bad = TrialInput {
        agent_id: Some(Uuid::now_v7().to_string()),
        ..input
    };
    assert!(matches!(
        c.book_trial(&bad, "c").await.unwrap_err(),
        Error::NotFound { .. }
    ));
}

/// Expiry is a background transition: reading a trial past its end changes nothing (a list and
/// a single read report the same `active`), one pass expires it with one audited entry, a second
/// pass does nothing, and two passes racing (two instances) write one expiry between them.
async fn due_trials_expire_in_the_background_once_and_reads_never_write(store: Arc<dyn Store>) {
    let c = seeded(store.clone()).await;
    let agent = id_of(&c, Kind::Agent, "Pax Arden").await;
    let book = |email: &str| TrialInput {
        agent_id: Some(agent.to_string()),
        customer_name: Some("Ana Lima".into()),
        customer_email: Some(email.into()),
        company: Some("Lima Tutoring".into()),
        phone: None,
    };
    // Two trials whose end has passed (moved back 8 days, as if booked then), one still running.
    let mut due = Vec::new();
    for email in ["due1@example.com", "due2@example.com"] {
        let mut t = c.book_trial(&book(email), "customer").await.unwrap();
        let version = t.version;
        t.start_date = t.start_date.plus_days(-8);
        t.end_date = t.end_date.plus_days(-8);
        store
            .commit(Change::update(t.clone(), version, Action::Update, "t"))
            .await
            .unwrap();
        due.push(t.id);
    }
    let running = c
        .book_trial(&book("running@example.com"), "customer")
        .await
        .unwrap();

    let before = head(&c).await;
    let read = c.get_trial(due[0]).await.unwrap();
    assert_eq!(read.status, TrialStatus::Active, "a read does not expire");
    let (listed, _) = c
        .list_trials(&ListQuery::of(Kind::Trial, 100))
        .await
        .unwrap();
    let in_list = listed.iter().find(|t| t.id == due[0]).unwrap();
    assert_eq!(in_list, &read, "list and get agree");
    assert_eq!(head(&c).await, before, "reading appended entries");

    // Two instances' passes at once: each due trial expires exactly once.
    let other = catalog(store.clone());
    let (a, b) = tokio::join!(c.expire_due_trials(), other.expire_due_trials());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.expired + b.expired, 2, "{a:?} {b:?}");
    assert_eq!(head(&c).await.seq, before.seq + 2, "one entry per expiry");
    for id in &due {
        let t = c.get_trial(*id).await.unwrap();
        assert_eq!(t.status, TrialStatus::Expired);
        let entries = store.entity_entries(*id).await.unwrap();
        let expiries: Vec<_> = entries
            .iter()
            .filter(|e| e.action == crate::store::Action::Expire)
            .collect();
        assert_eq!(expiries.len(), 1, "{id}: {entries:?}");
        assert_eq!(expiries[0].actor, crate::catalog::SYSTEM_ACTOR);
    }
    let (listed, _) = c
        .list_trials(&ListQuery::of(Kind::Trial, 100))
        .await
        .unwrap();
    for t in &listed {
        assert_eq!(t, &c.get_trial(t.id).await.unwrap(), "list and get agree");
    }
    assert_eq!(
        c.get_trial(running.id).await.unwrap().status,
        TrialStatus::Active
    );

    // Idempotent: nothing is due any more.
    let again = c.expire_due_trials().await.unwrap();
    assert_eq!(again, crate::catalog::ExpiryReport::default());
    assert_eq!(head(&c).await.seq, before.seq + 2);

    // A change to a trial past its end that no pass has expired yet meets the expired trial.
    let mut late = c
        .book_trial(&book("late@example.com"), "customer")
        .await
        .unwrap();
    let version = late.version;
    late.start_date = late.start_date.plus_days(-8);
    late.end_date = late.end_date.plus_days(-8);
    store
        .commit(Change::update(late.clone(), version, Action::Update, "t"))
        .await
        .unwrap();
    let convert = TrialPatch {
        status: Some("converted".into()),
        deliverables: None,
    };
    let e = c
        .update_trial(late.id, &convert, None, "customer")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    assert_eq!(
        c.get_trial(late.id).await.unwrap().status,
        TrialStatus::Expired
    );
}

async fn jobs_follow_their_status_machine(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let agent = id_of(&c, Kind::Agent, "Ivy Loom").await;
    let job = c
        .create_job(
            &JobInput {
                agent_id: Some(agent.to_string()),
                title: Some("Audit the blog".into()),
                input: Some(json!({"pages": 12})),
                trial_id: None,
            },
            "op",
        )
        .await
        .unwrap();
    let to = |s: &str| JobPatch {
        status: Some(s.into()),
        ..Default::default()
    };
    assert!(matches!(
        c.update_job(job.id, &to("succeeded"), None, "a")
            .await
            .unwrap_err(),
        Error::Conflict(_)
    ));
    let running = c
        .update_job(job.id, &to("running"), Some(job.version), "a")
        .await
        .unwrap();
    assert!(running.started_at.is_some());
    let done = c
        .update_job(
            job.id,
            &JobPatch {
                status: Some("succeeded".into()),
                output: Some(json!({"fixed": 3})),
                error: None,
            },
            None,
            "a",
        )
        .await
        .unwrap();
    assert!(done.finished_at.is_some());
    assert!(matches!(
        c.update_job(job.id, &to("running"), None, "a")
            .await
            .unwrap_err(),
        Error::Conflict(_)
    ));
    let e = c
        .update_job(job.id, &to("paused"), None, "a")
        .await
        .unwrap_err();
    assert_eq!(rules_of(&e), ["INPUT"]);
    assert_eq!(c.history(Kind::Job, job.id).await.unwrap().len(), 3);
}

async fn lists_filter_order_and_page_stably(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let all = c.list(&ListQuery::of(Kind::Agent, 1000)).await.unwrap();
    assert_eq!(all.len(), 50);
    let keys: Vec<_> = all.iter().map(|r| (r.created_at(), r.id())).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // Keyset pages of 7 give the same sequence.
    let mut paged = Vec::new();
    let mut q = ListQuery::of(Kind::Agent, 7);
    loop {
        let page = c.list(&q).await.unwrap();
        paged.extend(page.iter().map(Record::id));
        match page.last() {
            Some(last) if page.len() == 7 => q.after = Some((last.created_at(), last.id())),
            _ => break,
        }
    }
    assert_eq!(paged, all.iter().map(Record::id).collect::<Vec<_>>());
    let offset = c
        .list(&ListQuery {
            offset: 45,
            ..ListQuery::of(Kind::Agent, 10)
        })
        .await
        .unwrap();
    assert_eq!(offset.len(), 5);
    let education = id_of(&c, Kind::Industry, "Education").await;
    let q = ListQuery {
        industry_id: Some(education),
        ..ListQuery::of(Kind::Agent, 1000)
    };
    assert_eq!(c.list(&q).await.unwrap().len(), 20);
    assert_eq!(c.store().count(&q).await.unwrap(), 20);
    let soft = ListQuery {
        category: Some(Category::SoftSkill),
        ..ListQuery::of(Kind::Skill, 100)
    };
    assert_eq!(c.list(&soft).await.unwrap().len(), 3);
    let senior = ListQuery {
        seniority_level: Some(Seniority::Senior),
        ..ListQuery::of(Kind::JobRole, 100)
    };
    assert!(
        c.list(&senior).await.unwrap().iter().all(
            |r| matches!(r, Record::JobRole(j) if j.body.seniority_level.as_str() == "senior")
        )
    );
    let team = id_of(&c, Kind::Team, "Content Studio").await;
    let members = c
        .list(&ListQuery {
            team_id: Some(team),
            ..ListQuery::of(Kind::Agent, 100)
        })
        .await
        .unwrap();
    assert!(!members.is_empty());
}

async fn commit_all_is_all_or_nothing(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let before = head(&c).await;
    let a = c
        .get(Kind::Skill, id_of(&c, Kind::Skill, "SEO").await)
        .await
        .unwrap();
    let b = c
        .get(Kind::Skill, id_of(&c, Kind::Skill, "Social Media").await)
        .await
        .unwrap();
    let mut a2 = a.clone();
    if let Some(base) = a2.base_mut() {
        base.tags = vec!["batch".into()];
    }
    let stale = Change::update(b.clone(), b.version() + 5, Action::Update, "x");
    let e = c
        .store()
        .commit_all(vec![
            Change::update(a2.clone(), a.version(), Action::Update, "x"),
            stale,
        ])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::VersionConflict { .. }), "{e:?}");
    assert_eq!(head(&c).await, before);
    assert_eq!(c.get(Kind::Skill, a.id()).await.unwrap(), a);
    let done = c
        .store()
        .commit_all(vec![
            Change::update(a2, a.version(), Action::Update, "x"),
            Change::update(b.clone(), b.version(), Action::Update, "x"),
        ])
        .await
        .unwrap();
    assert_eq!(done.len(), 2);
    assert_eq!(done[1].entry.seq, before.seq + 2);
    assert!(c.verify(&[]).await.unwrap().ok);
}

async fn store_enforces_its_invariants_below_the_catalog(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let s = c.store();
    let skill = s
        .get(Some(Kind::Skill), id_of(&c, Kind::Skill, "SEO").await)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        s.commit(Change::create(skill.clone(), "x"))
            .await
            .unwrap_err(),
        StoreError::Duplicate { .. }
    ));
    let mut ghost = skill.clone();
    if let Some(b) = ghost.base_mut() {
        b.id = Uuid::now_v7();
    }
    assert!(matches!(
        s.commit(Change::update(ghost.clone(), 1, Action::Update, "x"))
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert!(matches!(
        s.commit(Change::create(ghost, "x")).await.unwrap_err(),
        StoreError::Duplicate {
            kind: Kind::Skill,
            field: "name"
        }
    ));
    let agent = id_of(&c, Kind::Agent, "Ava Flux").await;
    let trial = c
        .book_trial(
            &TrialInput {
                agent_id: Some(agent.to_string()),
                customer_name: Some("Kim".into()),
                customer_email: Some("kim@example.com".into()),
                ..Default::default()
            },
            "c",
        )
        .await
        .unwrap();
    let mut t = trial.clone();
    t.status = TrialStatus::Cancelled;
    s.commit(Change::update(
        t.clone(),
        trial.version,
        Action::Update,
        "x",
    ))
    .await
    .unwrap();
    t.status = TrialStatus::Active;
    let e = s
        .commit(Change::update(t, trial.version + 1, Action::Update, "x"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::InvalidTransition { .. }), "{e:?}");
    // A trial cannot end before it starts (PostgreSQL: trial_dates_check).
    let mut backwards = trial.clone();
    backwards.id = Uuid::now_v7();
    backwards.end_date = backwards.start_date.plus_days(-1);
    let e = s.commit(Change::create(backwards, "x")).await.unwrap_err();
    assert!(matches!(e, StoreError::InvalidChange(_)), "{e:?}");
    let Record::Agent(mut a) = s.get(Some(Kind::Agent), agent).await.unwrap().unwrap() else {
        panic!()
    };
    let v = a.base.version;
    a.body.team_id = Some(Uuid::now_v7());
    assert!(matches!(
        s.commit(Change::update(a, v, Action::Update, "x"))
            .await
            .unwrap_err(),
        StoreError::MissingReference {
            field: "team_id",
            ..
        }
    ));
    assert!(
        s.get(Some(Kind::Skill), agent).await.unwrap().is_none(),
        "get with the wrong kind finds nothing"
    );
    assert!(c.verify(&[]).await.unwrap().ok);
}

async fn hybrid_and_lexical_search_fuse_full_text_with_meaning(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let agents = SearchFilter {
        kinds: vec![Kind::Agent],
        ..Default::default()
    };
    let names = |hits: &[super::SearchHit]| hits.iter().map(|h| h.name.clone()).collect::<Vec<_>>();
    // A rare word in one description: one hit, PostgreSQL's ts_rank for one weight-B occurrence.
    let hits = c
        .search_mode("Klaviyo", SearchMode::Lexical, &agents, 10)
        .await
        .unwrap();
    assert_eq!(names(&hits), ["Faye Lark"]);
    assert!(
        (hits[0].score - 0.243_170_8).abs() < 1e-5,
        "{}",
        hits[0].score
    );
    // An exact name: both words in the name (weight A) rank it first.
    let hits = c
        .search_mode("keir MOSS", SearchMode::Lexical, &agents, 3)
        .await
        .unwrap();
    assert_eq!(hits[0].name, "Keir Moss");
    assert!(
        (hits[0].score - 0.607_927_1).abs() < 1e-5,
        "{}",
        hits[0].score
    );
    // Only stop words, or no known word: nothing matches lexically.
    for text in ["what is it for?", "zzqxv"] {
        let hits = c
            .search_mode(text, SearchMode::Lexical, &SearchFilter::default(), 10)
            .await
            .unwrap();
        assert!(hits.is_empty(), "{text}: {hits:?}");
    }
    // Hybrid: the vector ranking still answers without a word match, each hit from one list.
    let hits = c
        .search_mode("zzqxv", SearchMode::Hybrid, &agents, 5)
        .await
        .unwrap();
    assert_eq!(hits.len(), 5);
    assert!(
        hits.iter().all(|h| h.score <= 1.0 / 61.0 + 1e-6),
        "{hits:?}"
    );
    // The named agent is in both lists, so it beats every agent found by meaning alone.
    let hits = c
        .search_mode("Keir Moss", SearchMode::Hybrid, &agents, 3)
        .await
        .unwrap();
    assert_eq!(hits[0].name, "Keir Moss");
    assert!(hits[0].score > 1.0 / 61.0 && hits[0].score <= 2.0 / 61.0 + 1e-6);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // Filters apply to both lists: kinds, industry (no skills then), status.
    let sales = id_of(&c, Kind::Industry, "Sales").await;
    let in_sales = SearchFilter {
        industry_id: Some(sales),
        ..Default::default()
    };
    for mode in [SearchMode::Hybrid, SearchMode::Lexical] {
        let hits = c
            .search_mode("Sales pipeline math", mode, &in_sales, 20)
            .await
            .unwrap();
        assert!(!hits.is_empty(), "{mode}");
        for hit in &hits {
            match c.get(hit.kind, hit.id).await.unwrap() {
                Record::Agent(a) => assert_eq!(a.body.industry_id, sales),
                Record::JobRole(r) => assert_eq!(r.body.industry_id, Some(sales)),
                Record::Industry(i) => assert_eq!(i.base.id, sales),
                other => panic!("{mode}: {} outside the industry filter", other.kind()),
            }
        }
        let skills = SearchFilter {
            kinds: vec![Kind::Skill],
            ..Default::default()
        };
        let hits = c.search_mode("email", mode, &skills, 5).await.unwrap();
        assert!(
            !hits.is_empty() && hits.iter().all(|h| h.kind == Kind::Skill),
            "{mode}"
        );
        let archived = SearchFilter {
            status: Some(Status::Archived.into()),
            ..Default::default()
        };
        assert!(
            c.search_mode("email", mode, &archived, 5)
                .await
                .unwrap()
                .is_empty()
        );
    }
    // Semantic mode is the vector search.
    assert_eq!(
        c.search_mode("math tutoring", SearchMode::Semantic, &agents, 5)
            .await
            .unwrap(),
        c.search("math tutoring", &agents, 5).await.unwrap()
    );
}

async fn search_ranks_by_meaning_with_filters(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let hits = c
        .search("math tutoring fractions", &SearchFilter::default(), 5)
        .await
        .unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    let agents = SearchFilter {
        kinds: vec![Kind::Agent],
        ..Default::default()
    };
    let hits = c.search("Math Tutoring", &agents, 3).await.unwrap();
    assert!(hits.iter().all(|h| h.kind == Kind::Agent));
    let sales = id_of(&c, Kind::Industry, "Sales").await;
    let in_sales = SearchFilter {
        kinds: vec![Kind::Agent],
        industry_id: Some(sales),
        ..Default::default()
    };
    for hit in c.search("Math Tutoring", &in_sales, 10).await.unwrap() {
        let Record::Agent(a) = c.get(Kind::Agent, hit.id).await.unwrap() else {
            panic!()
        };
        assert_eq!(a.body.industry_id, sales);
    }
    assert!(
        c.store()
            .stale_embeddings("hashing-v1", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        c.store()
            .stale_embeddings("another-model", 1000)
            .await
            .unwrap()
            .len(),
        3 + 19 + 10 + 50 + 5
    );
    // Several vectors at once: each lands only at its record's version.
    let (seo, sales_skill) = (
        id_of(&c, Kind::Skill, "SEO").await,
        id_of(&c, Kind::Skill, "Email Marketing").await,
    );
    let (seo_version, sales_version, industry_version) = (
        c.get(Kind::Skill, seo).await.unwrap().version(),
        c.get(Kind::Skill, sales_skill).await.unwrap().version(),
        c.get(Kind::Industry, sales).await.unwrap().version(),
    );
    let unit = |i: usize| (0..DIM).map(|d| if d == i { 1.0 } else { 0.0 }).collect();
    // A vector of another model for `id` at `version`, the unit vector along axis `i`.
    let at = |kind: Kind, id: Uuid, version: u64, i: usize| EmbeddingAt {
        kind,
        id,
        version,
        embedding: StoredEmbedding {
            model: "another-model".into(),
            vector: Embedding::from_vec(unit(i)).unwrap(),
        },
    };
    let stored = c
        .store()
        .put_embeddings_at(vec![
            at(Kind::Skill, seo, seo_version, 0),
            at(Kind::Skill, sales_skill, sales_version + 1, 1),
            // Another kind in the same call, and a second vector for a record at a version it
            // is not at: the first for it stands.
            at(Kind::Industry, sales, industry_version, 2),
            at(Kind::Skill, seo, seo_version + 3, 3),
        ])
        .await
        .unwrap();
    assert_eq!(stored, [true, false, true, false]);
    let mut stale: Vec<(Kind, Uuid)> = c
        .store()
        .stale_embeddings("hashing-v1", 1000)
        .await
        .unwrap()
        .iter()
        .map(|s| (s.kind, s.id))
        .collect();
    stale.sort();
    assert_eq!(stale, [(Kind::Industry, sales), (Kind::Skill, seo)]);
    // Nothing to store is an empty answer.
    assert!(
        c.store()
            .put_embeddings_at(Vec::new())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn chain_verifies_and_checkpoints_sign_the_head(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let signer = CheckpointSigner::generate().unwrap();
    let cp = c.checkpoint(&signer).await.unwrap();
    assert_eq!(cp.seq, head(&c).await.seq);
    let report = c.verify(&[signer.public_key_hex()]).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.checkpoints_checked, 1);
    let untrusted = CheckpointSigner::generate().unwrap();
    let report = c.verify(&[untrusted.public_key_hex()]).await.unwrap();
    assert!(
        !report.ok,
        "a checkpoint signed by an untrusted key must fail verification"
    );
    let entries = c.store().audit_entries(0, 10).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    let tail = c.store().audit_entries(cp.seq - 2, 10).await.unwrap();
    assert_eq!(tail.len(), 2);
    let agent = id_of(&c, Kind::Agent, "Ava Flux").await;
    let report = c.tampering_report(agent).await.unwrap();
    assert!(!report.tampered && report.hash_chain_valid, "{report:?}");
}

async fn dry_runs_check_everything_and_write_nothing(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let before = head(&c).await;
    let ok =
        json!({"name": "Podcasting", "description": "Produces podcasts.", "category": "technical"});
    let would = c.create_json(Kind::Skill, ok, "g", true).await.unwrap();
    assert_eq!(would.version(), 0);
    assert_eq!(would.name().unwrap().as_str(), "Podcasting");
    assert!(
        c.store()
            .get_by_name(Kind::Skill, "Podcasting")
            .await
            .unwrap()
            .is_none()
    );
    let dup = json!({"name": "seo", "description": "Again.", "category": "technical"});
    assert!(matches!(
        c.create_json(Kind::Skill, dup, "g", true)
            .await
            .unwrap_err(),
        Error::Conflict(_)
    ));
    let bad = json!({"name": "", "category": "magic"});
    assert_eq!(
        rules_of(
            &c.create_json(Kind::Skill, bad, "g", true)
                .await
                .unwrap_err()
        ),
        ["L1-SKILL-01", "L1-SKILL-02", "L1-SKILL-03"]
    );
    let id = id_of(&c, Kind::Skill, "SEO").await;
    let v = c.get(Kind::Skill, id).await.unwrap().version();
    let mut patch = Map::new();
    patch.insert("description".into(), json!("Something else."));
    let would = c.evolve_dry_run(Kind::Skill, id, &patch, v).await.unwrap();
    assert_eq!(
        would.base().unwrap().certification.status,
        CertificationState::Pending
    );
    assert_eq!(
        c.get(Kind::Skill, id)
            .await
            .unwrap()
            .base()
            .unwrap()
            .certification
            .status,
        CertificationState::Certified
    );
    patch.insert("name".into(), json!("Social Media"));
    assert!(matches!(
        c.evolve_dry_run(Kind::Skill, id, &patch, v)
            .await
            .unwrap_err(),
        Error::Conflict(_)
    ));
    assert_eq!(head(&c).await, before, "a dry run appended to the chain");
    // A real create through the same path works.
    let made = c.create_json(Kind::Skill, json!({"name": "Podcasting", "description": "Produces podcasts.", "category": "technical"}), "g", false).await.unwrap();
    assert_eq!(made.version(), 1);
}

async fn every_version_can_be_read_back_as_it_was(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let id = id_of(&c, Kind::Skill, "SEO").await;
    let v1 = c.get(Kind::Skill, id).await.unwrap();
    let mut patch = Map::new();
    patch.insert("description".into(), json!("Second wording."));
    let v2 = c
        .evolve(Kind::Skill, id, &patch, v1.version(), "g")
        .await
        .unwrap();
    let versions = c.versions(Kind::Skill, id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        (1..=v2.version()).collect::<Vec<_>>()
    );
    for (old, n) in [(&v1, v1.version()), (&v2, v2.version())] {
        let at = c.version(Kind::Skill, id, n).await.unwrap();
        assert_eq!(
            at.record,
            serde_json::to_value(old).unwrap(),
            "version {n} differs from the record as it was"
        );
        assert_eq!(Some(at.info.hash), old.version_hash());
    }
    assert!(matches!(
        c.version(Kind::Skill, id, 99).await.unwrap_err(),
        Error::NotFound { .. }
    ));
}

async fn revalidation_sends_what_no_longer_passes_to_review(store: Arc<dyn Store>) {
    let c = seeded(store).await;
    let clean = c.revalidate("g").await.unwrap();
    assert_eq!(clean.checked, 88);
    assert!(
        clean.sent_to_review.is_empty(),
        "{:?}",
        clean.sent_to_review
    );
    let before = head(&c).await;
    let seo = id_of(&c, Kind::Skill, "SEO").await;
    let v = c.get(Kind::Skill, seo).await.unwrap().version();
    let mut patch = Map::new();
    patch.insert("description".into(), json!("Reworded: gets pages found."));
    c.evolve(Kind::Skill, seo, &patch, v, "g").await.unwrap();
    let report = c.revalidate("g").await.unwrap();
    let role = id_of(&c, Kind::JobRole, "SEO Specialist").await;
    let sent: Vec<Uuid> = report.sent_to_review.iter().map(|(_, id, _)| *id).collect();
    assert!(sent.contains(&role), "{sent:?}");
    // The role's own content still passes; only its skill, evolved, is no longer certified:
    // the role has drifted. The skill itself, changed in substance, requires review.
    let r = c.get(Kind::JobRole, role).await.unwrap();
    assert_eq!(r.base().unwrap().amendment_alignment, Alignment::Drifted);
    assert_eq!(
        r.base().unwrap().l0_compliance_status.get("l0_01"),
        Some(&true)
    );
    assert_eq!(
        c.get(Kind::Skill, seo)
            .await
            .unwrap()
            .base()
            .unwrap()
            .amendment_alignment,
        Alignment::RequiresReview
    );
    assert_eq!(
        c.history(Kind::JobRole, role)
            .await
            .unwrap()
            .last()
            .unwrap()
            .action,
        "revalidate"
    );
    assert_eq!(head(&c).await.seq, before.seq + 1 + sent.len() as u64);
    assert!(c.verify(&[]).await.unwrap().ok);
}
