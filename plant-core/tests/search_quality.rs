//! Search quality over the seed catalog: hit@3 of customer-style queries, per search mode and
//! embedder.
//!
//! `seeds/catalog.json` is loaded into a memory store through the application's seed path (every
//! agent embedded with [`agent_text`](plant_core::search::agent_text)); each query of
//! `tests/data/search/quality.json` asks [`Catalog::search_mode`] for the three best agents, and
//! is a hit when one of them has an expected job role or skill. The memory store ranks as
//! PostgreSQL does (`pg_search_fused` holds both to the same answers). MiniLM must reach
//! [`MINILM_MIN_HIT_AT_3`] on the customer-style queries in semantic mode; the other figures are
//! printed so the gaps are visible.
#![allow(clippy::unwrap_used)]

#[cfg(feature = "minilm")]
mod search_support;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use plant_core::catalog::Catalog;
use plant_core::model::{Kind, Record};
use plant_core::search::{Embedder, HashingEmbedder};
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::{MemoryStore, SearchFilter, SearchMode};
use serde::Deserialize;

/// Asserted on the 50 customer-style queries (the ones not marked `lexical`) in semantic mode:
/// MiniLM measured 0.98 (49 of 50) there and the hashing embedder 0.76 (38 of 50), ranking the
/// same texts by cosine. The bound allows four more queries to flip, e.g. after seed
/// descriptions are reworded, while staying well above the lexical baseline, so a pipeline that
/// loses meaning (wrong pooling, tokenizer or weights) fails. The hybrid and lexical figures and
/// the 20 `lexical` queries are printed, not asserted.
#[cfg(feature = "minilm")]
const MINILM_MIN_HIT_AT_3: f64 = 0.90;

#[derive(Deserialize)]
struct Names {
    skills: Vec<Named>,
    job_roles: Vec<Named>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct QualitySet {
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct Query {
    query: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    skills: Vec<String>,
    /// Written for full-text ranking (an exact name or a rare word).
    #[serde(default)]
    lexical: bool,
}

fn load<T: for<'de> Deserialize<'de>>(relative: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixtures() -> (Names, QualitySet) {
    (
        load("../seeds/catalog.json"),
        load("tests/data/search/quality.json"),
    )
}

struct Report {
    hits: usize,
    total: usize,
    lexical_hits: usize,
    lexical_total: usize,
    misses: Vec<String>,
}

impl Report {
    fn hit_at_3(&self) -> f64 {
        self.hits as f64 / self.total as f64
    }
}

async fn seeded(embedder: Arc<dyn Embedder>) -> Catalog {
    let catalog = Catalog::new(Arc::new(MemoryStore::new()), embedder);
    seed::load(&catalog, &SeedCatalog::builtin().unwrap(), &mut |_| {})
        .await
        .unwrap();
    catalog
}

/// The name of a record by id (job roles and skills).
async fn name_of(catalog: &Catalog, kind: Kind, id: uuid::Uuid) -> String {
    catalog
        .get(kind, id)
        .await
        .unwrap()
        .name()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default()
}

async fn evaluate(catalog: &Catalog, set: &QualitySet, mode: SearchMode) -> Report {
    let agents = SearchFilter {
        kinds: vec![Kind::Agent],
        ..SearchFilter::default()
    };
    let mut report = Report {
        hits: 0,
        total: set.queries.len(),
        lexical_hits: 0,
        lexical_total: set.queries.iter().filter(|q| q.lexical).count(),
        misses: Vec::new(),
    };
    for q in &set.queries {
        let top = catalog
            .search_mode(&q.query, mode, &agents, 3)
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut hit = false;
        for h in &top {
            let Record::Agent(a) = catalog.get(Kind::Agent, h.id).await.unwrap() else {
                panic!("{} is not an agent", h.id)
            };
            let role = name_of(catalog, Kind::JobRole, a.body.job_role_id).await;
            let skill = name_of(catalog, Kind::Skill, a.body.skill_id).await;
            hit |= q.roles.contains(&role) || q.skills.contains(&skill);
            got.push(format!("{} ({role}/{skill})", h.name));
        }
        if hit {
            report.hits += 1;
            report.lexical_hits += usize::from(q.lexical);
        } else {
            report
                .misses
                .push(format!("{:?} -> {}", q.query, got.join(", ")));
        }
    }
    report
}

async fn report_modes(name: &str, embedder: Arc<dyn Embedder>) -> Vec<(SearchMode, Report)> {
    let (_, set) = fixtures();
    let catalog = seeded(embedder).await;
    let mut reports = Vec::new();
    for mode in SearchMode::ALL {
        let report = evaluate(&catalog, &set, mode).await;
        print(name, mode, &report);
        reports.push((mode, report));
    }
    reports
}

fn print(name: &str, mode: SearchMode, report: &Report) {
    println!(
        "{name} {mode}: hit@3 = {:.3} ({}/{}; lexical-style queries {}/{})",
        report.hit_at_3(),
        report.hits,
        report.total,
        report.lexical_hits,
        report.lexical_total
    );
    for miss in &report.misses {
        println!("  miss {miss}");
    }
}

#[test]
fn quality_set_is_well_formed() {
    let (catalog, set) = fixtures();
    assert!(
        set.queries.len() >= 60 && set.queries.iter().filter(|q| q.lexical).count() >= 15,
        "only {} queries",
        set.queries.len()
    );
    let roles: HashSet<&str> = catalog.job_roles.iter().map(|r| r.name.as_str()).collect();
    let skills: HashSet<&str> = catalog.skills.iter().map(|s| s.name.as_str()).collect();
    for q in &set.queries {
        assert!(
            !q.roles.is_empty() || !q.skills.is_empty(),
            "{:?} expects nothing",
            q.query
        );
        for r in &q.roles {
            assert!(
                roles.contains(r.as_str()),
                "{:?}: unknown role {r}",
                q.query
            );
        }
        for s in &q.skills {
            assert!(
                skills.contains(s.as_str()),
                "{:?}: unknown skill {s}",
                q.query
            );
        }
    }
}

#[tokio::test]
async fn hashing_hit_at_3_is_reported_per_mode() {
    let reports = report_modes("hashing-v1", Arc::new(HashingEmbedder)).await;
    // Lexical mode does not depend on the embedder; it must find every named agent and rare
    // word (measured: hashing semantic 0.814, hybrid 0.943, lexical 0.900 over the 70 queries).
    let (_, lexical) = &reports[2];
    assert_eq!(
        lexical.lexical_hits, lexical.lexical_total,
        "{:?}",
        lexical.misses
    );
}

#[cfg(feature = "minilm")]
#[tokio::test]
async fn minilm_hit_at_3_meets_the_threshold() {
    let Some(dir) = search_support::model_dir("search_quality") else {
        return;
    };
    let model = plant_core::search::MiniLm::load(&dir).unwrap();
    let reports = report_modes("all-MiniLM-L6-v2", Arc::new(model)).await;
    let (_, semantic) = &reports[1];
    let customer = (semantic.hits - semantic.lexical_hits) as f64
        / (semantic.total - semantic.lexical_total) as f64;
    assert!(
        customer >= MINILM_MIN_HIT_AT_3,
        "MiniLM semantic hit@3 on customer-style queries {customer:.3} below {MINILM_MIN_HIT_AT_3}"
    );
}
