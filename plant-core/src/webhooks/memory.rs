//! Subscriptions in the in-memory store: the same leases, versions and audit entries as in
//! PostgreSQL, behind a lock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    DELIVERY_LOG_RETENTION, DeliveryAttempt, Progress, Subscription, SubscriptionState,
    WebhookError, WebhookResult, WebhookStore,
};
use crate::Timestamp;
use crate::store::{MemoryStore, Store};

/// The memory store's subscriptions and delivery log.
#[derive(Debug, Default)]
pub struct WebhookTables {
    inner: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    subscriptions: HashMap<Uuid, Row>,
    deliveries: HashMap<Uuid, VecDeque<DeliveryAttempt>>,
}

#[derive(Debug)]
struct Row {
    sub: Subscription,
    lease: Option<(Uuid, Timestamp)>,
}

impl WebhookTables {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        // Every change below is applied whole before the guard drops, so a poisoned lock still
        // guards consistent tables.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn stored_version(tables: &Tables, sub: &Subscription) -> WebhookResult<()> {
    let row = tables
        .subscriptions
        .get(&sub.id)
        .ok_or(WebhookError::NotFound(sub.id))?;
    let expected = sub.version.saturating_sub(1);
    if row.sub.version != expected {
        return Err(WebhookError::VersionConflict {
            id: sub.id,
            expected,
            actual: row.sub.version,
        });
    }
    Ok(())
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_subscription(&self, sub: &Subscription, actor: &str) -> WebhookResult<()> {
        let entry = sub.audit_entry("create", actor)?;
        let mut tables = self.webhooks.lock();
        tables.subscriptions.insert(
            sub.id,
            Row {
                sub: sub.clone(),
                lease: None,
            },
        );
        self.append_entry(entry);
        Ok(())
    }

    async fn subscription(&self, id: Uuid) -> WebhookResult<Option<Subscription>> {
        Ok(self
            .webhooks
            .lock()
            .subscriptions
            .get(&id)
            .map(|r| r.sub.clone()))
    }

    async fn subscriptions(&self) -> WebhookResult<Vec<Subscription>> {
        let mut all: Vec<Subscription> = self
            .webhooks
            .lock()
            .subscriptions
            .values()
            .map(|r| r.sub.clone())
            .collect();
        all.sort_by_key(|s| (s.created_at, s.id));
        Ok(all)
    }

    async fn update_subscription(
        &self,
        sub: &Subscription,
        action: &str,
        actor: &str,
    ) -> WebhookResult<()> {
        let entry = sub.audit_entry(action, actor)?;
        let mut tables = self.webhooks.lock();
        stored_version(&tables, sub)?;
        if let Some(row) = tables.subscriptions.get_mut(&sub.id) {
            row.sub = sub.clone();
        }
        self.append_entry(entry);
        Ok(())
    }

    async fn delete_subscription(&self, id: Uuid, actor: &str) -> WebhookResult<()> {
        let mut tables = self.webhooks.lock();
        let row = tables
            .subscriptions
            .get(&id)
            .ok_or(WebhookError::NotFound(id))?;
        let mut gone = row.sub.clone();
        gone.version += 1;
        gone.updated_at = Timestamp::now();
        let entry = gone.audit_entry("delete", actor)?;
        tables.subscriptions.remove(&id);
        tables.deliveries.remove(&id);
        self.append_entry(entry);
        Ok(())
    }

    async fn claim_due(
        &self,
        owner: Uuid,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> WebhookResult<Vec<Subscription>> {
        let head = self.head().await?.seq;
        let mut tables = self.webhooks.lock();
        let mut due: Vec<&mut Row> = tables
            .subscriptions
            .values_mut()
            .filter(|r| {
                r.sub.state == SubscriptionState::Active
                    && r.sub.next_attempt_at <= now
                    && r.sub.cursor < head
                    && r.lease.is_none_or(|(_, until)| until < now)
            })
            .collect();
        due.sort_by_key(|r| r.sub.next_attempt_at);
        Ok(due
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|r| {
                r.lease = Some((owner, lease_until));
                r.sub.clone()
            })
            .collect())
    }

    async fn record_progress(
        &self,
        id: Uuid,
        owner: Uuid,
        version: u64,
        progress: Progress,
    ) -> WebhookResult<bool> {
        let mut tables = self.webhooks.lock();
        let Some(row) = tables.subscriptions.get_mut(&id) else {
            return Ok(false);
        };
        if row.sub.version != version || row.lease.is_none_or(|(o, _)| o != owner) {
            return Ok(false);
        }
        row.sub.cursor = progress.cursor;
        row.sub.attempt = progress.attempt;
        row.sub.next_attempt_at = progress.next_attempt_at;
        row.lease = progress.lease_until.map(|until| (owner, until));
        Ok(true)
    }

    async fn release(&self, id: Uuid, owner: Uuid) -> WebhookResult<()> {
        let mut tables = self.webhooks.lock();
        if let Some(row) = tables.subscriptions.get_mut(&id)
            && row.lease.is_some_and(|(o, _)| o == owner)
        {
            row.lease = None;
        }
        Ok(())
    }

    async fn log_delivery(&self, attempt: &DeliveryAttempt) -> WebhookResult<()> {
        let mut tables = self.webhooks.lock();
        if !tables.subscriptions.contains_key(&attempt.subscription_id) {
            return Ok(());
        }
        let log = tables
            .deliveries
            .entry(attempt.subscription_id)
            .or_default();
        log.push_front(attempt.clone());
        log.truncate(usize::try_from(DELIVERY_LOG_RETENTION).unwrap_or(usize::MAX));
        Ok(())
    }

    async fn deliveries(&self, id: Uuid, limit: u32) -> WebhookResult<Vec<DeliveryAttempt>> {
        Ok(self
            .webhooks
            .lock()
            .deliveries
            .get(&id)
            .map(|log| {
                log.iter()
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
}
