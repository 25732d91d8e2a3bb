//! The in-memory store: the same semantics as PostgreSQL, for tests, examples and the server's
//! zero-configuration mode.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::watch;
use uuid::Uuid;

use super::{
    Change, Committed, FusedQuery, ListQuery, SearchFilter, SearchHit, StaleEmbedding, Store,
    StoreError, StoreResult, StoredEmbedding,
};
use crate::audit::{AuditEntry, Checkpoint, Head, StoredTreeCheckpoint};
use crate::error::Cause;
use crate::model::{Kind, Name, Record};
use crate::search::Embedding;
use crate::search::lexical::{self, FUSION_DEPTH, LexicalDoc};

/// Records, the chain and embeddings, in memory, behind one lock.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// The head seq after each commit: wakes change feeds.
    signal: watch::Sender<u64>,
    /// Webhook subscriptions and their delivery log (`crate::webhooks`).
    pub(crate) webhooks: crate::webhooks::WebhookTables,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            signal: watch::Sender::new(0),
            webhooks: crate::webhooks::WebhookTables::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<Uuid, Record>,
    names: HashMap<(Kind, String), Uuid>,
    external_ids: HashMap<String, Uuid>,
    entries: Vec<AuditEntry>,
    by_entity: HashMap<Uuid, Vec<usize>>,
    checkpoints: Vec<Checkpoint>,
    tree_checkpoints: Vec<StoredTreeCheckpoint>,
    embeddings: HashMap<Uuid, StoredEmbedding>,
}

/// What one applied change did, so that a failed batch can be undone.
struct Undo {
    id: Uuid,
    previous: Option<Record>,
    previous_embedding: Option<StoredEmbedding>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry that records no catalog row (a webhook subscription's change) after
    /// the head, and wakes change feeds.
    pub(crate) fn append_entry(&self, entry: crate::audit::NewEntry) -> AuditEntry {
        let appended = {
            let mut inner = self.lock();
            let appended = inner.head().append(entry);
            let at = inner.entries.len();
            inner
                .by_entity
                .entry(appended.entity_id)
                .or_default()
                .push(at);
            inner.entries.push(appended.clone());
            appended
        };
        self.signal.send_replace(appended.seq);
        appended
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held cannot leave a half-applied change behind (changes are
        // undone on error before the lock is released), so a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The unique key of a record within its kind: its name's [`crate::model::unique_key`] (the
/// key PostgreSQL's `*_name_fold_key` indexes hold), or a precedent seed's `seed_id`.
pub(crate) fn name_key(record: &Record) -> Option<(Kind, String)> {
    match record {
        Record::PrecedentSeed(p) => Some((Kind::PrecedentSeed, p.seed_id.as_str().to_owned())),
        r => r.name().map(|n| (r.kind(), n.unique_key(r.kind()))),
    }
}

/// The field [`name_key`] reads, for the error that names it.
fn name_field(kind: Kind) -> &'static str {
    if kind == Kind::PrecedentSeed {
        "seed_id"
    } else {
        "name"
    }
}

fn external_id(record: &Record) -> Option<String> {
    record.base().and_then(|b| b.external_id.clone())
}

/// The references a record makes: (field, kind it must be, id).
fn references(record: &Record) -> Vec<(&'static str, Kind, Uuid)> {
    let mut refs = Vec::new();
    match record {
        Record::Industry(_) | Record::Skill(_) => {}
        Record::JobRole(e) => {
            refs.extend(
                e.body
                    .required_skills
                    .iter()
                    .map(|id| ("required_skills", Kind::Skill, *id)),
            );
            refs.extend(
                e.body
                    .industry_id
                    .map(|id| ("industry_id", Kind::Industry, id)),
            );
        }
        Record::Team(e) => {
            refs.push(("job_role_id", Kind::JobRole, e.body.job_role_id));
            refs.extend(
                e.body
                    .industry_id
                    .map(|id| ("industry_id", Kind::Industry, id)),
            );
        }
        Record::Agent(e) => {
            refs.push(("skill_id", Kind::Skill, e.body.skill_id));
            refs.push(("job_role_id", Kind::JobRole, e.body.job_role_id));
            refs.push(("industry_id", Kind::Industry, e.body.industry_id));
            refs.extend(e.body.team_id.map(|id| ("team_id", Kind::Team, id)));
        }
        Record::Trial(t) => refs.push(("agent_id", Kind::Agent, t.agent_id)),
        Record::Job(j) => {
            refs.push(("agent_id", Kind::Agent, j.agent_id));
            refs.extend(j.trial_id.map(|id| ("trial_id", Kind::Trial, id)));
        }
        // Seeds refer to each other by seed id; see `Inner::check_lineage`.
        Record::PrecedentSeed(_) => {}
    }
    refs
}

/// Checks what a status change may do, as the database's triggers do.
pub(crate) fn check_transition(old: &Record, new: &Record) -> StoreResult<()> {
    let bad = |from: &str, to: &str| StoreError::InvalidTransition {
        kind: old.kind(),
        from: from.into(),
        to: to.into(),
    };
    match (old, new) {
        (Record::Trial(a), Record::Trial(b)) if !a.status.can_become(b.status) => {
            Err(bad(a.status.as_str(), b.status.as_str()))
        }
        (Record::Job(a), Record::Job(b)) if !a.status.can_become(b.status) => {
            Err(bad(a.status.as_str(), b.status.as_str()))
        }
        (Record::PrecedentSeed(a), Record::PrecedentSeed(b)) if !a.status.can_become(b.status) => {
            Err(bad(a.status.as_str(), b.status.as_str()))
        }
        (Record::Agent(a), Record::Agent(b)) if a.body.industry_id != b.body.industry_id => {
            Err(StoreError::Immutable {
                field: "industry_id",
            })
        }
        _ => Ok(()),
    }
}

impl Inner {
    fn head(&self) -> Head {
        self.entries.last().map_or(Head::GENESIS, AuditEntry::head)
    }

    /// A seed's lineage links must name existing seeds, never the seed itself, and never close
    /// a cycle — what the database's CHECK, foreign keys and trigger refuse.
    fn check_lineage(&self, record: &Record) -> StoreResult<()> {
        let Record::PrecedentSeed(seed) = record else {
            return Ok(());
        };
        let by_seed_id = |s: &str| {
            self.names
                .get(&(Kind::PrecedentSeed, s.to_owned()))
                .and_then(|id| self.records.get(id))
                .and_then(|r| match r {
                    Record::PrecedentSeed(p) => Some(p),
                    _ => None,
                })
        };
        for (field, link) in [
            ("supersedes", &seed.supersedes),
            ("superseded_by", &seed.superseded_by),
        ] {
            let Some(link) = link else { continue };
            if *link == seed.seed_id {
                return Err(StoreError::InvalidChange(Cause::from(
                    "a precedent seed cannot supersede itself",
                )));
            }
            if by_seed_id(link.as_str()).is_none() {
                return Err(StoreError::MissingReference {
                    kind: Kind::PrecedentSeed,
                    field,
                    target: Kind::PrecedentSeed,
                });
            }
        }
        // Follow the older seeds from the one this seed supersedes; meeting this seed again
        // means the change would close a cycle.
        let mut next = seed.supersedes.clone();
        let mut steps = 0usize;
        while let Some(current) = next {
            if current == seed.seed_id || steps > self.records.len() {
                return Err(StoreError::InvalidChange(Cause::from(
                    "a precedent seed's supersession would form a cycle",
                )));
            }
            next = by_seed_id(current.as_str()).and_then(|p| p.supersedes.clone());
            steps += 1;
        }
        Ok(())
    }

    fn apply(&mut self, change: Change) -> StoreResult<(Committed, Undo)> {
        let Change {
            mut record,
            expected_version,
            action,
            actor,
            embedding,
            clear_embedding,
        } = change;
        let id = record.id();
        let kind = record.kind();
        let previous = self.records.get(&id).cloned();
        match (&previous, expected_version) {
            (Some(_), None) => return Err(StoreError::Duplicate { kind, field: "id" }),
            (None, Some(_)) => return Err(StoreError::NotFound { kind, id }),
            (Some(old), Some(_)) if old.kind() != kind => {
                return Err(StoreError::NotFound { kind, id });
            }
            (Some(old), Some(expected)) if old.version() != expected => {
                return Err(StoreError::VersionConflict {
                    kind,
                    id,
                    expected,
                    actual: old.version(),
                });
            }
            (Some(old), Some(_)) => check_transition(old, &record)?,
            (None, None) => {}
        }
        // The row checks PostgreSQL's CHECK constraints make.
        if let Record::Trial(t) = &record
            && t.end_date < t.start_date
        {
            return Err(StoreError::InvalidChange(Cause::from(
                "trial_dates_check: a trial cannot end before it starts",
            )));
        }
        // Before uniqueness, as the database's row trigger runs before its unique index.
        self.check_lineage(&record)?;
        if let Some(key) = name_key(&record)
            && self.names.get(&key).is_some_and(|owner| *owner != id)
        {
            return Err(StoreError::Duplicate {
                kind,
                field: name_field(kind),
            });
        }
        if let Some(ext) = external_id(&record)
            && self
                .external_ids
                .get(&ext)
                .is_some_and(|owner| *owner != id)
        {
            return Err(StoreError::Duplicate {
                kind,
                field: "external_id",
            });
        }
        for (field, target, ref_id) in references(&record) {
            if self.records.get(&ref_id).is_none_or(|r| r.kind() != target) {
                return Err(StoreError::MissingReference {
                    kind,
                    field,
                    target,
                });
            }
        }
        let entry = self.head().append(super::next_entry(
            &mut record,
            expected_version,
            &action,
            actor,
        )?);
        record.apply_entry(&entry);

        if let Some(old_key) = previous.as_ref().and_then(name_key) {
            self.names.remove(&old_key);
        }
        if let Some(old_ext) = previous.as_ref().and_then(external_id) {
            self.external_ids.remove(&old_ext);
        }
        if let Some(key) = name_key(&record) {
            self.names.insert(key, id);
        }
        if let Some(ext) = external_id(&record) {
            self.external_ids.insert(ext, id);
        }
        // Only the embedded kinds keep a vector (PostgreSQL has no column for the others).
        let previous_embedding = match embedding.filter(|_| EMBEDDED.contains(&kind)) {
            Some(e) => self.embeddings.insert(id, e),
            None if clear_embedding => self.embeddings.remove(&id),
            None => self.embeddings.get(&id).cloned(),
        };
        self.by_entity
            .entry(id)
            .or_default()
            .push(self.entries.len());
        self.entries.push(entry.clone());
        self.records.insert(id, record.clone());
        Ok((
            Committed { record, entry },
            Undo {
                id,
                previous,
                previous_embedding,
            },
        ))
    }

    fn undo(&mut self, undo: Undo) {
        if let Some(current) = self.records.remove(&undo.id) {
            if let Some(key) = name_key(&current) {
                self.names.remove(&key);
            }
            if let Some(ext) = external_id(&current) {
                self.external_ids.remove(&ext);
            }
        }
        if let Some(entry) = self.entries.pop()
            && let Some(list) = self.by_entity.get_mut(&entry.entity_id)
        {
            list.pop();
            if list.is_empty() {
                self.by_entity.remove(&entry.entity_id);
            }
        }
        match undo.previous_embedding {
            Some(e) => {
                self.embeddings.insert(undo.id, e);
            }
            None => {
                self.embeddings.remove(&undo.id);
            }
        }
        if let Some(previous) = undo.previous {
            if let Some(key) = name_key(&previous) {
                self.names.insert(key, undo.id);
            }
            if let Some(ext) = external_id(&previous) {
                self.external_ids.insert(ext, undo.id);
            }
            self.records.insert(undo.id, previous);
        }
    }

    fn matching<'a>(&'a self, q: &'a ListQuery) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.values().filter(move |r| matches(r, q))
    }
}

/// Whether a record passes a query's filters (not its cursor, offset or limit).
pub(crate) fn matches(r: &Record, q: &ListQuery) -> bool {
    if q.kind.is_some_and(|k| k != r.kind()) {
        return false;
    }
    let status = match r {
        Record::Trial(t) => t.status.as_str(),
        Record::Job(j) => j.status.as_str(),
        Record::PrecedentSeed(p) => p.status.as_str(),
        other => other.base().map_or("", |b| b.status.as_str()),
    };
    if q.status.is_some_and(|s| s.as_str() != status) {
        return false;
    }
    let eq = |want: &Option<Uuid>, have: Option<Uuid>| want.is_none() || *want == have;
    match r {
        Record::Industry(_) => {}
        Record::Skill(e) => {
            if q.category.is_some_and(|c| c != e.body.category) {
                return false;
            }
        }
        Record::JobRole(e) => {
            if q.seniority_level
                .is_some_and(|s| s != e.body.seniority_level)
                || !eq(&q.industry_id, e.body.industry_id)
                || q.skill_id
                    .is_some_and(|s| !e.body.required_skills.contains(&s))
            {
                return false;
            }
        }
        Record::Team(e) => {
            if !eq(&q.industry_id, e.body.industry_id)
                || !eq(&q.job_role_id, Some(e.body.job_role_id))
            {
                return false;
            }
        }
        Record::Agent(e) => {
            if !eq(&q.industry_id, Some(e.body.industry_id))
                || !eq(&q.job_role_id, Some(e.body.job_role_id))
                || !eq(&q.skill_id, Some(e.body.skill_id))
                || !eq(&q.team_id, e.body.team_id)
            {
                return false;
            }
        }
        Record::Trial(t) => {
            if !eq(&q.agent_id, Some(t.agent_id))
                || q.customer_email
                    .as_deref()
                    .is_some_and(|m| m != t.customer_email.as_str())
            {
                return false;
            }
        }
        Record::Job(j) => {
            if !eq(&q.agent_id, Some(j.agent_id)) || !eq(&q.trial_id, j.trial_id) {
                return false;
            }
        }
        Record::PrecedentSeed(_) => {}
    }
    true
}

/// The kinds search covers when the filter names none.
pub(crate) const SEARCHED: &[Kind] = &[Kind::Industry, Kind::Skill, Kind::JobRole, Kind::Agent];

/// The kinds that keep an embedding: the searched kinds and precedent seeds (searched only when
/// a filter names them).
pub(crate) const EMBEDDED: &[Kind] = &[
    Kind::Industry,
    Kind::Skill,
    Kind::JobRole,
    Kind::Agent,
    Kind::PrecedentSeed,
];

/// A ranking of `(score, record)`: best first, ties by id, cut at `depth`.
fn ranked(mut list: Vec<(f32, &Record)>, depth: usize) -> Vec<(f32, &Record)> {
    list.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id().cmp(&b.1.id())));
    list.truncate(depth);
    list
}

/// Whether a record passes a search filter's status and industry (not its kinds).
fn passes(r: &Record, filter: &SearchFilter) -> bool {
    filter
        .status
        .is_none_or(|s| status_of(r) == Some(s.as_str()))
        && filter.industry_id.is_none_or(|ind| match r {
            Record::Industry(e) => e.base.id == ind,
            Record::JobRole(e) => e.body.industry_id == Some(ind),
            Record::Agent(e) => e.body.industry_id == ind,
            _ => false,
        })
}

/// The name and description full-text search reads (the columns of PostgreSQL's `search_text`).
fn lexical_fields(r: &Record) -> Option<(&str, &str)> {
    match r {
        Record::Industry(e) => Some((e.body.name.as_str(), e.body.description.as_str())),
        Record::Skill(e) => Some((e.body.name.as_str(), e.body.description.as_str())),
        Record::JobRole(e) => Some((e.body.name.as_str(), e.body.description.as_str())),
        Record::Agent(e) => Some((e.body.name.as_str(), e.body.description.as_str())),
        _ => None,
    }
}

/// A record's status by wire name, for search filters.
fn status_of(r: &Record) -> Option<&'static str> {
    match r {
        Record::PrecedentSeed(p) => Some(p.status.as_str()),
        other => other.base().map(|b| b.status.as_str()),
    }
}

/// The label a search hit carries: the name, or a precedent seed's `seed_id`.
fn label_of(r: &Record) -> String {
    match r {
        Record::PrecedentSeed(p) => p.seed_id.as_str().to_owned(),
        other => other
            .name()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn commit(&self, change: Change) -> StoreResult<Committed> {
        let committed = {
            let mut inner = self.lock();
            inner.apply(change).map(|(committed, _)| committed)?
        };
        self.signal.send_replace(committed.entry.seq);
        Ok(committed)
    }

    async fn commit_all(&self, changes: Vec<Change>) -> StoreResult<Vec<Committed>> {
        let mut inner = self.lock();
        let mut done = Vec::with_capacity(changes.len());
        let mut undo = Vec::with_capacity(changes.len());
        for change in changes {
            match inner.apply(change) {
                Ok((c, u)) => {
                    done.push(c);
                    undo.push(u);
                }
                Err(e) => {
                    for u in undo.into_iter().rev() {
                        inner.undo(u);
                    }
                    return Err(e);
                }
            }
        }
        drop(inner);
        if let Some(last) = done.last() {
            self.signal.send_replace(last.entry.seq);
        }
        Ok(done)
    }

    async fn get(&self, kind: Option<Kind>, id: Uuid) -> StoreResult<Option<Record>> {
        let inner = self.lock();
        Ok(inner
            .records
            .get(&id)
            .filter(|r| kind.is_none_or(|k| r.kind() == k))
            .cloned())
    }

    async fn external_id_owner(&self, external_id: &str) -> StoreResult<Option<Uuid>> {
        Ok(self.lock().external_ids.get(external_id).copied())
    }

    async fn get_by_name(&self, kind: Kind, name: &str) -> StoreResult<Option<Record>> {
        let inner = self.lock();
        let key = match kind {
            Kind::PrecedentSeed => (kind, name.trim().to_ascii_uppercase()),
            _ => match Name::parse(name) {
                Ok(name) => (kind, name.unique_key(kind)),
                Err(_) => return Ok(None),
            },
        };
        Ok(inner
            .names
            .get(&key)
            .and_then(|id| inner.records.get(id))
            .cloned())
    }

    async fn list(&self, query: &ListQuery) -> StoreResult<Vec<Record>> {
        let inner = self.lock();
        let mut rows: Vec<&Record> = inner
            .matching(query)
            .filter(|r| {
                query
                    .after
                    .is_none_or(|after| (r.created_at(), r.id()) > after)
            })
            .collect();
        rows.sort_by_key(|r| (r.created_at(), r.id()));
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        Ok(rows.into_iter().skip(offset).take(limit).cloned().collect())
    }

    async fn count(&self, query: &ListQuery) -> StoreResult<u64> {
        let inner = self.lock();
        Ok(inner.matching(query).count() as u64)
    }

    async fn entity_entries(&self, id: Uuid) -> StoreResult<Vec<AuditEntry>> {
        let inner = self.lock();
        Ok(inner
            .by_entity
            .get(&id)
            .map(|idx| idx.iter().map(|i| inner.entries[*i].clone()).collect())
            .unwrap_or_default())
    }

    async fn audit_entries(&self, after: u64, limit: u64) -> StoreResult<Vec<AuditEntry>> {
        let inner = self.lock();
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(inner.entries.len());
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(inner.entries[start..].iter().take(limit).cloned().collect())
    }

    async fn head(&self) -> StoreResult<Head> {
        Ok(self.lock().head())
    }

    fn webhooks(&self) -> Option<&dyn crate::webhooks::WebhookStore> {
        Some(self)
    }

    async fn audit_signal(&self) -> StoreResult<Option<watch::Receiver<u64>>> {
        Ok(Some(self.signal.subscribe()))
    }

    async fn add_checkpoint(&self, checkpoint: Checkpoint) -> StoreResult<()> {
        let mut inner = self.lock();
        if inner
            .checkpoints
            .iter()
            .any(|c| c.seq == checkpoint.seq && c.public_key == checkpoint.public_key)
        {
            return Ok(());
        }
        inner.checkpoints.push(checkpoint);
        inner.checkpoints.sort_by_key(|c| c.seq);
        Ok(())
    }

    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        Ok(self.lock().checkpoints.clone())
    }

    /// Verifies a copy of the chain, checkpoints and rows taken under one lock: one moment, as
    /// on PostgreSQL, so a commit landing while it runs is not taken for a break.
    async fn verify(&self, trusted_keys: &[String]) -> StoreResult<crate::audit::VerifyReport> {
        let copy = {
            let inner = self.lock();
            MemoryStore {
                inner: Mutex::new(Inner {
                    records: inner.records.clone(),
                    entries: inner.entries.clone(),
                    checkpoints: inner.checkpoints.clone(),
                    ..Inner::default()
                }),
                ..MemoryStore::default()
            }
        };
        crate::store::verify_from(&mut crate::store::ReadThrough(&copy), trusted_keys).await
    }

    async fn add_tree_checkpoint(&self, checkpoint: StoredTreeCheckpoint) -> StoreResult<()> {
        let mut inner = self.lock();
        if !inner
            .tree_checkpoints
            .iter()
            .any(|c| c.note == checkpoint.note)
        {
            inner.tree_checkpoints.push(checkpoint);
        }
        Ok(())
    }

    async fn tree_checkpoints(&self) -> StoreResult<Vec<StoredTreeCheckpoint>> {
        Ok(self.lock().tree_checkpoints.clone())
    }

    async fn search(
        &self,
        query: &Embedding,
        filter: &SearchFilter,
        k: usize,
    ) -> StoreResult<Vec<SearchHit>> {
        let inner = self.lock();
        let kinds: &[Kind] = if filter.kinds.is_empty() {
            SEARCHED
        } else {
            &filter.kinds
        };
        let mut hits: Vec<SearchHit> = inner
            .embeddings
            .iter()
            .filter_map(|(id, e)| inner.records.get(id).map(|r| (r, e)))
            .filter(|(r, _)| kinds.contains(&r.kind()) && passes(r, filter))
            .map(|(r, e)| SearchHit {
                kind: r.kind(),
                id: r.id(),
                name: label_of(r),
                score: query.cosine(&e.vector),
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(k);
        Ok(hits)
    }

    async fn search_fused(
        &self,
        query: &FusedQuery,
        filter: &SearchFilter,
        k: usize,
    ) -> StoreResult<Vec<SearchHit>> {
        let inner = self.lock();
        let depth = k.max(FUSION_DEPTH);
        let candidates: Vec<&Record> = inner
            .records
            .values()
            .filter(|r| SEARCHED.contains(&r.kind()))
            .filter(|r| filter.kinds.is_empty() || filter.kinds.contains(&r.kind()))
            .filter(|r| passes(r, filter))
            .collect();
        let semantic = match &query.embedding {
            Some(q) => ranked(
                candidates
                    .iter()
                    .filter_map(|r| {
                        inner
                            .embeddings
                            .get(&r.id())
                            .map(|e| (q.cosine(&e.vector), *r))
                    })
                    .collect(),
                depth,
            ),
            None => Vec::new(),
        };
        let lexical = ranked(
            candidates
                .iter()
                .filter_map(|r| {
                    let (name, description) = lexical_fields(r)?;
                    let rank = LexicalDoc::new(name, description).rank(&query.terms);
                    (rank > 0.0).then_some((rank, *r))
                })
                .collect(),
            depth,
        );
        let records: HashMap<Uuid, &Record> = semantic
            .iter()
            .chain(&lexical)
            .map(|(_, r)| (r.id(), *r))
            .collect();
        let hits = if query.embedding.is_some() {
            let sem_ids: Vec<Uuid> = semantic.iter().map(|(_, r)| r.id()).collect();
            let lex_ids: Vec<Uuid> = lexical.iter().map(|(_, r)| r.id()).collect();
            lexical::fuse(&[&sem_ids, &lex_ids])
                .into_iter()
                .map(|(id, score)| (id, score as f32))
                .collect::<Vec<_>>()
        } else {
            lexical.iter().map(|(rank, r)| (r.id(), *rank)).collect()
        };
        Ok(hits
            .into_iter()
            .take(k)
            .filter_map(|(id, score)| {
                records.get(&id).map(|r| SearchHit {
                    kind: r.kind(),
                    id,
                    name: label_of(r),
                    score,
                })
            })
            .collect())
    }

    async fn stale_embeddings(&self, model: &str, limit: u64) -> StoreResult<Vec<StaleEmbedding>> {
        let inner = self.lock();
        let mut stale: Vec<(_, StaleEmbedding)> = inner
            .records
            .values()
            .filter(|r| EMBEDDED.contains(&r.kind()))
            .filter(|r| {
                inner
                    .embeddings
                    .get(&r.id())
                    .is_none_or(|e| e.model != model)
            })
            .map(|r| {
                (
                    (r.created_at(), r.id()),
                    StaleEmbedding {
                        kind: r.kind(),
                        id: r.id(),
                    },
                )
            })
            .collect();
        stale.sort_by_key(|(k, _)| *k);
        Ok(stale
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(_, s)| s)
            .collect())
    }

    async fn put_embedding(
        &self,
        kind: Kind,
        id: Uuid,
        embedding: StoredEmbedding,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        if inner.records.get(&id).is_none_or(|r| r.kind() != kind) {
            return Err(StoreError::NotFound { kind, id });
        }
        if !EMBEDDED.contains(&kind) {
            return Err(StoreError::InvalidChange(Cause::from(format!(
                "a {kind} has no embedding"
            ))));
        }
        inner.embeddings.insert(id, embedding);
        Ok(())
    }

    async fn put_embedding_at(
        &self,
        kind: Kind,
        id: Uuid,
        version: u64,
        embedding: StoredEmbedding,
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        let current = inner
            .records
            .get(&id)
            .is_some_and(|r| r.kind() == kind && r.version() == version);
        if current && EMBEDDED.contains(&kind) {
            inner.embeddings.insert(id, embedding);
        }
        Ok(current && EMBEDDED.contains(&kind))
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}
