//! The HTTP ceiling: a bare hyper HTTP/1.1 handler answering each path with fixed bytes.
//!
//! Each answer is captured from the real server (`curl -si`) and replayed: its status, its
//! headers and its body, so the bytes on the wire are the same (hyper writes `content-length`
//! and `date` itself). Everything plant does per request — routing, auth, the read model,
//! serialisation, logging, metrics — is left out. A file without a status line is served as a
//! JSON body with only `content-type`.
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

/// A captured answer.
#[derive(Debug, Clone)]
pub struct Answer {
    status: StatusCode,
    headers: Vec<(header::HeaderName, header::HeaderValue)>,
    body: Bytes,
}

/// Path (without query) to the answer served for it.
pub type Routes = HashMap<String, Answer>;

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
    let Some(answer) = routes.get(req.uri().path()) else {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    };
    let mut response = Response::new(Full::new(answer.body.clone()));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    for (name, value) in &answer.headers {
        headers.append(name.clone(), value.clone());
    }
    Ok(response)
}

/// Headers hyper writes itself (or that describe a connection, not an answer).
const NOT_REPLAYED: [&str; 5] = [
    "content-length",
    "date",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// An answer from a file: a response captured with `curl -si`, or a bare JSON body.
fn parse_answer(bytes: Vec<u8>) -> Result<Answer, String> {
    if !bytes.starts_with(b"HTTP/") {
        return Ok(Answer {
            status: StatusCode::OK,
            headers: vec![(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            )],
            body: Bytes::from(bytes),
        });
    }
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("a captured response without the blank line after its headers")?;
    let head = std::str::from_utf8(&bytes[..end]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse::<StatusCode>().ok())
        .ok_or("a captured response without a status code")?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not a header line: {line:?}"))?;
        let name =
            header::HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| e.to_string())?;
        if NOT_REPLAYED.contains(&name.as_str()) {
            continue;
        }
        let value = header::HeaderValue::from_str(value.trim()).map_err(|e| e.to_string())?;
        headers.push((name, value));
    }
    Ok(Answer {
        status,
        headers,
        body: Bytes::from(bytes[end + 4..].to_vec()),
    })
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
        let answer = parse_answer(std::fs::read(file)?).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{file}: {e}"))
        })?;
        routes.insert(path.to_owned(), answer);
    }
    Ok(routes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_captured_answer_is_replayed_with_its_status_and_headers() {
        let captured = b"HTTP/1.1 304 Not Modified\r\netag: W/\"s1-ab\"\r\nvary: origin\r\nvary: accept-encoding\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 14:33:56 GMT\r\n\r\n";
        let answer = parse_answer(captured.to_vec()).unwrap();
        assert_eq!(answer.status, StatusCode::NOT_MODIFIED);
        let names: Vec<&str> = answer.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["etag", "vary", "vary"]);
        assert!(answer.body.is_empty());

        let answer = parse_answer(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"status\":\"ok\"}"
                .to_vec(),
        )
        .unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(&answer.body[..], b"{\"status\":\"ok\"}");
    }

    #[test]
    fn a_bare_body_is_served_as_json() {
        let answer = parse_answer(b"[]".to_vec()).unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers.len(), 1);
        assert_eq!(&answer.body[..], b"[]");
    }

    #[test]
    fn a_capture_without_its_blank_line_is_refused() {
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\netag: x".to_vec()).is_err());
    }
}
