//! Where records live: the [`Store`] trait, with one write path ([`Store::commit`]) that writes
//! a record and its audit entry atomically, and two implementations that behave the same — an
//! in-memory one ([`MemoryStore`]) and PostgreSQL (`postgres::PgStore`, feature `postgres`).
//!
//! Both enforce what the database schema enforces: case-insensitive unique names per kind,
//! references that must exist, an agent's industry that cannot change, the trial and job status
//! machines, and optimistic versions. The conformance story in `conformance` (feature
//! `testing`) runs against every implementation.

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Timestamp;
use crate::audit::{
    AuditEntry, ChainVerifier, Checkpoint, Hash, Head, NewEntry, StoredTreeCheckpoint, VerifyReport,
};
pub use crate::error::Cause;
use crate::model::{
    Category, JobStatus, Kind, PrecedentStatus, Record, Seniority, Status, TrialStatus,
    UnknownValue,
};
use crate::search::Embedding;

mod action;
mod turn;

pub use action::Action;
pub use memory::MemoryStore;
pub(crate) use memory::{check_transition, matches, name_key};
pub use turn::{HeldTurn, VectorTurn};

/// What went wrong in a store. Constraint failures are reported by what they protect, so that
/// callers never need a racy pre-check.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No record of that kind with that id.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Its kind.
        kind: Kind,
        /// Its id.
        id: Uuid,
    },
    /// A unique value is taken (a name, an external id, an id).
    #[error("a {kind} with this {field} already exists")]
    Duplicate {
        /// The kind.
        kind: Kind,
        /// The field that must be unique.
        field: &'static str,
    },
    /// A referenced record does not exist (or is of another kind).
    #[error("{field} refers to a {target} that does not exist")]
    MissingReference {
        /// The kind of the record that makes the reference.
        kind: Kind,
        /// The referencing field.
        field: &'static str,
        /// The kind it must refer to.
        target: Kind,
    },
    /// The record changed since the version the caller read.
    #[error("{kind} {id} is at version {actual}, not {expected}")]
    VersionConflict {
        /// Its kind.
        kind: Kind,
        /// Its id.
        id: Uuid,
        /// The version the caller expected.
        expected: u64,
        /// The version it is at.
        actual: u64,
    },
    /// A field that cannot change was changed.
    #[error("{field} cannot change once set")]
    Immutable {
        /// The field.
        field: &'static str,
    },
    /// A status change the kind's state machine does not allow.
    #[error("a {kind} cannot go from {from} to {to}")]
    InvalidTransition {
        /// The kind.
        kind: Kind,
        /// The status it is in.
        from: String,
        /// The status asked for.
        to: String,
    },
    /// The change itself is malformed (wrong kind for the id, a float in the payload, …).
    #[error("invalid change: {0}")]
    InvalidChange(#[source] Cause),
    /// The store cannot be reached now; the same call may succeed later.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// Anything else.
    #[error("store failure: {0}")]
    Internal(#[source] Cause),
}

/// A result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// A vector kept with a record, and the model that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEmbedding {
    /// The embedder's model id.
    pub model: String,
    /// The vector.
    pub vector: Embedding,
}

/// One change: a record as it is after the change, and what the audit entry records.
#[derive(Debug, Clone)]
pub struct Change {
    /// The record after the change. The store sets its version (and the chain-derived fields).
    pub record: Record,
    /// `None` to create; otherwise the version the caller read (optimistic concurrency).
    pub expected_version: Option<u64>,
    /// What happened: `create`, `update`, `certify`, `reject`, `archive`, `assign_team`, …
    pub action: Action,
    /// Who did it.
    pub actor: String,
    /// The record's new embedding, for the kinds that are searched. `None` keeps the old one.
    pub embedding: Option<StoredEmbedding>,
    /// Drop the record's embedding in the same commit (its text changed and its vector will be
    /// computed after the commit): search never ranks a record by a vector of another text.
    pub clear_embedding: bool,
}

impl Change {
    /// A creation.
    pub fn create(record: impl Into<Record>, actor: &str) -> Self {
        Self {
            record: record.into(),
            expected_version: None,
            action: Action::Create,
            actor: actor.into(),
            embedding: None,
            clear_embedding: false,
        }
    }

    /// An update of a record read at `expected_version`.
    pub fn update(
        record: impl Into<Record>,
        expected_version: u64,
        action: Action,
        actor: &str,
    ) -> Self {
        Self {
            record: record.into(),
            expected_version: Some(expected_version),
            action,
            actor: actor.into(),
            embedding: None,
            clear_embedding: false,
        }
    }

    /// The same change, with an embedding to store.
    pub fn with_embedding(mut self, embedding: Option<StoredEmbedding>) -> Self {
        self.embedding = embedding;
        self
    }

    /// The same change, dropping the record's embedding (see [`Change::clear_embedding`]).
    pub fn clearing_embedding(mut self) -> Self {
        self.clear_embedding = true;
        self
    }
}

/// Gives a record its next version and makes the audit entry that will record it: what every
/// store does before it writes the record. The store then appends the entry after its locked
/// head (`Head::append`) and applies it to the record (`Record::apply_entry`).
pub(crate) fn next_entry(
    record: &mut Record,
    expected_version: Option<u64>,
    action: &Action,
    actor: String,
) -> StoreResult<NewEntry> {
    let version = match expected_version {
        None => 1,
        Some(v) => v
            .checked_add(1)
            .ok_or_else(|| StoreError::InvalidChange(Cause::from("version overflow")))?,
    };
    record.set_version(version);
    let payload = record
        .audit_payload()
        .map_err(|e| StoreError::InvalidChange(Cause::from(e.to_string())))?;
    Ok(NewEntry {
        entity_id: record.id(),
        entity_type: record.kind().as_str().to_owned(),
        entity_version: version,
        action: action.to_string(),
        actor,
        at: record.updated_at(),
        payload,
    })
}

/// A committed change: the record as stored and its audit entry.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The record, with its new version and version hash.
    pub record: Record,
    /// The audit entry appended for it.
    pub entry: AuditEntry,
}

/// Filters for [`Store::list`]; unset fields do not filter. Results are ordered by
/// `(created_at, id)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// The kind to list.
    pub kind: Option<Kind>,
    /// The status records must have (of the set their kind uses).
    pub status: Option<StatusFilter>,
    /// Skills: the category.
    pub category: Option<Category>,
    /// Job roles: the seniority.
    pub seniority_level: Option<Seniority>,
    /// Agents, teams, job roles: industry.
    pub industry_id: Option<Uuid>,
    /// Agents, teams: job role.
    pub job_role_id: Option<Uuid>,
    /// Agents: skill. Job roles: required skill.
    pub skill_id: Option<Uuid>,
    /// Agents: team.
    pub team_id: Option<Uuid>,
    /// Trials, jobs: agent.
    pub agent_id: Option<Uuid>,
    /// Jobs: trial.
    pub trial_id: Option<Uuid>,
    /// Trials: customer e-mail (lowercase).
    pub customer_email: Option<String>,
    /// Keyset cursor: only records after this `(created_at, id)`.
    pub after: Option<(Timestamp, Uuid)>,
    /// Skip this many (after the cursor).
    pub offset: u64,
    /// At most this many.
    pub limit: u64,
}

/// A status to filter a list by: each kind has its own set, so a filter is one of them. Parse it
/// at the edge with [`StatusFilter::parse`] (the kind decides the set), or convert a status
/// already parsed (`Status::Active.into()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusFilter {
    /// A catalog entity's lifecycle status.
    Catalog(Status),
    /// A trial's status.
    Trial(TrialStatus),
    /// A job's status.
    Job(JobStatus),
    /// A precedent seed's status.
    Precedent(PrecedentStatus),
}

impl StatusFilter {
    /// Parses `text` (the wire spelling) in the status set of `kind`.
    ///
    /// ```
    /// use plant_core::model::{Kind, Status, TrialStatus};
    /// use plant_core::store::StatusFilter;
    /// assert_eq!(StatusFilter::parse(Kind::Agent, "active"), Ok(Status::Active.into()));
    /// assert_eq!(StatusFilter::parse(Kind::Trial, "expired"), Ok(TrialStatus::Expired.into()));
    /// assert!(StatusFilter::parse(Kind::Agent, "expired").is_err());
    /// ```
    pub fn parse(kind: Kind, text: &str) -> Result<Self, UnknownValue> {
        Ok(match kind {
            Kind::Trial => Self::Trial(text.parse()?),
            Kind::Job => Self::Job(text.parse()?),
            Kind::PrecedentSeed => Self::Precedent(text.parse()?),
            _ => Self::Catalog(text.parse()?),
        })
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Catalog(s) => s.as_str(),
            Self::Trial(s) => s.as_str(),
            Self::Job(s) => s.as_str(),
            Self::Precedent(s) => s.as_str(),
        }
    }
}

impl From<Status> for StatusFilter {
    fn from(s: Status) -> Self {
        Self::Catalog(s)
    }
}

impl From<TrialStatus> for StatusFilter {
    fn from(s: TrialStatus) -> Self {
        Self::Trial(s)
    }
}

impl From<JobStatus> for StatusFilter {
    fn from(s: JobStatus) -> Self {
        Self::Job(s)
    }
}

impl From<PrecedentStatus> for StatusFilter {
    fn from(s: PrecedentStatus) -> Self {
        Self::Precedent(s)
    }
}

impl ListQuery {
    /// All records of one kind, first page of `limit`.
    pub fn of(kind: Kind, limit: u64) -> Self {
        Self {
            kind: Some(kind),
            limit,
            ..Self::default()
        }
    }
}

/// Filters for [`Store::search`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    /// Only these kinds (empty: every searched kind: industries, skills, job roles, agents).
    pub kinds: Vec<Kind>,
    /// Only this status (default: any).
    pub status: Option<StatusFilter>,
    /// Only agents / job roles of this industry (and the industry itself).
    pub industry_id: Option<Uuid>,
}

/// How search ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Full-text and vector rankings fused by reciprocal rank fusion ([`Store::search_fused`]).
    #[default]
    Hybrid,
    /// Vector similarity alone ([`Store::search`]).
    Semantic,
    /// Full-text alone ([`Store::search_fused`] without an embedding).
    Lexical,
}

impl SearchMode {
    /// Every mode, by wire name.
    pub const ALL: [Self; 3] = [Self::Hybrid, Self::Semantic, Self::Lexical];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::Semantic => "semantic",
            Self::Lexical => "lexical",
        }
    }
}

impl std::fmt::Display for SearchMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SearchMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("unknown search mode {s:?} (expected hybrid, semantic or lexical)")
            })
    }
}

/// A query for [`Store::search_fused`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FusedQuery {
    /// Full-text terms ([`crate::search::query_terms`]); empty: no full-text ranking.
    pub terms: Vec<String>,
    /// The query's embedding; `None`: no vector ranking (lexical search).
    pub embedding: Option<Embedding>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// Its kind.
    pub kind: Kind,
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Higher is closer. Semantic search: cosine similarity, in [-1, 1]. Hybrid: the reciprocal
    /// rank fusion score `Σ 1 / (60 + rank)`, at most 2/61. Lexical: PostgreSQL's `ts_rank`.
    pub score: f32,
}

/// A record whose stored embedding was made by another model than the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleEmbedding {
    /// Its kind.
    pub kind: Kind,
    /// Its id.
    pub id: Uuid,
}

/// A vector for a record at one version ([`Store::put_embeddings_at`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingAt {
    /// The record's kind.
    pub kind: Kind,
    /// Its id.
    pub id: Uuid,
    /// The version whose text the vector was computed from.
    pub version: u64,
    /// The vector.
    pub embedding: StoredEmbedding,
}

/// Connections of a store's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open now (in use and idle).
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// The storage contract. Every mutation goes through [`Store::commit`] or
/// [`Store::commit_all`]; nothing writes a record without its audit entry.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Writes the record and appends its audit entry, atomically. For an update the stored
    /// version must equal `expected_version` ([`StoreError::VersionConflict`] otherwise, and
    /// nothing is written). Returns the record as stored and its entry.
    async fn commit(&self, change: Change) -> StoreResult<Committed>;

    /// Several changes in one transaction, in order: all are written, or none.
    async fn commit_all(&self, changes: Vec<Change>) -> StoreResult<Vec<Committed>>;

    /// A record by id (of any kind when `kind` is `None`).
    async fn get(&self, kind: Option<Kind>, id: Uuid) -> StoreResult<Option<Record>>;

    /// A catalog record by its name, compared by [`crate::model::unique_key`] (the key names are
    /// unique by), or a precedent seed by its seed id.
    async fn get_by_name(&self, kind: Kind, name: &str) -> StoreResult<Option<Record>>;

    /// The id of the catalog record holding `external_id` (unique across every kind), if any.
    async fn external_id_owner(&self, external_id: &str) -> StoreResult<Option<Uuid>>;

    /// The names of the catalog records of `kind` among `ids` that exist (others are left out),
    /// in one call: what a list response needs to name the records it references.
    async fn names(
        &self,
        kind: Kind,
        ids: &[Uuid],
    ) -> StoreResult<std::collections::HashMap<Uuid, String>> {
        let mut names = std::collections::HashMap::with_capacity(ids.len());
        for id in ids {
            if names.contains_key(id) {
                continue;
            }
            if let Some(name) = self
                .get(Some(kind), *id)
                .await?
                .and_then(|r| r.name().cloned())
            {
                names.insert(*id, name.as_str().to_owned());
            }
        }
        Ok(names)
    }

    /// Records matching a query, ordered by `(created_at, id)`.
    async fn list(&self, query: &ListQuery) -> StoreResult<Vec<Record>>;

    /// [`Store::list`] as shared records, for a reader that only looks at them: a store that
    /// keeps its records shared (the read model) hands them out without copying each one; the
    /// default wraps what `list` answers.
    async fn list_shared(&self, query: &ListQuery) -> StoreResult<Vec<std::sync::Arc<Record>>> {
        Ok(self
            .list(query)
            .await?
            .into_iter()
            .map(std::sync::Arc::new)
            .collect())
    }

    /// How many records match a query (ignoring its cursor, offset and limit).
    async fn count(&self, query: &ListQuery) -> StoreResult<u64>;

    /// One record's audit entries, oldest first.
    async fn entity_entries(&self, id: Uuid) -> StoreResult<Vec<AuditEntry>>;

    /// Audit entries with `seq > after`, in order, at most `limit`.
    async fn audit_entries(&self, after: u64, limit: u64) -> StoreResult<Vec<AuditEntry>>;

    /// The chain's head (`Head::GENESIS` when empty).
    async fn head(&self) -> StoreResult<Head>;

    /// Stores a signed checkpoint.
    async fn add_checkpoint(&self, checkpoint: Checkpoint) -> StoreResult<()>;

    /// Every stored checkpoint, by seq.
    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>>;

    /// `(seq, link hash)` of the entries with `seq > after`, in order, at most `limit`: the
    /// transparency log's leaves, without the payloads.
    async fn audit_hashes(&self, after: u64, limit: u64) -> StoreResult<Vec<(u64, Hash)>> {
        Ok(self
            .audit_entries(after, limit)
            .await?
            .into_iter()
            .map(|e| (e.seq, e.hash))
            .collect())
    }

    /// Stores a signed C2SP tree checkpoint (the same note twice is stored once).
    async fn add_tree_checkpoint(&self, checkpoint: StoredTreeCheckpoint) -> StoreResult<()>;

    /// Every stored tree checkpoint, oldest first.
    async fn tree_checkpoints(&self) -> StoreResult<Vec<StoredTreeCheckpoint>>;

    /// The newest stored tree checkpoint.
    async fn latest_tree_checkpoint(&self) -> StoreResult<Option<StoredTreeCheckpoint>> {
        Ok(self.tree_checkpoints().await?.pop())
    }

    /// The most recently signed checkpoint, if any (what monitoring reads on every scrape; stores
    /// answer it without loading every checkpoint).
    async fn newest_checkpoint(&self) -> StoreResult<Option<Checkpoint>> {
        Ok(self
            .checkpoints()
            .await?
            .into_iter()
            .max_by_key(|c| c.signed_at))
    }

    /// The `k` records closest in meaning to `query` that pass `filter`, closest first.
    async fn search(
        &self,
        query: &Embedding,
        filter: &SearchFilter,
        k: usize,
    ) -> StoreResult<Vec<SearchHit>>;

    /// The `k` industries, skills, job roles and agents (other kinds in the filter are ignored)
    /// that pass `filter`, best first, by full-text rank (name weighted above description) fused
    /// with vector similarity by reciprocal rank fusion; by full-text rank alone when the query
    /// has no embedding. Each ranking counts its best `max(k,` [`FUSION_DEPTH`](crate::search::lexical::FUSION_DEPTH)`)` entries; exact ties
    /// go by id. The memory store computes PostgreSQL's ranking as [`crate::search::lexical`]
    /// describes.
    async fn search_fused(
        &self,
        query: &FusedQuery,
        filter: &SearchFilter,
        k: usize,
    ) -> StoreResult<Vec<SearchHit>>;

    /// Records of the searched kinds whose embedding is missing or made by another model.
    async fn stale_embeddings(&self, model: &str, limit: u64) -> StoreResult<Vec<StaleEmbedding>>;

    /// Replaces a record's embedding. An embedding is derived data (from the audited text and
    /// the model), so this is not an audited change.
    async fn put_embedding(
        &self,
        kind: Kind,
        id: Uuid,
        embedding: StoredEmbedding,
    ) -> StoreResult<()>;

    /// Stores a record's embedding only if the record is still at `version` (whose text the
    /// vector was computed from); false when it moved on or is gone. The default reads, then
    /// writes; stores override it with one atomic step.
    async fn put_embedding_at(
        &self,
        kind: Kind,
        id: Uuid,
        version: u64,
        embedding: StoredEmbedding,
    ) -> StoreResult<bool> {
        match self.get(Some(kind), id).await? {
            Some(record) if record.version() == version => {
                self.put_embedding(kind, id, embedding).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// [`Self::put_embedding_at`] for several vectors, one answer each, in order. The default
    /// stores them one by one; PostgreSQL stores them in one transaction (one WAL flush), one
    /// statement per kind, and when it fails stores none.
    async fn put_embeddings_at(&self, vectors: Vec<EmbeddingAt>) -> StoreResult<Vec<bool>> {
        let mut stored = Vec::with_capacity(vectors.len());
        for v in vectors {
            stored.push(
                self.put_embedding_at(v.kind, v.id, v.version, v.embedding)
                    .await?,
            );
        }
        Ok(stored)
    }

    /// For a read model ([`crate::read_model`]): its seq as it moves, with the writes of every
    /// process on the database. `None` for any other store (it would have to listen to the
    /// database for it: [`Store::audit_signal`]).
    fn model_seq(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Waits for the turn to store vectors that every process on this database shares (see
    /// [`VectorTurn`]) and holds it until [`VectorTurn::end`]. The default is
    /// [`VectorTurn::free`]: a store only one process writes needs no turn.
    async fn vector_turn(&self) -> StoreResult<VectorTurn> {
        Ok(VectorTurn::free())
    }

    /// Succeeds when the store can serve requests.
    async fn ping(&self) -> StoreResult<()>;

    /// Wake-ups for change feeds ([`crate::feed`]): a receiver whose value changes (to the
    /// newest head seq the store has heard of) whenever the chain may have grown, through any
    /// writer the store can hear of. `None` when the store cannot signal; feeds then poll.
    async fn audit_signal(&self) -> StoreResult<Option<tokio::sync::watch::Receiver<u64>>> {
        Ok(None)
    }

    /// For a read model ([`crate::read_model`]): the entries it holds past the seq its
    /// [`Store::audit_signal`] gives (this process's own writes, folded before the earlier
    /// entries of other processes are read). Its answers reflect that seq and these, so a tag
    /// of an answer names both. None for any other store.
    fn ahead(&self) -> crate::read_model::Ahead {
        crate::read_model::Ahead::default()
    }

    /// The highest seq this process has committed through this store, where the store keeps
    /// count (a read model does; 0 otherwise): a write's consistency token is at least this.
    fn committed_seq(&self) -> u64 {
        0
    }

    /// The store's webhook subscriptions and delivery log ([`crate::webhooks`]); `None` when it
    /// keeps none.
    fn webhooks(&self) -> Option<&dyn crate::webhooks::WebhookStore> {
        None
    }

    /// True when storing a vector costs an index insert (PostgreSQL's HNSW indexes: milliseconds
    /// of database CPU per vector). The catalog then stores every vector after the write's commit
    /// ([`crate::search::VectorIndexer`]), whatever the embedder; a store without such an index
    /// (the in-memory store) takes a cheap embedder's vector inside the commit.
    fn indexes_vectors(&self) -> bool {
        false
    }

    /// Connection pool usage, for metrics; `None` for a store without a pool.
    fn pool_stats(&self) -> Option<PoolStats> {
        None
    }

    /// Verifies the whole chain, every current record against its latest entry, and the
    /// checkpoints (signed by one of `trusted_keys`, or by the key they carry when empty).
    /// A store that can read all of it as of one moment should (the PostgreSQL store reads
    /// in one repeatable-read transaction): otherwise a change committed between reading the
    /// chain and reading its row looks like a break.
    async fn verify(&self, trusted_keys: &[String]) -> StoreResult<VerifyReport> {
        verify_from(&mut ReadThrough(self), trusted_keys).await
    }
}

/// What [`verify_from`] reads: the checkpoints, the chain page by page, each kind's rows page
/// by page.
#[async_trait]
pub trait VerifySource: Send {
    /// Every checkpoint.
    async fn checkpoints(&mut self) -> StoreResult<Vec<Checkpoint>>;
    /// Up to `limit` entries after `after`, in seq order.
    async fn audit_entries(&mut self, after: u64, limit: u64) -> StoreResult<Vec<AuditEntry>>;
    /// A page of records.
    async fn list(&mut self, query: &ListQuery) -> StoreResult<Vec<Record>>;
}

/// A store's own reads as a [`VerifySource`].
pub(crate) struct ReadThrough<'a, S: ?Sized>(pub(crate) &'a S);

#[async_trait]
impl<S: Store + ?Sized> VerifySource for ReadThrough<'_, S> {
    async fn checkpoints(&mut self) -> StoreResult<Vec<Checkpoint>> {
        self.0.checkpoints().await
    }
    async fn audit_entries(&mut self, after: u64, limit: u64) -> StoreResult<Vec<AuditEntry>> {
        self.0.audit_entries(after, limit).await
    }
    async fn list(&mut self, query: &ListQuery) -> StoreResult<Vec<Record>> {
        self.0.list(query).await
    }
}

/// [`Store::verify`] over what `source` reads.
pub async fn verify_from(
    source: &mut dyn VerifySource,
    trusted_keys: &[String],
) -> StoreResult<VerifyReport> {
    const PAGE: u64 = 10_000;
    let checkpoints = source.checkpoints().await?;
    let mut verifier = ChainVerifier::with_checkpoints(trusted_keys.to_vec(), &checkpoints);
    // Read the whole chain even past a break: the verifier keeps the first break and still
    // learns every entity's latest entry, which the row checks below need.
    let mut after = 0;
    loop {
        let page = source.audit_entries(after, PAGE).await?;
        for entry in &page {
            let _ = verifier.push(entry);
        }
        match page.last() {
            Some(last) if page.len() as u64 == PAGE => after = last.seq,
            _ => break,
        }
    }
    for kind in Kind::ALL {
        let mut query = ListQuery::of(*kind, 1000);
        loop {
            let rows = source.list(&query).await?;
            for row in &rows {
                let payload = row
                    .audit_payload()
                    .map_err(|e| StoreError::Internal(Cause::from(e.to_string())))?;
                let hash = row.version_hash().unwrap_or(crate::audit::Hash::ZERO);
                if let Err(b) = verifier.check_row(row.id(), row.version(), &hash, &payload) {
                    verifier.record_break(b);
                }
            }
            match rows.last() {
                Some(last) if rows.len() as u64 == query.limit => {
                    query.after = Some((last.created_at(), last.id()))
                }
                _ => break,
            }
        }
    }
    Ok(verifier.finish(&[]))
}
