//! The read model: the catalog projected from the audit chain, in memory, per process.
//!
//! [`ReadModelStore`] wraps a [`Store`] (PostgreSQL, in practice) and answers the catalog's
//! reads — lists with their filters, paging and cursors, gets by id and by name, names, external
//! ids — for industries, skills, job roles, teams, agents and precedent seeds from memory. It is
//! built at start from the store (a snapshot of the records, then every entry committed after
//! the snapshot's head) and then advanced by folding audit entries in seq order: an entry's
//! payload is the record after the change, and the fields the chain derives (version hash,
//! amendment history, hash chain) follow from the entry. The store's
//! [`Store::audit_signal`] (on PostgreSQL, `NOTIFY plant_audit` from every writer) says when to
//! read again; a poll every [`ReadModelOptions::poll_interval`] covers a lost notification or
//! a dropped LISTEN connection.
//!
//! Everything else passes through: trials and jobs (customer data, read per customer), the
//! chain, checkpoints, search and verification (which must read the store's rows, not the
//! model's). Writes of the projected kinds pass through and answer only once the model has
//! folded their entry, so a process reads its own writes (a trial or job alone does not wait:
//! its reads go to the store). A process folds the entries it committed itself as the commit
//! returns them, without reading them back. One that comes after another process's entry not
//! yet read is folded ahead when it makes the next version of its record (a record's fold
//! needs only the record before it): the write answers at once and this process's reads
//! show it, while the model's seq stays before the unread entry until the follower has read
//! it ([`ReadModelStore::ahead`] names what is held past the seq, for tags of answers). Only
//! an entry whose record has an earlier version still unread waits for the follower. Other
//! processes see them once the notification arrives;
//! [`ReadModelStore::seq`] names how far the model is, and [`ReadModelStore::wait_for`] waits
//! (bounded) for a given seq — what the server's consistency tokens are made of.
//!
//! The store stays the source of truth: the model is a cache that can always be rebuilt from it.
//! The in-memory store needs no read model (its reads are already memory).
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use plant_core::Catalog;
//! use plant_core::read_model::{ReadModelOptions, ReadModelStore};
//! use plant_core::search::HashingEmbedder;
//! use plant_core::store::{MemoryStore, Store};
//!
//! let model = Arc::new(ReadModelStore::start(Arc::new(MemoryStore::new()), ReadModelOptions::default()).await?);
//! let catalog = Catalog::new(model.clone(), Arc::new(HashingEmbedder));
//! let input = plant_core::input::IndustryInput { name: Some("Retail".into()), ..Default::default() };
//! let industry = catalog.create_industry(&input, "genesis").await?;
//! // The write answered after the model folded its entry: the model has it.
//! assert_eq!(model.seq(), 1);
//! assert!(model.get(None, industry.id()).await?.is_some());
//! # Ok(())
//! # }
//! ```

mod projection;
#[cfg(any(test, feature = "testing"))]
pub mod story;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use projection::Projection;
pub use projection::{PROJECTED, is_projected};

use crate::audit::{AuditEntry, Checkpoint, Hash, Head, StoredTreeCheckpoint, VerifyReport};
use crate::model::{Kind, Record};
use crate::search::Embedding;
use crate::store::{
    Change, Committed, EmbeddingAt, FusedQuery, ListQuery, PoolStats, SearchFilter, SearchHit,
    StaleEmbedding, Store, StoreResult, StoredEmbedding,
};

/// How the model follows the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadModelOptions {
    /// Entries read from the store at a time.
    pub batch: u64,
    /// Reads again after this long without a signal: the most a lost notification delays the
    /// model. Also the pause after a failed read.
    pub poll_interval: Duration,
    /// How long a write waits for the model to fold its entry before it answers anyway (the
    /// write is committed either way; a model that cannot keep up is logged).
    pub write_wait: Duration,
}

impl Default for ReadModelOptions {
    fn default() -> Self {
        Self {
            batch: 1000,
            poll_interval: Duration::from_secs(1),
            write_wait: Duration::from_secs(10),
        }
    }
}

/// What the folding task and the readers share.
#[derive(Default)]
struct Shared {
    projection: RwLock<Projection>,
    /// The seq the model has folded up to, published after each page.
    seq: watch::Sender<u64>,
    /// A write of this process committed: read the chain now, not at the next notification.
    poke: Notify,
    /// Entries this process committed past the model's seq (an entry of another process comes
    /// before them), by seq; each folded ahead when it makes the next version of its record,
    /// and passed once the model's seq reaches it.
    pending: Mutex<BTreeMap<u64, Kept>>,
    /// [`Ahead::digest`] of the entries folded ahead (0: none), set as they change.
    ahead: AtomicU64,
    /// The highest seq this process has committed (0: none yet).
    committed: AtomicU64,
}

/// An entry of this process past the model's seq.
struct Kept {
    entry: AuditEntry,
    /// Of a projected kind: the model folds it into a record.
    projected: bool,
    /// Folded ahead of the entries before it: the model holds its record as of it.
    ahead: bool,
}

/// The most entries of this process kept for folding while the model waits for other
/// processes' entries; beyond that they are read from the store like everyone else's.
const MAX_PENDING: usize = 4096;

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Projection> {
        // Folding never panics half-way through a record (it builds the record, then puts it),
        // so a poisoned lock still guards a consistent projection.
        self.projection
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Projection> {
        self.projection
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Folds entries this process committed without reading them back from the store (see
    /// [`Shared::fold_kept`]) and publishes the seq when it moved. True when the model holds
    /// every record they changed as of them: folded in order, or ahead.
    fn fold_own<'a>(&self, entries: impl IntoIterator<Item = &'a AuditEntry>) -> bool {
        // Copied before the lock: readers wait while it is held.
        let entries: Vec<AuditEntry> = entries.into_iter().cloned().collect();
        if let Some(last) = entries.iter().map(|e| e.seq).max() {
            self.committed.fetch_max(last, Ordering::SeqCst);
        }
        let (before, after, held) = self.fold_kept(entries);
        if after != before {
            self.seq.send_replace(after);
        }
        held
    }

    /// Keeps `entries` (those past the model's seq, up to [`MAX_PENDING`]), folds every kept
    /// entry that now follows the model's seq, and forgets those it has passed. A kept entry
    /// of a catalog record that makes the record's next version is folded ahead: the model's
    /// seq stays where it is (the entries before it are still to be read), but this process's
    /// reads see its own write at once instead of after the follower's next read of the chain.
    /// An entry whose record has an earlier version still to come waits for it.
    ///
    /// Returns the model's seq before and after, and whether the model holds every record the
    /// projected ones of `entries` changed, as of them.
    fn fold_kept(&self, entries: Vec<AuditEntry>) -> (u64, u64, bool) {
        let mut projection = self.write();
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut projected = Vec::new();
        for entry in entries {
            let is_projected = projects(&entry);
            if is_projected {
                projected.push(entry.seq);
            }
            if entry.seq > projection.seq && pending.len() < MAX_PENDING {
                pending.entry(entry.seq).or_insert(Kept {
                    entry,
                    projected: is_projected,
                    ahead: false,
                });
            }
        }
        let before = projection.seq;
        drain_pending(&mut projection, &mut pending);
        fold_ahead(&mut projection, &mut pending);
        self.ahead
            .store(Ahead::of(&pending).digest, Ordering::SeqCst);
        let all_held = projected
            .iter()
            .all(|seq| *seq <= projection.seq || pending.get(seq).is_some_and(|k| k.ahead));
        (before, projection.seq, all_held)
    }
}

/// Whether the model folds `entry` into a record (an entry of a projected kind).
fn projects(entry: &AuditEntry) -> bool {
    entry.entity_type.parse::<Kind>().is_ok_and(is_projected)
}

/// Folds the kept entries that follow the model's seq, and forgets those it has passed.
fn drain_pending(projection: &mut Projection, pending: &mut BTreeMap<u64, Kept>) {
    while let Some(kept) = pending.first_entry() {
        let seq = *kept.key();
        if seq <= projection.seq {
            kept.remove();
        } else if seq == projection.seq + 1
            && (kept.get().ahead || projection.fold(&kept.get().entry).is_ok())
        {
            projection.seq = seq;
            kept.remove();
        } else {
            // A gap (another process's entries, read by the follower), or an entry that does
            // not fold (the follower reads its record from the store).
            break;
        }
    }
}

/// Folds ahead, in seq order, every kept entry of a projected kind that makes the next version
/// of its record.
fn fold_ahead(projection: &mut Projection, pending: &mut BTreeMap<u64, Kept>) {
    for kept in pending.values_mut() {
        if !kept.ahead
            && kept.projected
            && projection.follows(&kept.entry)
            && projection.fold(&kept.entry).is_ok()
        {
            kept.ahead = true;
        }
    }
}

/// The entries a model holds past its seq (its process's own, folded ahead).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ahead {
    /// 0 when there are none; else a digest of their seqs (FNV-1a over each seq's bytes), the
    /// same in every process holding the same ones, so that a tag made of the model's seq and
    /// this names the same records wherever it is made.
    pub digest: u64,
}

impl Ahead {
    fn of(pending: &BTreeMap<u64, Kept>) -> Self {
        let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
        let mut any = false;
        for (seq, _) in pending.iter().filter(|(_, kept)| kept.ahead) {
            any = true;
            for byte in seq.to_le_bytes() {
                digest ^= u64::from(byte);
                digest = digest.wrapping_mul(0x0100_0000_01b3);
            }
        }
        // 0 is kept for "none": a digest that comes out 0 is moved off it.
        let digest = match (any, digest) {
            (false, _) => 0,
            (true, 0) => 1,
            (true, d) => d,
        };
        Self { digest }
    }
}

/// A [`Store`] whose catalog reads come from an in-memory projection of the audit chain (see
/// the [module documentation](self)).
pub struct ReadModelStore {
    inner: Arc<dyn Store>,
    shared: Arc<Shared>,
    options: ReadModelOptions,
    follower: tokio::task::AbortHandle,
}

impl std::fmt::Debug for ReadModelStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModelStore")
            .field("inner", &self.inner)
            .field("seq", &self.seq())
            .field("records", &self.shared.read().len())
            .finish_non_exhaustive()
    }
}

impl Drop for ReadModelStore {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl ReadModelStore {
    /// Builds the model from `inner` (its records, then the entries committed while they were
    /// read) and starts following the chain. Must run inside a Tokio runtime.
    pub async fn start(inner: Arc<dyn Store>, options: ReadModelOptions) -> StoreResult<Self> {
        let options = ReadModelOptions {
            batch: options.batch.max(1),
            ..options
        };
        // Subscribe before the snapshot: a commit after it then changes the signal.
        let signal = inner.audit_signal().await?;
        let projection = snapshot(inner.as_ref()).await?;
        let shared = Arc::new(Shared {
            seq: watch::Sender::new(projection.seq),
            projection: RwLock::new(projection),
            poke: Notify::new(),
            pending: Mutex::default(),
            ahead: AtomicU64::new(0),
            committed: AtomicU64::new(0),
        });
        loop {
            let after = *shared.seq.borrow();
            let page = inner.audit_entries(after, options.batch).await?;
            if page.is_empty() {
                break;
            }
            fold_page(inner.as_ref(), &shared, &page).await?;
        }
        tracing::info!(
            seq = shared.read().seq,
            records = shared.read().len(),
            "read model built"
        );
        let follower = tokio::spawn(follow(inner.clone(), shared.clone(), signal, options));
        Ok(Self {
            inner,
            shared,
            options,
            follower: follower.abort_handle(),
        })
    }

    /// The seq the model has folded up to: every answer it gives includes every entry up to it.
    pub fn seq(&self) -> u64 {
        *self.shared.seq.borrow()
    }

    /// The entries the model holds past its seq: this process's own, folded ahead of other
    /// processes' entries before them that it has not read yet.
    pub fn ahead(&self) -> Ahead {
        Ahead {
            digest: self.shared.ahead.load(Ordering::SeqCst),
        }
    }

    /// A receiver of [`ReadModelStore::seq`], changing as the model advances.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.seq.subscribe()
    }

    /// Waits until the model has folded `seq`, at most `timeout`; true when it has.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        if self.seq() >= seq {
            return true;
        }
        // The entry may be committed already (by another process, or a write of this one):
        // read the chain now rather than at the next notification.
        self.shared.poke.notify_one();
        let mut receiver = self.subscribe();
        matches!(
            tokio::time::timeout(timeout, receiver.wait_for(|s| *s >= seq)).await,
            Ok(Ok(_))
        )
    }

    /// How many records the model holds.
    pub fn len(&self) -> usize {
        self.shared.read().len()
    }

    /// True when the model holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The store underneath.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    async fn folded(&self, seq: u64) {
        if !self.wait_for(seq, self.options.write_wait).await {
            tracing::warn!(
                seq,
                model_seq = self.seq(),
                "the read model did not fold a write of this process in time; answering anyway"
            );
        }
    }
}

/// Every record of the projected kinds, as the store holds them now, and the head read before
/// them (so every entry after it is folded afterwards; an entry for a version the snapshot
/// already holds is skipped).
async fn snapshot(store: &dyn Store) -> StoreResult<Projection> {
    const PAGE: u64 = 1000;
    let mut projection = Projection::default();
    projection.seq = store.head().await?.seq;
    for kind in PROJECTED {
        let mut query = ListQuery::of(*kind, PAGE);
        loop {
            let rows = store.list(&query).await?;
            let full = rows.len() as u64 == PAGE;
            let last = rows.last().map(|r| (r.created_at(), r.id()));
            for row in rows {
                projection.put(row);
            }
            match last {
                Some(after) if full => query.after = Some(after),
                _ => break,
            }
        }
    }
    Ok(projection)
}

/// Follows the chain until the model is dropped: reads every entry after the model's seq, folds
/// them, publishes the new seq; then waits for a signal, a poke or the poll interval. A
/// notification of a head the model has reached already (this process's own writes, folded as
/// they committed) reads nothing.
async fn follow(
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    mut signal: Option<watch::Receiver<u64>>,
    options: ReadModelOptions,
) {
    // The highest head notified so far.
    let mut notified = signal.as_mut().map_or(0, |s| *s.borrow_and_update());
    loop {
        let after = *shared.seq.borrow();
        match store.audit_entries(after, options.batch).await {
            Ok(page) if !page.is_empty() => {
                // A short page ended at the head as it was when read: what commits after it
                // comes with a notification or a poke, so there is nothing more to read now.
                let full = page.len() as u64 >= options.batch;
                match fold_page(store.as_ref(), &shared, &page).await {
                    Ok(()) if full => continue,
                    Ok(()) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "read model cannot fold; retrying");
                    }
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "read model cannot read the chain; retrying");
                tokio::time::sleep(options.poll_interval).await;
                continue;
            }
        }
        loop {
            let woken = match &mut signal {
                Some(receiver) => tokio::select! {
                    changed = receiver.changed() => match changed {
                        Ok(()) => Wake::Notified(*receiver.borrow_and_update()),
                        Err(_) => Wake::Lost,
                    },
                    () = shared.poke.notified() => Wake::Read,
                    () = tokio::time::sleep(options.poll_interval) => Wake::Read,
                },
                None => tokio::select! {
                    () = shared.poke.notified() => Wake::Read,
                    () = tokio::time::sleep(options.poll_interval) => Wake::Read,
                },
            };
            match woken {
                // A new head the model holds already: nothing to read.
                Wake::Notified(head) if head > notified && head <= *shared.seq.borrow() => {
                    notified = head;
                }
                // A new head past the model, or a wake without a new head (the listener
                // reconnected: notifications may have been lost).
                Wake::Notified(head) => {
                    notified = notified.max(head);
                    break;
                }
                Wake::Read => break,
                Wake::Lost => {
                    // The store's notifier stopped: subscribe again; poll meanwhile.
                    signal = store.audit_signal().await.ok().flatten();
                    break;
                }
            }
        }
    }
}

/// Why the follower woke.
enum Wake {
    /// A notification, with the head notified.
    Notified(u64),
    /// A poke, or the poll interval passed.
    Read,
    /// The notifier is gone.
    Lost,
}

/// Folds a page of entries (which follow the model's seq without a gap) and publishes the seq.
async fn fold_page(store: &dyn Store, shared: &Shared, page: &[AuditEntry]) -> StoreResult<()> {
    let result = fold_entries(store, shared, page).await;
    // This process's entries kept behind the page follow it now.
    let (_, seq, _) = shared.fold_kept(Vec::new());
    shared.seq.send_replace(seq);
    result
}

async fn fold_entries(store: &dyn Store, shared: &Shared, page: &[AuditEntry]) -> StoreResult<()> {
    for entry in page {
        let folded = {
            let mut projection = shared.write();
            let folded = projection.fold(entry);
            if folded.is_ok() {
                projection.seq = entry.seq;
            }
            folded
        };
        if let Err(err) = folded {
            // Read the record from the store instead: the model then still holds what the
            // store holds.
            tracing::error!(seq = entry.seq, error = %err, "an audit entry's payload does not read as its record; reading the record from the store");
            let kind = entry.entity_type.parse::<Kind>().ok();
            let record = store.get(kind, entry.entity_id).await?;
            let mut projection = shared.write();
            if let Some(record) = record {
                projection.put(record);
            }
            projection.seq = entry.seq;
        }
    }
    Ok(())
}

fn cloned(records: Vec<Arc<Record>>) -> Vec<Record> {
    records.into_iter().map(Arc::unwrap_or_clone).collect()
}

#[async_trait]
impl Store for ReadModelStore {
    async fn commit(&self, change: Change) -> StoreResult<Committed> {
        let committed = self.inner.commit(change).await?;
        // A trial's or job's entry too: the model's seq passes it here rather than at the
        // follower's next read, and a catalog write after it need not wait for that read. Only
        // a catalog record's entry the model cannot hold yet waits (see `fold_kept`).
        if !self.shared.fold_own([&committed.entry]) {
            self.folded(committed.entry.seq).await;
        }
        Ok(committed)
    }

    /// Answers once the model holds every record the changes made (folded in order or ahead;
    /// else once its seq passes the last entry). Trials and jobs alone do not wait: the model never serves them, so
    /// their reads go to the store, where the commit is already visible; a `min_seq` read of
    /// a projected kind still waits for the model to pass their seq.
    async fn commit_all(&self, changes: Vec<Change>) -> StoreResult<Vec<Committed>> {
        let committed = self.inner.commit_all(changes).await?;
        if !self.shared.fold_own(committed.iter().map(|c| &c.entry))
            && let Some(last) = committed.last()
        {
            self.folded(last.entry.seq).await;
        }
        Ok(committed)
    }

    async fn get(&self, kind: Option<Kind>, id: Uuid) -> StoreResult<Option<Record>> {
        if kind.is_some_and(|k| !is_projected(k)) {
            return self.inner.get(kind, id).await;
        }
        if let Some(record) = self.shared.read().get(kind, id) {
            return Ok(Some(Record::clone(record)));
        }
        match kind {
            Some(_) => Ok(None),
            // Not in the model: a trial or a job, or nothing.
            None => Ok(self
                .inner
                .get(None, id)
                .await?
                .filter(|r| !is_projected(r.kind()))),
        }
    }

    async fn get_by_name(&self, kind: Kind, name: &str) -> StoreResult<Option<Record>> {
        if !is_projected(kind) {
            return self.inner.get_by_name(kind, name).await;
        }
        Ok(self
            .shared
            .read()
            .get_by_name(kind, name)
            .map(|r| Record::clone(r)))
    }

    async fn external_id_owner(&self, external_id: &str) -> StoreResult<Option<Uuid>> {
        Ok(self.shared.read().external_id_owner(external_id))
    }

    async fn names(&self, kind: Kind, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, String>> {
        if !is_projected(kind) {
            return self.inner.names(kind, ids).await;
        }
        Ok(self.shared.read().names(kind, ids))
    }

    async fn list(&self, query: &ListQuery) -> StoreResult<Vec<Record>> {
        // A record the model does not hold comes back unshared, so it is moved, not copied.
        Ok(cloned(self.list_shared(query).await?))
    }

    async fn list_shared(&self, query: &ListQuery) -> StoreResult<Vec<Arc<Record>>> {
        match query.kind.filter(|k| is_projected(*k)) {
            Some(kind) => Ok(self.shared.read().list(kind, query)),
            None => self.inner.list_shared(query).await,
        }
    }

    async fn count(&self, query: &ListQuery) -> StoreResult<u64> {
        match query.kind.filter(|k| is_projected(*k)) {
            Some(kind) => Ok(self.shared.read().count(kind, query)),
            None => self.inner.count(query).await,
        }
    }

    async fn entity_entries(&self, id: Uuid) -> StoreResult<Vec<AuditEntry>> {
        self.inner.entity_entries(id).await
    }

    async fn audit_entries(&self, after: u64, limit: u64) -> StoreResult<Vec<AuditEntry>> {
        self.inner.audit_entries(after, limit).await
    }

    async fn head(&self) -> StoreResult<Head> {
        self.inner.head().await
    }

    async fn add_checkpoint(&self, checkpoint: Checkpoint) -> StoreResult<()> {
        self.inner.add_checkpoint(checkpoint).await
    }

    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        self.inner.checkpoints().await
    }

    async fn audit_hashes(&self, after: u64, limit: u64) -> StoreResult<Vec<(u64, Hash)>> {
        self.inner.audit_hashes(after, limit).await
    }

    async fn add_tree_checkpoint(&self, checkpoint: StoredTreeCheckpoint) -> StoreResult<()> {
        self.inner.add_tree_checkpoint(checkpoint).await
    }

    async fn tree_checkpoints(&self) -> StoreResult<Vec<StoredTreeCheckpoint>> {
        self.inner.tree_checkpoints().await
    }

    async fn latest_tree_checkpoint(&self) -> StoreResult<Option<StoredTreeCheckpoint>> {
        self.inner.latest_tree_checkpoint().await
    }

    async fn newest_checkpoint(&self) -> StoreResult<Option<Checkpoint>> {
        self.inner.newest_checkpoint().await
    }

    async fn search(
        &self,
        query: &Embedding,
        filter: &SearchFilter,
        k: usize,
    ) -> StoreResult<Vec<SearchHit>> {
        self.inner.search(query, filter, k).await
    }

    async fn search_fused(
        &self,
        query: &FusedQuery,
        filter: &SearchFilter,
        k: usize,
    ) -> StoreResult<Vec<SearchHit>> {
        self.inner.search_fused(query, filter, k).await
    }

    async fn stale_embeddings(&self, model: &str, limit: u64) -> StoreResult<Vec<StaleEmbedding>> {
        self.inner.stale_embeddings(model, limit).await
    }

    async fn put_embedding(
        &self,
        kind: Kind,
        id: Uuid,
        embedding: StoredEmbedding,
    ) -> StoreResult<()> {
        self.inner.put_embedding(kind, id, embedding).await
    }

    async fn put_embedding_at(
        &self,
        kind: Kind,
        id: Uuid,
        version: u64,
        embedding: StoredEmbedding,
    ) -> StoreResult<bool> {
        self.inner
            .put_embedding_at(kind, id, version, embedding)
            .await
    }

    async fn put_embeddings_at(&self, vectors: Vec<EmbeddingAt>) -> StoreResult<Vec<bool>> {
        self.inner.put_embeddings_at(vectors).await
    }

    fn webhooks(&self) -> Option<&dyn crate::webhooks::WebhookStore> {
        self.inner.webhooks()
    }

    fn model_seq(&self) -> Option<watch::Receiver<u64>> {
        Some(self.subscribe())
    }

    async fn vector_turn(&self) -> StoreResult<crate::store::VectorTurn> {
        self.inner.vector_turn().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    /// The model's seq: it changes once the model has folded new entries, so a feed woken by
    /// it reads entries the model already answers for.
    async fn audit_signal(&self) -> StoreResult<Option<watch::Receiver<u64>>> {
        Ok(Some(self.subscribe()))
    }

    fn ahead(&self) -> Ahead {
        ReadModelStore::ahead(self)
    }

    fn committed_seq(&self) -> u64 {
        self.shared.committed.load(Ordering::SeqCst)
    }

    fn indexes_vectors(&self) -> bool {
        self.inner.indexes_vectors()
    }

    fn pool_stats(&self) -> Option<PoolStats> {
        self.inner.pool_stats()
    }

    /// The store's own verification: it must read the stored rows, not the model's copies.
    async fn verify(&self, trusted_keys: &[String]) -> StoreResult<VerifyReport> {
        self.inner.verify(trusted_keys).await
    }
}

#[cfg(test)]
mod tests;
