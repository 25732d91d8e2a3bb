//! Group commit: the changes that are ready in a process commit together, one transaction, one
//! lock of the chain's head and one WAL flush for a batch.
//!
//! Every [`Store::commit`](crate::store::Store::commit) and `commit_all` becomes a *unit* (one
//! change, or an atomic list of them) sent to a queue. A few appender tasks (see
//! [`GroupCommit::appenders`]) take what is waiting — up to [`GroupCommit::max_changes`] changes,
//! waiting at most [`GroupCommit::max_wait`] for more after the first — and commit it as one
//! transaction:
//!
//! 1. each unit's records are written (`write::stage`; creations of one kind side by side in one
//!    statement, `write::stage_creations`). Should a unit fail (a name taken, a stale version, a
//!    trigger refusing a status move), the batch is rolled back and written again unit by unit,
//!    each under a savepoint: the failing unit is rolled back to its savepoint and answered with
//!    its error, alone; the other units go on;
//! 2. the head row is taken `for update`, the entries of every staged unit are linked after it in
//!    queue order, and one statement appends them all, moves the head and sets each record's
//!    chain-derived columns;
//! 3. one commit — one WAL flush — and every unit of the batch is answered with its own entries.
//!
//! A unit is thus answered only after the commit that holds it returned: an acknowledged write is
//! flushed. When the transaction as a whole fails (the connection is lost, the commit fails),
//! every unit still waiting in it gets an error, and nothing of the batch is in the chain. The head
//! is held only for step 2 and the commit, as before, so the chain stays one gap-free sequence
//! across any number of processes; what changes is that one flush now covers many changes.
//!
//! With more than one appender, one batch can write its records while another holds the head
//! and waits for its flush.
//!
//! The appenders run on a thread of their own (`plant-append`), with a runtime and a pool of
//! `appenders` connections of their own. While a batch holds the head, every process's writes
//! wait on it, and much of what it waits for is this process answering the database: the head
//! read, the append, the commit are three round trips. On the request threads each answer
//! queued behind the requests being served: sampled on three processes under writes, the head
//! holder was waiting for its client in 42% of the samples. A thread that sleeps until its
//! connection has something to read is woken by the kernel as the answer arrives.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::Instant;

use super::error::{is_retryable, store_error};
use super::sql;
use super::write::{self, Staged, to_i64};
use crate::audit::Head;
use crate::error::Cause;
use crate::model::Kind;
use crate::store::{Change, Committed, StoreError, StoreResult};

/// How changes are grouped into commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// The most changes one transaction commits (at least 1). An atomic `commit_all` counts as
    /// its length and is never split; it may exceed this bound alone. Each unit in a batch is a
    /// savepoint, and PostgreSQL tracks up to 64 of them per transaction cheaply, hence the
    /// default of 32.
    pub max_changes: usize,
    /// How long an appender waits for more changes after the first one of a batch arrived,
    /// when its previous batch held more than one unit (so a lone writer never waits; the
    /// first batch of an appender does). Zero: a batch is whatever queued meanwhile.
    ///
    /// Default 4 ms, from measurements (skill creates over HTTP, 32 connections, durable
    /// cluster, 6 s rows, builds interleaved on one database): without a wait an appender took
    /// what had queued, a unit or two under load (2.8 changes a batch at three processes), and
    /// each batch cost its own lock, append statement, commit, notification and a read by
    /// every other process's read model — 1,262 / 679 / 523 req/s over 1 / 2 / 3 processes;
    /// with 4 ms 1,531 / 1,190 / 953 (about 7 changes a batch at three). In other passes 2 ms
    /// gave 1,041 / 1,158 / 810 and 3 ms 935–1,103 at three processes; 1, 2 and 4 connections
    /// on one process showed no measurable cost (bench/README.md).
    pub max_wait: Duration,
    /// How many batches may be in flight at once per process (default 2: one writes its
    /// records while the other holds the head and waits for its flush). Each has a connection
    /// of its own, outside the store's pool, on the appenders' thread.
    pub appenders: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            max_changes: 32,
            max_wait: Duration::from_millis(4),
            appenders: 2,
        }
    }
}

/// A unit of the queue: changes that commit atomically, and where its answer goes.
struct Unit {
    changes: Vec<Change>,
    reply: oneshot::Sender<StoreResult<Vec<Committed>>>,
}

/// The queue in front of a process's appenders. Cloning shares it; the appenders stop once
/// every clone is gone.
#[derive(Debug, Clone)]
pub(super) struct Appender {
    queue: mpsc::Sender<Unit>,
    /// The appenders' own connections.
    pool: PgPool,
}

impl std::fmt::Debug for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unit")
            .field("changes", &self.changes.len())
            .finish_non_exhaustive()
    }
}

impl Appender {
    /// Starts `config.appenders` appender tasks on a thread of their own, connecting to the
    /// database `like` connects to. Should the thread not start, commits fail as unavailable.
    pub(super) fn start(like: &PgPool, config: GroupCommit) -> Self {
        let config = GroupCommit {
            max_changes: config.max_changes.max(1),
            appenders: config.appenders.max(1),
            ..config
        };
        // The queue's bound makes callers wait (asynchronously) when the database cannot keep
        // up, instead of growing without limit.
        let (queue, receiver) = mpsc::channel(config.max_changes * config.appenders * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        // Connections are made on first use, on the thread's runtime, whose reactor then
        // watches their sockets.
        let pool = PgPoolOptions::new()
            .max_connections(u32::try_from(config.appenders).unwrap_or(u32::MAX))
            .acquire_timeout(like.options().get_acquire_timeout())
            .connect_lazy_with((*like.connect_options()).clone());
        let appenders = pool.clone();
        let started = std::thread::Builder::new()
            .name("plant-append".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        tracing::error!(error = %err, "the group commit cannot start its runtime; writes fail");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let tasks: Vec<_> = (0..config.appenders)
                        .map(|_| tokio::spawn(run(appenders.clone(), Arc::clone(&receiver), config)))
                        .collect();
                    for task in tasks {
                        let _ = task.await;
                    }
                    appenders.close().await;
                });
            });
        if let Err(err) = started {
            tracing::error!(error = %err, "the group commit cannot start its thread; writes fail");
        }
        Self { queue, pool }
    }

    /// Closes the appenders' connections; commits after this fail as unavailable.
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }

    /// Queues `changes` as one atomic unit and waits until the batch holding it committed.
    pub(super) async fn commit(&self, changes: Vec<Change>) -> StoreResult<Vec<Committed>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Unit { changes, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable(Cause::from("the group commit stopped"))
}

/// One appender: takes a batch from the queue, commits it, answers it; until the queue closes.
async fn run(pool: PgPool, receiver: Arc<Mutex<mpsc::Receiver<Unit>>>, config: GroupCommit) {
    // Batches left to write with a savepoint per unit, after one where a unit failed.
    let mut careful = 0;
    // Whether the previous batch held more than one unit: only then does the next one wait.
    let mut busy = true;
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            match next_batch(&mut receiver, &config, busy).await {
                Some(batch) => batch,
                None => return,
            }
        };
        busy = batch.len() > 1;
        commit_batch(&pool, batch, &mut careful).await;
    }
}

/// The first unit to arrive, then whatever else is waiting (when `busy`, up to `max_wait` for
/// more) until the batch holds `max_changes` changes. `None` once the queue is closed and empty.
async fn next_batch(
    receiver: &mut mpsc::Receiver<Unit>,
    config: &GroupCommit,
    busy: bool,
) -> Option<Vec<Unit>> {
    let first = receiver.recv().await?;
    let mut size = first.changes.len();
    let mut batch = vec![first];
    let wait = if busy {
        config.max_wait
    } else {
        Duration::ZERO
    };
    let deadline = Instant::now() + wait;
    while size < config.max_changes {
        let next = match receiver.try_recv() {
            Ok(unit) => unit,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) if wait.is_zero() => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(Some(unit)) => unit,
                    Ok(None) | Err(_) => break,
                }
            }
        };
        size += next.changes.len();
        batch.push(next);
    }
    Some(batch)
}

/// How often a unit refused by a deadlock or a serialization failure is tried again.
const RETRIES: usize = 3;

/// How many batches after one where a unit failed are written with a savepoint per unit from
/// the start, rather than tried without and written again.
const CAREFUL_BATCHES: u32 = 16;

/// Commits a batch and answers every unit in it. A unit refused because it deadlocked anyway
/// (an atomic unit of several records, a unique name two batches insert crosswise) is retried
/// alone once this batch committed and released its locks.
///
/// A batch is first written without savepoints ([`commit_optimistic`]): a savepoint costs a
/// round trip and a subtransaction per unit, and almost every unit succeeds. Should one fail,
/// that transaction is rolled back whole and the batch is written again with a savepoint per
/// unit ([`commit_units`]), so every unit gets exactly the answer it gets there; the next
/// [`CAREFUL_BATCHES`] batches then start that way.
async fn commit_batch(pool: &PgPool, mut batch: Vec<Unit>, careful: &mut u32) {
    // Every batch writes its records in the order of their ids, so that two batches (of this
    // process or another) touching the same records wait for each other instead of deadlocking.
    batch.sort_by_key(|unit| unit.changes.iter().map(|c| c.record.id()).min());
    let mut replies = Vec::with_capacity(batch.len());
    let mut units = Vec::with_capacity(batch.len());
    for unit in batch {
        replies.push(unit.reply);
        units.push(unit.changes);
    }
    let committed = if units.len() > 1 && *careful == 0 {
        match commit_optimistic(pool, units).await {
            Ok(Tried::Committed(outcomes)) => Ok(outcomes),
            Ok(Tried::UnitFailed(units)) => {
                *careful = CAREFUL_BATCHES;
                commit_units(pool, units).await
            }
            Err(err) => Err(err),
        }
    } else {
        *careful = careful.saturating_sub(1);
        commit_units(pool, units).await
    };
    let outcomes = match committed {
        Ok(outcomes) => outcomes,
        Err(err) => {
            let mut outcomes = Vec::with_capacity(replies.len());
            outcomes.push(Done::Answer(Err(err)));
            while outcomes.len() < replies.len() {
                let shared = shared_failure(outcomes.first());
                outcomes.push(Done::Answer(Err(shared)));
            }
            outcomes
        }
    };
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        let answer = match outcome {
            Done::Answer(answer) => answer,
            Done::Retry(changes, err) => retry_alone(pool, changes, err).await,
        };
        // A caller that stopped waiting (its request was cancelled) is not there to answer.
        let _ = reply.send(answer);
    }
}

/// Commits a unit in a transaction of its own, up to [`RETRIES`] times while it deadlocks.
async fn retry_alone(
    pool: &PgPool,
    mut changes: Vec<Change>,
    mut last: StoreError,
) -> StoreResult<Vec<Committed>> {
    for _ in 0..RETRIES {
        let mut outcome = commit_units(pool, vec![changes]).await?;
        match outcome.pop() {
            Some(Done::Answer(answer)) => return answer,
            Some(Done::Retry(again, err)) => {
                changes = again;
                last = err;
            }
            None => break,
        }
    }
    Err(last)
}

/// The error the other units of a batch get when the batch's transaction failed as a whole.
fn shared_failure(first: Option<&Done>) -> StoreError {
    match first {
        Some(Done::Answer(Err(err @ StoreError::Unavailable(_)))) => {
            StoreError::Unavailable(Cause::from(format!(
                "the commit this change was grouped into failed: {err}"
            )))
        }
        Some(Done::Answer(Err(err))) => StoreError::Internal(Cause::from(format!(
            "the commit this change was grouped into failed: {err}"
        ))),
        _ => StoreError::Internal(Cause::from("the group commit failed")),
    }
}

/// What became of one unit while its records were written.
enum Outcome {
    Staged(Vec<Staged>),
    Refused(StoreError),
    /// Refused by a deadlock or a serialization failure: worth another try.
    Retry(Vec<Change>, StoreError),
}

/// A unit's answer after its batch, or the unit back for another try.
enum Done {
    Answer(StoreResult<Vec<Committed>>),
    Retry(Vec<Change>, StoreError),
}

impl Outcome {
    /// What a unit gets when nothing of the batch is appended.
    fn unappended(self) -> Done {
        match self {
            Outcome::Staged(_) => Done::Answer(Err(StoreError::Internal(Cause::from(
                "a staged change was not appended",
            )))),
            Outcome::Refused(err) => Done::Answer(Err(err)),
            Outcome::Retry(changes, err) => Done::Retry(changes, err),
        }
    }
}

/// What became of a batch written without savepoints.
enum Tried {
    /// Every unit committed.
    Committed(Vec<Done>),
    /// A unit failed: nothing was committed, and the batch is handed back whole.
    UnitFailed(Vec<Vec<Change>>),
}

/// One transaction for the whole batch, no savepoints: either every unit commits, or (a unit
/// failed) none does and the batch comes back to be written unit by unit. `Err` when the
/// transaction itself failed after every unit was written (then nothing of the batch committed).
///
/// Creations of one kind side by side in the queue (units of one change each: every
/// `POST /trials`, every skill or agent created; see [`write::written_together`]) are inserted
/// by one statement instead of one each: a batch of 32 made 32 round trips to the database
/// before it could take the head. The queue's order is kept (a run ends where another kind
/// begins, so an agent still comes after the skill it names), and a creation refused among
/// them fails that statement, so the batch is written again unit by unit and it fails alone.
async fn commit_optimistic(pool: &PgPool, units: Vec<Vec<Change>>) -> StoreResult<Tried> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let mut staged = Vec::with_capacity(units.len());
    let mut next = 0;
    while next < units.len() {
        // Consecutive creations of one kind (units of one change each: bookings, skills, agents
        // …) are written in one statement.
        let kind = together(&units[next]);
        let run = match kind {
            Some(kind) => units[next..]
                .iter()
                .take_while(|u| together(u) == Some(kind))
                .count(),
            None => 1,
        };
        let written = match kind {
            Some(kind) if run > 1 => {
                let changes = units[next..next + run]
                    .iter()
                    .flat_map(|u| u.iter().cloned())
                    .collect();
                write::stage_creations(&mut tx, kind, changes)
                    .await
                    .map(|all| all.into_iter().map(|s| Outcome::Staged(vec![s])).collect())
            }
            _ => stage_unit(&mut tx, units[next].clone())
                .await
                .map(|unit| vec![Outcome::Staged(unit)]),
        };
        match written {
            Ok(outcomes) => staged.extend(outcomes),
            Err(_) => {
                // Rolled back here, or (the connection is gone) by the pool that drops it.
                let _ = tx.rollback().await;
                return Ok(Tried::UnitFailed(units));
            }
        }
        next += run;
    }
    append_and_commit(tx, staged).await.map(Tried::Committed)
}

/// The kind of the creations a unit can be written together with: a unit of one change that
/// [`write::written_together`] admits.
fn together(unit: &[Change]) -> Option<Kind> {
    match unit {
        [change] => write::written_together(change),
        _ => None,
    }
}

/// One transaction for the whole batch; `Err` when the transaction itself failed (then nothing
/// of the batch committed), otherwise one outcome per unit, in order.
async fn commit_units(pool: &PgPool, units: Vec<Vec<Change>>) -> StoreResult<Vec<Done>> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    // A batch of one unit needs no savepoint: its failure is the transaction's.
    let alone = units.len() == 1;
    let last = units.len().saturating_sub(1);
    let mut outcomes = Vec::with_capacity(units.len());
    for (i, changes) in units.into_iter().enumerate() {
        if !alone && i == 0 {
            savepoint(&mut tx, "savepoint unit").await?;
        }
        // Kept for another try should the unit deadlock with another batch.
        let copy = changes.clone();
        match stage_unit(&mut tx, changes).await {
            Ok(staged) => {
                // The next unit gets a fresh savepoint, so that its failure keeps this one.
                if !alone && i < last {
                    savepoint(&mut tx, "release savepoint unit; savepoint unit").await?;
                }
                outcomes.push(Outcome::Staged(staged));
            }
            Err(err) => {
                let outcome = if is_retryable(&err) {
                    Outcome::Retry(copy, err)
                } else {
                    Outcome::Refused(err)
                };
                if alone {
                    let _ = tx.rollback().await;
                    return Ok(vec![outcome.unappended()]);
                }
                savepoint(&mut tx, "rollback to savepoint unit").await?;
                outcomes.push(outcome);
            }
        }
    }
    if !outcomes.iter().any(|o| matches!(o, Outcome::Staged(_))) {
        // Every unit was refused: nothing to append or flush. A failed rollback only costs
        // the connection, which the pool then replaces.
        let _ = tx.rollback().await;
        return Ok(outcomes.into_iter().map(Outcome::unappended).collect());
    }
    append_and_commit(tx, outcomes).await
}

/// Locks the head, links and appends the entries of every staged unit, commits; one answer per
/// unit, in order (the refused ones keep their error).
async fn append_and_commit(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    outcomes: Vec<Outcome>,
) -> StoreResult<Vec<Done>> {
    let head = write::lock_head(&mut tx).await?;
    let mut appended = Appended::after(head);
    let mut results = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        results.push(match outcome {
            Outcome::Staged(staged) => {
                let mut committed = Vec::with_capacity(staged.len());
                for s in staged {
                    // A record written without its entry must not commit: any failure here
                    // fails the whole transaction.
                    committed.push(appended.push(s)?);
                }
                Done::Answer(Ok(committed))
            }
            other => other.unappended(),
        });
    }
    appended.execute(&mut tx).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(results)
}

/// Runs a savepoint command (one round trip, even for two statements).
async fn savepoint(conn: &mut PgConnection, command: &'static str) -> StoreResult<()> {
    sqlx::raw_sql(command)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(store_error)
}

/// Writes one unit's records, in order.
async fn stage_unit(conn: &mut PgConnection, changes: Vec<Change>) -> StoreResult<Vec<Staged>> {
    let mut staged = Vec::with_capacity(changes.len());
    for change in changes {
        staged.push(write::stage(conn, change).await?);
    }
    Ok(staged)
}

/// The entries of a batch linked after the head, as the columns of one append statement.
struct Appended {
    head: Head,
    seq: Vec<i64>,
    entity_id: Vec<uuid::Uuid>,
    entity_type: Vec<String>,
    entity_version: Vec<i64>,
    action: Vec<String>,
    actor: Vec<String>,
    at: Vec<chrono::DateTime<chrono::Utc>>,
    payload: Vec<String>,
    prev_hash: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    history: Vec<Json<Value>>,
    chain: Vec<Json<Value>>,
}

impl Appended {
    fn after(head: Head) -> Self {
        Self {
            head,
            seq: Vec::new(),
            entity_id: Vec::new(),
            entity_type: Vec::new(),
            entity_version: Vec::new(),
            action: Vec::new(),
            actor: Vec::new(),
            at: Vec::new(),
            payload: Vec::new(),
            prev_hash: Vec::new(),
            hash: Vec::new(),
            history: Vec::new(),
            chain: Vec::new(),
        }
    }

    /// Links a staged record's entry after the last one and returns the record as committed.
    fn push(&mut self, staged: Staged) -> StoreResult<Committed> {
        let committed = staged.link(self.head);
        let entry = &committed.entry;
        let json = |v: Result<Value, serde_json::Error>| {
            v.map(Json).map_err(|e| {
                StoreError::Internal(Cause::from(format!("chain-derived fields: {e}")))
            })
        };
        let (history, chain) = match committed.record.base() {
            Some(base) => (
                json(serde_json::to_value(&base.amendment_history))?,
                json(serde_json::to_value(&base.hash_chain_sha256))?,
            ),
            None => (Json(Value::Null), Json(Value::Null)),
        };
        self.seq.push(to_i64(entry.seq)?);
        self.entity_id.push(entry.entity_id);
        self.entity_type.push(entry.entity_type.clone());
        self.entity_version.push(to_i64(entry.entity_version)?);
        self.action.push(entry.action.clone());
        self.actor.push(entry.actor.clone());
        self.at.push(entry.at.as_datetime());
        self.payload.push(entry.payload.clone());
        self.prev_hash.push(entry.prev_hash.0.to_vec());
        self.hash.push(entry.hash.0.to_vec());
        self.history.push(history);
        self.chain.push(chain);
        self.head = entry.head();
        Ok(committed)
    }

    /// Appends every entry, moves the head to the last, sets the records' chain-derived
    /// columns: one statement.
    async fn execute(self, conn: &mut PgConnection) -> StoreResult<()> {
        // The last entry of each record in the batch sets its columns.
        let mut last_of: HashMap<uuid::Uuid, usize> = HashMap::with_capacity(self.entity_id.len());
        for (i, id) in self.entity_id.iter().enumerate() {
            last_of.insert(*id, i);
        }
        let mut last: Vec<usize> = last_of.into_values().collect();
        last.sort_unstable();
        let ids: Vec<uuid::Uuid> = last.iter().map(|&i| self.entity_id[i]).collect();
        let hashes: Vec<Vec<u8>> = last.iter().map(|&i| self.hash[i].clone()).collect();
        let mut histories = Vec::with_capacity(last.len());
        let mut chains = Vec::with_capacity(last.len());
        let (mut history, mut chain) = (self.history, self.chain);
        for &i in &last {
            histories.push(std::mem::replace(&mut history[i], Json(Value::Null)));
            chains.push(std::mem::replace(&mut chain[i], Json(Value::Null)));
        }
        // Planned for each batch, not once per connection: a plan cached while a table was
        // small scans it whole ever after (see `sql::APPEND_BATCH`); planned with the batch's
        // arrays and the tables' current sizes, every update is an index lookup.
        sqlx::query(sql::APPEND_BATCH)
            .persistent(false)
            .bind(self.seq)
            .bind(self.entity_id)
            .bind(self.entity_type)
            .bind(self.entity_version)
            .bind(self.action)
            .bind(self.actor)
            .bind(self.at)
            .bind(self.payload)
            .bind(self.prev_hash)
            .bind(self.hash)
            .bind(to_i64(self.head.seq)?)
            .bind(self.head.hash.0.to_vec())
            .bind(ids)
            .bind(hashes)
            .bind(histories)
            .bind(chains)
            .execute(conn)
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}
