//! What every request can reach: the verifier, the CORS policy, limits, and the readiness check.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use plant_core::Catalog;
use plant_core::audit::TransparencyLog;
use plant_core::store::Store;

use crate::auth::{Authenticator, KeyError};
use crate::bodies::Bodies;
use crate::card_signing::{CardKeyOrigin, CardSigner};
use crate::conditional::ModelSeq;
use crate::config::Config;
use crate::cors::CorsPolicy;
use crate::feed_clients::FeedClients;
use crate::metrics::recorder::Metrics;
use crate::pages::Pages;
use crate::ratelimit::RateLimiter;

/// How long shutdown waits for in-flight requests before cutting them off.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Resource limits of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub drain_timeout: Duration,
    /// Trusted proxies that append to `X-Forwarded-For` (see `extract::client_address`).
    pub forwarded_hops: usize,
    /// Live SSE feed clients served at once.
    pub feed_max_clients: usize,
    /// Interval of the SSE heartbeat comment.
    pub feed_heartbeat: Duration,
    /// The longest a read waits for the read model to reach its `min_seq`.
    pub min_seq_wait: Duration,
    /// Webhook targets and delivery.
    pub webhooks: crate::config::WebhookSettings,
}

impl Limits {
    /// The limits named by the configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            body_limit: config.body_limit,
            request_timeout: config.request_timeout,
            max_connections: config.max_connections,
            header_timeout: config.header_timeout,
            drain_timeout: DRAIN_TIMEOUT,
            forwarded_hops: config.forwarded_hops,
            feed_max_clients: config.feed_max_clients,
            feed_heartbeat: config.feed_heartbeat,
            min_seq_wait: config.min_seq_wait,
            webhooks: config.webhooks.clone(),
        }
    }
}

/// Why the service is not ready; logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
#[error("not ready: {0}")]
pub struct NotReady(pub String);

/// Whether the service can do its work (for `GET /ready`): typically, whether the database answers.
pub trait Readiness: Send + Sync {
    /// Resolves to `Ok` when ready.
    fn check(&self) -> BoxFuture<'_, Result<(), NotReady>>;
}

/// Ready as long as the process runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysReady;

impl Readiness for AlwaysReady {
    fn check(&self) -> BoxFuture<'_, Result<(), NotReady>> {
        Box::pin(async { Ok(()) })
    }
}

/// Ready when the store answers a ping.
#[derive(Debug, Clone)]
pub struct StoreReadiness(pub Arc<dyn Store>);

impl Readiness for StoreReadiness {
    fn check(&self) -> BoxFuture<'_, Result<(), NotReady>> {
        Box::pin(async move { self.0.ping().await.map_err(|e| NotReady(e.to_string())) })
    }
}

/// The public base URL when none is configured.
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8000";

/// Trial bookings allowed per client and minute (anyone may book, so bookings are throttled).
pub const TRIAL_BOOKINGS_PER_MINUTE: NonZeroU32 = NonZeroU32::new(10).unwrap();

/// The shared state of a running server; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    /// The public base URL, without a trailing slash.
    public_url: Arc<str>,
    /// Signs A2A agent cards.
    card_signer: Arc<CardSigner>,
}

struct Inner {
    auth: Authenticator,
    cors: CorsPolicy,
    limits: Limits,
    catalog: Catalog,
    readiness: Arc<dyn Readiness>,
    trial_limiter: RateLimiter,
    feeds: FeedClients,
    metrics: Metrics,
    /// The audit log's Merkle tree, filled from the store on the first proof asked for.
    transparency: TransparencyLog,
    /// The read model's seq, for consistency tokens and list tags.
    model_seq: ModelSeq,
    /// List items serialised once per version.
    bodies: Bodies,
    /// Whole list answers at the model's latest seq.
    pages: Pages,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("auth", &self.inner.auth)
            .field("cors", &self.inner.cors)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State from its parts.
    pub fn new(
        auth: Authenticator,
        cors: CorsPolicy,
        limits: Limits,
        catalog: Catalog,
        readiness: Arc<dyn Readiness>,
        card_signer: CardSigner,
    ) -> Self {
        let feeds = FeedClients::new(limits.feed_max_clients);
        Self {
            inner: Arc::new(Inner {
                feeds,
                metrics: Metrics::default(),
                transparency: TransparencyLog::new(),
                model_seq: ModelSeq::new(catalog.store().clone()),
                bodies: Bodies::default(),
                pages: Pages::default(),
                auth,
                cors,
                limits,
                catalog,
                readiness,
                trial_limiter: RateLimiter::per_minute(TRIAL_BOOKINGS_PER_MINUTE),
            }),
            public_url: Arc::from(DEFAULT_PUBLIC_URL),
            card_signer: Arc::new(card_signer),
        }
    }

    /// The same state, naming `url` as the server's public base URL (no trailing slash).
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = Arc::from(url.trim_end_matches('/'));
        self
    }

    /// State for `config` over `catalog`, ready when its store answers.
    pub fn from_config(config: &Config, catalog: Catalog) -> Result<Self, KeyError> {
        let readiness = Arc::new(StoreReadiness(catalog.store().clone()));
        Self::with_readiness(config, catalog, readiness)
    }

    /// State for `config` over `catalog`, with the given readiness check.
    pub fn with_readiness(
        config: &Config,
        catalog: Catalog,
        readiness: Arc<dyn Readiness>,
    ) -> Result<Self, KeyError> {
        let auth = Authenticator::new(&config.jwt)?;
        if !auth.is_enabled() {
            tracing::warn!(
                "no token key is set (PLANT_JWT_SECRET, PLANT_JWT_PUBLIC_KEY, PLANT_JWT_JWKS_FILE or PLANT_JWT_JWKS_URL): every protected endpoint answers 401"
            );
        }
        let state = Self::new(
            auth,
            crate::cors::layer(&config.cors),
            Limits::from_config(config),
            catalog,
            readiness,
            card_signer(config),
        );
        Ok(match &config.public_url {
            Some(url) => state.with_public_url(url),
            None => state.with_public_url(&format!("http://localhost:{}", config.port)),
        })
    }

    /// The token verifier.
    pub fn auth(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// The CORS layer.
    pub fn cors(&self) -> &CorsPolicy {
        &self.inner.cors
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The throttle on anonymous trial bookings.
    pub fn trial_limiter(&self) -> &RateLimiter {
        &self.inner.trial_limiter
    }

    /// The server's public base URL, without a trailing slash (`PLANT_PUBLIC_URL`).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The signer of A2A agent cards.
    pub fn card_signer(&self) -> &CardSigner {
        &self.card_signer
    }

    /// The live feed's client slots and shutdown signal.
    pub fn feeds(&self) -> &FeedClients {
        &self.inner.feeds
    }

    /// The audit log's Merkle tree, for checkpoints and proofs.
    pub fn transparency(&self) -> &TransparencyLog {
        &self.inner.transparency
    }

    /// Request counters and latency histograms.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The read model's seq.
    pub fn model_seq(&self) -> &ModelSeq {
        &self.inner.model_seq
    }

    /// List items serialised once per version.
    pub fn bodies(&self) -> &Bodies {
        &self.inner.bodies
    }

    /// Whole list answers at the model's latest seq.
    pub fn pages(&self) -> &Pages {
        &self.inner.pages
    }

    /// The readiness check.
    pub fn readiness(&self) -> &dyn Readiness {
        self.inner.readiness.as_ref()
    }
}

/// The card signer of `config`, saying at start-up when its key lives only as long as the process.
fn card_signer(config: &Config) -> CardSigner {
    let signer = CardSigner::new(&config.card_key);
    if config.card_key.origin() == CardKeyOrigin::Generated {
        tracing::warn!(
            kid = signer.kid(),
            "neither PLANT_CARD_SIGNING_KEY nor PLANT_CARD_SIGNING_KEY_FILE is set: agent cards are \
             signed with a key generated for this process (published at {}); their signatures \
             stop verifying after a restart and differ between instances",
            crate::card_signing::JWKS_PATH
        );
    }
    signer
}
