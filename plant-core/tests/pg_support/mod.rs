//! Per-test PostgreSQL databases for the store's tests.
//!
//! `DATABASE_URL` names the server (`scripts/test-db.sh run -- cargo test` sets it up);
//! `PLANT_TEST_ADMIN_URL`, when set, is the connection used to create and drop the per-test
//! databases (default: `DATABASE_URL`). Without `DATABASE_URL` a test prints a skip note and
//! passes, except under `CI=true`, where a missing database fails the run.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use plant_core::store::postgres::{PgConfig, PgStore, connect_options, migrate};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection};

/// A database of its own for one test, migrated.
#[derive(Debug)]
pub struct TestDb {
    /// Its URL.
    pub url: String,
    name: String,
    admin_url: String,
}

/// The server's URL, or `None` (after printing why) when the tests should skip.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{test}: DATABASE_URL is not set and CI=true: run the tests under scripts/test-db.sh run -- …"
            )
        }
        _ => {
            eprintln!(
                "skipping {test}: DATABASE_URL is not set (run: scripts/test-db.sh run -- cargo test)"
            );
            None
        }
    }
}

/// A URL like `base` but for database `name` (the path replaced, the query kept).
fn with_database(base: &str, name: &str) -> String {
    let (scheme, rest) = base.split_once("://").expect("DATABASE_URL has a scheme");
    let query_start = rest.find('?').unwrap_or(rest.len());
    let path_start = rest[..query_start].find('/').unwrap_or(query_start);
    format!(
        "{scheme}://{}/{name}{}",
        &rest[..path_start],
        &rest[query_start..]
    )
}

impl TestDb {
    /// Creates an empty database without migrating it.
    pub async fn empty(test: &str) -> Option<Self> {
        let url = server_url(test)?;
        let admin_url = std::env::var("PLANT_TEST_ADMIN_URL").unwrap_or_else(|_| url.clone());
        let name = format!("plant_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection(&admin_url).await;
        sqlx::query(AssertSqlSafe(format!("create database {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.ok();
        Some(Self {
            url: with_database(&url, &name),
            name,
            admin_url,
        })
    }

    /// Creates a database and applies the migrations.
    pub async fn new(test: &str) -> Option<Self> {
        let db = Self::empty(test).await?;
        migrate(&db.url).await.expect("migrations apply");
        Some(db)
    }

    /// A store over this database with a small pool.
    pub async fn store(&self) -> PgStore {
        self.store_with(4).await
    }

    /// A store over this database with its own pool of `max_connections`.
    pub async fn store_with(&self, max_connections: u32) -> PgStore {
        let mut config = PgConfig::new(&self.url);
        config.max_connections = max_connections;
        config.acquire_timeout = Duration::from_secs(30);
        PgStore::connect(&config).await.expect("store connects")
    }

    /// A direct connection as the test's (super)user, for tampering behind the store's back.
    pub async fn superuser(&self) -> PgConnection {
        connect_options(&self.url)
            .expect("url")
            .connect()
            .await
            .expect("connect")
    }

    /// Drops the database (connections to it are terminated).
    pub async fn drop_db(self) {
        let mut admin = admin_connection(&self.admin_url).await;
        let _ = sqlx::query(AssertSqlSafe(format!(
            "drop database if exists {} with (force)",
            self.name
        )))
        .execute(&mut admin)
        .await;
        admin.close().await.ok();
    }
}

async fn admin_connection(url: &str) -> PgConnection {
    connect_options(url)
        .expect("admin URL parses")
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"))
}
