//! Many writers, one chain: 8 writers, each with its own connection pool (as 8 server
//! instances would have), commit 200 changes each against one database. Every fifth change is
//! an update of one shared skill at the version the writer just read; in each such round every
//! writer reads before any writes (a barrier), so all 8 send an update from the same version.
//!
//! Afterwards: the chain verifies, seq runs 1..=N without a gap, every acknowledged write is
//! there, and each round of updates had exactly one winner and 7 `VersionConflict`s: the
//! shared skill's version counts exactly the acknowledged updates, and none was lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pg_support::TestDb;
use plant_core::Timestamp;
use plant_core::model::{Category, Description, Entity, Industry, Kind, Name, Record, Skill};
use plant_core::store::{Action, Change, Store, StoreError};
use tokio::sync::Barrier;
use uuid::Uuid;

const WRITERS: usize = 8;
const COMMITS_PER_WRITER: usize = 200;

#[derive(Debug, Default)]
struct Outcome {
    created: Vec<Uuid>,
    updates: u64,
    conflicts: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_append_one_gap_free_chain_and_lose_no_update() {
    let Some(db) = TestDb::new("eight_writers").await else {
        return;
    };
    let setup = db.store().await;
    let shared = Entity::new(
        Skill {
            name: Name::parse("Shared").unwrap(),
            description: Description::parse("v1").unwrap(),
            category: Category::Technical,
        },
        Timestamp::now(),
    );
    let shared_id = shared.base.id;
    setup.commit(Change::create(shared, "setup")).await.unwrap();

    let started = Instant::now();
    let mut writers = Vec::new();
    let read_all = Arc::new(Barrier::new(WRITERS));
    for w in 0..WRITERS {
        let store = db.store_with(2).await;
        let read_all = read_all.clone();
        writers.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            for i in 0..COMMITS_PER_WRITER {
                if i % 5 == 4 {
                    let Some(Record::Skill(mut skill)) =
                        store.get(Some(Kind::Skill), shared_id).await.unwrap()
                    else {
                        panic!("shared skill missing")
                    };
                    let read = skill.base.version;
                    // Everyone has read this round's version before anyone writes.
                    tokio::time::timeout(Duration::from_secs(120), read_all.wait())
                        .await
                        .expect("every writer reaches each round (did one fail?)");
                    skill.body.description =
                        Description::parse(&format!("writer {w} step {i}")).unwrap();
                    skill.base.updated_at = Timestamp::now();
                    match store
                        .commit(Change::update(skill, read, Action::Update, "writer"))
                        .await
                    {
                        Ok(_) => out.updates += 1,
                        Err(StoreError::VersionConflict { .. }) => out.conflicts += 1,
                        Err(e) => panic!("writer {w} update {i}: {e}"),
                    }
                } else {
                    let industry = Entity::new(
                        Industry {
                            name: Name::parse(&format!("Industry {w}-{i}")).unwrap(),
                            description: Description::parse("made under contention").unwrap(),
                        },
                        Timestamp::now(),
                    );
                    let id = industry.base.id;
                    store
                        .commit(Change::create(industry, "writer"))
                        .await
                        .unwrap_or_else(|e| panic!("writer {w} create {i}: {e}"));
                    out.created.push(id);
                }
            }
            out
        }));
    }
    let mut outcomes = Vec::new();
    for writer in writers {
        outcomes.push(writer.await.unwrap());
    }
    let elapsed = started.elapsed();

    let created: Vec<Uuid> = outcomes
        .iter()
        .flat_map(|o| o.created.iter().copied())
        .collect();
    let updates: u64 = outcomes.iter().map(|o| o.updates).sum();
    let conflicts: u64 = outcomes.iter().map(|o| o.conflicts).sum();
    let acknowledged = created.len() as u64 + updates;
    eprintln!(
        "{WRITERS} writers x {COMMITS_PER_WRITER}: {acknowledged} commits acknowledged \
         ({} creates, {updates} updates, {conflicts} version conflicts) in {:.2} s = {:.0} commits/s",
        created.len(),
        elapsed.as_secs_f64(),
        acknowledged as f64 / elapsed.as_secs_f64()
    );

    // The chain: one entry per acknowledged commit plus the setup, seq 1..=N without a gap.
    let head = setup.head().await.unwrap();
    assert_eq!(head.seq, acknowledged + 1);
    let entries = setup.audit_entries(0, u64::MAX).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=head.seq).collect::<Vec<_>>()
    );
    let report = setup.verify(&[]).await.unwrap();
    assert!(report.ok, "{report:?}");

    // Every acknowledged write is there.
    for id in &created {
        assert!(
            setup
                .get(Some(Kind::Industry), *id)
                .await
                .unwrap()
                .is_some(),
            "industry {id} lost"
        );
    }
    // No lost update: the shared skill moved once per acknowledged update.
    let shared = setup
        .get(Some(Kind::Skill), shared_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shared.version(), 1 + updates);
    assert_eq!(
        setup.entity_entries(shared_id).await.unwrap().len() as u64,
        1 + updates
    );
    // One winner per round: the others read the same version and must have been refused.
    let rounds = (COMMITS_PER_WRITER / 5) as u64;
    assert_eq!(updates, rounds, "exactly one update wins each round");
    assert_eq!(
        conflicts,
        rounds * (WRITERS as u64 - 1),
        "every other update of a round is a version conflict"
    );
    db.drop_db().await;
}
