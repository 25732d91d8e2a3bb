//! An identity provider's JWKS: the keys it signs with, chosen by a token's `kid`, cached and
//! refreshed when a token names a key the cache does not hold, so the provider can rotate keys
//! without a restart. Refreshes are serialised and at least `min_refresh` apart: tokens with
//! made-up `kid`s cost one fetch per interval, never one per request.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::config::{Binding, KeySetSource};
use crate::problem::cause_chain;

/// Largest JWKS document accepted; real ones are a few kilobytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Longest wait for the provider's answer.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Age past which the set is refreshed even when every `kid` is known, so that a key the
/// provider removed stops verifying within this time.
const MAX_AGE: Duration = Duration::from_secs(3600);

/// Why a JWKS cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("{source_name} cannot be read; it needs a readable JWKS file")]
    Read {
        source_name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name} cannot be fetched; it needs to answer this server over HTTP(S)")]
    Fetch {
        source_name: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{source_name} answered HTTP {status}; it needs to answer 200 with the JWKS")]
    Status { source_name: String, status: u16 },
    #[error("{source_name} is larger than {MAX_JWKS_BYTES} bytes, which no JWKS needs")]
    TooLarge { source_name: String },
    #[error("{source_name} is not a JWKS (a JSON object with a `keys` array)")]
    Parse {
        source_name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{source_name} holds no RS256 or ES256 (P-256) signing key plant can use")]
    NoUsableKey { source_name: String },
}

/// A key with the one algorithm it verifies and the claims it requires.
pub(super) struct VerifyingKey {
    pub key: DecodingKey,
    pub validation: Validation,
}

/// One loaded version of the set.
struct Keys {
    by_kid: HashMap<String, Arc<VerifyingKey>>,
    /// Keys published without a `kid`; used only when the set holds exactly one key.
    unnamed: Vec<Arc<VerifyingKey>>,
    loaded_at: Option<Instant>,
}

impl Keys {
    fn empty() -> Self {
        Self {
            by_kid: HashMap::new(),
            unnamed: Vec::new(),
            loaded_at: None,
        }
    }

    fn len(&self) -> usize {
        self.by_kid.len() + self.unnamed.len()
    }

    /// The key a token with header `kid` is verified with.
    fn find(&self, kid: Option<&str>) -> Option<Arc<VerifyingKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None if self.len() == 1 => self
                .by_kid
                .values()
                .chain(self.unnamed.iter())
                .next()
                .cloned(),
            None => None,
        }
    }

    fn is_fresh(&self) -> bool {
        self.loaded_at.is_some_and(|at| at.elapsed() < MAX_AGE)
    }
}

/// The cached key set of one provider.
pub(super) struct KeySet {
    source: KeySetSource,
    binding: Binding,
    min_refresh: Duration,
    client: reqwest::Client,
    keys: RwLock<Arc<Keys>>,
    /// When the last refresh was tried; held while a refresh runs, so refreshes never overlap.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

impl KeySet {
    /// An empty set for `source`; [`KeySet::refresh`] loads it.
    pub fn new(source: KeySetSource, binding: Binding, min_refresh: Duration) -> Self {
        Self {
            source,
            binding,
            min_refresh,
            client: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
            keys: RwLock::new(Arc::new(Keys::empty())),
            last_attempt: tokio::sync::Mutex::new(None),
        }
    }

    /// Where the set comes from, for log lines.
    pub fn source(&self) -> &KeySetSource {
        &self.source
    }

    fn current(&self) -> Arc<Keys> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The key for a token whose header names `kid`, from the cached set.
    pub fn find(&self, kid: Option<&str>) -> Option<Arc<VerifyingKey>> {
        self.current().find(kid)
    }

    /// Makes sure a token naming `kid` can be checked against a fresh set: refreshes the set when
    /// it does not hold `kid` or is older than an hour, unless a refresh was tried less than
    /// `min_refresh` ago. A failed refresh keeps the cached keys and is logged.
    pub async fn ensure(&self, kid: Option<&str>) {
        let fresh_enough = |keys: &Keys| keys.is_fresh() && keys.find(kid).is_some();
        if fresh_enough(&self.current()) {
            return;
        }
        let mut last = self.last_attempt.lock().await;
        // Another request may have refreshed the set while this one waited for the lock.
        if fresh_enough(&self.current()) {
            return;
        }
        if last.is_some_and(|at| at.elapsed() < self.min_refresh) {
            tracing::debug!(source = %self.source, "JWKS refresh skipped: the last one was too recent");
            return;
        }
        *last = Some(Instant::now());
        if let Err(err) = self.load().await {
            tracing::warn!(error = %cause_chain(&err), "JWKS refresh failed; keeping the cached keys");
        }
    }

    /// Loads the set now, whatever the rate limit (start-up).
    pub async fn refresh(&self) -> Result<(), KeySetError> {
        let mut last = self.last_attempt.lock().await;
        *last = Some(Instant::now());
        self.load().await
    }

    async fn load(&self) -> Result<(), KeySetError> {
        let text = self.read().await?;
        let keys = self.parse(&text)?;
        tracing::info!(source = %self.source, keys = keys.len(), "JWKS loaded");
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        Ok(())
    }

    async fn read(&self) -> Result<Vec<u8>, KeySetError> {
        let source_name = self.source.to_string();
        match &self.source {
            KeySetSource::File(path) => read_file(path, source_name).await,
            KeySetSource::Url(url) => {
                let fetch = |source| KeySetError::Fetch {
                    source_name: source_name.clone(),
                    source,
                };
                let mut response = self.client.get(url).send().await.map_err(fetch)?;
                if !response.status().is_success() {
                    return Err(KeySetError::Status {
                        source_name,
                        status: response.status().as_u16(),
                    });
                }
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(fetch)? {
                    if body.len() + chunk.len() > MAX_JWKS_BYTES {
                        return Err(KeySetError::TooLarge { source_name });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            }
        }
    }

    /// The usable keys of a JWKS document. Keys plant cannot use (encryption keys, other curves,
    /// symmetric keys, whose presence would let a public value act as an HMAC secret) are skipped.
    fn parse(&self, text: &[u8]) -> Result<Keys, KeySetError> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let source_name = || self.source.to_string();
        let document: Document =
            serde_json::from_slice(text).map_err(|source| KeySetError::Parse {
                source_name: source_name(),
                source,
            })?;
        let mut keys = Keys::empty();
        for value in document.keys {
            let Some((kid, key)) = usable_key(value, &self.binding) else {
                continue;
            };
            match kid {
                Some(kid) => {
                    keys.by_kid.insert(kid, Arc::new(key));
                }
                None => keys.unnamed.push(Arc::new(key)),
            }
        }
        if keys.len() == 0 {
            return Err(KeySetError::NoUsableKey {
                source_name: source_name(),
            });
        }
        keys.loaded_at = Some(Instant::now());
        Ok(keys)
    }
}

async fn read_file(path: &PathBuf, source_name: String) -> Result<Vec<u8>, KeySetError> {
    let text = tokio::fs::read(path)
        .await
        .map_err(|source| KeySetError::Read {
            source_name: source_name.clone(),
            source,
        })?;
    if text.len() > MAX_JWKS_BYTES {
        return Err(KeySetError::TooLarge { source_name });
    }
    Ok(text)
}

/// A JWK as a verifying key, when it is a signing key of an algorithm plant accepts.
fn usable_key(
    value: serde_json::Value,
    binding: &Binding,
) -> Option<(Option<String>, VerifyingKey)> {
    let jwk: Jwk = match serde_json::from_value(value) {
        Ok(jwk) => jwk,
        Err(err) => {
            tracing::warn!(error = %err, "a JWKS entry is not a JWK; skipped");
            return None;
        }
    };
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(_) => false,
    };
    if !declared_ok {
        return None;
    }
    let key = match DecodingKey::from_jwk(&jwk) {
        Ok(key) => key,
        Err(err) => {
            tracing::warn!(error = %err, kid = ?jwk.common.key_id, "a JWKS key cannot be used; skipped");
            return None;
        }
    };
    Some((
        jwk.common.key_id.clone(),
        VerifyingKey {
            key,
            validation: super::validation(alg, Some(binding)),
        },
    ))
}
