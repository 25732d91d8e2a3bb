//! The operator console at `/console`: server-rendered pages over the same catalog operations and
//! role checks the API uses, for the people who certify the catalog, keep the precedents and
//! watch the audit chain.
//!
//! - [`session`]: the way in (a pasted token kept in an `HttpOnly`, `SameSite=Strict` cookie, or
//!   Identity-Aware Proxy's signed header, see [`iap`]), CSRF tokens bound to the session, and
//!   the role each page needs — the same roles as the endpoints it mirrors;
//! - [`page`]: the headers every console response carries (a strict Content-Security-Policy
//!   without inline script, `nosniff`, no referrer) and the error pages;
//! - one module per area: [`catalog`] (tables, search, entity, versions and diffs), [`review`]
//!   (the review queue with dry-run previews), [`precedents`], [`audit`] (verify, checkpoints,
//!   the live feed), [`operations`] (trials and jobs), and [`assets`] (the stylesheet and the one
//!   script, served from the binary).
//!
//! Every value reaches the page through askama, which escapes it for HTML.

pub mod assets;
pub mod audit;
pub mod catalog;
pub mod iap;
pub mod operations;
pub mod page;
pub mod precedents;
pub mod review;
pub mod session;

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use http::{HeaderMap, Method};

use crate::state::AppState;
use axum::Router;
use axum::routing::{MethodFilter, on};
pub use iap::{IapConfig, IapConfigError};
use page::Page;
pub use session::Session;

/// What the console is configured with (beside the API's own token key).
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// Identity-Aware Proxy, when the console runs behind it.
    pub iap: Option<IapConfig>,
}

impl ConsoleConfig {
    /// The configuration named by the environment (see [`IapConfig::from_lookup`]).
    pub fn from_env() -> Result<Self, IapConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The configuration named by `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, IapConfigError> {
        Ok(Self {
            iap: IapConfig::from_lookup(lookup)?,
        })
    }
}

/// What a console handler gets: the state, the console's configuration, and the request's
/// headers, query and body.
#[derive(Debug)]
pub struct Request {
    pub state: AppState,
    pub config: Arc<Console>,
    pub headers: HeaderMap,
    pub query: Vec<(String, String)>,
    pub path: Vec<String>,
    pub body: Bytes,
}

impl Request {
    /// The first value of query parameter `name`, trimmed; `None` when absent or empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }

    /// The form fields of a POST body.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// The caller, who must hold one of `roles`; otherwise the page that says why (the login
    /// page, or 403).
    pub async fn session(&self, roles: &[crate::auth::Role]) -> Result<Session, Page> {
        session::resolve(self, roles).await
    }
}

/// The first non-empty value of `name` in decoded pairs.
pub fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

/// The console's long-lived parts: its configuration and the IAP verifier built from it.
#[derive(Debug)]
pub struct Console {
    pub iap: Option<iap::IapVerifier>,
}

impl Console {
    /// The console with token sign-in only (no Identity-Aware Proxy).
    pub fn token_only() -> Self {
        Self { iap: None }
    }

    /// Builds the verifiers of `config`.
    pub fn new(config: &ConsoleConfig) -> Result<Self, IapConfigError> {
        Ok(Self {
            iap: config.iap.as_ref().map(iap::IapVerifier::new).transpose()?,
        })
    }
}

type PageFn = fn(Request) -> std::pin::Pin<Box<dyn Future<Output = Page> + Send>>;

/// Adds the console's routes over `console`.
pub fn routes_with(router: Router<AppState>, console: Arc<Console>) -> Router<AppState> {
    let pages: &[(Method, &'static str, PageFn)] = &[
        (Method::GET, "/console", |r| Box::pin(catalog::home(r))),
        (Method::GET, "/console/login", |r| {
            Box::pin(session::login_form(r))
        }),
        (Method::POST, "/console/login", |r| {
            Box::pin(session::login(r))
        }),
        (Method::POST, "/console/logout", |r| {
            Box::pin(session::logout(r))
        }),
        (Method::GET, "/console/catalog/{kind}", |r| {
            Box::pin(catalog::list(r))
        }),
        (Method::GET, "/console/catalog/{kind}/{id}", |r| {
            Box::pin(catalog::entity(r))
        }),
        (Method::GET, "/console/review", |r| {
            Box::pin(review::queue(r))
        }),
        (Method::POST, "/console/review/preview", |r| {
            Box::pin(review::preview(r))
        }),
        (Method::POST, "/console/review/certify", |r| {
            Box::pin(review::certify(r))
        }),
        (Method::GET, "/console/precedents", |r| {
            Box::pin(precedents::list(r))
        }),
        (Method::POST, "/console/precedents", |r| {
            Box::pin(precedents::create(r))
        }),
        (Method::GET, "/console/precedents/{seed_id}", |r| {
            Box::pin(precedents::show(r))
        }),
        (
            Method::POST,
            "/console/precedents/{seed_id}/supersede",
            |r| Box::pin(precedents::supersede(r)),
        ),
        (Method::GET, "/console/audit", |r| {
            Box::pin(audit::overview(r))
        }),
        (Method::GET, "/console/audit/verify", |r| {
            Box::pin(audit::verify(r))
        }),
        (Method::GET, "/console/trials", |r| {
            Box::pin(operations::trials(r))
        }),
        (Method::GET, "/console/trials/{id}", |r| {
            Box::pin(operations::trial(r))
        }),
        (Method::GET, "/console/jobs", |r| {
            Box::pin(operations::jobs(r))
        }),
        (Method::GET, "/console/jobs/{id}", |r| {
            Box::pin(operations::job(r))
        }),
    ];
    let mut router = router
        .route("/console/static/{file}", axum::routing::get(assets::serve))
        .route(
            "/console/audit/feed",
            axum::routing::get({
                let console = console.clone();
                move |State(state): State<AppState>,
                      headers: HeaderMap,
                      RawQuery(query): RawQuery| {
                    audit::feed(state, console.clone(), headers, query)
                }
            }),
        );
    for (method, template, page) in pages {
        let (method, template, page) = (method.clone(), *template, *page);
        let console = console.clone();
        let filter = if method == Method::POST {
            MethodFilter::POST
        } else {
            MethodFilter::GET
        };
        router = router.route(
            template,
            on(
                filter,
                move |State(state): State<AppState>,
                      path: Option<Path<Vec<(String, String)>>>,
                      RawQuery(query): RawQuery,
                      headers: HeaderMap,
                      body: Bytes| {
                    let request = Request {
                        state,
                        config: console.clone(),
                        headers,
                        query: query
                            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                            .unwrap_or_default(),
                        path: path
                            .map(|Path(p)| p.into_iter().map(|(_, v)| v).collect())
                            .unwrap_or_default(),
                        body,
                    };
                    async move { page(request).await.into_response() }
                },
            ),
        );
    }
    router
}

/// What the frame around every page shows: who is signed in, the sections their roles open,
/// and the CSRF token of the sign-out form.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub subject: String,
    pub roles: String,
    pub csrf: String,
    pub genesis: bool,
    pub operator: bool,
    /// The section the page belongs to (marked `aria-current` in the navigation).
    pub section: &'static str,
}

impl Chrome {
    /// The frame for `session` on a page of `section`.
    pub fn new(session: &Session, section: &'static str) -> Self {
        let roles: Vec<&str> = session
            .principal
            .roles
            .iter()
            .map(crate::auth::Role::as_str)
            .collect();
        Self {
            subject: session.actor(),
            roles: roles.join(", "),
            csrf: session.csrf.clone(),
            genesis: session.has(crate::auth::Role::Genesis),
            operator: session.has(crate::auth::Role::Operator),
            section,
        }
    }
}

/// A time as the console shows it: RFC 3339 UTC to the second.
pub fn when(at: plant_core::Timestamp) -> String {
    let text = at.to_rfc3339();
    match text.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text,
    }
}

/// The first 12 hex digits of a hash, for tables (the full value is in the `title`).
pub fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// Runs a page: the session first (with `roles`), then `body`, the CSRF seed cookie set on the
/// way out when the request had none.
pub async fn guarded<F, Fut>(request: Request, roles: &[crate::auth::Role], body: F) -> Page
where
    F: FnOnce(Request, Session) -> Fut,
    Fut: Future<Output = Page>,
{
    let session = match request.session(roles).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    let headers = request.headers.clone();
    let keep = session.clone();
    let page = body(request, session).await;
    keep.page(page, &headers)
}

/// Parses a UUID path segment: the 404 page when it is not one.
pub fn uuid_at(request: &Request, index: usize) -> Result<uuid::Uuid, Page> {
    request
        .path
        .get(index)
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(|| {
            Page::error(
                http::StatusCode::NOT_FOUND,
                "no such record: the id is not a UUID",
            )
        })
}
