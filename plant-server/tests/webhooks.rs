//! Webhooks over real HTTP: receivers on 127.0.0.1 get the chain's entries in seq order, signed,
//! at least once, through 500s and outages; unsafe targets are refused when subscribed and when
//! delivered to; signatures verify with the PyPI `standardwebhooks` package.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use common::{Options, TestServer, req, start_with, token};
use http::{HeaderMap, StatusCode};
use plant_core::Timestamp;
use plant_core::webhooks::{Filter, Subscription, WebhookSecret, signature_header};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    arrived: chrono::DateTime<chrono::Utc>,
    id: String,
    timestamp: String,
    signature: String,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn seq(&self) -> u64 {
        self.json()["data"]["seq"].as_u64().unwrap()
    }
}

/// A receiver's memory and script: the status codes to answer, in order (then 200).
#[derive(Clone, Default)]
struct Inbox {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Inbox {
    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn answer(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.wait_within(n, 1000).await
    }

    /// [`Self::wait_for`], polling up to `polls` times 20 ms.
    async fn wait_within(&self, n: usize, polls: usize) -> Vec<Received> {
        for _ in 0..polls {
            if self.got.lock().unwrap().len() >= n {
                return self.got();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the receiver got {} of {n} deliveries", self.got().len());
    }
}

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    inbox.got.lock().unwrap().push(Received {
        arrived: chrono::Utc::now(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
    });
    let status = inbox.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// A receiver on 127.0.0.1; `stop` takes it down, `restart` brings it back on the same port.
struct Receiver {
    addr: SocketAddr,
    inbox: Inbox,
    task: Option<JoinHandle<()>>,
}

fn listener_on(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(64).unwrap()
}

impl Receiver {
    async fn start() -> Self {
        let listener = listener_on("127.0.0.1:0".parse().unwrap());
        let addr = listener.local_addr().unwrap();
        let mut r = Self {
            addr,
            inbox: Inbox::default(),
            task: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: TcpListener) {
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(self.inbox.clone());
        self.task = Some(tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        }));
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.addr.port())
    }

    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    fn restart(&mut self) {
        self.serve(listener_on(self.addr));
    }
}

/// Fast retries, loopback allowed (the receivers are on 127.0.0.1).
fn dev_server_vars() -> Vec<(&'static str, String)> {
    vec![
        ("PLANT_WEBHOOK_ALLOW_HTTP_LOOPBACK", "1".into()),
        ("PLANT_WEBHOOK_RETRY_BASE_MS", "20".into()),
        ("PLANT_WEBHOOK_RETRY_CAP_MS", "100".into()),
        ("PLANT_WEBHOOK_MAX_ATTEMPTS", "100".into()),
        ("PLANT_WEBHOOK_POLL_MS", "20".into()),
        ("PLANT_WEBHOOK_TIMEOUT_MS", "2000".into()),
    ]
}

async fn dev_server() -> TestServer {
    start_with(Options {
        vars: dev_server_vars(),
        ..Options::default()
    })
    .await
}

async fn subscribe(s: &TestServer, body: Value) -> Value {
    let r = req("POST", "/api/v1/webhooks")
        .bearer(&token(s, "operator"))
        .json(&body)
        .send(s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

async fn create_industry(s: &TestServer, name: &str) -> String {
    let r = req("POST", "/api/v1/industries")
        .bearer(&token(s, "genesis"))
        .json(&json!({ "name": name }))
        .send(s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn operator_get(s: &TestServer, path: &str) -> Value {
    let r = req("GET", path).bearer(&token(s, "operator")).send(s).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// The subscription's delivery log once it holds at least `rows` rows. A receiver has a request
/// before the worker logs the attempt that sent it, so the log trails what receivers saw.
async fn delivery_log(s: &TestServer, id: &str, rows: usize) -> Vec<Value> {
    let path = format!("/api/v1/webhooks/{id}/deliveries");
    let mut log = Vec::new();
    for _ in 0..1000 {
        log = operator_get(s, &path).await.as_array().unwrap().clone();
        if log.len() >= rows {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the delivery log has {} of {rows} rows: {log:?}", log.len());
}

fn verifies(secret: &str, got: &Received) -> bool {
    let secret = WebhookSecret::parse(secret).unwrap();
    let ts: i64 = got.timestamp.parse().unwrap();
    let expected = signature_header(&[&secret], &got.id, ts, &got.body);
    got.signature.split(' ').any(|s| s == expected)
}

/// The chain's entries about one subscription.
async fn audit_entries_of(s: &TestServer, id: &str) -> Vec<plant_core::audit::AuditEntry> {
    let id = id.parse().unwrap();
    s.state.catalog().store().entity_entries(id).await.unwrap()
}

fn industries_only() -> Value {
    json!({ "kinds": ["Industry"], "actions": ["create"] })
}

#[tokio::test]
async fn deliveries_arrive_in_seq_order_signed_once_each_and_the_subscription_is_audited() {
    let s = dev_server().await;
    let receiver = Receiver::start().await;
    let sub = subscribe(
        &s,
        json!({ "url": receiver.url(), "filter": industries_only() }),
    )
    .await;
    let secret = sub["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = sub["id"].as_str().unwrap();
    // The secret is shown once: reads never carry it.
    let read = operator_get(&s, &format!("/api/v1/webhooks/{id}")).await;
    assert!(read.get("secret").is_none());
    assert_eq!(read["state"], "active");

    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(create_industry(&s, &format!("Ordered {i}")).await);
    }
    let got = receiver.inbox.wait_for(6).await;
    let seqs: Vec<u64> = got.iter().map(Received::seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let entity_ids: Vec<String> = got
        .iter()
        .map(|g| g.json()["data"]["entity_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(entity_ids, ids);
    for g in &got {
        assert_eq!(g.id, format!("plant-audit-{}", g.seq()));
        assert_eq!(g.json()["type"], "Industry.create");
        assert!(verifies(&secret, g), "{g:?}");
    }
    // Nothing more: each entry once, and the filter held back the subscription's own entry.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.inbox.got().len(), 6);

    let log = delivery_log(&s, id, 6).await;
    assert_eq!(log.len(), 6);
    assert!(
        log.iter()
            .all(|row| row["status_code"] == 200 && row["attempt"] == 1)
    );

    // The subscription's creation is on the chain, and the chain still verifies.
    let entries = audit_entries_of(&s, id).await;
    assert_eq!(entries.len(), 1);
    let created = &entries[0];
    assert_eq!(created.entity_type, "WebhookSubscription");
    assert_eq!(created.action, "create");
    assert!(!created.payload.contains(&secret[6..]));
    let verify = operator_get(&s, "/api/v1/audit/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
}

#[tokio::test]
async fn a_receiver_answering_500_twice_gets_the_entry_three_times_with_one_id_then_the_next() {
    let s = dev_server().await;
    let receiver = Receiver::start().await;
    receiver.inbox.answer(&[500, 500]);
    let sub = subscribe(
        &s,
        json!({ "url": receiver.url(), "filter": industries_only() }),
    )
    .await;
    create_industry(&s, "Retried").await;
    create_industry(&s, "After the retries").await;
    let got = receiver.inbox.wait_for(4).await;
    let ids: Vec<&str> = got.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);
    assert_ne!(ids[2], ids[3]);
    assert_eq!(got[0].body, got[2].body);
    assert!(got[3].seq() > got[0].seq());
    assert_eq!(got[3].json()["data"]["record"]["name"], "After the retries");

    let id = sub["id"].as_str().unwrap();
    let log = delivery_log(&s, id, 4).await;
    let rows: Vec<(u64, u64, u64)> = log
        .iter()
        .rev()
        .map(|r| {
            (
                r["seq"].as_u64().unwrap(),
                r["attempt"].as_u64().unwrap(),
                r["status_code"].as_u64().unwrap(),
            )
        })
        .collect();
    let first = got[0].seq();
    assert_eq!(
        rows,
        vec![
            (first, 1, 500),
            (first, 2, 500),
            (first, 3, 200),
            (got[3].seq(), 1, 200)
        ]
    );
    assert!(log[2]["next_retry_at"].is_string() && log[2]["error"].is_string());
}

#[tokio::test]
async fn a_receiver_down_for_a_while_catches_up_in_order() {
    let s = dev_server().await;
    let mut receiver = Receiver::start().await;
    let sub = subscribe(
        &s,
        json!({ "url": receiver.url(), "filter": industries_only() }),
    )
    .await;
    receiver.stop().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create_industry(&s, &format!("While down {i}")).await);
    }
    // Wait until attempts have failed against the closed port.
    let id = sub["id"].as_str().unwrap();
    delivery_log(&s, id, 3).await;
    receiver.restart();
    let got = receiver.inbox.wait_for(5).await;
    let entity_ids: Vec<String> = got
        .iter()
        .map(|g| g.json()["data"]["entity_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(entity_ids, ids);
}

#[tokio::test]
async fn an_exhausted_schedule_marks_the_subscription_failing_audited_and_resume_delivers_again() {
    let mut vars = dev_server_vars();
    vars.retain(|(k, _)| *k != "PLANT_WEBHOOK_MAX_ATTEMPTS");
    vars.push(("PLANT_WEBHOOK_MAX_ATTEMPTS", "3".into()));
    let s = start_with(Options {
        vars,
        ..Options::default()
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.inbox.answer(&[503, 503, 503]);
    let sub = subscribe(
        &s,
        json!({ "url": receiver.url(), "filter": industries_only() }),
    )
    .await;
    let id = sub["id"].as_str().unwrap();
    create_industry(&s, "Never accepted").await;
    receiver.inbox.wait_for(3).await;
    let mut state = Value::Null;
    for _ in 0..200 {
        state = operator_get(&s, &format!("/api/v1/webhooks/{id}")).await["state"].clone();
        if state == "failing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, "failing");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.inbox.got().len(),
        3,
        "nothing is sent while failing"
    );
    let entries = audit_entries_of(&s, id).await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["create", "fail"]);

    let r = req("POST", &format!("/api/v1/webhooks/{id}/resume"))
        .bearer(&token(&s, "operator"))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"], "active");
    let got = receiver.inbox.wait_for(4).await;
    assert_eq!(got[3].id, got[0].id);

    // Replay from before it: the same entry again.
    let after = got[0].seq() - 1;
    let r = req(
        "POST",
        &format!("/api/v1/webhooks/{id}/replay?after={after}"),
    )
    .bearer(&token(&s, "operator"))
    .send(&s)
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = receiver.inbox.wait_for(5).await;
    assert_eq!(got[4].id, got[0].id);
}

#[tokio::test]
async fn unsafe_targets_are_refused_when_subscribed() {
    let strict = start_with(Options::default()).await;
    let dev = dev_server().await;
    for (server, url) in [
        (&strict, "http://169.254.169.254/latest/meta-data/"),
        (&strict, "https://169.254.169.254/latest/meta-data/"),
        (&strict, "http://10.0.0.1/"),
        (&strict, "https://10.0.0.1/"),
        (&strict, "https://[fd00:ec2::254]/"),
        (&strict, "https://metadata.google.internal/"),
        (&strict, "https://localhost:9/hook"),
        (&strict, "http://localhost:9/hook"),
        (&strict, "https://127.0.0.1:9/hook"),
        (&strict, "ftp://example.com/"),
        (&dev, "http://169.254.169.254/latest/meta-data/"),
        (&dev, "http://10.0.0.1/"),
        (&dev, "https://192.168.0.1/"),
    ] {
        let r = req("POST", "/api/v1/webhooks")
            .bearer(&token(server, "operator"))
            .json(&json!({ "url": url }))
            .send(server)
            .await;
        let problem = r.problem(422);
        assert!(
            problem["detail"].as_str().unwrap().starts_with("url"),
            "{url}: {problem}"
        );
    }
    // The development flag admits loopback, by name too.
    subscribe(&dev, json!({ "url": "http://localhost:9/hook" })).await;
    // Only operators manage subscriptions.
    req("GET", "/api/v1/webhooks")
        .send(&strict)
        .await
        .problem(401);
    req("GET", "/api/v1/webhooks")
        .bearer(&token(&strict, "genesis"))
        .send(&strict)
        .await
        .problem(403);
}

/// A listener that counts the connections made to it and answers none.
async fn tripwire() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, count)
}

#[tokio::test]
async fn unsafe_targets_stored_anyway_are_refused_at_delivery_without_a_connection() {
    // A server without the development flag; subscriptions written straight into its store (as
    // one made under an older policy, or a name that resolved elsewhere then) are checked again
    // before every request.
    let mut vars = dev_server_vars();
    vars.retain(|(k, _)| *k != "PLANT_WEBHOOK_ALLOW_HTTP_LOOPBACK");
    let s = start_with(Options {
        vars,
        ..Options::default()
    })
    .await;
    let (trip, connections) = tripwire().await;
    let store = s.state.catalog().store().clone();
    let hooks = store.webhooks().unwrap();
    let head = store.head().await.unwrap().seq;
    let mut ids = Vec::new();
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        format!("https://localhost:{}/hook", trip.port()),
        format!("http://localhost:{}/hook", trip.port()),
    ] {
        let sub = Subscription::new(url, Filter::default(), head, Timestamp::now()).unwrap();
        hooks.create_subscription(&sub, "test").await.unwrap();
        ids.push(sub.id);
    }
    create_industry(&s, "Bait").await;
    for id in ids {
        let log = delivery_log(&s, &id.to_string(), 1).await;
        let first = &log[0];
        assert!(first["status_code"].is_null(), "{first}");
        let error = first["error"].as_str().unwrap();
        assert!(error.starts_with("target refused"), "{error}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_genesis_reviewer_loop_certifies_what_it_is_told_about() {
    let s = dev_server().await;
    let reviewer = Receiver::start().await;
    subscribe(
        &s,
        json!({ "url": reviewer.url(), "filter": { "kinds": ["Skill"], "actions": ["create", "update"] } }),
    )
    .await;
    let r = req("POST", "/api/v1/genesis/skills")
        .bearer(&token(&s, "genesis"))
        .json(&json!({ "name": "Webhook Review", "description": "Reviewed by an outside reviewer", "category": "technical" }))
        .send(&s)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let skill_id = r.json()["id"].as_str().unwrap().to_owned();

    // The reviewer: told of the new skill, it looks at it and asks plant to certify it.
    let told = reviewer.inbox.wait_for(1).await;
    let event = told[0].json();
    assert_eq!(event["type"], "Skill.create");
    assert_eq!(event["data"]["entity_id"], skill_id);
    assert_eq!(event["data"]["record"]["name"], "Webhook Review");
    let r = req("POST", "/api/v1/genesis/certify")
        .bearer(&token(&s, "genesis"))
        .json(&json!({ "entity_type": event["data"]["entity_type"], "entity_id": skill_id }))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let skill = req("GET", &format!("/api/v1/genesis/skills/{skill_id}"))
        .send(&s)
        .await
        .json();
    assert_eq!(skill["certification"]["status"], "certified", "{skill}");
    // plant's certification is the one on the chain; the reviewer is not told of it (filter).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reviewer.inbox.got().len(), 1);
}

/// The `standardwebhooks` package's Python, installed by scripts/test.sh (or `None` outside CI
/// when it is not installed).
fn standardwebhooks_python() -> Option<std::path::PathBuf> {
    let configured = std::env::var_os("PLANT_STANDARDWEBHOOKS_PYTHON").map(Into::into);
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.cache/standardwebhooks-venv/bin/python");
    let python = configured.or_else(|| local.exists().then_some(local));
    if python.is_none() {
        assert!(
            !common::in_ci(),
            "CI=true and the standardwebhooks package is not installed: scripts/test.sh installs \
             it (or set PLANT_STANDARDWEBHOOKS_PYTHON)"
        );
        eprintln!("skipped: standardwebhooks is not installed (scripts/test.sh installs it)");
    }
    python
}

const VERIFY_PY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
cases = json.load(sys.stdin)
out = []
for case in cases:
    try:
        Webhook(case["secret"]).verify(case["body"], case["headers"])
        out.append(True)
    except Exception as e:
        out.append(False)
print(json.dumps(out))
"#;

fn verify_with_standardwebhooks(
    python: &std::path::Path,
    cases: &[(String, &Received)],
) -> Vec<bool> {
    use std::io::Write;
    let input: Vec<Value> = cases
        .iter()
        .map(|(secret, got)| {
            json!({
                "secret": secret,
                "body": String::from_utf8(got.body.to_vec()).unwrap(),
                "headers": {
                    "webhook-id": got.id,
                    "webhook-timestamp": got.timestamp,
                    "webhook-signature": got.signature,
                },
            })
        })
        .collect();
    let mut child = std::process::Command::new(python)
        .args(["-c", VERIFY_PY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&input).unwrap())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn signatures_verify_with_the_standardwebhooks_package_across_a_secret_rotation() {
    let Some(python) = standardwebhooks_python() else {
        return;
    };
    let s = dev_server().await;
    let receiver = Receiver::start().await;
    let sub = subscribe(
        &s,
        json!({ "url": receiver.url(), "filter": industries_only() }),
    )
    .await;
    let id = sub["id"].as_str().unwrap();
    let old = sub["secret"].as_str().unwrap().to_owned();
    create_industry(&s, "Before rotation").await;
    let before = receiver.inbox.wait_for(1).await;

    let r = req("POST", &format!("/api/v1/webhooks/{id}/rotate-secret"))
        .bearer(&token(&s, "operator"))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let rotated = r.json();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["signing_secrets"], 2);
    create_industry(&s, "During the overlap").await;
    let got = receiver.inbox.wait_for(2).await;
    let during = &got[1];
    assert_eq!(during.signature.split(' ').count(), 2);

    let other = WebhookSecret::generate().unwrap().expose();
    let results = verify_with_standardwebhooks(
        &python,
        &[
            (old.clone(), &before[0]),
            (old.clone(), during),
            (new.clone(), during),
            (new.clone(), &before[0]),
            (other, during),
        ],
    );
    assert_eq!(results, vec![true, true, true, false, false]);
}

/// The percentile `p` (0–100) of sorted `values`.
fn percentile(sorted: &[f64], p: usize) -> f64 {
    let i = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[i]
}

/// A measurement, not a check: run with
/// `cargo test -p plant-server --test webhooks figures -- --ignored --nocapture`
/// (on PostgreSQL under `scripts/test-db.sh run --`, in memory with `PLANT_TEST_STORE=memory`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; prints figures"]
async fn figures_delivery_latency_from_commit_to_receiver_at_100_writes_per_second() {
    let s = dev_server().await;
    let receiver = Receiver::start().await;
    subscribe(
        &s,
        json!({ "url": receiver.url(), "filter": industries_only() }),
    )
    .await;
    let writes: usize = std::env::var("PLANT_WEBHOOK_FIGURES_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // Open loop: a write starts every 10 ms whether or not the ones before have finished.
    let s = Arc::new(s);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let started = std::time::Instant::now();
    let mut writers = Vec::with_capacity(writes);
    for i in 0..writes {
        tick.tick().await;
        let s = s.clone();
        writers.push(tokio::spawn(async move {
            create_industry(&s, &format!("Latency {i}")).await;
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let rate = writes as f64 / started.elapsed().as_secs_f64();
    let got = receiver.inbox.wait_within(writes, 3000).await;
    let mut latencies: Vec<f64> = got
        .iter()
        .map(|g| {
            let at: chrono::DateTime<chrono::Utc> =
                g.json()["data"]["at"].as_str().unwrap().parse().unwrap();
            (g.arrived - at).num_microseconds().unwrap() as f64 / 1000.0
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    eprintln!(
        "webhook latency, commit to receiver ({} store, {writes} writes at {rate:.0}/s): \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        if s.database_url.is_some() {
            "PostgreSQL"
        } else {
            "memory"
        },
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        latencies.last().copied().unwrap_or_default()
    );
}

/// A measurement: one subscription catching up `PLANT_WEBHOOK_FIGURES_ENTRIES` (100 000)
/// entries already on the chain. Run as the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; prints figures"]
async fn figures_one_subscription_catching_up_100k_entries() {
    let entries: usize = std::env::var("PLANT_WEBHOOK_FIGURES_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let s = dev_server().await;
    let catalog = s.state.catalog().clone();
    let store = catalog.store().clone();
    let start = store.head().await.unwrap().seq;
    let writing = std::time::Instant::now();
    for i in 0..entries {
        let input = plant_core::input::IndustryInput {
            name: Some(format!("Catch-up {i}")),
            ..Default::default()
        };
        catalog.create_industry(&input, "figures").await.unwrap();
    }
    eprintln!(
        "wrote {entries} entries in {:.1} s",
        writing.elapsed().as_secs_f64()
    );
    let receiver = Receiver::start().await;
    let catching_up = std::time::Instant::now();
    subscribe(
        &s,
        json!({ "url": receiver.url(), "filter": industries_only(), "after": start }),
    )
    .await;
    let got = receiver.inbox.wait_within(entries, 50 * 60 * 30).await;
    let secs = catching_up.elapsed().as_secs_f64();
    let seqs: Vec<u64> = got.iter().map(Received::seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    eprintln!(
        "webhook catch-up ({} store): {entries} entries delivered in order in {secs:.1} s, \
         {:.0} entries/s",
        if s.database_url.is_some() {
            "PostgreSQL"
        } else {
            "memory"
        },
        entries as f64 / secs
    );
}

/// The store alone (PostgreSQL when the suite runs on it, else memory), without a server and
/// so without a worker taking leases of its own.
/// The database, when there is one, is dropped with the second value.
async fn bare_store() -> (
    Arc<dyn plant_core::store::Store>,
    Option<plant_core::testing::ScratchDatabase>,
) {
    use plant_core::store::postgres::{PgConfig, PgStore, migrate};
    match common::admin_url() {
        Some(admin) => {
            let database = common::fresh_database(&admin).await;
            migrate(&database.url).await.unwrap();
            let config = PgConfig::new(database.url.clone());
            let store = PgStore::connect(&config).await.unwrap();
            (Arc::new(store), Some(database))
        }
        None => (Arc::new(plant_core::store::MemoryStore::new()), None),
    }
}

#[tokio::test]
async fn a_lease_has_one_owner_until_released_or_expired_and_stale_versions_are_refused() {
    use plant_core::webhooks::{Progress, WebhookError};
    let (store, _database) = bare_store().await;
    let hooks = store.webhooks().unwrap();
    let now = Timestamp::now();
    let at =
        |secs: i64| Timestamp::from_datetime(now.as_datetime() + chrono::Duration::seconds(secs));
    let sub =
        Subscription::new("https://example.com/hook".into(), Filter::default(), 0, now).unwrap();
    hooks.create_subscription(&sub, "test").await.unwrap();

    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (got_a, got_b) = tokio::join!(
        hooks.claim_due(a, now, at(60), 10),
        hooks.claim_due(b, now, at(60), 10)
    );
    let (got_a, got_b) = (got_a.unwrap(), got_b.unwrap());
    assert_eq!(got_a.len() + got_b.len(), 1, "one owner leases it");
    let (winner, loser) = if got_a.is_empty() { (b, a) } else { (a, b) };
    let progress = Progress {
        cursor: 1,
        attempt: 0,
        next_attempt_at: now,
        lease_until: Some(at(60)),
    };
    assert!(
        !hooks
            .record_progress(sub.id, loser, 1, progress)
            .await
            .unwrap()
    );
    assert!(
        !hooks
            .record_progress(sub.id, winner, 7, progress)
            .await
            .unwrap()
    );
    // Progress leaves the subscription caught up (cursor = head), so put it back behind.
    let behind = Progress {
        cursor: 0,
        ..progress
    };
    assert!(
        hooks
            .record_progress(sub.id, winner, 1, behind)
            .await
            .unwrap()
    );
    hooks.release(sub.id, loser).await.unwrap();
    assert!(
        hooks
            .claim_due(loser, now, at(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    hooks.release(sub.id, winner).await.unwrap();
    assert_eq!(
        hooks.claim_due(loser, now, at(60), 10).await.unwrap().len(),
        1
    );
    // A lease past its time is taken over (a crashed owner).
    assert!(
        hooks
            .claim_due(winner, at(30), at(90), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        hooks
            .claim_due(winner, at(61), at(120), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // Audited changes are optimistic.
    let mut changed = hooks.subscription(sub.id).await.unwrap().unwrap();
    changed.version += 1;
    changed.url = "https://example.com/other".into();
    hooks
        .update_subscription(&changed, "update", "test")
        .await
        .unwrap();
    let stale = hooks.update_subscription(&changed, "update", "test").await;
    assert!(
        matches!(stale, Err(WebhookError::VersionConflict { actual: 2, .. })),
        "{stale:?}"
    );
    hooks.delete_subscription(sub.id, "test").await.unwrap();
    assert!(hooks.subscription(sub.id).await.unwrap().is_none());
    assert!(matches!(
        hooks.delete_subscription(sub.id, "test").await,
        Err(WebhookError::NotFound(_))
    ));
    let actions: Vec<String> = store
        .entity_entries(sub.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, vec!["create", "update", "delete"]);
    assert!(store.verify(&[]).await.unwrap().ok);
}
