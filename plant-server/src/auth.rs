//! Bearer JWT authentication and role checks.
//!
//! Tokens are HS256 with `PLANT_JWT_SECRET`, or RS256/ES256 with a configured public key; exactly
//! one algorithm is accepted, so `alg: none` and algorithm confusion are refused before any
//! signature check. Tokens never reach a log line.

use std::fmt;

use http::{HeaderMap, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::{JwtConfig, PublicKeyAlg};
use crate::problem::ApiError;

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
#[error("PLANT_JWT_PUBLIC_KEY is not a valid {alg} public key in PEM form")]
pub struct KeyError {
    alg: &'static str,
    #[source]
    source: jsonwebtoken::errors::Error,
}

/// Verifies bearer tokens.
#[derive(Clone)]
pub struct Authenticator {
    key: Option<(DecodingKey, Validation)>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = self
            .key
            .as_ref()
            .and_then(|(_, v)| v.algorithms.first().copied());
        f.debug_struct("Authenticator")
            .field("algorithm", &alg)
            .finish()
    }
}

impl Authenticator {
    /// Builds the verifier for the configured key.
    pub fn new(config: &JwtConfig) -> Result<Self, KeyError> {
        let (key, alg) = match config {
            JwtConfig::Disabled => return Ok(Self { key: None }),
            JwtConfig::Secret(secret) => (DecodingKey::from_secret(secret), Algorithm::HS256),
            JwtConfig::PublicKey {
                alg: PublicKeyAlg::Rs256,
                pem,
            } => (
                DecodingKey::from_rsa_pem(pem).map_err(|source| KeyError {
                    alg: "RS256",
                    source,
                })?,
                Algorithm::RS256,
            ),
            JwtConfig::PublicKey {
                alg: PublicKeyAlg::Es256,
                pem,
            } => (
                DecodingKey::from_ec_pem(pem).map_err(|source| KeyError {
                    alg: "ES256",
                    source,
                })?,
                Algorithm::ES256,
            ),
        };
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self {
            key: Some((key, validation)),
        })
    }

    /// Whether tokens can be verified at all.
    pub fn is_enabled(&self) -> bool {
        self.key.is_some()
    }

    /// The caller named by the request's bearer token: `None` without an `Authorization` header,
    /// 401 for anything but a valid token.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let text = value.to_str().map_err(|_| {
            ApiError::Unauthorized("the Authorization header is not valid text".into())
        })?;
        let token = match text.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(ApiError::Unauthorized(
                    "expected `Authorization: Bearer <token>`".into(),
                ));
            }
        };
        let Some((key, validation)) = &self.key else {
            return Err(ApiError::Unauthorized(
                "this server has no token key configured".into(),
            ));
        };
        let data = jsonwebtoken::decode::<Claims>(token, key, validation).map_err(|err| {
            let reason = match err.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidSignature => "the token signature does not verify",
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    "the token's algorithm is not accepted"
                }
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                _ => "the token is malformed",
            };
            tracing::info!(reason, "bearer token refused");
            ApiError::Unauthorized(reason.into())
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
