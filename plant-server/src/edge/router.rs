//! The routing table's builder: a path template per endpoint and a handler per method, routed by
//! axum. Unknown paths answer 404 and known paths with another method 405 with `Allow` (both
//! problem+json); `OPTIONS` on a known path answers 204 with `Allow`; `HEAD` follows `GET`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn};
use axum::routing::{MethodFilter, MethodRouter};
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, StatusCode, header};

use crate::context::RequestCtx;
use crate::correlation::CorrelationId;
use crate::problem::ApiError;
use crate::response::{Response, empty};
use crate::state::AppState;

/// What a handler returns.
pub type HandlerResult = Result<Response, ApiError>;

/// A type-erased request handler.
pub type Handler = Arc<dyn Fn(RequestCtx) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// The route template a response was produced under, for the metrics and the log (absent on
/// requests that matched no route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedRoute(pub &'static str);

/// A route could not be registered (two templates that conflict).
#[derive(Debug, thiserror::Error)]
#[error("route {template} cannot be registered")]
pub struct RouteError {
    template: &'static str,
    #[source]
    source: matchit::InsertError,
}

/// Adds an axum handler to a template's method router.
type AddHandler = Box<
    dyn FnOnce(MethodRouter<AppState>, MethodFilter, &'static str) -> MethodRouter<AppState> + Send,
>;

/// One registered handler.
enum Endpoint {
    /// A handler of the whole request ([`RequestCtx`]).
    Ctx(Handler),
    /// An axum handler with typed extractors (see [`crate::edge::extract`]).
    Axum(AddHandler),
}

/// Collects routes before building the router.
#[derive(Default)]
pub struct RouterBuilder {
    endpoints: BTreeMap<&'static str, Vec<(Method, Endpoint)>>,
}

impl RouterBuilder {
    /// Registers `handler` for `method` on `template` (`/agents/{id}`); a second registration of
    /// the same method and template replaces the first.
    pub fn route<F, Fut>(self, method: Method, template: &'static str, handler: F) -> Self
    where
        F: Fn(RequestCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |ctx| Box::pin(handler(ctx)));
        self.add(method, template, Endpoint::Ctx(handler))
    }

    /// Registers an axum handler (typed extractors, `ApiError` rejections) for `method` on
    /// `template`.
    pub fn handler<H, T>(self, method: Method, template: &'static str, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let add: AddHandler = Box::new(move |router, filter, template| {
            router.on(
                filter,
                handler.layer(from_fn(move |request: Request, next: Next| {
                    mark(template, request, next)
                })),
            )
        });
        self.add(method, template, Endpoint::Axum(add))
    }

    fn add(mut self, method: Method, template: &'static str, endpoint: Endpoint) -> Self {
        let methods = self.endpoints.entry(template).or_default();
        methods.retain(|(m, _)| *m != method);
        methods.push((method, endpoint));
        self
    }

    /// Builds the router. Templates are checked for conflicts first, so that a bad table is an
    /// error rather than a panic inside axum.
    pub fn build(self) -> Result<Router, RouteError> {
        let mut check = matchit::Router::new();
        let mut inner = axum::Router::new();
        for (template, methods) in self.endpoints {
            check
                .insert(template, ())
                .map_err(|source| RouteError { template, source })?;
            inner = inner.route(template, method_router(template, methods));
        }
        Ok(Router {
            inner: inner.fallback(not_found),
        })
    }
}

impl std::fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("templates", &self.endpoints.keys())
            .finish()
    }
}

/// The built router, waiting for its state.
#[derive(Debug, Clone)]
pub struct Router {
    inner: axum::Router<AppState>,
}

impl Router {
    /// Starts a router.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// The axum router over `state`.
    pub fn with_state(self, state: AppState) -> axum::Router {
        self.inner.with_state(state)
    }
}

fn method_router(
    template: &'static str,
    methods: Vec<(Method, Endpoint)>,
) -> MethodRouter<AppState> {
    let allow = allow_list(methods.iter().map(|(m, _)| m));
    let mut router = MethodRouter::new();
    for (method, endpoint) in methods {
        let Ok(filter) = MethodFilter::try_from(method.clone()) else {
            tracing::warn!(%method, template, "method cannot be routed; skipped");
            continue;
        };
        router = match endpoint {
            Endpoint::Ctx(handler) => router.on(
                filter,
                move |State(state): State<AppState>, request: Request| {
                    run_ctx(state, request, template, handler.clone())
                },
            ),
            Endpoint::Axum(add) => add(router, filter, template),
        };
    }
    router.fallback(move |request: Request| other_method(request, allow.clone()))
}

/// Names the route of an axum handler's request, for the log and the metrics.
async fn mark(template: &'static str, request: Request, next: Next) -> axum::response::Response {
    tracing::Span::current().record("route", template);
    let mut response = next.run(request).await;
    response.extensions_mut().insert(MatchedRoute(template));
    response
}

/// Runs one handler: the request read into a [`RequestCtx`], the handler, its error rendered.
async fn run_ctx(
    state: AppState,
    request: Request,
    template: &'static str,
    handler: Handler,
) -> Response {
    tracing::Span::current().record("route", template);
    let path = request.uri().path().to_owned();
    let correlation_id = CorrelationId::from_headers(request.headers());
    let result = match RequestCtx::read(state, request, template, correlation_id.clone()).await {
        Ok(ctx) => handler(ctx).await,
        Err(err) => Err(err),
    };
    let mut response = result.unwrap_or_else(|err| render(&err, &path, &correlation_id));
    response.extensions_mut().insert(MatchedRoute(template));
    response
}

/// The problem response for `err`, logged by its severity.
pub fn render(err: &ApiError, path: &str, correlation_id: &CorrelationId) -> Response {
    if err.status().is_server_error() {
        tracing::error!(error = %err.cause_chain(), "request failed");
    } else {
        tracing::info!(error = %err, "request refused");
    }
    err.render(path, correlation_id.as_str())
}

/// A known path with a method it does not serve: 204 with `Allow` for `OPTIONS`, 405 otherwise.
async fn other_method(request: Request, allow: Vec<Method>) -> Response {
    if request.method() == Method::OPTIONS {
        let mut response = empty(StatusCode::NO_CONTENT);
        let names: Vec<&str> = allow.iter().map(Method::as_str).collect();
        if let Ok(v) = HeaderValue::from_str(&names.join(", ")) {
            response.headers_mut().insert(header::ALLOW, v);
        }
        return response;
    }
    let correlation_id = CorrelationId::from_headers(request.headers());
    render(
        &ApiError::MethodNotAllowed { allow },
        request.uri().path(),
        &correlation_id,
    )
}

async fn not_found(request: Request) -> Response {
    let path = request.uri().path();
    let correlation_id = CorrelationId::from_headers(request.headers());
    render(
        &ApiError::NotFound(format!("no resource at {}", safe_path(path))),
        path,
        &correlation_id,
    )
}

fn allow_list<'a>(methods: impl Iterator<Item = &'a Method>) -> Vec<Method> {
    let mut allow: Vec<Method> = methods.cloned().collect();
    if allow.contains(&Method::GET) {
        allow.push(Method::HEAD);
    }
    allow.push(Method::OPTIONS);
    allow
}

/// Paths are echoed in error details; cap them so a huge path is not reflected whole.
fn safe_path(path: &str) -> String {
    path.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_follows_get_and_options_is_always_allowed() {
        let allow = allow_list([Method::GET, Method::POST].iter());
        assert_eq!(
            allow,
            vec![Method::GET, Method::POST, Method::HEAD, Method::OPTIONS]
        );
        assert_eq!(
            allow_list([Method::DELETE].iter()),
            vec![Method::DELETE, Method::OPTIONS]
        );
    }

    #[test]
    fn conflicting_templates_are_an_error() {
        async fn ok(_: RequestCtx) -> HandlerResult {
            Ok(empty(StatusCode::OK))
        }
        let built = Router::builder()
            .route(Method::GET, "/agents/{id}", ok)
            .route(Method::GET, "/agents/{name}", ok)
            .build();
        assert!(built.is_err());
    }
}
