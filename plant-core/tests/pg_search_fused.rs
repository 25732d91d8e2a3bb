//! Hybrid and lexical search answer the same on PostgreSQL and in memory: the seed catalog in
//! both stores, every query of the quality set in both modes over every searched kind.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use std::path::Path;
use std::sync::Arc;

use pg_support::TestDb;
use plant_core::catalog::Catalog;
use plant_core::search::HashingEmbedder;
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::{MemoryStore, SearchFilter, SearchHit, SearchMode, Store};
use serde_json::Value;

async fn seeded(store: Arc<dyn Store>) -> Catalog {
    let catalog = Catalog::new(store, Arc::new(HashingEmbedder));
    seed::load(&catalog, &SeedCatalog::builtin().unwrap(), &mut |_| {})
        .await
        .unwrap();
    catalog
}

fn queries() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/search/quality.json");
    let set: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    set["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["query"].as_str().unwrap().to_owned())
        .collect()
}

/// Same scores in the same order (to 1e-5), and the same entries wherever a score is not tied
/// with a neighbour (ids differ between the stores, so ties may order differently).
fn assert_same(context: &str, pg: &[SearchHit], mem: &[SearchHit]) {
    let show = |h: &[SearchHit]| {
        h.iter()
            .map(|h| format!("{} {} {:.6}", h.kind, h.name, h.score))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pg.len(),
        mem.len(),
        "{context}: {:?} vs {:?}",
        show(pg),
        show(mem)
    );
    let close = |a: f32, b: f32| (a - b).abs() < 1e-5;
    for (i, (p, m)) in pg.iter().zip(mem).enumerate() {
        assert!(
            close(p.score, m.score),
            "{context} #{i}: {:?} vs {:?}",
            show(pg),
            show(mem)
        );
        let tied = (i > 0 && close(pg[i - 1].score, p.score))
            || pg.get(i + 1).is_some_and(|n| close(n.score, p.score));
        if !tied {
            assert_eq!(
                (p.kind, &p.name),
                (m.kind, &m.name),
                "{context} #{i}: {:?} vs {:?}",
                show(pg),
                show(mem)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_memory_rank_hybrid_and_lexical_search_the_same() {
    let Some(db) = TestDb::new("pg_search_fused").await else {
        return;
    };
    let pg = seeded(Arc::new(db.store().await)).await;
    let mem = seeded(Arc::new(MemoryStore::new())).await;
    let mut compared = 0;
    for text in queries() {
        for mode in [SearchMode::Hybrid, SearchMode::Lexical] {
            let all = SearchFilter::default();
            let p = pg.search_mode(&text, mode, &all, 10).await.unwrap();
            let m = mem.search_mode(&text, mode, &all, 10).await.unwrap();
            assert_same(&format!("{text:?} {mode}"), &p, &m);
            compared += usize::from(!p.is_empty());
        }
    }
    assert!(compared > 100, "only {compared} non-empty answers compared");
    db.drop_db().await;
}
