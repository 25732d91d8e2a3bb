//! The conformance story against PostgreSQL, each scenario in a database of its own.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use plant_core::store::postgres::{PgConfig, PgStore, migrate};
use plant_core::store::{Store, conformance};
use sqlx::Connection;

/// The admin URL, or `None` (a skip) outside CI; under `CI=true` a missing database fails.
fn admin_url() -> Option<String> {
    match std::env::var("PLANT_TEST_ADMIN_URL").or_else(|_| std::env::var("DATABASE_URL")) {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but no DATABASE_URL: the database tests must run in CI (use scripts/test-db.sh run -- …)"
            )
        }
        Err(_) => {
            eprintln!(
                "skipped: no DATABASE_URL (run through scripts/test-db.sh run -- cargo test)"
            );
            None
        }
    }
}

async fn fresh_database(admin: &str, name: &str) -> String {
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name}"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_conformance_story() {
    let Some(admin) = admin_url() else { return };
    for (name, scenario) in conformance::SCENARIOS {
        let db = format!(
            "conf_{}_{}",
            name.chars().take(30).collect::<String>(),
            std::process::id()
        );
        let url = fresh_database(&admin, &db).await;
        migrate(&url).await.unwrap();
        let store: Arc<dyn Store> = Arc::new(PgStore::connect(&PgConfig::new(url)).await.unwrap());
        eprintln!("scenario: {name}");
        scenario(store).await;
    }
}
