//! The per-request pipeline: correlation and logging span, CORS, routing, content type, body limit,
//! deadline, handler, problem rendering, and the headers every response carries.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use http::{HeaderValue, Method, Request, StatusCode, header};
use hyper::body::Incoming;
use tracing::{Instrument, field};

use crate::body::{check_content_type, read_limited};
use crate::context::RequestCtx;
use crate::correlation::{CORRELATION_HEADER, CloudTrace, CorrelationId};
use crate::cors::Cors;
use crate::problem::ApiError;
use crate::query::Query;
use crate::response::{Response, empty};
use crate::router::Router;
use crate::state::AppState;

/// The router and state, shared by every connection.
#[derive(Debug)]
pub struct App {
    pub state: AppState,
    pub router: Router,
}

/// Serves one request. Never fails: every error becomes a problem+json response.
pub async fn handle(
    app: Arc<App>,
    peer: Option<SocketAddr>,
    request: Request<Incoming>,
) -> Result<Response, Infallible> {
    let started = Instant::now();
    let correlation_id = CorrelationId::from_headers(request.headers());
    let trace = CloudTrace::from_headers(request.headers());
    let span = tracing::info_span!(
        "request",
        correlation_id = correlation_id.as_str(),
        method = request.method().as_str(),
        path = request.uri().path(),
        route = field::Empty,
        status = field::Empty,
        latency_ms = field::Empty,
        trace_id = field::Empty,
        trace_span_id = field::Empty,
        trace_sampled = field::Empty,
    );
    if let Some(trace) = &trace {
        span.record("trace_id", trace.trace_id.as_str());
        if let Some(span_id) = &trace.span_id {
            span.record("trace_span_id", span_id.as_str());
        }
        span.record("trace_sampled", trace.sampled);
    }

    let origin = request.headers().get(header::ORIGIN).cloned();
    let method = request.method().clone();
    let mut route = None;
    let mut response = dispatch(&app, peer, request, &correlation_id, &mut route)
        .instrument(span.clone())
        .await;

    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(correlation_id.as_str()) {
        headers.insert(&CORRELATION_HEADER, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if !response
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        let mut origin_headers = http::HeaderMap::new();
        if let Some(origin) = origin {
            origin_headers.insert(header::ORIGIN, origin);
        }
        app.state.cors().decorate(&origin_headers, &mut response);
    }

    let status = response.status();
    app.state.metrics().observe(
        route.unwrap_or(crate::metrics::UNMATCHED),
        &method,
        status.as_u16(),
        started.elapsed(),
    );
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("status", status.as_u16());
    span.record("latency_ms", latency_ms);
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!("request failed");
        } else if route.is_some_and(is_probe) {
            // Load balancers and Cloud Run poll these every few seconds: a line each would bury
            // the requests that matter. They still count in /metrics; failures log above.
            tracing::debug!("request completed");
        } else {
            tracing::info!("request completed");
        }
    });
    Ok(response)
}

/// Liveness and readiness routes, logged at debug when they succeed.
fn is_probe(route: &str) -> bool {
    matches!(route, "/health" | "/ready")
}

async fn dispatch(
    app: &App,
    peer: Option<SocketAddr>,
    request: Request<Incoming>,
    correlation_id: &CorrelationId,
    route: &mut Option<&'static str>,
) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if Cors::is_preflight(&method, request.headers()) {
        return app.state.cors().preflight(request.headers());
    }
    if method == Method::OPTIONS
        && let Some(allow) = app.router.allowed(&path)
    {
        let mut response = empty(StatusCode::NO_CONTENT);
        let names: Vec<&str> = allow.iter().map(Method::as_str).collect();
        if let Ok(v) = HeaderValue::from_str(&names.join(", ")) {
            response.headers_mut().insert(header::ALLOW, v);
        }
        return response;
    }
    match run_handler(app, peer, request, correlation_id, route).await {
        Ok(response) => response,
        Err(err) => {
            let status = err.status();
            if status.is_server_error() {
                tracing::error!(error = %err.cause_chain(), "request failed");
            } else {
                tracing::info!(error = %err, "request refused");
            }
            err.into_response(&path, correlation_id.as_str())
        }
    }
}

async fn run_handler(
    app: &App,
    peer: Option<SocketAddr>,
    request: Request<Incoming>,
    correlation_id: &CorrelationId,
    route: &mut Option<&'static str>,
) -> Result<Response, ApiError> {
    let matched = app.router.resolve(request.method(), request.uri().path())?;
    *route = Some(matched.template);
    tracing::Span::current().record("route", matched.template);
    check_content_type(request.method(), request.headers())?;

    let (parts, body) = request.into_parts();
    let limits = app.state.limits();
    let state = app.state.clone();
    let work = async move {
        let body = read_limited(body, &parts.headers, limits.body_limit).await?;
        let ctx = RequestCtx {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            route: matched.template,
            params: matched.params,
            query: Query::parse(parts.uri.query()),
            headers: parts.headers,
            body,
            correlation_id: correlation_id.clone(),
            peer,
            state,
        };
        // A panicking handler must not take the connection down with it.
        match AssertUnwindSafe((matched.handler)(ctx))
            .catch_unwind()
            .await
        {
            Ok(result) => result,
            Err(_) => Err(ApiError::internal("handler panicked")),
        }
    };
    match tokio::time::timeout(limits.request_timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::Timeout),
    }
}
