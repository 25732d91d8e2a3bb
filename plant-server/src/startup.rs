//! Building the running service from its configuration: the store, the embedder, the catalog.

use std::path::PathBuf;
use std::sync::Arc;

use plant_core::Catalog;
use plant_core::search::{Embedder, default_embedder};
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::postgres::{PgConfig, PgStore, redact};
use plant_core::store::{MemoryStore, Store};

use crate::auth::KeyError;
use crate::config::Config;
/// An error and its causes, for the start-up log line.
pub use crate::problem::cause_chain;
use crate::state::AppState;

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "PLANT_SEED_FILE names {path}, which cannot be read; it needs a readable seed catalog file"
    )]
    SeedFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the seed catalog (PLANT_SEED_FILE, or the built-in one) cannot be loaded")]
    Seed(#[source] plant_core::Error),
    #[error(
        "DATABASE_URL names a database that cannot be opened; it needs a reachable PostgreSQL 16 with pgvector"
    )]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "{var} names port {port}, which cannot be listened on; it needs a free port this process may bind"
    )]
    Bind {
        var: &'static str,
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// The state for `config`: PostgreSQL when `DATABASE_URL` is set, otherwise an in-memory store
/// seeded from the seed file.
pub async fn build_state(config: &Config) -> Result<AppState, StartupError> {
    let embedder = embedder(config);
    let store = open_store(config).await?;
    let catalog = Catalog::new(store, embedder);
    if config.database_url.is_none() {
        seed_memory(&catalog, config).await?;
    }
    Ok(AppState::from_config(config, catalog)?)
}

fn embedder(config: &Config) -> Arc<dyn Embedder> {
    let (embedder, warning) = default_embedder(config.embed_model_dir.as_deref());
    match warning {
        Some(warning) => tracing::warn!("{warning}"),
        None => tracing::info!(
            model = embedder.model_id(),
            "semantic search with the embedding model"
        ),
    }
    embedder
}

async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    match &config.database_url {
        Some(url) => {
            let mut pg = PgConfig::new(url.as_str());
            pg.max_connections = config.db_pool_size;
            pg.ef_search = config.ef_search;
            let store = PgStore::connect(&pg)
                .await
                .map_err(|e| StartupError::Database(Box::new(e)))?;
            tracing::info!(database = %redact(url), pool = config.db_pool_size, "serving the PostgreSQL catalog");
            Ok(Arc::new(store))
        }
        None => Ok(Arc::new(MemoryStore::new())),
    }
}

async fn seed_memory(catalog: &Catalog, config: &Config) -> Result<(), StartupError> {
    let (seed, source) = match &config.seed_file {
        Some(path) => {
            let text =
                tokio::fs::read_to_string(path)
                    .await
                    .map_err(|source| StartupError::SeedFile {
                        path: path.clone(),
                        source,
                    })?;
            (
                SeedCatalog::parse(&text).map_err(StartupError::Seed)?,
                path.display().to_string(),
            )
        }
        None => (
            SeedCatalog::builtin().map_err(StartupError::Seed)?,
            "the built-in seeds/catalog.json".to_owned(),
        ),
    };
    let report = seed::load(catalog, &seed, &mut |_| {})
        .await
        .map_err(StartupError::Seed)?;
    tracing::info!(
        seed = %source,
        created = report.changes(),
        "no DATABASE_URL: serving an in-memory catalog seeded from {source}; changes are lost on exit"
    );
    Ok(())
}
