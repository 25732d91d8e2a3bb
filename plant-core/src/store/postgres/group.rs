//! Group commit: the changes that are ready in a process commit together, one transaction, one
//! lock of the chain's head and one WAL flush for a batch.
//!
//! Every [`Store::commit`](crate::store::Store::commit) and `commit_all` becomes a *unit* (one
//! change, or an atomic list of them) sent to a queue. A few appender tasks (see
//! [`GroupCommit::appenders`]) take what is waiting — up to [`GroupCommit::max_changes`] changes,
//! waiting at most [`GroupCommit::max_wait`] for more after the first, and no longer than
//! [`GroupCommit::quiet`] after the last — and commit it as one transaction:
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
//!    The append statement and the `COMMIT` go to the database in one message (`BatchTx`).
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
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::Instant;

use super::error::{is_retryable, store_error};
use super::write::{self, Staged, to_i64};
use super::{literal, sql};
use crate::audit::{Hash, Head};
use crate::error::Cause;
use crate::model::{Kind, Record};
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
    /// Within `max_wait`, a batch closes once no change arrived for this long (default 1 ms).
    ///
    /// A process's batch can hold no more changes than it has writers waiting, and with
    /// several processes on one database each has a share of them: at three processes of
    /// about eleven writers each, every batch waited out the whole `max_wait` for changes that
    /// could not come. Answered changes come back as a burst and then stop; closing the batch
    /// when they stop keeps a lone process's batches full and lets the others' go at once
    /// (skill creates over HTTP, 32 connections, durable cluster, no indexing during the rows,
    /// 6 s rows interleaved; bench/README.md): 4 ms without it 3,072–3,168 req/s over three
    /// processes and 4,398–4,573 over one; with 1 ms 3,524–3,578 and 4,228–4,492; with 2 ms
    /// 3,317–3,499 and 4,329–4,514.
    pub quiet: Duration,
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
            quiet: Duration::from_millis(1),
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
                let until = deadline.min(Instant::now() + config.quiet);
                match tokio::time::timeout_at(until, receiver.recv()).await {
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
    let mut tx = BatchTx::begin(pool).await?;
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
                // Rolled back here, or (the connection is gone) closed as it is dropped.
                tx.rollback().await;
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
    let mut tx = BatchTx::begin(pool).await?;
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
                    tx.rollback().await;
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
        tx.rollback().await;
        return Ok(outcomes.into_iter().map(Outcome::unappended).collect());
    }
    append_and_commit(tx, outcomes).await
}

/// Locks the head, links and appends the entries of every staged unit, commits; one answer per
/// unit, in order (the refused ones keep their error).
async fn append_and_commit(mut tx: BatchTx, outcomes: Vec<Outcome>) -> StoreResult<Vec<Done>> {
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
    tx.append_and_commit(appended.statement()?).await?;
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

/// A batch's transaction, begun and ended by hand: its last message carries the append and the
/// `COMMIT` together, one round trip while the chain's head is held (sqlx's `Transaction` would
/// wait for the append's answer, then send `COMMIT` and wait again). Sampled on three processes
/// writing (`pg_stat_activity` every few milliseconds), the head's holder spent a quarter of
/// its time waiting for its client to send that `COMMIT`, every other process's batch waiting
/// behind it.
///
/// Dropped before it ended (an error on the way, a cancelled future), its connection is closed
/// rather than returned to the pool inside a transaction.
struct BatchTx {
    conn: PoolConnection<Postgres>,
    /// Begun and not yet committed or rolled back.
    open: bool,
}

impl BatchTx {
    async fn begin(pool: &PgPool) -> StoreResult<Self> {
        let mut conn = pool.acquire().await.map_err(store_error)?;
        sqlx::raw_sql("begin")
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        Ok(Self { conn, open: true })
    }

    /// Rolls back; should that fail, the connection is closed as this is dropped.
    async fn rollback(mut self) {
        if sqlx::raw_sql("rollback")
            .execute(&mut *self.conn)
            .await
            .is_ok()
        {
            self.open = false;
        }
    }

    /// Runs the append statement and `COMMIT` in one message. When either fails, nothing of
    /// the batch is committed: the rest of the message is skipped and the transaction rolled
    /// back.
    async fn append_and_commit(mut self, statement: String) -> StoreResult<()> {
        match sqlx::raw_sql(AssertSqlSafe(statement))
            .execute(&mut *self.conn)
            .await
        {
            Ok(_) => {
                self.open = false;
                Ok(())
            }
            Err(err) => {
                let err = store_error(err);
                self.rollback().await;
                Err(err)
            }
        }
    }
}

impl Drop for BatchTx {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

impl std::ops::Deref for BatchTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for BatchTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// The table holding a record's chain-derived columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Derived {
    /// `base_entity`: version hash, amendment history, hash chain (the five catalog kinds).
    Catalog,
    Trial,
    Job,
    PrecedentSeed,
}

impl Derived {
    /// The table's name.
    fn name(self) -> &'static str {
        match self {
            Derived::Catalog => "base_entity",
            Derived::Trial => "trial",
            Derived::Job => "job",
            Derived::PrecedentSeed => "precedent_seed",
        }
    }

    fn of(record: &Record) -> Self {
        match record {
            Record::Trial(_) => Derived::Trial,
            Record::Job(_) => Derived::Job,
            Record::PrecedentSeed(_) => Derived::PrecedentSeed,
            _ => Derived::Catalog,
        }
    }
}

/// A record's chain-derived columns, as of its last entry in the batch.
struct Latest {
    table: Derived,
    id: uuid::Uuid,
    hash: Hash,
    /// JSON of the amendment history and the hash chain (catalog kinds).
    history: String,
    chain: String,
}

/// The entries of a batch linked after the head, rendered as they are linked into the one
/// statement that appends them (see [`literal`]).
struct Appended {
    head: Head,
    /// The rows of the `audit_log` insert, `(…), (…)`.
    rows: String,
    latest: Vec<Latest>,
    /// Index in `latest` by record id.
    of: HashMap<uuid::Uuid, usize>,
}

impl Appended {
    fn after(head: Head) -> Self {
        Self {
            head,
            rows: String::new(),
            latest: Vec::new(),
            of: HashMap::new(),
        }
    }

    /// Links a staged record's entry after the last one and returns the record as committed.
    fn push(&mut self, staged: Staged) -> StoreResult<Committed> {
        let committed = staged.link(self.head);
        let entry = &committed.entry;
        let json = |v: Result<String, serde_json::Error>| {
            v.map_err(|e| StoreError::Internal(Cause::from(format!("chain-derived fields: {e}"))))
        };
        let (history, chain) = match committed.record.base() {
            Some(base) => (
                json(serde_json::to_string(&base.amendment_history))?,
                json(serde_json::to_string(&base.hash_chain_sha256))?,
            ),
            None => (String::new(), String::new()),
        };
        let rows = &mut self.rows;
        if !rows.is_empty() {
            rows.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(rows, "({}, '{}', ", to_i64(entry.seq)?, entry.entity_id);
        literal::text(rows, &entry.entity_type)?;
        let _ = write!(rows, ", {}, ", to_i64(entry.entity_version)?);
        literal::text(rows, &entry.action)?;
        rows.push_str(", ");
        literal::text(rows, &entry.actor)?;
        rows.push_str(", ");
        literal::timestamp(rows, entry.at.as_datetime());
        rows.push_str(", ");
        literal::text(rows, &entry.payload)?;
        rows.push_str(", ");
        literal::bytes(rows, &entry.prev_hash.0);
        rows.push_str(", ");
        literal::bytes(rows, &entry.hash.0);
        rows.push(')');
        let latest = Latest {
            table: Derived::of(&committed.record),
            id: entry.entity_id,
            hash: entry.hash,
            history,
            chain,
        };
        match self.of.get(&entry.entity_id) {
            Some(&i) => self.latest[i] = latest,
            None => {
                self.of.insert(entry.entity_id, self.latest.len());
                self.latest.push(latest);
            }
        }
        self.head = entry.head();
        Ok(committed)
    }

    /// The statement that appends every entry, moves the head to the last and sets the
    /// records' chain-derived columns (each table's update only when the batch has records
    /// there), followed by `COMMIT`. Planned for its batch, with the exact rows it updates.
    fn statement(self) -> StoreResult<String> {
        if self.rows.is_empty() {
            return Ok("commit".to_owned());
        }
        let mut parts = Vec::with_capacity(6);
        parts.push(format!(
            "insert into audit_log ({}) values {}",
            sql::AUDIT_COLUMNS,
            self.rows
        ));
        let mut moved = format!(
            "update audit_head set seq = {}, hash = ",
            to_i64(self.head.seq)?
        );
        literal::bytes(&mut moved, &self.head.hash.0);
        moved.push_str(" where audit_head.id");
        parts.push(moved);
        for table in [
            Derived::Catalog,
            Derived::Trial,
            Derived::Job,
            Derived::PrecedentSeed,
        ] {
            let mut values = String::new();
            for latest in self.latest.iter().filter(|l| l.table == table) {
                if !values.is_empty() {
                    values.push_str(", ");
                }
                let _ = write!(values, "('{}'::uuid, ", latest.id);
                literal::bytes(&mut values, &latest.hash.0);
                if table == Derived::Catalog {
                    values.push_str(", ");
                    literal::text(&mut values, &latest.history)?;
                    values.push_str("::jsonb, ");
                    literal::text(&mut values, &latest.chain)?;
                    values.push_str("::jsonb");
                }
                values.push(')');
            }
            if values.is_empty() {
                continue;
            }
            parts.push(match table {
                Derived::Catalog => format!(
                    "update base_entity b set version_hash = l.hash, amendment_history = l.history, \
                     hash_chain_sha256 = l.chain from (values {values}) as l(id, hash, history, chain) \
                     where b.id = l.id"
                ),
                _ => format!(
                    "update {name} k set version_hash = l.hash from (values {values}) as l(id, hash) \
                     where k.id = l.id",
                    name = table.name()
                ),
            });
        }
        let last = parts.pop().unwrap_or_default();
        let mut statement =
            String::with_capacity(parts.iter().map(String::len).sum::<usize>() + last.len() + 64);
        for (i, part) in parts.iter().enumerate() {
            statement.push_str(if i == 0 { "with " } else { ", " });
            let _ = write!(statement, "s{i} as ({part})");
        }
        statement.push(' ');
        statement.push_str(&last);
        statement.push_str("; commit");
        Ok(statement)
    }
}
