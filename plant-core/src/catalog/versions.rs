//! Addressable versions and revalidation.
//!
//! Every version of a record is in its audit entries, so any version can be rebuilt exactly as it
//! was, with the seq and hash of the entry that wrote it. Revalidation re-checks every certified
//! entity against the current rule set and sends the ones that no longer pass to review.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Catalog, now};
use crate::Timestamp;
use crate::audit::{AuditEntry, Hash};
use crate::error::{Error, Result};
use crate::model::{Alignment, CertificationState, Kind, Record};
use crate::store::{Change, ListQuery};
use crate::validate::{RULE_SET_VERSION, Violation, validate_for_certification};

/// One version of a record, as its audit entry summarises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version number (1, 2, …).
    pub version: u64,
    /// The entry's place in the chain.
    pub seq: u64,
    /// The entry's hash.
    pub hash: Hash,
    /// The previous entry's hash in the global chain.
    pub prev_hash: Hash,
    /// What happened.
    pub action: String,
    /// Who did it.
    pub actor: String,
    /// When.
    pub at: Timestamp,
}

impl VersionInfo {
    fn of(e: &AuditEntry) -> Self {
        Self {
            version: e.entity_version,
            seq: e.seq,
            hash: e.hash,
            prev_hash: e.prev_hash,
            action: e.action.clone(),
            actor: e.actor.clone(),
            at: e.at,
        }
    }
}

/// A record as it was at one version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionedRecord {
    /// Which version, and the entry that wrote it.
    #[serde(flatten)]
    pub info: VersionInfo,
    /// The record as it was (without the fields derived from later entries).
    pub record: serde_json::Value,
}

/// What a revalidation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RevalidateReport {
    /// The rule set checked against.
    pub rule_set: String,
    /// Certified entities checked.
    pub checked: u64,
    /// Those that still pass.
    pub still_certified: u64,
    /// Those sent to review, with why.
    pub sent_to_review: Vec<(Kind, Uuid, Vec<Violation>)>,
}

impl Catalog {
    /// Every version of a record, oldest first.
    pub async fn versions(&self, kind: Kind, id: Uuid) -> Result<Vec<VersionInfo>> {
        Ok(self
            .history(kind, id)
            .await?
            .iter()
            .map(VersionInfo::of)
            .collect())
    }

    /// A record exactly as it was at version `n`, rebuilt from the entry that wrote it.
    pub async fn version(&self, kind: Kind, id: Uuid, n: u64) -> Result<VersionedRecord> {
        let entries = self.history(kind, id).await?;
        let entry = entries
            .iter()
            .find(|e| e.entity_version == n)
            .ok_or_else(|| Error::NotFound {
                kind,
                id: format!("{id} version {n}"),
            })?;
        let mut value = entry.payload_json().map_err(|e| {
            Error::Internal(format!(
                "audit payload at seq {} is not JSON: {e}",
                entry.seq
            ))
        })?;
        // The payload leaves out what the chain itself derives; put it back as of that version.
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("version_hash".into(), serde_json::json!(entry.hash));
            if kind.is_catalog() {
                let upto: Vec<&AuditEntry> = entries
                    .iter()
                    .take_while(|e| e.entity_version <= n)
                    .collect();
                map.insert(
                    "hash_chain_sha256".into(),
                    serde_json::json!(upto.iter().map(|e| e.hash).collect::<Vec<_>>()),
                );
                let history: Vec<_> = upto
                    .iter()
                    .map(|e| crate::model::Amendment::of(e))
                    .collect();
                map.insert("amendment_history".into(), serde_json::json!(history));
            }
        }
        Ok(VersionedRecord {
            info: VersionInfo::of(entry),
            record: value,
        })
    }

    /// Re-checks every certified entity against the current rule set; those that fail go back
    /// to `pending_certification` with `amendment_alignment: requires_review` (audited, action
    /// `revalidate`), keeping the violations on their certification record.
    pub async fn revalidate(&self, actor: &str) -> Result<RevalidateReport> {
        let mut report = RevalidateReport {
            rule_set: RULE_SET_VERSION.to_owned(),
            ..RevalidateReport::default()
        };
        for kind in Kind::CATALOG {
            let mut query = ListQuery::of(*kind, 500);
            loop {
                let page = self.store.list(&query).await?;
                for record in &page {
                    self.revalidate_one(record, actor, &mut report).await?;
                }
                match page.last() {
                    Some(last) if page.len() as u64 == query.limit => {
                        query.after = Some((last.created_at(), last.id()))
                    }
                    _ => break,
                }
            }
        }
        Ok(report)
    }

    async fn revalidate_one(
        &self,
        record: &Record,
        actor: &str,
        report: &mut RevalidateReport,
    ) -> Result<()> {
        if record
            .base()
            .is_none_or(|b| b.certification.status != CertificationState::Certified)
        {
            return Ok(());
        }
        report.checked += 1;
        let ctx = self.context(record).await?;
        let violations = validate_for_certification(record, &ctx);
        if violations.is_empty() {
            report.still_certified += 1;
            return Ok(());
        }
        let mut next = record.clone();
        if let Some(base) = next.base_mut() {
            base.certification.status = CertificationState::Pending;
            base.certification.violations = violations.clone();
            base.amendment_alignment = Alignment::RequiresReview;
            base.updated_at = now();
        }
        self.commit(Change::update(next, record.version(), "revalidate", actor))
            .await?;
        report
            .sent_to_review
            .push((record.kind(), record.id(), violations));
        Ok(())
    }
}
