//! CORS from tower-http's [`CorsLayer`]: the `CORS_ORIGINS` allow-list, preflight answers, and
//! the headers added to actual responses.
//!
//! tower-http answers every `OPTIONS` as a preflight. An `OPTIONS` without
//! `Access-Control-Request-Method` is not one (Fetch only sends preflights with it), so
//! [`Cors`] passes those on to the router, which answers with the path's `Allow`.

use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::Either;
use http::{HeaderName, HeaderValue, Method, Request, header};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::CorsOrigins;

const ALLOWED_METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];
const ALLOWED_HEADERS: [HeaderName; 6] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    HeaderName::from_static("x-correlation-id"),
    HeaderName::from_static("x-request-id"),
];
const EXPOSED_HEADERS: [HeaderName; 6] = [
    header::ETAG,
    header::LINK,
    header::LOCATION,
    HeaderName::from_static("x-correlation-id"),
    header::WWW_AUTHENTICATE,
    header::RETRY_AFTER,
];
const MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for the configured origins. Listed origins match without regard to case or a
/// trailing `/`; `*` echoes any origin.
pub fn layer(origins: &CorsOrigins) -> CorsPolicy {
    let allow = match origins.clone() {
        CorsOrigins::Any => AllowOrigin::mirror_request(),
        CorsOrigins::List(list) => AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|text| {
                let text = text.trim_end_matches('/').to_ascii_lowercase();
                list.contains(&text)
            })
        }),
    };
    CorsPolicy(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods(ALLOWED_METHODS)
            .allow_headers(ALLOWED_HEADERS)
            .expose_headers(EXPOSED_HEADERS)
            .max_age(MAX_AGE),
    )
}

/// Whether a request is a CORS preflight (rather than an `OPTIONS` asking what a path allows).
pub fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// [`CorsLayer`], except for `OPTIONS` requests that are not preflights.
#[derive(Debug, Clone)]
pub struct CorsPolicy(CorsLayer);

impl<S> Layer<S> for CorsPolicy {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cors(self.0.layer(inner))
    }
}

/// The service [`CorsPolicy`] makes.
#[derive(Debug, Clone)]
pub struct Cors<S>(tower_http::cors::Cors<S>);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, tower_http::cors::ResponseFuture<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Polls the inner service, which either branch then calls.
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.method() == Method::OPTIONS && !is_preflight(&request) {
            Either::Left(self.0.get_mut().call(request))
        } else {
            Either::Right(self.0.call(request))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::convert::Infallible;

    use http::{Response, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn answer(method: Method, headers: &[(&str, &str)]) -> Response<String> {
        let app = tower::service_fn(|_: Request<()>| async {
            let mut response = Response::new(String::new());
            *response.status_mut() = StatusCode::NO_CONTENT;
            Ok::<_, Infallible>(response)
        });
        let policy = layer(&CorsOrigins::List(vec!["https://cp.example".into()]));
        let mut request = Request::builder().method(method);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        policy
            .layer(app)
            .oneshot(request.body(()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn listed_origins_match_without_case_or_trailing_slash() {
        let allowed = answer(Method::GET, &[("origin", "https://CP.example/")]).await;
        assert_eq!(
            allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://CP.example/"
        );
        let foreign = answer(Method::GET, &[("origin", "https://evil.example")]).await;
        assert!(
            !foreign
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
    }

    #[tokio::test]
    async fn only_preflights_are_answered_by_the_layer() {
        let preflight = answer(
            Method::OPTIONS,
            &[
                ("origin", "https://cp.example"),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
        assert_eq!(preflight.status(), StatusCode::OK);
        assert!(
            preflight
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS)
        );
        // Reaches the inner service, which answers 204.
        let plain = answer(Method::OPTIONS, &[]).await;
        assert_eq!(plain.status(), StatusCode::NO_CONTENT);
    }
}
