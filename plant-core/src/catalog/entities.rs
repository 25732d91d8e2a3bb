//! Creating, evolving, archiving and certifying catalog entities.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Catalog, check_version, now};
use crate::Timestamp;
use crate::error::{Cause, Error, Result};
use crate::input::{
    AgentInput, IndustryInput, JobRoleInput, Meta, ParsedJobRole, Ref, SkillInput, TeamInput,
    merged_input,
};
use crate::model::{
    Agent, Alignment, Base, Body, Certification, CertificationState, Description, Entity, Industry,
    JobRole, JobStatus, Kind, Record, Skill, Status, Team, TrialStatus,
};
use crate::search::query_terms;
use crate::store::{
    Action, Change, FusedQuery, ListQuery, SearchFilter, SearchHit, SearchMode, StatusFilter,
};
use crate::validate::{
    RULE_SET_VERSION, Violation, l0_compliance, l0_on_commit, rules, validate,
    validate_for_certification,
};

/// The result of a certification: the entity as stored, and why it was rejected (if it was).
#[derive(Debug, Clone)]
pub struct Certified {
    /// The entity, now `certified` or `rejected`.
    pub record: Record,
    /// Empty when certified.
    pub violations: Vec<Violation>,
}

impl Certified {
    /// True when the entity passed.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

fn apply_meta(base: &mut Base, meta: Meta, default_governance: &str) {
    base.external_id = meta.external_id;
    base.tags = meta.tags;
    base.custom_attributes = meta.custom_attributes;
    base.governance_notes = meta.governance_notes;
    base.governance_agent_id = Some(
        meta.governance_agent_id
            .unwrap_or_else(|| default_governance.to_owned()),
    );
    base.parent_id = meta.parent_id;
    // Every catalog write records the L0 rules as they stand for the version it commits.
    base.l0_compliance_status = l0_on_commit(base);
}

fn l1_only(violations: Vec<Violation>) -> Vec<Violation> {
    violations.into_iter().filter(|v| !v.is_l0()).collect()
}

/// Parses an input value of a kind into a body and its metadata.
fn parse_as<I: serde::de::DeserializeOwned>(value: Value) -> Result<I> {
    serde_json::from_value(value).map_err(|e| Error::input("", format!("invalid input: {e}")))
}

impl Catalog {
    /// Parses the JSON input of a catalog kind into a fresh record (required skills given by
    /// name resolved) and its metadata. Every violation is reported at once.
    async fn parse_record(
        &self,
        kind: Kind,
        input: Value,
        at: Timestamp,
    ) -> Result<(Record, Meta)> {
        fn fresh<K: Body>(parsed: (K, Meta), at: Timestamp) -> (Record, Meta)
        where
            Record: From<Entity<K>>,
        {
            (Record::from(Entity::new(parsed.0, at)), parsed.1)
        }
        Ok(match kind {
            Kind::Industry => fresh(
                parse_as::<IndustryInput>(input)?
                    .parse()
                    .map_err(Error::Invalid)?,
                at,
            ),
            Kind::Skill => fresh(
                parse_as::<SkillInput>(input)?
                    .parse()
                    .map_err(Error::Invalid)?,
                at,
            ),
            Kind::JobRole => {
                let (parsed, meta) = parse_as::<JobRoleInput>(input)?
                    .parse()
                    .map_err(Error::Invalid)?;
                fresh((self.resolve_skills(parsed).await?, meta), at)
            }
            Kind::Team => fresh(
                parse_as::<TeamInput>(input)?
                    .parse()
                    .map_err(Error::Invalid)?,
                at,
            ),
            Kind::Agent => fresh(
                parse_as::<AgentInput>(self.industry_named(input).await?)?
                    .parse()
                    .map_err(Error::Invalid)?,
                at,
            ),
            Kind::Trial | Kind::Job | Kind::PrecedentSeed => {
                return Err(Error::input(
                    "entity_type",
                    format!("{kind} is not a catalog kind"),
                ));
            }
        })
    }

    /// The platform portal's client names an agent's industry as `industry` (its name in any
    /// case, or its id) where plant's field is `industry_id`: the name becomes the id here.
    /// `industry_id`, when given, wins.
    async fn industry_named(&self, mut input: Value) -> Result<Value> {
        let Some(fields) = input.as_object_mut() else {
            return Ok(input);
        };
        let given = fields.remove("industry");
        if fields.get("industry_id").is_some_and(|v| !v.is_null()) {
            return Ok(input);
        }
        let given = match given {
            None | Some(Value::Null) => return Ok(input),
            Some(Value::String(text)) => text,
            Some(_) => {
                return Err(Error::input(
                    "industry",
                    "must be a string: an industry's name or id",
                ));
            }
        };
        let given = given.trim();
        let id = match Uuid::parse_str(given) {
            Ok(id) => id,
            Err(_) => match self.store.get_by_name(Kind::Industry, given).await? {
                Some(industry) => industry.id(),
                None => {
                    return Err(Error::Invalid(vec![Violation::new(
                        rules::L1_AGENT_03,
                        "industry",
                        format!(
                            "no industry is named '{}'",
                            given.chars().take(100).collect::<String>()
                        ),
                    )]));
                }
            },
        };
        fields.insert("industry_id".into(), Value::String(id.to_string()));
        Ok(input)
    }

    async fn resolve_skills(&self, parsed: ParsedJobRole) -> Result<JobRole> {
        let mut ids = Vec::with_capacity(parsed.required_skills.len());
        let mut violations = Vec::new();
        for r in parsed.required_skills {
            match r {
                Ref::Id(id) => ids.push(id),
                Ref::Name(name) => match self.store.get_by_name(Kind::Skill, &name).await? {
                    Some(skill) => ids.push(skill.id()),
                    None => violations.push(Violation::new(
                        rules::L1_JOBROLE_03,
                        "required_skills",
                        format!(
                            "no skill is named '{}'",
                            name.chars().take(100).collect::<String>()
                        ),
                    )),
                },
            }
        }
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        ids.dedup();
        Ok(JobRole {
            name: parsed.name,
            description: parsed.description,
            required_skills: ids,
            seniority_level: parsed.seniority_level,
            industry_id: parsed.industry_id,
        })
    }

    async fn create<K: Body>(&self, body: K, meta: Meta, actor: &str) -> Result<Entity<K>>
    where
        Record: From<Entity<K>>,
        Entity<K>: TryFrom<Record, Error = Record>,
    {
        self.create_record(Record::from(Entity::new(body, now())), meta, actor)
            .await
            .and_then(|r| {
                Entity::<K>::try_from(r)
                    .map_err(|_| Error::Internal(Cause::from("store returned another kind")))
            })
    }

    /// Creates a new catalog record: L1 rules, then the write. In a dry run (see
    /// [`Catalog::dry_run`]) the record as it would be, uncommitted (version 0), or the error
    /// the write would give, a taken name included.
    async fn create_record(&self, mut record: Record, meta: Meta, actor: &str) -> Result<Record> {
        if let Some(base) = record.base_mut() {
            apply_meta(base, meta, &self.governance_agent_id);
        }
        let ctx = self.context(&record).await?;
        let violations = l1_only(validate(&record, &ctx));
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        if let Record::Agent(agent) = &mut record
            && agent.body.description.as_str().is_empty()
        {
            agent.body.description = self.composed_description(&agent.body).await?;
        }
        let parent = record.base().and_then(|b| b.parent_id);
        let parent_changes = self
            .parent_changes(record.id(), None, parent, actor)
            .await?;
        let text = self.search_text(&record).await?;
        let embedding = self.inline_embedding(text.as_ref()).await?;
        let change = Change::create(record, actor).with_embedding(embedding);
        let written = self.commit_with(change, parent_changes).await?;
        self.index_after_commit(&written, text).await;
        Ok(written)
    }

    /// The description of an agent created without one (the platform portal's client sends
    /// none): what it is, from its job role, industry and skill, so that a marketplace card
    /// never shows an empty text. The references exist: the rules checked them first.
    async fn composed_description(&self, agent: &Agent) -> Result<Description> {
        let name = |record: Option<Record>| {
            record
                .and_then(|r| r.name().map(|n| n.as_str().to_owned()))
                .unwrap_or_default()
        };
        let role = name(
            self.store
                .get(Some(Kind::JobRole), agent.job_role_id)
                .await?,
        );
        let industry = name(
            self.store
                .get(Some(Kind::Industry), agent.industry_id)
                .await?,
        );
        let skill = name(self.store.get(Some(Kind::Skill), agent.skill_id).await?);
        let text = format!("{role} for {industry}, skilled in {skill}.");
        Description::parse(&text).map_err(|e| Error::Internal(Cause::from(e.to_string())))
    }

    /// Creates a catalog record of `kind` from its JSON input (the body of a create request);
    /// with `dry_run`, parses and checks everything and returns the would-be record without
    /// writing anything.
    pub async fn create_json(
        &self,
        kind: Kind,
        input: Value,
        actor: &str,
        dry_run: bool,
    ) -> Result<Record> {
        let catalog = if dry_run {
            self.dry_run()
        } else {
            self.clone()
        };
        let (record, meta) = catalog.parse_record(kind, input, now()).await?;
        catalog.create_record(record, meta, actor).await
    }

    /// Creates an industry.
    pub async fn create_industry(
        &self,
        input: &IndustryInput,
        actor: &str,
    ) -> Result<Entity<Industry>> {
        let (body, meta) = input.parse().map_err(Error::Invalid)?;
        self.create(body, meta, actor).await
    }

    /// Creates a skill.
    pub async fn create_skill(&self, input: &SkillInput, actor: &str) -> Result<Entity<Skill>> {
        let (body, meta) = input.parse().map_err(Error::Invalid)?;
        self.create(body, meta, actor).await
    }

    /// Creates a job role; required skills may be given by id or by name.
    pub async fn create_job_role(
        &self,
        input: &JobRoleInput,
        actor: &str,
    ) -> Result<Entity<JobRole>> {
        let (parsed, meta) = input.parse().map_err(Error::Invalid)?;
        let body = self.resolve_skills(parsed).await?;
        self.create(body, meta, actor).await
    }

    /// Creates a team.
    pub async fn create_team(&self, input: &TeamInput, actor: &str) -> Result<Entity<Team>> {
        let (body, meta) = input.parse().map_err(Error::Invalid)?;
        self.create(body, meta, actor).await
    }

    /// Creates an agent.
    pub async fn create_agent(&self, input: &AgentInput, actor: &str) -> Result<Entity<Agent>> {
        let (body, meta) = input.parse().map_err(Error::Invalid)?;
        self.create(body, meta, actor).await
    }

    /// [`Catalog::evolve`] without the write: every check, and the record as it would be
    /// (at its current version, uncommitted). Writes and appends nothing.
    pub async fn evolve_dry_run(
        &self,
        kind: Kind,
        id: Uuid,
        patch: &Map<String, Value>,
        expected_version: u64,
    ) -> Result<Record> {
        self.dry_run()
            .evolve(kind, id, patch, expected_version, "")
            .await
    }

    /// Evolves an entity with a JSON merge patch of its fields, at the version the caller read.
    /// A certified entity whose substance changed goes back to `pending_certification` with
    /// `amendment_alignment: requires_review`.
    pub async fn evolve(
        &self,
        kind: Kind,
        id: Uuid,
        patch: &Map<String, Value>,
        expected_version: u64,
        actor: &str,
    ) -> Result<Record> {
        if !kind.is_catalog() {
            return Err(Error::input(
                "entity_type",
                format!("{kind} cannot be patched here"),
            ));
        }
        let current = self.get(kind, id).await?;
        check_version(Some(expected_version), current.version())?;
        let merged = merged_input(&current, patch).map_err(Error::Invalid)?;
        let (mut next, meta) = self
            .parse_record(kind, merged, current.created_at())
            .await?;
        if let (Some(base), Some(was)) = (next.base_mut(), current.base()) {
            *base = was.clone();
        }
        let governance = self.governance_agent_id.clone();
        let substance_changed = body_value(&current) != body_value(&next);
        if let Some(base) = next.base_mut() {
            apply_meta(base, meta, &governance);
            base.updated_at = now();
            if substance_changed && base.certification.status == CertificationState::Certified {
                base.certification.status = CertificationState::Pending;
                base.amendment_alignment = Alignment::RequiresReview;
            }
        }
        if let (Record::Agent(old), Record::Agent(new)) = (&current, &next)
            && old.body.industry_id != new.body.industry_id
        {
            return Err(Error::Invalid(vec![Violation::new(
                rules::INPUT,
                "industry_id",
                "an agent's industry cannot change once set",
            )]));
        }
        let ctx = self.context(&next).await?;
        let violations = l1_only(validate(&next, &ctx));
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        let parent_changes = self
            .parent_changes(
                id,
                current.base().and_then(|b| b.parent_id),
                next.base().and_then(|b| b.parent_id),
                actor,
            )
            .await?;
        let old_text = self.search_text(&current).await?;
        let new_text = self.search_text(&next).await?;
        let changed_text = new_text.filter(|text| Some(text) != old_text.as_ref());
        let embedding = self.inline_embedding(changed_text.as_ref()).await?;
        let mut change =
            Change::update(next, expected_version, Action::Update, actor).with_embedding(embedding);
        if changed_text.is_some() && !self.embeds_inline() {
            // Its vector follows the commit; the old text's vector must not outlive it.
            change = change.clearing_embedding();
        }
        let written = self.commit_with(change, parent_changes).await?;
        self.index_after_commit(&written, changed_text).await;
        Ok(written)
    }

    /// Commits `change` and the parents' `child_ids` changes it brings, all or nothing;
    /// returns the record of `change`.
    async fn commit_with(&self, change: Change, parents: Vec<Change>) -> Result<Record> {
        let mut changes = vec![change];
        changes.extend(parents);
        self.commit_all(changes)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Internal(Cause::from("the store committed nothing")))
    }

    /// Archives an entity (status `archived`, audited). Refused with [`Error::Conflict`] while
    /// active entities depend on it.
    pub async fn archive(
        &self,
        kind: Kind,
        id: Uuid,
        expected_version: Option<u64>,
        actor: &str,
    ) -> Result<Record> {
        let current = self.get(kind, id).await?;
        self.archive_read(current, expected_version, actor).await
    }

    /// [`Catalog::archive`] of a record already read.
    pub(super) async fn archive_read(
        &self,
        current: Record,
        expected_version: Option<u64>,
        actor: &str,
    ) -> Result<Record> {
        let (kind, id) = (current.kind(), current.id());
        check_version(expected_version, current.version())?;
        let dependents = self.active_dependents(kind, id).await?;
        if dependents > 0 {
            return Err(Error::Conflict(format!(
                "{dependents} active record(s) depend on this {kind}; archive or move them first"
            )));
        }
        let mut next = current.clone();
        match next.base_mut() {
            Some(base) if base.status == Status::Active => {
                base.status = Status::Archived;
                base.updated_at = now();
            }
            Some(_) => return Err(Error::Conflict(format!("this {kind} is not active"))),
            None => {
                return Err(Error::input(
                    "entity_type",
                    format!("{kind} cannot be archived"),
                ));
            }
        }
        let change = Change::update(next, current.version(), Action::Archive, actor);
        Ok(self.commit(change).await?.record)
    }

    pub(super) async fn active_dependents(&self, kind: Kind, id: Uuid) -> Result<u64> {
        type Field = fn(&mut ListQuery, Uuid);
        let industry: Field = |q, id| q.industry_id = Some(id);
        let skill: Field = |q, id| q.skill_id = Some(id);
        let role: Field = |q, id| q.job_role_id = Some(id);
        let team: Field = |q, id| q.team_id = Some(id);
        let agent: Field = |q, id| q.agent_id = Some(id);
        let active = StatusFilter::Catalog(Status::Active);
        // Who depends on a record of `kind`: (their kind, the status that counts, the field).
        let dependents: &[(Kind, StatusFilter, Field)] = match kind {
            Kind::Industry => &[
                (Kind::Agent, active, industry),
                (Kind::JobRole, active, industry),
                (Kind::Team, active, industry),
            ],
            Kind::Skill => &[(Kind::Agent, active, skill), (Kind::JobRole, active, skill)],
            Kind::JobRole => &[(Kind::Agent, active, role), (Kind::Team, active, role)],
            Kind::Team => &[(Kind::Agent, active, team)],
            Kind::Agent => &[
                (Kind::Trial, StatusFilter::Trial(TrialStatus::Active), agent),
                (Kind::Job, StatusFilter::Job(JobStatus::Queued), agent),
                (Kind::Job, StatusFilter::Job(JobStatus::Running), agent),
            ],
            Kind::Trial | Kind::Job | Kind::PrecedentSeed => &[],
        };
        let queries = dependents.iter().map(|(k, status, set)| {
            let mut q = ListQuery {
                kind: Some(*k),
                status: Some(*status),
                ..ListQuery::default()
            };
            set(&mut q, id);
            q
        });
        let mut n = 0;
        for query in queries {
            n += self.store.count(&query).await?;
        }
        Ok(n)
    }

    /// Certifies an entity: runs L0, L1 and the certification prerequisites, and persists
    /// `certified`, or `rejected` with every violation (audited either way). Skills, job roles
    /// and agents cite the active precedents applied to them in `certification.precedents`,
    /// which the audit entry's payload therefore carries.
    pub async fn certify(&self, kind: Kind, id: Uuid, actor: &str) -> Result<Certified> {
        if !kind.is_catalog() {
            return Err(Error::input(
                "entity_type",
                format!("{kind} is not certified"),
            ));
        }
        let current = self.get(kind, id).await?;
        let ctx = self.context(&current).await?;
        let violations = validate_for_certification(&current, &ctx);
        let precedents = match kind {
            Kind::Skill | Kind::JobRole | Kind::Agent => {
                self.applicable_precedents(&current).await?
            }
            _ => Vec::new(),
        };
        let mut next = current.clone();
        let at = now();
        let passed = violations.is_empty();
        if let Some(base) = next.base_mut() {
            base.l0_compliance_status = l0_compliance(&violations);
            base.certification = Certification {
                status: if passed {
                    CertificationState::Certified
                } else {
                    CertificationState::Rejected
                },
                certified_at: Some(at),
                certified_by: Some(actor.to_owned()),
                violations: violations.clone(),
                rule_set: Some(RULE_SET_VERSION.to_owned()),
                precedents,
            };
            if passed {
                base.amendment_alignment = Alignment::Aligned;
            }
            base.updated_at = at;
        }
        let action = if passed {
            Action::Certify
        } else {
            Action::Reject
        };
        let committed = self
            .commit(Change::update(next, current.version(), action, actor))
            .await?;
        Ok(Certified {
            record: committed.record,
            violations,
        })
    }

    /// Puts an agent in a team (or takes it out with `None`). The team must share the agent's
    /// job role.
    pub async fn assign_team(
        &self,
        agent_id: Uuid,
        team_id: Option<Uuid>,
        actor: &str,
    ) -> Result<Entity<Agent>> {
        let current = self.get(Kind::Agent, agent_id).await?;
        let Record::Agent(mut agent) = current else {
            return Err(Error::NotFound {
                kind: Kind::Agent,
                id: agent_id.to_string(),
            });
        };
        let version = agent.base.version;
        if let Some(team_id) = team_id {
            let team = self.get(Kind::Team, team_id).await?;
            if let Record::Team(team) = &team {
                if team.base.status != Status::Active {
                    return Err(Error::Conflict("the team is not active".into()));
                }
                if team.body.job_role_id != agent.body.job_role_id {
                    return Err(Error::Invalid(vec![Violation::new(
                        rules::L1_AGENT_05,
                        "team_id",
                        "the team's job role differs from the agent's",
                    )]));
                }
            }
        }
        agent.body.team_id = team_id;
        agent.base.updated_at = now();
        let committed = self
            .commit(Change::update(agent, version, Action::AssignTeam, actor))
            .await?;
        Entity::try_from(committed.record)
            .map_err(|_| Error::Internal(Cause::from("store returned another kind")))
    }

    /// The `k` catalog entries closest in meaning to `text`.
    pub async fn search(
        &self,
        text: &str,
        filter: &SearchFilter,
        k: usize,
    ) -> Result<Vec<SearchHit>> {
        let query = self
            .embed(vec![text.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal(Cause::from("the embedder returned no vector")))?;
        Ok(self.store.search(&query, filter, k).await?)
    }

    /// The `k` catalog entries best matching `text` in a [`SearchMode`]: semantic is
    /// [`Catalog::search`]; lexical ranks by full text alone; hybrid fuses both rankings
    /// ([`Store::search_fused`](crate::store::Store::search_fused)).
    pub async fn search_mode(
        &self,
        text: &str,
        mode: SearchMode,
        filter: &SearchFilter,
        k: usize,
    ) -> Result<Vec<SearchHit>> {
        let embedding = match mode {
            SearchMode::Semantic => return self.search(text, filter, k).await,
            SearchMode::Lexical => None,
            SearchMode::Hybrid => Some(
                self.embed(vec![text.to_owned()])
                    .await?
                    .pop()
                    .ok_or_else(|| {
                        Error::Internal(Cause::from("the embedder returned no vector"))
                    })?,
            ),
        };
        let query = FusedQuery {
            terms: query_terms(text),
            embedding,
        };
        Ok(self.store.search_fused(&query, filter, k).await?)
    }
}

/// The kind's own fields, as JSON, to tell whether a change is one of substance.
fn body_value(record: &Record) -> Value {
    match record {
        Record::Industry(e) => serde_json::to_value(&e.body),
        Record::Skill(e) => serde_json::to_value(&e.body),
        Record::JobRole(e) => serde_json::to_value(&e.body),
        Record::Team(e) => serde_json::to_value(&e.body),
        Record::Agent(e) => serde_json::to_value(&e.body),
        Record::Trial(t) => serde_json::to_value(t),
        Record::Job(j) => serde_json::to_value(j),
        Record::PrecedentSeed(p) => serde_json::to_value(p),
    }
    .unwrap_or(Value::Null)
}
