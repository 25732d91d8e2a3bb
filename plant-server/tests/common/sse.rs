//! A minimal Server-Sent Events client over raw HTTP/1.1 (chunked bodies), for feed tests.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One event or comment block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
    /// Comment lines (`: …`), without the colon.
    pub comments: Vec<String>,
}

/// An open event stream.
#[derive(Debug)]
pub struct SseClient {
    stream: TcpStream,
    raw: Vec<u8>,
    text: String,
    pub status: u16,
    pub head: String,
    pub body_when_not_stream: String,
}

impl SseClient {
    /// Sends `GET path` with `Accept: text/event-stream` and the extra headers; reads the head.
    pub async fn open(addr: SocketAddr, path: &str, headers: &[(&str, String)]) -> SseClient {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request =
            format!("GET {path} HTTP/1.1\r\nhost: test\r\naccept: text/event-stream\r\n");
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let split = loop {
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let mut buf = [0_u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
                .await
                .expect("response head in time")
                .unwrap();
            assert!(n > 0, "connection closed before the response head");
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let rest = raw[split + 4..].to_vec();
        let mut client = SseClient {
            stream,
            raw: rest,
            text: String::new(),
            status,
            head,
            body_when_not_stream: String::new(),
        };
        if !client.is_event_stream() {
            // A problem response with content-length: read it whole.
            let len: usize = client
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while client.raw.len() < len {
                let mut buf = [0_u8; 4096];
                let n = client.stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                client.raw.extend_from_slice(&buf[..n]);
            }
            client.body_when_not_stream = String::from_utf8_lossy(&client.raw).into_owned();
        }
        client
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn is_event_stream(&self) -> bool {
        self.header("content-type").as_deref() == Some("text/event-stream")
    }

    /// Moves complete chunks of the chunked body into `text`.
    fn dechunk(&mut self) {
        loop {
            let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size_text = String::from_utf8_lossy(&self.raw[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
            let start = line_end + 2;
            if self.raw.len() < start + size + 2 {
                return;
            }
            self.text
                .push_str(&String::from_utf8_lossy(&self.raw[start..start + size]));
            self.raw.drain(..start + size + 2);
        }
    }

    /// The next block (event or comment), or `None` when none arrives within `within` or the
    /// stream ends.
    pub async fn next_block(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            self.dechunk();
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                return Some(parse_block(&block));
            }
            let mut buf = [0_u8; 16384];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await;
            match read {
                Ok(Ok(n)) if n > 0 => self.raw.extend_from_slice(&buf[..n]),
                _ => return None,
            }
        }
    }

    /// The next `entry` event, skipping comments and the `retry` block.
    pub async fn next_entry(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let block = self.next_block(left).await?;
            if block.event.as_deref() == Some("entry") {
                return Some(block);
            }
        }
    }
}

fn parse_block(block: &str) -> Event {
    let mut event = Event {
        id: None,
        event: None,
        data: String::new(),
        comments: Vec::new(),
    };
    for line in block.lines() {
        if let Some(c) = line.strip_prefix(':') {
            event.comments.push(c.trim().to_owned());
        } else if let Some((k, v)) = line.split_once(':') {
            let v = v.strip_prefix(' ').unwrap_or(v).to_owned();
            match k {
                "id" => event.id = Some(v),
                "event" => event.event = Some(v),
                "data" => event.data.push_str(&v),
                _ => {}
            }
        }
    }
    event
}
