//! An HTTP/1.1 client for 127.0.0.1: well-formed requests through hyper, one connection each,
//! and raw bytes for requests no well-behaved client would send.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest a test request may take before it counts as hung.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Response {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body's first 300 characters, for messages.
    pub fn brief(&self) -> String {
        self.text().chars().take(300).collect()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Whether this is an RFC 9457 problem with the same status in its body.
    pub fn is_problem(&self) -> bool {
        let ct = self.header("content-type").unwrap_or_default();
        let body = self.json();
        ct.starts_with("application/problem+json")
            && body["status"].as_u64() == Some(u64::from(self.status))
            && body["title"].is_string()
            && body["type"].is_string()
    }

    /// Asserts a 4xx problem+json answer, showing the response otherwise.
    #[track_caller]
    pub fn assert_4xx_problem(&self, what: &str) {
        assert!(
            (400..500).contains(&self.status) && self.is_problem(),
            "{what}: expected a 4xx problem+json, got {} {:?}: {}",
            self.status,
            self.header("content-type"),
            self.brief()
        );
    }
}

/// A request being built.
#[derive(Debug, Clone)]
pub struct Req {
    method: Method,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
}

/// Starts a request.
pub fn req(method: &str, path: &str) -> Req {
    Req {
        method: Method::from_bytes(method.as_bytes()).expect("a method"),
        path: path.to_owned(),
        headers: Vec::new(),
        body: Bytes::new(),
    }
}

impl Req {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }

    /// Adds `Authorization: Bearer token`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body.
    pub fn json(self, value: &Value) -> Self {
        self.raw_body("application/json", value.to_string().into_bytes())
    }

    /// Any body with any content type.
    pub fn raw_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers
            .push(("content-type".into(), content_type.as_bytes().to_vec()));
        self.body = Bytes::from(body);
        self
    }

    /// A body with no content type at all.
    pub fn bare_body(mut self, body: Vec<u8>) -> Self {
        self.body = Bytes::from(body);
        self
    }

    /// Sends it on a new connection; an error for transport failures and for a response that
    /// takes longer than [`REQUEST_DEADLINE`].
    pub async fn send(&self, addr: SocketAddr) -> Result<Response, String> {
        self.send_within(addr, REQUEST_DEADLINE).await
    }

    /// [`send`](Self::send) with a deadline of the caller's choosing.
    pub async fn send_within(
        &self,
        addr: SocketAddr,
        deadline: Duration,
    ) -> Result<Response, String> {
        match tokio::time::timeout(deadline, self.send_inner(addr)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no response within {deadline:?}")),
        }
    }

    async fn send_inner(&self, addr: SocketAddr) -> Result<Response, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .header("host", addr.to_string());
        for (name, value) in &self.headers {
            builder = builder.header(
                name.as_str(),
                HeaderValue::from_bytes(value).map_err(|e| format!("header: {e}"))?,
            );
        }
        let request = builder
            .body(Full::new(self.body.clone()))
            .map_err(|e| format!("request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Sends it and panics on a transport error.
    pub async fn ok(&self, addr: SocketAddr) -> Response {
        self.send(addr)
            .await
            .unwrap_or_else(|e| panic!("{} {}: {e}", self.method, self.path))
    }
}

/// Writes `bytes` on a new connection and reads the first response (status, headers, body up
/// to `Content-Length`, or until the server closes). Errors when nothing comes within `deadline`.
pub async fn raw(addr: SocketAddr, bytes: &[u8], deadline: Duration) -> Result<Response, String> {
    let work = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        let mut chunk = [0_u8; 8192];
        loop {
            if let Some(resp) = parse_response(&buf) {
                return Ok(resp);
            }
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return parse_response_at_eof(&buf)
                    .ok_or_else(|| format!("connection closed after {} bytes", buf.len()));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(deadline, work)
        .await
        .map_err(|_| format!("no response within {deadline:?}"))?
}

fn split_head(buf: &[u8]) -> Option<(u16, HeaderMap, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                http::header::HeaderName::from_bytes(k.trim().as_bytes()),
                HeaderValue::from_str(v.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    Some((status, headers, end + 4))
}

fn parse_response(buf: &[u8]) -> Option<Response> {
    let (status, headers, start) = split_head(buf)?;
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"))
    {
        let body = dechunk(&buf[start..])?;
        return Some(Response {
            status,
            headers,
            body,
        });
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())?;
    (buf.len() >= start + len).then(|| Response {
        status,
        body: Bytes::copy_from_slice(&buf[start..start + len]),
        headers,
    })
}

fn parse_response_at_eof(buf: &[u8]) -> Option<Response> {
    parse_response(buf).or_else(|| {
        let (status, headers, start) = split_head(buf)?;
        Some(Response {
            status,
            headers,
            body: Bytes::copy_from_slice(&buf[start..]),
        })
    })
}

fn dechunk(mut data: &[u8]) -> Option<Bytes> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(Bytes::from(out));
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
