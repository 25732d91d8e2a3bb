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

/// An empty database of its own for one test, dropped from the server when this value is
/// dropped (also when the test panics), or earlier with [`ScratchDatabase::drop_db`]. A suite
/// leaves no databases behind: kept, a few hundred of them filled the disk of a CI machine.
#[derive(Debug)]
pub struct ScratchDatabase {
    /// Its URL (as the server URL's user).
    pub url: String,
    /// Its name: the prefix and a random suffix.
    pub name: String,
    admin_url: String,
    /// Set once the database is gone, so that `Drop` does not drop it again.
    dropped: bool,
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
            dropped: false,
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
    pub async fn drop_db(mut self) {
        drop_database(&self.admin_url, &self.name).await;
        self.dropped = true;
    }
}

impl Drop for ScratchDatabase {
    /// Drops the database unless [`ScratchDatabase::drop_db`] has. `Drop` cannot await and may
    /// run on a runtime's thread, where blocking on that runtime would panic: the drop runs on a
    /// thread of its own with a runtime of its own, and this waits for it. A failure is printed,
    /// not raised, since this may run while a failed test is already unwinding.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|runtime| runtime.block_on(try_drop_database(&admin_url, &name)))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop the test database {}: {e}", self.name),
            Err(_) => eprintln!("dropping the test database {} panicked", self.name),
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    try_drop_database(admin_url, name)
        .await
        .unwrap_or_else(|e| panic!("drop the test database {name}: {e}"));
}

async fn try_drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    let options = connect_options(admin_url).map_err(|e| e.to_string())?;
    let mut admin = options.connect().await.map_err(|e| e.to_string())?;
    sqlx::query(AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(&mut admin)
    .await
    .map_err(|e| e.to_string())?;
    admin.close().await.ok();
    Ok(())
}

async fn admin_connection(url: &str) -> PgConnection {
    connect_options(url)
        .expect("the admin URL parses")
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"))
}
