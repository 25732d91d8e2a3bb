//! Addressable versions and revalidation.
//!
//! Every version of a record is in its audit entries, so any version can be rebuilt exactly as it
//! was, with the seq and hash of the entry that wrote it. Revalidation re-checks every certified
//! entity against the current rule set and sends the ones that no longer pass to review.
//!
//! # Per-entity lineage
//!
//! On top of the global chain, the versions of one entity form their own chain of
//! [`lineage_hash`]es, derived from the entries' hashes alone (nothing new is stored and the
//! audit encoding is unchanged):
//!
//! ```text
//! lineage(v1) = SHA-256("plant-lineage-v1\n" || 32 zero bytes  || hash(entry of v1))
//! lineage(vn) = SHA-256("plant-lineage-v1\n" || lineage(vn-1)  || hash(entry of vn))
//! ```
//!
//! Both inputs are 32 raw bytes, so the encoding is unambiguous. Whoever keeps the lineage hash
//! of an entity's version n can later tell whether any of versions 1..=n was rewritten, without
//! walking the whole global chain: a rewritten entry has another hash, and every later lineage
//! hash of that entity changes with it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Catalog, now};
use crate::Timestamp;
use crate::audit::{AuditEntry, Hash};
use crate::error::{Cause, Error, Result};
use crate::model::{Alignment, CertificationState, Kind, Record};
use crate::store::{Action, Change, ListQuery};
use crate::validate::{RULE_SET_VERSION, Violation, l0_compliance, validate_for_certification};

/// Domain-separation prefix of the per-entity lineage hash.
pub const LINEAGE_DOMAIN: &[u8] = b"plant-lineage-v1\n";

/// The lineage hash of one version of an entity:
/// `SHA-256("plant-lineage-v1\n" || previous || entry_hash)`, where `previous` is the lineage
/// hash of the entity's previous version ([`Hash::ZERO`] for version 1) and `entry_hash` the
/// hash of the audit entry that wrote this version.
///
/// ```
/// use plant_core::audit::Hash;
/// use plant_core::catalog::{lineage, lineage_hash};
///
/// let (e1, e2) = (Hash([1; 32]), Hash([2; 32]));
/// let v1 = lineage_hash(&Hash::ZERO, &e1);
/// assert_eq!(lineage([e1, e2]), vec![v1, lineage_hash(&v1, &e2)]);
/// ```
pub fn lineage_hash(previous: &Hash, entry_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(LINEAGE_DOMAIN);
    h.update(previous.0);
    h.update(entry_hash.0);
    Hash(h.finalize().into())
}

/// The lineage hashes of an entity's versions, given its entries' hashes oldest first.
pub fn lineage(entry_hashes: impl IntoIterator<Item = Hash>) -> Vec<Hash> {
    let mut previous = Hash::ZERO;
    entry_hashes
        .into_iter()
        .map(|entry| {
            previous = lineage_hash(&previous, &entry);
            previous
        })
        .collect()
}

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
    /// The per-entity lineage hash of this version (see [`lineage_hash`]).
    pub lineage_hash: Hash,
    /// Whether the entry's stored hash is the hash of its fields (false: the entry was edited).
    pub hash_verified: bool,
}

impl VersionInfo {
    /// Every version of an entity, from its entries oldest first, with their lineage hashes.
    pub fn all(entries: &[AuditEntry]) -> Vec<Self> {
        let hashes = lineage(entries.iter().map(|e| e.hash));
        entries
            .iter()
            .zip(hashes)
            .map(|(e, lineage_hash)| Self {
                version: e.entity_version,
                seq: e.seq,
                hash: e.hash,
                prev_hash: e.prev_hash,
                action: e.action.clone(),
                actor: e.actor.clone(),
                at: e.at,
                lineage_hash,
                hash_verified: e.compute_hash() == e.hash,
            })
            .collect()
    }
}

/// A record as it was at one version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionedRecord {
    /// Which version, and the entry that wrote it.
    #[serde(flatten)]
    pub info: VersionInfo,
    /// The record as it was (without the fields derived from later entries); `entity` on the
    /// wire.
    #[serde(rename = "entity")]
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
        Ok(VersionInfo::all(&self.history(kind, id).await?))
    }

    /// A record exactly as it was at version `n`, rebuilt from the entry that wrote it.
    pub async fn version(&self, kind: Kind, id: Uuid, n: u64) -> Result<VersionedRecord> {
        let entries = self.history(kind, id).await?;
        let infos = VersionInfo::all(&entries);
        let (entry, info) = entries
            .iter()
            .zip(infos)
            .find(|(e, _)| e.entity_version == n)
            .ok_or_else(|| Error::NotFound {
                kind,
                id: format!("{id} version {n}"),
            })?;
        let mut value = entry.payload_json().map_err(|e| {
            Error::Internal(Cause::from(format!(
                "audit payload at seq {} is not JSON: {e}",
                entry.seq
            )))
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
            info,
            record: value,
        })
    }

    /// Re-checks every certified entity against the current rule set; those that fail go back
    /// to `pending_certification` with `amendment_alignment: requires_review` (audited, action
    /// `revalidate`), keeping the violations on their certification record.
    pub async fn revalidate(&self, actor: &str) -> Result<RevalidateReport> {
        self.revalidate_inner(actor, false).await
    }

    /// [`Catalog::revalidate`] without the writes: the same report of what would be sent to
    /// review, having written and appended nothing.
    pub async fn revalidate_dry_run(&self) -> Result<RevalidateReport> {
        self.revalidate_inner("", true).await
    }

    async fn revalidate_inner(&self, actor: &str, dry_run: bool) -> Result<RevalidateReport> {
        let mut report = RevalidateReport {
            rule_set: RULE_SET_VERSION.to_owned(),
            ..RevalidateReport::default()
        };
        for kind in Kind::CATALOG {
            let mut query = ListQuery::of(*kind, 500);
            loop {
                let page = self.store.list(&query).await?;
                for record in &page {
                    self.revalidate_one(record, actor, dry_run, &mut report)
                        .await?;
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
        dry_run: bool,
        report: &mut RevalidateReport,
    ) -> Result<()> {
        if record
            .base()
            .is_none_or(|b| b.certification.status != CertificationState::Certified)
        {
            return Ok(());
        }
        report.checked += 1;
        let mut ctx = self.context(record).await?;
        // What this run sent to review no longer counts as certified for what depends on it
        // (kinds are visited dependencies first), so a dry run predicts the cascade the real
        // run makes, where the store already says so.
        for (_, id, _) in &report.sent_to_review {
            if let Some(r) = ctx.refs.get_mut(id) {
                r.certification = CertificationState::Pending;
            }
        }
        let violations = validate_for_certification(record, &ctx);
        if violations.is_empty() {
            report.still_certified += 1;
            return Ok(());
        }
        if dry_run {
            report
                .sent_to_review
                .push((record.kind(), record.id(), violations));
            return Ok(());
        }
        let mut next = record.clone();
        if let Some(base) = next.base_mut() {
            base.certification.status = CertificationState::Pending;
            base.certification.violations = violations.clone();
            base.amendment_alignment = alignment_after(&violations);
            base.l0_compliance_status = l0_compliance(&violations);
            base.updated_at = now();
        }
        self.commit(Change::update(
            next,
            record.version(),
            Action::Revalidate,
            actor,
        ))
        .await?;
        report
            .sent_to_review
            .push((record.kind(), record.id(), violations));
        Ok(())
    }
}

/// Where a certified entity that no longer passes stands: `drifted` when it only fails because
/// something it was certified with is no longer certified (its own content still passes; the
/// ground moved under it), `requires_review` when it breaks a rule itself.
fn alignment_after(violations: &[Violation]) -> Alignment {
    let prerequisite = |v: &Violation| {
        v.rule == crate::validate::rules::L1_JOBROLE_06
            || v.rule == crate::validate::rules::L1_AGENT_06
    };
    if !violations.is_empty() && violations.iter().all(prerequisite) {
        Alignment::Drifted
    } else {
        Alignment::RequiresReview
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::audit::{Head, NewEntry};
    use proptest::prelude::*;

    #[test]
    fn lineage_hash_is_pinned() {
        // Computed independently: sha256(b"plant-lineage-v1\n" + prev + entry) in Python.
        let v = lineage([Hash([1; 32]), Hash([2; 32])]);
        assert_eq!(
            v[0].to_hex(),
            "57b860d9884e67fb51fa70bd2160bba65137a13e84341114339cf5c44406ac2c"
        );
        assert_eq!(
            v[1].to_hex(),
            "af67a1d732c1e1d702ffb539d734d2977c798b4b286715aa25045ec6ed6c67b6"
        );
    }

    fn entry(head: Head, version: u64, payload: &str) -> AuditEntry {
        head.append(NewEntry {
            entity_id: Uuid::nil(),
            entity_type: "Skill".into(),
            entity_version: version,
            action: "update".into(),
            actor: "genesis".into(),
            at: "2026-01-01T00:00:00Z".parse().unwrap(),
            payload: payload.into(),
        })
    }

    #[test]
    fn rewriting_an_earlier_entry_changes_every_later_lineage_hash() {
        let mut entries = Vec::new();
        let mut head = Head::GENESIS;
        for v in 1..=4 {
            let e = entry(head, v, &format!("{{\"v\":{v}}}"));
            head = e.head();
            entries.push(e);
        }
        let before = VersionInfo::all(&entries);
        assert!(before.iter().all(|v| v.hash_verified));
        // Edit version 2's payload without its hash: the entry no longer verifies.
        let mut edited = entries.clone();
        edited[1].payload = "{\"v\":99}".into();
        let after = VersionInfo::all(&edited);
        assert!(!after[1].hash_verified);
        // Edit it and recompute its hash: it verifies alone, but every later lineage moves.
        edited[1].hash = edited[1].compute_hash();
        let after = VersionInfo::all(&edited);
        assert!(after[1].hash_verified);
        assert_eq!(after[0].lineage_hash, before[0].lineage_hash);
        for (a, b) in after.iter().zip(&before).skip(1) {
            assert_ne!(a.lineage_hash, b.lineage_hash, "version {}", a.version);
        }
    }

    fn hashes() -> impl Strategy<Value = Vec<Hash>> {
        prop::collection::vec(any::<[u8; 32]>().prop_map(Hash), 1..24)
    }

    proptest! {
        #[test]
        fn a_changed_entry_hash_changes_its_lineage_and_every_later_one(
            hs in hashes(), at in any::<prop::sample::Index>(), flip in 0usize..256,
        ) {
            let original = lineage(hs.iter().copied());
            prop_assert_eq!(original.len(), hs.len());
            let i = at.index(hs.len());
            let mut changed = hs.clone();
            changed[i].0[flip / 8] ^= 1 << (flip % 8);
            let moved = lineage(changed);
            for (j, (m, o)) in moved.iter().zip(&original).enumerate() {
                if j < i {
                    prop_assert_eq!(m, o);
                } else {
                    prop_assert_ne!(m, o);
                }
            }
        }

        #[test]
        fn each_lineage_hash_links_to_the_previous_one(hs in hashes()) {
            let l = lineage(hs.iter().copied());
            prop_assert_eq!(l[0], lineage_hash(&Hash::ZERO, &hs[0]));
            for (w, h) in l.windows(2).zip(&hs[1..]) {
                prop_assert_eq!(w[1], lineage_hash(&w[0], h));
                // A version's lineage never equals its bare entry hash.
                prop_assert_ne!(w[1], *h);
            }
        }

        #[test]
        fn dropping_or_swapping_versions_changes_the_last_lineage_hash(hs in hashes()) {
            prop_assume!(hs.len() >= 2);
            let last = *lineage(hs.iter().copied()).last().unwrap();
            let mut dropped = hs.clone();
            dropped.remove(0);
            prop_assert_ne!(*lineage(dropped).last().unwrap(), last);
            let mut swapped = hs.clone();
            swapped.swap(0, 1);
            prop_assume!(hs[0] != hs[1]);
            prop_assert_ne!(*lineage(swapped).last().unwrap(), last);
        }
    }
}
