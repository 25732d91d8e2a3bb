//! Vectors off the write path: a write commits its record and audit entry, and its vector is
//! computed and stored right after, in batches.
//!
//! A model embedder costs tens of milliseconds of CPU per text; inside the write it bounded the
//! write rate and held the caller. Now the catalog commits first — a create with no vector, a
//! change of text with the old vector dropped in the same commit, so search never ranks a record
//! by a vector of another text — and hands the record's text to the [`VectorIndexer`]. One task
//! takes what is pending (up to [`INDEX_BATCH`] texts), keeps the newest text per record
//! (coalescing), embeds them in one call (one forward pass of the model over the batch, far cheaper
//! than one by one) through the [`EmbedQueue`], and stores each vector only if the record is still
//! at the version it was computed for ([`Store::put_embedding_at`](crate::store::Store::put_embedding_at));
//! when a later change kept the text (a certification), the vector is stored at that version.
//!
//! Between the commit and the vector, semantic ranking does not see the record (it has no
//! vector); full-text ranking does, so hybrid search finds it by its words. The queue in memory
//! is bounded by [`INDEX_BACKLOG`] texts. Past it, a write is not held: its job is dropped and
//! counted, and once the queue has run empty while writes pause the task sweeps the store for
//! records whose vector is missing or from another model ([`IndexSink::stale`]), oldest first,
//! until it has caught up. The pending work then lives where it already was — a record without
//! its vector — so it coalesces (at most one pending vector per record, whatever the write
//! rate), survives a restart, and never grows memory; the cost is lag, which
//! [`VectorIndexer::lag`] measures for swept records too (from their commit time). Vectors that
//! fail (the embedder fails) stay missing until a later sweep or `plant-cli embed` stores them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::embedding::BoxError;
use super::queue::EmbedQueue;
use crate::model::Kind;
use crate::store::{StoredEmbedding, VectorTurn};

/// The most texts queued in memory for their vector; past it, jobs are dropped and the store is
/// swept for missing vectors instead.
pub const INDEX_BACKLOG: usize = 1024;
/// The most texts embedded in one call.
pub const INDEX_BATCH: usize = 32;
/// How long the queue stays empty after writes before the indexer sweeps for records that
/// were committed without their job being queued.
const IDLE_SWEEP: Duration = Duration::from_secs(2);
/// How many recent lags [`VectorIndexer::lag`] summarises.
const LAG_SAMPLES: usize = 10_000;

/// A committed record whose vector is to be computed.
#[derive(Debug, Clone)]
pub struct IndexJob {
    /// Its kind (a searched kind).
    pub kind: Kind,
    /// Its id.
    pub id: Uuid,
    /// The version whose text this is.
    pub version: u64,
    /// The text to embed.
    pub text: String,
    /// When its commit returned.
    pub committed_at: Instant,
}

/// Where vectors go, and how to read a record's current text (the catalog implements it).
#[async_trait]
pub trait IndexSink: Send + Sync + std::fmt::Debug {
    /// Stores the vector if the record is still at `version`; false when it is not.
    async fn put(
        &self,
        kind: Kind,
        id: Uuid,
        version: u64,
        embedding: StoredEmbedding,
    ) -> Result<bool, BoxError>;

    /// [`Self::put`] for several vectors, one answer each, in order; an error stores none.
    /// The default stores them one by one.
    async fn put_many(
        &self,
        vectors: Vec<(Kind, Uuid, u64, StoredEmbedding)>,
    ) -> Result<Vec<bool>, BoxError> {
        let mut stored = Vec::with_capacity(vectors.len());
        for (kind, id, version, embedding) in vectors {
            stored.push(self.put(kind, id, version, embedding).await?);
        }
        Ok(stored)
    }

    /// The record's current version and text; `None` when it is gone.
    async fn current_text(&self, kind: Kind, id: Uuid) -> Result<Option<(u64, String)>, BoxError>;

    /// The chain's seq as this process knows it, moving with every process's writes (a read
    /// model's seq: [`Store::model_seq`](crate::store::Store::model_seq)); `None` when the sink
    /// cannot tell, and the indexer then counts only this process's writes.
    fn chain(&self) -> Option<watch::Receiver<u64>> {
        None
    }

    /// Waits for the turn to store vectors that every process on the database shares
    /// ([`Store::vector_turn`](crate::store::Store::vector_turn)); the default is
    /// [`VectorTurn::free`].
    async fn turn(&self) -> Result<VectorTurn, BoxError> {
        Ok(VectorTurn::free())
    }

    /// Up to `limit` records whose vector is missing or made by another model than `model`,
    /// oldest first, as jobs for their current version and text (`committed_at` when that
    /// version was committed).
    async fn stale(&self, model: &str, limit: usize) -> Result<Vec<IndexJob>, BoxError>;
}

/// The time from commit to stored vector over the recent jobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorLag {
    /// How many lags were measured.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

/// The background task that computes and stores vectors after commits. Cloning shares it.
#[derive(Debug, Clone)]
pub struct VectorIndexer {
    jobs: mpsc::Sender<IndexJob>,
    backlog: watch::Sender<usize>,
    /// Jobs dropped because the queue was full, not yet covered by a sweep.
    overflow: Arc<AtomicUsize>,
    /// Jobs submitted so far: the indexer yields to writes while this moves.
    submitted: Arc<AtomicUsize>,
    /// The chain's seq ([`IndexSink::chain`]): the indexer also yields while this moves, to
    /// the writes of other processes on the same database.
    chain: Option<watch::Receiver<u64>>,
    lags: Arc<Mutex<VecDeque<Duration>>>,
}

impl VectorIndexer {
    /// Starts the task on the current tokio runtime. It begins with a sweep: records an
    /// earlier process committed without storing their vector (it stopped first) get theirs.
    pub fn start(queue: EmbedQueue, sink: Arc<dyn IndexSink>) -> Self {
        let (jobs, receiver) = mpsc::channel(INDEX_BACKLOG);
        let indexer = Self {
            jobs,
            backlog: watch::Sender::new(1),
            overflow: Arc::new(AtomicUsize::new(1)),
            submitted: Arc::default(),
            chain: sink.chain(),
            lags: Arc::default(),
        };
        tokio::spawn(run(indexer.clone(), receiver, queue, sink));
        indexer
    }

    /// Queues a record's text without waiting. With [`INDEX_BACKLOG`] texts queued the job is
    /// dropped and counted; the store sweep after the queue runs empty stores its vector.
    pub async fn submit(&self, job: IndexJob) {
        // Counted before the task can take it, so the count never goes below zero.
        self.backlog.send_modify(|n| *n += 1);
        self.submitted.fetch_add(1, Ordering::Relaxed);
        match self.jobs.try_send(job) {
            Ok(()) => {}
            // A full queue means the task is busy: it sweeps once the queue has drained.
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.fetch_add(1, Ordering::SeqCst);
            }
            // The task is gone (the runtime is shutting down): the vector stays missing
            // until a later start sweeps or `plant-cli embed` backfills it.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.backlog.send_modify(|n| *n = n.saturating_sub(1));
            }
        }
    }

    /// How many texts wait for their vector: queued (at most [`INDEX_BACKLOG`]), in the batch
    /// being embedded (at most [`INDEX_BATCH`]), or dropped from a full queue and waiting for
    /// the sweep.
    pub fn backlog(&self) -> usize {
        *self.backlog.borrow()
    }

    /// Waits until every text queued so far has its vector stored (or failed).
    pub async fn settled(&self) {
        let mut backlog = self.backlog.subscribe();
        let _ = backlog.wait_for(|n| *n == 0).await;
    }

    /// Commit-to-vector lag over the recent jobs; `None` before the first.
    pub fn lag(&self) -> Option<VectorLag> {
        let lags = self.lags.lock().unwrap_or_else(PoisonError::into_inner);
        let mut sorted: Vec<Duration> = lags.iter().copied().collect();
        drop(lags);
        sorted.sort_unstable();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
            sorted[i - 1]
        };
        let max = *sorted.last()?;
        Some(VectorLag {
            count: sorted.len(),
            p50: at(0.5),
            p99: at(0.99),
            max,
        })
    }

    /// How many texts wait in the queue in memory (at most [`INDEX_BACKLOG`]).
    pub fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// The chain's seq as the sink knows it; 0 when it cannot tell.
    fn chain_seq(&self) -> u64 {
        self.chain.as_ref().map_or(0, |chain| *chain.borrow())
    }

    fn record_lag(&self, lag: Duration) {
        let mut lags = self.lags.lock().unwrap_or_else(PoisonError::into_inner);
        if lags.len() == LAG_SAMPLES {
            lags.pop_front();
        }
        lags.push_back(lag);
    }
}

async fn run(
    indexer: VectorIndexer,
    mut receiver: mpsc::Receiver<IndexJob>,
    queue: EmbedQueue,
    sink: Arc<dyn IndexSink>,
) {
    // Read before the sweep: a job submitted while it runs (its record perhaps committed
    // after the sweep read the store) makes the next idle sweep due.
    let mut swept_after = indexer.submitted.load(Ordering::Relaxed);
    sweep(&indexer, &queue, sink.as_ref()).await;
    loop {
        let first = match tokio::time::timeout(IDLE_SWEEP, receiver.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(_) => {
                // Writes went on since the last sweep and have paused: a write whose caller
                // went away between its commit and its submit (a client hanging up) left its
                // record without a job; this sweep stores its vector.
                let submitted = indexer.submitted.load(Ordering::Relaxed);
                if submitted != swept_after {
                    swept_after = submitted;
                    indexer.overflow.fetch_add(1, Ordering::SeqCst);
                    indexer.backlog.send_modify(|n| *n += 1);
                    sweep(&indexer, &queue, sink.as_ref()).await;
                }
                continue;
            }
        };
        let mut taken = vec![first];
        while taken.len() < INDEX_BATCH {
            match receiver.try_recv() {
                Ok(job) => taken.push(job),
                Err(_) => break,
            }
        }
        let count = taken.len();
        let batch = Batch::start(&indexer);
        let (_, turn) = index(&indexer, &queue, sink.as_ref(), coalesce(taken)).await;
        indexer
            .backlog
            .send_modify(|n| *n = n.saturating_sub(count));
        // Each sweep reads the store for records without their vector, a scan of every searched
        // kind: while writes go on it waits (the queue is fresh work, and the writes refill it),
        // and the first batch without new writes, or the idle sweep, starts it.
        let writes_went_on = batch.yield_to_writes(&indexer).await;
        turn.end().await;
        if receiver.is_empty() && !writes_went_on {
            sweep(&indexer, &queue, sink.as_ref()).await;
        }
    }
}

/// When a batch of the indexer began, how many jobs had been submitted then, and the chain's
/// seq.
struct Batch {
    started: Instant,
    submitted: usize,
    chain: u64,
}

impl Batch {
    fn start(indexer: &VectorIndexer) -> Self {
        Self {
            started: Instant::now(),
            submitted: indexer.submitted.load(Ordering::Relaxed),
            chain: indexer.chain_seq(),
        }
    }

    /// While writes go on (jobs were submitted during the batch, or the chain grew through
    /// another process), rests as long as the batch took: index inserts (milliseconds of
    /// database CPU per vector) then take at most half of the indexer's time, a burst of writes
    /// keeps the rest of the machine, and it shows as vector lag rather than write latency.
    /// The caller holds the batch's vector turn through the rest, so on a database several
    /// processes write the bound is the database's (one indexer stores at a time, at most half
    /// the time), not each process's. Once writes pause
    /// the indexer runs flat out. True when writes went on.
    async fn yield_to_writes(self, indexer: &VectorIndexer) -> bool {
        let writes_went_on = indexer.submitted.load(Ordering::Relaxed) != self.submitted
            || indexer.chain_seq() != self.chain;
        if writes_went_on {
            tokio::time::sleep(self.started.elapsed()).await;
        }
        writes_went_on
    }
}

/// After jobs were dropped from a full queue: stores the missing vectors the store holds.
async fn sweep(indexer: &VectorIndexer, queue: &EmbedQueue, sink: &dyn IndexSink) {
    // The first pass runs at once, whatever is queued.
    let mut dropped = indexer.overflow.swap(0, Ordering::SeqCst);
    while dropped != 0 {
        let finished = sweep_pass(indexer, queue, sink).await;
        if !finished {
            // Queued jobs came in: they go first (they are newer), and the sweep is owed
            // again once the queue has drained; the debt stays counted in the backlog.
            indexer.overflow.fetch_add(1, Ordering::SeqCst);
            indexer.backlog.send_modify(|n| *n += 1);
        }
        indexer
            .backlog
            .send_modify(|n| *n = n.saturating_sub(dropped));
        if !finished {
            return;
        }
        dropped = indexer.overflow.swap(0, Ordering::SeqCst);
        if dropped != 0 && indexer.queued() > 0 {
            // Jobs were queued (and some dropped) while the last pass ran: the queued ones go
            // first, and a pass now would store their records' vectors a second time. The
            // debt stays counted until the queue has drained.
            indexer.overflow.fetch_add(dropped, Ordering::SeqCst);
            return;
        }
    }
}

/// Stores missing vectors batch by batch, oldest first, until a batch finds none or stores none
/// (the rest failed, or another process stored them): true. False when jobs were queued
/// meanwhile, to serve them first.
async fn sweep_pass(indexer: &VectorIndexer, queue: &EmbedQueue, sink: &dyn IndexSink) -> bool {
    loop {
        let jobs = match sink.stale(queue.model_id(), INDEX_BATCH).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "reading the records without a vector failed");
                return true;
            }
        };
        if jobs.is_empty() {
            return true;
        }
        let batch = Batch::start(indexer);
        let (stored, turn) = index(indexer, queue, sink, jobs).await;
        if stored == 0 {
            turn.end().await;
            return true;
        }
        batch.yield_to_writes(indexer).await;
        turn.end().await;
        if indexer.queued() > 0 {
            return false;
        }
    }
}

/// Embeds `jobs` in one call and stores each vector at its version, in a vector turn taken
/// after the embedding (the embedding is this process's CPU, the store the database's); returns
/// how many stored and the turn, for the caller to hold through its rest.
async fn index(
    indexer: &VectorIndexer,
    queue: &EmbedQueue,
    sink: &dyn IndexSink,
    jobs: Vec<IndexJob>,
) -> (usize, VectorTurn) {
    let texts = jobs.iter().map(|j| j.text.clone()).collect();
    let vectors = match queue.embed(texts).await {
        Ok(vectors) => vectors,
        Err(e) => {
            tracing::warn!(
                texts = jobs.len(), error = %e,
                "embedding failed; the vectors stay missing until a sweep or `plant-cli embed` stores them"
            );
            return (0, VectorTurn::free());
        }
    };
    let turn = match sink.turn().await {
        Ok(turn) => turn,
        Err(e) => {
            tracing::warn!(error = %e, "the vector turn could not be had; storing without it");
            VectorTurn::free()
        }
    };
    let embeddings: Vec<StoredEmbedding> = vectors
        .into_iter()
        .map(|vector| StoredEmbedding {
            model: queue.model_id().to_owned(),
            vector,
        })
        .collect();
    // All at once first (one transaction on PostgreSQL); each that did not land (its record
    // moved on, or the whole call failed) then goes alone, following the record's text.
    let at_once = sink
        .put_many(
            jobs.iter()
                .zip(&embeddings)
                .map(|(job, e)| (job.kind, job.id, job.version, e.clone()))
                .collect(),
        )
        .await
        .unwrap_or_default();
    let mut stored = 0;
    for (i, (job, embedding)) in jobs.iter().zip(embeddings).enumerate() {
        if at_once.get(i) == Some(&true) {
            indexer.record_lag(job.committed_at.elapsed());
            stored += 1;
            continue;
        }
        match store(sink, job, embedding).await {
            Ok(true) => {
                indexer.record_lag(job.committed_at.elapsed());
                stored += 1;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(
                kind = %job.kind, id = %job.id, error = %e,
                "storing a vector failed; a sweep or `plant-cli embed` stores it"
            ),
        }
    }
    (stored, turn)
}

/// The newest job per record, in the order the records first appeared.
fn coalesce(jobs: Vec<IndexJob>) -> Vec<IndexJob> {
    let mut at: HashMap<Uuid, usize> = HashMap::new();
    let mut out: Vec<IndexJob> = Vec::with_capacity(jobs.len());
    for job in jobs {
        match at.get(&job.id) {
            Some(&i) if out[i].version <= job.version => out[i] = job,
            Some(_) => {}
            None => {
                at.insert(job.id, out.len());
                out.push(job);
            }
        }
    }
    out
}

/// Stores a vector at its version, or at a later version whose text is the same; false when the
/// text changed since (that change queued its own job) or the record is gone.
async fn store(
    sink: &dyn IndexSink,
    job: &IndexJob,
    embedding: StoredEmbedding,
) -> Result<bool, BoxError> {
    let mut version = job.version;
    // A few tries: each failed one means another change landed in between.
    for _ in 0..3 {
        if sink
            .put(job.kind, job.id, version, embedding.clone())
            .await?
        {
            return Ok(true);
        }
        match sink.current_text(job.kind, job.id).await? {
            Some((current, text)) if current > version && text == job.text => version = current,
            _ => return Ok(false),
        }
    }
    Ok(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::search::{Embedder, Embedding, HashingEmbedder};
    use tokio::sync::Mutex as AsyncMutex;

    /// Records as (version, text), and the vectors stored.
    #[derive(Debug, Default)]
    struct Records {
        current: AsyncMutex<HashMap<Uuid, (u64, String)>>,
        stored: AsyncMutex<HashMap<Uuid, (u64, StoredEmbedding)>>,
    }

    #[async_trait]
    impl IndexSink for Records {
        async fn put(
            &self,
            _: Kind,
            id: Uuid,
            version: u64,
            embedding: StoredEmbedding,
        ) -> Result<bool, BoxError> {
            let current = self.current.lock().await;
            if current.get(&id).map(|c| c.0) != Some(version) {
                return Ok(false);
            }
            self.stored.lock().await.insert(id, (version, embedding));
            Ok(true)
        }

        async fn current_text(&self, _: Kind, id: Uuid) -> Result<Option<(u64, String)>, BoxError> {
            Ok(self.current.lock().await.get(&id).cloned())
        }

        async fn stale(&self, _: &str, limit: usize) -> Result<Vec<IndexJob>, BoxError> {
            let current = self.current.lock().await;
            let stored = self.stored.lock().await;
            Ok(current
                .iter()
                .filter(|(id, (version, _))| stored.get(*id).map(|s| s.0) != Some(*version))
                .take(limit)
                .map(|(id, (version, text))| job(*id, *version, text))
                .collect())
        }
    }

    /// [`Records`] behind two gates: its stores wait until `stores` opens, and its reads of the
    /// stale records take their answer, count themselves in `read`, then wait until `sweeps`
    /// opens (a sweep that read the store before the writes that follow).
    #[derive(Debug)]
    struct Gated {
        records: Records,
        stores: watch::Sender<bool>,
        sweeps: watch::Sender<bool>,
        read: watch::Sender<usize>,
    }

    impl Gated {
        fn new(stores_open: bool, sweeps_open: bool) -> Self {
            Self {
                records: Records::default(),
                stores: watch::Sender::new(stores_open),
                sweeps: watch::Sender::new(sweeps_open),
                read: watch::Sender::new(0),
            }
        }

        /// Waits until the first sweep has read the store.
        async fn first_read(&self) {
            let _ = self.read.subscribe().wait_for(|n| *n > 0).await;
        }
    }

    #[async_trait]
    impl IndexSink for Gated {
        async fn put(
            &self,
            kind: Kind,
            id: Uuid,
            version: u64,
            embedding: StoredEmbedding,
        ) -> Result<bool, BoxError> {
            let _ = self.stores.subscribe().wait_for(|open| *open).await;
            self.records.put(kind, id, version, embedding).await
        }

        async fn current_text(
            &self,
            kind: Kind,
            id: Uuid,
        ) -> Result<Option<(u64, String)>, BoxError> {
            self.records.current_text(kind, id).await
        }

        async fn stale(&self, model: &str, limit: usize) -> Result<Vec<IndexJob>, BoxError> {
            let jobs = self.records.stale(model, limit).await?;
            self.read.send_modify(|n| *n += 1);
            let _ = self.sweeps.subscribe().wait_for(|open| *open).await;
            Ok(jobs)
        }
    }

    fn job(id: Uuid, version: u64, text: &str) -> IndexJob {
        IndexJob {
            kind: Kind::Skill,
            id,
            version,
            text: text.into(),
            committed_at: Instant::now(),
        }
    }

    /// `count` records of one version each, "skill 0", "skill 1" …, written to `records`.
    async fn write_skills(records: &Records, count: usize) -> Vec<Uuid> {
        let ids: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
        let mut current = records.current.lock().await;
        for (i, id) in ids.iter().enumerate() {
            current.insert(*id, (1, format!("skill {i}")));
        }
        ids
    }

    /// Submits the job of every record [`write_skills`] wrote.
    async fn submit_skills(indexer: &VectorIndexer, ids: &[Uuid]) {
        for (i, id) in ids.iter().enumerate() {
            indexer.submit(job(*id, 1, &format!("skill {i}"))).await;
        }
    }

    /// Once the backlog drains, every record [`write_skills`] wrote has its vector, each
    /// stored once (one lag per stored vector).
    async fn every_skill_stored_once(indexer: &VectorIndexer, records: &Records, ids: &[Uuid]) {
        tokio::time::timeout(Duration::from_secs(30), indexer.settled())
            .await
            .expect("the backlog drained");
        let stored = records.stored.lock().await;
        for (i, id) in ids.iter().enumerate() {
            let vector = HashingEmbedder.embed_one(&format!("skill {i}")).unwrap();
            assert_eq!(
                stored.get(id).map(|s| &s.1.vector),
                Some(&vector),
                "record {i}"
            );
        }
        assert_eq!(indexer.lag().unwrap().count, ids.len());
    }

    /// Two records, "payroll" (returned first, its job to be submitted) and "invoicing"
    /// (committed, but its writer went away before submitting its job), written to `records`.
    async fn write_queued_and_lost(records: &Records) -> (Uuid, Uuid) {
        let (queued, lost) = (Uuid::new_v4(), Uuid::new_v4());
        let mut current = records.current.lock().await;
        current.insert(queued, (1, "payroll".into()));
        current.insert(lost, (1, "invoicing".into()));
        (queued, lost)
    }

    /// An indexer over a [`Gated`] sink whose first sweep has read the store (nothing yet) and
    /// waits for `sweeps` to open.
    async fn start_behind_a_held_sweep() -> (Arc<Gated>, VectorIndexer) {
        let sink = Arc::new(Gated::new(true, false));
        let indexer =
            VectorIndexer::start(EmbedQueue::new(Arc::new(HashingEmbedder), 2), sink.clone());
        sink.first_read().await;
        (sink, indexer)
    }

    /// The vector stored for `id`, waiting for it past the idle sweep (on a loaded machine the
    /// timer can fire late, so with a bound rather than a fixed time).
    async fn vector_after_idle_sweep(records: &Records, id: Uuid) -> Option<Embedding> {
        let deadline = tokio::time::Instant::now() + IDLE_SWEEP + Duration::from_secs(30);
        loop {
            let stored = records
                .stored
                .lock()
                .await
                .get(&id)
                .map(|s| s.1.vector.clone());
            if stored.is_some() || tokio::time::Instant::now() >= deadline {
                return stored;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vectors_follow_the_current_text_and_never_an_older_one() {
        let records = Arc::new(Records::default());
        let (fresh, renamed, certified) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let indexer = VectorIndexer::start(
            EmbedQueue::new(Arc::new(HashingEmbedder), 2),
            records.clone(),
        );
        // Its first sweep finds nothing; the records below are written after.
        indexer.settled().await;
        {
            let mut current = records.current.lock().await;
            current.insert(fresh, (1, "seo audit".into()));
            // Renamed after its first text was queued: only the new text may be stored.
            current.insert(renamed, (2, "cold calling".into()));
            // Certified (same text, version 2) before its vector was stored.
            current.insert(certified, (2, "data pipelines".into()));
        }
        indexer.submit(job(fresh, 1, "seo audit")).await;
        indexer.submit(job(renamed, 1, "old name")).await;
        indexer.submit(job(certified, 1, "data pipelines")).await;
        indexer.settled().await;
        indexer.submit(job(renamed, 2, "cold calling")).await;
        indexer.settled().await;
        assert_eq!(indexer.backlog(), 0);

        let stored = records.stored.lock().await;
        let vector = |text: &str| HashingEmbedder.embed_one(text).unwrap();
        assert_eq!(stored[&fresh].1.vector, vector("seo audit"));
        assert_eq!(stored[&renamed], (2, stored[&renamed].1.clone()));
        assert_eq!(stored[&renamed].1.vector, vector("cold calling"));
        assert_eq!(stored[&certified].0, 2);
        assert_eq!(stored[&certified].1.vector, vector("data pipelines"));
        assert_eq!(indexer.lag().unwrap().count, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_never_holds_a_writer_and_the_sweep_stores_every_dropped_vector() {
        let count = INDEX_BACKLOG * 2;
        let sink = Arc::new(Gated::new(false, true));
        let indexer =
            VectorIndexer::start(EmbedQueue::new(Arc::new(HashingEmbedder), 2), sink.clone());
        // Its first sweep finds nothing; the records below are written after.
        indexer.settled().await;
        let ids = write_skills(&sink.records, count).await;
        // Nothing is stored while the gate is shut, so the queue fills; no submit may wait.
        tokio::time::timeout(Duration::from_secs(10), submit_skills(&indexer, &ids))
            .await
            .expect("a submit waited for room in the queue");
        assert_eq!(
            indexer.backlog(),
            count,
            "every job is counted, queued or dropped"
        );
        assert!(
            indexer.overflow.load(Ordering::SeqCst) > 0,
            "some jobs were dropped"
        );

        sink.stores.send_replace(true);
        every_skill_stored_once(&indexer, &sink.records, &ids).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_start_it_stores_the_vectors_an_earlier_process_left_missing() {
        let records = Arc::new(Records::default());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        {
            let mut current = records.current.lock().await;
            current.insert(a, (1, "tax filing".into()));
            current.insert(b, (3, "route planning".into()));
        }
        let indexer = VectorIndexer::start(
            EmbedQueue::new(Arc::new(HashingEmbedder), 2),
            records.clone(),
        );
        tokio::time::timeout(Duration::from_secs(10), indexer.settled())
            .await
            .expect("the first sweep ended");
        let stored = records.stored.lock().await;
        let vector = |text: &str| HashingEmbedder.embed_one(text).unwrap();
        assert_eq!(stored[&a], (1, stored[&a].1.clone()));
        assert_eq!(stored[&a].1.vector, vector("tax filing"));
        assert_eq!(stored[&b].0, 3);
        assert_eq!(stored[&b].1.vector, vector("route planning"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_whose_job_was_never_queued_gets_its_vector_once_writes_pause() {
        let records = Arc::new(Records::default());
        let indexer = VectorIndexer::start(
            EmbedQueue::new(Arc::new(HashingEmbedder), 2),
            records.clone(),
        );
        indexer.settled().await;
        let (queued, lost) = write_queued_and_lost(&records).await;
        indexer.submit(job(queued, 1, "payroll")).await;
        indexer.settled().await;
        // The sweep starts once the queue stayed empty for IDLE_SWEEP.
        assert_eq!(
            vector_after_idle_sweep(&records, lost).await,
            Some(HashingEmbedder.embed_one("invoicing").unwrap())
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_committed_while_the_first_sweep_reads_gets_its_vector_once_writes_pause() {
        let (sink, indexer) = start_behind_a_held_sweep().await;
        // Both committed after the sweep read the store.
        let (queued, lost) = write_queued_and_lost(&sink.records).await;
        indexer.submit(job(queued, 1, "payroll")).await;
        sink.sweeps.send_replace(true);
        assert_eq!(
            vector_after_idle_sweep(&sink.records, lost).await,
            Some(HashingEmbedder.embed_one("invoicing").unwrap())
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_queued_during_a_sweep_are_stored_once_and_the_dropped_ones_by_the_next_sweep() {
        // The first sweep has read the store (nothing) and waits: the queue fills and overflows.
        let (sink, indexer) = start_behind_a_held_sweep().await;
        let ids = write_skills(&sink.records, INDEX_BACKLOG * 2).await;
        submit_skills(&indexer, &ids).await;
        assert_eq!(indexer.queued(), INDEX_BACKLOG);
        sink.sweeps.send_replace(true);
        // No record stored by a sweep and again by its queued job.
        every_skill_stored_once(&indexer, &sink.records, &ids).await;
    }

    /// [`Records`] whose stores take `store_for` and whose vector turn logs when it is taken
    /// and handed on, and when each store ends.
    #[derive(Debug)]
    struct Turned {
        records: Records,
        store_for: Duration,
        log: Arc<std::sync::Mutex<Vec<(&'static str, Instant)>>>,
        /// The chain's seq, moved by "other processes".
        chain: watch::Sender<u64>,
    }

    impl Turned {
        fn new(store_for: Duration) -> Self {
            Self {
                records: Records::default(),
                store_for,
                log: Arc::default(),
                chain: watch::Sender::new(0),
            }
        }

        /// Waits until the last turn taken has ended (the backlog empties when a batch is
        /// stored; its turn ends after its rest), then returns the log.
        async fn log_once_ended(&self) -> Vec<(&'static str, Instant)> {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.log.lock().unwrap().last().map(|(name, _)| *name) != Some("end")
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            self.log.lock().unwrap().clone()
        }
    }

    /// The log's turns: each is taken, stores, and ends, never overlapping another. Returns
    /// how many lasted through a rest at least as long as `store_for` after their store.
    fn turns_rested(log: &[(&'static str, Instant)], store_for: Duration) -> usize {
        let names: Vec<&str> = log.iter().map(|(name, _)| *name).collect();
        for step in names.chunks(3) {
            assert_eq!(step, ["turn", "stored", "end"], "{names:?}");
        }
        log.chunks(3)
            .filter(|step| step[2].1 - step[1].1 >= store_for - Duration::from_millis(5))
            .count()
    }

    struct LoggedTurn(Arc<std::sync::Mutex<Vec<(&'static str, Instant)>>>);

    #[async_trait]
    impl crate::store::HeldTurn for LoggedTurn {
        async fn release(self: Box<Self>) {
            self.0.lock().unwrap().push(("end", Instant::now()));
        }
    }

    #[async_trait]
    impl IndexSink for Turned {
        async fn put(
            &self,
            kind: Kind,
            id: Uuid,
            version: u64,
            embedding: StoredEmbedding,
        ) -> Result<bool, BoxError> {
            self.records.put(kind, id, version, embedding).await
        }

        async fn put_many(
            &self,
            vectors: Vec<(Kind, Uuid, u64, StoredEmbedding)>,
        ) -> Result<Vec<bool>, BoxError> {
            tokio::time::sleep(self.store_for).await;
            let mut stored = Vec::new();
            for (kind, id, version, embedding) in vectors {
                stored.push(self.records.put(kind, id, version, embedding).await?);
            }
            self.log.lock().unwrap().push(("stored", Instant::now()));
            Ok(stored)
        }

        fn chain(&self) -> Option<watch::Receiver<u64>> {
            Some(self.chain.subscribe())
        }

        async fn turn(&self) -> Result<VectorTurn, BoxError> {
            self.log.lock().unwrap().push(("turn", Instant::now()));
            Ok(VectorTurn::held(Box::new(LoggedTurn(self.log.clone()))))
        }

        async fn current_text(
            &self,
            kind: Kind,
            id: Uuid,
        ) -> Result<Option<(u64, String)>, BoxError> {
            self.records.current_text(kind, id).await
        }

        async fn stale(&self, model: &str, limit: usize) -> Result<Vec<IndexJob>, BoxError> {
            self.records.stale(model, limit).await
        }
    }

    /// While writes go on, each batch stores inside a vector turn and keeps it through the rest
    /// that follows (as long as the batch took): on a database several processes write, the
    /// next process's indexer stores only after that rest.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_holds_its_vector_turn_through_the_rest_while_writes_go_on() {
        let store_for = Duration::from_millis(60);
        let sink = Arc::new(Turned::new(store_for));
        let indexer =
            VectorIndexer::start(EmbedQueue::new(Arc::new(HashingEmbedder), 2), sink.clone());
        indexer.settled().await;
        // Writes going on: a job every 10 ms for about a second.
        for i in 0..100u64 {
            let id = Uuid::new_v4();
            let text = format!("skill {i}");
            sink.records
                .current
                .lock()
                .await
                .insert(id, (1, text.clone()));
            indexer.submit(job(id, 1, &text)).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        indexer.settled().await;
        let log = sink.log_once_ended().await;
        assert!(log.len() >= 6, "{log:?}");
        // While the jobs kept coming, each turn lasted through a rest at least as long as the
        // store (the batch took longer than the store alone).
        let rested = turns_rested(&log, store_for);
        assert!(
            rested >= 3,
            "turns held through their rest: {rested} of {}",
            log.len() / 3
        );
    }

    /// A process without writes of its own (sweeping for missing vectors) yields all the same
    /// while other processes write: the chain moving is writes going on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_indexer_rests_through_its_turn_while_other_processes_write() {
        let store_for = Duration::from_millis(60);
        let sink = Arc::new(Turned::new(store_for));
        // Records without vectors: the indexer's first sweep stores them, 32 a batch.
        for i in 0..128u64 {
            let id = Uuid::new_v4();
            sink.records
                .current
                .lock()
                .await
                .insert(id, (1, format!("skill {i}")));
        }
        // Other processes write: the chain moves every 10 ms until the sweep is done.
        let writer = tokio::spawn({
            let sink = sink.clone();
            async move {
                loop {
                    sink.chain.send_modify(|seq| *seq += 1);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        let indexer =
            VectorIndexer::start(EmbedQueue::new(Arc::new(HashingEmbedder), 2), sink.clone());
        indexer.settled().await;
        let log = sink.log_once_ended().await;
        writer.abort();
        assert_eq!(sink.records.stored.lock().await.len(), 128);
        let rested = turns_rested(&log, store_for);
        assert!(
            rested >= 3,
            "turns held through their rest: {rested} of {}",
            log.len() / 3
        );
    }

    #[test]
    fn coalescing_keeps_the_newest_text_of_each_record() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let kept = coalesce(vec![
            job(a, 1, "a1"),
            job(b, 1, "b1"),
            job(a, 3, "a3"),
            job(a, 2, "a2"),
        ]);
        let texts: Vec<_> = kept.iter().map(|j| j.text.as_str()).collect();
        assert_eq!(texts, ["a3", "b1"]);
    }
}
