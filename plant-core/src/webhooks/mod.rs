//! Webhooks: the audit chain delivered to HTTP subscribers, signed per Standard Webhooks, at
//! least once and in seq order.
//!
//! The chain is the outbox: every change's entry is written in the same transaction as the
//! change, in one gap-free order. A [`Subscription`] keeps a cursor (the last seq delivered or
//! passed over by its [`Filter`]); the [`worker`] posts the next matching entry, moves the cursor
//! only after a 2xx, and retries a failure on a [`RetrySchedule`] until the subscription is marked
//! failing. One worker at a time holds a subscription (a lease in the store that expires), so
//! several processes deliver each entry once per attempt and a crashed one's subscription is
//! picked up from its cursor.
//!
//! Subscriptions are audited: creating, changing, rotating the secret of, failing, resuming and
//! deleting one appends an entry of type [`SUBSCRIPTION_TYPE`] to the chain, through the store's
//! head lock like every other change. They live in their own table rather than as a catalog
//! [`crate::model::Kind`]: a subscription holds secrets and a cursor that moves on every
//! delivery, neither of which belongs in the catalog's records, its read model or its exports.
//! The entry's payload is the subscription without its secrets.
//!
//! plant-core does not speak HTTP: the worker sends through a [`Transport`] the server supplies.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
pub mod retry;
pub mod signing;
pub mod worker;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Timestamp;
use crate::audit::{AuditEntry, NewEntry, to_canonical};
use crate::error::Cause;
use crate::store::{StoreError, StoreResult};

pub use memory::WebhookTables;
pub use retry::RetrySchedule;
pub use signing::{SecretError, WebhookSecret, signature_header};
pub use worker::{Delivery, Transport, WorkerOptions, spawn_worker};

/// The `entity_type` of the audit entries that record changes to subscriptions.
pub const SUBSCRIPTION_TYPE: &str = "WebhookSubscription";

/// Delivery log rows kept per subscription (older ones are dropped; PostgreSQL trims every
/// hundred rows, so it may hold up to a hundred more for a while).
pub const DELIVERY_LOG_RETENTION: u32 = 1000;

/// Which entries a subscription receives. An empty list does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Entry types (`Industry`, `Skill`, `JobRole`, `Team`, `Agent`, `PrecedentSeed`, `Trial`,
    /// `Job`, `WebhookSubscription`), compared without case.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Actions (`create`, `update`, `certify`, `reject`, `supersede`, `job_succeeded`, …).
    #[serde(default)]
    pub actions: Vec<String>,
}

impl Filter {
    /// Whether `entry` passes.
    ///
    /// ```
    /// use plant_core::webhooks::Filter;
    /// let f = Filter { kinds: vec!["skill".into()], actions: vec!["certify".into()] };
    /// assert!(f.accepts("Skill", "certify"));
    /// assert!(!f.accepts("Skill", "update"));
    /// assert!(!f.accepts("Agent", "certify"));
    /// assert!(Filter::default().accepts("Agent", "update"));
    /// ```
    pub fn accepts(&self, entity_type: &str, action: &str) -> bool {
        (self.kinds.is_empty()
            || self
                .kinds
                .iter()
                .any(|k| k.eq_ignore_ascii_case(entity_type)))
            && (self.actions.is_empty() || self.actions.iter().any(|a| a == action))
    }

    /// Whether `entry` passes.
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.accepts(&entry.entity_type, &entry.action)
    }
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionState {
    /// Delivered to.
    Active,
    /// Its retry schedule ran out; nothing is delivered until it is resumed.
    Failing,
    /// Stopped by an operator.
    Paused,
}

impl SubscriptionState {
    /// The wire and column spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Failing => "failing",
            Self::Paused => "paused",
        }
    }
}

impl std::str::FromStr for SubscriptionState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(Self::Active),
            "failing" => Ok(Self::Failing),
            "paused" => Ok(Self::Paused),
            other => Err(format!(
                "unknown state {other:?} (expected active, failing or paused)"
            )),
        }
    }
}

/// A secret that signs deliveries, until `expires_at` when set (the old secret of a rotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    /// The secret.
    pub secret: WebhookSecret,
    /// When it stops signing; `None` for the current secret.
    pub expires_at: Option<Timestamp>,
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are posted.
    pub url: String,
    /// Which entries it receives.
    pub filter: Filter,
    /// Active, failing or paused.
    pub state: SubscriptionState,
    /// The last seq delivered (or passed over by the filter).
    pub cursor: u64,
    /// Failed attempts at the entry after the cursor.
    pub attempt: u32,
    /// When the worker may try next.
    pub next_attempt_at: Timestamp,
    /// The secrets that sign, the current one first.
    pub keys: Vec<SigningKey>,
    /// Its version: 1 when created, + 1 with each audited change.
    pub version: u64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed (audited changes only).
    pub updated_at: Timestamp,
}

/// What the audit entry of a subscription change records: the subscription without secrets,
/// cursor or retry state.
#[derive(Debug, Serialize)]
struct AuditedSubscription<'a> {
    id: Uuid,
    url: &'a str,
    filter: &'a Filter,
    state: SubscriptionState,
    /// Seq the subscription delivers after (meaningful on create, resume and replay).
    after: u64,
    /// How many secrets sign (2 during a rotation's overlap).
    signing_keys: usize,
    version: u64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl Subscription {
    /// A new active subscription delivering the entries after `after`, with a fresh secret.
    pub fn new(
        url: String,
        filter: Filter,
        after: u64,
        now: Timestamp,
    ) -> Result<Self, SecretError> {
        Ok(Self {
            id: Uuid::new_v4(),
            url,
            filter,
            state: SubscriptionState::Active,
            cursor: after,
            attempt: 0,
            next_attempt_at: now,
            keys: vec![SigningKey {
                secret: WebhookSecret::generate()?,
                expires_at: None,
            }],
            version: 1,
            created_at: now,
            updated_at: now,
        })
    }

    /// The secrets that sign at `now`, the current one first.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&WebhookSecret> {
        self.keys
            .iter()
            .filter(|k| k.expires_at.is_none_or(|at| at > now))
            .map(|k| &k.secret)
            .collect()
    }

    /// Replaces the current secret by a new one; the old one keeps signing until `overlap_until`.
    /// Returns the new secret (shown once). Secrets already expired are dropped.
    pub fn rotate_secret(
        &mut self,
        now: Timestamp,
        overlap_until: Timestamp,
    ) -> Result<WebhookSecret, SecretError> {
        let fresh = WebhookSecret::generate()?;
        self.keys.retain(|k| k.expires_at.is_none_or(|at| at > now));
        for key in &mut self.keys {
            if key.expires_at.is_none() {
                key.expires_at = Some(overlap_until);
            }
        }
        self.keys.insert(
            0,
            SigningKey {
                secret: fresh.clone(),
                expires_at: None,
            },
        );
        Ok(fresh)
    }

    /// Makes it deliver again from `after` (or from its cursor), now.
    pub fn resume(&mut self, after: Option<u64>, now: Timestamp) {
        self.state = SubscriptionState::Active;
        if let Some(after) = after {
            self.cursor = after;
        }
        self.attempt = 0;
        self.next_attempt_at = now;
    }

    /// The audit entry recording this subscription as it now is, after `action` by `actor`.
    pub fn audit_entry(&self, action: &str, actor: &str) -> StoreResult<NewEntry> {
        let payload = to_canonical(&AuditedSubscription {
            id: self.id,
            url: &self.url,
            filter: &self.filter,
            state: self.state,
            after: self.cursor,
            signing_keys: self.keys.len(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
        .map_err(|e| StoreError::InvalidChange(Cause::with("subscription payload", e)))?;
        Ok(NewEntry {
            entity_id: self.id,
            entity_type: SUBSCRIPTION_TYPE.to_owned(),
            entity_version: self.version,
            action: action.to_owned(),
            actor: actor.to_owned(),
            at: self.updated_at,
            payload,
        })
    }
}

/// One attempt to deliver an entry, as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    /// The subscription.
    pub subscription_id: Uuid,
    /// The entry's seq.
    pub seq: u64,
    /// The `webhook-id` sent (the same on every attempt at one entry).
    pub webhook_id: String,
    /// 1 for the first attempt at this entry, then 2, 3, ….
    pub attempt: u32,
    /// When it was sent.
    pub at: Timestamp,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// How long the receiver took, in milliseconds.
    pub latency_ms: u64,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// When the entry is tried again, after a failure that the schedule still covers.
    pub next_retry_at: Option<Timestamp>,
}

/// The non-audited state a worker moves while it holds a subscription's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The new cursor.
    pub cursor: u64,
    /// Failed attempts at the entry after it.
    pub attempt: u32,
    /// When to try next.
    pub next_attempt_at: Timestamp,
    /// The lease, renewed until then; `None` releases it.
    pub lease_until: Option<Timestamp>,
}

/// What went wrong with a subscription.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No subscription with that id.
    #[error("webhook subscription {0} not found")]
    NotFound(Uuid),
    /// It changed since the version the caller read.
    #[error("webhook subscription {id} is at version {actual}, not {expected}")]
    VersionConflict {
        /// Its id.
        id: Uuid,
        /// The version expected.
        expected: u64,
        /// The version it is at.
        actual: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A result of a subscription operation.
pub type WebhookResult<T> = Result<T, WebhookError>;

/// Where subscriptions and the delivery log live. Every audited change appends its entry to
/// the same chain as the catalog, in the same transaction as the change.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new subscription and appends its `create` entry.
    async fn create_subscription(&self, sub: &Subscription, actor: &str) -> WebhookResult<()>;

    /// A subscription by id.
    async fn subscription(&self, id: Uuid) -> WebhookResult<Option<Subscription>>;

    /// Every subscription, oldest first.
    async fn subscriptions(&self) -> WebhookResult<Vec<Subscription>>;

    /// Writes `sub` (its configuration, state, secrets and cursor) over the stored one, which
    /// must be at `sub.version - 1`, and appends its entry with `action`. The lease, if any, is
    /// kept; a worker holding it finds the version moved and lets go.
    async fn update_subscription(
        &self,
        sub: &Subscription,
        action: &str,
        actor: &str,
    ) -> WebhookResult<()>;

    /// Deletes a subscription (and its delivery log) and appends its `delete` entry.
    async fn delete_subscription(&self, id: Uuid, actor: &str) -> WebhookResult<()>;

    /// Leases, for `owner` until `lease_until`, up to `limit` active subscriptions that are due
    /// at `now` (`next_attempt_at` passed), behind the chain's head, and not leased by anyone
    /// else (or whose lease expired). A subscription is leased by one owner at a time, whichever
    /// process asks.
    async fn claim_due(
        &self,
        owner: Uuid,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> WebhookResult<Vec<Subscription>>;

    /// Stores a worker's progress if `owner` still holds the lease and the subscription is still
    /// at `version`; `false` (nothing written) otherwise.
    async fn record_progress(
        &self,
        id: Uuid,
        owner: Uuid,
        version: u64,
        progress: Progress,
    ) -> WebhookResult<bool>;

    /// [`Self::log_delivery`] and [`Self::record_progress`] together: what the worker writes
    /// after each attempt (PostgreSQL does both in one round trip). The row is logged even when
    /// the lease was lost, since the attempt was made.
    async fn record_attempt(
        &self,
        attempt: &DeliveryAttempt,
        owner: Uuid,
        version: u64,
        progress: Progress,
    ) -> WebhookResult<bool> {
        self.log_delivery(attempt).await?;
        self.record_progress(attempt.subscription_id, owner, version, progress)
            .await
    }

    /// Gives up `owner`'s lease on a subscription (whatever its version); nothing when another
    /// owner holds it.
    async fn release(&self, id: Uuid, owner: Uuid) -> WebhookResult<()>;

    /// Adds a row to the delivery log, dropping the subscription's rows beyond
    /// [`DELIVERY_LOG_RETENTION`].
    async fn log_delivery(&self, attempt: &DeliveryAttempt) -> WebhookResult<()>;

    /// The newest `limit` rows of a subscription's delivery log, newest first.
    async fn deliveries(&self, id: Uuid, limit: u32) -> WebhookResult<Vec<DeliveryAttempt>>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rotation_keeps_the_old_secret_signing_until_the_overlap_ends() {
        let t0 = Timestamp::now();
        let mut sub =
            Subscription::new("https://x.example/".into(), Filter::default(), 0, t0).unwrap();
        let old = sub.keys[0].secret.clone();
        let until = t0.plus_days(1);
        let fresh = sub.rotate_secret(t0, until).unwrap();
        assert_eq!(sub.signing_secrets(t0), vec![&fresh, &old]);
        assert_eq!(sub.signing_secrets(until), vec![&fresh]);
        let entry = sub.audit_entry("rotate_secret", "op").unwrap();
        assert!(!entry.payload.contains(&fresh.expose()[6..]));
        assert!(!entry.payload.contains(&old.expose()[6..]));
    }
}
