//! The catalog seed: `seeds/catalog.json` as data, loaded into any store through the normal
//! audited operations.
//!
//! Loading is idempotent: an entity that already exists (by name) is left alone, and an entity
//! already certified is not certified again, so a second load changes nothing and appends no
//! audit entry. Every reference in the file is by name, and every assignment comes from the
//! file, never from chance.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog::{Catalog, PrecedentInput};
use crate::error::{Error, Result};
use crate::input::{AgentInput, IndustryInput, JobRoleInput, MetaInput, SkillInput, TeamInput};
use crate::model::{CertificationState, Kind, Record};

/// The seed catalog shipped with plant (`seeds/catalog.json`), built into the library.
pub const BUILTIN: &str = include_str!("../../seeds/catalog.json");

/// The precedent seeds shipped with plant (`seeds/precedents.json`), built into the library.
pub const BUILTIN_PRECEDENTS: &str = include_str!("../../seeds/precedents.json");

/// The seed file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCatalog {
    /// The file format's version (1).
    pub format: u32,
    /// The actor the audit entries name.
    pub actor: String,
    /// The governance agent named on every seeded entity.
    pub governance_agent_id: String,
    /// Industries.
    pub industries: Vec<SeedIndustry>,
    /// Skills.
    pub skills: Vec<SeedSkill>,
    /// Job roles.
    pub job_roles: Vec<SeedJobRole>,
    /// Teams.
    pub teams: Vec<SeedTeam>,
    /// Agents.
    pub agents: Vec<SeedAgent>,
    /// Precedent seeds, created (by `seed_id`) before anything is certified so that the
    /// certifications cite them.
    #[serde(default)]
    pub precedents: Vec<SeedPrecedent>,
}

/// A seeded precedent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPrecedent {
    /// Its seed id (`PS-001`).
    pub seed_id: String,
    /// Title.
    pub title: String,
    /// The decision.
    pub content: String,
    /// Kinds it applies to.
    pub applies_to: Vec<String>,
}

/// The precedents file (`seeds/precedents.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPrecedents {
    /// The file format's version (1).
    pub format: u32,
    /// The precedents.
    pub precedents: Vec<SeedPrecedent>,
}

/// A seeded industry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedIndustry {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
}

/// A seeded skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSkill {
    /// Name.
    pub name: String,
    /// Category (wire spelling).
    pub category: String,
    /// Description.
    pub description: String,
}

/// A seeded job role; references by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedJobRole {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Seniority (wire spelling).
    pub seniority_level: String,
    /// Industry name.
    pub industry: String,
    /// Skill names.
    pub required_skills: Vec<String>,
}

/// A seeded team; references by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTeam {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Job role name.
    pub job_role: String,
    /// Industry name.
    pub industry: String,
}

/// A seeded agent; references by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAgent {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Job role name.
    pub job_role: String,
    /// Skill name.
    pub skill: String,
    /// Industry name.
    pub industry: String,
    /// Team name, if any.
    pub team: Option<String>,
}

impl SeedCatalog {
    /// Parses a seed file.
    pub fn parse(json: &str) -> Result<Self> {
        serde_json::from_str(json)
            .map_err(|e| Error::input("seed", format!("the seed file is not valid: {e}")))
    }

    /// The seed catalog built into the library, with the built-in precedents.
    pub fn builtin() -> Result<Self> {
        Self::parse(BUILTIN)?.with_precedents(BUILTIN_PRECEDENTS)
    }

    /// The same catalog, with the precedents of a precedents file added.
    pub fn with_precedents(mut self, json: &str) -> Result<Self> {
        let file: SeedPrecedents = serde_json::from_str(json)
            .map_err(|e| Error::input("seed", format!("the precedents file is not valid: {e}")))?;
        self.precedents.extend(file.precedents);
        Ok(self)
    }
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    /// Entities created, by kind.
    pub created: BTreeMap<String, u64>,
    /// Entities already there, by kind.
    pub existing: BTreeMap<String, u64>,
    /// Entities certified by this load.
    pub certified: u64,
    /// Entities whose certification was rejected by this load (should be none).
    pub rejected: u64,
}

impl SeedReport {
    /// Audit entries this load appended.
    pub fn changes(&self) -> u64 {
        self.created.values().sum::<u64>() + self.certified + self.rejected
    }
}

/// One step of a load, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    /// What is being done.
    pub step: &'a str,
    /// Items done in this step.
    pub done: usize,
    /// Items in this step.
    pub total: usize,
}

fn meta(seed: &SeedCatalog) -> MetaInput {
    MetaInput {
        governance_agent_id: Some(seed.governance_agent_id.clone()),
        ..MetaInput::default()
    }
}

struct Loader<'a> {
    catalog: &'a Catalog,
    seed: &'a SeedCatalog,
    report: SeedReport,
    progress: &'a mut (dyn FnMut(Progress<'_>) + Send + Sync),
}

impl Loader<'_> {
    async fn id_of(&self, kind: Kind, name: &str) -> Result<Uuid> {
        self.catalog
            .store()
            .get_by_name(kind, name)
            .await?
            .map(|r| r.id())
            .ok_or_else(|| {
                Error::input(
                    "seed",
                    format!("the seed names a {kind} '{name}' that it does not define"),
                )
            })
    }

    async fn ensure<F, Fut>(&mut self, kind: Kind, names: Vec<String>, mut create: F) -> Result<()>
    where
        F: FnMut(usize) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let total = names.len();
        for (i, name) in names.iter().enumerate() {
            if self
                .catalog
                .store()
                .get_by_name(kind, name)
                .await?
                .is_some()
            {
                *self
                    .report
                    .existing
                    .entry(kind.as_str().into())
                    .or_default() += 1;
            } else {
                create(i).await?;
                *self.report.created.entry(kind.as_str().into()).or_default() += 1;
            }
            (self.progress)(Progress {
                step: kind.as_str(),
                done: i + 1,
                total,
            });
        }
        Ok(())
    }

    async fn certify_all(&mut self, kind: Kind, names: Vec<String>) -> Result<()> {
        let total = names.len();
        for (i, name) in names.iter().enumerate() {
            let record = self.catalog.store().get_by_name(kind, name).await?;
            let state = record
                .as_ref()
                .and_then(Record::base)
                .map(|b| b.certification.status);
            if let (Some(record), Some(state)) = (record.as_ref(), state)
                && state != CertificationState::Certified
            {
                let outcome = self
                    .catalog
                    .certify(kind, record.id(), &self.seed.actor)
                    .await?;
                if outcome.passed() {
                    self.report.certified += 1;
                } else {
                    self.report.rejected += 1;
                }
            }
            (self.progress)(Progress {
                step: "certify",
                done: i + 1,
                total,
            });
        }
        Ok(())
    }
}

/// Loads a seed catalog into the catalog's store, creating what is missing and certifying what
/// is not certified. Progress is reported per item.
pub async fn load(
    catalog: &Catalog,
    seed: &SeedCatalog,
    progress: &mut (dyn FnMut(Progress<'_>) + Send + Sync),
) -> Result<SeedReport> {
    let mut l = Loader {
        catalog,
        seed,
        report: SeedReport::default(),
        progress,
    };
    let actor = seed.actor.as_str();

    let names = seed.precedents.iter().map(|x| x.seed_id.clone()).collect();
    l.ensure(Kind::PrecedentSeed, names, |i| {
        let s = &seed.precedents[i];
        // The seed file is reviewed data: its seeds are active, whatever resembles them.
        let input = PrecedentInput {
            seed_id: Some(s.seed_id.clone()),
            title: s.title.clone(),
            content: s.content.clone(),
            applies_to: s.applies_to.clone(),
            approving_governor_id: Some(seed.governance_agent_id.clone()),
            acknowledge_conflicts: true,
        };
        async move { catalog.create_precedent(&input, actor).await.map(|_| ()) }
    })
    .await?;

    let names = seed.industries.iter().map(|x| x.name.clone()).collect();
    l.ensure(Kind::Industry, names, |i| {
        let s = &seed.industries[i];
        let input = IndustryInput {
            name: Some(s.name.clone()),
            description: Some(s.description.clone()),
            meta: meta(seed),
        };
        async move { catalog.create_industry(&input, actor).await.map(|_| ()) }
    })
    .await?;

    let names = seed.skills.iter().map(|x| x.name.clone()).collect();
    l.ensure(Kind::Skill, names, |i| {
        let s = &seed.skills[i];
        let input = SkillInput {
            name: Some(s.name.clone()),
            description: Some(s.description.clone()),
            category: Some(s.category.clone()),
            meta: meta(seed),
        };
        async move { catalog.create_skill(&input, actor).await.map(|_| ()) }
    })
    .await?;

    let mut industry_ids = BTreeMap::new();
    for s in &seed.industries {
        industry_ids.insert(s.name.clone(), l.id_of(Kind::Industry, &s.name).await?);
    }
    let industry = |name: &str| {
        industry_ids
            .get(name)
            .map(Uuid::to_string)
            .ok_or_else(|| Error::input("seed", format!("unknown industry '{name}'")))
    };

    let mut inputs = Vec::new();
    for s in &seed.job_roles {
        inputs.push(JobRoleInput {
            name: Some(s.name.clone()),
            description: Some(s.description.clone()),
            required_skills: Some(s.required_skills.clone()),
            seniority_level: Some(s.seniority_level.clone()),
            industry_id: Some(industry(&s.industry)?),
            meta: meta(seed),
        });
    }
    let names = seed.job_roles.iter().map(|x| x.name.clone()).collect();
    l.ensure(Kind::JobRole, names, |i| {
        let input = inputs[i].clone();
        async move { catalog.create_job_role(&input, actor).await.map(|_| ()) }
    })
    .await?;

    let mut inputs = Vec::new();
    for s in &seed.teams {
        inputs.push(TeamInput {
            name: Some(s.name.clone()),
            description: Some(s.description.clone()),
            job_role_id: Some(l.id_of(Kind::JobRole, &s.job_role).await?.to_string()),
            industry_id: Some(industry(&s.industry)?),
            meta: meta(seed),
        });
    }
    let names = seed.teams.iter().map(|x| x.name.clone()).collect();
    l.ensure(Kind::Team, names, |i| {
        let input = inputs[i].clone();
        async move { catalog.create_team(&input, actor).await.map(|_| ()) }
    })
    .await?;

    let mut inputs = Vec::new();
    for s in &seed.agents {
        let team_id = match &s.team {
            Some(team) => Some(l.id_of(Kind::Team, team).await?.to_string()),
            None => None,
        };
        inputs.push(AgentInput {
            name: Some(s.name.clone()),
            description: Some(s.description.clone()),
            skill_id: Some(l.id_of(Kind::Skill, &s.skill).await?.to_string()),
            job_role_id: Some(l.id_of(Kind::JobRole, &s.job_role).await?.to_string()),
            team_id,
            industry_id: Some(industry(&s.industry)?),
            meta: meta(seed),
        });
    }
    let names = seed.agents.iter().map(|x| x.name.clone()).collect();
    l.ensure(Kind::Agent, names, |i| {
        let input = inputs[i].clone();
        async move { catalog.create_agent(&input, actor).await.map(|_| ()) }
    })
    .await?;

    // Prerequisites first: skills before the roles that need them, roles before agents, agents
    // before their teams.
    l.certify_all(
        Kind::Industry,
        seed.industries.iter().map(|x| x.name.clone()).collect(),
    )
    .await?;
    l.certify_all(
        Kind::Skill,
        seed.skills.iter().map(|x| x.name.clone()).collect(),
    )
    .await?;
    l.certify_all(
        Kind::JobRole,
        seed.job_roles.iter().map(|x| x.name.clone()).collect(),
    )
    .await?;
    l.certify_all(
        Kind::Agent,
        seed.agents.iter().map(|x| x.name.clone()).collect(),
    )
    .await?;
    l.certify_all(
        Kind::Team,
        seed.teams.iter().map(|x| x.name.clone()).collect(),
    )
    .await?;
    // Vectors computed after the commits (model embedders) are stored before the seed counts
    // as loaded, so that semantic search sees the whole seed.
    catalog.vectors_settled().await;
    Ok(l.report)
}
