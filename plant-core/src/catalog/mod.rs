//! The catalog's operations over any [`Store`]: create, evolve, archive and certify entities,
//! assign agents to teams, book trials, run jobs, keep precedent seeds, and report on the audit
//! chain.
//!
//! Every operation parses its input once, checks the rules, and writes through
//! [`Store::commit`], so every change appends its audit entry. Errors are [`Error`]s.

mod deletion;
mod entities;
mod expiry;
pub use entities::Certified;
mod precedents;
pub use precedents::{
    HASHING_CONFLICT_THRESHOLD, Lineage, MAX_APPLIED_PRECEDENTS, MINILM_CONFLICT_THRESHOLD,
    PossibleConflict, PrecedentHit, PrecedentInput, PrecedentOutcome, conflict_threshold,
};
mod relations;
mod reports;
mod transfer;
mod trials;
mod vectors;
mod versions;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use uuid::Uuid;

pub use expiry::{ExpiryReport, spawn_trial_expiry};
pub use reports::{AuditReport, BrokenLink, ReportViolation, TamperingReport};
pub use transfer::{
    CatalogExport, EXPORT_FORMAT, ExportedCertification, ExportedEntity, ImportReport,
};
pub use trials::{DeliverableInput, JobPatch, SYSTEM_ACTOR, TrialPatch};
pub use versions::{
    LINEAGE_DOMAIN, RevalidateReport, VersionInfo, VersionedRecord, lineage, lineage_hash,
};

use crate::Timestamp;
use crate::error::{Cause, Error, Result};
use crate::model::{Kind, Record, Status};
use crate::search::{EmbedQueue, Embedder, Embedding, VectorIndexer, agent_text, named_text};
use crate::store::{Change, ListQuery, Store, StoreError, StoredEmbedding, check_transition};
use crate::validate::{Context, RefInfo};

/// The catalog: a store, an embedder and the defaults its operations use.
#[derive(Debug, Clone)]
pub struct Catalog {
    store: Arc<dyn Store>,
    embedder: Arc<EmbedQueue>,
    governance_agent_id: String,
    /// Set on the copy [`Catalog::dry_run`] returns: commits check and write nothing.
    dry_run: bool,
    /// Computes vectors after commits when the embedder is not cheap (started on first use).
    vectors: Arc<OnceLock<VectorIndexer>>,
}

/// How many embedding requests may wait for the embedder before callers queue behind them.
pub const EMBED_QUEUE_DEPTH: usize = 64;

/// The governance agent named on entities created without one.
pub const DEFAULT_GOVERNANCE_AGENT: &str = "genesis-governor";

impl Catalog {
    /// A catalog over `store`, embedding text with `embedder`.
    pub fn new(store: Arc<dyn Store>, embedder: Arc<dyn Embedder>) -> Self {
        Self {
            store,
            embedder: Arc::new(EmbedQueue::new(embedder, EMBED_QUEUE_DEPTH)),
            governance_agent_id: DEFAULT_GOVERNANCE_AGENT.to_owned(),
            dry_run: false,
            vectors: Arc::default(),
        }
    }

    /// The same catalog in validate-only mode: every operation runs as it does (parsing, rules,
    /// references, versions, transitions, unique names) up to the commit, which only checks
    /// what the store would refuse and returns the records as they would be (at the version
    /// they were read, uncommitted). Nothing is written and nothing is appended, so an
    /// operation answers what it would answer, or the error the real write would give.
    pub fn dry_run(&self) -> Self {
        Self {
            dry_run: true,
            ..self.clone()
        }
    }

    /// True for a catalog from [`Catalog::dry_run`].
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The same catalog, naming another governance agent on new entities.
    pub fn with_governance_agent(mut self, id: &str) -> Self {
        id.clone_into(&mut self.governance_agent_id);
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        self.embedder.embedder()
    }

    /// The bounded queue in front of the embedder (its depth is a useful metric).
    pub fn embed_queue(&self) -> &EmbedQueue {
        &self.embedder
    }

    /// Embeds texts on the blocking pool, through the bounded queue.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Embedding>> {
        self.embedder
            .embed(texts)
            .await
            .map_err(|e| Error::Unavailable(Cause::from(format!("the embedder failed: {e}"))))
    }

    async fn embed_one(&self, text: String) -> Result<StoredEmbedding> {
        let vector = self
            .embed(vec![text])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal(Cause::from("the embedder returned no vector")))?;
        Ok(StoredEmbedding {
            model: self.embedder.model_id().to_owned(),
            vector,
        })
    }

    /// A record of a kind, or [`Error::NotFound`].
    pub async fn get(&self, kind: Kind, id: Uuid) -> Result<Record> {
        self.store
            .get(Some(kind), id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind,
                id: id.to_string(),
            })
    }

    /// Records matching a query.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Record>> {
        Ok(self.store.list(query).await?)
    }

    /// Records matching a query, shared rather than copied (see [`Store::list_shared`]).
    pub async fn list_shared(&self, query: &ListQuery) -> Result<Vec<std::sync::Arc<Record>>> {
        Ok(self.store.list_shared(query).await?)
    }

    /// A record's audit entries, oldest first ([`Error::NotFound`] when it has none).
    pub async fn history(&self, kind: Kind, id: Uuid) -> Result<Vec<crate::audit::AuditEntry>> {
        self.get(kind, id).await?;
        Ok(self.store.entity_entries(id).await?)
    }

    /// Writes one change; in a dry run, checks it and answers the record as it would be.
    async fn commit(&self, change: Change) -> Result<Written> {
        let record = self
            .commit_all(vec![change])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal(Cause::from("the store committed nothing")))?;
        Ok(Written { record })
    }

    /// Writes changes in one transaction, all or nothing, and returns their records in order;
    /// in a dry run, checks each against the store as it stands and returns them unwritten.
    async fn commit_all(&self, changes: Vec<Change>) -> Result<Vec<Record>> {
        if self.dry_run {
            for change in &changes {
                self.check_commit(change).await?;
            }
            return Ok(changes.into_iter().map(|c| c.record).collect());
        }
        let committed = match <[Change; 1]>::try_from(changes) {
            Ok([change]) => vec![self.store.commit(change).await?],
            Err(changes) => self.store.commit_all(changes).await?,
        };
        Ok(committed.into_iter().map(|c| c.record).collect())
    }

    /// What the store would refuse in `change`, as the same error: a create of a taken id, an
    /// update of a missing record or at another version, a transition the kind does not make,
    /// a name (or seed id) or an external id another record holds.
    async fn check_commit(&self, change: &Change) -> Result<()> {
        let record = &change.record;
        let (kind, id) = (record.kind(), record.id());
        let current = self.store.get(None, id).await?;
        match (current, change.expected_version) {
            (Some(_), None) => return Err(StoreError::Duplicate { kind, field: "id" }.into()),
            (None, Some(_)) => return Err(StoreError::NotFound { kind, id }.into()),
            (Some(old), Some(_)) if old.kind() != kind => {
                return Err(StoreError::NotFound { kind, id }.into());
            }
            (Some(old), Some(expected)) if old.version() != expected => {
                return Err(StoreError::VersionConflict {
                    kind,
                    id,
                    expected,
                    actual: old.version(),
                }
                .into());
            }
            (Some(old), Some(_)) => check_transition(&old, record)?,
            (None, None) => {}
        }
        let (key, field) = match record {
            Record::PrecedentSeed(p) => (Some(p.seed_id.as_str()), "seed_id"),
            r => (r.name().map(|n| n.as_str()), "name"),
        };
        if let Some(key) = key
            && self
                .store
                .get_by_name(kind, key)
                .await?
                .is_some_and(|owner| owner.id() != id)
        {
            return Err(StoreError::Duplicate { kind, field }.into());
        }
        if let Some(external_id) = record.base().and_then(|b| b.external_id.as_deref())
            && self
                .store
                .external_id_owner(external_id)
                .await?
                .is_some_and(|owner| owner != id)
        {
            return Err(StoreError::Duplicate {
                kind,
                field: "external_id",
            }
            .into());
        }
        Ok(())
    }

    /// What validation needs beside the record: its chain, what it references, its members.
    pub async fn context(&self, record: &Record) -> Result<Context> {
        let chain = if record.version() > 0 {
            self.store.entity_entries(record.id()).await?
        } else {
            Vec::new()
        };
        let mut ids: Vec<Uuid> = Vec::new();
        match record {
            Record::JobRole(e) => {
                ids.extend(&e.body.required_skills);
                ids.extend(e.body.industry_id);
            }
            Record::Team(e) => {
                ids.push(e.body.job_role_id);
                ids.extend(e.body.industry_id);
            }
            Record::Agent(e) => {
                ids.extend([e.body.skill_id, e.body.job_role_id, e.body.industry_id]);
                ids.extend(e.body.team_id);
            }
            _ => {}
        }
        let mut refs = HashMap::new();
        for id in ids {
            if refs.contains_key(&id) {
                continue;
            }
            if let Some(r) = self.store.get(None, id).await?
                && let Some(base) = r.base()
            {
                let job_role_id = match &r {
                    Record::Team(t) => Some(t.body.job_role_id),
                    _ => None,
                };
                refs.insert(
                    id,
                    RefInfo {
                        kind: r.kind(),
                        status: base.status,
                        certification: base.certification.status,
                        job_role_id,
                    },
                );
            }
        }
        let team_members = match record {
            Record::Team(t) => {
                let q = ListQuery {
                    kind: Some(Kind::Agent),
                    team_id: Some(t.base.id),
                    status: Some(Status::Active.into()),
                    ..ListQuery::default()
                };
                usize::try_from(self.store.count(&q).await?).unwrap_or(usize::MAX)
            }
            _ => 0,
        };
        Ok(Context {
            chain,
            refs,
            team_members,
        })
    }

    /// The text a record is searched by ([`named_text`], and [`agent_text`] for an agent, with
    /// its role, skill and industry names): the same functions the quality test measures.
    pub async fn search_text(&self, record: &Record) -> Result<Option<String>> {
        Ok(match record {
            Record::Industry(e) => Some(named_text(
                e.body.name.as_str(),
                e.body.description.as_str(),
            )),
            Record::Skill(e) => Some(named_text(
                e.body.name.as_str(),
                e.body.description.as_str(),
            )),
            Record::JobRole(e) => Some(named_text(
                e.body.name.as_str(),
                e.body.description.as_str(),
            )),
            Record::Agent(e) => {
                let name_of = |r: Option<Record>| {
                    r.and_then(|r| r.name().map(|n| n.as_str().to_owned()))
                        .unwrap_or_default()
                };
                let role = name_of(
                    self.store
                        .get(Some(Kind::JobRole), e.body.job_role_id)
                        .await?,
                );
                let skill = name_of(self.store.get(Some(Kind::Skill), e.body.skill_id).await?);
                let industry = name_of(
                    self.store
                        .get(Some(Kind::Industry), e.body.industry_id)
                        .await?,
                );
                Some(agent_text(
                    e.body.name.as_str(),
                    e.body.description.as_str(),
                    &role,
                    &skill,
                    &industry,
                ))
            }
            Record::PrecedentSeed(p) => Some(named_text(p.title.as_str(), p.content.as_str())),
            _ => None,
        })
    }

    /// Re-embeds up to `limit` records whose embedding is missing or from another model;
    /// returns how many it did.
    pub async fn reembed(&self, limit: u64) -> Result<usize> {
        let stale = self
            .store
            .stale_embeddings(self.embedder.model_id(), limit)
            .await?;
        let mut done = 0;
        for item in stale {
            let Some(record) = self.store.get(Some(item.kind), item.id).await? else {
                continue;
            };
            if let Some(text) = self.search_text(&record).await? {
                let e = self.embed_one(text).await?;
                self.store.put_embedding(item.kind, item.id, e).await?;
                done += 1;
            }
        }
        Ok(done)
    }
}

/// What a commit answers: the record as stored (in a dry run, as it would be).
struct Written {
    record: Record,
}

/// [`Error::Precondition`] when the caller expected another version than the current one.
fn check_version(expected: Option<u64>, actual: u64) -> Result<()> {
    match expected {
        Some(expected) if expected != actual => Err(Error::Precondition { expected, actual }),
        _ => Ok(()),
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::input::TrialInput;
    use crate::search::HashingEmbedder;
    use crate::seed::{self, SeedCatalog};
    use crate::store::MemoryStore;

    async fn seeded() -> Catalog {
        let c = Catalog::new(Arc::new(MemoryStore::new()), Arc::new(HashingEmbedder));
        seed::load(&c, &SeedCatalog::builtin().unwrap(), &mut |_| {})
            .await
            .unwrap();
        c
    }

    async fn any(c: &Catalog, kind: Kind) -> Record {
        c.list(&ListQuery::of(kind, 1)).await.unwrap().remove(0)
    }

    /// Runs `op` on the dry-run catalog (the head must not move), then on the real one; both
    /// answers, as text, must agree on success or failure and on the error.
    async fn dry_then_real<T, F, Fut>(c: &Catalog, op: F) -> (Result<T>, Result<T>)
    where
        F: Fn(Catalog) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let before = c.store().head().await.unwrap();
        let dry = op(c.dry_run()).await;
        assert_eq!(c.store().head().await.unwrap(), before, "a dry run wrote");
        let real = op(c.clone()).await;
        match (&dry, &real) {
            (Ok(_), Ok(_)) => {}
            (Err(d), Err(r)) => assert_eq!(d.to_string(), r.to_string()),
            _ => panic!("the dry run and the write disagree on success"),
        }
        (dry, real)
    }

    #[tokio::test]
    async fn a_dry_run_refuses_a_taken_external_id_as_the_write_does() {
        let c = seeded().await;
        let skill = |name: &str| {
            serde_json::json!({
                "name": name, "description": "d", "category": "technical",
                "external_id": "ext-taken",
            })
        };
        c.create_json(Kind::Skill, skill("Holds The Id"), "g", false)
            .await
            .unwrap();
        let (_, real) = dry_then_real(&c, |c| async move {
            c.create_json(Kind::Skill, skill("Wants The Id"), "g", c.is_dry_run())
                .await
        })
        .await;
        assert!(matches!(real, Err(Error::Conflict(_))), "{real:?}");
    }

    #[tokio::test]
    async fn a_dry_run_answers_what_the_write_answers_and_writes_nothing() {
        let c = seeded().await;
        assert!(c.dry_run().is_dry_run() && !c.is_dry_run());
        let skill = any(&c, Kind::Skill).await;
        let (kind, id) = (Kind::Skill, skill.id());
        // Refused alike: active dependents, a stale version, deleting what is active.
        let (_, real) =
            dry_then_real(&c, |c| async move { c.archive(kind, id, None, "g").await }).await;
        assert!(matches!(real, Err(Error::Conflict(_))), "{real:?}");
        let (_, real) = dry_then_real(
            &c,
            |c| async move { c.archive(kind, id, Some(99), "g").await },
        )
        .await;
        assert!(matches!(real, Err(Error::Precondition { .. })), "{real:?}");
        let (_, real) =
            dry_then_real(&c, |c| async move { c.delete(kind, id, None, "g").await }).await;
        assert!(matches!(real, Err(Error::Conflict(_))), "{real:?}");
        // Accepted alike: the dry run's record is the write's, before the store versions it.
        let (dry, real) =
            dry_then_real(&c, |c| async move { c.certify(kind, id, "g").await }).await;
        let (dry, real) = (dry.unwrap(), real.unwrap());
        assert_eq!(dry.passed(), real.passed());
        assert_eq!(dry.record.version(), skill.version());
        assert_eq!(real.record.version(), skill.version() + 1);

        let agent = any(&c, Kind::Agent).await.id();
        let input = TrialInput {
            agent_id: Some(agent.to_string()),
            customer_name: Some("Dry Run".into()),
            customer_email: Some("dry@example.com".into()),
            ..TrialInput::default()
        };
        let (dry, real) = dry_then_real(&c, |c| {
            let input = input.clone();
            async move { c.book_trial(&input, "customer").await }
        })
        .await;
        let (dry, real) = (dry.unwrap(), real.unwrap());
        assert_eq!((dry.status, dry.version), (real.status, 0));
        assert!(
            c.store()
                .get(Some(Kind::Trial), dry.id)
                .await
                .unwrap()
                .is_none()
        );
        let trial = real.id;
        let (dry, _) =
            dry_then_real(&c, |c| async move { c.cancel_trial(trial, "op").await }).await;
        assert_eq!(dry.unwrap().status, crate::model::TrialStatus::Cancelled);
        let patch = TrialPatch {
            status: Some("converted".into()),
            deliverables: None,
        };
        let (_, real) = dry_then_real(&c, |c| {
            let patch = patch.clone();
            async move { c.update_trial(trial, &patch, None, "op").await }
        })
        .await;
        assert!(matches!(real, Err(Error::Conflict(_))), "{real:?}");
    }

    #[tokio::test]
    async fn an_import_has_no_dry_run() {
        let c = seeded().await;
        let export = c.export().await.unwrap();
        let empty = Catalog::new(Arc::new(MemoryStore::new()), Arc::new(HashingEmbedder));
        assert!(matches!(
            empty.dry_run().import(&export).await,
            Err(Error::Invalid(_))
        ));
        assert_eq!(empty.store().head().await.unwrap().seq, 0);
    }
}
