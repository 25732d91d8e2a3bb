//! The read model's correctness story: operations run through the [`Catalog`] (on the model,
//! or straight on the store underneath as another process would), and then every read the
//! model answers is compared with the store's answer to the same call. The property tests
//! generate the operations; this module applies them and compares.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Map, json};
use uuid::Uuid;

use super::{PROJECTED, ReadModelStore};
use crate::catalog::{Catalog, PrecedentInput};
use crate::input::{AgentInput, IndustryInput, JobRoleInput, SkillInput, TeamInput, TrialInput};
use crate::model::{Category, Kind, Record, Seniority, Status};
use crate::search::HashingEmbedder;
use crate::store::{ListQuery, Store};

/// One operation; indices pick among the records of a kind that exist (modulo their number).
#[derive(Debug, Clone)]
pub enum Op {
    CreateIndustry,
    CreateSkill,
    CreateJobRole {
        skill: usize,
    },
    CreateTeam {
        role: usize,
    },
    CreateAgent {
        skill: usize,
        role: usize,
        industry: usize,
    },
    Patch {
        kind: usize,
        pick: usize,
        external: bool,
    },
    Archive {
        kind: usize,
        pick: usize,
    },
    Certify {
        kind: usize,
        pick: usize,
    },
    AssignTeam {
        agent: usize,
        team: Option<usize>,
    },
    CreatePrecedent,
    SupersedePrecedent {
        pick: usize,
    },
    BatchCertify {
        picks: Vec<(usize, usize)>,
    },
    BookTrial {
        agent: usize,
    },
}

/// An operation and where it is written: through the model (`false`), or straight on the
/// store underneath (`true`), as another process writing to the same database would.
pub type Step = (Op, bool);

/// The model and the store it projects, with a catalog over each.
#[derive(Debug)]
pub struct Pair {
    pub model: Arc<ReadModelStore>,
    pub through_model: Catalog,
    pub direct: Catalog,
    counter: u64,
}

impl Pair {
    pub async fn new(inner: Arc<dyn Store>) -> Self {
        let model = Arc::new(
            ReadModelStore::start(inner.clone(), super::ReadModelOptions::default())
                .await
                .unwrap(),
        );
        Self {
            through_model: Catalog::new(model.clone(), Arc::new(HashingEmbedder)),
            direct: Catalog::new(inner, Arc::new(HashingEmbedder)),
            model,
            counter: 0,
        }
    }

    async fn ids(&self, kind: Kind) -> Vec<Uuid> {
        let rows = self
            .direct
            .store()
            .list(&ListQuery::of(kind, 100_000))
            .await
            .unwrap();
        rows.iter().map(Record::id).collect()
    }

    async fn pick(&self, kind: Kind, n: usize) -> Option<Uuid> {
        let ids = self.ids(kind).await;
        (!ids.is_empty()).then(|| ids[n % ids.len()])
    }

    /// Applies one step; a refused operation (a conflict, a broken rule) is a fine outcome.
    pub async fn apply(&mut self, (op, direct): &Step) {
        self.counter += 1;
        let n = self.counter;
        let c = if *direct {
            self.direct.clone()
        } else {
            self.through_model.clone()
        };
        let s = |id: Uuid| Some(id.to_string());
        let _ = match op.clone() {
            Op::CreateIndustry => c
                .create_industry(
                    &IndustryInput {
                        name: Some(format!("Industry {n}")),
                        description: Some("made by the story".into()),
                        ..Default::default()
                    },
                    "story",
                )
                .await
                .map(drop),
            Op::CreateSkill => c
                .create_skill(
                    &SkillInput {
                        name: Some(format!("Skill {n}")),
                        description: Some("a skill".into()),
                        category: Some(
                            Category::ALL[(n as usize) % Category::ALL.len()]
                                .as_str()
                                .into(),
                        ),
                        ..Default::default()
                    },
                    "story",
                )
                .await
                .map(drop),
            Op::CreateJobRole { skill } => {
                let Some(skill) = self.pick(Kind::Skill, skill).await else {
                    return;
                };
                c.create_job_role(
                    &JobRoleInput {
                        name: Some(format!("Role {n}")),
                        description: Some("a role".into()),
                        required_skills: Some(vec![skill.to_string()]),
                        seniority_level: Some(Seniority::ALL[(n as usize) % 3].as_str().into()),
                        ..Default::default()
                    },
                    "story",
                )
                .await
                .map(drop)
            }
            Op::CreateTeam { role } => {
                let Some(role) = self.pick(Kind::JobRole, role).await else {
                    return;
                };
                c.create_team(
                    &TeamInput {
                        name: Some(format!("Team {n}")),
                        job_role_id: s(role),
                        ..Default::default()
                    },
                    "story",
                )
                .await
                .map(drop)
            }
            Op::CreateAgent {
                skill,
                role,
                industry,
            } => {
                let (Some(skill), Some(role), Some(industry)) = (
                    self.pick(Kind::Skill, skill).await,
                    self.pick(Kind::JobRole, role).await,
                    self.pick(Kind::Industry, industry).await,
                ) else {
                    return;
                };
                c.create_agent(
                    &AgentInput {
                        name: Some(format!("Agent {n}")),
                        description: Some("an agent".into()),
                        skill_id: s(skill),
                        job_role_id: s(role),
                        industry_id: s(industry),
                        ..Default::default()
                    },
                    "story",
                )
                .await
                .map(drop)
            }
            Op::Patch {
                kind,
                pick,
                external,
            } => {
                let kind = Kind::CATALOG[kind % Kind::CATALOG.len()];
                let Some(id) = self.pick(kind, pick).await else {
                    return;
                };
                let current = c.get(kind, id).await.unwrap();
                let mut patch = Map::new();
                patch.insert("description".into(), json!(format!("evolved {n}")));
                if external {
                    patch.insert("external_id".into(), json!(format!("ext-{}", n % 4)));
                }
                patch.insert("tags".into(), json!([format!("t{n}")]));
                c.evolve(kind, id, &patch, current.version(), "story")
                    .await
                    .map(drop)
            }
            Op::Archive { kind, pick } => {
                let kind = Kind::CATALOG[kind % Kind::CATALOG.len()];
                let Some(id) = self.pick(kind, pick).await else {
                    return;
                };
                c.archive(kind, id, None, "story").await.map(drop)
            }
            Op::Certify { kind, pick } => {
                let kind = Kind::CATALOG[kind % Kind::CATALOG.len()];
                let Some(id) = self.pick(kind, pick).await else {
                    return;
                };
                c.certify(kind, id, "story").await.map(drop)
            }
            Op::AssignTeam { agent, team } => {
                let Some(agent) = self.pick(Kind::Agent, agent).await else {
                    return;
                };
                let team = match team {
                    Some(t) => match self.pick(Kind::Team, t).await {
                        Some(id) => Some(id),
                        None => return,
                    },
                    None => None,
                };
                c.assign_team(agent, team, "story").await.map(drop)
            }
            Op::CreatePrecedent => c.create_precedent(&precedent(n), "story").await.map(drop),
            Op::SupersedePrecedent { pick } => {
                let Some(id) = self.pick(Kind::PrecedentSeed, pick).await else {
                    return;
                };
                let Some(Record::PrecedentSeed(old)) =
                    c.store().get(Some(Kind::PrecedentSeed), id).await.unwrap()
                else {
                    return;
                };
                c.supersede_precedent(old.seed_id.as_str(), &precedent(n), "story")
                    .await
                    .map(drop)
            }
            Op::BatchCertify { picks } => {
                // A batch as the server runs it, but the items at once: writes through the
                // model racing each other.
                let mut targets = Vec::new();
                for (kind, pick) in picks {
                    let kind = Kind::CATALOG[kind % Kind::CATALOG.len()];
                    if let Some(id) = self.pick(kind, pick).await {
                        targets.push((kind, id));
                    }
                }
                join_all(
                    targets
                        .iter()
                        .map(|(kind, id)| c.certify(*kind, *id, "story")),
                )
                .await;
                Ok(())
            }
            Op::BookTrial { agent } => {
                let Some(agent) = self.pick(Kind::Agent, agent).await else {
                    return;
                };
                c.book_trial(
                    &TrialInput {
                        agent_id: s(agent),
                        customer_name: Some("Customer".into()),
                        customer_email: Some(format!("c{n}@example.com")),
                        company: Some("Example".into()),
                        ..Default::default()
                    },
                    "story",
                )
                .await
                .map(drop)
            }
        };
    }

    /// Waits until the model has folded everything the store holds.
    pub async fn settle(&self) {
        let head = self.direct.store().head().await.unwrap().seq;
        assert!(
            self.model.wait_for(head, Duration::from_secs(10)).await,
            "the model reaches the store's head {head} (it is at {})",
            self.model.seq()
        );
    }

    /// Every read the model answers equals the store's answer.
    pub async fn assert_same(&self) {
        let model: &dyn Store = self.model.as_ref();
        let store: &dyn Store = self.direct.store().as_ref();
        for kind in PROJECTED {
            let all = store.list(&ListQuery::of(*kind, 100_000)).await.unwrap();
            for query in queries(*kind, &all) {
                let listed = store.list(&query).await.unwrap();
                assert_eq!(model.list(&query).await.unwrap(), listed, "list {query:?}");
                let shared = model.list_shared(&query).await.unwrap();
                assert!(
                    shared.iter().map(AsRef::as_ref).eq(listed.iter()),
                    "list_shared {query:?}"
                );
                assert_eq!(
                    model.count(&query).await.unwrap(),
                    store.count(&query).await.unwrap(),
                    "count {query:?}"
                );
            }
            let ids: Vec<Uuid> = all.iter().map(Record::id).collect();
            assert_eq!(
                model.names(*kind, &ids).await.unwrap(),
                store.names(*kind, &ids).await.unwrap()
            );
            for record in &all {
                let id = record.id();
                assert_eq!(
                    model.get(Some(*kind), id).await.unwrap().as_ref(),
                    Some(record)
                );
                assert_eq!(model.get(None, id).await.unwrap().as_ref(), Some(record));
                let label = match record {
                    Record::PrecedentSeed(p) => Some(p.seed_id.as_str().to_lowercase()),
                    r => r.name().map(|n| n.as_str().to_uppercase()),
                };
                if let Some(label) = label {
                    assert_eq!(
                        model.get_by_name(*kind, &label).await.unwrap(),
                        store.get_by_name(*kind, &label).await.unwrap(),
                        "get_by_name {kind} {label}"
                    );
                }
            }
        }
        for n in 0..4 {
            let ext = format!("ext-{n}");
            assert_eq!(
                model.external_id_owner(&ext).await.unwrap(),
                store.external_id_owner(&ext).await.unwrap()
            );
        }
        let missing = Uuid::now_v7();
        assert_eq!(model.get(None, missing).await.unwrap(), None);
        let trials = store.list(&ListQuery::of(Kind::Trial, 1000)).await.unwrap();
        for trial in &trials {
            assert_eq!(
                model.get(None, trial.id()).await.unwrap().as_ref(),
                Some(trial)
            );
        }
        assert_eq!(
            model.list(&ListQuery::of(Kind::Trial, 1000)).await.unwrap(),
            trials
        );
    }
}

fn precedent(n: u64) -> PrecedentInput {
    PrecedentInput {
        seed_id: None,
        title: format!("Precedent {n}"),
        content: format!("Decision number {n} about agents and skills"),
        applies_to: vec!["Agent".into()],
        approving_governor_id: None,
        acknowledge_conflicts: true,
    }
}

/// The queries compared for a kind: all, by status, by each filter the kind has (taking values
/// from its records), pages by offset and by cursor.
fn queries(kind: Kind, all: &[Record]) -> Vec<ListQuery> {
    let base = ListQuery::of(kind, 100_000);
    let mut out = vec![
        base.clone(),
        ListQuery {
            status: Some(Status::Active.into()),
            ..base.clone()
        },
        ListQuery {
            status: Some(Status::Archived.into()),
            ..base.clone()
        },
        ListQuery {
            offset: 2,
            ..ListQuery::of(kind, 3)
        },
    ];
    if let Some(second) = all.get(1) {
        out.push(ListQuery {
            after: Some((second.created_at(), second.id())),
            ..ListQuery::of(kind, 4)
        });
    }
    for record in all.iter().take(3) {
        match record {
            Record::Skill(e) => out.push(ListQuery {
                category: Some(e.body.category),
                ..base.clone()
            }),
            Record::JobRole(e) => out.push(ListQuery {
                seniority_level: Some(e.body.seniority_level),
                skill_id: e.body.required_skills.first().copied(),
                ..base.clone()
            }),
            Record::Team(e) => out.push(ListQuery {
                job_role_id: Some(e.body.job_role_id),
                ..base.clone()
            }),
            Record::Agent(e) => {
                out.push(ListQuery {
                    industry_id: Some(e.body.industry_id),
                    status: Some(Status::Active.into()),
                    ..base.clone()
                });
                out.push(ListQuery {
                    skill_id: Some(e.body.skill_id),
                    team_id: e.body.team_id,
                    ..ListQuery::of(kind, 2)
                });
            }
            _ => {}
        }
    }
    out
}

/// A read model with the default options over `inner`, as a store (what the conformance story
/// runs against).
pub async fn model_over(inner: Arc<dyn Store>) -> Arc<dyn Store> {
    Arc::new(
        ReadModelStore::start(inner, super::ReadModelOptions::default())
            .await
            .unwrap(),
    )
}

/// Seeds a store with the built-in catalog.
pub async fn seed(store: Arc<dyn Store>) {
    let catalog = Catalog::new(store, Arc::new(HashingEmbedder));
    crate::seed::load(
        &catalog,
        &crate::seed::SeedCatalog::builtin().unwrap(),
        &mut |_| {},
    )
    .await
    .unwrap();
}

/// Runs `steps` on a pair over `inner` (seeded first, before or after the model starts),
/// comparing the model with the store after each step.
pub async fn run(inner: Arc<dyn Store>, seed_first: bool, steps: &[Step]) {
    if seed_first {
        seed(inner.clone()).await;
    }
    let mut pair = Pair::new(inner.clone()).await;
    if !seed_first {
        seed(pair.model.clone()).await;
    }
    pair.assert_same().await;
    for step in steps {
        pair.apply(step).await;
        pair.settle().await;
        pair.assert_same().await;
    }
}
