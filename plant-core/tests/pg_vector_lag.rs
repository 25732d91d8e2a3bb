//! Vectors off the write path, with the MiniLM model on PostgreSQL: 32 writers create skills
//! for a few seconds (`PLANT_VECTOR_LAG_SECONDS`, default 3). Writes do not wait for the model;
//! afterwards every created skill has its vector (once the indexer settled), semantic search
//! finds one by meaning, and the queue in memory never passed its bound (texts past it are
//! swept from the database). Prints the write rate, the commit-to-vector lag (p50, p99, max),
//! the largest backlog and queue seen and the RSS: a measurement, not an assertion of speed.
//!
//! `PLANT_EMBED_MODEL_DIR=$(scripts/fetch-model.sh | tail -1) PLANT_VECTOR_LAG_SECONDS=30 \
//!  scripts/test-db.sh run -- cargo test --release -p plant-core --features minilm \
//!  --test pg_vector_lag -- --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "minilm")]

mod pg_support;
mod search_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pg_support::TestDb;
use plant_core::catalog::Catalog;
use plant_core::input::SkillInput;
use plant_core::model::Kind;
use plant_core::search::{INDEX_BACKLOG, MiniLm};
use plant_core::store::{SearchFilter, Store};

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_do_not_wait_for_the_model_and_every_vector_follows() {
    let Some(dir) = search_support::model_dir("pg_vector_lag") else {
        return;
    };
    let Some(db) = TestDb::new("vector_lag").await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(db.store_with(10).await);
    let catalog = Catalog::new(store.clone(), Arc::new(MiniLm::load(&dir).unwrap()));
    let seconds: u64 = std::env::var("PLANT_VECTOR_LAG_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);

    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    let started = Instant::now();
    for w in 0..32 {
        let (catalog, stop, created) = (catalog.clone(), stop.clone(), created.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let input = SkillInput {
                    name: Some(format!("Skill {w}-{i}")),
                    description: Some(format!(
                        "Writer {w} teaches topic {i}: spreadsheets, budgets and reports"
                    )),
                    category: Some("technical".into()),
                    ..SkillInput::default()
                };
                catalog.create_skill(&input, "writer").await.unwrap();
                created.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    let (mut peak_backlog, mut peak_queued) = (0, 0);
    while started.elapsed() < Duration::from_secs(seconds) {
        peak_backlog = peak_backlog.max(catalog.vector_indexer().backlog());
        peak_queued = peak_queued.max(catalog.vector_indexer().queued());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed();
    let writes = created.load(Ordering::Relaxed);
    catalog.vectors_settled().await;
    let lag = catalog.vector_indexer().lag().expect("vectors were stored");
    eprintln!(
        "vector lag: {writes} skills in {:.1} s = {:.0} writes/s with MiniLM; commit to vector \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {} vectors; backlog peak {peak_backlog} \
         (queued in memory: peak {peak_queued}, bound {INDEX_BACKLOG}; the rest swept from the \
         database); RSS {:.0} MiB",
        elapsed.as_secs_f64(),
        writes as f64 / elapsed.as_secs_f64(),
        lag.p50.as_secs_f64() * 1e3,
        lag.p99.as_secs_f64() * 1e3,
        lag.max.as_secs_f64() * 1e3,
        lag.count,
        rss_mib()
    );
    // Texts in memory are bounded by the queue; the rest wait as records without a vector.
    assert!(peak_queued <= INDEX_BACKLOG);
    assert_eq!(catalog.vector_indexer().backlog(), 0);

    // Every skill has its vector now.
    let missing = store
        .stale_embeddings("all-MiniLM-L6-v2", 10)
        .await
        .unwrap();
    assert!(
        missing.iter().all(|m| m.kind != Kind::Skill),
        "skills without a vector: {missing:?}"
    );
    // Every write's vector was timed (a record both queued and swept may be timed twice).
    assert!(
        lag.count >= writes.min(10_000),
        "{} lags for {writes} writes",
        lag.count
    );
    // And semantic search ranks them by meaning.
    let hits = catalog
        .search("budget spreadsheet lessons", &SearchFilter::default(), 3)
        .await
        .unwrap();
    assert!(!hits.is_empty());
    db.drop_db().await;
}
