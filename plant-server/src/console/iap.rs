//! Behind Google Cloud's Identity-Aware Proxy: every request carries
//! `x-goog-iap-jwt-assertion`, an ES256 JWT signed by one of IAP's keys (chosen by `kid`), issued
//! by `https://cloud.google.com/iap` for the backend's audience. The console verifies it with the
//! API's own verifier over IAP's JWKS, then maps the e-mail address it names to roles.
//!
//! | variable | meaning |
//! |---|---|
//! | `PLANT_CONSOLE_IAP_AUDIENCE` | the audience IAP signs for (`/projects/NUMBER/global/backendServices/ID`); setting it turns IAP sign-in on |
//! | `PLANT_CONSOLE_IAP_JWKS_FILE` or `PLANT_CONSOLE_IAP_JWKS_URL` | IAP's keys; the URL defaults to Google's published set |
//! | `PLANT_CONSOLE_IAP_ROLES` | `reviewer@example.com=genesis; ops@example.com=operator,genesis`: roles per address (case-insensitive); an address not listed holds none |

use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};

use crate::auth::{Authenticator, KeyError, Principal, Role};
use crate::config::{Binding, JwtConfig, KeySetSource};

/// The header IAP adds to every request it lets through.
pub const ASSERTION_HEADER: &str = "x-goog-iap-jwt-assertion";
/// The issuer of IAP's assertions.
pub const IAP_ISSUER: &str = "https://cloud.google.com/iap";
/// Where Google publishes IAP's signing keys as a JWKS.
pub const IAP_JWKS_URL: &str = "https://www.gstatic.com/iap/verify/public_key-jwk";
/// Least time between two fetches of IAP's keys.
const MIN_REFRESH: Duration = Duration::from_secs(30);

/// Why the IAP configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IapConfigError {
    #[error("{var} is set but PLANT_CONSOLE_IAP_AUDIENCE is not; IAP sign-in needs the audience")]
    NoAudience { var: &'static str },
    #[error("set one of PLANT_CONSOLE_IAP_JWKS_FILE and PLANT_CONSOLE_IAP_JWKS_URL, not both")]
    TwoKeySets,
    #[error(
        "PLANT_CONSOLE_IAP_ROLES entry `{entry}` is not `address=role[,role]` with roles genesis, operator, agent or customer"
    )]
    BadRoles { entry: String },
    #[error("the IAP key set cannot be used")]
    Keys(#[source] KeyError),
}

/// IAP sign-in, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IapConfig {
    pub audience: String,
    pub keys: KeySetSource,
    /// Lowercase address and its roles.
    pub roles: Vec<(String, Vec<Role>)>,
}

impl IapConfig {
    /// The configuration named by `lookup` (see the module's table); `None` when IAP is off.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, IapConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let file = get("PLANT_CONSOLE_IAP_JWKS_FILE");
        let url = get("PLANT_CONSOLE_IAP_JWKS_URL");
        let roles = get("PLANT_CONSOLE_IAP_ROLES");
        let Some(audience) = get("PLANT_CONSOLE_IAP_AUDIENCE") else {
            let set = [
                ("PLANT_CONSOLE_IAP_JWKS_FILE", &file),
                ("PLANT_CONSOLE_IAP_JWKS_URL", &url),
                ("PLANT_CONSOLE_IAP_ROLES", &roles),
            ];
            return match set.iter().find(|(_, v)| v.is_some()) {
                Some((var, _)) => Err(IapConfigError::NoAudience { var }),
                None => Ok(None),
            };
        };
        let keys = match (file, url) {
            (Some(_), Some(_)) => return Err(IapConfigError::TwoKeySets),
            (Some(path), None) => KeySetSource::File(PathBuf::from(path.trim())),
            (None, Some(url)) => KeySetSource::Url(url.trim().to_owned()),
            (None, None) => KeySetSource::Url(IAP_JWKS_URL.to_owned()),
        };
        Ok(Some(Self {
            audience: audience.trim().to_owned(),
            keys,
            roles: parse_roles(roles.as_deref().unwrap_or(""))?,
        }))
    }

    /// The roles of `email` (none when it is not listed).
    pub fn roles_of(&self, email: &str) -> Vec<Role> {
        let email = email.trim().to_ascii_lowercase();
        self.roles
            .iter()
            .find(|(address, _)| *address == email)
            .map(|(_, roles)| roles.clone())
            .unwrap_or_default()
    }
}

/// `a@example.com=genesis; b@example.com=operator,genesis`.
fn parse_roles(text: &str) -> Result<Vec<(String, Vec<Role>)>, IapConfigError> {
    let mut out = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || IapConfigError::BadRoles {
            entry: entry.chars().take(100).collect(),
        };
        let (address, roles) = entry.split_once('=').ok_or_else(bad)?;
        let address = address.trim().to_ascii_lowercase();
        if !address.contains('@') {
            return Err(bad());
        }
        let roles = roles
            .split([',', ' ', '+'])
            .filter(|r| !r.is_empty())
            .map(|r| role(r).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()?;
        if roles.is_empty() {
            return Err(bad());
        }
        out.push((address, roles));
    }
    Ok(out)
}

/// A role by its claim value, in any case.
fn role(text: &str) -> Option<Role> {
    [Role::Genesis, Role::Operator, Role::Agent, Role::Customer]
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
}

/// Verifies IAP's assertions.
#[derive(Debug)]
pub struct IapVerifier {
    config: IapConfig,
    auth: Authenticator,
}

impl IapVerifier {
    /// A verifier over the configured key set (fetched on the first assertion).
    pub fn new(config: &IapConfig) -> Result<Self, IapConfigError> {
        let auth = Authenticator::new(&JwtConfig::KeySet {
            source: config.keys.clone(),
            binding: Binding {
                audience: config.audience.clone(),
                issuer: IAP_ISSUER.to_owned(),
            },
            min_refresh: MIN_REFRESH,
        })
        .map_err(IapConfigError::Keys)?;
        Ok(Self {
            config: config.clone(),
            auth,
        })
    }

    /// The caller IAP vouches for: `None` without the header, `Err` with a sentence when the
    /// assertion does not verify or names no e-mail address.
    pub async fn verify(&self, headers: &HeaderMap) -> Option<Result<Principal, String>> {
        let assertion = headers.get(ASSERTION_HEADER)?;
        let mut bearer = HeaderMap::new();
        let mut value = b"Bearer ".to_vec();
        value.extend_from_slice(assertion.as_bytes());
        let Ok(value) = HeaderValue::from_bytes(&value) else {
            return Some(Err("the IAP assertion is not valid header text".into()));
        };
        bearer.insert(header::AUTHORIZATION, value);
        self.auth.prepare(&bearer).await;
        Some(match self.auth.authenticate(&bearer) {
            Ok(Some(mut principal)) => match principal.email.clone() {
                Some(email) => {
                    principal.roles = self.config.roles_of(&email);
                    Ok(principal)
                }
                None => Err("the IAP assertion names no e-mail address".into()),
            },
            Ok(None) => Err("the IAP assertion is missing".into()),
            Err(err) => Err(format!("the IAP assertion was refused: {err}")),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_read_per_address_in_any_case() {
        let vars = [
            (
                "PLANT_CONSOLE_IAP_AUDIENCE",
                "/projects/1/global/backendServices/2",
            ),
            (
                "PLANT_CONSOLE_IAP_ROLES",
                "Reviewer@Example.com=genesis; ops@example.com=operator,genesis",
            ),
        ];
        let config = IapConfig::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
        .unwrap();
        assert_eq!(config.keys, KeySetSource::Url(IAP_JWKS_URL.into()));
        assert_eq!(config.roles_of("reviewer@example.COM"), vec![Role::Genesis]);
        assert_eq!(
            config.roles_of("ops@example.com"),
            vec![Role::Operator, Role::Genesis]
        );
        assert!(config.roles_of("someone@example.com").is_empty());
    }

    #[test]
    fn a_bad_role_or_a_missing_audience_is_refused() {
        assert!(matches!(
            parse_roles("a@example.com=owner"),
            Err(IapConfigError::BadRoles { .. })
        ));
        assert!(matches!(
            IapConfig::from_lookup(
                |k| (k == "PLANT_CONSOLE_IAP_ROLES").then(|| "a@example.com=genesis".to_owned())
            ),
            Err(IapConfigError::NoAudience { .. })
        ));
        assert_eq!(IapConfig::from_lookup(|_| None).unwrap(), None);
    }
}
