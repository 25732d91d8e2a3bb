//! Connection URLs as operators write them.
//!
//! Accepted forms:
//! - `postgres://user:password@host:5432/plant` (also `postgresql://`), with a URL-encoded password;
//! - Cloud SQL's unix socket: `postgres://user:password@/plant?host=/cloudsql/PROJECT:REGION:INSTANCE`;
//! - the SQLAlchemy spellings of the previous service, `postgresql+asyncpg://…` (any `+driver`),
//!   whose `ssl=` parameter becomes `sslmode=`.

use sqlx::postgres::PgConnectOptions;

/// Why a connection URL cannot be used. The message never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid database URL {redacted}: {reason}")]
pub struct UrlError {
    /// The URL with its password replaced by `***`.
    pub redacted: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Rewrites the accepted spellings into the one sqlx reads: `postgres://` with `sslmode=`.
///
/// ```
/// use plant_core::store::postgres::normalize_url;
///
/// assert_eq!(
///     normalize_url("postgresql+asyncpg://app:pw@db:5432/plant?ssl=require").unwrap(),
///     "postgres://app:pw@db:5432/plant?sslmode=require",
/// );
/// ```
pub fn normalize_url(url: &str) -> Result<String, UrlError> {
    let url = url.trim();
    let fail = |reason: &str| UrlError {
        redacted: redact(url),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| fail("expected postgres://…"))?;
    let base_scheme = scheme
        .split('+')
        .next()
        .unwrap_or(scheme)
        .to_ascii_lowercase();
    if base_scheme != "postgres" && base_scheme != "postgresql" {
        return Err(fail(
            "the scheme must be postgres:// (or postgresql://, postgresql+asyncpg://)",
        ));
    }
    let rest = match rest.split_once('?') {
        Some((head, query)) => {
            let params: Vec<String> = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    // asyncpg spells sslmode `ssl`; its values (disable, prefer, require,
                    // verify-ca, verify-full) are libpq's.
                    Some(("ssl", value)) => format!("sslmode={value}"),
                    _ => p.to_owned(),
                })
                .collect();
            if params.is_empty() {
                head.to_owned()
            } else {
                format!("{head}?{}", params.join("&"))
            }
        }
        None => rest.to_owned(),
    };
    Ok(format!("postgres://{}", with_host(&rest)))
}

/// Puts `localhost` where the host is empty (`user:pw@/db?host=/cloudsql/…`, `///db`), which
/// libpq accepts and the URL parser does not; a `host=` parameter still decides where to connect.
fn with_host(rest: &str) -> String {
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    if !host_port.is_empty() && !host_port.starts_with(':') {
        return rest.to_owned();
    }
    match userinfo {
        Some(userinfo) => format!("{userinfo}@localhost{host_port}{tail}"),
        None => format!("localhost{host_port}{tail}"),
    }
}

/// Parses a connection URL in any accepted form into sqlx's options.
///
/// ```
/// use plant_core::store::postgres::connect_options;
///
/// let opts = connect_options("postgres://app:s%40cret@/plant?host=/cloudsql/proj:europe-west1:db")
///     .unwrap();
/// assert_eq!(opts.get_socket().unwrap().to_str(), Some("/cloudsql/proj:europe-west1:db"));
/// assert_eq!(opts.get_database(), Some("plant"));
/// ```
pub fn connect_options(url: &str) -> Result<PgConnectOptions, UrlError> {
    let normalized = normalize_url(url)?;
    normalized
        .parse::<PgConnectOptions>()
        .map_err(|e| UrlError {
            redacted: redact(url),
            reason: redact_in(&e.to_string(), url),
        })
}

/// The URL with the password (between `user:` and `@`) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Removes the URL's password from a message that may quote it.
fn redact_in(message: &str, url: &str) -> String {
    let password = url
        .split_once("://")
        .map(|(_, rest)| &rest[..rest.find(['/', '?']).unwrap_or(rest.len())])
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty());
    match password {
        Some(p) => message.replace(p, "***"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_url_parses() {
        let opts = connect_options("postgres://app:pw@db.internal:6543/plant").expect("parses");
        assert_eq!(opts.get_host(), "db.internal");
        assert_eq!(opts.get_port(), 6543);
        assert_eq!(opts.get_username(), "app");
        assert_eq!(opts.get_database(), Some("plant"));
    }

    #[test]
    fn asyncpg_form_is_rewritten() {
        assert_eq!(
            normalize_url("postgresql+asyncpg://u:p@h/d").expect("normalizes"),
            "postgres://u:p@h/d"
        );
        assert_eq!(
            normalize_url("postgresql://u:p@h/d?ssl=disable&application_name=x")
                .expect("normalizes"),
            "postgres://u:p@h/d?sslmode=disable&application_name=x"
        );
        let opts = connect_options("postgresql+asyncpg://u:p@h:5433/d").expect("parses");
        assert_eq!((opts.get_host(), opts.get_port()), ("h", 5433));
    }

    #[test]
    fn cloud_sql_socket_with_encoded_password() {
        let opts = connect_options(
            "postgres://plant:a%2Fb%3Ac%40d@/plant?host=/cloudsql/my-proj:europe-west1:plant-db",
        )
        .expect("parses");
        assert_eq!(
            opts.get_socket().and_then(|p| p.to_str()),
            Some("/cloudsql/my-proj:europe-west1:plant-db")
        );
        assert_eq!(opts.get_username(), "plant");
        assert_eq!(opts.get_database(), Some("plant"));
    }

    #[test]
    fn an_empty_host_is_filled_in_and_the_socket_still_wins() {
        assert_eq!(
            normalize_url("postgres:///plant?host=/cloudsql/p:r:i").expect("normalizes"),
            "postgres://localhost/plant?host=/cloudsql/p:r:i"
        );
        assert_eq!(
            normalize_url("postgres://u:p@:6432/plant").expect("normalizes"),
            "postgres://u:p@localhost:6432/plant"
        );
        let opts = connect_options("postgres:///plant?host=/cloudsql/p:r:i").expect("parses");
        assert_eq!(
            opts.get_socket().and_then(|p| p.to_str()),
            Some("/cloudsql/p:r:i")
        );
    }

    #[test]
    fn other_schemes_are_refused_without_the_password() {
        let err = connect_options("mysql://u:hunter2@h/d").expect_err("refused");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("u:***@h"), "{err}");
        assert!(connect_options("not a url").is_err());
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact("postgres://u:pw@h:1/d?x=1"),
            "postgres://u:***@h:1/d?x=1"
        );
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("postgres://h/d"), "postgres://h/d");
    }
}
