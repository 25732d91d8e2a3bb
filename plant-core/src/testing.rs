//! Test support shared by the workspace's database tests (cargo feature `testing`): a throwaway
//! database per test on the server `scripts/test-db.sh` starts.
//!
//! `DATABASE_URL` names the server; `PLANT_TEST_ADMIN_URL`, when set, is the connection that
//! creates and drops the databases (default: `DATABASE_URL`). Without `DATABASE_URL` a test is
//! skipped with a note, except under `CI=true`, where a missing database fails it.
//!
//! These helpers panic on failure: they run inside tests, where a panic is the report.
#![allow(clippy::panic, clippy::expect_used)]

pub mod python;

use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection};

use crate::store::postgres::connect_options;

/// The test server's URL, or `None` (after printing why) when the test should skip. Under
/// `CI=true` a missing `DATABASE_URL` panics instead: CI must not pass by skipping.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{test}: DATABASE_URL is not set and CI=true: run the tests under \
             scripts/test-db.sh run -- cargo test"
        ),
        _ => {
            eprintln!(
                "skipping {test}: DATABASE_URL is not set (run: scripts/test-db.sh run -- cargo test)"
            );
            None
        }
    }
}

/// `base` with its database replaced by `name`, the query string kept.
///
/// ```
/// use plant_core::testing::with_database;
/// assert_eq!(
///     with_database("postgres://u:p@h:5/plant?sslmode=disable", "t1"),
///     "postgres://u:p@h:5/t1?sslmode=disable"
/// );
/// assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
/// ```
pub fn with_database(base: &str, name: &str) -> String {
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let query_start = rest.find('?').unwrap_or(rest.len());
    let path_start = rest[..query_start].find('/').unwrap_or(query_start);
    format!(
        "{scheme}://{}/{name}{}",
        &rest[..path_start],
        &rest[query_start..]
    )
}

/// An empty database of its own for one test. Drop it with [`ScratchDatabase::drop_db`].
#[derive(Debug)]
pub struct ScratchDatabase {
    /// Its URL (as the server URL's user).
    pub url: String,
    /// Its name: the prefix and a random suffix.
    pub name: String,
    admin_url: String,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<random>` on the test server, or `None` when [`server_url`] says skip.
    pub async fn create(test: &str, prefix: &str) -> Option<Self> {
        let url = server_url(test)?;
        let admin_url = std::env::var("PLANT_TEST_ADMIN_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| url.clone());
        Some(Self::create_on(&url, &admin_url, prefix).await)
    }

    /// Creates `<prefix>_<random>` on the server of `url`, through `admin_url`.
    pub async fn create_on(url: &str, admin_url: &str, prefix: &str) -> Self {
        Self::create_from(url, admin_url, prefix, None).await
    }

    /// A new database `<prefix>_<random>` holding a copy of this one, which must have no open
    /// connections (PostgreSQL's `create database … template`).
    pub async fn copy(&self, prefix: &str) -> Self {
        Self::create_from(&self.url, &self.admin_url, prefix, Some(&self.name)).await
    }

    async fn create_from(url: &str, admin_url: &str, prefix: &str, template: Option<&str>) -> Self {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let sql = match template {
            Some(template) => format!("create database {name} template {template}"),
            None => format!("create database {name}"),
        };
        let mut admin = admin_connection(admin_url).await;
        sqlx::query(AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("create the test database {name}: {e}"));
        admin.close().await.ok();
        Self {
            url: with_database(url, &name),
            name,
            admin_url: admin_url.to_owned(),
        }
    }

    /// A direct connection, for looking and tampering behind the store's back.
    pub async fn connect(&self) -> PgConnection {
        connect_options(&self.url)
            .expect("the test database URL parses")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to the test database {}: {e}", self.name))
    }

    /// Drops the database, terminating connections to it.
    pub async fn drop_db(self) {
        let mut admin = admin_connection(&self.admin_url).await;
        sqlx::query(AssertSqlSafe(format!(
            "drop database if exists {} with (force)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("drop the test database {}: {e}", self.name));
        admin.close().await.ok();
    }
}

async fn admin_connection(url: &str) -> PgConnection {
    connect_options(url)
        .expect("the admin URL parses")
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"))
}
