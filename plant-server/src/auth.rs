//! Bearer JWT authentication and role checks.
//!
//! Tokens are HS256 with `PLANT_JWT_SECRET`, or RS256/ES256 from an identity provider, checked
//! with its PEM public key or with the key its JWKS names by `kid`. Each key verifies exactly one
//! algorithm, so `alg: none` and algorithm confusion are refused before any signature check. An
//! identity provider's token must also name plant's audience and the provider's issuer, so that a
//! token the same provider issued for another service is refused here. Tokens never reach a log
//! line.

mod key_set;

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::{Binding, JwtConfig, PublicKeyAlg};
use crate::problem::ApiError;
pub use key_set::KeySetError;
use key_set::{KeySet, VerifyingKey};

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// A role a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Defines and certifies the catalog.
    Genesis,
    /// Runs the platform: audit, jobs, every trial.
    Operator,
    /// An agent acting as itself.
    Agent,
    /// A customer of the marketplace.
    Customer,
}

impl Role {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "genesis" => Some(Self::Genesis),
            "operator" => Some(Self::Operator),
            "agent" => Some(Self::Agent),
            "customer" => Some(Self::Customer),
            _ => None,
        }
    }

    /// The claim value naming this role.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Genesis => "genesis",
            Self::Operator => "operator",
            Self::Agent => "agent",
            Self::Customer => "customer",
        }
    }
}

/// The caller a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub roles: Vec<Role>,
    pub agent_id: Option<String>,
    pub email: Option<String>,
}

impl Principal {
    /// Whether the caller holds any of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    role: Option<RoleClaim>,
    #[serde(default)]
    roles: Option<RoleClaim>,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// Identity providers write roles as a string, a space/comma list, or an array.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RoleClaim {
    One(String),
    Many(Vec<String>),
}

impl RoleClaim {
    fn roles(&self) -> Vec<Role> {
        match self {
            Self::One(s) => s.split([' ', ',']).filter_map(Role::parse).collect(),
            Self::Many(v) => v.iter().filter_map(|s| Role::parse(s)).collect(),
        }
    }
}

/// Why the key material in the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("PLANT_JWT_PUBLIC_KEY is not a valid {alg} public key in PEM form")]
    Pem {
        alg: &'static str,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    #[error(transparent)]
    KeySet(#[from] KeySetError),
}

/// How tokens are checked.
enum Verifier {
    /// One key: the HS256 secret or an identity provider's PEM public key.
    Single(Arc<VerifyingKey>),
    /// An identity provider's JWKS.
    KeySet(Arc<KeySet>),
}

/// Verifies bearer tokens.
#[derive(Clone)]
pub struct Authenticator {
    verifier: Option<Arc<Verifier>>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Authenticator");
        match self.verifier.as_deref() {
            None => out.field("verifier", &"none"),
            Some(Verifier::Single(key)) => {
                out.field("algorithm", &key.validation.algorithms.first())
            }
            Some(Verifier::KeySet(set)) => out.field("key_set", set.source()),
        };
        out.finish()
    }
}

/// The checks every token passes besides its signature: exactly `alg`, `exp` and `sub` present,
/// `exp`/`nbf` within [`LEEWAY_SECS`], and for an identity provider's token its `aud` and `iss`.
pub(crate) fn validation(alg: Algorithm, binding: Option<&Binding>) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    match binding {
        Some(binding) => {
            validation.set_audience(&[binding.audience.as_str()]);
            validation.set_issuer(&[binding.issuer.as_str()]);
            validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        }
        None => {
            validation.validate_aud = false;
            validation.set_required_spec_claims(&["exp", "sub"]);
        }
    }
    validation
}

impl Authenticator {
    /// Builds the verifier for the configured key. A JWKS starts empty: [`Authenticator::load`]
    /// fetches it at start-up, and the first token fetches it otherwise.
    pub fn new(config: &JwtConfig) -> Result<Self, KeyError> {
        let pem_error = |alg| move |source| KeyError::Pem { alg, source };
        let (key, alg, binding) = match config {
            JwtConfig::Disabled => return Ok(Self { verifier: None }),
            JwtConfig::Secret(secret) => (DecodingKey::from_secret(secret), Algorithm::HS256, None),
            JwtConfig::PublicKey {
                alg: PublicKeyAlg::Rs256,
                pem,
                binding,
            } => (
                DecodingKey::from_rsa_pem(pem).map_err(pem_error("RS256"))?,
                Algorithm::RS256,
                Some(binding),
            ),
            JwtConfig::PublicKey {
                alg: PublicKeyAlg::Es256,
                pem,
                binding,
            } => (
                DecodingKey::from_ec_pem(pem).map_err(pem_error("ES256"))?,
                Algorithm::ES256,
                Some(binding),
            ),
            JwtConfig::KeySet {
                source,
                binding,
                min_refresh,
            } => {
                let set = KeySet::new(source.clone(), binding.clone(), *min_refresh);
                return Ok(Self {
                    verifier: Some(Arc::new(Verifier::KeySet(Arc::new(set)))),
                });
            }
        };
        let key = VerifyingKey {
            key,
            validation: validation(alg, binding),
        };
        Ok(Self {
            verifier: Some(Arc::new(Verifier::Single(Arc::new(key)))),
        })
    }

    /// Loads a configured JWKS now, so that a provider that cannot be reached stops start-up.
    pub async fn load(&self) -> Result<(), KeyError> {
        if let Some(Verifier::KeySet(set)) = self.verifier.as_deref() {
            set.refresh().await?;
        }
        Ok(())
    }

    /// Whether tokens can be verified at all.
    pub fn is_enabled(&self) -> bool {
        self.verifier.is_some()
    }

    /// Before a request is authenticated: when the bearer token names a key the cached JWKS does
    /// not hold, refresh the set (at most once per `PLANT_JWT_JWKS_MIN_REFRESH_MS`), so that a
    /// token signed with the provider's new key is accepted right after a rotation.
    pub async fn prepare(&self, headers: &HeaderMap) {
        let Some(Verifier::KeySet(set)) = self.verifier.as_deref() else {
            return;
        };
        let Ok(Some(token)) = bearer(headers) else {
            return;
        };
        if let Ok(header) = jsonwebtoken::decode_header(token) {
            set.ensure(header.kid.as_deref()).await;
        }
    }

    /// The caller named by the request's bearer token: `None` without an `Authorization` header,
    /// 401 for anything but a valid token.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
        let Some(token) = bearer(headers)? else {
            return Ok(None);
        };
        let Some(verifier) = self.verifier.as_deref() else {
            return Err(ApiError::Unauthorized(
                "this server has no token key configured".into(),
            ));
        };
        let key = match verifier {
            Verifier::Single(key) => key.clone(),
            Verifier::KeySet(set) => {
                let header = jsonwebtoken::decode_header(token)
                    .map_err(|_| refused("the token is malformed"))?;
                set.find(header.kid.as_deref()).ok_or_else(|| {
                    refused("the token names a signing key the identity provider does not publish")
                })?
            }
        };
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.key, &key.validation).map_err(|err| {
                refused(match err.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::ImmatureSignature => "the token is not valid yet",
                    ErrorKind::InvalidSignature => "the token signature does not verify",
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        "the token's algorithm is not accepted"
                    }
                    ErrorKind::InvalidAudience => "the token was issued for another audience",
                    ErrorKind::InvalidIssuer => "the token was issued by another issuer",
                    ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                    _ => "the token is malformed",
                })
            })?;
        let claims = data.claims;
        let mut roles: Vec<Role> = Vec::new();
        for claim in [&claims.role, &claims.roles].into_iter().flatten() {
            for role in claim.roles() {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
        Ok(Some(Principal {
            subject: claims.sub,
            roles,
            agent_id: claims.agent_id,
            email: claims.email,
        }))
    }

    /// The caller, who must hold one of `roles`: 401 without a valid token, 403 with the wrong role.
    pub fn require(&self, headers: &HeaderMap, roles: &[Role]) -> Result<Principal, ApiError> {
        let principal = self
            .authenticate(headers)?
            .ok_or_else(|| ApiError::Unauthorized("this endpoint needs a bearer token".into()))?;
        if principal.has_any(roles) {
            Ok(principal)
        } else {
            let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
            Err(ApiError::Forbidden(format!(
                "this endpoint needs the role {}",
                names.join(" or ")
            )))
        }
    }
}

/// The bearer token of the request: `None` without an `Authorization` header, 401 for another
/// scheme or a header that is not text.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text".into()))?;
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim())),
        _ => Err(ApiError::Unauthorized(
            "expected `Authorization: Bearer <token>`".into(),
        )),
    }
}

/// A refused token: logged with its reason (never the token), answered 401.
fn refused(reason: &'static str) -> ApiError {
    tracing::info!(reason, "bearer token refused");
    ApiError::Unauthorized(reason.into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn role_claims_accept_strings_lists_and_arrays() {
        let one: RoleClaim = serde_json::from_str(r#""Genesis""#).unwrap();
        assert_eq!(one.roles(), vec![Role::Genesis]);
        let list: RoleClaim = serde_json::from_str(r#""operator agent""#).unwrap();
        assert_eq!(list.roles(), vec![Role::Operator, Role::Agent]);
        let many: RoleClaim = serde_json::from_str(r#"["customer","unknown"]"#).unwrap();
        assert_eq!(many.roles(), vec![Role::Customer]);
    }

    #[test]
    fn without_a_key_no_token_is_accepted_but_anonymous_calls_pass() {
        let auth = Authenticator::new(&JwtConfig::Disabled).unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(auth.authenticate(&headers).unwrap(), None);
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(matches!(
            auth.authenticate(&headers),
            Err(ApiError::Unauthorized(_))
        ));
    }
}
