//! The change feed and the metrics listener over real HTTP, on the in-memory store, or on
//! PostgreSQL when `PLANT_TEST_ADMIN_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::sse::SseClient;
use common::{Options, TestServer, req, start, start_with, token};
use serde_json::{Value, json};

const FEED: &str = "/api/v1/audit/feed";

fn bearer(s: &TestServer, role: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {}", token(s, role)))
}

async fn head_seq(s: &TestServer) -> u64 {
    // Page to the end: `next` of an empty page is the head.
    let mut after = 0;
    loop {
        let page = req("GET", &format!("{FEED}?after={after}&limit=1000"))
            .bearer(&token(s, "operator"))
            .send(s)
            .await
            .json();
        let next = page["next"].as_u64().unwrap();
        if page["entries"].as_array().unwrap().is_empty() {
            return next;
        }
        after = next;
    }
}

async fn create_skill(s: &TestServer, name: &str) -> Value {
    let r = req("POST", "/api/v1/genesis/skills")
        .bearer(&token(s, "genesis"))
        .json(&json!({ "name": name, "description": "Writes feeds.", "category": "technical" }))
        .send(s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn seq_of(event: &common::sse::Event) -> u64 {
    let id: u64 = event.id.as_deref().unwrap().parse().unwrap();
    let data: Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(data["seq"].as_u64(), Some(id), "id is the entry's seq");
    id
}

#[tokio::test]
async fn feed_pages_are_in_order_with_a_next_cursor_and_bad_values_are_422() {
    let s = start().await;
    let op = token(&s, "operator");
    let page = req("GET", &format!("{FEED}?after=2&limit=5"))
        .bearer(&op)
        .send(&s)
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.json();
    let seqs: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![3, 4, 5, 6, 7]);
    assert_eq!(page["next"], 7);
    let entry = &page["entries"][0];
    for field in [
        "entity_id",
        "entity_type",
        "action",
        "actor",
        "at",
        "hash",
        "prev_hash",
    ] {
        assert!(!entry[field].is_null(), "entry lacks {field}: {entry}");
    }
    // The next page starts right after the cursor.
    let next = req("GET", &format!("{FEED}?after=7&limit=1"))
        .bearer(&op)
        .send(&s)
        .await
        .json();
    assert_eq!(next["entries"][0]["seq"], 8);
    // Past the head: empty, and the cursor stays.
    let head = head_seq(&s).await;
    let empty = req("GET", &format!("{FEED}?after={head}"))
        .bearer(&op)
        .send(&s)
        .await
        .json();
    assert_eq!(empty, json!({ "entries": [], "next": head }));

    for bad in ["limit=0", "limit=1001", "limit=ten", "after=-1", "after=x"] {
        req("GET", &format!("{FEED}?{bad}"))
            .bearer(&op)
            .send(&s)
            .await
            .problem(422);
    }
    req("GET", FEED).send(&s).await.problem(401);
    req("GET", FEED)
        .bearer(&token(&s, "customer"))
        .send(&s)
        .await
        .problem(403);
    // The stream checks its cursor too.
    let bad = SseClient::open(
        s.addr,
        FEED,
        &[bearer(&s, "operator"), ("last-event-id", "abc".into())],
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body_when_not_stream);
    let anonymous = SseClient::open(s.addr, FEED, &[]).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn sse_streams_new_writes_and_resumes_from_last_event_id_without_gaps_or_duplicates() {
    let s = start().await;
    let head = head_seq(&s).await;
    assert!(head > 3);
    let mut seen = Vec::new();

    // Catch-up from `after`, then live.
    let mut stream = SseClient::open(
        s.addr,
        &format!("{FEED}?after={}", head - 3),
        &[bearer(&s, "operator")],
    )
    .await;
    assert_eq!(stream.status, 200);
    assert!(stream.is_event_stream());
    assert_eq!(stream.header("cache-control").as_deref(), Some("no-cache"));
    for _ in 0..3 {
        let event = stream.next_entry(Duration::from_secs(5)).await.unwrap();
        seen.push(seq_of(&event));
    }
    let created = create_skill(&s, "Feed Writing").await;
    let live = stream
        .next_entry(Duration::from_secs(2))
        .await
        .expect("the write is streamed");
    seen.push(seq_of(&live));
    let data: Value = serde_json::from_str(&live.data).unwrap();
    assert_eq!(data["entity_id"], created["id"]);
    assert_eq!(data["action"], "create");
    drop(stream);

    // Two writes while disconnected; the resumed stream starts right after the last id seen,
    // even though `after` says otherwise (Last-Event-ID wins).
    create_skill(&s, "Feed Reading").await;
    create_skill(&s, "Feed Parsing").await;
    let last = *seen.last().unwrap();
    let mut resumed = SseClient::open(
        s.addr,
        &format!("{FEED}?after=0"),
        &[bearer(&s, "operator"), ("last-event-id", last.to_string())],
    )
    .await;
    for _ in 0..2 {
        let event = resumed.next_entry(Duration::from_secs(5)).await.unwrap();
        seen.push(seq_of(&event));
    }
    assert!(
        resumed
            .next_entry(Duration::from_millis(500))
            .await
            .is_none(),
        "nothing after the head"
    );
    assert_eq!(seen, ((head - 2)..=(head + 3)).collect::<Vec<u64>>());
}

#[tokio::test]
async fn sse_sends_heartbeat_comments_while_idle() {
    let s = start_with(Options {
        vars: vec![("PLANT_FEED_HEARTBEAT_MS", "200".into())],
        ..Options::default()
    })
    .await;
    let head = head_seq(&s).await;
    let mut stream = SseClient::open(
        s.addr,
        &format!("{FEED}?after={head}"),
        &[bearer(&s, "operator")],
    )
    .await;
    let mut heartbeats = 0;
    while heartbeats < 2 {
        let block = stream
            .next_block(Duration::from_secs(2))
            .await
            .expect("a heartbeat within two intervals");
        assert!(block.event.is_none(), "no entry after the head: {block:?}");
        if block.comments.iter().any(|c| c == "heartbeat") {
            heartbeats += 1;
        }
    }
}

#[tokio::test]
async fn sse_clients_beyond_the_bound_get_503_with_retry_after() {
    let s = start_with(Options {
        vars: vec![
            ("PLANT_FEED_MAX_CLIENTS", "2".into()),
            // A closed client is noticed when its stream is next written to.
            ("PLANT_FEED_HEARTBEAT_MS", "200".into()),
        ],
        ..Options::default()
    })
    .await;
    let head = head_seq(&s).await;
    let path = format!("{FEED}?after={head}");
    let mut first = SseClient::open(s.addr, &path, &[bearer(&s, "operator")]).await;
    let second = SseClient::open(s.addr, &path, &[bearer(&s, "operator")]).await;
    assert_eq!((first.status, second.status), (200, 200));
    // The hello block proves the first stream is live.
    assert!(first.next_block(Duration::from_secs(2)).await.is_some());
    let third = SseClient::open(s.addr, &path, &[bearer(&s, "operator")]).await;
    assert_eq!(third.status, 503, "{}", third.body_when_not_stream);
    assert_eq!(
        third.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    assert!(third.header("retry-after").is_some());
    let problem: Value = serde_json::from_str(&third.body_when_not_stream).unwrap();
    assert_eq!(problem["status"], 503);
    // JSON pages are not bounded by the stream slots.
    let page = req("GET", &path)
        .bearer(&token(&s, "operator"))
        .send(&s)
        .await;
    assert_eq!(page.status, 200);

    // A closed client frees its slot.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        let again = SseClient::open(s.addr, &path, &[bearer(&s, "operator")]).await;
        if again.status == 200 {
            reopened = Some(again);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "the slot of a closed client is reused");
    drop(second);
}

/// Reads one metric sample's value from an exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let r = common::raw(addr, &req("GET", "/metrics").bytes()).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    r.text()
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_on_their_own_port() {
    let s = start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = listener.local_addr().unwrap();
    let metrics = tokio::spawn(plant_server::metrics::serve(listener, s.state.clone()));

    let skill = create_skill(&s, "Metric Keeping").await;
    let id = skill["id"].as_str().unwrap();
    for _ in 0..2 {
        let r = req("GET", &format!("/api/v1/genesis/skills/{id}"))
            .send(&s)
            .await;
        assert_eq!(r.status, 200);
    }
    let missing = uuid::Uuid::new_v4();
    req("GET", &format!("/api/v1/genesis/skills/{missing}"))
        .send(&s)
        .await
        .problem(404);
    req("GET", "/no/such/path").send(&s).await.problem(404);

    let item = r#"route="/api/v1/genesis/skills/{id}",method="GET""#;
    let text = scrape(metrics_addr).await;
    assert_eq!(
        sample(
            &text,
            &format!("plant_http_requests_total{{{item},status=\"200\"}}")
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("plant_http_requests_total{{{item},status=\"404\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"plant_http_requests_total{route="unmatched",method="GET",status="404"}"#
        ),
        Some(1.0)
    );
    assert!(!text.contains(id), "raw paths never become labels");
    assert_eq!(
        sample(
            &text,
            &format!("plant_http_request_duration_seconds_count{{{item},status=\"200\"}}")
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                "plant_http_request_duration_seconds_bucket{{{item},status=\"200\",le=\"+Inf\"}}"
            )
        ),
        Some(2.0)
    );
    let head = head_seq(&s).await;
    let text = scrape(metrics_addr).await;
    assert_eq!(sample(&text, "plant_audit_head_seq"), Some(head as f64));
    assert_eq!(sample(&text, "plant_store_up"), Some(1.0));
    assert_eq!(sample(&text, "plant_embed_queue_depth"), Some(0.0));
    assert_eq!(sample(&text, "plant_feed_clients"), Some(0.0));
    assert_eq!(
        text.contains("plant_db_pool_connections{state=\"idle\"}"),
        common::admin_url().is_some(),
        "pool gauges exactly when there is a pool"
    );
    assert!(!text.contains("plant_audit_last_checkpoint_age_seconds"));
    if common::admin_url().is_some() {
        // On PostgreSQL the skill's vector followed its commit, and its lag is counted.
        s.state.catalog().vectors_settled().await;
        let text = scrape(metrics_addr).await;
        assert_eq!(sample(&text, "plant_vector_backlog"), Some(0.0), "{text}");
        assert!(
            sample(&text, "plant_vector_lag_samples").is_some_and(|n| n >= 1.0),
            "{text}"
        );
        let p99 = sample(&text, r#"plant_vector_lag_seconds{quantile="0.99"}"#).unwrap();
        let max = sample(&text, r#"plant_vector_lag_seconds{quantile="1"}"#).unwrap();
        assert!(p99 > 0.0 && p99 <= max, "{text}");
    } else {
        // The memory store embeds inline: no vector waits.
        assert!(!text.contains("plant_vector_lag_seconds"), "{text}");
    }

    // The counter moves with the next request; a checkpoint gets an age.
    req("GET", &format!("/api/v1/genesis/skills/{id}"))
        .send(&s)
        .await;
    let signer = plant_core::audit::CheckpointSigner::generate().unwrap();
    s.state.catalog().checkpoint(&signer).await.unwrap();
    let text = scrape(metrics_addr).await;
    assert_eq!(
        sample(
            &text,
            &format!("plant_http_requests_total{{{item},status=\"200\"}}")
        ),
        Some(3.0)
    );
    let age = sample(&text, "plant_audit_last_checkpoint_age_seconds").unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");

    // Only the metrics port serves /metrics; it serves nothing else.
    req("GET", "/metrics").send(&s).await.problem(404);
    let other = common::raw(metrics_addr, &req("GET", "/api/v1/health").bytes()).await;
    assert_eq!(other.status, 404);
    metrics.abort();
}

/// Two server instances, each with its own pool and its own LISTEN connection, on one
/// PostgreSQL database: a write through one is streamed by the other within a second.
#[tokio::test]
async fn a_write_through_one_instance_is_streamed_by_another_on_the_same_database() {
    use std::collections::HashMap;
    use std::sync::Arc;

    use plant_server::config::Config;
    use plant_server::service::App;

    // Under CI=true `admin_url` fails when no database is configured, unless the run asked for
    // the memory store (PLANT_TEST_STORE=memory), whose pass follows the PostgreSQL one.
    let Some(admin) = common::admin_url() else {
        eprintln!("skipping: two instances need one PostgreSQL (PLANT_TEST_ADMIN_URL)");
        return;
    };
    let database = common::fresh_database(&admin).await;
    let url = database.url.clone();
    plant_core::store::postgres::migrate(&url).await.unwrap();
    let secret = common::random_secret();
    let mut addrs = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..2 {
        let vars: HashMap<&str, String> = HashMap::from([
            ("PLANT_JWT_SECRET", secret.clone()),
            ("DATABASE_URL", url.clone()),
            ("PLANT_DB_POOL_SIZE", "4".into()),
        ]);
        let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        let state = plant_server::startup::build_state(&config).await.unwrap();
        let app = Arc::new(App {
            router: plant_server::routes::router(),
            state,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(tx);
        tokio::spawn(plant_server::serve::run_app(listener, app, async {
            let _ = rx.await;
        }));
    }
    let operator = common::mint(&secret, &common::claims("operator"));
    let genesis = common::mint(&secret, &common::claims("genesis"));
    let auth = ("authorization", format!("Bearer {operator}"));
    let mut stream = SseClient::open(addrs[1], FEED, &[auth]).await;
    assert_eq!(stream.status, 200);
    assert!(stream.next_block(Duration::from_secs(5)).await.is_some());
    for i in 0..3_u64 {
        let written = std::time::Instant::now();
        let r = common::raw(
            addrs[0],
            &req("POST", "/api/v1/genesis/skills")
                .bearer(&genesis)
                .json(&json!({ "name": format!("Across {i}"), "description": "Crosses instances.", "category": "technical" }))
                .bytes(),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let event = stream
            .next_entry(Duration::from_secs(1))
            .await
            .expect("the other instance streams the write within a second");
        assert_eq!(event.id, Some((i + 1).to_string()));
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["entity_id"], r.json()["id"]);
        eprintln!(
            "write on one instance -> event on the other: {:?}",
            written.elapsed()
        );
    }
    drop(stream);
    for stop in stops {
        let _ = stop.send(());
    }
}
