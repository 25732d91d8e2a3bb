//! Connecting, checking the server, and running the embedded migrations.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use super::group::GroupCommit;
use super::url::{UrlError, connect_options};
use crate::model::{Kind, unique_key};

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The oldest PostgreSQL the store runs on.
pub const MIN_SERVER_VERSION_NUM: i32 = 140_000;

/// The default `hnsw.ef_search`. With the indexes of `migrations/0006` (m = 32,
/// ef_construction = 128), recall@10 against exact search over 100k agents (`bench/search`)
/// measured 0.9855 and 0.9835 on two index builds at 800; 400 gave 0.961, 0.9405 and 0.9475 on
/// three builds (below the 0.95 aimed at), 100 gave 0.78. 800 costs about twice 400's SQL time.
pub const DEFAULT_EF_SEARCH: u32 = 800;

/// How the store connects. Build it with [`PgConfig::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// The connection URL (see [`connect_options`] for the accepted forms).
    pub url: String,
    /// The most connections the pool opens (default 10).
    pub max_connections: u32,
    /// How long a call waits for a free connection before failing as unavailable (default 5 s).
    pub acquire_timeout: Duration,
    /// The longest a single statement may run before the server cancels it (default 30 s).
    pub statement_timeout: Duration,
    /// The HNSW search breadth (`hnsw.ef_search`, default [`DEFAULT_EF_SEARCH`]): higher finds
    /// more of the true nearest neighbours, especially under filters, at some cost.
    pub ef_search: u32,
    /// The name the connections show in `pg_stat_activity` (default `plant`).
    pub application_name: String,
    /// How the process groups its commits (default [`GroupCommit::default`]).
    pub group_commit: GroupCommit,
}

impl PgConfig {
    /// The defaults for a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            ef_search: DEFAULT_EF_SEARCH,
            application_name: "plant".into(),
            group_commit: GroupCommit::default(),
        }
    }

    /// The connect options for the store's pool: UTC session time zone, the statement timeout,
    /// the search breadth.
    pub fn connect_options(&self) -> Result<PgConnectOptions, ConnectError> {
        let timeout_ms = self.statement_timeout.as_millis().to_string();
        let ef_search = self.ef_search.to_string();
        Ok(connect_options(&self.url)?
            .application_name(&self.application_name)
            .options([
                ("timezone", "UTC"),
                ("statement_timeout", timeout_ms.as_str()),
                ("hnsw.ef_search", ef_search.as_str()),
            ]))
    }
}

/// Why the store cannot start. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is malformed.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The server could not be reached or refused the login.
    #[error(
        "cannot connect to PostgreSQL: {0} (check DATABASE_URL, that the server is up, and the credentials)"
    )]
    Unreachable(#[source] sqlx::Error),
    /// The server is older than [`MIN_SERVER_VERSION_NUM`].
    #[error(
        "PostgreSQL {found} is too old: plant needs PostgreSQL 14 or newer (upgrade the server; Cloud SQL: POSTGRES_15 or later)"
    )]
    ServerTooOld {
        /// The server's `server_version`.
        found: String,
    },
    /// pgvector is neither installed in the database nor available to install.
    #[error(
        "the pgvector extension is not available on this PostgreSQL server: install pgvector 0.5 or newer (Debian: postgresql-16-pgvector; Cloud SQL: built in), then run `plant-cli migrate`"
    )]
    MissingVector,
    /// pgvector is available but not installed in the database, and the schema is not there.
    #[error(
        "the vector extension is not installed in this database: run `plant-cli migrate` (as a role allowed to `create extension vector`)"
    )]
    VectorNotInstalled,
    /// A migration failed.
    #[error("migration failed: {0}{hint}", hint = migrate_hint(.0))]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A check query failed.
    #[error("database check failed: {0}")]
    Query(#[source] sqlx::Error),
    /// Two names stored before names were unique by their folded key share one now.
    #[error(
        "the {kind} names {first:?} ({first_id}) and {second:?} ({second_id}) look alike and may \
         not both exist: rename one (PATCH its name), then run `plant-cli migrate` again"
    )]
    NameCollision {
        /// The kind.
        kind: Kind,
        /// The name that already holds the key.
        first: String,
        /// Its id.
        first_id: Uuid,
        /// The name that could not take it.
        second: String,
        /// Its id.
        second_id: Uuid,
    },
}

fn migrate_hint(err: &sqlx::migrate::MigrateError) -> &'static str {
    let text = err.to_string();
    if text.contains("permission denied") && text.contains("vector") {
        " (creating the vector extension needs a superuser or cloudsqlsuperuser: run `create extension vector` as one, then migrate again)"
    } else if text.contains("permission denied") {
        " (the migrating role must own the schema: run migrations as the schema owner)"
    } else {
        ""
    }
}

/// What the server is and has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `server_version_num`, e.g. 160002.
    pub version_num: i32,
    /// `server_version`, e.g. `16.2`.
    pub version: String,
    /// Whether `vector` is installed in this database.
    pub vector_installed: bool,
    /// Whether `vector` can be installed (`pg_available_extensions`).
    pub vector_available: bool,
}

/// Reads the server's version and whether pgvector is there.
pub async fn server_info(conn: &mut PgConnection) -> Result<ServerInfo, ConnectError> {
    let (version_num, version, vector_installed, vector_available): (i32, String, bool, bool) =
        sqlx::query_as(
            "select current_setting('server_version_num')::int, current_setting('server_version'), \
                    exists (select 1 from pg_extension where extname = 'vector'), \
                    exists (select 1 from pg_available_extensions where name = 'vector')",
        )
        .fetch_one(conn)
        .await
        .map_err(ConnectError::Query)?;
    Ok(ServerInfo {
        version_num,
        version,
        vector_installed,
        vector_available,
    })
}

/// Refuses servers the store cannot run on, with a message saying what to do.
pub fn check_server(info: &ServerInfo) -> Result<(), ConnectError> {
    if info.version_num < MIN_SERVER_VERSION_NUM {
        return Err(ConnectError::ServerTooOld {
            found: info.version.clone(),
        });
    }
    if !info.vector_installed && !info.vector_available {
        return Err(ConnectError::MissingVector);
    }
    Ok(())
}

/// Opens the store's pool and checks the server (version, pgvector installed).
pub(super) async fn open_pool(config: &PgConfig) -> Result<PgPool, ConnectError> {
    let options = config.connect_options()?;
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .acquire_timeout(config.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(ConnectError::Unreachable)?;
    let mut conn = pool.acquire().await.map_err(ConnectError::Unreachable)?;
    let info = server_info(&mut conn).await?;
    check_server(&info)?;
    if !info.vector_installed {
        return Err(ConnectError::VectorNotInstalled);
    }
    Ok(pool)
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run (empty when the schema was already current).
    pub applied: Vec<i64>,
    /// The newest version now in the database.
    pub current: Option<i64>,
    /// Rows whose name key (migration 0009) this run filled in.
    pub names_keyed: u64,
}

/// The advisory lock key that serialises migration runs on one database ("plant" in ASCII).
const MIGRATE_LOCK_KEY: i64 = i64::from_be_bytes(*b"\0\0\0plant");

/// Applies the embedded migrations that are not yet applied, and is safe to run from several
/// places at once: the run holds a session advisory lock for its whole length, so concurrent
/// runs wait for each other and the later ones find nothing left to do. The run uses its own
/// connection, closed at the end, so the lock can never outlive it in a pool. A migration
/// whose file changed after it was applied is an error, not a silent skip.
pub async fn migrate(url: &str) -> Result<MigrationReport, ConnectError> {
    let options = connect_options(url)?
        .application_name("plant-migrate")
        .options([("timezone", "UTC"), ("statement_timeout", "0")]);
    // A pool of exactly one connection that is never recycled: every statement below runs in
    // the same session, the one that holds the lock.
    let session = PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .map_err(ConnectError::Unreachable)?;
    let result = migrate_locked(&session).await;
    // Closing ends the session, which releases the lock even when the run failed.
    session.close().await;
    result
}

async fn migrate_locked(session: &PgPool) -> Result<MigrationReport, ConnectError> {
    let mut conn = session.acquire().await.map_err(ConnectError::Unreachable)?;
    let info = server_info(&mut conn).await?;
    check_server(&info)?;
    sqlx::query("select pg_advisory_lock($1)")
        .bind(MIGRATE_LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(ConnectError::Query)?;
    let before = applied_versions(&mut conn).await?;
    drop(conn);
    MIGRATOR.run(session).await.map_err(ConnectError::Migrate)?;
    let mut conn = session.acquire().await.map_err(ConnectError::Unreachable)?;
    let names_keyed = fill_name_keys(&mut conn).await?;
    let after = applied_versions(&mut conn).await?;
    Ok(MigrationReport {
        applied: after
            .iter()
            .copied()
            .filter(|v| !before.contains(v))
            .collect(),
        current: after.last().copied(),
        names_keyed,
    })
}

/// The catalog tables whose rows carry a `name_key`, and their kinds.
const KEYED_TABLES: [(&str, Kind); 5] = [
    ("industry", Kind::Industry),
    ("skill", Kind::Skill),
    ("job_role", Kind::JobRole),
    ("team", Kind::Team),
    ("agent", Kind::Agent),
];

/// Computes the name key of every row that has none: rows written before migration 0009 (or by
/// a binary older than it). Idempotent; runs under the migration lock. Two rows whose names
/// fold to one key stop the run with [`ConnectError::NameCollision`] naming both, and the
/// unique index keeps the second row keyless (and the database consistent) until one is renamed.
async fn fill_name_keys(conn: &mut PgConnection) -> Result<u64, ConnectError> {
    let mut filled = 0;
    for (table, kind) in KEYED_TABLES {
        let rows: Vec<(Uuid, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "select id, name from {table} where name_key is null order by id"
        )))
        .fetch_all(&mut *conn)
        .await
        .map_err(ConnectError::Query)?;
        for (id, name) in rows {
            let key = unique_key(kind, &name);
            let written = sqlx::query(AssertSqlSafe(format!(
                "update {table} set name_key = $2 where id = $1 and name_key is null"
            )))
            .bind(id)
            .bind(&key)
            .execute(&mut *conn)
            .await;
            match written {
                Ok(done) => filled += done.rows_affected(),
                Err(e) if is_unique_violation(&e) => {
                    let (first_id, first): (Uuid, String) = sqlx::query_as(AssertSqlSafe(format!(
                        "select id, name from {table} where name_key = $1"
                    )))
                    .bind(&key)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(ConnectError::Query)?;
                    return Err(ConnectError::NameCollision {
                        kind,
                        first,
                        first_id,
                        second: name,
                        second_id: id,
                    });
                }
                Err(e) => return Err(ConnectError::Query(e)),
            }
        }
    }
    Ok(filled)
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.code().as_deref() == Some("23505"))
}

async fn applied_versions(conn: &mut PgConnection) -> Result<Vec<i64>, ConnectError> {
    let exists: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(&mut *conn)
        .await
        .map_err(ConnectError::Query)?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
        .fetch_all(conn)
        .await
        .map_err(ConnectError::Query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(version_num: i32, installed: bool, available: bool) -> ServerInfo {
        ServerInfo {
            version_num,
            version: format!("{}.{}", version_num / 10_000, version_num % 100),
            vector_installed: installed,
            vector_available: available,
        }
    }

    #[test]
    fn old_servers_are_refused_with_what_to_do() {
        let err = check_server(&info(130_012, true, true)).expect_err("13 is too old");
        assert!(err.to_string().contains("PostgreSQL 14 or newer"), "{err}");
        assert!(check_server(&info(140_000, false, true)).is_ok());
    }

    #[test]
    fn a_server_without_pgvector_is_refused_with_what_to_do() {
        let err = check_server(&info(160_002, false, false)).expect_err("no pgvector");
        assert!(err.to_string().contains("install pgvector"), "{err}");
    }
}
