//! Tampering behind the application's back, as a superuser who switches the audit table's
//! triggers off: each kind of edit is caught by verification, which names the seq.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use pg_support::TestDb;
use plant_core::Timestamp;
use plant_core::audit::{BreakReason, CheckpointSigner, VerifyReport};
use plant_core::model::{Category, Description, Entity, Name, Skill};
use plant_core::store::postgres::PgStore;
use plant_core::store::{Action, Change, Store};
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

/// Twelve entries: six skills created, then each updated once. Returns the skill ids.
async fn history(store: &PgStore) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..6 {
        let skill = Entity::new(
            Skill {
                name: Name::parse(&format!("Skill {i}")).unwrap(),
                description: Description::parse("first").unwrap(),
                category: Category::Technical,
            },
            Timestamp::now(),
        );
        ids.push(skill.base.id);
        store
            .commit(Change::create(skill, "genesis"))
            .await
            .unwrap();
    }
    for id in &ids {
        let mut skill: Entity<Skill> = store
            .get(None, *id)
            .await
            .unwrap()
            .unwrap()
            .try_into()
            .unwrap();
        skill.body.description = Description::parse("second").unwrap();
        skill.base.updated_at = Timestamp::now();
        store
            .commit(Change::update(skill, 1, Action::Update, "genesis"))
            .await
            .unwrap();
    }
    ids
}

/// Runs SQL as the superuser with the audit table's triggers off.
async fn tamper(conn: &mut PgConnection, sql: &str) {
    for statement in [
        "alter table audit_log disable trigger user",
        sql,
        "alter table audit_log enable trigger user",
    ] {
        sqlx::query(AssertSqlSafe(statement.to_owned()))
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

fn first_bad(report: &VerifyReport) -> (u64, BreakReason) {
    assert!(!report.ok, "tampering went unnoticed: {report:?}");
    let brk = report.first_break.clone().expect("a break is named");
    (brk.seq, brk.reason)
}

async fn setup(test: &str) -> Option<(TestDb, PgStore, PgConnection, Vec<Uuid>)> {
    let db = TestDb::new(test).await?;
    let store = db.store().await;
    let ids = history(&store).await;
    assert!(store.verify(&[]).await.unwrap().ok);
    let conn = db.superuser().await;
    Some((db, store, conn, ids))
}

#[tokio::test]
async fn an_edited_payload_is_named_by_its_seq() {
    let Some((db, store, mut conn, _)) = setup("edited_payload").await else {
        return;
    };
    tamper(
        &mut conn,
        "update audit_log set payload = replace(payload, 'first', 'FIRST') where seq = 4",
    )
    .await;
    let (seq, reason) = first_bad(&store.verify(&[]).await.unwrap());
    assert_eq!((seq, reason), (4, BreakReason::HashMismatch));
    drop(conn);
    db.drop_db().await;
}

#[tokio::test]
async fn a_deleted_entry_is_named_by_its_seq() {
    let Some((db, store, mut conn, _)) = setup("deleted_entry").await else {
        return;
    };
    tamper(&mut conn, "delete from audit_log where seq = 5").await;
    let (seq, reason) = first_bad(&store.verify(&[]).await.unwrap());
    assert_eq!(seq, 5, "{reason:?}");
    assert!(
        matches!(
            reason,
            BreakReason::SeqGap {
                expected: 5,
                found: 6
            }
        ),
        "{reason:?}"
    );
    drop(conn);
    db.drop_db().await;
}

#[tokio::test]
async fn two_swapped_entries_are_named_by_the_first() {
    let Some((db, store, mut conn, _)) = setup("swapped_entries").await else {
        return;
    };
    // Entries 3 and 8 change places: each keeps its content and takes the other's seq.
    tamper(
        &mut conn,
        "create temporary table taken as select * from audit_log where seq in (3, 8)",
    )
    .await;
    tamper(&mut conn, "delete from audit_log where seq in (3, 8)").await;
    tamper(
        &mut conn,
        "insert into audit_log select 11 - seq, entity_id, entity_type, entity_version, \
            action, actor, at, payload, prev_hash, hash from taken",
    )
    .await;
    let (seq, reason) = first_bad(&store.verify(&[]).await.unwrap());
    assert_eq!(seq, 3, "{reason:?}");
    drop(conn);
    db.drop_db().await;
}

#[tokio::test]
async fn an_edited_entity_row_is_named_by_its_latest_entry() {
    let Some((db, store, mut conn, ids)) = setup("edited_row").await else {
        return;
    };
    // The third skill's latest entry is its update, seq 6 + 3 = 9.
    let sql = format!(
        "update skill set description = 'rewritten' where id = '{}'",
        ids[2]
    );
    sqlx::query(AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
    let (seq, reason) = first_bad(&store.verify(&[]).await.unwrap());
    assert_eq!(seq, 9, "{reason:?}");
    assert!(
        matches!(reason, BreakReason::RowMismatch { entity_id, .. } if entity_id == ids[2]),
        "{reason:?}"
    );
    drop(conn);
    db.drop_db().await;
}

#[tokio::test]
async fn a_truncated_tail_is_caught_by_the_checkpoint() {
    let Some((db, store, mut conn, _)) = setup("truncated_tail").await else {
        return;
    };
    let signer = CheckpointSigner::generate().unwrap();
    let head = store.head().await.unwrap();
    assert_eq!(head.seq, 12);
    store
        .add_checkpoint(signer.sign(head, Timestamp::now()))
        .await
        .unwrap();
    let trusted = vec![signer.public_key_hex()];
    assert!(store.verify(&trusted).await.unwrap().ok);

    // Drop the last three entries and wind the head back, as a careful attacker would. The
    // entity rows they covered are rolled back too, so only the checkpoint can tell.
    tamper(&mut conn, "delete from audit_log where seq > 9").await;
    sqlx::query("update audit_head set seq = 9, hash = (select hash from audit_log where seq = 9)")
        .execute(&mut conn)
        .await
        .unwrap();
    let rows = "update base_entity b set version = 1, version_hash = a.hash, \
            amendment_history = b.amendment_history - 1, hash_chain_sha256 = b.hash_chain_sha256 - 1, \
            updated_at = a.at \
        from audit_log a where a.entity_id = b.id and a.entity_version = 1 and b.version = 2 \
          and not exists (select 1 from audit_log u where u.entity_id = b.id and u.entity_version = 2)";
    sqlx::query(rows).execute(&mut conn).await.unwrap();
    sqlx::query(
        "update skill s set description = 'first' from base_entity b where b.id = s.id and b.version = 1",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    // The shortened chain and the rows agree with each other; only the signed checkpoint at
    // seq 12 shows that entries are missing.
    let report = store.verify(&trusted).await.unwrap();
    let (seq, reason) = first_bad(&report);
    assert_eq!(seq, 10, "the first missing seq: {reason:?}");
    assert!(
        matches!(
            reason,
            BreakReason::Truncated {
                checkpoint_seq: 12,
                head_seq: 9
            }
        ),
        "{reason:?}"
    );
    drop(conn);
    db.drop_db().await;
}
