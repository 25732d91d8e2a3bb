//! `plant-cli token`: mint an HS256 bearer token for local use with plant-server.
//!
//! The secret is the server's `PLANT_JWT_SECRET`; a server started with nothing configured makes
//! an ephemeral one and prints this command with it. Tokens of an identity provider (public key or
//! JWKS, bound by audience and issuer) are not minted here: the provider issues them.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use plant_core::model::Email;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::emit;
use crate::error::{CliError, Exit};

/// The shortest HS256 secret accepted, in bytes (the key size of HMAC-SHA-256; plant-server
/// refuses shorter ones too).
pub const MIN_SECRET_LEN: usize = 32;

/// The longest lifetime a token may have: 30 days.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 3600;

/// The role a token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Defines and certifies the catalog.
    Genesis,
    /// Runs the platform: audit, jobs, every trial.
    Operator,
    /// An agent acting as itself (needs --agent-id).
    Agent,
    /// A customer of the marketplace (needs --email).
    Customer,
}

impl Role {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Genesis => "genesis",
            Role::Operator => "operator",
            Role::Agent => "agent",
            Role::Customer => "customer",
        }
    }
}

/// Arguments of `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The role the token grants.
    #[arg(long, env = "PLANT_TOKEN_ROLE", value_enum)]
    role: Role,
    /// The agent the token speaks for (the `agent_id` claim); required for --role agent.
    #[arg(long, env = "PLANT_TOKEN_AGENT_ID", value_name = "UUID")]
    agent_id: Option<Uuid>,
    /// The holder's e-mail (the `email` claim); required for --role customer.
    #[arg(long, env = "PLANT_TOKEN_EMAIL", value_name = "E")]
    email: Option<String>,
    /// The subject (`sub`). Default: the agent id, else the e-mail, else `plant-cli-<role>`.
    #[arg(long, env = "PLANT_TOKEN_SUB", value_name = "S")]
    sub: Option<String>,
    /// Lifetime in seconds (1 to 2592000, 30 days).
    #[arg(
        long,
        env = "PLANT_TOKEN_TTL",
        value_name = "SECONDS",
        default_value_t = 3600
    )]
    ttl: u64,
    /// The HS256 secret shared with plant-server, at least 32 bytes (a server started with nothing
    /// configured prints its ephemeral one).
    #[arg(
        long,
        env = "PLANT_JWT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    secret: Option<String>,
}

/// The claims of a minted token (what plant-server reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject.
    pub sub: String,
    /// The role, as one string (older clients read this).
    pub role: String,
    /// The roles, as a list.
    pub roles: Vec<String>,
    /// The agent the token speaks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Uuid>,
    /// The holder's e-mail, lowercase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expires at.
    pub exp: u64,
}

/// Builds the claims, refusing combinations plant-server could not use.
pub fn claims(
    role: Role,
    agent_id: Option<Uuid>,
    email: Option<&str>,
    sub: Option<&str>,
    ttl: u64,
    now: u64,
) -> Result<Claims, CliError> {
    if ttl == 0 || ttl > MAX_TTL_SECS {
        return Err(CliError::Usage(format!(
            "--ttl must be between 1 and {MAX_TTL_SECS} seconds, not {ttl}"
        )));
    }
    let email = email
        .map(|e| {
            Email::parse(e)
                .map(|e| e.as_str().to_owned())
                .map_err(|err| CliError::Usage(format!("--email {e:?} is not valid: {err}")))
        })
        .transpose()?;
    match role {
        Role::Agent if agent_id.is_none() => {
            return Err(CliError::Usage(
                "--role agent needs --agent-id (the agent the token speaks for)".into(),
            ));
        }
        Role::Customer if email.is_none() => {
            return Err(CliError::Usage(
                "--role customer needs --email (customers see the trials booked with it)".into(),
            ));
        }
        _ => {}
    }
    let sub = match sub.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.to_owned(),
        None => agent_id
            .map(|id| id.to_string())
            .or_else(|| email.clone())
            .unwrap_or_else(|| format!("plant-cli-{}", role.as_str())),
    };
    Ok(Claims {
        sub,
        role: role.as_str().to_owned(),
        roles: vec![role.as_str().to_owned()],
        agent_id,
        email,
        iat: now,
        nbf: now,
        exp: now.saturating_add(ttl),
    })
}

/// Checks the secret's length, saying what to do about it.
pub fn check_secret(secret: Option<&str>) -> Result<&[u8], CliError> {
    match secret {
        None | Some("") => Err(CliError::Usage(
            "PLANT_JWT_SECRET is not set: set it to the secret plant-server uses (at least 32 bytes; `openssl rand -hex 32` makes one). A plant-server started with nothing configured prints its development secret in this command at start-up".into(),
        )),
        Some(s) if s.len() < MIN_SECRET_LEN => Err(CliError::Usage(format!(
            "PLANT_JWT_SECRET is too short: {} bytes, at least {MIN_SECRET_LEN} are needed (`openssl rand -hex 32` makes one)",
            s.len()
        ))),
        Some(s) => Ok(s.as_bytes()),
    }
}

/// Mints the token and prints it alone on a line, so `$(plant-cli token …)` captures it.
pub fn run(args: TokenArgs, out: &mut (dyn Write + Send)) -> Result<Exit, CliError> {
    let secret = check_secret(args.secret.as_deref())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| CliError::Usage(format!("the system clock is before 1970: {e}")))?
        .as_secs();
    let claims = claims(
        args.role,
        args.agent_id,
        args.email.as_deref(),
        args.sub.as_deref(),
        args.ttl,
        now,
    )?;
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(CliError::Token)?;
    emit(out, &token)?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_tokens_need_an_agent_id_and_default_their_subject_to_it() {
        assert!(claims(Role::Agent, None, None, None, 60, 0).is_err());
        let id = Uuid::new_v4();
        let c = claims(Role::Agent, Some(id), None, None, 60, 100).expect("claims");
        assert_eq!(c.sub, id.to_string());
        assert_eq!((c.iat, c.nbf, c.exp), (100, 100, 160));
        assert_eq!(c.roles, vec!["agent"]);
    }

    #[test]
    fn customer_tokens_need_a_valid_email() {
        assert!(claims(Role::Customer, None, None, None, 60, 0).is_err());
        assert!(claims(Role::Customer, None, Some("nope"), None, 60, 0).is_err());
        let c = claims(
            Role::Customer,
            None,
            Some("Customer@Example.com"),
            None,
            60,
            0,
        )
        .expect("ok");
        assert_eq!(c.email.as_deref(), Some("customer@example.com"));
        assert_eq!(c.sub, "customer@example.com");
    }

    #[test]
    fn ttl_is_bounded() {
        assert!(claims(Role::Operator, None, None, None, 0, 0).is_err());
        assert!(claims(Role::Operator, None, None, None, MAX_TTL_SECS + 1, 0).is_err());
    }

    #[test]
    fn short_and_missing_secrets_are_refused() {
        assert!(check_secret(None).is_err());
        assert!(check_secret(Some("")).is_err());
        assert!(check_secret(Some(&"x".repeat(31))).is_err());
        assert!(check_secret(Some(&"x".repeat(32))).is_ok());
    }
}
