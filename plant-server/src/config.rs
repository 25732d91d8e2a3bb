//! Configuration from the environment: every variable the server reads, parsed once at start-up.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PORT` | `8000` | TCP port to listen on (all interfaces) |
//! | `DATABASE_URL` | unset | PostgreSQL URL; unset means the in-memory store seeded from `seeds/` |
//! | `PLANT_DB_POOL_SIZE` | `10` | most PostgreSQL connections the server opens |
//! | `PLANT_GROUP_COMMIT_MAX` | `32` | most changes one PostgreSQL transaction commits together (group commit) |
//! | `PLANT_GROUP_COMMIT_WAIT_US` | `4000` | how long a batch waits for more changes after its first, in µs, when the previous batch held more than one (a lone writer never waits); 0 takes what queued meanwhile |
//! | `PLANT_GROUP_COMMIT_QUIET_US` | `1000` | within that wait, a batch closes once no change arrived for this long, in µs |
//! | `PLANT_GROUP_COMMIT_APPENDERS` | `2` | batches in flight at once (each holds a pool connection while it commits) |
//! | `PLANT_HNSW_EF_SEARCH` | `800` | pgvector `hnsw.ef_search` (1 to 1000): HNSW search breadth, recall against latency |
//! | `PLANT_SEED_FILE` | the built-in `seeds/catalog.json` | seed file for the in-memory store |
//! | `PLANT_JWT_SECRET` | unset | HS256 secret for bearer tokens (at least 32 bytes) |
//! | `PLANT_JWT_PUBLIC_KEY` | unset | PEM public key (the text, or a path to a file) for RS256/ES256 tokens |
//! | `PLANT_JWT_ALG` | `RS256` | algorithm of `PLANT_JWT_PUBLIC_KEY`: `RS256` or `ES256` |
//! | `PLANT_JWT_JWKS_FILE` | unset | a JWKS file of the identity provider (RS256 and P-256 ES256 keys), re-read on an unknown `kid` |
//! | `PLANT_JWT_JWKS_URL` | unset | the identity provider's JWKS URL (`https://…/.well-known/jwks.json`), re-fetched on an unknown `kid` |
//! | `PLANT_JWT_JWKS_MIN_REFRESH_MS` | `30000` | least time between two JWKS refreshes, so unknown `kid`s cannot hammer the provider |
//! | `PLANT_JWT_AUDIENCE` | unset | the `aud` an identity provider's token must name; required with a public key or JWKS |
//! | `PLANT_JWT_ISSUER` | unset | the `iss` an identity provider's token must carry; required with a public key or JWKS |
//! | `CORS_ORIGINS` | the portals' dev origins | comma list or JSON array of allowed origins; `*` allows any |
//! | `PLANT_BODY_LIMIT` | `1048576` | largest request body in bytes |
//! | `PLANT_REQUEST_TIMEOUT_MS` | `15000` | per-request deadline; past it the answer is 503 |
//! | `PLANT_MAX_CONNECTIONS` | `1024` | open connections served at once; more wait in the listen backlog |
//! | `PLANT_HEADER_TIMEOUT_MS` | `10000` | a client must send its request head within this time |
//! | `PLANT_FORWARDED_HOPS` | `0` | trusted proxies that append to `X-Forwarded-For`; the client is the entry this many from the right (`2` behind Google's external Application Load Balancer, which appends `<client-ip>,<lb-ip>`); `0` uses the peer address |
//! | `PLANT_METRICS_PORT` | unset | port of the Prometheus `/metrics` listener (all interfaces); unset means no metrics listener. Never served on `PORT` |
//! | `PLANT_FEED_MAX_CLIENTS` | `256` | live SSE feed clients served at once; more get 503 with `Retry-After` |
//! | `PLANT_FEED_HEARTBEAT_MS` | `15000` | interval of the SSE heartbeat comment |
//! | `PLANT_MIN_SEQ_WAIT_MS` | `2000` | how long a read with `?min_seq=N` (or `X-Plant-Min-Seq`) waits for the read model to reach seq N before answering 503 with `Retry-After` |
//! | `PLANT_EMBED_MODEL_DIR` | unset | directory with all-MiniLM-L6-v2; unset means the lexical hashing embedder |
//! | `LOG_FORMAT` | `auto` | `json`, `pretty`, or `auto` (pretty on a terminal, JSON otherwise) |
//! | `PLANT_PUBLIC_URL` | `http://localhost:$PORT` | the server's public base URL (`https://plant.example.com`), used in A2A agent cards |
//! | `PLANT_CARD_SIGNING_KEY` | unset | ed25519 key (64 hex digits, e.g. `openssl rand -hex 32`) that signs A2A 1.0 agent cards; its public half is served at `/.well-known/jwks.json`. Unset (with no file either): a key generated for the process, said at start-up |
//! | `PLANT_CARD_SIGNING_KEY_FILE` | unset | a file holding that key instead (set one of the two) |
//! | `GOOGLE_CLOUD_PROJECT` | unset | project id used to build `logging.googleapis.com/trace` |
//! | `RUST_LOG` | `info` | log filter |
//!
//! At most one of `PLANT_JWT_SECRET`, `PLANT_JWT_PUBLIC_KEY`, `PLANT_JWT_JWKS_FILE` and
//! `PLANT_JWT_JWKS_URL` may be set, since which key signs is otherwise unclear. A token from an
//! identity provider (public key or JWKS) is bound to plant by its audience and issuer, both
//! required: the same provider issues tokens for other services too. When no key is set and there
//! is no `DATABASE_URL`, the server is in its zero-configuration development mode and makes an
//! ephemeral secret of its own (see `startup::development_credentials`); with a database and no
//! key, no token can be verified: public reads work and every protected endpoint answers 401.

use std::path::PathBuf;
use std::time::Duration;

use crate::card_signing::{CardKey, CardKeyError};

mod webhooks;
pub use webhooks::WebhookSettings;

/// The origins allowed by default: the customer portal and platform portal on their usual dev ports.
pub const DEFAULT_CORS_ORIGINS: &[&str] = &[
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:3001",
    "http://127.0.0.1:3001",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:8080",
    "http://127.0.0.1:8080",
];

/// Shortest HS256 secret accepted; shorter secrets can be brute-forced.
pub const MIN_SECRET_LEN: usize = 32;

/// Everything the server is configured with. `Debug` redacts the database password.
#[derive(Clone)]
pub struct Config {
    pub port: u16,
    pub database_url: Option<String>,
    pub db_pool_size: u32,
    pub group_commit: plant_core::store::postgres::GroupCommit,
    pub ef_search: u32,
    pub seed_file: Option<PathBuf>,
    pub jwt: JwtConfig,
    pub cors: CorsOrigins,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub forwarded_hops: usize,
    pub metrics_port: Option<u16>,
    pub feed_max_clients: usize,
    pub feed_heartbeat: Duration,
    /// The longest a read waits for the read model to reach its `min_seq`.
    pub min_seq_wait: Duration,
    pub embed_model_dir: Option<PathBuf>,
    pub log_format: LogFormat,
    pub gcp_project: Option<String>,
    /// The public base URL, without a trailing slash (`PLANT_PUBLIC_URL`).
    pub public_url: Option<String>,
    /// The key that signs A2A agent cards (`PLANT_CARD_SIGNING_KEY` or `…_FILE`), generated for
    /// the process when neither is set.
    pub card_key: CardKey,
    /// Webhook delivery (`PLANT_WEBHOOK_*`).
    pub webhooks: WebhookSettings,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field(
                "database_url",
                &self
                    .database_url
                    .as_deref()
                    .map(plant_core::store::postgres::redact),
            )
            .field("db_pool_size", &self.db_pool_size)
            .field("group_commit", &self.group_commit)
            .field("ef_search", &self.ef_search)
            .field("seed_file", &self.seed_file)
            .field("jwt", &self.jwt)
            .field("cors", &self.cors)
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .field("max_connections", &self.max_connections)
            .field("header_timeout", &self.header_timeout)
            .field("metrics_port", &self.metrics_port)
            .field("feed_max_clients", &self.feed_max_clients)
            .field("feed_heartbeat", &self.feed_heartbeat)
            .field("min_seq_wait", &self.min_seq_wait)
            .field("embed_model_dir", &self.embed_model_dir)
            .field("log_format", &self.log_format)
            .field("gcp_project", &self.gcp_project)
            .field("public_url", &self.public_url)
            .field("card_key", &self.card_key)
            .field("webhooks", &self.webhooks)
            .finish()
    }
}

/// How bearer tokens are verified.
#[derive(Clone)]
pub enum JwtConfig {
    /// No key configured: every token is refused.
    Disabled,
    /// HS256 with a shared secret.
    Secret(Vec<u8>),
    /// RS256 or ES256 with a PEM public key of an identity provider.
    PublicKey {
        alg: PublicKeyAlg,
        pem: Vec<u8>,
        binding: Binding,
    },
    /// The keys of an identity provider's JWKS, chosen by the token's `kid`.
    KeySet {
        source: KeySetSource,
        binding: Binding,
        /// Least time between two refreshes of the set.
        min_refresh: Duration,
    },
}

impl JwtConfig {
    /// Whether a key is configured at all.
    pub fn is_configured(&self) -> bool {
        !matches!(self, Self::Disabled)
    }
}

impl std::fmt::Debug for JwtConfig {
    // The secret never reaches a log line, not even through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Disabled => f.write_str("Disabled"),
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
            Self::PublicKey { alg, binding, .. } => f
                .debug_struct("PublicKey")
                .field("alg", alg)
                .field("binding", binding)
                .finish(),
            Self::KeySet {
                source,
                binding,
                min_refresh,
            } => f
                .debug_struct("KeySet")
                .field("source", source)
                .field("binding", binding)
                .field("min_refresh", min_refresh)
                .finish(),
        }
    }
}

/// What binds an identity provider's token to plant: the audience it was issued for and the
/// issuer that signed it (`PLANT_JWT_AUDIENCE`, `PLANT_JWT_ISSUER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub audience: String,
    pub issuer: String,
}

/// Where an identity provider publishes its JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySetSource {
    /// A file (`PLANT_JWT_JWKS_FILE`), re-read when a token names an unknown key.
    File(PathBuf),
    /// An http(s) URL (`PLANT_JWT_JWKS_URL`), re-fetched when a token names an unknown key.
    Url(String),
}

impl std::fmt::Display for KeySetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "PLANT_JWT_JWKS_FILE {}", path.display()),
            Self::Url(url) => write!(f, "PLANT_JWT_JWKS_URL {url}"),
        }
    }
}

/// Least time between two JWKS refreshes when `PLANT_JWT_JWKS_MIN_REFRESH_MS` is unset.
pub const DEFAULT_JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);

/// Asymmetric algorithms accepted for a configured public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyAlg {
    Rs256,
    Es256,
}

/// The CORS allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
    Auto,
}

/// A variable whose value cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} must be {expected}, got {value:?}")]
    Invalid {
        var: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error("PLANT_JWT_SECRET must be at least {MIN_SECRET_LEN} bytes")]
    WeakSecret,
    #[error(
        "{first} and {second} are both set; set one of PLANT_JWT_SECRET, PLANT_JWT_PUBLIC_KEY, PLANT_JWT_JWKS_FILE and PLANT_JWT_JWKS_URL"
    )]
    TwoJwtKeys {
        first: &'static str,
        second: &'static str,
    },
    #[error(
        "{key} is set but {missing} is not; a token from an identity provider must be bound to plant by PLANT_JWT_AUDIENCE (the aud it is issued for) and PLANT_JWT_ISSUER (the provider's iss)"
    )]
    UnboundKey {
        key: &'static str,
        missing: &'static str,
    },
    #[error(
        "{var} is set with PLANT_JWT_SECRET; plant-cli's HS256 tokens carry no aud or iss, so it applies only with PLANT_JWT_PUBLIC_KEY, PLANT_JWT_JWKS_FILE or PLANT_JWT_JWKS_URL"
    )]
    BindingWithoutKey { var: &'static str },
    #[error("PLANT_JWT_PUBLIC_KEY names a file that cannot be read: {path}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("set PLANT_CARD_SIGNING_KEY or PLANT_CARD_SIGNING_KEY_FILE, not both")]
    TwoCardKeys,
    #[error("{var} is not a usable card signing key")]
    CardKey {
        var: &'static str,
        #[source]
        source: CardKeyError,
    },
    #[error("PLANT_CARD_SIGNING_KEY_FILE names a file that cannot be read: {path}")]
    CardKeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Ok(Self {
            port: parse_num(get("PORT"), "PORT", 8000, "a port number")?,
            database_url: get("DATABASE_URL"),
            db_pool_size: u32::try_from(positive(
                get("PLANT_DB_POOL_SIZE"),
                "PLANT_DB_POOL_SIZE",
                10,
            )?)
            .map_err(|_| invalid("PLANT_DB_POOL_SIZE", "a positive integer", "too large"))?,
            group_commit: group_commit(&get)?,
            ef_search: ef_search(get("PLANT_HNSW_EF_SEARCH"))?,
            seed_file: get("PLANT_SEED_FILE").map(PathBuf::from),
            jwt: parse_jwt(&get)?,
            cors: match get("CORS_ORIGINS") {
                Some(v) => parse_cors(&v)?,
                None => CorsOrigins::List(
                    DEFAULT_CORS_ORIGINS
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                ),
            },
            body_limit: positive(get("PLANT_BODY_LIMIT"), "PLANT_BODY_LIMIT", 1024 * 1024)?,
            request_timeout: millis(
                get("PLANT_REQUEST_TIMEOUT_MS"),
                "PLANT_REQUEST_TIMEOUT_MS",
                15_000,
            )?,
            max_connections: positive(get("PLANT_MAX_CONNECTIONS"), "PLANT_MAX_CONNECTIONS", 1024)?,
            header_timeout: millis(
                get("PLANT_HEADER_TIMEOUT_MS"),
                "PLANT_HEADER_TIMEOUT_MS",
                10_000,
            )?,
            forwarded_hops: parse_num(
                get("PLANT_FORWARDED_HOPS"),
                "PLANT_FORWARDED_HOPS",
                0,
                "a number of proxies (0 or more)",
            )?,
            metrics_port: get("PLANT_METRICS_PORT")
                .map(|v| {
                    v.parse()
                        .map_err(|_| invalid("PLANT_METRICS_PORT", "a port number", &v))
                })
                .transpose()?,
            feed_max_clients: positive(
                get("PLANT_FEED_MAX_CLIENTS"),
                "PLANT_FEED_MAX_CLIENTS",
                256,
            )?,
            feed_heartbeat: millis(
                get("PLANT_FEED_HEARTBEAT_MS"),
                "PLANT_FEED_HEARTBEAT_MS",
                15_000,
            )?,
            min_seq_wait: millis(get("PLANT_MIN_SEQ_WAIT_MS"), "PLANT_MIN_SEQ_WAIT_MS", 2_000)?,
            embed_model_dir: get("PLANT_EMBED_MODEL_DIR").map(PathBuf::from),
            log_format: match get("LOG_FORMAT").map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("auto") => LogFormat::Auto,
                Some("json") => LogFormat::Json,
                Some("pretty") | Some("text") => LogFormat::Pretty,
                Some(other) => return Err(invalid("LOG_FORMAT", "json, pretty or auto", other)),
            },
            gcp_project: get("GOOGLE_CLOUD_PROJECT").or_else(|| get("GCP_PROJECT")),
            public_url: get("PLANT_PUBLIC_URL")
                .map(|v| parse_public_url(&v))
                .transpose()?,
            card_key: card_key(
                get("PLANT_CARD_SIGNING_KEY"),
                get("PLANT_CARD_SIGNING_KEY_FILE"),
            )?,
            webhooks: WebhookSettings::from_lookup(&get)?,
        })
    }
}

/// The agent-card key: configured as hex or in a file, or generated for this process.
fn card_key(hex: Option<String>, file: Option<String>) -> Result<CardKey, ConfigError> {
    let (var, text) = match (hex, file) {
        (Some(_), Some(_)) => return Err(ConfigError::TwoCardKeys),
        (Some(text), None) => ("PLANT_CARD_SIGNING_KEY", text),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| ConfigError::CardKeyFile { path, source })?;
            ("PLANT_CARD_SIGNING_KEY_FILE", text)
        }
        (None, None) => {
            return CardKey::generate().map_err(|source| ConfigError::CardKey {
                var: "PLANT_CARD_SIGNING_KEY",
                source,
            });
        }
    };
    CardKey::from_hex(&text).map_err(|source| ConfigError::CardKey { var, source })
}

/// An absolute http(s) URL without query or fragment; the trailing slash is dropped.
fn parse_public_url(value: &str) -> Result<String, ConfigError> {
    let expected = "an http:// or https:// base URL without query or fragment";
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| invalid("PLANT_PUBLIC_URL", expected, value))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || value.contains(['?', '#'])
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid("PLANT_PUBLIC_URL", expected, value));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

pub(crate) fn invalid(var: &'static str, expected: &'static str, value: &str) -> ConfigError {
    ConfigError::Invalid {
        var,
        expected,
        value: value.to_owned(),
    }
}

fn parse_num<T: std::str::FromStr>(
    value: Option<String>,
    var: &'static str,
    default: T,
    expected: &'static str,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| invalid(var, expected, &v)),
    }
}

fn positive(
    value: Option<String>,
    var: &'static str,
    default: usize,
) -> Result<usize, ConfigError> {
    let n = parse_num(value, var, default, "a positive integer")?;
    if n == 0 {
        return Err(invalid(var, "a positive integer", "0"));
    }
    Ok(n)
}

/// How the PostgreSQL store groups commits.
fn group_commit(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<plant_core::store::postgres::GroupCommit, ConfigError> {
    let default = plant_core::store::postgres::GroupCommit::default();
    let wait_us: u64 = parse_num(
        get("PLANT_GROUP_COMMIT_WAIT_US"),
        "PLANT_GROUP_COMMIT_WAIT_US",
        u64::try_from(default.max_wait.as_micros()).unwrap_or(0),
        "a number of microseconds",
    )?;
    Ok(plant_core::store::postgres::GroupCommit {
        max_changes: positive(
            get("PLANT_GROUP_COMMIT_MAX"),
            "PLANT_GROUP_COMMIT_MAX",
            default.max_changes,
        )?,
        max_wait: Duration::from_micros(wait_us),
        quiet: Duration::from_micros(parse_num(
            get("PLANT_GROUP_COMMIT_QUIET_US"),
            "PLANT_GROUP_COMMIT_QUIET_US",
            u64::try_from(default.quiet.as_micros()).unwrap_or(0),
            "a number of microseconds",
        )?),
        appenders: positive(
            get("PLANT_GROUP_COMMIT_APPENDERS"),
            "PLANT_GROUP_COMMIT_APPENDERS",
            default.appenders,
        )?,
    })
}

/// `hnsw.ef_search`: pgvector accepts 1 to 1000.
fn ef_search(value: Option<String>) -> Result<u32, ConfigError> {
    const EXPECTED: &str = "an integer from 1 to 1000";
    let default = plant_core::store::postgres::DEFAULT_EF_SEARCH;
    let n: u32 = parse_num(value, "PLANT_HNSW_EF_SEARCH", default, EXPECTED)?;
    if !(1..=1000).contains(&n) {
        return Err(invalid("PLANT_HNSW_EF_SEARCH", EXPECTED, &n.to_string()));
    }
    Ok(n)
}

pub(crate) fn millis(
    value: Option<String>,
    var: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    let n = positive(value, var, usize::try_from(default).unwrap_or(usize::MAX))?;
    Ok(Duration::from_millis(u64::try_from(n).unwrap_or(u64::MAX)))
}

fn parse_jwt(get: &impl Fn(&str) -> Option<String>) -> Result<JwtConfig, ConfigError> {
    const KEYS: [&str; 4] = [
        "PLANT_JWT_SECRET",
        "PLANT_JWT_PUBLIC_KEY",
        "PLANT_JWT_JWKS_FILE",
        "PLANT_JWT_JWKS_URL",
    ];
    let set: Vec<(&'static str, String)> = KEYS
        .iter()
        .filter_map(|var| get(var).map(|value| (*var, value)))
        .collect();
    let audience = get("PLANT_JWT_AUDIENCE");
    let issuer = get("PLANT_JWT_ISSUER");
    let (var, value) = match set.as_slice() {
        [] => {
            return match (&audience, &issuer) {
                (Some(_), _) => Err(ConfigError::BindingWithoutKey {
                    var: "PLANT_JWT_AUDIENCE",
                }),
                (None, Some(_)) => Err(ConfigError::BindingWithoutKey {
                    var: "PLANT_JWT_ISSUER",
                }),
                (None, None) => Ok(JwtConfig::Disabled),
            };
        }
        [(var, value)] => (*var, value.clone()),
        [(first, _), (second, _), ..] => {
            return Err(ConfigError::TwoJwtKeys { first, second });
        }
    };
    if var == "PLANT_JWT_SECRET" {
        if audience.is_some() {
            return Err(ConfigError::BindingWithoutKey {
                var: "PLANT_JWT_AUDIENCE",
            });
        }
        if issuer.is_some() {
            return Err(ConfigError::BindingWithoutKey {
                var: "PLANT_JWT_ISSUER",
            });
        }
        if value.len() < MIN_SECRET_LEN {
            return Err(ConfigError::WeakSecret);
        }
        return Ok(JwtConfig::Secret(value.into_bytes()));
    }
    let binding = match (audience, issuer) {
        (Some(audience), Some(issuer)) => Binding { audience, issuer },
        (None, _) => {
            return Err(ConfigError::UnboundKey {
                key: var,
                missing: "PLANT_JWT_AUDIENCE",
            });
        }
        (Some(_), None) => {
            return Err(ConfigError::UnboundKey {
                key: var,
                missing: "PLANT_JWT_ISSUER",
            });
        }
    };
    match var {
        "PLANT_JWT_PUBLIC_KEY" => {
            let alg = match get("PLANT_JWT_ALG")
                .map(|a| a.to_ascii_uppercase())
                .as_deref()
            {
                None | Some("RS256") => PublicKeyAlg::Rs256,
                Some("ES256") => PublicKeyAlg::Es256,
                Some(other) => return Err(invalid("PLANT_JWT_ALG", "RS256 or ES256", other)),
            };
            let pem = if value.contains("-----BEGIN") {
                // Environment variables often carry PEM with literal "\n" sequences.
                value.replace("\\n", "\n").into_bytes()
            } else {
                std::fs::read(&value).map_err(|source| ConfigError::KeyFile {
                    path: value,
                    source,
                })?
            };
            Ok(JwtConfig::PublicKey { alg, pem, binding })
        }
        _ => {
            let source = if var == "PLANT_JWT_JWKS_URL" {
                if !(value.starts_with("https://") || value.starts_with("http://")) {
                    return Err(invalid(
                        "PLANT_JWT_JWKS_URL",
                        "an https:// (or http://) URL",
                        &value,
                    ));
                }
                KeySetSource::Url(value)
            } else {
                KeySetSource::File(PathBuf::from(value))
            };
            let min_refresh = millis(
                get("PLANT_JWT_JWKS_MIN_REFRESH_MS"),
                "PLANT_JWT_JWKS_MIN_REFRESH_MS",
                u64::try_from(DEFAULT_JWKS_MIN_REFRESH.as_millis()).unwrap_or(u64::MAX),
            )?;
            Ok(JwtConfig::KeySet {
                source,
                binding,
                min_refresh,
            })
        }
    }
}

/// Parses `CORS_ORIGINS`: a JSON array of strings or a comma-separated list.
pub fn parse_cors(value: &str) -> Result<CorsOrigins, ConfigError> {
    let items: Vec<String> = if value.starts_with('[') {
        serde_json::from_str(value).map_err(|_| {
            invalid(
                "CORS_ORIGINS",
                "a JSON array of origins or a comma list",
                value,
            )
        })?
    } else {
        value.split(',').map(str::to_owned).collect()
    };
    let mut origins = Vec::new();
    for item in items {
        let origin = item.trim().trim_end_matches('/');
        if origin.is_empty() {
            continue;
        }
        if origin == "*" {
            return Ok(CorsOrigins::Any);
        }
        if !(origin.starts_with("http://") || origin.starts_with("https://")) {
            return Err(invalid(
                "CORS_ORIGINS",
                "origins like https://host[:port]",
                origin,
            ));
        }
        origins.push(origin.to_ascii_lowercase());
    }
    Ok(CorsOrigins::List(origins))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 8000);
        assert!(c.database_url.is_none());
        assert!(matches!(c.jwt, JwtConfig::Disabled));
        assert_eq!(c.body_limit, 1024 * 1024);
        assert_eq!(c.metrics_port, None);
        assert_eq!(c.feed_max_clients, 256);
        assert_eq!(c.feed_heartbeat, Duration::from_secs(15));
        assert!(
            matches!(c.cors, CorsOrigins::List(ref l) if l.contains(&"http://localhost:3000".to_owned()))
        );
    }

    #[test]
    fn group_commit_reads_its_variables() {
        let c = config(&[]).unwrap();
        assert_eq!(
            c.group_commit,
            plant_core::store::postgres::GroupCommit::default()
        );
        let c = config(&[
            ("PLANT_GROUP_COMMIT_MAX", "64"),
            ("PLANT_GROUP_COMMIT_WAIT_US", "200000"),
            ("PLANT_GROUP_COMMIT_QUIET_US", "250"),
            ("PLANT_GROUP_COMMIT_APPENDERS", "1"),
        ])
        .unwrap();
        assert_eq!(c.group_commit.max_changes, 64);
        assert_eq!(c.group_commit.max_wait, Duration::from_millis(200));
        assert_eq!(c.group_commit.quiet, Duration::from_micros(250));
        assert_eq!(c.group_commit.appenders, 1);
        let err = config(&[("PLANT_GROUP_COMMIT_QUIET_US", "soon")]).unwrap_err();
        assert!(
            err.to_string().contains("PLANT_GROUP_COMMIT_QUIET_US"),
            "{err}"
        );
    }

    #[test]
    fn cors_accepts_comma_lists_and_json_arrays() {
        assert_eq!(
            parse_cors("https://a.example, https://B.example/").unwrap(),
            CorsOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
        );
        assert_eq!(
            parse_cors(r#"["https://a.example"]"#).unwrap(),
            CorsOrigins::List(vec!["https://a.example".into()])
        );
        assert_eq!(parse_cors("*").unwrap(), CorsOrigins::Any);
        assert!(parse_cors("[not json").is_err());
        assert!(parse_cors("ftp://x").is_err());
    }

    #[test]
    fn bad_values_are_typed_errors_naming_the_variable() {
        let err = config(&[("PORT", "eighty")]).unwrap_err();
        assert!(err.to_string().contains("PORT"));
        assert!(matches!(
            config(&[("PLANT_BODY_LIMIT", "0")]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            config(&[("PLANT_JWT_SECRET", "short")]),
            Err(ConfigError::WeakSecret)
        ));
        assert!(matches!(
            config(&[("PLANT_METRICS_PORT", "metrics")]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            config(&[("PLANT_FEED_MAX_CLIENTS", "0")]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            config(&[("LOG_FORMAT", "xml")]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            config(&[
                ("PLANT_JWT_SECRET", &"s".repeat(40)),
                ("PLANT_JWT_PUBLIC_KEY", "-----BEGIN")
            ]),
            Err(ConfigError::TwoJwtKeys { .. })
        ));
    }

    #[test]
    fn an_identity_providers_key_needs_an_audience_and_an_issuer() {
        for key in [
            ("PLANT_JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----"),
            ("PLANT_JWT_JWKS_FILE", "/etc/plant/jwks.json"),
            ("PLANT_JWT_JWKS_URL", "https://id.example/jwks.json"),
        ] {
            let err = config(&[key, ("PLANT_JWT_ISSUER", "https://id.example")]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::UnboundKey {
                        missing: "PLANT_JWT_AUDIENCE",
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains(key.0), "{err}");
            let err = config(&[key, ("PLANT_JWT_AUDIENCE", "plant")]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::UnboundKey {
                        missing: "PLANT_JWT_ISSUER",
                        ..
                    }
                ),
                "{err}"
            );
        }
        let c = config(&[
            ("PLANT_JWT_JWKS_URL", "https://id.example/jwks.json"),
            ("PLANT_JWT_AUDIENCE", "plant"),
            ("PLANT_JWT_ISSUER", "https://id.example"),
            ("PLANT_JWT_JWKS_MIN_REFRESH_MS", "500"),
        ])
        .unwrap();
        match c.jwt {
            JwtConfig::KeySet {
                source,
                binding,
                min_refresh,
            } => {
                assert_eq!(
                    source,
                    KeySetSource::Url("https://id.example/jwks.json".into())
                );
                assert_eq!(binding.audience, "plant");
                assert_eq!(binding.issuer, "https://id.example");
                assert_eq!(min_refresh, Duration::from_millis(500));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_key_source_at_most_and_no_binding_without_one() {
        let err = config(&[
            ("PLANT_JWT_JWKS_FILE", "/a"),
            ("PLANT_JWT_JWKS_URL", "https://id.example/jwks.json"),
        ])
        .unwrap_err();
        assert!(matches!(err, ConfigError::TwoJwtKeys { .. }), "{err}");
        assert!(matches!(
            config(&[("PLANT_JWT_AUDIENCE", "plant")]),
            Err(ConfigError::BindingWithoutKey { .. })
        ));
        assert!(matches!(
            config(&[
                ("PLANT_JWT_SECRET", &"s".repeat(40)),
                ("PLANT_JWT_ISSUER", "https://id.example")
            ]),
            Err(ConfigError::BindingWithoutKey { .. })
        ));
        assert!(matches!(
            config(&[
                ("PLANT_JWT_JWKS_URL", "ftp://id.example/jwks.json"),
                ("PLANT_JWT_AUDIENCE", "plant"),
                ("PLANT_JWT_ISSUER", "https://id.example"),
            ]),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let c = config(&[
            ("PLANT_JWT_SECRET", &"x".repeat(40)),
            ("DATABASE_URL", "postgres://plant:hunter2@db/plant"),
        ])
        .unwrap();
        let text = format!("{c:?}");
        assert!(
            !text.contains("xxxx") && !text.contains("hunter2"),
            "{text}"
        );
    }

    #[test]
    fn the_card_key_is_configured_once_or_generated() {
        use crate::card_signing::CardKeyOrigin;
        let hex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        assert_eq!(
            config(&[]).unwrap().card_key.origin(),
            CardKeyOrigin::Generated
        );
        let c = config(&[("PLANT_CARD_SIGNING_KEY", hex)]).unwrap();
        assert_eq!(c.card_key.origin(), CardKeyOrigin::Configured);
        assert!(!format!("{c:?}").contains("9d61"));
        let file = std::env::temp_dir().join(format!("plant-card-key-{}", uuid::Uuid::new_v4()));
        std::fs::write(&file, format!("{hex}\n")).unwrap();
        let path = file.to_str().unwrap();
        let c = config(&[("PLANT_CARD_SIGNING_KEY_FILE", path)]).unwrap();
        assert_eq!(c.card_key.origin(), CardKeyOrigin::Configured);
        assert!(matches!(
            config(&[
                ("PLANT_CARD_SIGNING_KEY", hex),
                ("PLANT_CARD_SIGNING_KEY_FILE", path)
            ]),
            Err(ConfigError::TwoCardKeys)
        ));
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(
            config(&[("PLANT_CARD_SIGNING_KEY_FILE", path)]),
            Err(ConfigError::CardKeyFile { .. })
        ));
        let err = config(&[("PLANT_CARD_SIGNING_KEY", "not hex")]).unwrap_err();
        assert!(
            err.to_string().starts_with("PLANT_CARD_SIGNING_KEY "),
            "{err}"
        );
        assert!(matches!(
            err,
            ConfigError::CardKey {
                source: CardKeyError::Malformed,
                ..
            }
        ));
    }
}
