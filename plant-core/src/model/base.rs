//! The shared base of every catalog entity: seven sections, serialized flat.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Alignment, CertificationState, Kind, Status};
use crate::Timestamp;
use crate::audit::{AuditEntry, Hash};
use crate::validate::Violation;

/// One line of an entity's amendment history: a summary of one of its audit entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Amendment {
    /// The entry's place in the global chain.
    pub seq: u64,
    /// The entity's version after the change.
    pub version: u64,
    /// What happened (`create`, `update`, `certify`, …).
    pub action: String,
    /// Who did it.
    pub actor: String,
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// The entry's hash.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub hash: Hash,
}

impl Amendment {
    /// The summary of an audit entry.
    pub fn of(entry: &AuditEntry) -> Self {
        Self {
            seq: entry.seq,
            version: entry.entity_version,
            action: entry.action.clone(),
            actor: entry.actor.clone(),
            at: entry.at,
            hash: entry.hash,
        }
    }
}

/// The certification record of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Certification {
    /// Pending, certified or rejected.
    pub status: CertificationState,
    /// When it was last certified or rejected.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub certified_at: Option<Timestamp>,
    /// Who certified or rejected it.
    #[serde(default)]
    pub certified_by: Option<String>,
    /// The violations that rejected it (empty when certified).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub violations: Vec<Violation>,
    /// The rule set it was checked against.
    #[serde(default)]
    pub rule_set: Option<String>,
    /// The seed ids of the precedents applied when it was certified or rejected. Left out of
    /// the encoding when empty, so that records certified before precedents existed keep the
    /// audited payload they were hashed with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub precedents: Vec<String>,
}

impl Default for Certification {
    fn default() -> Self {
        Self {
            status: CertificationState::Pending,
            certified_at: None,
            certified_by: None,
            violations: Vec::new(),
            rule_set: None,
            precedents: Vec::new(),
        }
    }
}

/// The seven sections shared by every catalog entity. Serialized flat, with the wire names of
/// ARCHITECTURE.md.
///
/// `version_hash`, `amendment_history` and `hash_chain_sha256` are derived from the audit chain
/// (the store sets them when it commits the entity's entry) and are therefore left out of the
/// audited payload; see [`Base::AUDIT_DERIVED`].
///
/// Every field, and the operation that writes it (all through `Store::commit`, audited; the
/// conformance story in `store::conformance` covers each on both stores):
///
/// | field | written by |
/// |---|---|
/// | `id`, `entity_type`, `created_at` | create (`Catalog::create_*`, `create_json`, the seed loader); never change |
/// | `external_id`, `tags`, `custom_attributes`, `governance_notes`, `governance_agent_id` | create and evolve (PATCH), from the input's metadata; the governance agent defaults to the catalog's |
/// | `updated_at` | every write of the entity: evolve, certify, archive, delete, revalidate, assign team, a child added or removed |
/// | `deleted_at` | `Catalog::delete` (an archived entity → `deleted`), with the same instant as `updated_at` |
/// | `status` | create (`active`), `Catalog::archive` (`archived`), `Catalog::delete` (`deleted`, final) |
/// | `version`, `version_hash`, `amendment_history`, `hash_chain_sha256` | the store, on every commit, from the entity's new audit entry ([`Base::apply_entry`]) |
/// | `l0_compliance_status` | every catalog write: create and evolve record the L0 rules for the version committed (L0-02…05 hold by construction of the commit, L0-01 is checked); certify and revalidate record the result of the full L0 check |
/// | `amendment_alignment` | create (`aligned`); certify (`aligned` when certified); evolve of a certified entity whose substance changed (`requires_review`); revalidate: `drifted` when the entity only fails because a prerequisite it was certified with is no longer certified, `requires_review` when it breaks a rule itself |
/// | `certification` | create (`pending_certification`); certify (certified or rejected, when, by whom, violations, rule set, precedents applied); evolve of a certified entity whose substance changed and revalidate (back to `pending_certification`) |
/// | `append_only`, `tamper_proof` | create; always true (the audit table refuses UPDATE, DELETE and TRUNCATE) |
/// | `parent_id` | create and evolve, from the input |
/// | `child_ids` | the same commit that sets or changes a child's `parent_id`: an audited `add_child` on the new parent, `remove_child` on the old one |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Base {
    // identity
    /// The entity's id.
    pub id: Uuid,
    /// Its kind.
    pub entity_type: Kind,
    /// An id in another system, unique when set.
    #[serde(default)]
    pub external_id: Option<String>,
    // lifecycle
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// When it was deleted, if it was.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub deleted_at: Option<Timestamp>,
    /// Active, archived or deleted.
    pub status: Status,
    // versioning
    /// 1 on creation, one more on every change.
    pub version: u64,
    /// The hash of this entity's latest audit entry.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub version_hash: Option<Hash>,
    /// Summaries of its audit entries, oldest first.
    #[serde(default)]
    pub amendment_history: Vec<Amendment>,
    // constitutional
    /// The L0 rules and whether each held at the last certification.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub l0_compliance_status: BTreeMap<String, bool>,
    /// Aligned, drifted, or requires review.
    pub amendment_alignment: Alignment,
    /// The certification record.
    #[serde(default)]
    pub certification: Certification,
    // audit
    /// Always true: entries are only ever appended.
    pub append_only: bool,
    /// Always true: the chain makes tampering evident.
    pub tamper_proof: bool,
    /// The hashes of this entity's audit entries, oldest first.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub hash_chain_sha256: Vec<Hash>,
    // metadata
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free attributes (a JSON object; integers, strings, booleans, arrays, objects — no floats).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_attributes: Map<String, Value>,
    /// Notes from governance.
    #[serde(default)]
    pub governance_notes: Option<String>,
    // relationships
    /// A parent entity.
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    /// Child entities.
    #[serde(default)]
    pub child_ids: Vec<Uuid>,
    /// The governance agent responsible for it.
    #[serde(default)]
    pub governance_agent_id: Option<String>,
}

impl Base {
    /// Fields derived from the audit chain, left out of the audited payload.
    pub const AUDIT_DERIVED: &'static [&'static str] =
        &["version_hash", "amendment_history", "hash_chain_sha256"];

    /// A fresh base for a new entity of `kind`, created `at`, not yet committed (version 0).
    pub fn new(kind: Kind, id: Uuid, at: Timestamp) -> Self {
        Self {
            id,
            entity_type: kind,
            external_id: None,
            created_at: at,
            updated_at: at,
            deleted_at: None,
            status: Status::Active,
            version: 0,
            version_hash: None,
            amendment_history: Vec::new(),
            l0_compliance_status: BTreeMap::new(),
            amendment_alignment: Alignment::Aligned,
            certification: Certification::default(),
            append_only: true,
            tamper_proof: true,
            hash_chain_sha256: Vec::new(),
            tags: Vec::new(),
            custom_attributes: Map::new(),
            governance_notes: None,
            parent_id: None,
            child_ids: Vec::new(),
            governance_agent_id: None,
        }
    }

    /// Records a committed audit entry: the version hash, the history and the hash chain.
    pub fn apply_entry(&mut self, entry: &AuditEntry) {
        self.version = entry.entity_version;
        self.version_hash = Some(entry.hash);
        self.amendment_history.push(Amendment::of(entry));
        self.hash_chain_sha256.push(entry.hash);
    }
}
