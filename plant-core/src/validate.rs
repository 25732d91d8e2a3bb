//! Constitutional validation: the L0 rules every entity must meet and the L1 rules of each kind.
//!
//! [`validate`] returns every violation, never just the first. It is a pure function of the
//! record and a [`Context`] the caller fetched beforehand (the entity's own audit entries, and
//! what it references), so it can run anywhere and never panics.
//!
//! Rules that the types already guarantee (a blank name cannot be a [`Name`](crate::model::Name),
//! a category outside the set cannot be a [`Category`](crate::model::Category)) are reported
//! with the same rule id by the input parsers in [`crate::input`], where such a value is first
//! seen.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{AuditEntry, verify_entity_entries};
use crate::model::{Agent, Base, CertificationState, JobRole, Kind, Record, Skill, Status, Team};

/// The version of the rule set below; every certification records it.
pub const RULE_SET_VERSION: &str = "plant-rules-v1";

/// A broken rule: which, where, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Violation {
    /// The rule's id (`L0-01`, `L1-SKILL-02`, …), or `INPUT` for malformed input.
    pub rule: String,
    /// The field concerned (wire name).
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl Violation {
    /// A violation of `rule` on `field`.
    pub fn new(rule: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            rule: rule.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// True for a constitutional (L0 or L1) rule, false for malformed input.
    pub fn is_constitutional(&self) -> bool {
        self.rule.starts_with("L0-") || self.rule.starts_with("L1-")
    }

    /// True for an L0 rule.
    pub fn is_l0(&self) -> bool {
        self.rule.starts_with("L0-")
    }
}

/// The rule ids, with what each demands.
pub mod rules {
    /// Malformed input (not a constitutional rule).
    pub const INPUT: &str = "INPUT";
    /// A governance agent is named.
    pub const L0_01: &str = "L0-01";
    /// The amendment history is tracked: one line per audit entry, matching the chain.
    pub const L0_02: &str = "L0-02";
    /// The entity is append-only and tamper-proof.
    pub const L0_03: &str = "L0-03";
    /// The entity's chain is initialised and verifies, and its latest entry is the entity.
    pub const L0_04: &str = "L0-04";
    /// The version hash is the head of the entity's chain.
    pub const L0_05: &str = "L0-05";
    /// An industry has a name.
    pub const L1_INDUSTRY_01: &str = "L1-INDUSTRY-01";
    /// A skill has a name.
    pub const L1_SKILL_01: &str = "L1-SKILL-01";
    /// A skill has a description.
    pub const L1_SKILL_02: &str = "L1-SKILL-02";
    /// A skill's category is in the set.
    pub const L1_SKILL_03: &str = "L1-SKILL-03";
    /// A job role has a name.
    pub const L1_JOBROLE_01: &str = "L1-JOBROLE-01";
    /// A job role requires at least one skill.
    pub const L1_JOBROLE_02: &str = "L1-JOBROLE-02";
    /// Every required skill exists.
    pub const L1_JOBROLE_03: &str = "L1-JOBROLE-03";
    /// A job role's seniority is in the set.
    pub const L1_JOBROLE_04: &str = "L1-JOBROLE-04";
    /// A job role's industry, when set, exists.
    pub const L1_JOBROLE_05: &str = "L1-JOBROLE-05";
    /// Certification: every required skill is certified.
    pub const L1_JOBROLE_06: &str = "L1-JOBROLE-06";
    /// A team has a name.
    pub const L1_TEAM_01: &str = "L1-TEAM-01";
    /// A team's job role exists.
    pub const L1_TEAM_02: &str = "L1-TEAM-02";
    /// A team's industry, when set, exists.
    pub const L1_TEAM_03: &str = "L1-TEAM-03";
    /// Certification: a team has at least one agent.
    pub const L1_TEAM_04: &str = "L1-TEAM-04";
    /// An agent's skill exists.
    pub const L1_AGENT_01: &str = "L1-AGENT-01";
    /// An agent's job role exists.
    pub const L1_AGENT_02: &str = "L1-AGENT-02";
    /// An agent's industry exists.
    pub const L1_AGENT_03: &str = "L1-AGENT-03";
    /// An agent has a name.
    pub const L1_AGENT_04: &str = "L1-AGENT-04";
    /// An agent's team, when set, exists and shares the agent's job role.
    pub const L1_AGENT_05: &str = "L1-AGENT-05";
    /// Certification: an agent's skill and job role are certified.
    pub const L1_AGENT_06: &str = "L1-AGENT-06";

    /// Every rule with a one-line statement, in order (for reports and documentation).
    pub const ALL: &[(&str, &str)] = &[
        (L0_01, "a governance agent is named"),
        (
            L0_02,
            "the amendment history is tracked and matches the audit chain",
        ),
        (L0_03, "the entity is append-only and tamper-proof"),
        (
            L0_04,
            "the entity's audit chain is initialised and verifies, and its latest entry is the entity",
        ),
        (L0_05, "the version hash is the head of the entity's chain"),
        (L1_INDUSTRY_01, "an industry has a name"),
        (L1_SKILL_01, "a skill has a name"),
        (L1_SKILL_02, "a skill has a description"),
        (
            L1_SKILL_03,
            "a skill's category is technical, soft_skill, domain_expertise or certification",
        ),
        (L1_JOBROLE_01, "a job role has a name"),
        (L1_JOBROLE_02, "a job role requires at least one skill"),
        (L1_JOBROLE_03, "every required skill exists"),
        (
            L1_JOBROLE_04,
            "a job role's seniority is junior, mid or senior",
        ),
        (L1_JOBROLE_05, "a job role's industry, when set, exists"),
        (
            L1_JOBROLE_06,
            "certification: every required skill is certified",
        ),
        (L1_TEAM_01, "a team has a name"),
        (L1_TEAM_02, "a team's job role exists"),
        (L1_TEAM_03, "a team's industry, when set, exists"),
        (L1_TEAM_04, "certification: a team has at least one agent"),
        (L1_AGENT_01, "an agent's skill exists"),
        (L1_AGENT_02, "an agent's job role exists"),
        (L1_AGENT_03, "an agent's industry exists"),
        (L1_AGENT_04, "an agent has a name"),
        (
            L1_AGENT_05,
            "an agent's team, when set, exists and shares the agent's job role",
        ),
        (
            L1_AGENT_06,
            "certification: an agent's skill and job role are certified",
        ),
    ];
}

use rules::*;

/// What validation needs to know about an entity that another one references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefInfo {
    /// Its kind.
    pub kind: Kind,
    /// Its lifecycle status.
    pub status: Status,
    /// Its certification state.
    pub certification: CertificationState,
    /// For a team: its job role.
    pub job_role_id: Option<Uuid>,
}

/// Everything [`validate`] looks at besides the record itself.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The entity's own audit entries, oldest first.
    pub chain: Vec<AuditEntry>,
    /// The entities it references, by id (missing = does not exist).
    pub refs: HashMap<Uuid, RefInfo>,
    /// For a team: how many active agents it has.
    pub team_members: usize,
}

impl Context {
    fn exists(&self, id: &Uuid, kind: Kind) -> bool {
        self.refs
            .get(id)
            .is_some_and(|r| r.kind == kind && r.status != Status::Deleted)
    }

    fn certified(&self, id: &Uuid) -> bool {
        self.refs
            .get(id)
            .is_some_and(|r| r.certification == CertificationState::Certified)
    }
}

/// Checks a catalog record against L0 and its kind's L1 rules. Trials and jobs have no
/// constitutional rules and always pass.
pub fn validate(record: &Record, ctx: &Context) -> Vec<Violation> {
    let mut out = Vec::new();
    if record.kind().is_catalog() {
        l0(record, ctx, &mut out);
    }
    match record {
        Record::Industry(e) => {
            blank(&mut out, L1_INDUSTRY_01, "name", e.body.name.as_str());
        }
        Record::Skill(e) => skill(&e.body, &mut out),
        Record::JobRole(e) => job_role(&e.body, ctx, &mut out),
        Record::Team(e) => team(&e.body, ctx, &mut out),
        Record::Agent(e) => agent(&e.body, ctx, &mut out),
        Record::Trial(_) | Record::Job(_) | Record::PrecedentSeed(_) => {}
    }
    out
}

/// [`validate`] plus what certification demands on top: certified prerequisites and, for a
/// team, at least one agent.
pub fn validate_for_certification(record: &Record, ctx: &Context) -> Vec<Violation> {
    let mut out = validate(record, ctx);
    match record {
        Record::JobRole(e) => {
            for id in &e.body.required_skills {
                if ctx.exists(id, Kind::Skill) && !ctx.certified(id) {
                    out.push(Violation::new(
                        L1_JOBROLE_06,
                        "required_skills",
                        format!("required skill {id} is not certified"),
                    ));
                }
            }
        }
        Record::Team(_) if ctx.team_members == 0 => {
            out.push(Violation::new(
                L1_TEAM_04,
                "agents",
                "a team needs at least one agent to be certified",
            ));
        }
        Record::Agent(e) => {
            for (id, what, field) in [
                (&e.body.skill_id, "skill", "skill_id"),
                (&e.body.job_role_id, "job role", "job_role_id"),
            ] {
                if ctx.refs.contains_key(id) && !ctx.certified(id) {
                    out.push(Violation::new(
                        L1_AGENT_06,
                        field,
                        format!("the agent's {what} {id} is not certified"),
                    ));
                }
            }
        }
        _ => {}
    }
    out
}

/// The L0 compliance map recorded on a certification: each L0 rule and whether it held.
pub fn l0_compliance(violations: &[Violation]) -> BTreeMap<String, bool> {
    [L0_01, L0_02, L0_03, L0_04, L0_05]
        .iter()
        .map(|rule| {
            let key = rule.to_lowercase().replace('-', "_");
            (key, !violations.iter().any(|v| v.rule == *rule))
        })
        .collect()
}

/// The L0 compliance map of a record the catalog is about to commit (create, evolve). L0-02 to
/// L0-05 hold by construction: the store writes the entry, the amendment history, the hash
/// chain and the version hash with the row, in one transaction, or writes nothing. L0-01 (a
/// governance agent is named) depends on the input and is checked.
pub fn l0_on_commit(base: &Base) -> BTreeMap<String, bool> {
    let mut violations = Vec::new();
    if !governance_agent_named(base) {
        violations.push(Violation::new(
            L0_01,
            "governance_agent_id",
            "no governance agent is named",
        ));
    }
    l0_compliance(&violations)
}

fn governance_agent_named(base: &Base) -> bool {
    base.governance_agent_id
        .as_deref()
        .is_some_and(|g| !g.trim().is_empty())
}

fn l0(record: &Record, ctx: &Context, out: &mut Vec<Violation>) {
    let Some(base) = record.base() else { return };
    if !governance_agent_named(base) {
        out.push(Violation::new(
            L0_01,
            "governance_agent_id",
            "no governance agent is named",
        ));
    }
    let history_matches = base.amendment_history.len() == ctx.chain.len()
        && base
            .amendment_history
            .iter()
            .zip(&ctx.chain)
            .all(|(a, e)| a.seq == e.seq && a.version == e.entity_version && a.hash == e.hash);
    if base.amendment_history.is_empty() || !history_matches {
        out.push(Violation::new(
            L0_02,
            "amendment_history",
            format!(
                "the amendment history has {} lines but the audit chain has {} entries for this entity, or they differ",
                base.amendment_history.len(),
                ctx.chain.len()
            ),
        ));
    }
    if !base.append_only || !base.tamper_proof {
        out.push(Violation::new(
            L0_03,
            "append_only",
            "the entity must be append-only and tamper-proof",
        ));
    }
    if let Some(problem) = chain_problem(record, ctx) {
        out.push(Violation::new(L0_04, "hash_chain_sha256", problem))
    }
    let head = ctx.chain.last();
    if head.is_none_or(|h| base.version_hash != Some(h.hash) || base.version != h.entity_version) {
        out.push(Violation::new(
            L0_05,
            "version_hash",
            "the version hash and version are not those of the entity's latest audit entry",
        ));
    }
}

fn chain_problem(record: &Record, ctx: &Context) -> Option<String> {
    let base = record.base()?;
    let Some(last) = ctx.chain.last() else {
        return Some("the entity has no audit entries".into());
    };
    if ctx.chain.iter().any(|e| e.entity_id != base.id) {
        return Some("an entry of another entity is in this entity's chain".into());
    }
    if let Err(b) = verify_entity_entries(&ctx.chain) {
        return Some(format!("the entity's audit entries do not verify: {b:?}"));
    }
    let hashes: Vec<_> = ctx.chain.iter().map(|e| e.hash).collect();
    if base.hash_chain_sha256 != hashes {
        return Some(
            "hash_chain_sha256 differs from the hashes of the entity's audit entries".into(),
        );
    }
    match record.audit_payload() {
        Ok(payload) if payload == last.payload => None,
        Ok(_) => Some(format!(
            "the entity differs from its latest audit entry (seq {})",
            last.seq
        )),
        Err(e) => Some(format!("the entity cannot be encoded: {e}")),
    }
}

fn blank(out: &mut Vec<Violation>, rule: &str, field: &str, text: &str) {
    if text.trim().is_empty() {
        out.push(Violation::new(
            rule,
            field,
            format!("{field} must not be blank"),
        ));
    }
}

fn skill(s: &Skill, out: &mut Vec<Violation>) {
    blank(out, L1_SKILL_01, "name", s.name.as_str());
    blank(out, L1_SKILL_02, "description", s.description.as_str());
}

fn job_role(r: &JobRole, ctx: &Context, out: &mut Vec<Violation>) {
    blank(out, L1_JOBROLE_01, "name", r.name.as_str());
    if r.required_skills.is_empty() {
        out.push(Violation::new(
            L1_JOBROLE_02,
            "required_skills",
            "a job role requires at least one skill",
        ));
    }
    for id in &r.required_skills {
        if !ctx.exists(id, Kind::Skill) {
            out.push(Violation::new(
                L1_JOBROLE_03,
                "required_skills",
                format!("skill {id} does not exist"),
            ));
        }
    }
    if let Some(id) = &r.industry_id
        && !ctx.exists(id, Kind::Industry)
    {
        out.push(Violation::new(
            L1_JOBROLE_05,
            "industry_id",
            format!("industry {id} does not exist"),
        ));
    }
}

fn team(t: &Team, ctx: &Context, out: &mut Vec<Violation>) {
    blank(out, L1_TEAM_01, "name", t.name.as_str());
    if !ctx.exists(&t.job_role_id, Kind::JobRole) {
        out.push(Violation::new(
            L1_TEAM_02,
            "job_role_id",
            format!("job role {} does not exist", t.job_role_id),
        ));
    }
    if let Some(id) = &t.industry_id
        && !ctx.exists(id, Kind::Industry)
    {
        out.push(Violation::new(
            L1_TEAM_03,
            "industry_id",
            format!("industry {id} does not exist"),
        ));
    }
}

fn agent(a: &Agent, ctx: &Context, out: &mut Vec<Violation>) {
    blank(out, L1_AGENT_04, "name", a.name.as_str());
    if !ctx.exists(&a.skill_id, Kind::Skill) {
        out.push(Violation::new(
            L1_AGENT_01,
            "skill_id",
            format!("skill {} does not exist", a.skill_id),
        ));
    }
    if !ctx.exists(&a.job_role_id, Kind::JobRole) {
        out.push(Violation::new(
            L1_AGENT_02,
            "job_role_id",
            format!("job role {} does not exist", a.job_role_id),
        ));
    }
    if !ctx.exists(&a.industry_id, Kind::Industry) {
        out.push(Violation::new(
            L1_AGENT_03,
            "industry_id",
            format!("industry {} does not exist", a.industry_id),
        ));
    }
    if let Some(team) = &a.team_id {
        match ctx.refs.get(team) {
            Some(r) if r.kind == Kind::Team && r.status != Status::Deleted => {
                if r.job_role_id.is_some_and(|role| role != a.job_role_id) {
                    out.push(Violation::new(
                        L1_AGENT_05,
                        "team_id",
                        "the team's job role differs from the agent's",
                    ));
                }
            }
            _ => out.push(Violation::new(
                L1_AGENT_05,
                "team_id",
                format!("team {team} does not exist"),
            )),
        }
    }
}
