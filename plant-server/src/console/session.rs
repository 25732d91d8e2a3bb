//! Who is using the console, and proof that a form came from a console page.
//!
//! **Ways in.** A token minted by `plant-cli token` (or the identity provider the API trusts),
//! pasted once into the login form and kept in the `plant_console` cookie — `HttpOnly` (no
//! script reads it), `SameSite=Strict` (no other site's page sends it), `Secure` except on
//! localhost, scoped to `/console`. Every request verifies it exactly as the API verifies a
//! bearer token, so an expired or revoked key ends the session. Behind Identity-Aware Proxy the
//! signed header is verified instead (see [`super::iap`]).
//!
//! **Roles.** The console is for `genesis` and `operator`; each page then needs the role of the
//! endpoint it mirrors (certifying and writing precedents: `genesis`; audit, trials and jobs:
//! `operator`). Anyone else gets the 403 page.
//!
//! **CSRF.** A random seed lives in the `plant_console_csrf` cookie (same attributes); every
//! form carries `SHA-256(domain ‖ seed ‖ identity)`, where the identity is the session's token
//! (or the IAP address). A page on another site can neither read the seed nor compute the
//! token, so its forged post is refused with 403, and a token from one session is worthless in
//! another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

use super::page::Page;
use super::{Request, first};
use crate::auth::{Principal, Role};

/// The cookie holding the session's token.
pub const SESSION_COOKIE: &str = "plant_console";
/// The cookie holding the CSRF seed.
pub const CSRF_COOKIE: &str = "plant_console_csrf";
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// The roles that may use the console at all.
pub const CONSOLE_ROLES: &[Role] = &[Role::Genesis, Role::Operator];
const CSRF_DOMAIN: &[u8] = b"plant-console-csrf-v1\n";

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The CSRF seed cookie to set, when the request had none.
    new_seed: Option<String>,
}

impl Session {
    /// Whether the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.principal.roles.contains(&role)
    }

    /// Who the caller is, for the page header and the audit chain (`actor`).
    pub fn subject(&self) -> &str {
        &self.principal.subject
    }

    /// The page, setting the CSRF seed cookie when this request made one.
    pub fn page(&self, page: Page, headers: &HeaderMap) -> Page {
        match &self.new_seed {
            Some(seed) => page.with_cookie(cookie(CSRF_COOKIE, seed, headers)),
            None => page,
        }
    }

    /// `Ok` when the form carries this session's CSRF token; the 403 page otherwise.
    pub fn check_csrf(&self, form: &[(String, String)]) -> Result<(), Page> {
        check(form, &self.csrf)
    }

    /// Who made a change: the token's subject, or the IAP address.
    pub fn actor(&self) -> String {
        self.principal
            .email
            .clone()
            .filter(|_| self.principal.subject.starts_with("accounts.google.com:"))
            .unwrap_or_else(|| self.principal.subject.clone())
    }
}

fn check(form: &[(String, String)], expected: &str) -> Result<(), Page> {
    let sent = first(form, CSRF_FIELD).unwrap_or("");
    if !expected.is_empty() && same(sent.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        tracing::info!("console form refused: CSRF token missing or wrong");
        Err(Page::error(
            StatusCode::FORBIDDEN,
            "this form is missing its CSRF token or carries another session's; reload the page and try again",
        ))
    }
}

/// Equal bytes, compared in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The CSRF token of `seed` for `identity`.
fn csrf_token(seed: &str, identity: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(CSRF_DOMAIN);
    hasher.update(seed.as_bytes());
    hasher.update(b"\n");
    hasher.update(identity.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// The value of cookie `name`.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the request is for this machine itself, where a browser accepts a cookie without
/// `Secure` over plain HTTP.
fn is_local(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    matches!(name, "localhost" | "127.0.0.1" | "::1")
}

/// A `Set-Cookie` value for the console.
pub fn cookie(name: &str, value: &str, headers: &HeaderMap) -> String {
    let secure = if is_local(headers) { "" } else { "; Secure" };
    format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict{secure}")
}

/// A `Set-Cookie` value that removes cookie `name`.
fn removal(name: &str, headers: &HeaderMap) -> String {
    format!("{}; Max-Age=0", cookie(name, "", headers))
}

/// A new random CSRF seed.
fn new_seed() -> String {
    let mut bytes = [0_u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // Without OS randomness, a v4 UUID (itself random) still keeps seeds unguessable.
        return uuid::Uuid::new_v4().simple().to_string();
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The request's CSRF seed, and whether it is new.
fn seed_of(headers: &HeaderMap) -> (String, Option<String>) {
    match cookie_value(headers, CSRF_COOKIE) {
        Some(seed) if seed.len() <= 128 => (seed.to_owned(), None),
        _ => {
            let seed = new_seed();
            (seed.clone(), Some(seed))
        }
    }
}

/// How the caller is known before roles are checked.
enum Identity {
    Token(String, Principal),
    Iap(Principal),
}

/// The caller of `request`: IAP's assertion when IAP is configured and the header is there,
/// otherwise the session cookie's token. `Err` is the answer instead: the login page, 401 for a
/// refused assertion, 403 without the role.
async fn identify(request: &Request) -> Result<Identity, Page> {
    if let Some(iap) = &request.config.iap
        && let Some(verified) = iap.verify(&request.headers).await
    {
        return verified.map(Identity::Iap).map_err(|reason| {
            tracing::info!(reason, "console: IAP assertion refused");
            Page::error(StatusCode::UNAUTHORIZED, reason)
        });
    }
    let Some(token) = cookie_value(&request.headers, SESSION_COOKIE) else {
        return Err(Page::redirect("/console/login"));
    };
    match verify_token(request, token).await {
        Ok(principal) => Ok(Identity::Token(token.to_owned(), principal)),
        Err(_) => Err(Page::redirect("/console/login?expired=1")
            .with_cookie(removal(SESSION_COOKIE, &request.headers))),
    }
}

/// Verifies `token` exactly as the API verifies a bearer token.
async fn verify_token(request: &Request, token: &str) -> Result<Principal, String> {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "the token is not valid text".to_owned())?;
    headers.insert(header::AUTHORIZATION, value);
    let auth = request.state.auth();
    auth.prepare(&headers).await;
    match auth.authenticate(&headers) {
        Ok(Some(principal)) => Ok(principal),
        Ok(None) => Err("no token was given".into()),
        Err(err) => Err(err.to_string()),
    }
}

/// The session of `request`, which must hold one of `roles` (any console role when empty).
pub async fn resolve(request: &Request, roles: &[Role]) -> Result<Session, Page> {
    let (identity, principal) = match identify(request).await? {
        Identity::Token(token, principal) => (token, principal),
        Identity::Iap(principal) => (
            format!("iap:{}", principal.email.as_deref().unwrap_or("")),
            principal,
        ),
    };
    if !principal.has_any(CONSOLE_ROLES) {
        return Err(Page::forbidden(CONSOLE_ROLES));
    }
    if !roles.is_empty() && !principal.has_any(roles) {
        return Err(Page::forbidden(roles));
    }
    let (seed, new_seed) = seed_of(&request.headers);
    Ok(Session {
        csrf: csrf_token(&seed, &identity),
        principal,
        new_seed,
    })
}

#[derive(askama::Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    csrf: String,
    message: Option<String>,
    iap: bool,
}

/// `GET /console/login`: the token form (or straight in, with a session already).
pub async fn login_form(request: Request) -> Page {
    if resolve(&request, &[]).await.is_ok() {
        return Page::redirect("/console");
    }
    let message = request.param("expired").map(|_| {
        "your session ended (the token expired or no longer verifies); sign in again".to_owned()
    });
    login_page(&request, StatusCode::OK, message)
}

fn login_page(request: &Request, status: StatusCode, message: Option<String>) -> Page {
    let (seed, new_seed) = seed_of(&request.headers);
    let page = Page::render(
        status,
        &LoginPage {
            csrf: csrf_token(&seed, "login"),
            message,
            iap: request.config.iap.is_some(),
        },
    );
    match new_seed {
        Some(seed) => page.with_cookie(cookie(CSRF_COOKIE, &seed, &request.headers)),
        None => page,
    }
}

/// `POST /console/login` with `token`: a session for a valid token with a console role.
pub async fn login(request: Request) -> Page {
    let form = request.form();
    let expected = cookie_value(&request.headers, CSRF_COOKIE)
        .map(|seed| csrf_token(seed, "login"))
        .unwrap_or_default();
    if let Err(page) = check(&form, &expected) {
        return page;
    }
    let Some(token) = first(&form, "token") else {
        return login_page(
            &request,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("paste a token".into()),
        );
    };
    let principal = match verify_token(&request, token).await {
        Ok(principal) => principal,
        Err(reason) => {
            return login_page(
                &request,
                StatusCode::UNAUTHORIZED,
                Some(format!("that token was refused: {reason}")),
            );
        }
    };
    if !principal.has_any(CONSOLE_ROLES) {
        return Page::forbidden(CONSOLE_ROLES);
    }
    tracing::info!(subject = %principal.subject, "console: signed in");
    Page::redirect("/console").with_cookie(cookie(SESSION_COOKIE, token, &request.headers))
}

/// `POST /console/logout`: ends the session.
pub async fn logout(request: Request) -> Page {
    let session = match resolve(&request, &[]).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    if let Err(page) = session.check_csrf(&request.form()) {
        return page;
    }
    Page::redirect("/console/login").with_cookie(removal(SESSION_COOKIE, &request.headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_cookies_are_not_secure_and_others_are() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8000"));
        assert!(!cookie("a", "b", &headers).contains("Secure"));
        headers.insert(header::HOST, HeaderValue::from_static("plant.example.com"));
        let set = cookie("a", "b", &headers);
        assert!(
            set.contains("; Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict")
        );
    }

    #[test]
    fn csrf_tokens_differ_per_seed_and_identity() {
        let a = csrf_token("seed", "token-a");
        assert_eq!(a, csrf_token("seed", "token-a"));
        assert_ne!(a, csrf_token("seed", "token-b"));
        assert_ne!(a, csrf_token("other", "token-a"));
        let form = vec![(CSRF_FIELD.to_owned(), a.clone())];
        assert!(check(&form, &a).is_ok());
        assert!(check(&[], &a).is_err());
    }
}
