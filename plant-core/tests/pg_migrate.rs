//! Migrations: idempotent, safe when several processes run them at once, and what they build
//! is the schema the store expects (named constraints, HNSW indexes, the audit triggers).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pg_support;

use pg_support::TestDb;
use plant_core::store::postgres::{MIGRATOR, migrate};
use sqlx::PgConnection;

/// A description of the schema: tables and columns, constraints, indexes, triggers.
async fn schema(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "select 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
           from information_schema.columns where table_schema = 'public' \
         union all \
         select 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
           from pg_constraint where connamespace = 'public'::regnamespace \
         union all \
         select 'index ' || indexdef from pg_indexes where schemaname = 'public' \
         union all \
         select 'trigger ' || tgrelid::regclass || ' ' || tgname from pg_trigger where not tgisinternal \
         order by 1",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn migrating_twice_changes_nothing_the_second_time() {
    let Some(db) = TestDb::empty("migrating_twice").await else {
        return;
    };
    let first = migrate(&db.url).await.unwrap();
    let versions: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(first.applied, versions);
    let mut conn = db.superuser().await;
    let before = schema(&mut conn).await;
    let second = migrate(&db.url).await.unwrap();
    assert!(second.applied.is_empty(), "{second:?}");
    assert_eq!(second.current, versions.last().copied());
    assert_eq!(schema(&mut conn).await, before);
    drop(conn);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_all_succeed_and_apply_each_version_once() {
    let Some(db) = TestDb::empty("concurrent_migrations").await else {
        return;
    };
    let runs: Vec<_> = (0..6)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { migrate(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.extend(run.await.unwrap().unwrap().applied);
    }
    applied.sort_unstable();
    let versions: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(applied, versions, "each version applied by exactly one run");

    // The same schema as a database migrated alone.
    let Some(alone) = TestDb::new("concurrent_migrations_reference").await else {
        return;
    };
    let mut a = db.superuser().await;
    let mut b = alone.superuser().await;
    assert_eq!(schema(&mut a).await, schema(&mut b).await);
    drop((a, b));
    db.drop_db().await;
    alone.drop_db().await;
}

#[tokio::test]
async fn the_schema_has_named_constraints_hnsw_indexes_and_audit_triggers() {
    let Some(db) = TestDb::new("schema_shape").await else {
        return;
    };
    let mut conn = db.superuser().await;
    let schema = schema(&mut conn).await;
    let has = |needle: &str| schema.iter().any(|line| line.contains(needle));
    for needle in [
        "skill_name_key",
        "agent_skill_fk",
        "agent_industry_locked",
        "audit_log_append_only",
        "audit_log_no_truncate",
        "base_entity_status_check",
        "skill_category_check",
        "job_role_seniority_level_check",
        "trial_status_check",
        "job_status_check",
        "base_entity_amendment_alignment_check",
        "base_entity_certification_status_check",
        "audit_log_hash_check",
        "audit_log_prev_hash_check",
        "USING hnsw (embedding vector_cosine_ops)",
        "column audit_log.payload text NO",
    ] {
        assert!(has(needle), "schema lacks {needle}");
    }
    assert!(!has("ivfflat"), "no IVFFlat index");
    for table in ["industry", "skill", "job_role", "agent"] {
        assert!(
            has(&format!(
                "{table}_embedding_idx ON public.{table} USING hnsw"
            )),
            "{table} HNSW"
        );
    }
    let head: (i64, Vec<u8>) = sqlx::query_as("select seq, hash from audit_head")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(head, (0, vec![0u8; 32]));
    drop(conn);
    db.drop_db().await;
}

/// Rows written before migration 0009 have no name key: `migrate` fills it, once, and stops
/// (naming both rows, changing neither) when two old names look alike.
#[tokio::test]
async fn migrate_fills_the_name_keys_of_old_rows_and_names_look_alike_pairs() {
    use plant_core::Timestamp;
    use plant_core::model::{Category, Description, Entity, Kind, Name, Skill, unique_key};
    use plant_core::store::postgres::ConnectError;
    use plant_core::store::{Change, Store};

    let Some(db) = TestDb::new("name_keys_backfill").await else {
        return;
    };
    let store = db.store().await;
    let mut ids = Vec::new();
    for name in ["Copywriting", "Caf\u{e9} Writing", "Editing"] {
        let skill = Entity::new(
            Skill {
                name: Name::parse(name).unwrap(),
                description: Description::parse("old").unwrap(),
                category: Category::Technical,
            },
            Timestamp::now(),
        );
        ids.push(skill.base.id);
        store.commit(Change::create(skill, "t")).await.unwrap();
    }
    let mut conn = db.superuser().await;
    // As a database migrated before 0009 holds them: no keys.
    sqlx::query("update skill set name_key = null")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = migrate(&db.url).await.unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(report.names_keyed, 3);
    let key: String = sqlx::query_scalar("select name_key from skill where id = $1")
        .bind(ids[1])
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(key, unique_key(Kind::Skill, "CAFE\u{301} writing"));
    assert_eq!(migrate(&db.url).await.unwrap().names_keyed, 0, "idempotent");

    // An old row whose name only differs from another's by look (here NFD and case), keyless.
    sqlx::query("update skill set name = $2, name_key = null where id = $1")
        .bind(ids[2])
        .bind("CAFE\u{301} WRITING")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = migrate(&db.url).await.unwrap_err();
    match &err {
        ConnectError::NameCollision {
            first_id,
            second_id,
            ..
        } => assert_eq!((*first_id, *second_id), (ids[1], ids[2])),
        other => panic!("expected NameCollision, got {other}"),
    }
    assert!(err.to_string().contains("rename one"), "{err}");
    let keyless: i64 = sqlx::query_scalar("select count(*) from skill where name_key is null")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        keyless, 1,
        "the colliding row stays keyless, the database consistent"
    );
    drop(conn);
    db.drop_db().await;
}
