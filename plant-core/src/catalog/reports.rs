//! Reports over the catalog and its chain: the constitutional audit, per-entity tampering,
//! whole-chain verification and signed checkpoints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Catalog, now};
use crate::Timestamp;
use crate::audit::{Checkpoint, CheckpointSigner, VerifyReport};
use crate::error::{Cause, Error, Result};
use crate::model::{CertificationState, Kind, Record};
use crate::store::ListQuery;
use crate::validate::{rules, validate};

/// One violation found by the audit, with the entity it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportViolation {
    /// The entity.
    pub entity_id: Uuid,
    /// Its kind.
    pub entity_type: Kind,
    /// Its name.
    pub entity_name: String,
    /// The rule.
    pub rule: String,
    /// The field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// The constitutional audit of the catalog (or one kind of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// Entities checked.
    pub total_entities: u64,
    /// Entities with no violation.
    pub compliant: u64,
    /// `compliant / total_entities`, 1.0 for an empty catalog.
    pub compliance_score: f64,
    /// Violations found.
    pub total_violations: u64,
    /// When the audit ran.
    pub timestamp: Timestamp,
    /// Per L0 rule: how many entities break it.
    pub l0_breakdown: BTreeMap<String, u64>,
    /// Per L1 rule: how many entities break it.
    pub l1_breakdown: BTreeMap<String, u64>,
    /// Every violation.
    pub violations: Vec<ReportViolation>,
    /// Counts by kind and by certification state.
    pub statistics: BTreeMap<String, BTreeMap<String, u64>>,
}

/// One broken link in an entity's own chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// Position in the entity's history (0 = its first entry).
    pub index: usize,
    /// The entry's seq.
    pub seq: u64,
    /// What is wrong.
    pub reason: String,
}

/// Whether one entity's record and audit entries have been tampered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TamperingReport {
    /// The entity.
    pub entity_id: Uuid,
    /// True when anything does not verify.
    pub tampered: bool,
    /// The same (a name older clients read).
    pub tampering_detected: bool,
    /// True when every entry's hash recomputes and the versions follow each other.
    pub hash_chain_valid: bool,
    /// What is broken, oldest first.
    pub broken_links: Vec<BrokenLink>,
    /// A sentence for people.
    pub details: String,
    /// The index of the first broken link.
    pub broken_at_index: Option<usize>,
}

impl Catalog {
    /// Audits every catalog entity (or those of one kind) against L0 and L1.
    pub async fn audit_report(&self, kind: Option<Kind>) -> Result<AuditReport> {
        let kinds: Vec<Kind> = match kind {
            Some(k) if k.is_catalog() => vec![k],
            Some(k) => {
                return Err(Error::input(
                    "entity_type",
                    format!("{k} is not a catalog kind"),
                ));
            }
            None => Kind::CATALOG.to_vec(),
        };
        let mut report = AuditReport {
            total_entities: 0,
            compliant: 0,
            compliance_score: 1.0,
            total_violations: 0,
            timestamp: now(),
            l0_breakdown: rules::ALL
                .iter()
                .filter(|(r, _)| r.starts_with("L0"))
                .map(|(r, _)| ((*r).to_owned(), 0))
                .collect(),
            l1_breakdown: BTreeMap::new(),
            violations: Vec::new(),
            statistics: BTreeMap::new(),
        };
        for kind in kinds {
            let mut query = ListQuery::of(kind, 500);
            loop {
                let page = self.store.list(&query).await?;
                for record in &page {
                    self.audit_one(record, &mut report).await?;
                }
                match page.last() {
                    Some(last) if page.len() as u64 == query.limit => {
                        query.after = Some((last.created_at(), last.id()))
                    }
                    _ => break,
                }
            }
        }
        if report.total_entities > 0 {
            report.compliance_score = report.compliant as f64 / report.total_entities as f64;
        }
        Ok(report)
    }

    async fn audit_one(&self, record: &Record, report: &mut AuditReport) -> Result<()> {
        let ctx = self.context(record).await?;
        let violations = validate(record, &ctx);
        report.total_entities += 1;
        if violations.is_empty() {
            report.compliant += 1;
        }
        let kind = record.kind();
        let by_kind = report.statistics.entry("by_kind".into()).or_default();
        *by_kind.entry(kind.as_str().into()).or_default() += 1;
        let state = record
            .base()
            .map_or(CertificationState::Pending, |b| b.certification.status);
        let by_state = report
            .statistics
            .entry("by_certification".into())
            .or_default();
        *by_state.entry(state.as_str().into()).or_default() += 1;
        let mut seen = std::collections::BTreeSet::new();
        for v in violations {
            if seen.insert(v.rule.clone()) {
                let breakdown = if v.is_l0() {
                    &mut report.l0_breakdown
                } else {
                    &mut report.l1_breakdown
                };
                *breakdown.entry(v.rule.clone()).or_default() += 1;
            }
            report.total_violations += 1;
            report.violations.push(ReportViolation {
                entity_id: record.id(),
                entity_type: kind,
                entity_name: record
                    .name()
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_default(),
                rule: v.rule,
                field: v.field,
                message: v.message,
            });
        }
        Ok(())
    }

    /// Checks one record against its own audit entries.
    pub async fn tampering_report(&self, id: Uuid) -> Result<TamperingReport> {
        let record = self
            .store
            .get(None, id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: Kind::Agent,
                id: id.to_string(),
            })?;
        let entries = self.store.entity_entries(id).await?;
        let mut broken = Vec::new();
        let mut chain_valid = !entries.is_empty();
        if entries.is_empty() {
            broken.push(BrokenLink {
                index: 0,
                seq: 0,
                reason: "the record has no audit entries".into(),
            });
        }
        for (index, entry) in entries.iter().enumerate() {
            if entry.compute_hash() != entry.hash {
                chain_valid = false;
                broken.push(BrokenLink {
                    index,
                    seq: entry.seq,
                    reason: "the entry's hash does not match its contents".into(),
                });
            }
            if entry.entity_version != index as u64 + 1 {
                chain_valid = false;
                broken.push(BrokenLink {
                    index,
                    seq: entry.seq,
                    reason: format!(
                        "expected version {}, found {}",
                        index + 1,
                        entry.entity_version
                    ),
                });
            }
            if index > 0 && entry.seq <= entries[index - 1].seq {
                chain_valid = false;
                broken.push(BrokenLink {
                    index,
                    seq: entry.seq,
                    reason: "entries are out of order".into(),
                });
            }
        }
        if let Some(last) = entries.last() {
            let payload = record
                .audit_payload()
                .map_err(|e| Error::Internal(Cause::from(e.to_string())))?;
            let index = entries.len() - 1;
            if payload != last.payload {
                broken.push(BrokenLink {
                    index,
                    seq: last.seq,
                    reason: "the stored record differs from its latest audit entry".into(),
                });
            }
            if record.version_hash() != Some(last.hash) || record.version() != last.entity_version {
                broken.push(BrokenLink {
                    index,
                    seq: last.seq,
                    reason: "the record's version hash is not its latest entry's hash".into(),
                });
            }
        }
        broken.sort_by_key(|b| b.index);
        let tampered = !broken.is_empty();
        let details = match broken.first() {
            None => format!(
                "{} audit entries verify and the record matches the latest",
                entries.len()
            ),
            Some(b) => format!("broken at entry {} (seq {}): {}", b.index, b.seq, b.reason),
        };
        Ok(TamperingReport {
            entity_id: id,
            tampered,
            tampering_detected: tampered,
            hash_chain_valid: chain_valid,
            broken_at_index: broken.first().map(|b| b.index),
            broken_links: broken,
            details,
        })
    }

    /// Verifies the whole chain, every record against its latest entry, and the checkpoints.
    pub async fn verify(&self, trusted_keys: &[String]) -> Result<VerifyReport> {
        Ok(self.store.verify(trusted_keys).await?)
    }

    /// Signs the chain's head and stores the checkpoint.
    pub async fn checkpoint(&self, signer: &CheckpointSigner) -> Result<Checkpoint> {
        let head = self.store.head().await?;
        let checkpoint = signer.sign(head, now());
        self.store.add_checkpoint(checkpoint.clone()).await?;
        Ok(checkpoint)
    }
}
