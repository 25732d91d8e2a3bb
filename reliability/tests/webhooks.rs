//! Webhooks across processes: two plant-server processes on one database deliver a
//! subscription's entries through one lease, so a receiver on 127.0.0.1 gets each entry once per
//! attempt, never two requests at once, in seq order; and a SIGKILL of the delivering process in
//! the middle of its retries loses nothing: a new process takes over from the cursor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use plant_core::Timestamp;
use plant_reliability::client::req;
use plant_reliability::db::TestDb;
use plant_reliability::server::{Options, Server};
use plant_reliability::{cli, eventually, token};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// What a receiver got: `(webhook-id, seq, status answered)`, in arrival order.
#[derive(Clone, Default)]
struct Inbox {
    got: Arc<Mutex<Vec<(String, u64, u16)>>>,
    /// Statuses to answer, in order (then 200).
    script: Arc<Mutex<VecDeque<u16>>>,
    /// Requests being answered now, and the most ever at once.
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    /// How long each answer takes (widens the window for a second deliverer to overlap).
    delay: Duration,
    /// Milliseconds from each entry's commit time (`data.at`) to its arrival here.
    latencies: Arc<Mutex<Vec<f64>>>,
}

impl Inbox {
    fn got(&self) -> Vec<(String, u64, u16)> {
        self.got.lock().unwrap().clone()
    }

    fn acknowledged(&self) -> Vec<u64> {
        self.got()
            .into_iter()
            .filter(|(_, _, status)| *status == 200)
            .map(|(_, seq, _)| seq)
            .collect()
    }
}

async fn handle(
    inbox: Inbox,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let now = inbox.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    inbox.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let event = serde_json::from_slice::<Value>(&body).unwrap_or_default();
    let seq = event["data"]["seq"].as_u64().unwrap_or(0);
    if let Some(at) = event["data"]["at"]
        .as_str()
        .and_then(|t| t.parse::<Timestamp>().ok())
    {
        let micros = Timestamp::now().micros() - at.micros();
        inbox.latencies.lock().unwrap().push(micros as f64 / 1000.0);
    }
    tokio::time::sleep(inbox.delay).await;
    let status = inbox.script.lock().unwrap().pop_front().unwrap_or(200);
    inbox.got.lock().unwrap().push((id, seq, status));
    inbox.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    Ok(response)
}

/// A receiver on 127.0.0.1.
async fn receiver(inbox: Inbox) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let inbox = inbox.clone();
            tokio::spawn(async move {
                let service = service_fn(move |r| handle(inbox.clone(), r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Fast retries and short leases, loopback allowed.
fn options(db: &TestDb, secret: &str) -> Options {
    Options::database(&db.url)
        .secret(secret)
        .var("PLANT_WEBHOOK_ALLOW_HTTP_LOOPBACK", "1")
        .var("PLANT_WEBHOOK_RETRY_BASE_MS", "50")
        .var("PLANT_WEBHOOK_RETRY_CAP_MS", "200")
        .var("PLANT_WEBHOOK_MAX_ATTEMPTS", "1000")
        .var("PLANT_WEBHOOK_POLL_MS", "50")
        .var("PLANT_WEBHOOK_TIMEOUT_MS", "1000")
        .var("PLANT_WEBHOOK_LEASE_MS", "2000")
}

async fn subscribe(server: &Server, secret: &str, receiver: SocketAddr) -> String {
    let r = req("POST", "/api/v1/webhooks")
        .bearer(&token::role(secret, "operator"))
        .json(&json!({
            "url": format!("http://127.0.0.1:{}/hook", receiver.port()),
            "filter": { "kinds": ["Industry"] },
        }))
        .ok(server.addr)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn create_industry(server: &Server, secret: &str, name: &str) {
    let r = req("POST", "/api/v1/industries")
        .bearer(&token::role(secret, "genesis"))
        .json(&json!({ "name": name }))
        .ok(server.addr)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_deliver_each_entry_once_per_attempt_one_at_a_time_in_order() {
    let Some(db) = TestDb::migrated("webhooks_two").await else {
        return;
    };
    cli::seed(&db.url);
    let secret = plant_reliability::random_secret();
    let a = Server::start(options(&db, &secret));
    let b = Server::start(options(&db, &secret));
    let inbox = Inbox {
        delay: Duration::from_millis(20),
        ..Inbox::default()
    };
    // Every fourth request fails: retries happen while both processes look for due work.
    inbox
        .script
        .lock()
        .unwrap()
        .extend((0..200).map(|i| if i % 4 == 1 { 500 } else { 200 }));
    let addr = receiver(inbox.clone()).await;
    let id = subscribe(&a, &secret, addr).await;
    const N: usize = 30;
    for i in 0..N {
        let server = if i % 2 == 0 { &a } else { &b };
        create_industry(server, &secret, &format!("Two processes {i}")).await;
    }
    let done = eventually(Duration::from_secs(60), || async {
        (inbox.acknowledged().len() >= N).then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "acknowledged {} of {N}",
        inbox.acknowledged().len()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let got = inbox.got();
    assert_eq!(
        inbox.max_in_flight.load(Ordering::SeqCst),
        1,
        "two requests at once"
    );
    let acked = inbox.acknowledged();
    assert_eq!(acked.len(), N, "an entry acknowledged twice: {acked:?}");
    assert!(acked.windows(2).all(|w| w[0] < w[1]), "{acked:?}");
    // Arrivals never go back in seq: a retry repeats the current entry, never an older one.
    assert!(got.windows(2).all(|w| w[0].1 <= w[1].1), "{got:?}");
    for (webhook_id, seq, _) in &got {
        assert_eq!(webhook_id, &format!("plant-audit-{seq}"));
    }
    // Once per attempt: the receiver's requests per entry are the attempts the log records. A
    // receiver has a request before its attempt is logged, so wait for the log to catch up.
    let path = format!("/api/v1/webhooks/{id}/deliveries?limit=1000");
    let fetch_log = || async {
        req("GET", &path)
            .bearer(&token::role(&secret, "operator"))
            .ok(b.addr)
            .await
            .json()
    };
    let caught_up = eventually(Duration::from_secs(30), || async {
        let log = fetch_log().await;
        (log.as_array().map_or(0, Vec::len) >= got.len()).then_some(log)
    })
    .await;
    let log = match caught_up {
        Some(log) => log,
        None => fetch_log().await,
    };
    let mut logged: BTreeMap<u64, u64> = BTreeMap::new();
    for row in log.as_array().unwrap() {
        *logged.entry(row["seq"].as_u64().unwrap()).or_default() += 1;
    }
    let mut received: BTreeMap<u64, u64> = BTreeMap::new();
    for (_, seq, _) in &got {
        *received.entry(*seq).or_default() += 1;
    }
    assert_eq!(received, logged);
    let retried = received.values().filter(|n| **n > 1).count();
    assert!(
        retried > 0,
        "no entry was retried: the test proved less than it says"
    );
    eprintln!(
        "webhooks, two processes: {N} entries, {} requests, {retried} entries retried, never two at once",
        got.len()
    );
    drop((a, b));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_of_the_delivering_process_mid_retry_loses_nothing() {
    let Some(db) = TestDb::migrated("webhooks_kill").await else {
        return;
    };
    cli::seed(&db.url);
    let secret = plant_reliability::random_secret();
    let mut a = Server::start(options(&db, &secret));
    let inbox = Inbox::default();
    inbox.script.lock().unwrap().extend([500; 1000]);
    let addr = receiver(inbox.clone()).await;
    subscribe(&a, &secret, addr).await;
    const N: usize = 5;
    for i in 0..N {
        create_industry(&a, &secret, &format!("Killed mid-retry {i}")).await;
    }
    // The first entry is being retried when the process dies.
    let retrying = eventually(Duration::from_secs(20), || async {
        (inbox.got().len() >= 3).then_some(())
    })
    .await;
    assert!(retrying.is_some(), "no retries seen");
    a.signal("KILL");
    assert!(a.wait_exit(Duration::from_secs(10)).await.is_some());
    let first = inbox.got()[0].1;
    assert!(
        inbox.got().iter().all(|(_, seq, _)| *seq == first),
        "only the first entry was tried"
    );
    // The receiver recovers; a new process on the same database takes over from the cursor.
    inbox.script.lock().unwrap().clear();
    let b = Server::start(options(&db, &secret));
    let done = eventually(Duration::from_secs(30), || async {
        (inbox.acknowledged().len() >= N).then_some(())
    })
    .await;
    assert!(done.is_some(), "acknowledged {:?}", inbox.acknowledged());
    let acked = inbox.acknowledged();
    assert_eq!(acked.len(), N);
    assert_eq!(acked[0], first);
    assert!(acked.windows(2).all(|w| w[0] < w[1]), "{acked:?}");
    drop(b);
    db.drop_db().await;
}

/// A measurement, not a check (speed is for benchmarks): delivery latency from commit to a
/// receiver on 127.0.0.1 while one plant-server process on PostgreSQL takes 100 writes/s.
/// `scripts/test-db.sh run -- cargo test -p plant-reliability --test webhooks figures -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement; prints figures"]
async fn figures_delivery_latency_at_100_writes_per_second_on_postgresql() {
    let Some(db) = TestDb::migrated("webhooks_latency").await else {
        return;
    };
    cli::seed(&db.url);
    let secret = plant_reliability::random_secret();
    // A pool with room for the writes in flight at 100/s on a busy machine.
    let server = Arc::new(Server::start(
        options(&db, &secret).var("PLANT_DB_POOL_SIZE", "32"),
    ));
    let inbox = Inbox::default();
    let addr = receiver(inbox.clone()).await;
    subscribe(&server, &secret, addr).await;
    const WRITES: usize = 1000;
    let per_second: u64 = std::env::var("PLANT_WEBHOOK_FIGURES_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(100);
    // Open loop: a write starts every 1/rate s whether or not the ones before have finished.
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_second));
    let started = std::time::Instant::now();
    let mut writers = Vec::with_capacity(WRITES);
    for i in 0..WRITES {
        tick.tick().await;
        let (server, secret) = (server.clone(), secret.clone());
        writers.push(tokio::spawn(async move {
            create_industry(&server, &secret, &format!("Latency {i}")).await;
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let rate = WRITES as f64 / started.elapsed().as_secs_f64();
    let done = eventually(Duration::from_secs(120), || async {
        (inbox.acknowledged().len() >= WRITES).then_some(())
    })
    .await;
    assert!(done.is_some());
    let mut latencies = inbox.latencies.lock().unwrap().clone();
    latencies.sort_by(f64::total_cmp);
    let at = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    eprintln!(
        "webhook latency, commit to receiver (PostgreSQL, one debug plant-server, {WRITES} writes at {rate:.0}/s): \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(50),
        at(99),
        latencies.last().copied().unwrap_or_default()
    );
    drop(server);
    db.drop_db().await;
}
