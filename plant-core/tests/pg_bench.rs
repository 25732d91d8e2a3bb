//! Throughput figures on PostgreSQL, run on demand (they take minutes):
//!
//! ```text
//! scripts/test-db.sh run -- cargo test --release -p plant-core --test pg_bench -- --ignored --nocapture
//! ```
//!
//! `PLANT_BENCH_ENTRIES` sets the chain length (default 100 000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use std::time::Instant;

use pg_support::TestDb;
use plant_core::Timestamp;
use plant_core::model::{Category, Description, Entity, Name, Skill};
use plant_core::store::{Action, Change, Store};

const BATCH: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes minutes; run with --ignored for the figures"]
async fn verify_time_for_a_long_chain() {
    let Some(db) = TestDb::new("verify_long_chain").await else {
        return;
    };
    let store = db.store().await;
    let entries: usize = std::env::var("PLANT_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // A tenth of the entries create skills; the rest update them, round after round.
    let skills = (entries / 10).max(1);

    let started = Instant::now();
    let mut current: Vec<Entity<Skill>> = Vec::with_capacity(skills);
    let fresh: Vec<Entity<Skill>> = (0..skills)
        .map(|i| {
            Entity::new(
                Skill {
                    name: Name::parse(&format!("Skill {i:06}")).unwrap(),
                    description: Description::parse("version 1").unwrap(),
                    category: Category::Technical,
                },
                Timestamp::now(),
            )
        })
        .collect();
    for chunk in fresh.chunks(BATCH) {
        let changes = chunk
            .iter()
            .map(|s| Change::create(s.clone(), "bench"))
            .collect();
        for done in store.commit_all(changes).await.unwrap() {
            current.push(done.record.try_into().unwrap());
        }
    }
    let mut written = skills;
    'rounds: for round in 2.. {
        for start in (0..current.len()).step_by(BATCH) {
            let end = (start + BATCH)
                .min(current.len())
                .min(start + entries - written);
            let changes = current[start..end]
                .iter()
                .map(|s| {
                    let mut next = s.clone();
                    next.body.description =
                        Description::parse(&format!("version {round}")).unwrap();
                    next.base.updated_at = Timestamp::now();
                    Change::update(next, s.base.version, Action::Update, "bench")
                })
                .collect();
            for (slot, done) in current[start..end]
                .iter_mut()
                .zip(store.commit_all(changes).await.unwrap())
            {
                *slot = done.record.try_into().unwrap();
            }
            written += end - start;
            if written >= entries {
                break 'rounds;
            }
        }
    }
    let write_secs = started.elapsed().as_secs_f64();
    assert_eq!(store.head().await.unwrap().seq, entries as u64);

    let started = Instant::now();
    let report = store.verify(&[]).await.unwrap();
    let verify_secs = started.elapsed().as_secs_f64();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.entries_checked, entries as u64);
    eprintln!(
        "{entries} entries ({skills} records): written in {write_secs:.1} s ({:.0} entries/s in \
         batches of {BATCH}); verified (chain + every row) in {verify_secs:.2} s ({:.0} entries/s)",
        entries as f64 / write_secs,
        entries as f64 / verify_secs
    );
    db.drop_db().await;
}
