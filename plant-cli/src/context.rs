//! What the database subcommands share: the URL, the store, the embedder, the catalog.

use std::path::Path;
use std::sync::Arc;

use plant_core::Catalog;
use plant_core::search::{Embedder, HashingEmbedder};
use plant_core::store::postgres::{PgConfig, PgStore};

use crate::error::CliError;
use crate::progress::note;
use crate::{DbArgs, EmbedderArgs};

/// The database URL, or the error saying `command` needs one.
pub fn database_url(args: &DbArgs, command: &'static str) -> Result<String, CliError> {
    match &args.database_url {
        Some(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
        _ => Err(CliError::MissingDatabaseUrl { command }),
    }
}

/// Opens the store (a small pool: the command line is one client).
pub async fn store(args: &DbArgs, command: &'static str) -> Result<PgStore, CliError> {
    let url = database_url(args, command)?;
    let mut config = PgConfig::new(url);
    config.max_connections = 2;
    config.application_name = format!("plant-cli {command}");
    Ok(PgStore::connect(&config).await?)
}

/// Refreshes the planner's statistics after a bulk load (see `PgStore::analyze`), so that the
/// server starting next plans with them.
pub async fn analyze(args: &DbArgs, command: &'static str) -> Result<(), CliError> {
    store(args, command)
        .await?
        .analyze()
        .await
        .map_err(|e| CliError::catalog("cannot analyse the loaded tables", e.into()))
}

/// The configured embedder. A model directory that is set but does not load is an error, not a
/// silent fall-back: vectors from another model would land in the database.
pub fn embedder(args: &EmbedderArgs) -> Result<Arc<dyn Embedder>, CliError> {
    match args.embed_model_dir.as_deref() {
        Some(dir) => load_model(dir),
        None => {
            note(
                "PLANT_EMBED_MODEL_DIR is unset: using the lexical hashing embedder (search matches \
                 words, not meaning)",
            );
            Ok(Arc::new(HashingEmbedder))
        }
    }
}

#[cfg(feature = "minilm")]
fn load_model(dir: &Path) -> Result<Arc<dyn Embedder>, CliError> {
    plant_core::search::MiniLm::load(dir)
        .map(|model| Arc::new(model) as Arc<dyn Embedder>)
        .map_err(|e| {
            CliError::Usage(format!(
                "cannot load the embedding model from {} (PLANT_EMBED_MODEL_DIR): {}",
                dir.display(),
                crate::error::chain(&e)
            ))
        })
}

#[cfg(not(feature = "minilm"))]
fn load_model(dir: &Path) -> Result<Arc<dyn Embedder>, CliError> {
    Err(CliError::Usage(format!(
        "PLANT_EMBED_MODEL_DIR is set to {} but this plant-cli was built without the `minilm` \
         feature",
        dir.display()
    )))
}

/// A catalog over the database with the configured embedder.
pub async fn catalog(
    db: &DbArgs,
    embed: &EmbedderArgs,
    command: &'static str,
) -> Result<Catalog, CliError> {
    // Fail on a missing URL before loading a model or printing notes.
    database_url(db, command)?;
    let embedder = embedder(embed)?;
    let store = store(db, command).await?;
    Ok(Catalog::new(Arc::new(store), embedder))
}
