//! Running the built binary, scratch directories, and per-test databases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use plant_core::testing::ScratchDatabase;
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
    "PLANT_LOG_ORIGIN",
    "PLANT_LOG_VKEY",
    "PLANT_VERIFY_CHECKPOINT",
    "PLANT_WITNESS_NAME",
    "PLANT_WITNESS_KEY_FILE",
    "PLANT_WITNESS_STATE",
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

/// An empty database of its own for one test (a [`ScratchDatabase`]: `DATABASE_URL`, and
/// `CI=true` making a missing database a failure), dropped by [`TestDb::drop_db`].
#[derive(Debug)]
pub struct TestDb {
    /// Its URL (as the test server's superuser).
    pub url: String,
    db: ScratchDatabase,
}

impl TestDb {
    /// Creates `cli_test_<random>` through `PLANT_TEST_ADMIN_URL` (default `DATABASE_URL`).
    pub async fn create(test: &str) -> Option<Self> {
        let db = ScratchDatabase::create(test, "cli_test").await?;
        Some(Self {
            url: db.url.clone(),
            db,
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
        self.db.connect().await
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
        self.db.drop_db().await;
    }
}
