//! Parsing input once, at the edge: raw request bodies become the model's typed values, or the
//! complete list of what is wrong with them (every violation, with its rule id).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{
    Agent, Category, Description, Email, Industry, Kind, Name, Phone, Record, Seniority, Skill,
    Team, TextError,
};
use crate::validate::{Violation, rules};

/// A reference to another entity: its id, or (for convenience) its exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    /// By id.
    Id(Uuid),
    /// By name (case-insensitive); the catalog resolves it.
    Name(String),
}

impl Ref {
    fn parse(raw: &str) -> Ref {
        match Uuid::parse_str(raw.trim()) {
            Ok(id) => Ref::Id(id),
            Err(_) => Ref::Name(raw.trim().to_owned()),
        }
    }
}

/// Collects violations while parsing one input.
#[derive(Debug, Default)]
struct Check(Vec<Violation>);

impl Check {
    fn push(&mut self, rule: &str, field: &str, message: impl Into<String>) {
        self.0.push(Violation::new(rule, field, message));
    }

    fn name(&mut self, rule: &str, field: &str, raw: Option<&str>) -> Option<Name> {
        match raw.map(Name::parse) {
            None => {
                self.push(rule, field, format!("{field} is required"));
                None
            }
            Some(Ok(n)) => Some(n),
            Some(Err(TextError::Blank)) => {
                self.push(rule, field, format!("{field} must not be blank"));
                None
            }
            Some(Err(e)) => {
                self.push(rules::INPUT, field, format!("{field} {e}"));
                None
            }
        }
    }

    fn description(
        &mut self,
        required_rule: Option<&str>,
        raw: Option<&str>,
    ) -> Option<Description> {
        match Description::parse(raw.unwrap_or("")) {
            Ok(d) if d.is_blank() => match required_rule {
                Some(rule) => {
                    self.push(rule, "description", "description must not be blank");
                    None
                }
                None => Some(d),
            },
            Ok(d) => Some(d),
            Err(e) => {
                self.push(rules::INPUT, "description", format!("description {e}"));
                None
            }
        }
    }

    fn id(&mut self, rule: &str, field: &str, raw: Option<&str>) -> Option<Uuid> {
        match raw.map(|s| Uuid::parse_str(s.trim())) {
            None => {
                self.push(rule, field, format!("{field} is required"));
                None
            }
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => {
                self.push(rules::INPUT, field, format!("{field} must be a UUID"));
                None
            }
        }
    }

    fn optional_id(&mut self, field: &str, raw: Option<&str>) -> Option<Option<Uuid>> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(None),
            Some(s) => match Uuid::parse_str(s) {
                Ok(id) => Some(Some(id)),
                Err(_) => {
                    self.push(rules::INPUT, field, format!("{field} must be a UUID"));
                    None
                }
            },
        }
    }

    fn done<T>(self, value: Option<T>) -> Result<T, Vec<Violation>> {
        match value {
            Some(v) if self.0.is_empty() => Ok(v),
            _ => Err(self.0),
        }
    }
}

/// Metadata any catalog entity may carry (the `metadata` and `relationships` sections).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetaInput {
    /// An id in another system.
    pub external_id: Option<String>,
    /// Free tags.
    pub tags: Option<Vec<String>>,
    /// Free attributes (no floats: they are audited).
    pub custom_attributes: Option<Map<String, Value>>,
    /// Governance notes.
    pub governance_notes: Option<String>,
    /// The governance agent responsible.
    pub governance_agent_id: Option<String>,
    /// A parent entity.
    pub parent_id: Option<String>,
}

/// Parsed metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// An id in another system.
    pub external_id: Option<String>,
    /// Free tags (trimmed, non-blank).
    pub tags: Vec<String>,
    /// Free attributes.
    pub custom_attributes: Map<String, Value>,
    /// Governance notes.
    pub governance_notes: Option<String>,
    /// The governance agent responsible.
    pub governance_agent_id: Option<String>,
    /// A parent entity.
    pub parent_id: Option<Uuid>,
}

/// True when a JSON value holds a non-integer number anywhere (audited JSON may not).
pub(crate) fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

impl MetaInput {
    fn parse(&self, check: &mut Check) -> Meta {
        let short =
            |check: &mut Check, field: &str, v: &Option<String>, max: usize| -> Option<String> {
                let t = v.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
                if t.chars().count() > max || t.chars().any(char::is_control) {
                    check.push(
                        rules::INPUT,
                        field,
                        format!(
                            "{field} must be at most {max} characters without control characters"
                        ),
                    );
                    return None;
                }
                Some(t.to_owned())
            };
        let mut tags = Vec::new();
        for tag in self.tags.iter().flatten() {
            match Name::parse(tag) {
                Ok(t) if t.as_str().chars().count() <= 64 => tags.push(t.as_str().to_owned()),
                _ => check.push(rules::INPUT, "tags", "each tag must be 1 to 64 characters"),
            }
        }
        if tags.len() > 64 {
            check.push(rules::INPUT, "tags", "at most 64 tags");
        }
        let attrs = self.custom_attributes.clone().unwrap_or_default();
        if attrs.values().any(has_float) {
            check.push(rules::INPUT, "custom_attributes", "numbers in custom_attributes must be integers (they are audited; write decimals as strings)");
        }
        if serde_json::to_string(&attrs).map_or(0, |s| s.len()) > 16 * 1024 {
            check.push(
                rules::INPUT,
                "custom_attributes",
                "custom_attributes must be at most 16 KiB",
            );
        }
        let parent_id = check
            .optional_id("parent_id", self.parent_id.as_deref())
            .flatten();
        Meta {
            external_id: short(check, "external_id", &self.external_id, 255),
            tags,
            custom_attributes: attrs,
            governance_notes: short(check, "governance_notes", &self.governance_notes, 4000),
            governance_agent_id: short(
                check,
                "governance_agent_id",
                &self.governance_agent_id,
                255,
            ),
            parent_id,
        }
    }
}

/// A new industry, as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndustryInput {
    /// Its name.
    pub name: Option<String>,
    /// What it covers.
    pub description: Option<String>,
    /// Metadata.
    #[serde(flatten)]
    pub meta: MetaInput,
}

/// A new skill, as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SkillInput {
    /// Its name.
    pub name: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// `technical`, `soft_skill`, `domain_expertise` or `certification`.
    pub category: Option<String>,
    /// Metadata.
    #[serde(flatten)]
    pub meta: MetaInput,
}

/// A new job role, as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobRoleInput {
    /// Its name.
    pub name: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// The skills it requires: ids, or exact skill names.
    pub required_skills: Option<Vec<String>>,
    /// `junior`, `mid` or `senior`.
    pub seniority_level: Option<String>,
    /// Its industry.
    pub industry_id: Option<String>,
    /// Metadata.
    #[serde(flatten)]
    pub meta: MetaInput,
}

/// A new team, as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TeamInput {
    /// Its name.
    pub name: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// The job role its members share.
    pub job_role_id: Option<String>,
    /// Its industry.
    pub industry_id: Option<String>,
    /// Metadata.
    #[serde(flatten)]
    pub meta: MetaInput,
}

/// A new agent, as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentInput {
    /// Its name.
    pub name: Option<String>,
    /// What it does for a customer.
    pub description: Option<String>,
    /// Its skill.
    pub skill_id: Option<String>,
    /// Its job role.
    pub job_role_id: Option<String>,
    /// Its team.
    pub team_id: Option<String>,
    /// Its industry (fixed once set).
    pub industry_id: Option<String>,
    /// Metadata.
    #[serde(flatten)]
    pub meta: MetaInput,
}

/// A parsed job role whose skills may still be names to resolve.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedJobRole {
    /// The role, with the skills given by id (names are resolved by the catalog).
    pub name: Name,
    /// Its description.
    pub description: Description,
    /// Required skills, by id or name.
    pub required_skills: Vec<Ref>,
    /// Seniority.
    pub seniority_level: Seniority,
    /// Industry.
    pub industry_id: Option<Uuid>,
}

impl IndustryInput {
    /// Parses the input.
    pub fn parse(&self) -> Result<(Industry, Meta), Vec<Violation>> {
        let mut c = Check::default();
        let name = c.name(rules::L1_INDUSTRY_01, "name", self.name.as_deref());
        let description = c.description(None, self.description.as_deref());
        let meta = self.meta.parse(&mut c);
        let value = name
            .zip(description)
            .map(|(name, description)| (Industry { name, description }, meta));
        c.done(value)
    }
}

impl SkillInput {
    /// Parses the input.
    pub fn parse(&self) -> Result<(Skill, Meta), Vec<Violation>> {
        let mut c = Check::default();
        let name = c.name(rules::L1_SKILL_01, "name", self.name.as_deref());
        let description = c.description(Some(rules::L1_SKILL_02), self.description.as_deref());
        let category = match self
            .category
            .as_deref()
            .map(|s| s.trim().parse::<Category>())
        {
            Some(Ok(cat)) => Some(cat),
            Some(Err(e)) => {
                c.push(rules::L1_SKILL_03, "category", e.to_string());
                None
            }
            None => {
                c.push(rules::L1_SKILL_03, "category", "category is required");
                None
            }
        };
        let meta = self.meta.parse(&mut c);
        let value = match (name, description, category) {
            (Some(name), Some(description), Some(category)) => Some((
                Skill {
                    name,
                    description,
                    category,
                },
                meta,
            )),
            _ => None,
        };
        c.done(value)
    }
}

impl JobRoleInput {
    /// Parses the input; required skills may be ids or names.
    pub fn parse(&self) -> Result<(ParsedJobRole, Meta), Vec<Violation>> {
        let mut c = Check::default();
        let name = c.name(rules::L1_JOBROLE_01, "name", self.name.as_deref());
        let description = c.description(None, self.description.as_deref());
        let skills: Vec<Ref> = self
            .required_skills
            .iter()
            .flatten()
            .map(|s| Ref::parse(s))
            .collect();
        if skills.is_empty() {
            c.push(
                rules::L1_JOBROLE_02,
                "required_skills",
                "a job role requires at least one skill",
            );
        }
        if skills.len() > 100 {
            c.push(
                rules::INPUT,
                "required_skills",
                "at most 100 required skills",
            );
        }
        let seniority = match self
            .seniority_level
            .as_deref()
            .map(|s| s.trim().parse::<Seniority>())
        {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                c.push(rules::L1_JOBROLE_04, "seniority_level", e.to_string());
                None
            }
            None => {
                c.push(
                    rules::L1_JOBROLE_04,
                    "seniority_level",
                    "seniority_level is required",
                );
                None
            }
        };
        let industry_id = c.optional_id("industry_id", self.industry_id.as_deref());
        let meta = self.meta.parse(&mut c);
        let value = match (name, description, seniority, industry_id) {
            (Some(name), Some(description), Some(seniority_level), Some(industry_id)) => Some((
                ParsedJobRole {
                    name,
                    description,
                    required_skills: skills,
                    seniority_level,
                    industry_id,
                },
                meta,
            )),
            _ => None,
        };
        c.done(value)
    }
}

impl TeamInput {
    /// Parses the input.
    pub fn parse(&self) -> Result<(Team, Meta), Vec<Violation>> {
        let mut c = Check::default();
        let name = c.name(rules::L1_TEAM_01, "name", self.name.as_deref());
        let description = c.description(None, self.description.as_deref());
        let job_role_id = c.id(
            rules::L1_TEAM_02,
            "job_role_id",
            self.job_role_id.as_deref(),
        );
        let industry_id = c.optional_id("industry_id", self.industry_id.as_deref());
        let meta = self.meta.parse(&mut c);
        let value = match (name, description, job_role_id, industry_id) {
            (Some(name), Some(description), Some(job_role_id), Some(industry_id)) => Some((
                Team {
                    name,
                    description,
                    job_role_id,
                    industry_id,
                },
                meta,
            )),
            _ => None,
        };
        c.done(value)
    }
}

impl AgentInput {
    /// Parses the input.
    pub fn parse(&self) -> Result<(Agent, Meta), Vec<Violation>> {
        let mut c = Check::default();
        let name = c.name(rules::L1_AGENT_04, "name", self.name.as_deref());
        let description = c.description(None, self.description.as_deref());
        let skill_id = c.id(rules::L1_AGENT_01, "skill_id", self.skill_id.as_deref());
        let job_role_id = c.id(
            rules::L1_AGENT_02,
            "job_role_id",
            self.job_role_id.as_deref(),
        );
        let industry_id = c.id(
            rules::L1_AGENT_03,
            "industry_id",
            self.industry_id.as_deref(),
        );
        let team_id = c.optional_id("team_id", self.team_id.as_deref());
        let meta = self.meta.parse(&mut c);
        let value = match (
            name,
            description,
            skill_id,
            job_role_id,
            industry_id,
            team_id,
        ) {
            (
                Some(name),
                Some(description),
                Some(skill_id),
                Some(job_role_id),
                Some(industry_id),
                Some(team_id),
            ) => Some((
                Agent {
                    name,
                    description,
                    skill_id,
                    job_role_id,
                    team_id,
                    industry_id,
                },
                meta,
            )),
            _ => None,
        };
        c.done(value)
    }
}

/// A trial booking, as sent. `customer_company` and `customer_phone` are accepted as aliases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrialInput {
    /// The agent to try.
    pub agent_id: Option<String>,
    /// The customer's name.
    pub customer_name: Option<String>,
    /// The customer's e-mail.
    pub customer_email: Option<String>,
    /// The customer's company.
    #[serde(alias = "customer_company")]
    pub company: Option<String>,
    /// The customer's phone.
    #[serde(alias = "customer_phone")]
    pub phone: Option<String>,
}

/// A parsed trial booking.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTrial {
    /// The agent.
    pub agent_id: Uuid,
    /// The customer's name.
    pub customer_name: Name,
    /// The customer's e-mail.
    pub customer_email: Email,
    /// The company.
    pub company: Option<Name>,
    /// The phone.
    pub phone: Option<Phone>,
}

impl TrialInput {
    /// Parses the booking.
    pub fn parse(&self) -> Result<NewTrial, Vec<Violation>> {
        let mut c = Check::default();
        let agent_id = c.id(rules::INPUT, "agent_id", self.agent_id.as_deref());
        let customer_name = c.name(rules::INPUT, "customer_name", self.customer_name.as_deref());
        let customer_email = match self.customer_email.as_deref().map(Email::parse) {
            Some(Ok(e)) => Some(e),
            Some(Err(e)) => {
                c.push(
                    rules::INPUT,
                    "customer_email",
                    format!("customer_email {e}"),
                );
                None
            }
            None => {
                c.push(rules::INPUT, "customer_email", "customer_email is required");
                None
            }
        };
        let company = match self
            .company
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Some(None),
            Some(s) => match Name::parse(s) {
                Ok(n) => Some(Some(n)),
                Err(e) => {
                    c.push(rules::INPUT, "company", format!("company {e}"));
                    None
                }
            },
        };
        let phone = match self
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Some(None),
            Some(s) => match Phone::parse(s) {
                Ok(p) => Some(Some(p)),
                Err(e) => {
                    c.push(rules::INPUT, "phone", format!("phone {e}"));
                    None
                }
            },
        };
        let value = match (agent_id, customer_name, customer_email, company, phone) {
            (
                Some(agent_id),
                Some(customer_name),
                Some(customer_email),
                Some(company),
                Some(phone),
            ) => Some(NewTrial {
                agent_id,
                customer_name,
                customer_email,
                company,
                phone,
            }),
            _ => None,
        };
        c.done(value)
    }
}

/// A new job, as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobInput {
    /// The agent to do it.
    pub agent_id: Option<String>,
    /// The trial it belongs to.
    pub trial_id: Option<String>,
    /// A short title.
    pub title: Option<String>,
    /// The input (no floats).
    pub input: Option<Value>,
}

/// A parsed job.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The agent.
    pub agent_id: Uuid,
    /// The trial.
    pub trial_id: Option<Uuid>,
    /// The title.
    pub title: Name,
    /// The input.
    pub input: Value,
}

impl JobInput {
    /// Parses the job.
    pub fn parse(&self) -> Result<NewJob, Vec<Violation>> {
        let mut c = Check::default();
        let agent_id = c.id(rules::INPUT, "agent_id", self.agent_id.as_deref());
        let trial_id = c.optional_id("trial_id", self.trial_id.as_deref());
        let title = c.name(rules::INPUT, "title", self.title.as_deref());
        let input = self.input.clone().unwrap_or(Value::Object(Map::new()));
        if has_float(&input) {
            c.push(
                rules::INPUT,
                "input",
                "numbers in input must be integers (it is audited; write decimals as strings)",
            );
        }
        let value = match (agent_id, trial_id, title) {
            (Some(agent_id), Some(trial_id), Some(title)) => Some(NewJob {
                agent_id,
                trial_id,
                title,
                input,
            }),
            _ => None,
        };
        c.done(value)
    }
}

/// The fields a PATCH may change, per kind (besides the metadata fields, which every kind has).
pub fn patchable_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Industry => &["name", "description"],
        Kind::Skill => &["name", "description", "category"],
        Kind::JobRole => &[
            "name",
            "description",
            "required_skills",
            "seniority_level",
            "industry_id",
        ],
        Kind::Team => &["name", "description", "job_role_id", "industry_id"],
        Kind::Agent => &[
            "name",
            "description",
            "skill_id",
            "job_role_id",
            "team_id",
            "industry_id",
        ],
        Kind::Trial | Kind::Job | Kind::PrecedentSeed => &[],
    }
}

const META_FIELDS: &[&str] = &[
    "external_id",
    "tags",
    "custom_attributes",
    "governance_notes",
    "governance_agent_id",
    "parent_id",
];

/// Turns a catalog record into the input that would create it, overlays a JSON merge patch, and
/// returns the input to parse again. Fields that PATCH cannot change are violations.
pub fn merged_input(current: &Record, patch: &Map<String, Value>) -> Result<Value, Vec<Violation>> {
    let kind = current.kind();
    let allowed = patchable_fields(kind);
    let mut violations = Vec::new();
    for key in patch.keys() {
        if !allowed.contains(&key.as_str()) && !META_FIELDS.contains(&key.as_str()) {
            violations.push(Violation::new(
                rules::INPUT,
                key,
                format!("{key} cannot be changed with PATCH"),
            ));
        }
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    let mut value = serde_json::to_value(current)
        .map_err(|e| vec![Violation::new(rules::INPUT, "", e.to_string())])?;
    let Value::Object(map) = &mut value else {
        return Err(vec![Violation::new(rules::INPUT, "", "not an object")]);
    };
    map.retain(|k, _| allowed.contains(&k.as_str()) || META_FIELDS.contains(&k.as_str()));
    // Ids become strings, as an input carries them.
    for (k, v) in patch {
        map.insert(k.clone(), v.clone());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules_of(r: Result<impl std::fmt::Debug, Vec<Violation>>) -> Vec<String> {
        r.err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let input = SkillInput {
            name: Some(" ".into()),
            description: None,
            category: Some("magic".into()),
            ..Default::default()
        };
        assert_eq!(
            rules_of(input.parse()),
            ["L1-SKILL-01", "L1-SKILL-02", "L1-SKILL-03"]
        );
    }

    #[test]
    fn job_role_rules_from_input() {
        let input = JobRoleInput {
            name: Some("".into()),
            seniority_level: Some("guru".into()),
            ..Default::default()
        };
        assert_eq!(
            rules_of(input.parse()),
            ["L1-JOBROLE-01", "L1-JOBROLE-02", "L1-JOBROLE-04"]
        );
    }

    #[test]
    fn trial_aliases_and_bad_fields() {
        let ok: TrialInput = serde_json::from_value(serde_json::json!({
            "agent_id": Uuid::nil().to_string(), "customer_name": "Ana", "customer_email": "ANA@example.com",
            "customer_company": "Acme", "customer_phone": "+1 555 010 2000"
        }))
        .unwrap();
        let t = ok.parse().unwrap();
        assert_eq!(t.company.unwrap().as_str(), "Acme");
        assert_eq!(t.customer_email.as_str(), "ana@example.com");
        let bad = TrialInput {
            agent_id: Some("x".into()),
            customer_email: Some("nope".into()),
            ..Default::default()
        };
        let fields: Vec<String> = bad
            .parse()
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["agent_id", "customer_name", "customer_email"]);
    }

    #[test]
    fn floats_in_audited_json_are_refused() {
        let job = JobInput {
            agent_id: Some(Uuid::nil().to_string()),
            title: Some("t".into()),
            input: Some(serde_json::json!({"x": 1.5})),
            ..Default::default()
        };
        assert_eq!(rules_of(job.parse()), ["INPUT"]);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(name in proptest::option::of("\\PC{0,300}"), cat in proptest::option::of("\\PC{0,20}"), desc in proptest::option::of("\\PC{0,50}")) {
            let _ = SkillInput { name: name.clone(), description: desc.clone(), category: cat.clone(), ..Default::default() }.parse();
            let _ = AgentInput { name, description: desc, skill_id: cat, ..Default::default() }.parse();
        }
    }
}
