//! Subscriptions in PostgreSQL (`migrations/0011_webhooks.sql`). An audited change writes the
//! subscription row, then takes the chain's head `for update` and appends its entry, in one
//! transaction: the same order of locks as every catalog write. Leases are taken with
//! `for update skip locked`, so processes asking at once split the due subscriptions between
//! them instead of waiting on each other.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use super::{
    DELIVERY_LOG_RETENTION, DeliveryAttempt, Filter, Progress, SigningKey, Subscription,
    WebhookError, WebhookResult, WebhookStore,
};
use crate::Timestamp;
use crate::audit::{Hash, NewEntry};
use crate::error::Cause;
use crate::store::postgres::{PgStore, store_error};
use crate::store::{StoreError, StoreResult};

macro_rules! columns {
    () => {
        "id, url, kinds, actions, state, delivered_seq, attempt, next_attempt_at, signing_keys, \
         version, created_at, updated_at"
    };
}

const SELECT_ONE: &str = concat!(
    "select ",
    columns!(),
    " from webhook_subscription where id = $1"
);
const SELECT_ALL: &str = concat!(
    "select ",
    columns!(),
    " from webhook_subscription order by created_at, id"
);
const DELETE: &str = concat!(
    "delete from webhook_subscription where id = $1 returning ",
    columns!()
);
/// Leases due subscriptions that nobody else holds; `skip locked` passes over rows another
/// process is leasing at this very moment.
const CLAIM: &str = concat!(
    "update webhook_subscription set lease_owner = $1, lease_until = $3 \
     where id in (select id from webhook_subscription \
         where state = 'active' and next_attempt_at <= $2 \
           and (lease_until is null or lease_until < $2) \
           and delivered_seq < (select seq from audit_head where id) \
         order by next_attempt_at limit $4 for update skip locked) \
     returning ",
    columns!()
);

const INSERT: &str = "insert into webhook_subscription (id, url, kinds, actions, state, \
    delivered_seq, attempt, next_attempt_at, signing_keys, version, created_at, updated_at) \
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

const UPDATE: &str = "update webhook_subscription set url = $2, kinds = $3, actions = $4, \
    state = $5, delivered_seq = $6, attempt = $7, next_attempt_at = $8, signing_keys = $9, \
    version = $10, updated_at = $12 where id = $1 and version = $10 - 1";

/// Inserts a delivery log row ($1 … $9) and, on every hundredth row, trims the subscription's log
/// to the retention ($10). A subscription deleted meanwhile inserts nothing. The trim walks up to
/// the retention's worth of index entries, hence only every hundred rows: the log holds at most a
/// hundred rows more than the retention.
macro_rules! log_delivery {
    () => {
        "added as (insert into webhook_delivery (subscription_id, seq, webhook_id, attempt, at, \
             status_code, latency_ms, error, next_retry_at) \
             select $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             where exists (select 1 from webhook_subscription where id = $1) returning id), \
         trimmed as (delete from webhook_delivery where subscription_id = $1 \
             and exists (select 1 from added where added.id % 100 = 0) \
             and id <= (select id from webhook_delivery where subscription_id = $1 \
                 order by id desc offset $10 limit 1)) "
    };
}

const LOG_DELIVERY: &str = concat!("with ", log_delivery!(), "select 1");

/// [`LOG_DELIVERY`] and the worker's progress ($11 …: owner, version, cursor, attempt, next
/// attempt, lease), in one statement; selects whether the progress was stored.
const RECORD_ATTEMPT: &str = concat!(
    "with ",
    log_delivery!(),
    ", moved as (update webhook_subscription set delivered_seq = $13, attempt = $14, \
         next_attempt_at = $15, lease_until = $16, \
         lease_owner = case when $16::timestamptz is null then null else lease_owner end \
         where id = $1 and lease_owner = $11 and version = $12 returning id) \
     select count(*) from moved"
);

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds a delivery log row's $1 … $10.
fn bind_attempt<'q>(query: PgQuery<'q>, attempt: &'q DeliveryAttempt) -> StoreResult<PgQuery<'q>> {
    Ok(query
        .bind(attempt.subscription_id)
        .bind(to_i64(attempt.seq)?)
        .bind(&attempt.webhook_id)
        .bind(i32::try_from(attempt.attempt).unwrap_or(i32::MAX))
        .bind(attempt.at.as_datetime())
        .bind(attempt.status_code.map(i32::from))
        .bind(i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX))
        .bind(&attempt.error)
        .bind(attempt.next_retry_at.map(|t| t.as_datetime()))
        .bind(i64::from(DELIVERY_LOG_RETENTION) - 1))
}

const LOCK_HEAD: &str = "select seq, hash from audit_head where id for update";

const APPEND: &str = "with appended as (insert into audit_log (seq, entity_id, entity_type, \
    entity_version, action, actor, at, payload, prev_hash, hash) \
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning seq, hash) \
    update audit_head set seq = appended.seq, hash = appended.hash from appended \
    where audit_head.id";

fn to_i64(value: u64) -> StoreResult<i64> {
    i64::try_from(value).map_err(|_| StoreError::InvalidChange(Cause::from("value out of range")))
}

fn to_u64(value: i64) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Internal(Cause::from("negative stored value")))
}

fn from_row(row: &sqlx::postgres::PgRow) -> StoreResult<Subscription> {
    let get = |e: sqlx::Error| store_error(e);
    let state: String = row.try_get("state").map_err(get)?;
    let keys: Json<Vec<SigningKey>> = row.try_get("signing_keys").map_err(get)?;
    let at = |name: &str| -> StoreResult<Timestamp> {
        row.try_get::<DateTime<Utc>, _>(name)
            .map(Timestamp::from_datetime)
            .map_err(store_error)
    };
    Ok(Subscription {
        id: row.try_get("id").map_err(get)?,
        url: row.try_get("url").map_err(get)?,
        filter: Filter {
            kinds: row.try_get("kinds").map_err(get)?,
            actions: row.try_get("actions").map_err(get)?,
        },
        state: state
            .parse()
            .map_err(|e: String| StoreError::Internal(Cause::from(e)))?,
        cursor: to_u64(row.try_get("delivered_seq").map_err(get)?)?,
        attempt: u32::try_from(row.try_get::<i32, _>("attempt").map_err(get)?).unwrap_or(0),
        next_attempt_at: at("next_attempt_at")?,
        keys: keys.0,
        version: to_u64(row.try_get("version").map_err(get)?)?,
        created_at: at("created_at")?,
        updated_at: at("updated_at")?,
    })
}

/// Writes `sub` with `sql` (INSERT or UPDATE, same parameters); whether a row was written.
async fn write(
    conn: &mut PgConnection,
    sql: &'static str,
    sub: &Subscription,
) -> StoreResult<bool> {
    let done = sqlx::query(sql)
        .bind(sub.id)
        .bind(&sub.url)
        .bind(&sub.filter.kinds)
        .bind(&sub.filter.actions)
        .bind(sub.state.as_str())
        .bind(to_i64(sub.cursor)?)
        .bind(i32::try_from(sub.attempt).unwrap_or(i32::MAX))
        .bind(sub.next_attempt_at.as_datetime())
        .bind(Json(&sub.keys))
        .bind(to_i64(sub.version)?)
        .bind(sub.created_at.as_datetime())
        .bind(sub.updated_at.as_datetime())
        .execute(conn)
        .await
        .map_err(store_error)?;
    Ok(done.rows_affected() == 1)
}

/// Appends `entry` after the chain's head, which this takes for the rest of the transaction.
async fn append(conn: &mut PgConnection, entry: NewEntry) -> StoreResult<()> {
    let (seq, hash): (i64, Vec<u8>) = sqlx::query_as(LOCK_HEAD)
        .fetch_one(&mut *conn)
        .await
        .map_err(store_error)?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| StoreError::Internal(Cause::from("audit_head.hash is not 32 bytes")))?;
    let head = crate::audit::Head {
        seq: to_u64(seq)?,
        hash: Hash(hash),
    };
    let entry = head.append(entry);
    sqlx::query(APPEND)
        .bind(to_i64(entry.seq)?)
        .bind(entry.entity_id)
        .bind(&entry.entity_type)
        .bind(to_i64(entry.entity_version)?)
        .bind(&entry.action)
        .bind(&entry.actor)
        .bind(entry.at.as_datetime())
        .bind(&entry.payload)
        .bind(entry.prev_hash.0.as_slice())
        .bind(entry.hash.0.as_slice())
        .execute(conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

impl PgStore {
    async fn stored_version(&self, id: Uuid) -> WebhookResult<Option<u64>> {
        let version: Option<i64> =
            sqlx::query_scalar("select version from webhook_subscription where id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(store_error)?;
        Ok(version.map(to_u64).transpose()?)
    }
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn create_subscription(&self, sub: &Subscription, actor: &str) -> WebhookResult<()> {
        let entry = sub.audit_entry("create", actor)?;
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        write(&mut tx, INSERT, sub).await?;
        append(&mut tx, entry).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn subscription(&self, id: Uuid) -> WebhookResult<Option<Subscription>> {
        let row = sqlx::query(SELECT_ONE)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(store_error)?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    async fn subscriptions(&self) -> WebhookResult<Vec<Subscription>> {
        let rows = sqlx::query(SELECT_ALL)
            .fetch_all(self.pool())
            .await
            .map_err(store_error)?;
        Ok(rows.iter().map(from_row).collect::<StoreResult<_>>()?)
    }

    async fn update_subscription(
        &self,
        sub: &Subscription,
        action: &str,
        actor: &str,
    ) -> WebhookResult<()> {
        let entry = sub.audit_entry(action, actor)?;
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        if !write(&mut tx, UPDATE, sub).await? {
            drop(tx);
            let expected = sub.version.saturating_sub(1);
            return Err(match self.stored_version(sub.id).await? {
                None => WebhookError::NotFound(sub.id),
                Some(actual) => WebhookError::VersionConflict {
                    id: sub.id,
                    expected,
                    actual,
                },
            });
        }
        append(&mut tx, entry).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn delete_subscription(&self, id: Uuid, actor: &str) -> WebhookResult<()> {
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let row = sqlx::query(DELETE)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?
            .ok_or(WebhookError::NotFound(id))?;
        let mut gone = from_row(&row)?;
        gone.version += 1;
        gone.updated_at = Timestamp::now();
        append(&mut tx, gone.audit_entry("delete", actor)?).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn claim_due(
        &self,
        owner: Uuid,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> WebhookResult<Vec<Subscription>> {
        let rows = sqlx::query(CLAIM)
            .bind(owner)
            .bind(now.as_datetime())
            .bind(lease_until.as_datetime())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(store_error)?;
        Ok(rows.iter().map(from_row).collect::<StoreResult<_>>()?)
    }

    async fn record_progress(
        &self,
        id: Uuid,
        owner: Uuid,
        version: u64,
        progress: Progress,
    ) -> WebhookResult<bool> {
        let done = sqlx::query(
            "update webhook_subscription set delivered_seq = $4, attempt = $5, \
             next_attempt_at = $6, lease_until = $7, \
             lease_owner = case when $7::timestamptz is null then null else lease_owner end \
             where id = $1 and lease_owner = $2 and version = $3",
        )
        .bind(id)
        .bind(owner)
        .bind(to_i64(version)?)
        .bind(to_i64(progress.cursor)?)
        .bind(i32::try_from(progress.attempt).unwrap_or(i32::MAX))
        .bind(progress.next_attempt_at.as_datetime())
        .bind(progress.lease_until.map(|t| t.as_datetime()))
        .execute(self.pool())
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, id: Uuid, owner: Uuid) -> WebhookResult<()> {
        sqlx::query(
            "update webhook_subscription set lease_owner = null, lease_until = null \
             where id = $1 and lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn log_delivery(&self, attempt: &DeliveryAttempt) -> WebhookResult<()> {
        bind_attempt(sqlx::query(LOG_DELIVERY), attempt)?
            .execute(self.pool())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn record_attempt(
        &self,
        attempt: &DeliveryAttempt,
        owner: Uuid,
        version: u64,
        progress: Progress,
    ) -> WebhookResult<bool> {
        let row = bind_attempt(sqlx::query(RECORD_ATTEMPT), attempt)?
            .bind(owner)
            .bind(to_i64(version)?)
            .bind(to_i64(progress.cursor)?)
            .bind(i32::try_from(progress.attempt).unwrap_or(i32::MAX))
            .bind(progress.next_attempt_at.as_datetime())
            .bind(progress.lease_until.map(|t| t.as_datetime()))
            .fetch_one(self.pool())
            .await
            .map_err(store_error)?;
        let moved: i64 = row.try_get(0).map_err(store_error)?;
        Ok(moved == 1)
    }

    async fn deliveries(&self, id: Uuid, limit: u32) -> WebhookResult<Vec<DeliveryAttempt>> {
        let rows = sqlx::query(
            "select seq, webhook_id, attempt, at, status_code, latency_ms, error, next_retry_at \
             from webhook_delivery where subscription_id = $1 order by id desc limit $2",
        )
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| -> StoreResult<DeliveryAttempt> {
                let at: DateTime<Utc> = row.try_get("at").map_err(store_error)?;
                let next: Option<DateTime<Utc>> =
                    row.try_get("next_retry_at").map_err(store_error)?;
                let status: Option<i32> = row.try_get("status_code").map_err(store_error)?;
                Ok(DeliveryAttempt {
                    subscription_id: id,
                    seq: to_u64(row.try_get("seq").map_err(store_error)?)?,
                    webhook_id: row.try_get("webhook_id").map_err(store_error)?,
                    attempt: u32::try_from(row.try_get::<i32, _>("attempt").map_err(store_error)?)
                        .unwrap_or(0),
                    at: Timestamp::from_datetime(at),
                    status_code: status.and_then(|s| u16::try_from(s).ok()),
                    latency_ms: to_u64(row.try_get("latency_ms").map_err(store_error)?)?,
                    error: row.try_get("error").map_err(store_error)?,
                    next_retry_at: next.map(Timestamp::from_datetime),
                })
            })
            .collect::<StoreResult<_>>()
            .map_err(Into::into)
    }
}
