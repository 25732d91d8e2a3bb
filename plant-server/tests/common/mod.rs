//! Test harness: a server on 127.0.0.1:0, a raw HTTP/1.1 client, and token minting with a random
//! secret generated per server.
#![allow(dead_code, clippy::unwrap_used)]

pub mod sse;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use plant_core::testing::ScratchDatabase;
use plant_server::config::{Config, JwtConfig};
use plant_server::service::App;
use plant_server::state::{AppState, Readiness};
use serde_json::Value;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub secret: String,
    /// The server's database, when the suite runs against PostgreSQL.
    pub database_url: Option<String>,
    /// The running server's state (for listeners of its own, like metrics).
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    pub handle: Option<JoinHandle<()>>,
    /// The server's database, dropped from PostgreSQL with the server.
    database: Option<ScratchDatabase>,
}

impl TestServer {
    /// Signals shutdown; returns the task that finishes once the server has drained.
    pub fn shutdown(&mut self) -> JoinHandle<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.take().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Endpoints a test adds to the routing table.
pub type ExtraRoutes = Box<dyn FnOnce(Router<AppState>) -> Router<AppState>>;

/// Options for a test server.
#[derive(Default)]
pub struct Options {
    pub vars: Vec<(&'static str, String)>,
    /// `None`: ready when the store answers.
    pub readiness: Option<Arc<dyn Readiness>>,
    pub extra_routes: Option<ExtraRoutes>,
}

/// The suite runs against PostgreSQL when `PLANT_TEST_ADMIN_URL` names a server it may create
/// databases on (`scripts/test-db.sh run -- cargo test -p plant-server`), and against the
/// in-memory store when `PLANT_TEST_STORE=memory` asks for it (`scripts/test.sh` runs the suite
/// both ways) or, outside CI, when no database is configured. Under `CI=true` a missing
/// database is a failure, never a quiet fall-back to memory.
pub fn admin_url() -> Option<String> {
    if std::env::var("PLANT_TEST_STORE").is_ok_and(|v| v == "memory") {
        return None;
    }
    let url = std::env::var("PLANT_TEST_ADMIN_URL")
        .ok()
        .filter(|u| !u.is_empty());
    assert!(
        url.is_some() || !in_ci(),
        "PLANT_TEST_ADMIN_URL is not set and CI=true: run under scripts/test-db.sh run -- cargo \
         test, or ask for the in-memory store with PLANT_TEST_STORE=memory"
    );
    url
}

/// Whether the tests run under CI (`CI=true`), where a missing dependency fails a test.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A new, empty database on the admin URL's server, dropped when the value is.
pub async fn fresh_database(admin: &str) -> ScratchDatabase {
    ScratchDatabase::create_on(admin, admin, "server").await
}

pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Starts a server with a fresh random HS256 secret and the given options.
pub async fn start_with(options: Options) -> TestServer {
    let secret = random_secret();
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("PLANT_JWT_SECRET".into(), secret.clone());
    vars.insert(
        "CORS_ORIGINS".into(),
        "https://cp.example,https://pp.example".into(),
    );
    for (k, v) in options.vars {
        vars.insert(k.into(), v);
    }
    let provider_keys = [
        "PLANT_JWT_PUBLIC_KEY",
        "PLANT_JWT_JWKS_FILE",
        "PLANT_JWT_JWKS_URL",
    ];
    if provider_keys.iter().any(|k| vars.contains_key(*k)) {
        vars.remove("PLANT_JWT_SECRET");
    }
    let mut database = None;
    if let Some(admin) = admin_url() {
        let db = fresh_database(&admin).await;
        plant_core::store::postgres::migrate(&db.url).await.unwrap();
        vars.insert("DATABASE_URL".into(), db.url.clone());
        vars.insert("PLANT_DB_POOL_SIZE".into(), "4".into());
        database = Some(db);
    }
    let database_url = vars.get("DATABASE_URL").cloned();
    let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    assert!(!matches!(config.jwt, JwtConfig::Disabled));
    let seeded = plant_server::startup::build_state(&config).await.unwrap();
    if config.database_url.is_some() {
        let seed = plant_core::seed::SeedCatalog::builtin().unwrap();
        plant_core::seed::load(seeded.catalog(), &seed, &mut |_| {})
            .await
            .unwrap();
    }
    let state = match options.readiness {
        Some(readiness) => {
            AppState::with_readiness(&config, seeded.catalog().clone(), readiness).unwrap()
        }
        None => seeded,
    };
    let mut router = plant_server::routes::router();
    if let Some(extra) = options.extra_routes {
        router = extra(router);
    }
    let app = Arc::new(App {
        router,
        state: state.clone(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        plant_server::serve::run_app(listener, app, async {
            let _ = rx.await;
        })
        .await;
    });
    TestServer {
        addr,
        secret,
        database_url,
        state,
        shutdown: Some(tx),
        handle: Some(handle),
        database,
    }
}

pub async fn start() -> TestServer {
    start_with(Options::default()).await
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts that this is a well-formed problem+json with `status` and returns it.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let p = self.json();
        for field in ["type", "title", "detail", "instance", "correlation_id"] {
            assert!(p[field].is_string(), "problem lacks {field}: {p}");
        }
        assert_eq!(p["status"], status);
        assert!(
            p["type"]
                .as_str()
                .unwrap()
                .starts_with("https://plant.dev/problems/")
        );
        assert_eq!(
            Some(p["correlation_id"].as_str().unwrap()),
            self.header("x-correlation-id")
        );
        p
    }
}

/// Sends raw bytes and reads the whole response (the request should say `Connection: close`).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_reply(&mut stream).await
}

pub async fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "response did not arrive in time");
    parse_reply(&buf)
}

pub fn parse_reply(buf: &[u8]) -> Reply {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(buf)));
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        body.truncate(len.parse().unwrap());
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// A request builder over the raw client.
pub struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

pub fn req(method: &str, path: &str) -> Req {
    Req {
        method: method.into(),
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl Req {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(mut self, value: &Value) -> Self {
        self.body = serde_json::to_vec(value).unwrap();
        self.header("content-type", "application/json")
    }

    pub fn body(mut self, content_type: &str, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self.header("content-type", content_type)
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n",
            self.method, self.path
        );
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PATCH" | "PUT") {
            out.push_str(&format!("content-length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    pub async fn send(self, server: &TestServer) -> Reply {
        raw(server.addr, &self.bytes()).await
    }
}

/// Claims for a test token.
pub fn claims(role: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({ "sub": format!("test-{role}"), "role": role, "exp": now + 600, "iat": now })
}

pub fn mint(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

pub fn token(server: &TestServer, role: &str) -> String {
    mint(&server.secret, &claims(role))
}

/// base64url without padding, for hand-made tokens.
pub fn b64url(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0_u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The lineage hashes of an entity's versions recomputed from its entry hashes, as the README
/// defines them:
/// `SHA-256("plant-lineage-v1\n" || previous || entry)`, previous = 32 zero bytes for v1.
pub fn lineage(entry_hashes: &[&str]) -> Vec<String> {
    let mut previous = [0u8; 32];
    entry_hashes
        .iter()
        .map(|h| {
            let mut d = sha2::Sha256::new();
            d.update(b"plant-lineage-v1\n");
            d.update(previous);
            d.update(hex::decode(h).unwrap());
            previous = d.finalize().into();
            hex::encode(previous)
        })
        .collect()
}
