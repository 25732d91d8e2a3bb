//! The per-request pipeline: tower and tower-http layers around the axum router, and the one
//! middleware of our own (the edge) that adds what every response carries.
//!
//! From the outside in: the correlation id (read from `X-Correlation-ID` or `X-Request-ID`, else
//! generated; echoed), the request span, response compression (gzip or br by `Accept-Encoding`),
//! the edge (`nosniff`, `Cache-Control`, the consistency token, metrics, the completion log line, and problem bodies for
//! the layers below that answer on their own), CORS (tower-http's), the body limit, catch-panic, the
//! per-request deadline, trailing-slash normalisation and the router.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use futures_util::TryFutureExt;
use futures_util::future::{BoxFuture, Either, MapOk};
use http::{HeaderValue, Method, StatusCode, Uri, header};
use hyper::body::Incoming;
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::{Compression, CompressionBody, CompressionLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::field;

use crate::correlation::{
    CORRELATION_HEADER, CloudTrace, CorrelationId, MakeCorrelationId, drop_insane_id,
};
use crate::problem::{ApiError, PROBLEM_JSON, Unrendered, allow_value, render};
use crate::state::AppState;

/// The router and state, shared by every connection.
#[derive(Debug)]
pub struct App {
    pub state: AppState,
    /// The routing table ([`crate::routes::router`]; tests add endpoints of their own).
    pub router: axum::Router<AppState>,
}

/// The route template a response was produced under, for the metrics and the log (absent on
/// requests that matched no route).
#[derive(Debug, Clone)]
pub struct MatchedRoute(pub MatchedPath);

/// The whole pipeline as one cloneable service.
pub type HttpService = BoxCloneSyncService<http::Request<Incoming>, Response, Infallible>;

/// Marks the response catch-panic made, so the edge renders it as a problem.
#[derive(Debug, Clone, Copy)]
struct Panicked;

impl App {
    /// The service that answers every request of every connection.
    pub fn service(&self) -> HttpService {
        let state = self.state.clone();
        let cors = state.cors().clone();
        let limits = state.limits().clone();
        let router = self
            .router
            .clone()
            .route_layer(MarkRoute)
            .fallback(not_found)
            .with_state(state.clone());
        let router = NormalizePathLayer::trim_trailing_slash().layer(router);
        let service = ServiceBuilder::new()
            .map_request(|request: http::Request<Incoming>| {
                drop_insane_id(request.map(axum::body::Body::new))
            })
            .map_response(|response: http::Response<_>| response.map(axum::body::Body::new))
            .layer(SetRequestIdLayer::new(
                CORRELATION_HEADER.clone(),
                MakeCorrelationId,
            ))
            .layer(PropagateRequestIdLayer::new(CORRELATION_HEADER.clone()))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_request(())
                    .on_response(())
                    .on_body_chunk(())
                    .on_eos(())
                    .on_failure(()),
            )
            .layer(CompressWhenAsked(
                CompressionLayer::new().gzip(true).br(true),
            ))
            .layer(EdgeLayer(state))
            .layer(cors)
            .layer(RequestBodyLimitLayer::new(limits.body_limit))
            .layer(CatchPanicLayer::custom(panicked))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                limits.request_timeout,
            ))
            .service(router);
        HttpService::new(service)
    }
}

/// The span every log line of a request is written in.
fn request_span<B>(request: &http::Request<B>) -> tracing::Span {
    // Set by the request-id layer outside this one, so present and sane.
    let correlation_id = request
        .headers()
        .get(&CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Only what every line inside the request should name: the completion line adds the
    // method, path, route, status and latency as its own fields (recording them on the span
    // would copy each into the span and again into every line).
    let span = tracing::info_span!(
        "request",
        correlation_id,
        trace_id = field::Empty,
        trace_span_id = field::Empty,
        trace_sampled = field::Empty,
    );
    if let Some(trace) = CloudTrace::from_headers(request.headers()) {
        span.record("trace_id", trace.trace_id.as_str());
        if let Some(span_id) = &trace.span_id {
            span.record("trace_span_id", span_id.as_str());
        }
        span.record("trace_sampled", trace.sampled);
    }
    span
}

fn panicked(_: Box<dyn Any + Send + 'static>) -> http::Response<axum::body::Body> {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(Panicked);
    response
}

/// What every response carries (with the consistency token, see [`crate::conditional`]), and
/// the metrics and log line of every request.
///
/// A layer of its own rather than `axum::middleware::from_fn`, which clones the whole stack
/// below it and boxes it again on every request: the request is handed on as it arrives (the
/// handler runs only once the seq it is read at is taken), and only a request that must wait
/// for `min_seq` takes a clone of the stack into its future.
#[derive(Debug, Clone)]
struct EdgeLayer(AppState);

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: self.0.clone(),
        }
    }
}

/// The service of [`EdgeLayer`].
#[derive(Debug, Clone)]
struct Edge<S> {
    inner: S,
    state: AppState,
}

/// The request as the edge hands it on.
enum Handed<S: tower::Service<Request>> {
    /// Called at once: its answer is pending.
    Called(S::Future),
    /// Held until the model reaches `min_seq`, with the ready service that will answer it.
    Waiting(Box<(S, Request)>),
}

impl<S> tower::Service<Request> for Edge<S>
where
    S: tower::Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let seen = Seen {
            started,
            // Kept for a problem body (cheap clones of the request's own bytes).
            uri: request.uri().clone(),
            id: request.headers().get(&CORRELATION_HEADER).cloned(),
            method: request.method().clone(),
        };
        let state = self.state.clone();
        let consistency = match crate::conditional::Consistency::of(&request) {
            Ok(consistency) => consistency,
            Err(err) => {
                let response = finish(&state, &seen, err.into_response());
                return Box::pin(std::future::ready(Ok(response)));
            }
        };
        let handed = if consistency.wanted.is_some() {
            let ready = self.inner.clone();
            Handed::<S>::Waiting(Box::new((
                std::mem::replace(&mut self.inner, ready),
                request,
            )))
        } else {
            Handed::Called(self.inner.call(request))
        };
        Box::pin(async move {
            let response = match consistency
                .before(state.model_seq(), state.limits().min_seq_wait)
                .await
            {
                Err(behind) => behind,
                Ok(before) => {
                    let Ok(answered) = match handed {
                        Handed::Called(future) => future.await,
                        Handed::Waiting(waiting) => {
                            let (mut inner, request) = *waiting;
                            inner.call(request).await
                        }
                    };
                    consistency
                        .answer(state.model_seq(), before, answered.into_response())
                        .await
                }
            };
            Ok(finish(&state, &seen, response))
        })
    }
}

/// What the edge keeps of a request for its answer.
struct Seen {
    started: Instant,
    uri: Uri,
    id: Option<HeaderValue>,
    method: Method,
}

/// The headers, problem rendering, metrics and log line every answer gets.
fn finish(state: &AppState, seen: &Seen, mut response: Response) -> Response {
    let route = response.extensions_mut().remove::<MatchedRoute>();
    let route = route.as_ref().map(|r| r.0.as_str());
    if seen.method == Method::OPTIONS && response.status() == StatusCode::METHOD_NOT_ALLOWED {
        // A known path asked what it allows (not a CORS preflight: see `cors`).
        *response.status_mut() = StatusCode::NO_CONTENT;
        let allow = allowed(response.headers());
        response
            .headers_mut()
            .insert(header::ALLOW, allow_value(&allow));
    } else if let Some(err) = unrendered(&mut response, state.limits().body_limit) {
        let correlation_id = CorrelationId::from_value(seen.id.as_ref());
        // The consistency token the layer inside set survives the rendering.
        let seq = response
            .headers_mut()
            .remove(&crate::conditional::SEQ_HEADER);
        response = render(&err, seen.uri.path(), &correlation_id);
        if let Some(seq) = seq {
            response
                .headers_mut()
                .insert(crate::conditional::SEQ_HEADER.clone(), seq);
        }
    }

    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));

    let status = response.status();
    let elapsed = seen.started.elapsed();
    state.metrics().observe(
        route.unwrap_or(crate::metrics::UNMATCHED),
        &seen.method,
        status.as_u16(),
        elapsed,
    );
    let latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    macro_rules! completed {
        ($level:expr, $message:literal) => {
            tracing::event!(
                $level,
                method = seen.method.as_str(),
                path = seen.uri.path(),
                route,
                status = status.as_u16(),
                latency_ms,
                $message
            )
        };
    }
    if status.is_server_error() {
        completed!(tracing::Level::WARN, "request failed");
    } else if route.is_some_and(is_probe) {
        // Load balancers and Cloud Run poll these every few seconds: a line each would bury
        // the requests that matter. They still count in /metrics; failures log above.
        completed!(tracing::Level::DEBUG, "request completed");
    } else {
        completed!(tracing::Level::INFO, "request completed");
    }
    response
}

/// The error behind a response that is not rendered yet: an [`ApiError`] an axum handler or
/// extractor returned, or the answer a layer made on its own (body limit, catch-panic,
/// deadline). Each is answered as problem+json like every other error.
fn unrendered(response: &mut Response, body_limit: usize) -> Option<Arc<ApiError>> {
    if let Some(Unrendered(err)) = response.extensions_mut().remove::<Unrendered>() {
        return Some(err);
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem {
        return None;
    }
    let err = if response.extensions().get::<Panicked>().is_some() {
        ApiError::internal("handler panicked")
    } else {
        match response.status() {
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed {
                allow: allowed(response.headers()),
            },
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: body_limit },
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Timeout,
            _ => return None,
        }
    };
    Some(Arc::new(err))
}

/// The methods a path allows: axum's `Allow` (which has `HEAD` beside `GET`), and `OPTIONS`.
fn allowed(headers: &http::HeaderMap) -> Vec<Method> {
    let mut allow: Vec<Method> = headers
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(',')
        .filter_map(|m| m.trim().parse().ok())
        .collect();
    allow.push(Method::OPTIONS);
    allow
}

/// Names the route of each request, for the log and the metrics: a layer on the routes (where
/// axum's `MatchedPath` is known) that neither boxes nor clones per request.
#[derive(Debug, Clone, Copy)]
struct MarkRoute;

impl<S> Layer<S> for MarkRoute {
    type Service = Marked<S>;

    fn layer(&self, inner: S) -> Marked<S> {
        Marked(inner)
    }
}

/// A route's service, marked by [`MarkRoute`].
#[derive(Debug, Clone)]
struct Marked<S>(S);

impl<S> tower::Service<Request> for Marked<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = MarkedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        MarkedFuture {
            inner: self.0.call(request),
            route,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of a [`Marked`] route, carrying its [`MatchedRoute`].
    struct MarkedFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F, E> Future for MarkedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(MatchedRoute(route));
        }
        Poll::Ready(Ok(response))
    }
}

/// A path no route serves: 404 problem+json.
async fn not_found(uri: Uri) -> ApiError {
    // Paths are echoed in the detail; cap them so a huge path is not reflected whole.
    let path: String = uri.path().chars().take(200).collect();
    ApiError::NotFound(format!("no resource at {path}"))
}

/// Liveness and readiness routes, logged at debug when they succeed.
fn is_probe(route: &str) -> bool {
    matches!(route, "/health" | "/ready")
}

/// tower-http's compression, entered only by requests that send `Accept-Encoding`.
///
/// A compression body holds every encoder's state inline (5.8 KB with brotli's), and each layer
/// outside moved it again: on `/health` those copies cost more than the bytes sent. A request
/// without `Accept-Encoding` would be answered in identity anyway; it skips the layer and gets
/// the same headers, `Vary: accept-encoding` on every answer the layer would have compressed
/// for a client that asked. Compressed bodies are boxed as soon as they are made.
#[derive(Clone)]
struct CompressWhenAsked(CompressionLayer);

impl<S> Layer<S> for CompressWhenAsked {
    type Service = CompressOrNot<S>;

    fn layer(&self, inner: S) -> CompressOrNot<S> {
        CompressOrNot(self.0.layer(inner))
    }
}

/// The service of [`CompressWhenAsked`].
#[derive(Clone)]
struct CompressOrNot<S>(Compression<S>);

impl std::fmt::Debug for CompressWhenAsked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressWhenAsked").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for CompressOrNot<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressOrNot").finish_non_exhaustive()
    }
}

type Uncompressed = fn(Response) -> Response;

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for CompressOrNot<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = Response;
    type Error = S::Error;
    // tower-http does not name its compression future: that branch is boxed.
    type Future =
        Either<BoxFuture<'static, Result<Response, S::Error>>, MapOk<S::Future, Uncompressed>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        // Compression's readiness is its inner service's, which either branch calls.
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        if request.headers().contains_key(header::ACCEPT_ENCODING) {
            Either::Left(Box::pin(self.0.call(request).map_ok(
                |response: http::Response<CompressionBody<Body>>| response.map(Body::new),
            )))
        } else {
            Either::Right(
                self.0
                    .get_mut()
                    .call(request)
                    .map_ok(vary_as_if_compressed as Uncompressed),
            )
        }
    }
}

/// Whether `Vary` names `Accept-Encoding` already.
fn varies_on_accept_encoding(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding"))
}

/// The `Vary` tower-http's compression adds to an answer it would compress for a client that
/// asked (its own default predicate decides), so caches keep the two forms apart.
fn vary_as_if_compressed(mut response: Response) -> Response {
    let compressible = !response.headers().contains_key(header::CONTENT_ENCODING)
        && !response.headers().contains_key(header::CONTENT_RANGE)
        && DefaultPredicate::new().should_compress(&response);
    // Only an answer that would be compressed has its `Vary` read.
    if compressible && !varies_on_accept_encoding(response.headers()) {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}
