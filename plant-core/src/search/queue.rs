//! The async front of an [`Embedder`]: runs it on tokio's blocking pool with bounded concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use super::embedding::{EmbedError, Embedder, Embedding};

/// Runs embedding jobs off the async runtime, at most `max_waiting` at a time.
///
/// Embedding is CPU-bound (milliseconds per text with MiniLM) and must not stall the runtime's
/// worker threads, so each job goes to [`tokio::task::spawn_blocking`]. A semaphore bounds how
/// many jobs are handed to the blocking pool at once; callers beyond that wait asynchronously for a
/// slot, and [`depth`](Self::depth) reports how many are waiting, which is the number to watch
/// for overload. A caller that gives up while waiting leaves the queue; a job already handed to
/// the pool runs to completion and holds its slot until then, so the bound always holds.
///
/// ```
/// use std::sync::Arc;
/// use plant_core::search::{EmbedQueue, HashingEmbedder};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let queue = EmbedQueue::new(Arc::new(HashingEmbedder), 4);
/// let vectors = queue.embed(vec!["math tutor".to_string()]).await?;
/// assert_eq!(vectors.len(), 1);
/// assert_eq!(queue.model_id(), "hashing-v1");
/// # Ok::<(), plant_core::search::EmbedError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct EmbedQueue {
    embedder: Arc<dyn Embedder>,
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_in_flight: usize,
}

impl EmbedQueue {
    /// Wraps `embedder`; at most `max_waiting` jobs (at least one) run or sit in the blocking pool
    /// at once.
    pub fn new(embedder: Arc<dyn Embedder>, max_waiting: usize) -> Self {
        let max_in_flight = max_waiting.max(1);
        Self {
            embedder,
            slots: Arc::new(Semaphore::new(max_in_flight)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_in_flight,
        }
    }

    /// The wrapped embedder's model id.
    pub fn model_id(&self) -> &str {
        self.embedder.model_id()
    }

    /// The wrapped embedder, for callers that are already off the async runtime.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// How many callers are waiting for a slot right now.
    pub fn depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// How many jobs are running or queued in the blocking pool right now.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight - self.slots.available_permits()
    }

    /// Embeds `texts` on the blocking pool; one embedding per text, in order.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Embedding>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let permit = {
            let _waiting = WaitingGuard::enter(&self.waiting);
            Arc::clone(&self.slots)
                .acquire_owned()
                .await
                .map_err(|e| EmbedError::Worker(Box::new(e)))?
        };
        let embedder = Arc::clone(&self.embedder);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs)
        })
        .await
        .map_err(|e| EmbedError::Worker(Box::new(e)))?
    }
}

/// Counts a caller as waiting for as long as it lives, including when its future is dropped.
struct WaitingGuard<'a>(&'a AtomicUsize);

impl<'a> WaitingGuard<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::search::HashingEmbedder;
    use std::sync::Mutex;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Blocks every call until the test releases it, and remembers the peak concurrency.
    #[derive(Debug)]
    struct Gate {
        release: Mutex<mpsc::Receiver<()>>,
        running: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Gate {
        /// The gate and the sender whose every message lets one call through.
        fn new() -> (Arc<Self>, mpsc::Sender<()>) {
            let (tx, rx) = mpsc::channel();
            let gate = Arc::new(Gate {
                release: Mutex::new(rx),
                running: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
            });
            (gate, tx)
        }
    }

    impl Embedder for Gate {
        fn model_id(&self) -> &str {
            "gate"
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            let _ = self
                .release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10));
            self.running.fetch_sub(1, Ordering::SeqCst);
            HashingEmbedder.embed(texts)
        }
    }

    #[derive(Debug)]
    struct Panics;

    impl Embedder for Panics {
        fn model_id(&self) -> &str {
            "panics"
        }
        fn embed(&self, _: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
            panic!("boom")
        }
    }

    async fn wait_until(mut cond: impl FnMut() -> bool) {
        for _ in 0..500 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("condition not reached");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_match_the_embedder_in_order() {
        let queue = EmbedQueue::new(Arc::new(HashingEmbedder), 2);
        let texts = vec!["seo audit".to_string(), "cold calling".to_string()];
        let got = queue.embed(texts).await.unwrap();
        assert_eq!(
            got,
            HashingEmbedder
                .embed(&["seo audit", "cold calling"])
                .unwrap()
        );
        assert_eq!(queue.model_id(), "hashing-v1");
        assert!(queue.embed(Vec::new()).await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_queue_makes_callers_wait_and_reports_depth() {
        let (gate, tx) = Gate::new();
        let queue = EmbedQueue::new(gate.clone(), 1);

        let jobs: Vec<_> = (0..3)
            .map(|i| {
                let q = queue.clone();
                tokio::spawn(async move { q.embed(vec![format!("text {i}")]).await })
            })
            .collect();
        wait_until(|| queue.in_flight() == 1 && queue.depth() == 2).await;

        for _ in 0..3 {
            tx.send(()).unwrap();
        }
        for job in jobs {
            assert_eq!(job.await.unwrap().unwrap().len(), 1);
        }
        assert_eq!(gate.peak.load(Ordering::SeqCst), 1);
        assert_eq!(queue.depth(), 0);
        assert_eq!(queue.in_flight(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_gives_up_leaves_the_queue() {
        let (gate, tx) = Gate::new();
        let queue = EmbedQueue::new(gate, 1);
        let q = queue.clone();
        let first = tokio::spawn(async move { q.embed(vec!["a".into()]).await });
        wait_until(|| queue.in_flight() == 1).await;

        let waited =
            tokio::time::timeout(Duration::from_millis(20), queue.embed(vec!["b".into()])).await;
        assert!(waited.is_err());
        assert_eq!(queue.depth(), 0);

        tx.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_embedder_is_a_worker_error_and_frees_its_slot() {
        let queue = EmbedQueue::new(Arc::new(Panics), 1);
        assert!(matches!(
            queue.embed(vec!["x".into()]).await,
            Err(EmbedError::Worker(_))
        ));
        assert_eq!(queue.in_flight(), 0);
    }
}
