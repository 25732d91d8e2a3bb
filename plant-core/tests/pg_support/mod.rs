//! Per-test PostgreSQL databases for the store's tests, on [`plant_core::testing`]'s scratch
//! databases (`DATABASE_URL`, `PLANT_TEST_ADMIN_URL`, and `CI=true` making a missing database a
//! failure, are described there).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use plant_core::store::postgres::{PgConfig, PgStore, migrate};
use plant_core::testing::ScratchDatabase;
use sqlx::PgConnection;

/// A database of its own for one test, migrated.
#[derive(Debug)]
pub struct TestDb {
    /// Its URL.
    pub url: String,
    db: ScratchDatabase,
}

impl TestDb {
    /// Creates an empty database without migrating it.
    pub async fn empty(test: &str) -> Option<Self> {
        let db = ScratchDatabase::create(test, "plant_test").await?;
        Some(Self {
            url: db.url.clone(),
            db,
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
        self.db.connect().await
    }

    /// Drops the database (connections to it are terminated).
    pub async fn drop_db(self) {
        self.db.drop_db().await;
    }
}
