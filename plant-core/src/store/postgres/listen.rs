//! Change-feed wake-ups from PostgreSQL: one `LISTEN plant_audit` connection per store, shared
//! by every subscriber through a watch channel.
//!
//! Migration 0008 makes every move of the chain's head send `NOTIFY plant_audit, '<seq>'`
//! inside the writing transaction, so the notification arrives only after the commit, from
//! whichever process wrote. The listener runs while someone subscribes; it is started by the
//! first subscriber and stops when the last one is gone. A lost connection is reconnected
//! (with back-off) and the subscribers are woken, so they read whatever was committed while
//! nobody listened.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::watch;

/// The notification channel the head trigger sends on.
pub const CHANNEL: &str = "plant_audit";
const MIN_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(10);

/// The shared listener of one store.
#[derive(Debug, Default)]
pub(super) struct Notifier {
    slot: Mutex<Option<Arc<watch::Sender<u64>>>>,
}

impl Notifier {
    /// A receiver that changes on every notification and after every (re)connection; starts
    /// the listener when none runs.
    pub(super) fn subscribe(&self, pool: &PgPool) -> watch::Receiver<u64> {
        let mut slot = self
            .slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // The listener stops once its receiver count reaches zero, and receivers are only made
        // here, under the lock: a sender with receivers has a running listener.
        if let Some(sender) = slot.as_ref()
            && sender.receiver_count() > 0
        {
            return sender.subscribe();
        }
        let sender = Arc::new(watch::Sender::new(0));
        let receiver = sender.subscribe();
        *slot = Some(sender.clone());
        tokio::spawn(listen(pool.clone(), sender));
        receiver
    }
}

/// Listens until every receiver is gone, reconnecting when the connection is lost.
async fn listen(pool: PgPool, sender: Arc<watch::Sender<u64>>) {
    // A connection of its own, outside the store's pool: it is held for as long as anyone
    // subscribes and must not take a slot from the requests.
    let dedicated = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with((*pool.connect_options()).clone());
    let mut retry = MIN_RETRY;
    loop {
        match connect(&dedicated).await {
            Ok(mut listener) => {
                retry = MIN_RETRY;
                // Entries may have been committed while nobody listened.
                sender.send_modify(|_| {});
                tracing::debug!(channel = CHANNEL, "listening for audit entries");
                loop {
                    tokio::select! {
                        () = sender.closed() => {
                            dedicated.close().await;
                            return;
                        }
                        received = listener.try_recv() => match received {
                            Ok(Some(notification)) => {
                                let seq = notification.payload().parse::<u64>().unwrap_or(0);
                                sender.send_modify(|head| *head = (*head).max(seq));
                            }
                            // The connection dropped and sqlx opened a new one, listening again:
                            // notifications in between are lost, so wake everyone to read.
                            Ok(None) => {
                                tracing::warn!(channel = CHANNEL, "LISTEN connection lost; reconnected");
                                sender.send_modify(|_| {});
                            }
                            Err(err) => {
                                tracing::warn!(channel = CHANNEL, error = %err, "LISTEN connection failed; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(err) => {
                tracing::warn!(channel = CHANNEL, error = %err, "cannot LISTEN; retrying");
            }
        }
        tokio::select! {
            () = sender.closed() => {
                dedicated.close().await;
                return;
            }
            () = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
