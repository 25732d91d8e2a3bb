//! A database of its own for each test, on the server `DATABASE_URL` points at.

use plant_core::testing::{ScratchDatabase, server_url};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// An empty (or migrated) database created for one test ([`ScratchDatabase`] on the server
/// `DATABASE_URL` names); dropped with [`TestDb::drop_db`].
#[derive(Debug)]
pub struct TestDb {
    /// Its URL, as the cluster's superuser.
    pub url: String,
    /// Its name.
    pub name: String,
    db: ScratchDatabase,
}

/// The cluster's URL, or `None` after printing why the test is skipped. Under `CI=true` a
/// missing database fails the test instead.
pub fn cluster_url(test: &str) -> Option<String> {
    server_url(test)
}

impl TestDb {
    fn of(db: ScratchDatabase) -> TestDb {
        TestDb {
            url: db.url.clone(),
            name: db.name.clone(),
            db,
        }
    }

    /// A new, empty database with the vector extension, or `None` when the test should skip.
    pub async fn create(test: &str) -> Option<TestDb> {
        let db = Self::of(ScratchDatabase::create(test, "plant_rel").await?);
        let mut conn = db.connect().await;
        sqlx::query("create extension if not exists vector")
            .execute(&mut conn)
            .await
            .expect("create extension vector");
        conn.close().await.ok();
        Some(db)
    }

    /// A new database, migrated by `plant-cli migrate`, or `None` when the test should skip.
    pub async fn migrated(test: &str) -> Option<TestDb> {
        let db = Self::create(test).await?;
        crate::cli::migrate(&db.url);
        Some(db)
    }

    /// A copy of `template` (which must have no open connections).
    pub async fn copy_of(template: &TestDb) -> TestDb {
        Self::of(template.db.copy("plant_rel").await)
    }

    /// A connection as the superuser.
    pub async fn connect(&self) -> PgConnection {
        self.db.connect().await
    }

    /// Drops the database (closing whatever is still connected).
    pub async fn drop_db(self) {
        self.db.drop_db().await;
    }
}

/// `select count(*) …` as an i64.
pub async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_owned()))
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The audit log's `(count, min seq, max seq)`.
pub async fn chain_shape(conn: &mut PgConnection) -> (i64, i64, i64) {
    sqlx::query_as::<_, (i64, i64, i64)>(
        "select count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) from audit_log",
    )
    .fetch_one(conn)
    .await
    .expect("read the chain's shape")
}

/// Entities (catalog rows, trials, jobs) without an audit entry for their current version, and
/// audit entries whose entity has no row: both must be zero.
pub async fn orphans(conn: &mut PgConnection) -> (i64, i64) {
    let rows_without_entry = count(
        conn,
        "select count(*) from (
            select id, version from base_entity
            union all select id, version from trial
            union all select id, version from job
            union all select id, version from precedent_seed
         ) r
         where not exists (select 1 from audit_log a
                           where a.entity_id = r.id and a.entity_version = r.version)",
    )
    .await;
    let entries_without_row = count(
        conn,
        "select count(*) from audit_log a
         where not exists (select 1 from base_entity where id = a.entity_id)
           and not exists (select 1 from trial where id = a.entity_id)
           and not exists (select 1 from job where id = a.entity_id)
           and not exists (select 1 from precedent_seed where id = a.entity_id)",
    )
    .await;
    (rows_without_entry, entries_without_row)
}

/// Of the acknowledged writes `(entity id, version)`: how many have no audit entry at that
/// version, and how many have no row at that version or later.
pub async fn missing_acked(conn: &mut PgConnection, acked: &[(uuid::Uuid, i64)]) -> (i64, i64) {
    let ids: Vec<uuid::Uuid> = acked.iter().map(|(id, _)| *id).collect();
    let versions: Vec<i64> = acked.iter().map(|(_, v)| *v).collect();
    let without_entry: i64 = sqlx::query_scalar(
        "select count(*) from unnest($1::uuid[], $2::bigint[]) as t(id, v)
         where not exists (select 1 from audit_log a
                           where a.entity_id = t.id and a.entity_version = t.v)",
    )
    .bind(&ids)
    .bind(&versions)
    .fetch_one(&mut *conn)
    .await
    .expect("look up acknowledged entries");
    let without_row: i64 = sqlx::query_scalar(
        "select count(*) from unnest($1::uuid[], $2::bigint[]) as t(id, v)
         where not exists (select 1 from (select id, version from base_entity
                                          union all select id, version from trial
                                          union all select id, version from job
                                          union all select id, version from precedent_seed) r
                           where r.id = t.id and r.version >= t.v)",
    )
    .bind(&ids)
    .bind(&versions)
    .fetch_one(&mut *conn)
    .await
    .expect("look up acknowledged rows");
    (without_entry, without_row)
}

/// Asserts what every scenario promises of the database afterwards: `plant-cli verify` passes,
/// seq runs 1..=n without a gap, every acknowledged write is there with its entry, and no row
/// lacks its entry nor any entry its row. Returns the number of entries.
pub async fn assert_consistent(db: &TestDb, acked: &[(uuid::Uuid, i64)]) -> i64 {
    let verify = crate::cli::verify(&db.url, None);
    assert_eq!(verify.code, 0, "plant-cli verify: {}", verify.report);
    let mut conn = db.connect().await;
    let (count, min, max) = chain_shape(&mut conn).await;
    assert!(count > 0, "the chain is empty");
    assert_eq!(
        (min, max),
        (1, count),
        "seq has a gap: {count} entries, {min}..{max}"
    );
    assert_eq!(
        missing_acked(&mut conn, acked).await,
        (0, 0),
        "acknowledged writes without their entry / without their row"
    );
    assert_eq!(
        orphans(&mut conn).await,
        (0, 0),
        "rows without their entry / entries without their row"
    );
    conn.close().await.ok();
    count
}
