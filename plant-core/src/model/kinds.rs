//! The five catalog kinds: the fields each adds to the [`Base`](super::Base).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Category, Description, Kind, Name, Seniority};

/// What a catalog kind's body has in common.
pub trait Body:
    Clone + std::fmt::Debug + Serialize + for<'de> Deserialize<'de> + Send + Sync + 'static
{
    /// The kind.
    const KIND: Kind;
    /// Its unique (case-insensitive) name.
    fn name(&self) -> &Name;
}

/// An industry agents serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Industry {
    /// Its name, unique among industries.
    pub name: Name,
    /// What it covers.
    #[serde(default)]
    pub description: Description,
}

/// A skill an agent can have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Skill {
    /// Its name, unique among skills.
    pub name: Name,
    /// What it is.
    #[serde(default)]
    pub description: Description,
    /// Its category.
    pub category: Category,
}

/// A job role: the skills it needs and its seniority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRole {
    /// Its name, unique among job roles.
    pub name: Name,
    /// What the role does.
    #[serde(default)]
    pub description: Description,
    /// The skills it requires (at least one), in the order given.
    pub required_skills: Vec<Uuid>,
    /// Its seniority.
    pub seniority_level: Seniority,
    /// The industry it belongs to, if any.
    #[serde(default)]
    pub industry_id: Option<Uuid>,
}

/// A team: agents sharing a job role. Its members are the agents whose `team_id` is its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    /// Its name, unique among teams.
    pub name: Name,
    /// What the team does.
    #[serde(default)]
    pub description: Description,
    /// The job role its members share.
    pub job_role_id: Uuid,
    /// The industry it serves, if any.
    #[serde(default)]
    pub industry_id: Option<Uuid>,
}

/// An agent: a skill, a job role, an industry (fixed once set) and optionally a team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agent {
    /// Its name, unique among agents.
    pub name: Name,
    /// What it does for a customer.
    #[serde(default)]
    pub description: Description,
    /// Its skill.
    pub skill_id: Uuid,
    /// Its job role.
    pub job_role_id: Uuid,
    /// Its team, if it has one.
    #[serde(default)]
    pub team_id: Option<Uuid>,
    /// Its industry; cannot change once set ("industry locking").
    pub industry_id: Uuid,
}

macro_rules! body {
    ($t:ty, $k:expr) => {
        impl Body for $t {
            const KIND: Kind = $k;
            fn name(&self) -> &Name {
                &self.name
            }
        }
    };
}
body!(Industry, Kind::Industry);
body!(Skill, Kind::Skill);
body!(JobRole, Kind::JobRole);
body!(Team, Kind::Team);
body!(Agent, Kind::Agent);
