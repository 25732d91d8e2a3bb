//! Running the built binary, scratch directories, and per-test databases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// Variables the binary reads; removed from every child so the caller's shell cannot leak in.
const PLANT_VARS: &[&str] = &[
    "DATABASE_URL",
    "PLANT_EMBED_MODEL_DIR",
    "PLANT_SEED_FILE",
    "PLANT_SEED_JSON",
    "PLANT_VERIFY_JSON",
    "PLANT_TRUSTED_KEYS",
    "PLANT_SIGNING_KEY",
    "PLANT_SIGNING_KEY_FILE",
    "PLANT_CHECKPOINT_FILE",
    "PLANT_KEYGEN_OUT",
    "PLANT_JWT_SECRET",
    "PLANT_TOKEN_ROLE",
    "PLANT_TOKEN_AGENT_ID",
    "PLANT_TOKEN_EMAIL",
    "PLANT_TOKEN_SUB",
    "PLANT_TOKEN_TTL",
    "PLANT_EMBED_BATCH",
    "PLANT_REVALIDATE_DRY_RUN",
    "PLANT_REVALIDATE_ACTOR",
    "PLANT_REVALIDATE_JSON",
    "PLANT_EXPORT_OUT",
];

/// The binary with a clean environment and these arguments.
pub fn cli(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plant-cli"));
    for var in PLANT_VARS {
        cmd.env_remove(var);
    }
    cmd.args(args);
    cmd
}

/// Runs a command to completion.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("plant-cli runs")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

/// A fresh scratch directory under the system's temporary directory.
pub fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plant-cli-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// A random secret of 64 hex characters.
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// An empty database of its own for one test, dropped by [`TestDb::drop_db`].
#[derive(Debug)]
pub struct TestDb {
    /// Its URL (as the test server's superuser).
    pub url: String,
    name: String,
    admin_url: String,
}

/// The server's URL, or `None` (after printing why) when the test should skip. Under `CI=true`
/// a missing database fails the test instead.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{test}: DATABASE_URL is not set and CI=true: run the tests under scripts/test-db.sh run -- cargo test -p plant-cli"
            )
        }
        _ => {
            eprintln!(
                "skipping {test}: DATABASE_URL is not set (run: scripts/test-db.sh run -- cargo test -p plant-cli)"
            );
            None
        }
    }
}

/// `base` with its database replaced by `name` (the query string kept).
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
    /// Creates `cli_test_<random>` through `PLANT_TEST_ADMIN_URL` (default `DATABASE_URL`).
    pub async fn create(test: &str) -> Option<Self> {
        let url = server_url(test)?;
        let admin_url = std::env::var("PLANT_TEST_ADMIN_URL").unwrap_or_else(|_| url.clone());
        let name = format!("cli_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect as admin");
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

    /// The binary with `DATABASE_URL` pointing at this database.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = cli(args);
        cmd.env("DATABASE_URL", &self.url);
        cmd
    }

    /// A direct connection, for looking and tampering behind the store's back.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// Runs statements one by one on one connection.
    pub async fn execute(&self, statements: &[&str]) {
        let mut conn = self.connect().await;
        for sql in statements {
            sqlx::query(AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        conn.close().await.ok();
    }

    /// Drops the database.
    pub async fn drop_db(self) {
        let mut admin = PgConnection::connect(&self.admin_url)
            .await
            .expect("connect as admin");
        sqlx::query(AssertSqlSafe(format!(
            "drop database if exists {} with (force)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .expect("drop the test database");
        admin.close().await.ok();
    }
}
