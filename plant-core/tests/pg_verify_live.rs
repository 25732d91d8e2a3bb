//! `verify` while writers keep changing the records: it reads the chain and the rows as of one
//! moment, so a change committed between its reads is never taken for a break.
//!
//! Eight writers rename skills as fast as they can while `verify` runs again and again; every
//! report must be intact, and the last one (after the writers stopped) must have read every
//! entry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pg_support::TestDb;
use plant_core::Timestamp;
use plant_core::model::{Category, Description, Entity, Name, Record, Skill};
use plant_core::store::{Action, Change, Store};

fn skill(name: &str) -> Entity<Skill> {
    Entity::new(
        Skill {
            name: Name::parse(name).unwrap(),
            description: Description::parse("renamed while verified").unwrap(),
            category: Category::Technical,
        },
        Timestamp::now(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_during_writes_never_reports_a_break_it_did_not_find() {
    let Some(db) = TestDb::new("verify_live").await else {
        return;
    };
    let store = Arc::new(db.store_with(12).await);
    let mut ids = Vec::new();
    for i in 0..8 {
        let created = store
            .commit(Change::create(skill(&format!("Live {i} v0")), "setup"))
            .await
            .unwrap();
        ids.push(created.record);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for (w, mut record) in ids.into_iter().enumerate() {
        let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let Record::Skill(mut s) = record.clone() else {
                    unreachable!()
                };
                s.body.name = Name::parse(&format!("Live {w} v{n}")).unwrap();
                let version = s.base.version;
                let done = store
                    .commit(Change::update(s, version, Action::Update, "writer"))
                    .await
                    .unwrap();
                record = done.record;
            }
            n
        }));
    }
    let mut reports = 0;
    for _ in 0..15 {
        let report = store.verify(&[]).await.unwrap();
        assert!(
            report.ok,
            "verify during writes reported {:?} after {} entries",
            report.first_break, report.entries_checked
        );
        reports += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let mut written = 0;
    for w in writers {
        written += w.await.unwrap();
    }
    let last = store.verify(&[]).await.unwrap();
    assert!(last.ok, "{:?}", last.first_break);
    assert_eq!(last.entries_checked, 8 + written);
    eprintln!("{reports} verifications during {written} renames: all intact");
    db.drop_db().await;
}
