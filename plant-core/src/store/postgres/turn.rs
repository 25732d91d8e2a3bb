//! The vector turn on PostgreSQL ([`crate::store::VectorTurn`]): a session advisory lock, taken
//! on a connection of the pool and held through the indexer's store and rest. Waiters queue in
//! the database's lock manager, so the turn passes from process to process in order.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use super::error::store_error;
use crate::store::{HeldTurn, StoreResult, VectorTurn};

/// The advisory lock's key: the bytes `plant-vt`.
const KEY: i64 = 0x706c_616e_742d_7674;
/// How long a process waits for the turn before it stores without one. A turn lasts a batch's
/// store and rest (well under a second with the hashing embedder); a holder that stops answering
/// must not stop every other process's vectors.
const WAIT: Duration = Duration::from_secs(30);

/// A connection that holds, or is asking for, the lock. Dropped before the lock was released
/// (a wait cut short, a release that failed, a task cancelled), it closes instead of going back
/// to the pool, and the database releases the lock with the session: a pooled connection never
/// holds the turn for someone else.
struct PgTurn {
    conn: PoolConnection<Postgres>,
    released: bool,
}

impl Drop for PgTurn {
    fn drop(&mut self) {
        if !self.released {
            self.conn.close_on_drop();
        }
    }
}

#[async_trait]
impl HeldTurn for PgTurn {
    async fn release(mut self: Box<Self>) {
        let unlocked = sqlx::query_scalar::<_, bool>("select pg_advisory_unlock($1)")
            .bind(KEY)
            .fetch_one(&mut *self.conn)
            .await;
        self.released = matches!(unlocked, Ok(true));
    }
}

/// Waits for the turn (up to [`WAIT`]; then [`VectorTurn::free`], with a warning).
pub(super) async fn take(pool: &PgPool) -> StoreResult<VectorTurn> {
    let conn = pool.acquire().await.map_err(store_error)?;
    let mut turn = PgTurn {
        conn,
        released: false,
    };
    let asked = sqlx::query("select pg_advisory_lock($1)")
        .bind(KEY)
        .execute(&mut *turn.conn);
    match tokio::time::timeout(WAIT, asked).await {
        Ok(Ok(_)) => Ok(VectorTurn::held(Box::new(turn))),
        Ok(Err(err)) => Err(store_error(err)),
        Err(_) => {
            tracing::warn!(
                wait_s = WAIT.as_secs(),
                "the vector turn was not handed on in time; storing vectors without it"
            );
            Ok(VectorTurn::free())
        }
    }
}
