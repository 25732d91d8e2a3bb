//! Routing with matchit: a path template per endpoint and a handler per method; 404 for unknown
//! paths, 405 with `Allow` for known paths and other methods.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::Method;

use crate::context::RequestCtx;
use crate::problem::ApiError;
use crate::response::Response;

/// What a handler returns.
pub type HandlerResult = Result<Response, ApiError>;

/// A type-erased request handler.
pub type Handler = Arc<dyn Fn(RequestCtx) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// The endpoints under one path template.
#[derive(Clone)]
struct Endpoint {
    template: &'static str,
    methods: Vec<(Method, Handler)>,
}

/// A route could not be registered (two templates that conflict).
#[derive(Debug, thiserror::Error)]
#[error("route {template} cannot be registered")]
pub struct RouteError {
    template: &'static str,
    #[source]
    source: matchit::InsertError,
}

/// Collects routes before building the matcher.
#[derive(Default)]
pub struct RouterBuilder {
    endpoints: BTreeMap<&'static str, Endpoint>,
}

impl RouterBuilder {
    /// Registers `handler` for `method` on `template` (matchit syntax: `/agents/{id}`).
    pub fn route<F, Fut>(mut self, method: Method, template: &'static str, handler: F) -> Self
    where
        F: Fn(RequestCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |ctx| Box::pin(handler(ctx)));
        let endpoint = self.endpoints.entry(template).or_insert_with(|| Endpoint {
            template,
            methods: Vec::new(),
        });
        endpoint.methods.retain(|(m, _)| *m != method);
        endpoint.methods.push((method, handler));
        self
    }

    /// Builds the matcher.
    pub fn build(self) -> Result<Router, RouteError> {
        let mut inner = matchit::Router::new();
        for (template, endpoint) in self.endpoints {
            inner
                .insert(template, endpoint)
                .map_err(|source| RouteError { template, source })?;
        }
        Ok(Router { inner })
    }
}

impl std::fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("templates", &self.endpoints.keys())
            .finish()
    }
}

/// The built router.
pub struct Router {
    inner: matchit::Router<Endpoint>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}

/// A request matched to its handler.
pub struct Matched {
    pub template: &'static str,
    pub handler: Handler,
    pub params: Vec<(String, String)>,
}

impl std::fmt::Debug for Matched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matched")
            .field("template", &self.template)
            .field("params", &self.params)
            .finish()
    }
}

impl Router {
    /// Starts a router.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// The methods served on `path`, when the path is known (HEAD follows GET).
    pub fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let found = self.inner.at(normalise(path)).ok()?;
        Some(allow_list(found.value))
    }

    /// Finds the handler for `method` on `path`.
    pub fn resolve(&self, method: &Method, path: &str) -> Result<Matched, ApiError> {
        let found = self
            .inner
            .at(normalise(path))
            .map_err(|_| ApiError::NotFound(format!("no resource at {}", safe_path(path))))?;
        let wanted = if *method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let Some((_, handler)) = found.value.methods.iter().find(|(m, _)| m == wanted) else {
            return Err(ApiError::MethodNotAllowed {
                allow: allow_list(found.value),
            });
        };
        Ok(Matched {
            template: found.value.template,
            handler: handler.clone(),
            params: found
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        })
    }
}

fn allow_list(endpoint: &Endpoint) -> Vec<Method> {
    let mut allow: Vec<Method> = endpoint.methods.iter().map(|(m, _)| m.clone()).collect();
    if allow.contains(&Method::GET) {
        allow.push(Method::HEAD);
    }
    allow.push(Method::OPTIONS);
    allow
}

/// `/agents/` matches `/agents`.
fn normalise(path: &str) -> &str {
    if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    }
}

/// Paths are echoed in error details; cap them so a huge path is not reflected whole.
fn safe_path(path: &str) -> String {
    path.chars().take(200).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::response::empty;
    use http::StatusCode;

    async fn ok(_: RequestCtx) -> HandlerResult {
        Ok(empty(StatusCode::OK))
    }

    fn router() -> Router {
        Router::builder()
            .route(Method::GET, "/agents", ok)
            .route(Method::POST, "/agents", ok)
            .route(Method::GET, "/agents/me", ok)
            .route(Method::GET, "/agents/{id}", ok)
            .build()
            .unwrap()
    }

    #[test]
    fn static_segments_win_over_parameters() {
        let r = router();
        assert_eq!(
            r.resolve(&Method::GET, "/agents/me").ok().unwrap().template,
            "/agents/me"
        );
        let m = r.resolve(&Method::GET, "/agents/42/").ok().unwrap();
        assert_eq!(m.template, "/agents/{id}");
        assert_eq!(m.params, vec![("id".to_owned(), "42".to_owned())]);
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
        let r = router();
        assert!(matches!(
            r.resolve(&Method::GET, "/nope"),
            Err(ApiError::NotFound(_))
        ));
        match r.resolve(&Method::DELETE, "/agents") {
            Err(ApiError::MethodNotAllowed { allow }) => {
                assert!(allow.contains(&Method::GET) && allow.contains(&Method::POST));
            }
            _ => panic!("expected 405"),
        }
        assert!(r.resolve(&Method::HEAD, "/agents").is_ok());
    }
}
