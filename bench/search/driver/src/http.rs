//! Closed-loop HTTP load on `GET /api/v1/search`: `concurrency` keep-alive connections, each
//! sending its next request as soon as the previous answer has been read, rotating through the
//! query set. A minimal HTTP/1.1 client over a TCP stream (Content-Length or chunked bodies).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::stats::Summary;
use crate::{BoxResult, log};

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request bytes for one query (`mode` empty: the server's default).
pub fn request(addr: SocketAddr, query: &str, kind: Option<&str>, k: u32, mode: &str) -> Vec<u8> {
    let kind = kind
        .map(|k| format!("&kind={}", encode(k)))
        .unwrap_or_default();
    let mode = if mode.is_empty() {
        String::new()
    } else {
        format!("&mode={}", encode(mode))
    };
    format!(
        "GET /api/v1/search?q={}{kind}&k={k}{mode} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n",
        encode(query)
    )
    .into_bytes()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one response; returns its status and whether the server keeps the connection open.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> BoxResult<(u16, bool)> {
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed before the response head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("malformed status line")?;
    let keep_alive = !head.contains("\r\nconnection: close");
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    if let Some(length) = length {
        while buf.len() < head_end + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err("connection closed inside the body".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    } else if head.contains("transfer-encoding: chunked") {
        while find(&buf[head_end..], b"\r\n0\r\n\r\n").is_none()
            && !buf[head_end..].starts_with(b"0\r\n\r\n")
        {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err("connection closed inside a chunked body".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    } else {
        return Err("response without a length".into());
    }
    Ok((status, keep_alive))
}

/// Options of one load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub addr: SocketAddr,
    pub concurrency: usize,
    pub requests: u64,
    pub warmup: u64,
    pub max_secs: f64,
    pub kind: Option<String>,
    pub k: u32,
    /// `mode=` (`semantic`, `hybrid`, `lexical`); empty: the server's default.
    pub mode: String,
    pub label: String,
}

/// Runs the load and returns a JSON report (latencies in milliseconds).
pub async fn run(spec: &LoadSpec, queries: &[String]) -> BoxResult<serde_json::Value> {
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        queries
            .iter()
            .map(|q| request(spec.addr, q, spec.kind.as_deref(), spec.k, &spec.mode))
            .collect(),
    );
    // Warm-up: sequential, not measured.
    let mut warm = TcpStream::connect(spec.addr).await?;
    warm.set_nodelay(true)?;
    let mut buf = Vec::new();
    for i in 0..spec.warmup {
        let req = &requests[(i as usize) % requests.len()];
        warm.write_all(req).await?;
        let (status, _) = read_response(&mut warm, &mut buf).await?;
        if status != 200 {
            return Err(format!(
                "warm-up request answered {status}: {}",
                String::from_utf8_lossy(&buf)
            )
            .into());
        }
    }
    drop(warm);

    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(spec.max_secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..spec.concurrency {
        let requests = requests.clone();
        let issued = issued.clone();
        let addr = spec.addr;
        let total = spec.requests;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
            let mut buf = Vec::new();
            let mut stream: Option<TcpStream> = None;
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= total || Instant::now() >= deadline {
                    break;
                }
                let req = &requests[(n as usize + w * 31) % requests.len()];
                let t = Instant::now();
                let result: BoxResult<(u16, bool)> = async {
                    if stream.is_none() {
                        let s = TcpStream::connect(addr).await?;
                        s.set_nodelay(true)?;
                        stream = Some(s);
                    }
                    let s = stream.as_mut().ok_or("no stream")?;
                    s.write_all(req).await?;
                    read_response(s, &mut buf).await
                }
                .await;
                match result {
                    Ok((status, keep_alive)) => {
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                        *statuses.entry(status).or_default() += 1;
                        if !keep_alive {
                            stream = None;
                        }
                    }
                    Err(_) => {
                        errors += 1;
                        stream = None;
                    }
                }
            }
            (lat, errors, statuses)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for task in tasks {
        let (lat, e, s) = task.await?;
        latencies.extend(lat);
        errors += e;
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let done = latencies.len();
    let summary = Summary::of(&mut latencies);
    log(&format!(
        "{} c={}: {done} requests in {elapsed:.1} s ({:.1}/s), p50 {:.2} ms, p99 {:.2} ms, errors {errors}, statuses {statuses:?}",
        spec.label,
        spec.concurrency,
        done as f64 / elapsed,
        summary.p50,
        summary.p99
    ));
    Ok(serde_json::json!({
        "step": "http",
        "label": spec.label,
        "concurrency": spec.concurrency,
        "kind": spec.kind,
        "mode": spec.mode,
        "k": spec.k,
        "requests": done,
        "errors": errors,
        "statuses": statuses.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
        "secs": (elapsed * 100.0).round() / 100.0,
        "rps": (done as f64 / elapsed * 10.0).round() / 10.0,
        "latency_ms": summary.json(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("a b&c/é"), "a%20b%26c%2F%C3%A9");
        assert_eq!(encode("AZaz09-_.~"), "AZaz09-_.~");
    }

    #[test]
    fn builds_a_request_line() {
        let addr: SocketAddr = "127.0.0.1:8000".parse().expect("address");
        let req =
            String::from_utf8(request(addr, "seo help", Some("agent"), 10, "")).expect("utf8");
        assert!(req.starts_with("GET /api/v1/search?q=seo%20help&kind=agent&k=10 HTTP/1.1\r\n"));
        let req = String::from_utf8(request(addr, "seo", None, 5, "hybrid")).expect("utf8");
        assert!(req.starts_with("GET /api/v1/search?q=seo&k=5&mode=hybrid HTTP/1.1\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
    }
}
