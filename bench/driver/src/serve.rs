//! The HTTP ceiling: a bare hyper HTTP/1.1 handler answering each path with fixed bytes.
//!
//! The body is captured from the real server and served with its status, so the wire work is
//! nearly the same, and everything plant does per request — routing, auth, the store,
//! serialisation, logging — is left out. The headers are not replayed: this handler sends
//! `content-type` (and hyper's `content-length` and `date`), where plant-server also sends `vary`,
//! `access-control-expose-headers`, `x-plant-seq`, `x-content-type-options`, `cache-control` and
//! `x-correlation-id` (about 240 bytes more per response), so the ceiling is slightly generous.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Path (without query) to the body served for it.
pub type Routes = HashMap<String, Bytes>;

/// Serves `routes` on `listener` until `max_time` has passed.
pub async fn run(listener: TcpListener, routes: Routes, max_time: Duration) {
    let routes = Arc::new(routes);
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            // Nagle's delay would dominate small answers; the real server disables it too.
            let _ = stream.set_nodelay(true);
            let routes = routes.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(routes.clone(), req));
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    let _ = tokio::time::timeout(max_time, accept).await;
}

async fn answer(
    routes: Arc<Routes>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match routes.get(req.uri().path()) {
        Some(body) => (StatusCode::OK, body.clone()),
        None => (StatusCode::NOT_FOUND, Bytes::new()),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Parses `PATH=FILE` route arguments and reads the files.
pub fn load_routes(specs: &[String]) -> std::io::Result<Routes> {
    let mut routes = Routes::new();
    for spec in specs {
        let (path, file) = spec.split_once('=').ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("a route is PATH=FILE, got {spec:?}"),
            )
        })?;
        routes.insert(path.to_owned(), Bytes::from(std::fs::read(file)?));
    }
    Ok(routes)
}
