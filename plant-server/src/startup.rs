//! Building the running service from its configuration: the store, the embedder, the catalog.

use std::path::PathBuf;
use std::sync::Arc;

use plant_core::Catalog;
use plant_core::read_model::{ReadModelOptions, ReadModelStore};
use plant_core::search::{Embedder, default_embedder};
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::postgres::{PgConfig, PgStore, redact};
use plant_core::store::{MemoryStore, Store};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::auth::{KeyError, Role};
use crate::config::{Config, JwtConfig};
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
    #[error("the development tokens of the zero-configuration mode cannot be signed")]
    DevelopmentToken(#[source] jsonwebtoken::errors::Error),
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
    if catalog.store().indexes_vectors() {
        // Started now rather than on the first write: its first sweep stores the vectors of
        // records a stopped process committed without them.
        catalog.vector_indexer();
    }
    let state = AppState::from_config(config, catalog)?;
    state.auth().load().await?;
    Ok(state)
}

/// How long the printed development tokens stay valid (the secret dies with the process anyway).
pub const DEVELOPMENT_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// The ephemeral secret and tokens of the zero-configuration mode, for a newcomer's first write.
/// `Debug` shows none of them.
pub struct DevelopmentCredentials {
    secret: String,
    genesis: String,
    operator: String,
}

impl std::fmt::Debug for DevelopmentCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevelopmentCredentials(<redacted>)")
    }
}

/// The claims `plant-cli token` writes too.
#[derive(Serialize)]
struct DevelopmentClaims<'a> {
    sub: String,
    role: &'a str,
    roles: [&'a str; 1],
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// In the zero-configuration mode (no `DATABASE_URL`, so the in-memory store, and no token key),
/// makes an ephemeral HS256 secret, puts it into `config`, and returns it with a genesis and an
/// operator token signed with it. With a database or any key configured: `None`, and `config`
/// is left alone, so a deployment never runs on a secret it did not choose.
pub fn development_credentials(
    config: &mut Config,
) -> Result<Option<DevelopmentCredentials>, StartupError> {
    if config.database_url.is_some() || config.jwt.is_configured() {
        return Ok(None);
    }
    // Two v4 UUIDs from the thread's CSPRNG: 244 random bits, written as 64 hex characters.
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mint = |role: Role| {
        let claims = DevelopmentClaims {
            sub: format!("development-{}", role.as_str()),
            role: role.as_str(),
            roles: [role.as_str()],
            iat: now,
            nbf: now,
            exp: now + DEVELOPMENT_TOKEN_TTL.as_secs(),
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .map_err(StartupError::DevelopmentToken)
    };
    let credentials = DevelopmentCredentials {
        genesis: mint(Role::Genesis)?,
        operator: mint(Role::Operator)?,
        secret: secret.clone(),
    };
    config.jwt = JwtConfig::Secret(secret.into_bytes());
    tracing::warn!(
        "zero-configuration mode: an ephemeral development secret signs the tokens printed on stderr; set DATABASE_URL or a token key for anything but a trial run"
    );
    Ok(Some(credentials))
}

impl DevelopmentCredentials {
    /// The genesis token.
    pub fn genesis(&self) -> &str {
        &self.genesis
    }

    /// The operator token.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// The start-up banner: the tokens as shell lines (`G` and `OP`, the names the README's
    /// walk-through uses) and the command that mints more, loudly marked development-only.
    pub fn announcement(&self) -> String {
        let rule = "=".repeat(78);
        let hours = DEVELOPMENT_TOKEN_TTL.as_secs() / 3600;
        format!(
            "{rule}\n\
             DEVELOPMENT ONLY: zero-configuration mode (no DATABASE_URL, no token key).\n\
             This process made an ephemeral HS256 secret; the tokens below die with it, and\n\
             everything written is lost on exit. Never deploy like this: set DATABASE_URL and\n\
             PLANT_JWT_SECRET (or an identity provider's key) and nothing is printed.\n\
             \n\
             Paste into your shell (valid {hours} h), then follow the README's walk-through:\n\
             export G={genesis}\n\
             export OP={operator}\n\
             \n\
             More tokens, any role:\n\
             PLANT_JWT_SECRET={secret} cargo run -q -p plant-cli -- token --role customer --email you@example.com\n\
             {rule}",
            genesis = self.genesis,
            operator = self.operator,
            secret = self.secret,
        )
    }
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
            pg.group_commit = config.group_commit;
            let store = PgStore::connect(&pg)
                .await
                .map_err(|e| StartupError::Database(Box::new(e)))?;
            tracing::info!(database = %redact(url), pool = config.db_pool_size, "serving the PostgreSQL catalog");
            // Catalog reads come from the read model, folded from the audit chain; the
            // in-memory store needs none (its reads are memory already).
            let model = ReadModelStore::start(Arc::new(store), ReadModelOptions::default())
                .await
                .map_err(|e| StartupError::Database(Box::new(e)))?;
            Ok(Arc::new(model))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::Authenticator;
    use http::{HeaderMap, header};

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn zero_configuration_gets_a_secret_whose_tokens_carry_their_roles() {
        let mut c = config(&[]);
        let dev = development_credentials(&mut c).unwrap().unwrap();
        assert!(
            matches!(c.jwt, JwtConfig::Secret(ref s) if s.len() >= crate::config::MIN_SECRET_LEN)
        );
        let auth = Authenticator::new(&c.jwt).unwrap();
        let genesis = auth.authenticate(&bearer(dev.genesis())).unwrap().unwrap();
        assert_eq!(genesis.roles, vec![Role::Genesis]);
        let operator = auth.authenticate(&bearer(dev.operator())).unwrap().unwrap();
        assert_eq!(operator.roles, vec![Role::Operator]);
        let text = dev.announcement();
        assert!(text.contains("DEVELOPMENT ONLY"), "{text}");
        assert!(
            text.contains(&format!("export G={}", dev.genesis())),
            "{text}"
        );
        assert!(!format!("{dev:?}").contains(dev.genesis()));

        // Each start makes a new secret: yesterday's tokens do not work today.
        let mut again = config(&[]);
        let other = development_credentials(&mut again).unwrap().unwrap();
        let auth_again = Authenticator::new(&again.jwt).unwrap();
        assert!(auth_again.authenticate(&bearer(dev.genesis())).is_err());
        assert!(auth_again.authenticate(&bearer(other.genesis())).is_ok());
    }

    #[test]
    fn a_database_or_any_key_means_no_development_secret() {
        let secret = "s".repeat(40);
        for vars in [
            vec![("DATABASE_URL", "postgres://plant@localhost/plant")],
            vec![("PLANT_JWT_SECRET", secret.as_str())],
            vec![
                ("PLANT_JWT_JWKS_URL", "https://id.example/jwks.json"),
                ("PLANT_JWT_AUDIENCE", "plant"),
                ("PLANT_JWT_ISSUER", "https://id.example"),
            ],
        ] {
            let mut c = config(&vars);
            let before = format!("{:?}", c.jwt);
            assert!(
                development_credentials(&mut c).unwrap().is_none(),
                "{vars:?}"
            );
            assert_eq!(format!("{:?}", c.jwt), before);
        }
    }
}
