//! Resource bounds: 1,000 idle connections and a slow-loris client do not stop normal requests
//! from being served, and the server closes both within its header timeout.
//!
//! The limits under test are the defaults: `PLANT_MAX_CONNECTIONS=1024` open connections
//! (more wait in the kernel's backlog), `PLANT_HEADER_TIMEOUT_MS=10000` to send a request head,
//! `PLANT_BODY_LIMIT=1048576` bytes, `PLANT_REQUEST_TIMEOUT_MS=15000` per request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use plant_reliability::client::req;
use plant_reliability::server::{Options, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IDLE: usize = 1000;
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_idle_connections_and_a_slow_loris_do_not_stop_normal_requests() {
    let mut server = Server::start(Options::memory());
    let addr = server.addr;
    let opened = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(
            TcpStream::connect(addr)
                .await
                .expect("open an idle connection"),
        );
    }

    // Slow loris: a request head trickled one header line every 500 ms.
    let loris = tokio::spawn(async move {
        let started = Instant::now();
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        for i in 0..120 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if s.write_all(format!("x-slow-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return Some(started.elapsed());
            }
            let mut byte = [0_u8; 1];
            if let Ok(Ok(0)) =
                tokio::time::timeout(Duration::from_millis(1), s.read(&mut byte)).await
            {
                return Some(started.elapsed());
            }
        }
        None
    });

    // Normal traffic meanwhile.
    let mut slowest = Duration::ZERO;
    for i in 0..40 {
        let started = Instant::now();
        let path = if i % 2 == 0 {
            "/health"
        } else {
            "/api/v1/agents?limit=5"
        };
        let r = req("GET", path)
            .send_within(addr, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| {
                panic!("a normal request was not served beside {IDLE} idle connections: {e}")
            });
        assert_eq!(r.status, 200, "{path}: {}", r.brief());
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The idle connections are closed by the server once the header timeout passes.
    let deadline = opened + HEADER_TIMEOUT + Duration::from_secs(10);
    let mut closed = 0;
    for mut s in idle {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut byte = [0_u8; 1];
        if matches!(
            tokio::time::timeout(left, s.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        ) {
            closed += 1;
        }
    }
    let loris_cut = loris.await.unwrap();
    assert_eq!(
        closed, IDLE,
        "idle connections still open past the header timeout"
    );
    let loris_cut = loris_cut.expect("the slow-loris connection is cut");
    assert!(
        loris_cut <= HEADER_TIMEOUT + Duration::from_secs(5),
        "the slow loris was cut only after {loris_cut:?}"
    );
    assert!(server.alive());
    let r = req("GET", "/health").ok(addr).await;
    assert_eq!(r.status, 200);
    eprintln!(
        "bounds: {IDLE} idle connections + 1 slow loris; 40 normal requests, slowest {:.3} s; \
         idle closed within {:.1} s, slow loris cut after {:.1} s",
        slowest.as_secs_f64(),
        (HEADER_TIMEOUT + Duration::from_secs(10)).as_secs_f64(),
        loris_cut.as_secs_f64()
    );
}
