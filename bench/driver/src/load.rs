//! A bounded closed-loop load: `concurrency` tasks each run one operation after another until
//! the duration or the operation budget runs out, like wrk's connections.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::stats::Summary;

/// How much load to apply.
#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    /// Operations in flight at once.
    pub concurrency: usize,
    /// How long to run.
    pub duration: Duration,
    /// The most operations in all (a second bound beside the duration).
    pub max_ops: u64,
}

/// Runs `op(n)` (n counts up from 0 across all tasks) under `spec` and summarises it.
pub async fn run<F, Fut, E>(spec: LoadSpec, op: F) -> Summary
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + spec.duration;
    let mut tasks = Vec::with_capacity(spec.concurrency);
    for _ in 0..spec.concurrency.max(1) {
        let op = op.clone();
        let next = next.clone();
        let max_ops = spec.max_ops;
        tasks.push(tokio::spawn(async move {
            let mut micros = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= max_ops {
                    break;
                }
                let began = Instant::now();
                match op(n).await {
                    Ok(()) => {
                        micros.push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX))
                    }
                    Err(err) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| err.to_string());
                    }
                }
            }
            (micros, errors, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((micros, errs, first)) = task.await {
            all.extend(micros);
            errors += errs;
            if let Some(message) = first {
                eprintln!("plant-bench: an operation failed: {message}");
            }
        }
    }
    Summary::from_latencies(all, errors, start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_operation_budget_bounds_the_run() {
        let spec = LoadSpec {
            concurrency: 4,
            duration: Duration::from_secs(60),
            max_ops: 100,
        };
        let s = run(spec, |_| async { Ok::<(), String>(()) }).await;
        assert_eq!(s.ops, 100);
        assert_eq!(s.errors, 0);
    }

    #[tokio::test]
    async fn failures_are_counted_not_timed() {
        let spec = LoadSpec {
            concurrency: 2,
            duration: Duration::from_secs(60),
            max_ops: 10,
        };
        let s = run(spec, |n| async move {
            if n % 2 == 0 { Ok(()) } else { Err("odd") }
        })
        .await;
        assert_eq!(s.ops, 5);
        assert_eq!(s.errors, 5);
    }
}
