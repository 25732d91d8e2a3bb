//! [`Entity`] and [`Record`]: a typed catalog entity, and any audited record.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Agent, Base, Body, Industry, Job, JobRole, Kind, Name, PrecedentSeed, Skill, Team, Trial,
};
use crate::Timestamp;
use crate::audit::canonical::{self, EncodeError};
use crate::audit::{AuditEntry, Hash};

/// A catalog entity: the shared [`Base`] and the kind's body, serialized flat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity<K> {
    /// The seven shared sections.
    #[serde(flatten)]
    pub base: Base,
    /// The kind's own fields.
    #[serde(flatten)]
    pub body: K,
}

impl<K: Body> Entity<K> {
    /// A new, uncommitted entity (version 0) with a fresh v7 id.
    pub fn new(body: K, at: Timestamp) -> Self {
        Self {
            base: Base::new(K::KIND, Uuid::now_v7(), at),
            body,
        }
    }

    /// Its id.
    pub fn id(&self) -> Uuid {
        self.base.id
    }

    /// Its name.
    pub fn name(&self) -> &Name {
        self.body.name()
    }
}

/// Any record the audit chain covers: the five catalog kinds, trials, jobs and precedent seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Record {
    /// An industry.
    Industry(Entity<Industry>),
    /// A skill.
    Skill(Entity<Skill>),
    /// A job role.
    JobRole(Entity<JobRole>),
    /// A team.
    Team(Entity<Team>),
    /// An agent.
    Agent(Entity<Agent>),
    /// A trial.
    Trial(Trial),
    /// A job.
    Job(Job),
    /// A precedent seed.
    PrecedentSeed(PrecedentSeed),
}

/// Runs `$body` with `$e` bound to the base of whichever catalog kind `$r` holds, or evaluates
/// `$other` for trials and jobs.
macro_rules! with_base {
    ($r:expr, $e:ident => $body:expr, $other:expr) => {
        match $r {
            Record::Industry($e) => $body,
            Record::Skill($e) => $body,
            Record::JobRole($e) => $body,
            Record::Team($e) => $body,
            Record::Agent($e) => $body,
            _ => $other,
        }
    };
}

impl Record {
    /// The industries the agents among `records` belong to, sorted and each once: what a listing
    /// resolves to industry names in one store call.
    pub fn agent_industry_ids<R: std::borrow::Borrow<Record>>(records: &[R]) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = records
            .iter()
            .filter_map(|r| match r.borrow() {
                Record::Agent(agent) => Some(agent.body.industry_id),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// What it is.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Industry(_) => Kind::Industry,
            Record::Skill(_) => Kind::Skill,
            Record::JobRole(_) => Kind::JobRole,
            Record::Team(_) => Kind::Team,
            Record::Agent(_) => Kind::Agent,
            Record::Trial(_) => Kind::Trial,
            Record::Job(_) => Kind::Job,
            Record::PrecedentSeed(_) => Kind::PrecedentSeed,
        }
    }

    /// Its id.
    pub fn id(&self) -> Uuid {
        match self {
            Record::Trial(t) => t.id,
            Record::Job(j) => j.id,
            Record::PrecedentSeed(p) => p.id,
            r => with_base!(r, e => e.base.id, Uuid::nil()),
        }
    }

    /// Its version (0 before the first commit).
    pub fn version(&self) -> u64 {
        match self {
            Record::Trial(t) => t.version,
            Record::Job(j) => j.version,
            Record::PrecedentSeed(p) => p.version,
            r => with_base!(r, e => e.base.version, 0),
        }
    }

    /// The hash of its latest audit entry.
    pub fn version_hash(&self) -> Option<Hash> {
        match self {
            Record::Trial(t) => t.version_hash,
            Record::Job(j) => j.version_hash,
            Record::PrecedentSeed(p) => p.version_hash,
            r => with_base!(r, e => e.base.version_hash, None),
        }
    }

    /// When it was created.
    pub fn created_at(&self) -> Timestamp {
        match self {
            Record::Trial(t) => t.created_at,
            Record::Job(j) => j.created_at,
            Record::PrecedentSeed(p) => p.created_at,
            r => with_base!(r, e => e.base.created_at, Timestamp::now()),
        }
    }

    /// The catalog base, for the five catalog kinds.
    pub fn base(&self) -> Option<&Base> {
        with_base!(self, e => Some(&e.base), None)
    }

    /// The catalog base, mutably.
    pub fn base_mut(&mut self) -> Option<&mut Base> {
        with_base!(self, e => Some(&mut e.base), None)
    }

    /// The unique name, for the five catalog kinds.
    pub fn name(&self) -> Option<&Name> {
        match self {
            Record::Industry(e) => Some(&e.body.name),
            Record::Skill(e) => Some(&e.body.name),
            Record::JobRole(e) => Some(&e.body.name),
            Record::Team(e) => Some(&e.body.name),
            Record::Agent(e) => Some(&e.body.name),
            _ => None,
        }
    }

    /// Sets the version the next commit gives it.
    pub fn set_version(&mut self, version: u64) {
        match self {
            Record::Trial(t) => t.version = version,
            Record::Job(j) => j.version = version,
            Record::PrecedentSeed(p) => p.version = version,
            r => with_base!(r, e => e.base.version = version, ()),
        }
    }

    /// Sets the time of the change.
    pub fn set_updated_at(&mut self, at: Timestamp) {
        match self {
            Record::Trial(t) => t.updated_at = at,
            Record::Job(j) => j.updated_at = at,
            Record::PrecedentSeed(p) => p.updated_at = at,
            r => with_base!(r, e => e.base.updated_at = at, ()),
        }
    }

    /// When it last changed.
    pub fn updated_at(&self) -> Timestamp {
        match self {
            Record::Trial(t) => t.updated_at,
            Record::Job(j) => j.updated_at,
            Record::PrecedentSeed(p) => p.updated_at,
            r => with_base!(r, e => e.base.updated_at, Timestamp::now()),
        }
    }

    /// The JSON value of the record as the audit chain sees it: everything but the fields
    /// derived from the chain itself (`version_hash`, and for catalog kinds the history and
    /// the list of hashes).
    pub fn audit_value(&self) -> Result<Value, EncodeError> {
        let mut value =
            serde_json::to_value(self).map_err(|e| EncodeError::Serialize(e.to_string()))?;
        if let Value::Object(map) = &mut value {
            for key in super::Base::AUDIT_DERIVED {
                map.remove(*key);
            }
        }
        Ok(value)
    }

    /// The canonical encoding (v1) of [`Record::audit_value`]: the audit entry's payload.
    pub fn audit_payload(&self) -> Result<String, EncodeError> {
        canonical::canonical_value(&self.audit_value()?)
    }

    /// Records a committed audit entry on the record (version, version hash, history).
    pub fn apply_entry(&mut self, entry: &AuditEntry) {
        match self {
            Record::Trial(t) => {
                t.version = entry.entity_version;
                t.version_hash = Some(entry.hash);
            }
            Record::Job(j) => {
                j.version = entry.entity_version;
                j.version_hash = Some(entry.hash);
            }
            Record::PrecedentSeed(p) => {
                p.version = entry.entity_version;
                p.version_hash = Some(entry.hash);
            }
            r => with_base!(r, e => e.base.apply_entry(entry), ()),
        }
    }

    /// Reads a record of a known kind from its JSON form (as stored, or as in an audit payload).
    pub fn from_json(kind: Kind, value: Value) -> Result<Record, serde_json::Error> {
        Self::deserialize_as(kind, value)
    }

    /// [`Record::from_json`] from the JSON text itself: one pass over the text, without the
    /// intermediate [`Value`] tree (the read model folds every entry's payload this way).
    pub fn from_json_str(kind: Kind, text: &str) -> Result<Record, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let record = Self::deserialize_as(kind, &mut de)?;
        de.end()?;
        Ok(record)
    }

    fn deserialize_as<'de, D: serde::Deserializer<'de>>(
        kind: Kind,
        de: D,
    ) -> Result<Record, D::Error> {
        use serde::Deserialize;
        Ok(match kind {
            Kind::Industry => Record::Industry(Deserialize::deserialize(de)?),
            Kind::Skill => Record::Skill(Deserialize::deserialize(de)?),
            Kind::JobRole => Record::JobRole(Deserialize::deserialize(de)?),
            Kind::Team => Record::Team(Deserialize::deserialize(de)?),
            Kind::Agent => Record::Agent(Deserialize::deserialize(de)?),
            Kind::Trial => Record::Trial(Deserialize::deserialize(de)?),
            Kind::Job => Record::Job(Deserialize::deserialize(de)?),
            Kind::PrecedentSeed => Record::PrecedentSeed(Deserialize::deserialize(de)?),
        })
    }
}

macro_rules! record_from {
    ($t:ty, $v:ident) => {
        impl From<$t> for Record {
            fn from(x: $t) -> Record {
                Record::$v(x)
            }
        }
        impl TryFrom<Record> for $t {
            type Error = Record;
            fn try_from(r: Record) -> Result<$t, Record> {
                match r {
                    Record::$v(x) => Ok(x),
                    other => Err(other),
                }
            }
        }
    };
}
record_from!(Entity<Industry>, Industry);
record_from!(Entity<Skill>, Skill);
record_from!(Entity<JobRole>, JobRole);
record_from!(Entity<Team>, Team);
record_from!(Entity<Agent>, Agent);
record_from!(Trial, Trial);
record_from!(Job, Job);
record_from!(PrecedentSeed, PrecedentSeed);
