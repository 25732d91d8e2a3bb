//! The delivery worker: leases due subscriptions, posts each one's matching entries in seq
//! order through a [`Transport`], one in flight per subscription, and records the outcome.
//!
//! Each leased subscription gets its own task, so a slow or failing consumer holds up nothing
//! but itself; writes never wait for deliveries (the worker only reads the chain). The cursor
//! moves only after a 2xx, so a crash (of the receiver or of this process) repeats at most the
//! entry in flight: delivery is at least once. The worker wakes on the store's audit signal
//! (`NOTIFY plant_audit` on PostgreSQL) and polls as a fall-back and for retries that come due.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use super::{
    DeliveryAttempt, Progress, RetrySchedule, Subscription, SubscriptionState, WebhookResult,
    WebhookStore, signature_header,
};
use crate::Timestamp;
use crate::audit::{AuditEntry, Hash};
use crate::store::Store;

/// The actor of the audit entries the worker writes (marking a subscription failing).
pub const WORKER_ACTOR: &str = "webhook-worker";

/// One signed request for the transport to post.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The subscription's target URL.
    pub url: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` and `content-type`.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// Sends deliveries over HTTP (the server's implementation checks the target's addresses).
#[async_trait]
pub trait Transport: Send + Sync {
    /// Posts `delivery`: the receiver's status code, or why no answer came.
    async fn send(&self, delivery: &Delivery) -> Result<u16, String>;
}

/// How the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// When failed deliveries are retried.
    pub schedule: RetrySchedule,
    /// How long a lease lasts without renewal; a crashed worker's subscriptions are taken over
    /// after this. Must exceed the transport's request timeout.
    pub lease: Duration,
    /// How often the worker looks for due subscriptions without a signal.
    pub poll: Duration,
    /// Entries read from the chain at a time.
    pub batch: u64,
    /// Subscriptions delivered to at once by this process.
    pub concurrency: u32,
    /// With no active subscription, the least time between two lease queries. Every commit
    /// moves the signal, so the worker would query once per commit batch in every process for
    /// nothing; waiting this long lets the signals of a burst start one query. While any
    /// subscription is active the worker queries on every signal, so deliveries keep up.
    pub settle: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            batch: 256,
            concurrency: 32,
            settle: Duration::from_millis(50),
        }
    }
}

/// The body of a delivery (Standard Webhooks' `type`, `timestamp`, `data`).
#[derive(Debug, Serialize)]
struct Event<'a> {
    /// `<entity_type>.<action>`, e.g. `Skill.certify`.
    r#type: String,
    timestamp: Timestamp,
    data: EventData<'a>,
}

#[derive(Debug, Serialize)]
struct EventData<'a> {
    seq: u64,
    entity_id: Uuid,
    entity_type: &'a str,
    entity_version: u64,
    action: &'a str,
    actor: &'a str,
    at: Timestamp,
    hash: Hash,
    prev_hash: Hash,
    /// The record after the change (the entry's payload).
    record: serde_json::Value,
}

/// The `webhook-id` of an entry: the same on every attempt, to every subscriber.
pub fn webhook_id(seq: u64) -> String {
    format!("plant-audit-{seq}")
}

/// The signed request that delivers `entry` to `sub` at `now`.
pub fn sign_delivery(sub: &Subscription, entry: &AuditEntry, now: Timestamp) -> Delivery {
    let record = entry.payload_json().unwrap_or(serde_json::Value::Null);
    let event = Event {
        r#type: format!("{}.{}", entry.entity_type, entry.action),
        timestamp: entry.at,
        data: EventData {
            seq: entry.seq,
            entity_id: entry.entity_id,
            entity_type: &entry.entity_type,
            entity_version: entry.entity_version,
            action: &entry.action,
            actor: &entry.actor,
            at: entry.at,
            hash: entry.hash,
            prev_hash: entry.prev_hash,
            record,
        },
    };
    // Serialising plain structs and a parsed JSON value cannot fail.
    let body = serde_json::to_vec(&event).unwrap_or_default();
    let id = webhook_id(entry.seq);
    let timestamp = now.as_datetime().timestamp();
    let signature = signature_header(&sub.signing_secrets(now), &id, timestamp, &body);
    Delivery {
        url: sub.url.clone(),
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ],
        body,
    }
}

/// Whether `entry` is a change to `sub` made after the job took it (a rotated secret, a pause, a
/// new URL, a deletion). Every change to a subscription is an entry on the chain, so one made
/// under a lease is read before any entry committed after it: the job stops there, and entries
/// from then on go out under the stored subscription, from the next lease. (Recording an attempt
/// also checks the version, so a change made while a request is out ends the job after it.)
fn changed(sub: &Subscription, entry: &AuditEntry) -> bool {
    entry.entity_id == sub.id && entry.entity_version > sub.version
}

fn later(t: Timestamp, d: Duration) -> Timestamp {
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    Timestamp::from_datetime(t.as_datetime() + d)
}

/// Starts the worker on the store's webhook tables. Returns `None` when the store keeps none.
/// Abort the handle to stop it (a delivery cut short is repeated by the next lease holder).
pub fn spawn_worker(
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    options: WorkerOptions,
) -> Option<JoinHandle<()>> {
    store.webhooks()?;
    Some(tokio::spawn(run(store, transport, options)))
}

async fn run(store: Arc<dyn Store>, transport: Arc<dyn Transport>, options: WorkerOptions) {
    let mut signal = store.audit_signal().await.ok().flatten();
    let mut running = JoinSet::new();
    // When the last lease query found nothing due while no subscription was active.
    let mut idle_since: Option<Instant> = None;
    let mut active = Active::default();
    loop {
        if let Some(at) = idle_since {
            let rest = options.settle.saturating_sub(at.elapsed());
            if !rest.is_zero() {
                tokio::time::sleep(rest).await;
            }
        }
        let free = options
            .concurrency
            .saturating_sub(u32::try_from(running.len()).unwrap_or(u32::MAX));
        if free > 0
            && let Some(webhooks) = store.webhooks()
        {
            // A fresh owner for every lease taken: a task that ends releases only its own
            // lease, never a later one of the same subscription taken by this process.
            let owner = Uuid::new_v4();
            let now = Timestamp::now();
            match webhooks
                .claim_due(owner, now, later(now, options.lease), free)
                .await
            {
                Ok(subs) => {
                    idle_since = None;
                    if !subs.is_empty() {
                        active.seen();
                    } else if !active.any(webhooks).await {
                        idle_since = Some(Instant::now());
                    }
                    for sub in subs {
                        let job = Job {
                            store: store.clone(),
                            transport: transport.clone(),
                            options,
                            owner,
                        };
                        running.spawn(async move {
                            let id = sub.id;
                            if let Err(err) = job.deliver(sub).await {
                                tracing::warn!(subscription = %id, error = %err, "webhook delivery stopped");
                            }
                            // Whatever stopped it (caught up, a failure to retry later, the
                            // subscription changed, an error), the lease goes, so that the
                            // next due moment finds it free.
                            if let Ok(hooks) = job.webhooks()
                                && let Err(err) = hooks.release(id, job.owner).await
                            {
                                tracing::warn!(subscription = %id, error = %err, "cannot release a webhook lease");
                            }
                        });
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot lease webhook subscriptions"),
            }
        }
        let poll = tokio::time::sleep(options.poll);
        tokio::select! {
            changed = async { match &mut signal { Some(s) => s.changed().await.is_ok(), None => std::future::pending().await } } => {
                if !changed {
                    signal = None;
                }
            }
            () = poll => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
}

/// Whether any subscription is active, read at most once a second: subscriptions change
/// rarely, and a stale answer only decides whether the next lease query waits
/// [`WorkerOptions::settle`], never whether it runs.
#[derive(Default)]
struct Active {
    read: Option<(bool, Instant)>,
}

impl Active {
    const FRESH: Duration = Duration::from_secs(1);

    async fn any(&mut self, webhooks: &dyn WebhookStore) -> bool {
        if let Some((any, at)) = self.read
            && at.elapsed() < Self::FRESH
        {
            return any;
        }
        // A failed read counts as active: the worker then looks on every signal, as it would
        // without the settle.
        let any = webhooks.subscriptions().await.map_or(true, |all| {
            all.iter().any(|s| s.state == SubscriptionState::Active)
        });
        self.read = Some((any, Instant::now()));
        any
    }

    /// A lease query found work: a subscription is active.
    fn seen(&mut self) {
        self.read = Some((true, Instant::now()));
    }
}

/// One leased subscription being delivered to.
struct Job {
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    options: WorkerOptions,
    owner: Uuid,
}

impl Job {
    fn webhooks(&self) -> WebhookResult<&dyn WebhookStore> {
        self.store.webhooks().ok_or_else(|| {
            crate::store::StoreError::Internal(crate::error::Cause::from(
                "the store keeps no webhooks",
            ))
            .into()
        })
    }

    /// Delivers until the subscription is caught up, a delivery fails, the subscription is
    /// changed, or the lease is lost.
    async fn deliver(&self, mut sub: Subscription) -> WebhookResult<()> {
        let webhooks = self.webhooks()?;
        loop {
            let entries = self
                .store
                .audit_entries(sub.cursor, self.options.batch)
                .await?;
            let Some(last) = entries.last().map(|e| e.seq) else {
                let now = Timestamp::now();
                webhooks
                    .record_progress(
                        sub.id,
                        self.owner,
                        sub.version,
                        self.progress(&sub, now, None),
                    )
                    .await?;
                return Ok(());
            };
            for entry in &entries {
                if changed(&sub, entry) {
                    return Ok(());
                }
                if !sub.filter.matches(entry) {
                    sub.cursor = entry.seq;
                    continue;
                }
                if !self.attempt(&mut sub, entry).await? {
                    return Ok(());
                }
            }
            sub.cursor = last;
            let now = Timestamp::now();
            let renewed = later(now, self.options.lease);
            if !webhooks
                .record_progress(
                    sub.id,
                    self.owner,
                    sub.version,
                    self.progress(&sub, now, Some(renewed)),
                )
                .await?
            {
                return Ok(());
            }
        }
    }

    fn progress(&self, sub: &Subscription, now: Timestamp, lease: Option<Timestamp>) -> Progress {
        Progress {
            cursor: sub.cursor,
            attempt: sub.attempt,
            next_attempt_at: now,
            lease_until: lease,
        }
    }

    /// One attempt at `entry`. `true` when it was delivered and the lease is still held.
    async fn attempt(&self, sub: &mut Subscription, entry: &AuditEntry) -> WebhookResult<bool> {
        let webhooks = self.webhooks()?;
        let sent_at = Timestamp::now();
        let delivery = sign_delivery(sub, entry, sent_at);
        let started = Instant::now();
        let result = self.transport.send(&delivery).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let attempt = sub.attempt.saturating_add(1);
        let (status_code, error) = match result {
            Ok(code) if (200..300).contains(&code) => (Some(code), None),
            Ok(code) => (Some(code), Some(format!("the receiver answered {code}"))),
            Err(why) => (None, Some(why)),
        };
        let now = Timestamp::now();
        let next_retry = match &error {
            None => None,
            Some(_) => self
                .options
                .schedule
                .delay_with_jitter(attempt, getrandom::u32().unwrap_or(u32::MAX / 2))
                .map(|d| later(now, d)),
        };
        let row = DeliveryAttempt {
            subscription_id: sub.id,
            seq: entry.seq,
            webhook_id: webhook_id(entry.seq),
            attempt,
            at: sent_at,
            status_code,
            latency_ms,
            error: error.clone(),
            next_retry_at: next_retry,
        };
        if error.is_none() {
            sub.cursor = entry.seq;
            sub.attempt = 0;
            let renewed = later(now, self.options.lease);
            return webhooks
                .record_attempt(
                    &row,
                    self.owner,
                    sub.version,
                    self.progress(sub, now, Some(renewed)),
                )
                .await;
        }
        sub.attempt = attempt;
        match next_retry {
            Some(at) => {
                let mut progress = self.progress(sub, now, None);
                progress.next_attempt_at = at;
                webhooks
                    .record_attempt(&row, self.owner, sub.version, progress)
                    .await?;
            }
            None => {
                if let Err(err) = webhooks.log_delivery(&row).await {
                    tracing::warn!(subscription = %sub.id, error = %err, "cannot log a webhook delivery");
                }
                // The schedule ran out: stop delivering until an operator resumes it. One
                // audited write, under the lease still held, so no other worker can pick the
                // subscription up between the last attempt and the state change.
                sub.state = SubscriptionState::Failing;
                sub.version += 1;
                sub.updated_at = now;
                sub.next_attempt_at = now;
                webhooks
                    .update_subscription(sub, "fail", WORKER_ACTOR)
                    .await?;
                tracing::warn!(subscription = %sub.id, seq = entry.seq, "webhook subscription marked failing");
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;

    use super::*;
    use crate::store::MemoryStore;
    use crate::webhooks::Filter;

    /// Answers 200 and keeps every delivery.
    #[derive(Default)]
    struct Keep(Mutex<Vec<Delivery>>);

    #[async_trait]
    impl Transport for Keep {
        async fn send(&self, delivery: &Delivery) -> Result<u16, String> {
            self.0.lock().unwrap().push(delivery.clone());
            Ok(200)
        }
    }

    fn header<'a>(d: &'a Delivery, name: &str) -> &'a str {
        d.headers
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .as_str()
    }

    /// The job holds the subscription as leased; between two of its reads of the chain the
    /// secret is rotated. The rotation's entry comes after the rotation, so it goes out signed
    /// with both secrets, by whoever holds the next lease, never with the old one alone.
    #[tokio::test]
    async fn entries_after_a_change_made_under_the_lease_wait_for_the_next_lease() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let hooks = store.webhooks().unwrap();
        let now = Timestamp::now();
        let sub = Subscription::new("https://example.com/hook".into(), Filter::default(), 0, now)
            .unwrap();
        hooks.create_subscription(&sub, "test").await.unwrap();
        let options = WorkerOptions::default();
        let transport = Arc::new(Keep::default());
        let job = |owner| Job {
            store: Arc::clone(&store),
            transport: Arc::clone(&transport) as Arc<dyn Transport>,
            options,
            owner,
        };

        // The first lease delivers the subscription's own `create` entry and stays caught up.
        let first = Uuid::new_v4();
        let mut leased = hooks
            .claim_due(first, now, later(now, options.lease), 1)
            .await
            .unwrap();
        let leased = leased.pop().unwrap();
        job(first).deliver(leased.clone()).await.unwrap();
        assert_eq!(transport.0.lock().unwrap().len(), 1);
        let mut held = leased;
        held.cursor = 1;

        let mut rotated = hooks.subscription(sub.id).await.unwrap().unwrap();
        rotated.rotate_secret(now, now.plus_days(1)).unwrap();
        rotated.version += 1;
        hooks
            .update_subscription(&rotated, "rotate_secret", "test")
            .await
            .unwrap();
        // The job, still holding the lease and the subscription as it was, reads on.
        job(first).deliver(held).await.unwrap();
        assert_eq!(
            transport.0.lock().unwrap().len(),
            1,
            "an entry after the rotation went out with the old secret alone"
        );

        hooks.release(sub.id, first).await.unwrap();
        let second = Uuid::new_v4();
        let now = Timestamp::now();
        let fresh = hooks
            .claim_due(second, now, later(now, options.lease), 1)
            .await
            .unwrap()
            .pop()
            .unwrap();
        job(second).deliver(fresh).await.unwrap();
        let sent = transport.0.lock().unwrap().clone();
        assert_eq!(sent.len(), 2);
        assert_eq!(header(&sent[1], "webhook-id"), webhook_id(2));
        assert_eq!(header(&sent[1], "webhook-signature").split(' ').count(), 2);
    }
}
