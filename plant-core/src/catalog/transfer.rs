//! Catalog export and import: the whole catalog as one JSON document, and back into an empty
//! store through the normal write path.
//!
//! The document carries every catalog entity with all its versions (as
//! [`Catalog::version`] rebuilds them) and its certification, and the audit chain itself. Import
//! replays the chain entry by entry, in seq order, through [`crate::store::Store::commit`]: each
//! entry's record becomes a create (version 1) or an update (at the version before), with the
//! entry's action and actor. Ids, timestamps and payloads are kept, so the new store appends the
//! very same entries — same seqs, same hashes, same head — and an export of it is identical to
//! the document it was imported from. Import checks this as it goes and stops at the first entry
//! that comes out differently.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Catalog, VersionedRecord};
use crate::audit::{AuditEntry, Head};
use crate::error::{Cause, Error, Result};
use crate::model::{Certification, Kind, Record};
use crate::store::{Action, Change, ListQuery};
use crate::validate::RULE_SET_VERSION;

/// The export document's format name.
pub const EXPORT_FORMAT: &str = "plant-export-v1";

/// Audit entries read per page while exporting.
const PAGE: u64 = 1000;

/// The whole catalog as one document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogExport {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// The rule set of this build ([`RULE_SET_VERSION`]).
    pub rule_set: String,
    /// The chain's head when exported.
    pub head: Head,
    /// Every catalog entity (industries, skills, job roles, teams, agents, in that order, each
    /// kind by `(created_at, id)`), with its versions.
    pub entities: Vec<ExportedEntity>,
    /// The certification of every catalog entity, in the order of `entities`.
    pub certifications: Vec<ExportedCertification>,
    /// The audit chain, every entry with its payload, in seq order: what import replays.
    pub entries: Vec<AuditEntry>,
    /// The newest signed C2SP checkpoint of the log whose tree size is at most `head.seq`, if
    /// one was made: with the log's public key it lets `plant-cli verify --offline` check the
    /// document without the database ([`crate::audit::offline::verify_export`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// One entity and its versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedEntity {
    /// Its kind.
    pub entity_type: Kind,
    /// Its id.
    pub id: Uuid,
    /// Its current version.
    pub version: u64,
    /// Every version, oldest first, each with the entity as it was.
    pub versions: Vec<serde_json::Value>,
}

/// One entity's certification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedCertification {
    /// The entity's kind.
    pub entity_type: Kind,
    /// Its id.
    pub id: Uuid,
    /// Its certification (status, when, by whom, the rule set, violations, precedents).
    #[serde(flatten)]
    pub certification: Certification,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Audit entries replayed.
    pub entries: u64,
    /// Catalog entities in the document.
    pub entities: u64,
    /// The new store's head (the document's head).
    pub head: Head,
}

impl Catalog {
    /// Exports the whole catalog (see the [module documentation](self)).
    pub async fn export(&self) -> Result<CatalogExport> {
        let head = self.store.head().await?;
        let mut entries = Vec::new();
        while (entries.len() as u64) < head.seq {
            let after = entries.len() as u64;
            let page = self
                .store
                .audit_entries(after, PAGE.min(head.seq - after))
                .await?;
            if page.is_empty() {
                break;
            }
            entries.extend(page);
        }
        let mut entities = Vec::new();
        let mut certifications = Vec::new();
        for kind in Kind::CATALOG {
            let mut query = ListQuery::of(*kind, 500);
            loop {
                let page = self.store.list(&query).await?;
                for record in &page {
                    let (entity, certification) = self.export_one(record).await?;
                    entities.push(entity);
                    certifications.extend(certification);
                }
                match page.last() {
                    Some(last) if page.len() as u64 == query.limit => {
                        query.after = Some((last.created_at(), last.id()));
                    }
                    _ => break,
                }
            }
        }
        let checkpoint = self
            .store
            .tree_checkpoints()
            .await?
            .into_iter()
            .rfind(|c| c.tree_size <= head.seq)
            .map(|c| c.note);
        Ok(CatalogExport {
            format: EXPORT_FORMAT.to_owned(),
            rule_set: RULE_SET_VERSION.to_owned(),
            head,
            entities,
            certifications,
            entries,
            checkpoint,
        })
    }

    async fn export_one(
        &self,
        record: &Record,
    ) -> Result<(ExportedEntity, Option<ExportedCertification>)> {
        let (kind, id) = (record.kind(), record.id());
        let mut versions = Vec::new();
        for info in self.versions(kind, id).await? {
            let v: VersionedRecord = self.version(kind, id, info.version).await?;
            versions.push(serde_json::to_value(&v).map_err(|e| {
                Error::Internal(Cause::from(format!("cannot encode a version: {e}")))
            })?);
        }
        let certification = record.base().map(|b| ExportedCertification {
            entity_type: kind,
            id,
            certification: b.certification.clone(),
        });
        Ok((
            ExportedEntity {
                entity_type: kind,
                id,
                version: record.version(),
                versions,
            },
            certification,
        ))
    }

    /// Imports an export into this catalog's store, which must be empty ([`Error::Conflict`]
    /// otherwise): replays its audit chain through the normal write path, keeping ids, and
    /// checks that every entry comes out exactly as exported. Embeddings are not part of the
    /// document; `Catalog::reembed` computes them afterwards.
    pub async fn import(&self, export: &CatalogExport) -> Result<ImportReport> {
        if self.dry_run {
            return Err(Error::input(
                "dry_run",
                "an import replays entries as they were; it has no dry run",
            ));
        }
        if export.format != EXPORT_FORMAT {
            return Err(Error::input(
                "format",
                format!(
                    "not a plant export ({EXPORT_FORMAT}): {:?}",
                    export.format.chars().take(64).collect::<String>()
                ),
            ));
        }
        if self.store.head().await?.seq != 0 {
            return Err(Error::Conflict(
                "the store is not empty: import only into an empty store".into(),
            ));
        }
        check_chain(&export.entries, export.head)?;
        for entry in &export.entries {
            let bad = |why: String| Error::input("entries", format!("seq {}: {why}", entry.seq));
            let kind: Kind = entry.entity_type.parse().map_err(|e| bad(format!("{e}")))?;
            let payload = entry.payload_json().map_err(|e| bad(e.to_string()))?;
            let record = Record::from_json(kind, payload).map_err(|e| bad(e.to_string()))?;
            if record.id() != entry.entity_id {
                return Err(bad("the payload is another record's".into()));
            }
            let mut change = match entry.entity_version {
                0 => return Err(bad("version 0".into())),
                1 => Change::create(record, &entry.actor),
                v => Change::update(
                    record,
                    v - 1,
                    Action::Replayed(entry.action.clone()),
                    &entry.actor,
                ),
            };
            change.action = Action::Replayed(entry.action.clone());
            let committed = self.store.commit(change).await?;
            if committed.entry.hash != entry.hash || committed.entry.seq != entry.seq {
                return Err(Error::Internal(Cause::from(format!(
                    "the entry at seq {} came out differently on import (hash {} instead of {})",
                    entry.seq, committed.entry.hash, entry.hash
                ))));
            }
        }
        Ok(ImportReport {
            entries: export.entries.len() as u64,
            entities: export.entities.len() as u64,
            head: self.store.head().await?,
        })
    }
}

/// The document's chain must be whole: seqs 1, 2, … without gaps, every link and hash right,
/// ending at its head.
fn check_chain(entries: &[AuditEntry], head: Head) -> Result<()> {
    let mut previous = Head::GENESIS;
    for entry in entries {
        let expected_seq = previous.seq + 1;
        if entry.seq != expected_seq || entry.prev_hash != previous.hash {
            return Err(Error::input(
                "entries",
                format!("the chain breaks at seq {expected_seq}"),
            ));
        }
        if entry.compute_hash() != entry.hash {
            return Err(Error::input(
                "entries",
                format!("the entry at seq {} does not match its hash", entry.seq),
            ));
        }
        previous = entry.head();
    }
    if previous != head {
        return Err(Error::input(
            "head",
            format!(
                "the chain ends at seq {} but the head names seq {}",
                previous.seq, head.seq
            ),
        ));
    }
    Ok(())
}
