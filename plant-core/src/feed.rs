//! The change feed: the audit chain read in order from a cursor ([`read_page`]), and a live
//! subscription ([`subscribe`]) that yields every entry after a seq, first the ones already
//! stored and then new ones as they are committed — without a gap or a duplicate at the
//! boundary between the two.
//!
//! The chain is gap-free and every store makes an entry visible only after every entry before
//! it (one locked head row), so "everything with `seq > cursor`, in order" is all a reader
//! needs; the store's [`Store::audit_signal`] only says *when* to read again. The in-memory
//! store signals on commit; PostgreSQL signals on `NOTIFY plant_audit`, which every writer
//! sends (a trigger on the head row), so a subscriber in one process sees writes made through
//! any other. A periodic poll covers lost notifications and stores that cannot signal.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use futures_util::StreamExt;
//! use plant_core::feed::{self, FeedOptions};
//! use plant_core::store::{MemoryStore, Store};
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let page = feed::read_page(store.as_ref(), 0, 100).await?;
//! assert!(page.entries.is_empty());
//! let mut live = feed::subscribe(store.clone(), page.next, FeedOptions::default());
//! // `live.next().await` resolves with the next committed entry.
//! # drop(live);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt};
use serde::Serialize;
use tokio::sync::watch;

use crate::audit::AuditEntry;
use crate::store::{Store, StoreResult};

/// One page of the feed: entries after a cursor, in seq order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedPage {
    /// The entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// The cursor for the next page: the last entry's seq, or the cursor asked for when the
    /// page is empty (poll again with it).
    pub next: u64,
}

/// Reads at most `limit` entries with `seq > after`, in order.
pub async fn read_page(store: &dyn Store, after: u64, limit: u64) -> StoreResult<FeedPage> {
    let entries = store.audit_entries(after, limit).await?;
    let next = entries.last().map_or(after, |e| e.seq);
    Ok(FeedPage { entries, next })
}

/// How a subscription reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedOptions {
    /// Entries read from the store at a time (what one subscriber buffers at most).
    pub batch: u64,
    /// Reads again after this long without a signal, so that a lost notification delays an
    /// entry by at most this much; also the pause after a failed read.
    pub poll_interval: Duration,
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            batch: 256,
            poll_interval: Duration::from_secs(5),
        }
    }
}

/// Every audit entry with `seq > after`, in order, then each new one as it is committed. The
/// stream never ends; a failed read yields the error once and the stream tries again after
/// [`FeedOptions::poll_interval`]. Drop it to unsubscribe.
pub fn subscribe(
    store: Arc<dyn Store>,
    after: u64,
    options: FeedOptions,
) -> BoxStream<'static, StoreResult<AuditEntry>> {
    let state = Subscription {
        store,
        after,
        options: FeedOptions {
            batch: options.batch.max(1),
            ..options
        },
        buffer: VecDeque::new(),
        signal: None,
        subscribed: false,
        backoff: false,
    };
    stream::unfold(state, |mut s| async move {
        let item = s.next_entry().await;
        Some((item, s))
    })
    .boxed()
}

struct Subscription {
    store: Arc<dyn Store>,
    /// The seq of the last entry handed out (or read into the buffer).
    after: u64,
    options: FeedOptions,
    buffer: VecDeque<AuditEntry>,
    signal: Option<watch::Receiver<u64>>,
    subscribed: bool,
    /// The last read failed: wait before the next one.
    backoff: bool,
}

impl Subscription {
    async fn next_entry(&mut self) -> StoreResult<AuditEntry> {
        loop {
            if let Some(entry) = self.buffer.pop_front() {
                return Ok(entry);
            }
            if self.backoff {
                self.backoff = false;
                tokio::time::sleep(self.options.poll_interval).await;
            }
            if !self.subscribed {
                // Subscribe before the first read: a commit after that read then changes the
                // signal, and the wait below sees it.
                match self.store.audit_signal().await {
                    Ok(signal) => {
                        self.signal = signal;
                        self.subscribed = true;
                    }
                    Err(err) => {
                        self.backoff = true;
                        return Err(err);
                    }
                }
            }
            // Mark the current signal as seen before reading: anything committed after this
            // point changes it again.
            if let Some(signal) = &mut self.signal {
                signal.borrow_and_update();
            }
            let page = match self
                .store
                .audit_entries(self.after, self.options.batch)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    self.backoff = true;
                    return Err(err);
                }
            };
            if let Some(last) = page.last() {
                self.after = last.seq;
                self.buffer.extend(page);
                continue;
            }
            self.wait().await;
        }
    }

    /// Until the store signals, or the poll interval passes.
    async fn wait(&mut self) {
        let poll = self.options.poll_interval;
        match &mut self.signal {
            Some(signal) => {
                tokio::select! {
                    changed = signal.changed() => {
                        if changed.is_err() {
                            // The store's notifier stopped: subscribe again on the next read.
                            self.signal = None;
                            self.subscribed = false;
                            tokio::time::sleep(poll).await;
                        }
                    }
                    () = tokio::time::sleep(poll) => {}
                }
            }
            None => tokio::time::sleep(poll).await,
        }
    }
}

/// The feed's conformance scenario: a subscription from the middle of the chain yields every
/// later entry once, in order, across the stored/live boundary, woken by the store's signal
/// (the poll interval is a minute, so only the signal can wake it in time).
#[cfg(any(test, feature = "testing"))]
pub async fn feed_streams_every_commit_once_in_order(store: Arc<dyn Store>) {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use crate::input::IndustryInput;
    let catalog = crate::Catalog::new(store.clone(), Arc::new(crate::search::HashingEmbedder));
    let create = move |name: String| {
        let catalog = catalog.clone();
        async move {
            let input = IndustryInput {
                name: Some(name),
                ..Default::default()
            };
            catalog.create_industry(&input, "feed-test").await.unwrap();
        }
    };
    for i in 0..3 {
        create(format!("Before {i}")).await;
    }
    let head = store.head().await.unwrap().seq;
    assert!(head >= 3);

    let page = read_page(store.as_ref(), 1, 2).await.unwrap();
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![2, 3]);
    assert_eq!(page.next, 3);
    let empty = read_page(store.as_ref(), head, 10).await.unwrap();
    assert!(empty.entries.is_empty());
    assert_eq!(empty.next, head);

    let options = FeedOptions {
        batch: 2,
        poll_interval: Duration::from_secs(60),
    };
    let mut live = subscribe(store.clone(), 1, options);
    // The first entry comes from the stored part; the writer then races the subscriber.
    let first = live.next().await.unwrap().unwrap();
    assert_eq!(first.seq, 2);
    const LIVE: u64 = 12;
    let writer = tokio::spawn(async move {
        for i in 0..LIVE {
            create(format!("After {i}")).await;
        }
    });
    let mut seqs = vec![first.seq];
    while seqs.len() < usize::try_from(head - 1 + LIVE).unwrap() {
        let entry = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("a committed entry reaches the subscriber through the store's signal")
            .unwrap()
            .unwrap();
        seqs.push(entry.seq);
    }
    writer.await.unwrap();
    assert_eq!(seqs, (2..=head + LIVE).collect::<Vec<u64>>());
    // Nothing more: no duplicate follows.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), live.next())
            .await
            .is_err()
    );
}
