//! The live change feed's client slots and the signal that ends every stream at shutdown
//! (held by the state; used by the feed handler and the accept loop).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, watch};

/// The slots for live clients and the signal that ends their streams at shutdown.
#[derive(Debug)]
pub struct FeedClients {
    pub(crate) slots: Arc<Semaphore>,
    max: usize,
    pub(crate) active: Arc<AtomicUsize>,
    pub(crate) closing: watch::Sender<bool>,
}

impl FeedClients {
    /// Room for `max` clients at once.
    pub fn new(max: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
            active: Arc::new(AtomicUsize::new(0)),
            closing: watch::Sender::new(false),
        }
    }

    /// Live clients now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// The most live clients served at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Ends every live stream (and every one started after this).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }
}
